/*
 * quell's command line: parses the subcommand and its options, loads the
 * config, and hands over to the stage that does the work. Only main() exits.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "../bench/bench.h"
#include "../router/router.h"
#include "app.h"
#include "tuning.h"

static void usage(FILE *out)
{
    fprintf(out,
            "quell %s: alert ingestion and dedup in front of on-call\n\n"
            "usage:\n"
            "  quell run [-c FILE] [--brokers LIST] [--log-level LEVEL] [--pid-file FILE]\n"
            "      consume alerts, deduplicate, produce incidents; SIGTERM drains and commits\n"
            "  quell top [-c FILE] [--url URL] [--window 1h] [--by alertname,service]\n"
            "      the noisiest alerts of a running quell, with a suggested rule for each\n"
            "  quell check -c FILE       validate a config and its rules (FILE:LINE:COL: message)\n"
            "  quell replay [-c FILE] [--candidate FILE2] [--format text|json] INPUT...\n"
            "      run recorded alerts through the decision core offline; diff a rule change\n"
            "  quell suggest [-c FILE] [--map LABEL=COLUMN,...] INPUT...\n"
            "      propose rules (grouping, severity, noise, window) from recorded traffic\n"
            "  quell explain [-c FILE] [--map LABEL=COLUMN,...] ALERTS\n"
            "      each alert's fingerprint and every rule it matches, and why\n"
            "  quell explain [-c FILE] [--url URL] --fingerprint FP\n"
            "      a running quell's recent decisions on FP: decision, reason, incident\n"
            "  quell config              print every config key, its default and meaning\n"
            "  quell gen [options]       write a deterministic, skewed alert storm to stdout\n"
            "  quell load [options]      produce a storm into Kafka and wait until quell has it\n"
            "  quell bench --scenario FILE [options]\n"
            "      run a scenario through the pipeline: alerts/s, latency, noise reduction\n"
            "  quell version\n\n"
            "'quell gen --help', 'quell load --help' and 'quell bench --help' list their "
            "options.\n",
            QUELL_VERSION);
}

/* For check and run: the file, then the paths it names on this machine. */
static int load_config(conf_t *conf, const char *path)
{
    conf_defaults(conf);
    if (!path) return 0;
    char errbuf[1024];
    if (conf_load(conf, path, errbuf, sizeof(errbuf)) != QERR_OK ||
        conf_check_paths(conf, errbuf, sizeof(errbuf)) != QERR_OK) {
        fprintf(stderr, "%s\n", errbuf);
        return -1;
    }
    return 0;
}

static void run_usage(FILE *out)
{
    fprintf(out,
            "usage: quell run [-c FILE] [--brokers LIST] [--log-level LEVEL] [--pid-file FILE]\n"
            "  -c FILE         the config (default: the defaults, `quell config` lists them)\n"
            "  --brokers LIST  Kafka bootstrap servers, over kafka.brokers (whose default,\n"
            "                  `embedded`, starts an in-process cluster)\n"
            "  --log-level L   error, warn, info or debug, over log.level\n"
            "  --pid-file F    write the process id to F, removed on exit\n"
            "  SIGTERM/SIGINT drain and commit; SIGHUP reloads the rules.\n");
}

/* kafka.properties go to librdkafka as they are: `quell check` asks it
 * about each, so a typo fails here with its line, not at start. */
static int check_kafka_properties(const conf_t *conf)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    int rc = 0;
    for (size_t i = 0; kc && i < conf->kafka.n_properties && rc == 0; i++) {
        const conf_kv_t *p = &conf->kafka.properties[i];
        char why[512];
        if (rd_kafka_conf_set(kc, p->key, p->value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "%s:%u: kafka.properties.%s: %s\n", conf->path, p->line, p->key, why);
            rc = 1;
        }
    }
    rd_kafka_conf_destroy(kc);
    return rc;
}

static int cmd_run(int argc, char **argv)
{
    const char *path = NULL, *brokers = NULL, *level = NULL, *pid_file = NULL;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--brokers") && i + 1 < argc)
            brokers = argv[++i];
        else if (!strcmp(argv[i], "--log-level") && i + 1 < argc)
            level = argv[++i];
        else if (!strcmp(argv[i], "--pid-file") && i + 1 < argc)
            pid_file = argv[++i];
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            run_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "quell run: unknown option \"%s\"\n", argv[i]);
            run_usage(stderr);
            return 2;
        }
    }
    conf_t conf;
    if (load_config(&conf, path) != 0 || check_kafka_properties(&conf) != 0) {
        conf_free(&conf);
        return 1;
    }
    log_level_t lvl = conf.log.level;
    if (level && log_level_parse(level, &lvl) != 0) {
        fprintf(stderr, "quell run: --log-level must be error, warn, info or debug\n");
        conf_free(&conf);
        return 2;
    }
    log_setup(lvl, conf.log.format);
    /* Only when asked: under systemd the unit knows the pid already. */
    if (pid_file) {
        FILE *f = fopen(pid_file, "w");
        if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
            fprintf(stderr, "quell run: cannot write --pid-file %s\n", pid_file);
            conf_free(&conf);
            return 1;
        }
    }
    metrics_note_reload(true); /* the first load counts as a successful one */
    int rc = pipeline_run(&conf, brokers);
    if (pid_file) unlink(pid_file);
    conf_free(&conf);
    return rc;
}

/* The routing sections are compiled by the router; their errors carry
 * FILE:LINE:COL like the loader's. */
static int check_routing(const conf_t *conf)
{
    char errbuf[1024];
    routing_t *rt = NULL;
    if (routing_compile(conf, &rt, errbuf, sizeof(errbuf)) != QERR_OK) {
        fprintf(stderr, "%s\n", errbuf);
        return 1;
    }
    routing_destroy(rt);
    return 0;
}

static const char check_usage[] =
    "usage: quell check [-c] FILE\n"
    "  validates a config, its rules and routes without starting anything;\n"
    "  errors as FILE:LINE:COL: message, exit status 1\n";

static int cmd_check(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            path = argv[++i];
        else if (!path && argv[i][0] != '-')
            path = argv[i];
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("%s", check_usage);
            return 0;
        } else {
            fprintf(stderr, "quell check: unknown option \"%s\"\n%s", argv[i], check_usage);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "quell check: -c FILE is required\n%s", check_usage);
        return 2;
    }
    conf_t conf;
    int rc = load_config(&conf, path) == 0 ? 0 : 1;
    if (rc == 0) rc = check_rules(&conf);
    if (rc == 0) rc = check_routing(&conf);
    if (rc == 0) rc = check_kafka_properties(&conf);
    conf_free(&conf);
    if (rc == 0) printf("%s: ok\n", path);
    return rc;
}

/* jemalloc, the process allocator (CMakeLists.txt), reads this at start.
 * Freed pages go back to the system after 10 s, jemalloc's own default:
 * giving them back after 1 s saved ~45 MiB of a launch-day backlog's peak
 * RSS (149 against 193 MiB, with librdkafka's queue bounded at 32 MiB) but
 * cost 14% more CPU per alert (3.60 against 3.14 us, medians of 3 paired
 * in one invocation: the pages are faulted back in as fast as they go).
 * oversize_threshold:0 turns off jemalloc 5.3's eager purge of a freed
 * extent once it has coalesced to 8 MiB or more: librdkafka's fetch and
 * decompression buffers (1-5 MiB, freed in bursts by the lanes) coalesce
 * that far all the time, so their pages went back to the system at once
 * and librdkafka's broker thread faulted them in again on the next fetch
 * (67,000-70,000 page faults per launch-day backlog, 27,000-28,000
 * without; each costs a page clear and a TLB shootdown on this VM). Those
 * extents now decay like the rest. With it, paired in one invocation
 * (MALLOC_CONF, medians of 5 each, load 3-4): --batch 16 1.27x alerts/s,
 * 0.97x CPU per alert, peak RSS 201 against 168 MiB; one alert per
 * message 1.01x alerts/s, 0.90x CPU, 195 against 166 MiB.
 * MALLOC_CONF still overrides it; without jemalloc (sanitizer builds)
 * nothing reads it. */
const char *malloc_conf = "dirty_decay_ms:10000,muzzy_decay_ms:10000,oversize_threshold:0";

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "check")) return cmd_check(argc - 1, argv + 1);
    if (!strcmp(cmd, "replay")) return replay_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "suggest")) return suggest_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "explain")) return explain_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "gen")) return gen_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "load")) return load_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "top")) return top_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return bench_main(argc - 1, argv + 1, "/proc/self/exe");
    if (!strcmp(cmd, "config") || !strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        /* They take no option: one is a mistake (exit 2), but --help. */
        bool config = !strcmp(cmd, "config");
        if (argc > 2) {
            bool help = !strcmp(argv[2], "--help") || !strcmp(argv[2], "-h");
            FILE *to = help ? stdout : stderr;
            if (!help) fprintf(stderr, "quell %s: unknown option \"%s\"\n", cmd, argv[2]);
            fprintf(to, "usage: quell %s\n  %s\n", config ? "config" : "version",
                    config ? "prints every config key, its type, default and meaning"
                           : "prints quell's version and librdkafka's");
            return help ? 0 : 2;
        }
        if (config)
            conf_print_doc(stdout);
        else
            printf("quell %s (librdkafka %s)\n", QUELL_VERSION, rd_kafka_version_str());
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "quell: unknown command \"%s\"\n\n", cmd);
    usage(stderr);
    return 2;
}
