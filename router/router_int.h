/*
 * router's private helpers shared by its .c files: the bounded JSON writer
 * every formatter uses (appends into the caller's buffer and keeps counting
 * past its end, so the caller learns the size to retry with).
 */
#ifndef QUELL_ROUTER_INT_H
#define QUELL_ROUTER_INT_H

#include <string.h>

#include "../dedup/dedup.h"
#include "router.h"

/* ---- grouping (pure, driven clock) ------------------------------------ */

typedef enum {
    NOTIFY_FIRING = 0, /* first notification, or an update after a change */
    NOTIFY_REMINDER,   /* nothing changed for repeat_interval */
    NOTIFY_RESOLVED,   /* every alert resolved: the last one; the group closes */
    NOTIFY_REFRESH,    /* nothing to send: the alerts' ends moved on (shared groups
                        * republish their records); carries no holds */
    NOTIFY_UNTOLD,     /* every alert resolved in a group this instance never
                        * notified (shared groups: another instance may have,
                        * before the alerts' partitions moved here); sent, as
                        * the group's resolved, only when one did and nothing
                        * of it still fires; the group closes */
} notify_kind_t;

typedef struct {
    const alert_t *alert; /* the latest occurrence */
    const incident_t *inc;
    enrichment_t enrich;
    int64_t ends_ms; /* firing: when it resolves unless it occurs again, on the
                      * groups' clock (router_alert_ends_ms); 0 = never */
    int64_t seen_ms; /* its last occurrence known here, on the groups' clock */
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
    /* Shared groups: the gate lists here (room for n_alerts) the alerts
     * this notification has firing that another instance resolved since
     * this one last saw them (their partitions moved); the group resolves
     * them. NULL: not asked. */
    uint64_t *resolved_elsewhere;
    size_t *n_resolved_elsewhere;
} notification_t;

typedef void (*notify_fn)(void *ctx, const notification_t *n);

typedef struct group_table group_table_t;

/* `tick_ms`: timer wheel resolution (timers fire up to one tick late). */
group_table_t *group_table_new(int64_t now_ms, int64_t tick_ms, notify_fn fn, void *ctx);
/* Route muting (routing_route_muted): asked when a group's timer fires;
 * a muted flush sends nothing (group.c). NULL = never muted. */
typedef bool (*group_muted_fn)(void *ctx, const route_t *r, int64_t now_ms);
void group_table_set_mute(group_table_t *gt, group_muted_fn fn, void *ctx);
/* Before a firing notification (first or update): 0 to send it now, or a
 * later time to look again (another instance notified the group within
 * group_interval; group_shared.c). NULL = always now. */
typedef int64_t (*group_hold_fn)(void *ctx, const route_t *r, uint64_t group_id, int64_t now_ms);
void group_table_set_hold(group_table_t *gt, group_hold_fn fn, void *ctx);
/* Whether `fingerprint` occurred firing since the group was told (the
 * dedup workers fold repeats, which reach no group): true with when, on
 * the groups' clock, and its event time and endsAt (0: none); false when
 * unknown or its latest occurrence was a resolve. Router thread. */
typedef router_seen_fn group_seen_fn;
/* Alerts resolve by time (Alertmanager's resolve_timeout): a firing alert
 * whose end (router_alert_ends_ms) passes resolves unless `seen` (may be
 * NULL) says it occurred since. 0 = they resolve only when told (the
 * default). `refresh`: a NOTIFY_REFRESH when ends moved on that way.
 * `fold_ms`: dedup.window (a route's dedup_window when longer): an alert
 * resolved by time whose comeback dedup may fold is watched through
 * `seen` that long after its last occurrence, and reopened. */
void group_table_set_resolve(group_table_t *gt, int64_t resolve_timeout_ms, group_seen_fn seen,
                             void *ctx, bool refresh, int64_t fold_ms);
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
/* Alerts resolved by time still watched for a comeback dedup may fold. */
size_t group_table_watched(const group_table_t *gt);
/* Whether the group of `a` on `route` exists and has an entry for a's
 * fingerprint (open or resolved but not yet notified). */
bool group_table_has(group_table_t *gt, const route_t *route, const alert_t *a);
/* Holds carried by groups (not yet handed to a notification). */
size_t group_table_held(const group_table_t *gt);

/* Delivery tracking: each notification carries one more hold, the group's
 * own, released with the others when the receiver confirms it (delivered,
 * dead-lettered, acked by the broker). A save then writes a notification
 * not yet confirmed as not sent. The notifier turns it on; a table whose
 * callback does not release holds must not. */
void group_table_track_delivery(group_table_t *gt);
/* Groups closed (resolved, or muted away) whose last notification is not
 * confirmed yet: kept, since the delivery points at them, and saved. */
size_t group_table_closing(group_table_t *gt);

/* Group state across restarts: writes every group (route, notification
 * state, alerts) of `gts` to `f`, a notification not yet confirmed as not
 * sent (see group_table_track_delivery). Input holds are not saved: their
 * input is not committed, so it is read again after a restart. Safe at
 * any point between two calls on the table's thread, not only after a
 * drain. */
qerr_t group_table_save(const group_table_t *const *gts, size_t n_tables, FILE *f);
/* Calls fn with the incident of every firing alert in an open group. */
void group_table_foreach_firing(const group_table_t *gt,
                                void (*fn)(void *ctx, const incident_t *inc), void *ctx);
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

typedef struct notifier notifier_t;

/* A notifier's counters. Written by the router thread, read by any. */
typedef struct {
    _Atomic uint64_t alerts, notifications[RECEIVER_KINDS], delivered[RECEIVER_KINDS];
    _Atomic uint64_t retries, dead_lettered, rate_limited, digests, max_delivery_ms;
} notifier_counters_t;
void notifier_counters_read(const notifier_counters_t *c, notifier_stats_t *out);

typedef struct {
    const routing_t *routing; /* kept by the caller; outlives the notifier */
    /* The producer for kafka receivers and dead letters (the router's): it
     * holds `tracks` until the broker has the message. NULL in tests. */
    qerr_t (*produce)(void *ctx, const char *topic, const char *key, const void *value, size_t len,
                      const char *receiver, const char *reason, msg_track_t *const *tracks,
                      size_t n_tracks);
    void *produce_ctx;
    const char *dlq_topic;
    /* When set, dead letters go here instead of the topic (tests); the
     * notification's holds are released right after it returns. */
    void (*dead_letter)(void *ctx, const receiver_t *rcv, const char *body, size_t len,
                        const char *reason);
    void *dead_letter_ctx;
    int64_t now_ms;  /* the clock's start */
    int64_t tick_ms; /* grouping timer resolution; 0 = 10 ms */
    /* Shared-store mode: novelty is claimed in Redis (novelty_shared.c);
     * NULL = this process's memory only. Owned by the caller. */
    struct novelty_shared *novelty_shared;
    /* Shared-store mode: reminders and resolved notifications are agreed
     * between instances (group_shared.c); NULL = this process alone. */
    struct group_shared *group_shared;
    /* Where the counters go: the router passes one set to every routing
     * generation's notifier, so a reload does not reset them. NULL = the
     * notifier's own. Outlives the notifier. */
    notifier_counters_t *counters;
    /* Alerts that stop occurring resolve (group_table_set_resolve): after
     * resolve_timeout_ms without endsAt (0 = never), asking `seen` first. */
    int64_t resolve_timeout_ms;
    group_seen_fn seen;
    void *seen_ctx;
    int64_t dedup_window_ms; /* dedup.window: see group_table_set_resolve */
} notifier_opts_t;

/* ---- a group's alerts across instances (group_alerts.c, pure) -------- */

/* One record's most bytes (larger alerts are not shared: their own
 * instance still lists them), and the most records kept per group. */
#define GROUP_ALERT_MAX_BYTES   8192
#define GROUP_SHARED_MAX_ALERTS 1000

/* Another instance's alert as decoded from its record. */
typedef struct {
    alert_t alert;
    incident_t inc;
    int64_t written_ms; /* when its instance last wrote it */
    bool listed;        /* group_alerts_merge: in the composed notification */
} group_alert_t;

/* Writes the record of `na` into buf; its length, or 0 when it needs more
 * than cap or GROUP_ALERT_MAX_BYTES (then it is not shared). */
size_t group_alert_encode(uint8_t *buf, size_t cap, const notify_alert_t *na, int64_t written_ms);
/* Reads a record (field `fingerprint`) into out; strings and label arrays
 * are copied into `arena` (owned by it). false on anything malformed or
 * oversized, out then unspecified (arena memory may have been taken). */
bool group_alert_decode(const uint8_t *buf, size_t len, uint64_t fingerprint, arena_t *arena,
                        group_alert_t *out);
typedef void (*group_enrich_fn)(void *ctx, const alert_t *a, const incident_t *inc,
                                enrichment_t *out);
/* Composes the group's notification: `own` (this instance's alerts, its
 * own view winning for its fingerprints) plus the others' records. Lists
 * firing records; a resolved record once, if written after prev_sent_ms
 * (when any instance last sent one); a firing record past its endsAt as
 * resolved, once; a RESOLVED notification lists every record resolved.
 * Firing first, then resolved; counts over the whole. Sorts and marks
 * `others` (alert/inc views point into it, so it must outlive *out); the
 * alerts array comes from `arena`. false on OOM (send `own` then). */
bool group_alerts_merge(const notification_t *own, group_alert_t *others, size_t n_others,
                        int64_t prev_sent_ms, arena_t *arena, group_enrich_fn enrich, void *ctx,
                        notification_t *out);

/* Groups agreed through Redis (group_shared.c). Router thread only. */
typedef struct group_shared group_shared_t;
group_shared_t *group_shared_new(const store_conf_t *sc, const char *prefix);
void group_shared_destroy(group_shared_t *gs);
/* The group as the other instances published it (group_shared_gate). */
typedef struct {
    group_alert_t *v; /* in the arena given to the gate */
    size_t n;
    int64_t prev_sent_ms; /* when any instance last sent this group's notification */
    size_t malformed;     /* records refused by group_alert_decode */
} group_others_t;
/* Records what `note` tells (each alert's status and record) and says
 * whether to send it: false when another instance covers it (a reminder
 * sent lately, a group still firing elsewhere, a resolved already sent).
 * A firing alert another instance resolved after this one last saw it is
 * not recorded firing again: it is listed in note->resolved_elsewhere.
 * When it says true and `others` is not NULL, *others holds every record
 * of the group (this instance's too: the merge skips them), decoded into
 * `arena`; the same round trip. Redis unavailable: true, others->n = 0
 * (own alerts only); false for NOTIFY_UNTOLD (each instance then notifies
 * only its own groups). */
bool group_shared_gate(group_shared_t *gs, const notification_t *note, arena_t *arena,
                       group_others_t *others);
/* Claims the group's next firing notification: 0 when no instance sent
 * one within the route's group_interval (now this one's), else the time
 * it may. Redis unavailable: 0. */
int64_t group_shared_hold(group_shared_t *gs, const route_t *r, uint64_t group_id, int64_t now_ms);

/* Novelty claimed through Redis (novelty_shared.c). Router thread only. */
typedef struct novelty_shared novelty_shared_t;
/* `sc`: the store's connection settings; keys are PREFIXnovel:SIG. */
novelty_shared_t *novelty_shared_new(const store_conf_t *sc, const char *prefix);
void novelty_shared_destroy(novelty_shared_t *ns);
/* 1: no instance saw `sig` within window_ms (now claimed, novel); 0: one
 * did; -1: Redis unavailable, decide locally. */
int novelty_shared_claim(novelty_shared_t *ns, uint64_t sig, int64_t window_ms);

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
/* Alerts resolve by time from now on (see notifier_opts_t.resolve_timeout_ms):
 * before any alert is submitted. */
void notifier_set_resolve(notifier_t *n, int64_t resolve_timeout_ms, group_seen_fn seen, void *ctx);
/* Sends every group's pending notification and digest now (shutdown). */
void notifier_flush(notifier_t *n, int64_t now_ms);
/* Notifications queued, in flight or held in a digest. */
size_t notifier_pending(const notifier_t *n);
size_t notifier_groups(const notifier_t *n);
size_t notifier_watched(const notifier_t *n); /* group_table_watched */
/* Group state to/from `path` (see group_table_save); a missing file loads
 * nothing. Errors as "PATH: message" in errbuf. */
qerr_t notifier_save_groups(notifier_t *n, const char *path, char *errbuf, size_t errlen);
/* The groups of `ns` (oldest routing generation first) into `f`. */
qerr_t notifier_write_groups(notifier_t *const *ns, size_t n, FILE *f);
/* Closed groups whose last notification is not confirmed yet (see
 * group_table_closing): a retired notifier is kept while it has any. */
size_t notifier_closing(notifier_t *n);
void notifier_foreach_firing(notifier_t *n, void (*fn)(void *ctx, const incident_t *inc),
                             void *ctx);
qerr_t notifier_load_groups(notifier_t *n, const char *path, int64_t now_ms, uint64_t *loaded,
                            char *errbuf, size_t errlen);
void notifier_stats(const notifier_t *n, notifier_stats_t *out);
/* Whether one of this notifier's groups (on the routes `a` matches in its
 * routing) holds an alert with a's fingerprint: after a reload, the router
 * keeps such an alert with the retired notifier so its group can resolve
 * and close where it was notified. */
bool notifier_holds(notifier_t *n, const alert_t *a);
/* A reload: `to` starts with the novelty signatures `from` saw. */
void notifier_carry_novelty(notifier_t *to, const notifier_t *from);

typedef struct {
    char *buf;
    size_t cap;
    size_t len;
} writer_t;

static inline void put(writer_t *w, const char *s, size_t n)
{
    if (n && w->len < w->cap) {
        size_t room = w->cap - w->len;
        memcpy(w->buf + w->len, s, n < room ? n : room);
    }
    w->len += n;
}

static inline void put_lit(writer_t *w, const char *s) { put(w, s, strlen(s)); }

static inline void put_json_str(writer_t *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put(w, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        put(w, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        switch (c) {
        case '"': put(w, "\\\"", 2); break;
        case '\\': put(w, "\\\\", 2); break;
        case '\n': put(w, "\\n", 2); break;
        case '\r': put(w, "\\r", 2); break;
        case '\t': put(w, "\\t", 2); break;
        default: put(w, esc, 6); break;
        }
    }
    put(w, s + run, n - run);
    put(w, "\"", 1);
}

static inline void put_str(writer_t *w, str_t s) { put_json_str(w, s.ptr, s.len); }

static inline void put_u64(writer_t *w, uint64_t v)
{
    char tmp[24];
    int i = 23;
    tmp[i] = '\0';
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(w, tmp + i, (size_t)(23 - i));
}

static inline void put_time(writer_t *w, int64_t ms)
{
    if (ms == 0) {
        put_lit(w, "null");
        return;
    }
    char t[32];
    time_format_rfc3339(ms, t);
    put(w, "\"", 1);
    put_lit(w, t);
    put(w, "\"", 1);
}

static inline void put_labels(writer_t *w, const label_t *l, uint32_t n)
{
    put(w, "{", 1);
    for (uint32_t i = 0; i < n; i++) {
        if (i) put(w, ",", 1);
        put_str(w, l[i].name);
        put(w, ":", 1);
        put_str(w, l[i].value);
    }
    put(w, "}", 1);
}

/* Router thread: produces `value` to `topic` carrying n_tracks holds,
 * released together on the broker's ack. With `reason`, adds the
 * dead-letter headers (quell-error delivery_failed, quell-error-detail,
 * quell-receiver). Copies `tracks`; the caller keeps its array. */
qerr_t router_produce_tracked(router_t *r, const char *topic, const char *key, const void *value,
                              size_t len, const char *receiver, const char *reason,
                              msg_track_t *const *tracks, size_t n_tracks);

/* One alert of a notification as a packed quell.v1.Incident, allocated in
 * `scratch` (*out); returns its length, 0 on OOM. */
size_t router_format_incident_proto(arena_t *scratch, const notify_alert_t *na, uint8_t **out);

#endif
