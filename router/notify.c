/*
 * The notifier: the router thread's half of routing. It takes decided
 * incidents, routes and groups them (route.c, group.c), formats each group
 * notification for its receiver (payload.c) and delivers it:
 *
 *   webhook, slack, pagerduty  HTTP POST through libcurl's multi interface,
 *                              driven from this thread (no thread per
 *                              request), at most max_in_flight per receiver
 *   kafka                      produced on the router's producer
 *   file, stdout               written at once, one JSON line each
 *
 * HTTP failures: 5xx, 429, timeouts and connection errors are retried with
 * exponential backoff and jitter (a Retry-After header wins when longer);
 * other 4xx are not retried. A notification that cannot be delivered goes
 * to the dead-letter topic with the reason, so nothing is dropped.
 * Flood protection: past rate_limit notifications per minute a receiver's
 * notifications are folded into one digest sent when the minute ends
 * (resolved notifications always go out, so nothing stays open upstream).
 *
 * Input holds (msg_track_t) travel with every job and are released only when
 * it was delivered or dead-lettered. One thread: everything here runs on
 * the router thread; kafka delivery reports arrive there too (router_poll).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "router_int.h"

#define MAX_RETRY_AFTER_MS (10 * 60 * 1000LL)
#define DIGEST_EXAMPLES    5
#define REASON_BYTES       256

typedef struct job job_t;
struct job {
    job_t *next;
    const receiver_t *rcv;
    char *body;
    size_t len;
    char *key; /* kafka key / dead-letter key: the group id */
    msg_track_t **tracks;
    size_t n_tracks;
    uint32_t attempts;
    int64_t due_ms;
    int64_t created_ms;
    int64_t retry_after_ms; /* from the last response; 0 = none */
    CURL *easy;
    struct curl_slist *headers;
    char reason[REASON_BYTES];
};

typedef struct {
    job_t *head, *tail; /* waiting: FIFO, retries keep their place */
    job_t *flying;      /* in flight (at most max_in_flight) */
    uint32_t in_flight;
    /* rate limit */
    int64_t window_start_ms;
    uint32_t sent_in_window;
    uint64_t digest_count;
    msg_track_t **digest_tracks;
    size_t n_digest_tracks, cap_digest_tracks;
    char digest_examples[512];
    size_t n_examples;
    FILE *file;
} rstate_t;

struct notifier {
    notifier_opts_t o;
    const routing_t *rt;
    group_table_t *groups;
    novelty_t *novelty;
    rstate_t *rs;
    size_t n_rs;
    CURLM *multi;
    size_t waiting; /* jobs queued or in flight, all receivers */
    uint64_t rng;
    char *fmt;
    size_t fmt_cap;
    int64_t now_ms;
    /* Written by the router thread only, read by any (metrics, progress):
     * o.counters when given (shared by a router's routing generations),
     * else own_counters. */
    notifier_counters_t own_counters;
    notifier_counters_t *st;
    log_limit_t dead_letter_log;
    const route_t **matched;
    size_t matched_cap;
    arena_t scratch; /* protobuf encoding */
    arena_t merge;   /* one notification composed across instances */
    uint64_t malformed_records;
    log_limit_t malformed_log;
};

/* ---- small helpers ---------------------------------------------------- */

static void release(msg_track_t **tracks, size_t n)
{
    for (size_t i = 0; i < n; i++) track_done(tracks[i]);
}

static uint64_t rng_next(notifier_t *n)
{
    /* xorshift64*: jitter only, not security. */
    n->rng ^= n->rng >> 12;
    n->rng ^= n->rng << 25;
    n->rng ^= n->rng >> 27;
    return n->rng * 0x2545F4914F6CDD1DULL;
}

static void job_free(job_t *j)
{
    if (!j) return;
    if (j->easy) curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->headers);
    free(j->body);
    free(j->key);
    free(j->tracks);
    free(j);
}

/* Formats with `fn` into the reusable buffer; NULL on OOM. */
typedef size_t (*format_fn)(char *, size_t, const receiver_t *, const notification_t *);
static char *format_into(notifier_t *n, format_fn fn, const receiver_t *rcv,
                         const notification_t *note, size_t *len)
{
    for (;;) {
        size_t need = fn(n->fmt, n->fmt_cap, rcv, note);
        if (need < n->fmt_cap) {
            *len = need;
            return n->fmt;
        }
        char *b = realloc(n->fmt, need + 1);
        if (!b) return NULL;
        n->fmt = b;
        n->fmt_cap = need + 1;
    }
}

/* ---- dead letters and completion -------------------------------------- */

static void job_done(notifier_t *n, job_t *j)
{
    release(j->tracks, j->n_tracks);
    free(j->tracks);
    j->tracks = NULL;
    j->n_tracks = 0;
    job_free(j);
    n->waiting--;
}

/* The notification could not be delivered: to the dead-letter topic with
 * the reason. Its holds go with the dead letter (released on the broker's
 * ack, or at once through a test hook). */
static void dead_letter(notifier_t *n, job_t *j, const char *reason)
{
    stat_add(&n->st->dead_lettered, 1);
    log_limit_t *lim = &n->dead_letter_log;
    uint64_t quiet = 0;
    if (log_limit_allow(lim, 10000, &quiet))
        log_error("router", "receiver %s: notification dead-lettered: %s (%llu more not logged)",
                  j->rcv->name, reason, (unsigned long long)quiet);
    if (n->o.dead_letter) {
        n->o.dead_letter(n->o.dead_letter_ctx, j->rcv, j->body, j->len, reason);
        job_done(n, j);
        return;
    }
    if (n->o.produce && n->o.produce(n->o.produce_ctx, n->o.dlq_topic, j->key, j->body, j->len,
                                     j->rcv->name, reason, j->tracks, j->n_tracks) == QERR_OK) {
        j->n_tracks = 0; /* the producer holds them now (it copied the array) */
    } else {
        log_error("router", "dead letter for %s could not be produced; input offset held",
                  j->rcv->name);
        free(j->tracks); /* holds stay taken: the input is re-read after a restart */
        j->tracks = NULL;
        j->n_tracks = 0;
    }
    job_free(j);
    n->waiting--;
}

/* ---- queueing ----------------------------------------------------------- */

static void enqueue(notifier_t *n, job_t *j)
{
    rstate_t *s = &n->rs[j->rcv->index];
    j->next = NULL;
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
}

static job_t *job_new(notifier_t *n, const receiver_t *rcv, const char *body, size_t len,
                      uint64_t group_id, msg_track_t *const *tracks, size_t n_tracks)
{
    job_t *j = calloc(1, sizeof(*j));
    if (!j) return NULL;
    j->rcv = rcv;
    j->body = malloc(len + 1);
    j->key = malloc(17);
    j->tracks = malloc((n_tracks ? n_tracks : 1) * sizeof(*tracks));
    if (!j->body || !j->key || !j->tracks) {
        job_free(j);
        return NULL;
    }
    memcpy(j->body, body, len);
    j->body[len] = '\0';
    j->len = len;
    hex16(group_id, j->key);
    if (n_tracks) memcpy(j->tracks, tracks, n_tracks * sizeof(*tracks));
    j->n_tracks = n_tracks;
    j->created_ms = j->due_ms = n->now_ms;
    n->waiting++;
    return j;
}

/* Writes file/stdout lines and produces kafka messages now; queues HTTP. */
static void dispatch(notifier_t *n, job_t *j)
{
    const receiver_t *rcv = j->rcv;
    rstate_t *s = &n->rs[rcv->index];
    if (rcv->kind == RECV_STDOUT || rcv->kind == RECV_FILE) {
        FILE *fp = rcv->kind == RECV_STDOUT ? stdout : s->file;
        if (fp && fwrite(j->body, 1, j->len, fp) == j->len && fflush(fp) == 0) {
            stat_add(&n->st->delivered[rcv->kind], 1);
            job_done(n, j);
        } else {
            dead_letter(n, j, "write failed");
        }
        return;
    }
    if (rcv->kind == RECV_KAFKA) {
        if (!n->o.produce) {
            dead_letter(n, j, "no Kafka producer");
            return;
        }
        size_t len = j->len;
        if (len && j->body[len - 1] == '\n') len--;
        if (n->o.produce(n->o.produce_ctx, rcv->topic, j->key, j->body, len, NULL, NULL, j->tracks,
                         j->n_tracks) == QERR_OK) {
            stat_add(&n->st->delivered[rcv->kind], 1); /* handed over; the ack releases */
            j->n_tracks = 0;                           /* the producer copied them */
            job_free(j);
            n->waiting--;
        } else {
            dead_letter(n, j, "kafka produce failed");
        }
        return;
    }
    enqueue(n, j);
}

/* ---- rate limit ------------------------------------------------------- */

static void digest_send(notifier_t *n, const receiver_t *rcv)
{
    rstate_t *s = &n->rs[rcv->index];
    if (!s->digest_count) return;
    char buf[2048];
    size_t len =
        router_format_digest(buf, sizeof(buf), rcv, s->digest_count, s->digest_examples, n->now_ms);
    if (len >= sizeof(buf)) len = sizeof(buf) - 1;
    job_t *j = job_new(n, rcv, buf, len, 0, s->digest_tracks, s->n_digest_tracks);
    if (!j) return; /* retried at the next call: the digest state stays */
    stat_add(&n->st->digests, 1);
    s->digest_count = 0;
    s->n_digest_tracks = 0;
    s->digest_examples[0] = '\0';
    s->n_examples = 0;
    dispatch(n, j);
}

static void rate_window(notifier_t *n, const receiver_t *rcv)
{
    rstate_t *s = &n->rs[rcv->index];
    if (n->now_ms - s->window_start_ms < 60000) return;
    /* The window ended: what it held back goes out as one digest, which
     * opens the new window. */
    s->window_start_ms = n->now_ms;
    s->sent_in_window = 0;
    if (s->digest_count) {
        digest_send(n, rcv);
        s->sent_in_window = 1;
    }
}

/* True when the notification was folded into the digest (its holds too). */
static bool rate_limited(notifier_t *n, const receiver_t *rcv, const notification_t *note)
{
    if (!rcv->rate_limit_per_min || note->kind == NOTIFY_RESOLVED) return false;
    rstate_t *s = &n->rs[rcv->index];
    rate_window(n, rcv);
    if (s->sent_in_window < rcv->rate_limit_per_min) {
        s->sent_in_window++;
        return false;
    }
    size_t need = s->n_digest_tracks + note->n_tracks;
    if (need > s->cap_digest_tracks) {
        size_t cap = s->cap_digest_tracks ? s->cap_digest_tracks : 16;
        while (cap < need) cap *= 2;
        msg_track_t **t = realloc(s->digest_tracks, cap * sizeof(*t));
        if (!t) return false; /* send it instead: over the limit beats lost */
        s->digest_tracks = t;
        s->cap_digest_tracks = cap;
    }
    memcpy(s->digest_tracks + s->n_digest_tracks, note->tracks,
           note->n_tracks * sizeof(msg_track_t *));
    s->n_digest_tracks += note->n_tracks;
    s->digest_count++;
    stat_add(&n->st->rate_limited, 1);
    if (s->n_examples < DIGEST_EXAMPLES) {
        size_t used = strlen(s->digest_examples);
        char ex[160];
        int m = snprintf(ex, sizeof(ex), "%s", note->group_key);
        const char *colon = strchr(ex, ':');
        const char *labels = colon ? colon + 1 : ex;
        if (m > 0 && used + strlen(labels) + 3 < sizeof(s->digest_examples)) {
            snprintf(s->digest_examples + used, sizeof(s->digest_examples) - used, "%s%s",
                     used ? "; " : "", labels);
            s->n_examples++;
        }
    }
    return true;
}

/* ---- group notifications -------------------------------------------- */

/* Kafka with `format: protobuf`: one Incident per alert, keyed by the
 * group. The holds ride on the last message: one key means one partition,
 * whose acks come in order. */
static void dispatch_proto(notifier_t *n, const receiver_t *rcv, const notification_t *note)
{
    char key[17];
    hex16(note->group_id, key);
    arena_reset(&n->scratch);
    for (size_t i = 0; i < note->n_alerts; i++) {
        uint8_t *buf = NULL;
        size_t len = router_format_incident_proto(&n->scratch, &note->alerts[i], &buf);
        bool last = i + 1 == note->n_alerts;
        if (!len || !n->o.produce ||
            n->o.produce(n->o.produce_ctx, rcv->topic, key, buf, len, NULL, NULL,
                         last ? note->tracks : NULL, last ? note->n_tracks : 0) != QERR_OK) {
            /* The holds stay taken: the input is re-read after a restart. */
            log_error("router", "receiver %s: protobuf incident not produced; input offset held",
                      rcv->name);
            return;
        }
    }
    stat_add(&n->st->delivered[rcv->kind], 1);
}

static void enrich_other(void *ctx, const alert_t *a, const incident_t *inc, enrichment_t *out)
{
    notifier_t *n = ctx;
    routing_enrich(n->rt, a, inc, out);
}

static void on_notification(void *ctx, const notification_t *note)
{
    notifier_t *n = ctx;
    const receiver_t *rcv = note->route->receiver;
    notification_t merged;
    if (note->kind == NOTIFY_REFRESH) {
        /* The alerts' records only (group_shared.c): nothing is sent. */
        if (n->o.group_shared) group_shared_gate(n->o.group_shared, note, NULL, NULL);
        return;
    }
    notification_t untold;
    /* NOTIFY_UNTOLD comes only from shared groups (group.c's `refresh`). */
    if (n->o.group_shared) {
        /* Kafka protobuf sends one Incident per alert: the other instances
         * produce their own, so only this instance's are needed. */
        bool per_alert = rcv->kind == RECV_KAFKA && rcv->protobuf;
        group_others_t others;
        arena_reset(&n->merge);
        if (!group_shared_gate(n->o.group_shared, note, &n->merge, per_alert ? NULL : &others)) {
            /* Another instance covers it (or nobody was told): nothing to
             * deliver. */
            for (size_t i = 0; i < note->n_tracks; i++) track_done(note->tracks[i]);
            return;
        }
        if (note->kind == NOTIFY_UNTOLD) {
            /* The last of a group another instance notified: its resolved. */
            untold = *note;
            untold.kind = NOTIFY_RESOLVED;
            note = &untold;
        }
        if (!per_alert) {
            if (others.malformed) {
                n->malformed_records += others.malformed;
                uint64_t quiet = 0;
                if (log_limit_allow(&n->malformed_log, 10000, &quiet))
                    log_warn("router",
                             "groups: %llu shared alert records refused as malformed so far "
                             "(PREFIXgrpa:*); those alerts are left out of notifications",
                             (unsigned long long)n->malformed_records);
            }
            /* Composed over every instance's alerts; on OOM this one's only. */
            if (group_alerts_merge(note, others.v, others.n, others.prev_sent_ms, &n->merge,
                                   enrich_other, n, &merged))
                note = &merged;
        }
    }
    stat_add(&n->st->notifications[rcv->kind], 1);
    if (rcv->kind == RECV_NONE) {
        /* Nothing to send: delivered as soon as decided. */
        for (size_t i = 0; i < note->n_tracks; i++) track_done(note->tracks[i]);
        stat_add(&n->st->delivered[rcv->kind], 1);
        return;
    }
    if (rate_limited(n, rcv, note)) return;
    if (rcv->kind == RECV_KAFKA && rcv->protobuf) {
        dispatch_proto(n, rcv, note);
        return;
    }
    format_fn fn = rcv->kind == RECV_WEBHOOK     ? router_format_webhook
                   : rcv->kind == RECV_PAGERDUTY ? router_format_pagerduty
                   : rcv->kind == RECV_SLACK     ? router_format_slack
                                                 : router_format_jsonl;
    size_t len = 0;
    char *body = format_into(n, fn, rcv, note, &len);
    job_t *j =
        body ? job_new(n, rcv, body, len, note->group_id, note->tracks, note->n_tracks) : NULL;
    if (!j) {
        /* Out of memory: the holds stay taken, so the input is re-read. */
        log_error("router", "out of memory queueing a notification for %s", rcv->name);
        return;
    }
    dispatch(n, j);
}

/* ---- HTTP ------------------------------------------------------------- */

static size_t on_header(char *line, size_t size, size_t nitems, void *userdata)
{
    job_t *j = userdata;
    size_t len = size * nitems;
    if (len > 12 && !strncasecmp(line, "Retry-After:", 12)) {
        char v[128];
        size_t vl = len - 12 < sizeof(v) - 1 ? len - 12 : sizeof(v) - 1;
        memcpy(v, line + 12, vl);
        v[vl] = '\0';
        char *p = v;
        while (*p == ' ' || *p == '\t') p++;
        char *end = NULL;
        long long secs = strtoll(p, &end, 10);
        if (end != p && (*end == '\r' || *end == '\n' || *end == '\0')) {
            j->retry_after_ms = secs > 0 ? secs * 1000 : 0;
        } else {
            time_t at = curl_getdate(p, NULL);
            if (at > 0) {
                int64_t ms = (int64_t)at * 1000 - clock_wall_ms();
                j->retry_after_ms = ms > 0 ? ms : 0;
            }
        }
    }
    return len;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb; /* receivers' answers are not used */
}

static bool start_http(notifier_t *n, job_t *j)
{
    j->easy = curl_easy_init();
    if (!j->easy) return false;
    if (!j->headers) {
        j->headers = curl_slist_append(NULL, "Content-Type: application/json");
        j->headers = curl_slist_append(j->headers, "User-Agent: quell/" QUELL_VERSION);
        /* No "Expect: 100-continue": curl would wait up to 1 s for it on
         * bodies over 1 KiB, and receivers rarely answer it. */
        j->headers = curl_slist_append(j->headers, "Expect:");
    }
    CURL *e = j->easy;
    curl_easy_setopt(e, CURLOPT_URL, j->rcv->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)j->rcv->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)j->rcv->timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    j->retry_after_ms = 0;
    j->attempts++;
    if (curl_multi_add_handle(n->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        j->easy = NULL;
        return false;
    }
    rstate_t *s = &n->rs[j->rcv->index];
    s->in_flight++;
    j->next = s->flying;
    s->flying = j;
    return true;
}

/* Starts due jobs up to each receiver's concurrency. */
static void start_due(notifier_t *n)
{
    for (size_t r = 0; r < n->n_rs; r++) {
        rstate_t *s = &n->rs[r];
        const receiver_t *rcv = routing_receiver(n->rt, r);
        job_t **pp = &s->head, *prev = NULL;
        while (*pp && s->in_flight < rcv->max_in_flight) {
            job_t *j = *pp;
            if (j->due_ms > n->now_ms) {
                prev = j;
                pp = &j->next;
                continue;
            }
            *pp = j->next;
            if (s->tail == j) s->tail = prev;
            j->next = NULL;
            if (!start_http(n, j)) {
                j->due_ms = n->now_ms + 100; /* curl could not take it: soon again */
                enqueue(n, j);
                break;
            }
        }
    }
}

static void retry_or_dead_letter(notifier_t *n, job_t *j, bool retriable)
{
    const receiver_t *rcv = j->rcv;
    if (!retriable || j->attempts > rcv->max_retries) {
        char why[REASON_BYTES + 64];
        snprintf(why, sizeof(why), "%s after %u attempt%s", j->reason, j->attempts,
                 j->attempts == 1 ? "" : "s");
        dead_letter(n, j, why);
        return;
    }
    stat_add(&n->st->retries, 1);
    /* Exponential backoff with jitter in [0.5, 1.5) of the step, so
     * receivers coming back are not hit by every sender at once. */
    int64_t step = rcv->backoff_ms << (j->attempts - 1 < 20 ? j->attempts - 1 : 20);
    int64_t delay = step / 2 + (int64_t)(rng_next(n) % (uint64_t)(step > 0 ? step : 1));
    if (j->retry_after_ms > delay)
        delay = j->retry_after_ms < MAX_RETRY_AFTER_MS ? j->retry_after_ms : MAX_RETRY_AFTER_MS;
    j->due_ms = n->now_ms + delay;
    enqueue(n, j);
}

static void reap(notifier_t *n)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(n->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        job_t *j = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        CURLcode res = m->data.result;
        long status = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(n->multi, m->easy_handle);
        curl_easy_cleanup(m->easy_handle);
        j->easy = NULL;
        rstate_t *s = &n->rs[j->rcv->index];
        s->in_flight--;
        job_t **pp = &s->flying;
        while (*pp != j) pp = &(*pp)->next;
        *pp = j->next;
        j->next = NULL;
        if (res == CURLE_OK && status >= 200 && status < 300) {
            stat_add(&n->st->delivered[j->rcv->kind], 1);
            int64_t lat = n->now_ms - j->created_ms;
            if (lat > (int64_t)stat_get(&n->st->max_delivery_ms))
                atomic_store_explicit(&n->st->max_delivery_ms, (uint64_t)lat, memory_order_relaxed);
            job_done(n, j);
            continue;
        }
        bool retriable;
        if (res != CURLE_OK) {
            snprintf(j->reason, sizeof(j->reason), "%s", curl_easy_strerror(res));
            retriable = true; /* timeouts, refused connections, resets */
        } else {
            snprintf(j->reason, sizeof(j->reason), "HTTP %ld", status);
            retriable = status == 429 || status >= 500;
        }
        retry_or_dead_letter(n, j, retriable);
    }
}

/* ---- public ----------------------------------------------------------- */

static bool route_muted(void *ctx, const route_t *r, int64_t now_ms)
{
    const notifier_t *n = ctx;
    return routing_route_muted(n->rt, r, now_ms);
}

static int64_t group_hold(void *ctx, const route_t *r, uint64_t group_id, int64_t now_ms)
{
    const notifier_t *n = ctx;
    return group_shared_hold(n->o.group_shared, r, group_id, now_ms);
}

notifier_t *notifier_new(const notifier_opts_t *o, char *errbuf, size_t errlen)
{
    static _Atomic bool curl_ready;
    if (!atomic_exchange(&curl_ready, true)) curl_global_init(CURL_GLOBAL_DEFAULT);
    notifier_t *n = calloc(1, sizeof(*n));
    if (!n) return NULL;
    n->o = *o;
    n->rt = o->routing;
    n->st = o->counters ? o->counters : &n->own_counters;
    n->now_ms = o->now_ms;
    n->rng = (uint64_t)clock_mono_ns() | 1;
    arena_init(&n->scratch, 65536);
    arena_init(&n->merge, 65536);
    n->n_rs = routing_n_receivers(n->rt);
    n->rs = calloc(n->n_rs + 1, sizeof(*n->rs));
    n->groups = group_table_new(o->now_ms, o->tick_ms, on_notification, n);
    if (n->groups) group_table_set_mute(n->groups, route_muted, n);
    /* Every path here releases a notification's holds when it is
     * delivered or dead-lettered (never before): so the groups can tell
     * what receivers have for a save (FILE.groups). */
    if (n->groups) group_table_track_delivery(n->groups);
    if (n->groups && o->group_shared) group_table_set_hold(n->groups, group_hold, n);
    if (n->groups) notifier_set_resolve(n, o->resolve_timeout_ms, o->seen, o->seen_ctx);
    n->novelty = novelty_new(n->rt);
    n->multi = curl_multi_init();
    if (!n->rs || !n->groups || !n->novelty || !n->multi) {
        snprintf(errbuf, errlen, "out of memory starting the notifier");
        notifier_destroy(n);
        return NULL;
    }
    for (size_t i = 0; i < n->n_rs; i++) {
        const receiver_t *rcv = routing_receiver(n->rt, i);
        n->rs[i].window_start_ms = o->now_ms;
        if (rcv->kind != RECV_FILE) continue;
        n->rs[i].file = fopen(rcv->path, "a");
        if (!n->rs[i].file) {
            snprintf(errbuf, errlen, "receiver %s: cannot open %s: %s", rcv->name, rcv->path,
                     strerror(errno));
            notifier_destroy(n);
            return NULL;
        }
    }
    return n;
}

void notifier_destroy(notifier_t *n)
{
    if (!n) return;
    for (size_t r = 0; r < n->n_rs; r++) {
        rstate_t *s = &n->rs[r];
        for (job_t *j = s->head, *next; j; j = next) {
            next = j->next;
            job_free(j); /* holds not released: the input is re-read */
        }
        for (job_t *j = s->flying, *next; j; j = next) {
            next = j->next;
            if (j->easy) curl_multi_remove_handle(n->multi, j->easy);
            job_free(j);
        }
        if (s->file) fclose(s->file);
        free(s->digest_tracks);
    }
    if (n->multi) curl_multi_cleanup(n->multi);
    group_table_destroy(n->groups);
    novelty_destroy(n->novelty);
    free(n->rs);
    free(n->fmt);
    free(n->matched);
    arena_free(&n->scratch);
    arena_free(&n->merge);
    free(n);
}

/* The routes `a` goes to, into n->matched; false on OOM. */
static bool match_routes(notifier_t *n, const alert_t *a, size_t *found)
{
    *found = routing_match(n->rt, a->labels, a->n_labels, n->matched, n->matched_cap);
    if (*found > n->matched_cap) {
        const route_t **m = realloc(n->matched, *found * sizeof(*m));
        if (!m) return false;
        n->matched = m;
        n->matched_cap = *found;
        routing_match(n->rt, a->labels, a->n_labels, n->matched, n->matched_cap);
    }
    return true;
}

qerr_t notifier_submit(notifier_t *n, const alert_t *a, const incident_t *inc, msg_track_t *track,
                       int64_t now_ms)
{
    n->now_ms = now_ms;
    size_t found;
    if (!match_routes(n, a, &found)) return QERR_NOMEM;
    enrichment_t en;
    routing_enrich(n->rt, a, inc, &en);
    en.novel = inc->kind == DECISION_FORWARD_NEW && novelty_check(n->novelty, a, now_ms);
    /* New to this process: with the shared store, novel only if no other
     * instance saw it first (Redis unavailable: the local answer stands). */
    if (en.novel && n->o.novelty_shared &&
        novelty_shared_claim(n->o.novelty_shared, novelty_signature(n->novelty, a),
                             novelty_window_ms(n->novelty)) == 0)
        en.novel = false;
    /* One hold per route: each group releases its own. */
    if (track && found > 1) track_add(track, (int32_t)found - 1);
    qerr_t err = QERR_OK;
    for (size_t i = 0; i < found; i++) {
        qerr_t e = group_table_add(n->groups, n->matched[i], a, inc, &en, track, now_ms);
        if (e != QERR_OK) err = e; /* that hold stays taken: re-read, never lost */
    }
    stat_add(&n->st->alerts, 1);
    return err;
}

void notifier_run(notifier_t *n, int64_t now_ms, int wait_ms)
{
    n->now_ms = now_ms;
    group_table_advance(n->groups, now_ms);
    for (size_t r = 0; r < n->n_rs; r++) {
        const receiver_t *rcv = routing_receiver(n->rt, r);
        if (rcv->rate_limit_per_min) rate_window(n, rcv);
    }
    start_due(n);
    int running = 0;
    curl_multi_perform(n->multi, &running);
    reap(n);
    if (wait_ms > 0) {
        curl_multi_poll(n->multi, NULL, 0, wait_ms, NULL);
        curl_multi_perform(n->multi, &running);
        reap(n);
    }
    start_due(n);
}

void notifier_set_resolve(notifier_t *n, int64_t resolve_timeout_ms, group_seen_fn seen, void *ctx)
{
    n->o.resolve_timeout_ms = resolve_timeout_ms;
    n->o.seen = seen;
    n->o.seen_ctx = ctx;
    /* Shared groups republish their alerts' records when their ends move
     * on, so the other instances do not take them for resolved. */
    group_table_set_resolve(n->groups, resolve_timeout_ms, seen, ctx, n->o.group_shared != NULL,
                            n->o.dedup_window_ms);
}

void notifier_flush(notifier_t *n, int64_t now_ms)
{
    n->now_ms = now_ms;
    group_table_flush(n->groups, now_ms);
    for (size_t r = 0; r < n->n_rs; r++) digest_send(n, routing_receiver(n->rt, r));
}

size_t notifier_pending(const notifier_t *n)
{
    size_t digests = 0;
    for (size_t r = 0; r < n->n_rs; r++) digests += n->rs[r].digest_count ? 1 : 0;
    return n->waiting + digests;
}

size_t notifier_groups(const notifier_t *n) { return group_table_count(n->groups); }

size_t notifier_watched(const notifier_t *n) { return group_table_watched(n->groups); }

/* Any thread. */
void notifier_counters_read(const notifier_counters_t *c, notifier_stats_t *out)
{
    out->alerts = stat_get(&c->alerts);
    for (int k = 0; k < RECEIVER_KINDS; k++) {
        out->notifications[k] = stat_get(&c->notifications[k]);
        out->delivered[k] = stat_get(&c->delivered[k]);
    }
    out->retries = stat_get(&c->retries);
    out->dead_lettered = stat_get(&c->dead_lettered);
    out->rate_limited = stat_get(&c->rate_limited);
    out->digests = stat_get(&c->digests);
    out->max_delivery_ms = (int64_t)stat_get(&c->max_delivery_ms);
}

/* Any thread. */
void notifier_stats(const notifier_t *n, notifier_stats_t *out)
{
    notifier_counters_read(n->st, out);
}

void notifier_carry_novelty(notifier_t *to, const notifier_t *from)
{
    if (!novelty_carry(to->novelty, from->novelty))
        log_warn("router", "out of memory carrying novelty over a reload: seen signatures may "
                           "be novel once more");
}

bool notifier_holds(notifier_t *n, const alert_t *a)
{
    size_t found;
    if (!match_routes(n, a, &found)) return false; /* OOM: the current routing takes it */
    for (size_t i = 0; i < found; i++)
        if (group_table_has(n->groups, n->matched[i], a)) return true;
    return false;
}

qerr_t notifier_write_groups(notifier_t *const *ns, size_t n, FILE *f)
{
    const group_table_t **gts = calloc(n ? n : 1, sizeof(*gts));
    if (!gts) return QERR_NOMEM;
    for (size_t i = 0; i < n; i++) gts[i] = ns[i]->groups;
    qerr_t err = group_table_save(gts, n, f);
    free(gts);
    return err;
}

static qerr_t write_groups(FILE *f, void *ctx)
{
    notifier_t *n = ctx;
    return notifier_write_groups(&n, 1, f);
}

qerr_t notifier_save_groups(notifier_t *n, const char *path, char *errbuf, size_t errlen)
{
    return file_replace(path, write_groups, n, errbuf, errlen);
}

size_t notifier_closing(notifier_t *n) { return group_table_closing(n->groups); }

void notifier_foreach_firing(notifier_t *n, void (*fn)(void *ctx, const incident_t *inc), void *ctx)
{
    group_table_foreach_firing(n->groups, fn, ctx);
}

qerr_t notifier_load_groups(notifier_t *n, const char *path, int64_t now_ms, uint64_t *loaded,
                            char *errbuf, size_t errlen)
{
    *loaded = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return QERR_OK;
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        return QERR_IO;
    }
    size_t nr = routing_n_routes(n->rt);
    const route_t **routes = calloc(nr + 1, sizeof(*routes));
    if (!routes) {
        fclose(f);
        return QERR_NOMEM;
    }
    routing_walk(n->rt, routes, nr);
    uint64_t dropped = 0;
    qerr_t err = group_table_load(n->groups, f, routes, nr, now_ms, loaded, &dropped);
    free(routes);
    fclose(f);
    if (err != QERR_OK)
        snprintf(errbuf, errlen, "%s: damaged group state (%s)", path, qerr_str(err));
    else if (dropped)
        log_warn("router", "%llu groups in %s belong to routes no longer configured: dropped",
                 (unsigned long long)dropped, path);
    return err;
}
