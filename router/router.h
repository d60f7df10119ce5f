/*
 * router: turns decided incidents into notifications and delivers them.
 *
 * Without a `route:` section: incidents as JSON to the Kafka output topic,
 * keyed by fingerprint, plus the dead-letter topic for undecodable input.
 * With one: an Alertmanager-shaped routing tree (route.c) picks routes,
 * grouping (group.c, on a timer wheel) folds alerts of a route into groups,
 * and each group notification is formatted for its receiver (payload.c:
 * webhook v4, PagerDuty v2, Slack, JSON lines, Kafka) and delivered
 * (deliver.c: libcurl multi, files, Kafka) with retries, rate limits and
 * dead-lettering. Formatting, routing and grouping are pure and tested
 * without a network; the rest are adapters run by the router thread.
 *
 * At-least-once: every incident carries the msg_track_t of the input
 * message it came from; it is released only when what it produced is
 * delivered or dead-lettered (or it is folded into a group that needs no
 * new notification), which is what lets ingest commit offsets safely.
 */
#ifndef QUELL_ROUTER_H
#define QUELL_ROUTER_H

#include <librdkafka/rdkafka.h>

#include "../core/common.h"
#include "../core/conf.h"
#include "../core/hist.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/track.h"
#include "../core/types.h"

/* ---- formatting (pure) ------------------------------------------------ */

/* Writes the incident JSON object (no newline) into buf; returns the length
 * it needs, like snprintf: retry with a larger buffer when >= cap. */
size_t router_format_incident_json(char *buf, size_t cap, const alert_t *a, const incident_t *inc);

/* ---- routing tree (pure) --------------------------------------------- */

typedef enum {
    RECV_KAFKA = 0,
    RECV_WEBHOOK,
    RECV_PAGERDUTY,
    RECV_SLACK,
    RECV_FILE,
    RECV_STDOUT,
    RECV_NONE, /* no integration (Alertmanager's `- name: 'null'`): notifications dropped */
} receiver_kind_t;

/* One `receivers:` entry. Strings are owned by the routing_t. */
typedef struct {
    char *name;
    receiver_kind_t kind;
    uint32_t index;
    char *url;                   /* webhook, slack, pagerduty (default PagerDuty's endpoint) */
    char *routing_key;           /* pagerduty */
    char *topic;                 /* kafka (default kafka.output_topic) */
    bool protobuf;               /* kafka: `format: protobuf` (default json) */
    char *path;                  /* file */
    char *external_url;          /* webhook: externalURL; links back to quell */
    size_t max_alerts;           /* webhook: 0 = all */
    uint32_t rate_limit_per_min; /* 0 = unlimited */
    int64_t timeout_ms;          /* per HTTP attempt */
    uint32_t max_retries;        /* attempts after the first */
    int64_t backoff_ms;          /* first retry delay; doubles, with jitter */
    uint32_t max_in_flight;      /* concurrent HTTP requests */
} receiver_t;

/* A route with its effective options (inherited from its parents). Read
 * only; `id` is the route's pre-order index in the tree (root = 0). */
typedef struct route route_t;
struct route {
    uint32_t id;
    const receiver_t *receiver;
    const char *key; /* Alertmanager's route key: "{}/{owner=\"a\"}" */
    bool cont;
    bool group_by_all; /* group_by: [...] */
    char **group_by;   /* sorted, unique */
    size_t n_group_by;
    int64_t group_wait_ms, group_interval_ms, repeat_interval_ms;
    int64_t dedup_window_ms; /* `dedup_window:`; 0 = dedup.window_ms */
    label_t *labels;         /* `labels:` merged over the parents', sorted */
    uint32_t n_labels;
    /* mute_time_intervals / active_time_intervals: indices into the
     * routing's named intervals; not inherited (Alertmanager). */
    int *mute_intervals, *active_intervals;
    size_t n_mute_intervals, n_active_intervals;
    /* private */
    struct matcher_set *matchers;
    route_t **children;
    size_t n_children;
};

/* The compiled `route:`, `receivers:`, `runbooks:`, `novelty:`, `urgency:`
 * sections. */
typedef struct routing routing_t;

/* Compiles the sections of `conf`. *out is NULL (and QERR_OK) when the
 * config has no `route:`; `receivers:` without `route:` is an error. On
 * error returns QERR_INVALID with "FILE:LINE:COL: message" in errbuf. */
qerr_t routing_compile(const conf_t *conf, routing_t **out, char *errbuf, size_t errlen);
void routing_destroy(routing_t *rt);

/* The routes an alert with these labels (sorted by name) goes to, in
 * Alertmanager's order: depth first, a matching child stops the search
 * unless it has `continue: true`, a route without a matching child is
 * itself the match. Writes up to `cap` and returns how many there are. */
size_t routing_match(const routing_t *rt, const label_t *labels, uint32_t n_labels,
                     const route_t **out, size_t cap);
/* Alertmanager's time muting: true when `now_ms` is in one of the route's
 * mute_time_intervals, or the route has active_time_intervals and `now_ms`
 * is in none of them (mute wins over active). A muted route sends no
 * notification; grouping goes on (group.c). Any thread. */
bool routing_route_muted(const routing_t *rt, const route_t *r, int64_t now_ms);
/* Every route, depth-first pre-order; returns the count. */
size_t routing_walk(const routing_t *rt, const route_t **out, size_t cap);
size_t routing_n_receivers(const routing_t *rt);
const receiver_t *routing_receiver(const routing_t *rt, size_t i);
size_t routing_n_routes(const routing_t *rt);

/* ---- routing generations (route_live.c; any thread) ------------------ */

/* The routing a (re)load published. `routing` is NULL when the config has
 * no `route:`; `view` is what the HTTP API derived from the same config
 * (app/api_v2.c), or NULL. */
typedef struct {
    uint64_t generation; /* 1 = as loaded at start, +1 per reload */
    const routing_t *routing;
    void *view;
} routing_gen_t;

typedef struct routing_live routing_live_t;
/* `initial` is borrowed (the router's own, which outlives every reader);
 * `view` is owned and freed with view_free (may be NULL). */
routing_live_t *routing_live_new(const routing_t *initial, void *view, void (*view_free)(void *));
/* Makes rt (owned from now on, may be NULL) and view the current
 * generation. One writer at a time (a mutex readers never take). */
qerr_t routing_live_publish(routing_live_t *l, routing_t *rt, void *view, uint64_t *generation);
/* The current generation: one acquire load, no lock. What it points to
 * stays valid until routing_live_destroy (generations are kept until
 * exit, see route_live.c). */
const routing_gen_t *routing_live_current(routing_live_t *l);
/* After every reader stopped. */
void routing_live_destroy(routing_live_t *l);
/* The longest `dedup_window` of any route, 0 = none. */
int64_t routing_max_dedup_window_ms(const routing_t *rt);
/* The window an alert is deduplicated with: the `dedup_window` of the first
 * route it goes to, at most `keep_ms` (what the dedup table keeps); 0 when
 * that route sets none (then dedup.window). What `quell run` (memory store)
 * and `quell replay` decide with. */
int64_t routing_dedup_window_ms(const routing_t *rt, const alert_t *a, int64_t keep_ms);

/* ---- enrichment (pure) ------------------------------------------------ */

typedef struct {
    const char *runbook_url; /* NULL = none; owned by the routing_t */
    bool novel;
    bool urgency_high;
} enrichment_t;

/* The runbook and urgency for an alert (first runbook rule that matches).
 * Novelty is not decided here: see novelty_check(). */
void routing_enrich(const routing_t *rt, const alert_t *a, const incident_t *inc,
                    enrichment_t *out);

/* Novelty: whether alertname + the configured labels were seen within
 * novelty.days. In memory for the process; with the Redis store, a
 * signature new to the process is also claimed there (notify.c), so
 * instances agree. One thread. */
typedef struct novelty novelty_t;
novelty_t *novelty_new(const routing_t *rt);
void novelty_destroy(novelty_t *nv);
/* A reload: `to` (the new routing's) starts with what `from` saw, so a
 * signature seen before is not novel again. Signatures of labels the new
 * routing no longer uses never match and age out. False on OOM (`to`
 * unchanged). */
bool novelty_carry(novelty_t *to, const novelty_t *from);
/* True when the signature was not seen in the window; records it. */
bool novelty_check(novelty_t *nv, const alert_t *a, int64_t now_ms);
/* The signature novelty_check looks up (never 0), and novelty.days in ms:
 * what the shared store is asked with (router/novelty_shared.c). */
uint64_t novelty_signature(const novelty_t *nv, const alert_t *a);
int64_t novelty_window_ms(const novelty_t *nv);

/* ---- the router thread -------------------------------------------------- */

typedef struct router router_t;

#define RECEIVER_KINDS 7
typedef struct {
    uint64_t alerts;                        /* incidents routed */
    uint64_t notifications[RECEIVER_KINDS]; /* group notifications, by receiver kind */
    uint64_t delivered[RECEIVER_KINDS];
    uint64_t retries, dead_lettered, rate_limited, digests;
    int64_t max_delivery_ms;
} notifier_stats_t;

/* ---- Kafka sink ------------------------------------------------------- */

typedef struct {
    uint64_t produced;  /* incidents handed to the producer */
    uint64_t delivered; /* incidents acknowledged by the broker */
    uint64_t dead_lettered;
    uint64_t retries; /* deliveries that failed and were produced again */
    bool routing;     /* a `route:` is configured: the figures below count */
    notifier_stats_t notify;
} router_stats_t;

/* Creates the producer and, when the config has a `route:`, compiles the
 * routing sections and the notifier. `brokers` overrides
 * conf->kafka.brokers. */
router_t *router_new(const conf_t *conf, const char *brokers, char *errbuf, size_t errlen);
/* The routing compiled at start (NULL without `route:`); owned by the
 * router. */
const routing_t *router_routing(const router_t *r);
/* Before the router thread starts: the router thread follows `live`
 * (which must outlive the router thread). When a new generation appears,
 * between two polls, it starts a notifier for it: new incidents are
 * routed by the new tree; a group already open keeps its route, its
 * receiver and the incidents of its alerts in the retired notifier until
 * it closes and its deliveries are done, then that notifier is freed. */
void router_follow(router_t *r, routing_live_t *live);
/* Flushes outstanding messages (waits up to `timeout_ms`) then frees. */
void router_destroy(router_t *r, int timeout_ms);

/* Any worker thread. Without routing: formats and produces; `track` is
 * released when the broker acknowledges. With routing: hands the incident
 * to the router thread through this thread's lane (a ring), and the hold
 * is released once what it produced is delivered. QERR_FULL when the
 * producer queue or the lane is full: the caller keeps the alert and calls
 * again (backpressure). */
qerr_t router_forward(router_t *r, const alert_t *a, const incident_t *inc, msg_track_t *track);

/* Consumer thread. Sends `msg` unchanged (key, value, headers) to the
 * dead-letter topic, adding headers quell-error (reason code),
 * quell-error-detail, quell-source-topic/partition/offset. */
qerr_t router_dead_letter(router_t *r, const rd_kafka_message_t *msg, const char *reason,
                          const char *detail, msg_track_t *track);

/* Serves delivery reports and, with routing, runs the notifier; the router
 * thread calls it in a loop. */
void router_poll(router_t *r, int timeout_ms);
/* Any thread: shutdown has begun; the router thread sends what groups hold
 * without waiting for their timers, so every hold can be released. */
void router_drain(router_t *r);
/* Group state across restarts (no-ops without routing). Load before the
 * router thread starts; save after it stopped. Every routing generation's
 * groups are saved; a notification its receiver has not confirmed is
 * saved as not sent, so a restart sends it again (router/group.c). */
qerr_t router_groups_save(router_t *r, const char *path, char *errbuf, size_t errlen);
/* The same bytes while the router thread runs, for the periodic snapshot:
 * asks the router thread to write its groups into memory between two
 * polls (nothing on its path takes a lock) and waits up to `timeout_ms`,
 * or until *stop. Every incident forwarded before the call is in them
 * (the router thread first routes all its lanes hold). One caller at a
 * time (the snapshot thread). On QERR_OK *buf (malloc'd, the caller frees;
 * NULL without routing) holds *len bytes; QERR_IO when the router thread
 * did not answer in time. */
qerr_t router_groups_snapshot(router_t *r, char **buf, size_t *len, int timeout_ms,
                              const _Atomic bool *stop);
qerr_t router_groups_load(router_t *r, const char *path, uint64_t *loaded, char *errbuf,
                          size_t errlen);
/* The incident of every firing alert in the groups router_groups_load
 * restored: before the router thread starts. */
void router_groups_firing(router_t *r, void (*fn)(void *ctx, const incident_t *inc), void *ctx);
void router_stats(router_t *r, router_stats_t *out);

/* Where a firing alert stops counting as firing, on the clock of the one
 * who saw it (Alertmanager's endsAt): seen at `seen_ms`, with its own
 * endsAt what was left of it at its event time (so a replay of old
 * traffic lives as long as it did live), else resolve_timeout_ms later. */
int64_t router_alert_ends_ms(int64_t ends_at_ms, int64_t event_ms, int64_t seen_ms,
                             int64_t resolve_timeout_ms);
/* Before the router thread starts: how route groups learn that an alert
 * occurred again though the dedup workers folded it (see group_seen_fn in
 * router_int.h; `fn` is called on the router thread). Without it, alerts
 * resolve in their groups by their forwards alone, so they do not resolve
 * by time (global.resolve_timeout) at all. */
typedef bool (*router_seen_fn)(void *ctx, uint64_t fingerprint, int64_t *seen_ms, int64_t *event_ms,
                               int64_t *ends_at_ms);
void router_set_seen(router_t *r, router_seen_fn fn, void *ctx);

#endif
