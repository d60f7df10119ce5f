/*
 * libFuzzer target for the shared alert record (router/group_alerts.c):
 * the bytes another instance (or anyone with Redis's password) wrote in
 * PREFIXgrpa:GROUPID. Crashes and memory errors are the sanitizers' to
 * find; on top of that the contract in router_int.h is checked and a
 * violation aborts: a record that decodes encodes back to the same bytes
 * (so what is listed is what was written, and nothing is invented).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../router/router_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static arena_t arena;
    static bool ready;
    if (!ready) {
        arena_init(&arena, 16384);
        ready = true;
    }
    arena_reset(&arena);
    group_alert_t g;
    if (!group_alert_decode(data, size, 0x1234, &arena, &g)) return 0;
    static uint8_t again[GROUP_ALERT_MAX_BYTES];
    notify_alert_t na = {&g.alert, &g.inc, {0}, 0, 0};
    size_t len = group_alert_encode(again, sizeof(again), &na, g.written_ms);
    if (len != size || memcmp(again, data, size) != 0) {
        fprintf(stderr,
                "fuzz_group_alert: contract violated: a decoded record encodes "
                "to other bytes (%zu vs %zu)\n",
                size, len);
        abort();
    }
    return 0;
}
