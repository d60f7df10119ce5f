/*
 * The scheduler slice quell's threads ask for (conf: sched_slice_us).
 *
 * Linux's EEVDF scheduler (6.6+; custom slices since 6.12) lets a
 * SCHED_OTHER thread ask for a shorter slice through sched_setattr's
 * sched_runtime, without privilege. A shorter slice gives the thread an
 * earlier virtual deadline each time it wakes, so a thread woken by a
 * Kafka fetch or a ring runs before a busy neighbour's slice (1.4 ms by
 * default on 2 cores) is over, at no cost when cores are free. quell's
 * work per wake-up is short (a batch of messages), so it asks for 100 us:
 * on 2 cores shared with a broker and its producer, quell's own share of
 * the decision latency fell from p99 ~4-6 ms to ~2 ms (docs/performance.md).
 *
 * Set once on the starting thread, before any other is created: threads
 * inherit it, librdkafka's included (its broker threads are on the same
 * path). glibc has no wrapper, so the raw syscall and the kernel's struct.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

struct kernel_sched_attr {
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
};

int64_t sched_slice_ns(void)
{
    struct kernel_sched_attr a;
    memset(&a, 0, sizeof a);
    if (syscall(SYS_sched_getattr, 0, &a, (unsigned)sizeof a, 0U) != 0) return -1;
    return (int64_t)a.sched_runtime;
}

qerr_t sched_slice_set(unsigned us, char *errbuf, size_t errlen)
{
    struct kernel_sched_attr a;
    memset(&a, 0, sizeof a);
    if (syscall(SYS_sched_getattr, 0, &a, (unsigned)sizeof a, 0U) != 0) {
        snprintf(errbuf, errlen, "sched_getattr: %s", strerror(errno));
        return QERR_IO;
    }
    if (a.sched_policy != 0 /* SCHED_OTHER */) return QERR_OK; /* chosen by the operator */
    a.size = sizeof a;
    a.sched_flags = 0;
    a.sched_runtime = (uint64_t)us * 1000;
    if (syscall(SYS_sched_setattr, 0, &a, 0U) != 0) {
        snprintf(errbuf, errlen, "sched_setattr: %s", strerror(errno));
        return QERR_IO;
    }
    return QERR_OK;
}
