/* Private to core/: what main() calls in the other core files. */
#ifndef QUELL_CORE_INT_H
#define QUELL_CORE_INT_H

#include "core.h"

/* Runs until SIGTERM/SIGINT, then drains and commits. Returns the process
 * exit code. `brokers_override` may be NULL. */
int pipeline_run(conf_t *conf, const char *brokers_override);

/* core/replay.c: `quell replay`, `quell explain`, and the rule part of
 * `quell check` (1 on error, 0 otherwise; warnings go to stderr). */
int replay_main(int argc, char **argv);
int explain_main(int argc, char **argv);
int check_rules(const conf_t *conf);
/* `quell top`: the noisy-alert report from a running instance. */
int top_main(int argc, char **argv);

#endif
