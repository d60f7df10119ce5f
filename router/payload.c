/*
 * Receiver payloads: the exact bytes each receiver type is sent for a group
 * notification. Pure (no allocation, no clock: the time comes in the
 * notification), tested byte for byte.
 *
 *   webhook    Alertmanager's webhook version 4, so existing receivers work
 *   pagerduty  Events API v2 trigger/resolve, dedup_key stable per group
 *   slack      incoming-webhook {"text": ...}, readable on a phone
 *   jsonl      one JSON object per line: file, stdout, Kafka (json)
 */
#include <stdio.h>

#include "router_int.h"

static bool str_eq(str_t a, str_t b) { return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0; }

static bool str_is(str_t a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && memcmp(a.ptr, s, n) == 0;
}

/* The value of `name` in a label list; NULL ptr when absent. */
static str_t find(const label_t *l, uint32_t n, const char *name)
{
    for (uint32_t i = 0; i < n; i++)
        if (str_is(l[i].name, name)) return l[i].value;
    return (str_t){NULL, 0};
}

static const char *group_status(const notification_t *n)
{
    return n->kind == NOTIFY_RESOLVED || n->n_firing == 0 ? "resolved" : "firing";
}

/* Labels (or annotations) every alert has with the same value, in the
 * first alert's order. */
static void put_common(writer_t *w, const notification_t *n, bool annotations)
{
    put(w, "{", 1);
    if (n->n_alerts) {
        const alert_t *a0 = n->alerts[0].alert;
        const label_t *l0 = annotations ? a0->annotations : a0->labels;
        uint32_t n0 = annotations ? a0->n_annotations : a0->n_labels;
        bool first = true;
        for (uint32_t i = 0; i < n0; i++) {
            bool common = true;
            for (size_t k = 1; common && k < n->n_alerts; k++) {
                const alert_t *a = n->alerts[k].alert;
                const label_t *l = annotations ? a->annotations : a->labels;
                uint32_t nl = annotations ? a->n_annotations : a->n_labels;
                common = false;
                for (uint32_t j = 0; j < nl && !common; j++)
                    common = str_eq(l[j].name, l0[i].name) && str_eq(l[j].value, l0[i].value);
            }
            if (!common) continue;
            if (!first) put(w, ",", 1);
            first = false;
            put_str(w, l0[i].name);
            put(w, ":", 1);
            put_str(w, l0[i].value);
        }
    }
    put(w, "}", 1);
}

static void put_fp(writer_t *w, uint64_t fp)
{
    char hex[17];
    hex16(fp, hex);
    put(w, "\"", 1);
    put(w, hex, 16);
    put(w, "\"", 1);
}

static void finish(writer_t *w)
{
    if (w->cap) w->buf[w->len < w->cap ? w->len : w->cap - 1] = '\0';
}

/* ---- webhook v4 ------------------------------------------------------- */

size_t router_format_webhook(char *buf, size_t cap, const receiver_t *rcv, const notification_t *n)
{
    writer_t w = {buf, cap, 0};
    size_t shown = n->n_alerts;
    if (rcv->max_alerts && shown > rcv->max_alerts) shown = rcv->max_alerts;
    put_lit(&w, "{\"receiver\":");
    put_json_str(&w, rcv->name, strlen(rcv->name));
    put_lit(&w, ",\"status\":\"");
    put_lit(&w, group_status(n));
    put_lit(&w, "\",\"alerts\":[");
    for (size_t i = 0; i < shown; i++) {
        const alert_t *a = n->alerts[i].alert;
        bool resolved = a->status == ALERT_RESOLVED;
        if (i) put(&w, ",", 1);
        put_lit(&w, resolved ? "{\"status\":\"resolved\",\"labels\":"
                             : "{\"status\":\"firing\",\"labels\":");
        put_labels(&w, a->labels, a->n_labels);
        put_lit(&w, ",\"annotations\":");
        put_labels(&w, a->annotations, a->n_annotations);
        put_lit(&w, ",\"startsAt\":");
        put_time(&w, a->starts_at_ms ? a->starts_at_ms : n->alerts[i].inc->first_seen_ms);
        put_lit(&w, ",\"endsAt\":");
        /* Alertmanager sends Go's zero time for "not ended", an endsAt
         * still ahead included (types.Alerts hides it until it passes). */
        if (resolved)
            put_time(&w, a->ends_at_ms ? a->ends_at_ms : n->alerts[i].inc->last_seen_ms);
        else
            put_lit(&w, "\"0001-01-01T00:00:00Z\"");
        put_lit(&w, ",\"generatorURL\":");
        put_str(&w, a->generator_url);
        put_lit(&w, ",\"fingerprint\":");
        put_fp(&w, a->fingerprint);
        put(&w, "}", 1);
    }
    put_lit(&w, "],\"groupLabels\":");
    put_labels(&w, n->group_labels, n->n_group_labels);
    put_lit(&w, ",\"commonLabels\":");
    put_common(&w, n, false);
    put_lit(&w, ",\"commonAnnotations\":");
    put_common(&w, n, true);
    put_lit(&w, ",\"externalURL\":");
    const char *ext = rcv->external_url ? rcv->external_url : "";
    put_json_str(&w, ext, strlen(ext));
    put_lit(&w, ",\"version\":\"4\",\"groupKey\":");
    put_json_str(&w, n->group_key, strlen(n->group_key));
    put_lit(&w, ",\"truncatedAlerts\":");
    put_u64(&w, n->n_alerts - shown);
    put(&w, "}", 1);
    finish(&w);
    return w.len;
}

/* ---- PagerDuty Events API v2 ------------------------------------------ */

static const char *pd_severity(const notification_t *n)
{
    /* The most severe firing alert: SEV1 critical, SEV2 error, SEV3
     * warning, SEV4-5 info; without a SEV, the alert's own `severity`
     * label when it is one of PagerDuty's values, else error. */
    uint8_t best = 0;
    str_t label = {NULL, 0};
    for (size_t i = 0; i < n->n_alerts; i++) {
        uint8_t s = n->alerts[i].inc->severity;
        if (s && (!best || s < best)) best = s;
        if (!label.ptr) {
            str_t v = find(n->alerts[i].alert->labels, n->alerts[i].alert->n_labels, "severity");
            if (str_is(v, "critical") || str_is(v, "error") || str_is(v, "warning") ||
                str_is(v, "info"))
                label = v;
        }
    }
    if (best == 1) return "critical";
    if (best == 2) return "error";
    if (best == 3) return "warning";
    if (best >= 4) return "info";
    if (label.ptr) {
        if (str_is(label, "critical")) return "critical";
        if (str_is(label, "warning")) return "warning";
        if (str_is(label, "info")) return "info";
    }
    return "error";
}

static const char *runbook(const notification_t *n)
{
    for (size_t i = 0; i < n->n_alerts; i++)
        if (n->alerts[i].enrich.runbook_url) return n->alerts[i].enrich.runbook_url;
    return NULL;
}

/* "[FIRING:2] HighLatency service=api: first alert's summary" into out;
 * cut at a UTF-8 boundary to fit `max` bytes, marked with "...". */
static size_t summary_text(const notification_t *n, char *out, size_t max)
{
    writer_t w = {out, max + 1, 0};
    char head[64];
    snprintf(head, sizeof(head), "[%s:%zu] ", n->kind == NOTIFY_RESOLVED ? "RESOLVED" : "FIRING",
             n->kind == NOTIFY_RESOLVED ? n->n_alerts : n->n_firing);
    put_lit(&w, head);
    const alert_t *a0 = n->n_alerts ? n->alerts[0].alert : NULL;
    str_t name = a0 ? find(a0->labels, a0->n_labels, "alertname") : (str_t){NULL, 0};
    if (name.ptr) put(&w, name.ptr, name.len);
    for (uint32_t i = 0; i < n->n_group_labels; i++) {
        if (str_is(n->group_labels[i].name, "alertname")) continue;
        put(&w, " ", 1);
        put(&w, n->group_labels[i].name.ptr, n->group_labels[i].name.len);
        put(&w, "=", 1);
        put(&w, n->group_labels[i].value.ptr, n->group_labels[i].value.len);
    }
    str_t sum = a0 ? find(a0->annotations, a0->n_annotations, "summary") : (str_t){NULL, 0};
    if (sum.ptr && sum.len) {
        put(&w, ": ", 2);
        put(&w, sum.ptr, sum.len);
    }
    size_t len = w.len;
    if (len > max) {
        len = max - 3;
        while (len && ((unsigned char)out[len] & 0xC0) == 0x80) len--;
        memcpy(out + len, "...", 3);
        len += 3;
    }
    out[len] = '\0';
    return len;
}

size_t router_format_pagerduty(char *buf, size_t cap, const receiver_t *rcv,
                               const notification_t *n)
{
    writer_t w = {buf, cap, 0};
    char key[17];
    hex16(n->group_id, key);
    put_lit(&w, "{\"routing_key\":");
    const char *rk = rcv->routing_key ? rcv->routing_key : "";
    put_json_str(&w, rk, strlen(rk));
    put_lit(&w, ",\"event_action\":\"");
    put_lit(&w, n->kind == NOTIFY_RESOLVED ? "resolve" : "trigger");
    put_lit(&w, "\",\"dedup_key\":\"quell-");
    put(&w, key, 16);
    put(&w, "\"", 1);
    if (n->kind == NOTIFY_RESOLVED) {
        put(&w, "}", 1);
        finish(&w);
        return w.len;
    }
    char summary[PAGERDUTY_SUMMARY_MAX + 1];
    size_t slen = summary_text(n, summary, PAGERDUTY_SUMMARY_MAX);
    put_lit(&w, ",\"payload\":{\"summary\":");
    put_json_str(&w, summary, slen);
    put_lit(&w, ",\"timestamp\":");
    put_time(&w, n->now_ms);
    put_lit(&w, ",\"severity\":\"");
    put_lit(&w, pd_severity(n));
    put_lit(&w, "\",\"source\":");
    const alert_t *a0 = n->n_alerts ? n->alerts[0].alert : NULL;
    str_t src = a0 ? a0->source : (str_t){NULL, 0};
    if (!src.len && a0) src = find(a0->labels, a0->n_labels, "instance");
    if (!src.len && a0) src = find(a0->labels, a0->n_labels, "service");
    if (src.len)
        put_str(&w, src);
    else
        put_lit(&w, "\"quell\"");
    put_lit(&w, ",\"custom_details\":{\"group_key\":");
    put_json_str(&w, n->group_key, strlen(n->group_key));
    put_lit(&w, ",\"firing\":");
    put_u64(&w, n->n_firing);
    put_lit(&w, ",\"resolved\":");
    put_u64(&w, n->n_alerts - n->n_firing);
    put_lit(&w, ",\"folded\":");
    put_u64(&w, n->folded);
    bool novel = false, high = false;
    for (size_t i = 0; i < n->n_alerts; i++) {
        novel |= n->alerts[i].enrich.novel;
        high |= n->alerts[i].enrich.urgency_high;
    }
    put_lit(&w, novel ? ",\"novel\":true" : ",\"novel\":false");
    put_lit(&w, high ? ",\"urgency\":\"high\"" : ",\"urgency\":\"low\"");
    put_lit(&w, ",\"group_labels\":");
    put_labels(&w, n->group_labels, n->n_group_labels);
    put_lit(&w, ",\"common_annotations\":");
    put_common(&w, n, true);
    put_lit(&w, "}},\"client\":\"quell\"");
    if (rcv->external_url && *rcv->external_url) {
        put_lit(&w, ",\"client_url\":");
        put_json_str(&w, rcv->external_url, strlen(rcv->external_url));
    }
    const char *rb = runbook(n);
    if (rb) {
        put_lit(&w, ",\"links\":[{\"href\":");
        put_json_str(&w, rb, strlen(rb));
        put_lit(&w, ",\"text\":\"Runbook\"}]");
    }
    put(&w, "}", 1);
    finish(&w);
    return w.len;
}

/* ---- Slack ------------------------------------------------------------ */

#define SLACK_MAX_LINES 10

/* Slack's mrkdwn wants &, <, > escaped; the JSON escaping comes after. */
static void put_slack(writer_t *w, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *esc = s[i] == '&'   ? "&amp;"
                          : s[i] == '<' ? "&lt;"
                          : s[i] == '>' ? "&gt;"
                                        : NULL;
        if (!esc) continue;
        put(w, s + run, i - run);
        put_lit(w, esc);
        run = i + 1;
    }
    put(w, s + run, n - run);
}

size_t router_format_slack(char *buf, size_t cap, const receiver_t *rcv, const notification_t *n)
{
    (void)rcv;
    /* The text is built raw first, then written once as a JSON string. */
    char text[8192];
    writer_t t = {text, sizeof(text) - 1, 0};
    bool resolved = n->kind == NOTIFY_RESOLVED;
    put_lit(&t, resolved ? ":white_check_mark: *[RESOLVED" : ":red_circle: *[FIRING");
    char num[48];
    snprintf(num, sizeof(num), ":%zu] ", resolved ? n->n_alerts : n->n_firing);
    put_lit(&t, num);
    const alert_t *a0 = n->n_alerts ? n->alerts[0].alert : NULL;
    str_t name = a0 ? find(a0->labels, a0->n_labels, "alertname") : (str_t){NULL, 0};
    if (name.ptr) put_slack(&t, name.ptr, name.len);
    put_lit(&t, "*");
    for (uint32_t i = 0; i < n->n_group_labels; i++) {
        if (str_is(n->group_labels[i].name, "alertname")) continue;
        put(&t, " `", 2);
        put_slack(&t, n->group_labels[i].name.ptr, n->group_labels[i].name.len);
        put(&t, "=", 1);
        put_slack(&t, n->group_labels[i].value.ptr, n->group_labels[i].value.len);
        put(&t, "`", 1);
    }
    if (n->kind == NOTIFY_REMINDER) put_lit(&t, " (still firing)");
    bool novel = false, high = false;
    for (size_t i = 0; i < n->n_alerts; i++) {
        novel |= n->alerts[i].enrich.novel;
        high |= n->alerts[i].enrich.urgency_high;
    }
    if (high && !resolved) put_lit(&t, " :rotating_light: high urgency");
    if (novel && !resolved) put_lit(&t, " :new: never seen before");
    size_t lines = n->n_alerts < SLACK_MAX_LINES ? n->n_alerts : SLACK_MAX_LINES;
    for (size_t i = 0; i < lines; i++) {
        const alert_t *a = n->alerts[i].alert;
        put_lit(&t, "\n• ");
        str_t where = a->source;
        if (!where.len) where = find(a->labels, a->n_labels, "instance");
        if (!where.len) where = find(a->labels, a->n_labels, "service");
        if (where.len) {
            put_slack(&t, where.ptr, where.len);
            put_lit(&t, ": ");
        }
        str_t sum = find(a->annotations, a->n_annotations, "summary");
        if (!sum.len) sum = find(a->labels, a->n_labels, "alertname");
        put_slack(&t, sum.ptr ? sum.ptr : "", sum.len);
        if (a->status == ALERT_RESOLVED && !resolved) put_lit(&t, " (resolved)");
    }
    if (n->n_alerts > lines) {
        snprintf(num, sizeof(num), "\n…and %zu more", n->n_alerts - lines);
        put_lit(&t, num);
    }
    snprintf(num, sizeof(num), "\n%llu occurrences folded in", (unsigned long long)n->folded);
    put_lit(&t, num);
    const char *rb = runbook(n);
    if (rb) {
        put_lit(&t, " · <");
        put_lit(&t, rb);
        put_lit(&t, "|Runbook>");
    }
    size_t tlen = t.len < sizeof(text) - 1 ? t.len : sizeof(text) - 1;
    writer_t w = {buf, cap, 0};
    put_lit(&w, "{\"text\":");
    put_json_str(&w, text, tlen);
    put(&w, "}", 1);
    finish(&w);
    return w.len;
}

/* ---- JSON lines ------------------------------------------------------- */

static const char *kind_str(notify_kind_t k)
{
    return k == NOTIFY_RESOLVED ? "resolved" : k == NOTIFY_REMINDER ? "reminder" : "firing";
}

size_t router_format_jsonl(char *buf, size_t cap, const receiver_t *rcv, const notification_t *n)
{
    writer_t w = {buf, cap, 0};
    char key[17];
    hex16(n->group_id, key);
    put_lit(&w, "{\"receiver\":");
    put_json_str(&w, rcv->name, strlen(rcv->name));
    put_lit(&w, ",\"status\":\"");
    put_lit(&w, group_status(n));
    put_lit(&w, "\",\"kind\":\"");
    put_lit(&w, kind_str(n->kind));
    put_lit(&w, "\",\"group_id\":\"");
    put(&w, key, 16);
    put_lit(&w, "\",\"group_key\":");
    put_json_str(&w, n->group_key, strlen(n->group_key));
    put_lit(&w, ",\"group_labels\":");
    put_labels(&w, n->group_labels, n->n_group_labels);
    put_lit(&w, ",\"time\":");
    put_time(&w, n->now_ms);
    put_lit(&w, ",\"folded\":");
    put_u64(&w, n->folded);
    put_lit(&w, ",\"alerts\":[");
    for (size_t i = 0; i < n->n_alerts; i++) {
        const notify_alert_t *na = &n->alerts[i];
        if (i) put(&w, ",", 1);
        put_lit(&w, "{\"fingerprint\":");
        put_fp(&w, na->alert->fingerprint);
        put_lit(&w, na->alert->status == ALERT_RESOLVED ? ",\"status\":\"resolved\""
                                                        : ",\"status\":\"firing\"");
        put_lit(&w, ",\"labels\":");
        put_labels(&w, na->alert->labels, na->alert->n_labels);
        put_lit(&w, ",\"annotations\":");
        put_labels(&w, na->alert->annotations, na->alert->n_annotations);
        put_lit(&w, ",\"starts_at\":");
        put_time(&w, na->alert->starts_at_ms);
        put_lit(&w, ",\"ends_at\":");
        put_time(&w, na->alert->ends_at_ms);
        put_lit(&w, ",\"count\":");
        put_u64(&w, na->inc->count);
        put_lit(&w, ",\"first_seen\":");
        put_time(&w, na->inc->first_seen_ms);
        put_lit(&w, ",\"last_seen\":");
        put_time(&w, na->inc->last_seen_ms);
        if (na->inc->severity) {
            put_lit(&w, ",\"severity\":\"SEV");
            put_u64(&w, na->inc->severity);
            put(&w, "\"", 1);
        }
        put_lit(&w, na->enrich.urgency_high ? ",\"urgency\":\"high\"" : ",\"urgency\":\"low\"");
        put_lit(&w, na->enrich.novel ? ",\"novel\":true" : ",\"novel\":false");
        if (na->enrich.runbook_url) {
            put_lit(&w, ",\"runbook_url\":");
            put_json_str(&w, na->enrich.runbook_url, strlen(na->enrich.runbook_url));
        }
        put(&w, "}", 1);
    }
    put_lit(&w, "]}\n");
    finish(&w);
    return w.len;
}

/* ---- rate-limit digest ------------------------------------------------ */

size_t router_format_digest(char *buf, size_t cap, const receiver_t *rcv, uint64_t n_more,
                            const char *examples, int64_t now_ms)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "%llu more notifications for receiver %s held back by its rate limit (%u per "
             "minute)%s%s",
             (unsigned long long)n_more, rcv->name, rcv->rate_limit_per_min,
             examples && *examples ? ": " : "", examples ? examples : "");
    writer_t w = {buf, cap, 0};
    switch (rcv->kind) {
    case RECV_SLACK:
        put_lit(&w, "{\"text\":");
        put_json_str(&w, text, strlen(text));
        put(&w, "}", 1);
        break;
    case RECV_PAGERDUTY: {
        const char *rk = rcv->routing_key ? rcv->routing_key : "";
        put_lit(&w, "{\"routing_key\":");
        put_json_str(&w, rk, strlen(rk));
        put_lit(&w, ",\"event_action\":\"trigger\",\"dedup_key\":");
        char dk[300];
        snprintf(dk, sizeof(dk), "quell-digest-%s", rcv->name);
        put_json_str(&w, dk, strlen(dk));
        put_lit(&w, ",\"payload\":{\"summary\":");
        put_json_str(&w, text,
                     strlen(text) < PAGERDUTY_SUMMARY_MAX ? strlen(text) : PAGERDUTY_SUMMARY_MAX);
        put_lit(&w, ",\"timestamp\":");
        put_time(&w, now_ms);
        put_lit(&w, ",\"severity\":\"warning\",\"source\":\"quell\"},\"client\":\"quell\"}");
        break;
    }
    default:
        put_lit(&w, "{\"receiver\":");
        put_json_str(&w, rcv->name, strlen(rcv->name));
        put_lit(&w, ",\"status\":\"digest\",\"time\":");
        put_time(&w, now_ms);
        put_lit(&w, ",\"held_back\":");
        put_u64(&w, n_more);
        put_lit(&w, ",\"text\":");
        put_json_str(&w, text, strlen(text));
        put_lit(&w, rcv->kind == RECV_FILE || rcv->kind == RECV_STDOUT ? "}\n" : "}");
        break;
    }
    finish(&w);
    return w.len;
}
