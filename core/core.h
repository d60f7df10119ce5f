/*
 * core: the shared runtime every stage uses. Each area has its header; a
 * stage includes the ones it uses. This one gathers them for the program
 * (app/) and the tests.
 *
 * Ownership rules are given per function. Nothing in core keeps global state
 * except the log level/format (set once at start, read by every thread), and
 * core includes no stage.
 */
#ifndef QUELL_CORE_H
#define QUELL_CORE_H

#include "arena.h"
#include "common.h"
#include "conf.h"
#include "hist.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "ring.h"
#include "track.h"
#include "types.h"

#endif
