/* The pre-simdjson JSON decoder, for the differential test (decode_ref.c). */
#ifndef QUELL_DECODE_REF_H
#define QUELL_DECODE_REF_H

#include "../ingest/ingest.h"

/* ingest_decode(..., INGEST_FORMAT_JSON, ...) as it was, on cJSON. */
decode_error_t ref_decode_json(arena_t *arena, const ingest_limits_t *limits, const void *buf,
                               size_t len, int64_t event_time_ms, alert_t **alerts_out,
                               size_t *n_out, char *errbuf, size_t errlen);

#endif
