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

#include "../core/core.h"

/* ---- formatting (pure) ------------------------------------------------ */

/* RFC 3339 UTC with milliseconds: "2026-01-01T00:00:00.000Z"; out[32]. */
void router_format_time(int64_t unix_ms, char out[32]);

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
/* Every route, depth-first pre-order; returns the count. */
size_t routing_walk(const routing_t *rt, const route_t **out, size_t cap);
size_t routing_n_receivers(const routing_t *rt);
const receiver_t *routing_receiver(const routing_t *rt, size_t i);
size_t routing_n_routes(const routing_t *rt);

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
 * novelty.days. In memory for the process (not yet in the store): a
 * restart forgets what was seen. One thread. */
typedef struct novelty novelty_t;
novelty_t *novelty_new(const routing_t *rt);
void novelty_destroy(novelty_t *nv);
/* True when the signature was not seen in the window; records it. */
bool novelty_check(novelty_t *nv, const alert_t *a, int64_t now_ms);

/* ---- grouping (pure, driven clock) ------------------------------------ */

typedef enum {
    NOTIFY_FIRING = 0, /* first notification, or an update after a change */
    NOTIFY_REMINDER,   /* nothing changed for repeat_interval */
    NOTIFY_RESOLVED,   /* every alert resolved: the last one; the group closes */
} notify_kind_t;

typedef struct {
    const alert_t *alert; /* the latest occurrence */
    const incident_t *inc;
    enrichment_t enrich;
} notify_alert_t;

/* One group notification: views valid only during the callback. */
typedef struct {
    notify_kind_t kind;
    const route_t *route;
    const char *group_key; /* Alertmanager's: route key + ":" + group labels */
    uint64_t group_id;     /* hash of group_key: stable per group */
    const label_t *group_labels;
    uint32_t n_group_labels;
    const notify_alert_t *alerts; /* firing first, then resolved */
    size_t n_alerts;
    size_t n_firing;
    uint64_t folded; /* occurrences folded into the group so far */
    /* The input holds this notification carries: the callee owns them and
     * calls track_done() on each once delivered or dead-lettered. */
    msg_track_t *const *tracks;
    size_t n_tracks;
    int64_t now_ms;
} notification_t;

typedef void (*notify_fn)(void *ctx, const notification_t *n);

typedef struct group_table group_table_t;

/* `tick_ms`: timer wheel resolution (timers fire up to one tick late). */
group_table_t *group_table_new(int64_t now_ms, int64_t tick_ms, notify_fn fn, void *ctx);
/* Frees every group. Holds still in groups are not released: their input
 * is re-read after a restart (at-least-once). */
void group_table_destroy(group_table_t *gt);
/* Adds an alert to its group on `route`, creating the group. Takes over one
 * hold on `track` (may be NULL): released at once when the alert changes
 * nothing already notified, else carried by the next notification. */
qerr_t group_table_add(group_table_t *gt, const route_t *route, const alert_t *a,
                       const incident_t *inc, const enrichment_t *en, msg_track_t *track,
                       int64_t now_ms);
/* Fires every timer due at `now_ms` (calls fn for each notification). */
void group_table_advance(group_table_t *gt, int64_t now_ms);
/* Sends what every group has pending now, without waiting for its timer
 * (shutdown: so the holds can be released and offsets committed). */
void group_table_flush(group_table_t *gt, int64_t now_ms);
size_t group_table_count(const group_table_t *gt);
/* Holds carried by groups (not yet handed to a notification). */
size_t group_table_held(const group_table_t *gt);

/* Group state across restarts: writes every group (route, notification
 * state, alerts) to `f`; holds are not saved (drain first). */
qerr_t group_table_save(const group_table_t *gt, FILE *f);
/* Reads what group_table_save wrote into an empty table. Groups whose route
 * (id and key) is not in `routes` (routing_walk order) are dropped and
 * counted. QERR_INVALID on a damaged file. */
qerr_t group_table_load(group_table_t *gt, FILE *f, const route_t *const *routes, size_t n_routes,
                        int64_t now_ms, uint64_t *loaded, uint64_t *dropped);

/* ---- payloads (pure) -------------------------------------------------- */

/* Each writes the receiver's request body into buf and returns the length
 * it needs, like snprintf (retry with a larger buffer when >= cap). */
size_t router_format_webhook(char *buf, size_t cap, const receiver_t *rcv, const notification_t *n);
#define PAGERDUTY_SUMMARY_MAX 1024
size_t router_format_pagerduty(char *buf, size_t cap, const receiver_t *rcv,
                               const notification_t *n);
size_t router_format_slack(char *buf, size_t cap, const receiver_t *rcv, const notification_t *n);
/* One JSON object per line (file, stdout, kafka json), with the newline. */
size_t router_format_jsonl(char *buf, size_t cap, const receiver_t *rcv, const notification_t *n);
/* Rate-limit digest: "N more notifications for receiver R ..." as the
 * receiver's own payload type. */
size_t router_format_digest(char *buf, size_t cap, const receiver_t *rcv, uint64_t n_more,
                            const char *examples, int64_t now_ms);

/* ---- notifier (router thread) ---------------------------------------- */

typedef struct router router_t;
typedef struct notifier notifier_t;

typedef struct {
    const routing_t *routing; /* kept by the caller; outlives the notifier */
    router_t *router;         /* producer for kafka receivers and dead letters; NULL in tests */
    const char *dlq_topic;
    /* When set, dead letters go here instead of the topic (tests); the
     * notification's holds are released right after it returns. */
    void (*dead_letter)(void *ctx, const receiver_t *rcv, const char *body, size_t len,
                        const char *reason);
    void *dead_letter_ctx;
    int64_t now_ms;  /* the clock's start */
    int64_t tick_ms; /* grouping timer resolution; 0 = 10 ms */
} notifier_opts_t;

#define RECEIVER_KINDS 6
typedef struct {
    uint64_t alerts;                        /* incidents routed */
    uint64_t notifications[RECEIVER_KINDS]; /* group notifications, by receiver kind */
    uint64_t delivered[RECEIVER_KINDS];
    uint64_t retries, dead_lettered, rate_limited, digests;
    int64_t max_delivery_ms;
} notifier_stats_t;

/* Everything below runs on one thread (the router thread), with now_ms
 * from the caller's clock (wall clock in production, driven in tests). */
notifier_t *notifier_new(const notifier_opts_t *o, char *errbuf, size_t errlen);
/* Jobs still queued are freed without releasing their holds. */
void notifier_destroy(notifier_t *n);
/* Routes and groups one incident; takes over one hold on `track`. */
qerr_t notifier_submit(notifier_t *n, const alert_t *a, const incident_t *inc, msg_track_t *track,
                       int64_t now_ms);
/* Fires due group timers, starts due HTTP requests, completes finished
 * ones; waits up to wait_ms for network activity. */
void notifier_run(notifier_t *n, int64_t now_ms, int wait_ms);
/* Sends every group's pending notification and digest now (shutdown). */
void notifier_flush(notifier_t *n, int64_t now_ms);
/* Notifications queued, in flight or held in a digest. */
size_t notifier_pending(const notifier_t *n);
size_t notifier_groups(const notifier_t *n);
/* Group state to/from `path` (see group_table_save); a missing file loads
 * nothing. Errors as "PATH: message" in errbuf. */
qerr_t notifier_save_groups(notifier_t *n, const char *path, char *errbuf, size_t errlen);
qerr_t notifier_load_groups(notifier_t *n, const char *path, int64_t now_ms, uint64_t *loaded,
                            char *errbuf, size_t errlen);
void notifier_stats(const notifier_t *n, notifier_stats_t *out);

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
 * router thread starts; save after it stopped. */
qerr_t router_groups_save(router_t *r, const char *path, char *errbuf, size_t errlen);
qerr_t router_groups_load(router_t *r, const char *path, uint64_t *loaded, char *errbuf,
                          size_t errlen);
void router_stats(router_t *r, router_stats_t *out);

#endif
