/*
 * `quell load`: produces a storm into Kafka as a monitoring source would and
 * waits until a quell consumer group has committed all of it — the driver
 * for the demo, the benchmarks and the integration tests.
 *
 * Flow control: the embedded mock cluster keeps only ~5 MiB per partition,
 * so a producer far ahead of the consumer makes it lose data. The loader
 * watches the group's committed offsets and keeps at most `max_ahead`
 * messages produced but not committed. Throughput is measured from the first
 * produce to the moment the group has committed the last message, so it
 * includes up to one auto-commit interval (1 s) of tail.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "bench.h"

typedef struct {
    int32_t n;
    int64_t *start; /* high watermark before the run */
    int64_t *end;   /* high watermark after the run */
} marks_t;

static int32_t partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int32_t n = -1;
    if (rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        n = md->topics[0].partition_cnt;
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

/* Waits until metadata shows `topic` with its partitions: it lags creation
 * by a moment. */
static void await_topic(rd_kafka_t *rk, const char *topic)
{
    for (int i = 0; i < 50 && partition_count(rk, topic, 1000) <= 0; i++) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
}

/* Creates `topic` (8 partitions, replication 1) when the cluster does not
 * have it, so a storm can be loaded into a fresh broker; a topic created
 * meanwhile by someone else is fine. 0, or -1 with a sentence in err.
 *
 * append_time: its messages carry the broker's append time (LogAppendTime)
 * instead of the producer's, and the topic must be new. It is created
 * before anything asks for its metadata: a producer's metadata request for
 * a missing topic makes a broker with auto.create.topics.enable (as
 * scripts/kafka-local.sh's) create it at once with the broker's defaults,
 * CreateTime and num.partitions, and our CreateTopics then only found it
 * existing. Every --append-time figure before this fix was measured from
 * the producer's timestamp that way (kcat -J showed "tstype":"create" on
 * 4 partitions). The mock cluster has no CreateTopics (librdkafka 2.0.2)
 * but creates topics on that metadata request, which the path without
 * append_time relies on. */
static int ensure_topic(rd_kafka_t *rk, const char *topic, bool append_time, char *err,
                        size_t errlen)
{
    if (!append_time && partition_count(rk, topic, 5000) > 0) return 0;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 8, 1, NULL, 0);
    if (append_time) rd_kafka_NewTopic_set_config(nt, "message.timestamp.type", "LogAppendTime");
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    rd_kafka_resp_err_t cerr = RD_KAFKA_RESP_ERR__TIMED_OUT;
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    size_t n = 0;
    const rd_kafka_topic_result_t **tr = res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
    if (ev && rd_kafka_event_error(ev))
        cerr = rd_kafka_event_error(ev);
    else if (n == 1)
        cerr = rd_kafka_topic_result_error(tr[0]);
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    await_topic(rk, topic);
    if (append_time && cerr) {
        snprintf(err, errlen, "topic %s: LogAppendTime topic not created: %s", topic,
                 rd_kafka_err2str(cerr));
        return -1;
    }
    return 0;
}

static int marks_read(rd_kafka_t *rk, const char *topic, marks_t *m, bool end, char *err,
                      size_t errlen)
{
    if (!m->start) {
        (void)ensure_topic(rk, topic, false, err, errlen); /* checked below */
        m->n = partition_count(rk, topic, 10000);
        if (m->n <= 0) {
            snprintf(err, errlen, "topic %s: no metadata (does it exist?)", topic);
            return -1;
        }
        m->start = calloc((size_t)m->n, sizeof(int64_t));
        m->end = calloc((size_t)m->n, sizeof(int64_t));
    }
    for (int32_t p = 0; p < m->n; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t e;
        /* A topic created a moment ago has no leader yet: wait for one. */
        for (int tries = 0; tries < 100; tries++) {
            e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
            if (e != RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION &&
                e != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
                e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                break;
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
        }
        if (e) {
            snprintf(err, errlen, "topic %s[%d]: watermarks: %s", topic, (int)p,
                     rd_kafka_err2str(e));
            return -1;
        }
        (end ? m->end : m->start)[p] = hi;
    }
    return 0;
}

static int64_t marks_delta(const marks_t *m)
{
    int64_t d = 0;
    for (int32_t p = 0; p < m->n; p++) d += m->end[p] - m->start[p];
    return d;
}

static void marks_free(marks_t *m)
{
    free(m->start);
    free(m->end);
}

/* Committed offsets of the group for every partition of the input topic;
 * returns how many of the messages produced this run are committed (< 0 on
 * error). `target` (optional) gives per-partition offsets to compare with:
 * *all_done tells whether every partition reached it. */
static int64_t committed_progress(rd_kafka_t *observer, const char *topic, const marks_t *in,
                                  const int64_t *target, bool *all_done)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(in->n);
    for (int32_t p = 0; p < in->n; p++) rd_kafka_topic_partition_list_add(l, topic, p);
    int64_t done = -1;
    if (rd_kafka_committed(observer, l, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        done = 0;
        if (all_done) *all_done = true;
        for (int32_t p = 0; p < in->n; p++) {
            int64_t c = l->elems[p].offset;
            if (c > in->start[p]) done += c - in->start[p];
            if (all_done && target && c < target[p]) *all_done = false;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return done;
}

/* Waits until quell's group has taken every input partition (quell commits
 * a partition's starting offset when it is assigned one), so a storm is
 * not produced into topics nobody reads yet. */
/* Whether the consumer exited (o->alive said so). */
static bool consumer_gone(const load_opts_t *o) { return o->alive && !o->alive(o->loaded_ctx); }

/* *since_ns: when the drain is taken to start. It is the time of the poll
 * that saw every start committed, unless that poll saw some partition
 * already past its start: a small storm can be drained and committed
 * between two polls, and timing it from then gave absurd rates (17
 * million alerts/s for 2,000 alerts). Then it is the previous poll's
 * time (the assignment came after it), or the first poll's. */
static bool wait_group_ready(const load_opts_t *o, rd_kafka_t *observer, const marks_t *in,
                             int64_t deadline_ns, int64_t *since_ns)
{
    const char *topic = o->topic;
    int64_t before_ns = clock_mono_ns();
    while (clock_mono_ns() < deadline_ns && !consumer_gone(o)) {
        int64_t poll_ns = clock_mono_ns();
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(in->n);
        for (int32_t p = 0; p < in->n; p++) rd_kafka_topic_partition_list_add(l, topic, p);
        bool ready = rd_kafka_committed(observer, l, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR;
        bool drained_some = false;
        for (int32_t p = 0; ready && p < in->n; p++) {
            ready = l->elems[p].offset >= 0;
            drained_some |= l->elems[p].offset > in->start[p];
        }
        rd_kafka_topic_partition_list_destroy(l);
        if (ready) {
            *since_ns = drained_some ? before_ns : poll_ns;
            return true;
        }
        before_ns = poll_ns;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    load_result_t *res = opaque;
    if (m->err) {
        res->failed++;
        return;
    }
    res->delivered++;
    int64_t us = rd_kafka_message_latency(m);
    if (us >= 0) hist_record(&res->ack_latency, (uint64_t)us * 1000);
}

/* Batches (load_opts_t.batch): one open message per partition, keyed
 * alerts placed as librdkafka would place them one by one, so one
 * fingerprint's alerts stay in order on one partition. */
typedef struct {
    unsigned char *buf;
    size_t len, cap;
    unsigned alerts;
    int64_t first_ms; /* the batch's Kafka timestamp */
} batch_t;

static bool batch_add(batch_t *b, gen_format_t format, const void *alert, size_t len, int64_t ts)
{
    size_t need = b->len + len + 16;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 64 * 1024;
        while (cap < need) cap *= 2;
        unsigned char *nb = realloc(b->buf, cap);
        if (!nb) return false;
        b->buf = nb, b->cap = cap;
    }
    if (!b->alerts) b->first_ms = ts;
    if (format == GEN_PROTO) { /* AlertBatch.alerts = 15: tag, length, the Alert */
        b->buf[b->len++] = 0x7a;
        for (size_t v = len;; v >>= 7) {
            b->buf[b->len++] = (unsigned char)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
            if (v < 0x80) break;
        }
    } else {
        b->buf[b->len++] = b->alerts ? ',' : '[';
    }
    memcpy(b->buf + b->len, alert, len);
    b->len += len;
    b->alerts++;
    return true;
}

static rd_kafka_resp_err_t produce(rd_kafka_t *prod, const load_opts_t *o, int32_t partition,
                                   const void *key, size_t key_len, const void *buf, size_t len,
                                   int64_t ts)
{
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            prod, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)buf, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) return err;
        rd_kafka_poll(prod, 10);
    }
}

/* Sends a partition's open batch, if any. */
static rd_kafka_resp_err_t batch_flush(rd_kafka_t *prod, const load_opts_t *o, batch_t *b,
                                       int32_t partition, uint64_t *messages)
{
    if (!b->alerts) return RD_KAFKA_RESP_ERR_NO_ERROR;
    if (o->gen.format == GEN_JSON) b->buf[b->len++] = ']';
    rd_kafka_resp_err_t err = produce(prod, o, partition, NULL, 0, b->buf, b->len,
                                      o->stamp_now ? clock_wall_ms() : b->first_ms);
    b->len = 0, b->alerts = 0;
    if (!err) (*messages)++;
    return err;
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *brokers, const char *group,
                          int linger_ms, load_result_t *res, char *errbuf, size_t errlen)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", brokers, NULL, 0);
    rd_kafka_conf_set(kc, "log_level", "3", NULL, 0);
    if (type == RD_KAFKA_PRODUCER) {
        char linger[16];
        snprintf(linger, sizeof linger, "%d", linger_ms > 0 ? linger_ms : 5);
        rd_kafka_conf_set(kc, "linger.ms", linger, NULL, 0);
        /* As monitoring bridges do; it also keeps the mock cluster's
         * per-partition byte retention from dropping a backlog. */
        rd_kafka_conf_set(kc, "compression.codec", "lz4", NULL, 0);
        rd_kafka_conf_set(kc, "enable.idempotence", "true", NULL, 0);
        rd_kafka_conf_set(kc, "queue.buffering.max.messages", "500000", NULL, 0);
        rd_kafka_conf_set_dr_msg_cb(kc, on_delivery);
        rd_kafka_conf_set_opaque(kc, res);
    } else {
        rd_kafka_conf_set(kc, "group.id", group, NULL, 0);
        rd_kafka_conf_set(kc, "enable.auto.commit", "false", NULL, 0);
    }
    rd_kafka_t *rk = rd_kafka_new(type, kc, errbuf, errlen);
    if (!rk) rd_kafka_conf_destroy(kc);
    return rk;
}

int load_run(const load_opts_t *o, load_result_t *res)
{
    int rc = -1;
    marks_t in_marks = {0}, out_marks = {0}, dlq_marks = {0};
    memset(res, 0, sizeof(*res));
    rd_kafka_t *prod = client(RD_KAFKA_PRODUCER, o->brokers, NULL, o->linger_ms, res, res->error,
                              sizeof(res->error));
    rd_kafka_t *obs =
        client(RD_KAFKA_CONSUMER, o->brokers, o->group, 0, res, res->error, sizeof(res->error));
    gen_t *gen = NULL;
    batch_t *batches = NULL;
    int32_t n_parts = 0;
    if (!prod || !obs) goto out;
    char *err = res->error;
    size_t errlen = sizeof(res->error);
    if (marks_read(prod, o->topic, &in_marks, false, err, errlen) ||
        (o->wait && (marks_read(prod, o->output_topic, &out_marks, false, err, errlen) ||
                     marks_read(prod, o->dlq_topic, &dlq_marks, false, err, errlen))))
        goto out;
    gen = gen_new(&o->gen, res->error, sizeof(res->error));
    if (!gen) goto out;

    int64_t deadline = clock_mono_ns() + (int64_t)o->timeout_s * 1000000000;
    int64_t ready_ns;
    if (o->wait && !o->loaded && !wait_group_ready(o, obs, &in_marks, deadline, &ready_ns)) {
        snprintf(res->error, sizeof(res->error), "%s",
                 consumer_gone(o) ? "quell exited before it consumed anything"
                                  : "the group has no member: is quell running?");
        goto out;
    }
    int64_t t0 = clock_mono_ns();
    if (o->started_ns) atomic_store(o->started_ns, t0);
    const void *buf;
    size_t len;
    int64_t event_ms;
    uint64_t fp_index;
    int64_t committed = 0;
    uint64_t messages = 0;
    rd_kafka_resp_err_t perr = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (o->batch > 1) {
        n_parts = partition_count(prod, o->topic, 10000);
        if (n_parts <= 0 || !(batches = calloc((size_t)n_parts, sizeof(*batches)))) {
            snprintf(res->error, sizeof(res->error), "topic %s: no partitions", o->topic);
            goto out;
        }
    }
    while (gen_next(gen, &buf, &len, &event_ms, &fp_index)) {
        char key[24];
        int key_len = snprintf(key, sizeof(key), "%llu", (unsigned long long)fp_index);
        int64_t ts = o->stamp_now ? clock_wall_ms() : event_ms;
        /* Keyed by fingerprint, as a source keying by alert identity
         * would: one fingerprint's alerts stay in order on one partition,
         * so runs decide identically. */
        if (!batches) {
            perr = produce(prod, o, RD_KAFKA_PARTITION_UA, key, (size_t)key_len, buf, len, ts);
            messages += !perr;
        } else {
            int32_t p = rd_kafka_msg_partitioner_consistent_random(NULL, key, (size_t)key_len,
                                                                   n_parts, NULL, NULL);
            if (!batch_add(&batches[p], o->gen.format, buf, len, ts)) {
                snprintf(res->error, sizeof(res->error), "out of memory");
                goto out;
            }
            if (batches[p].alerts >= o->batch)
                perr = batch_flush(prod, o, &batches[p], p, &messages);
        }
        if (perr) {
            snprintf(res->error, sizeof(res->error), "produce: %s", rd_kafka_err2str(perr));
            goto out;
        }
        res->produced++;
        rd_kafka_poll(prod, 0);
        if (o->rate > 0) {
            /* Pace against the clock, not per message, so bursts even out. */
            int64_t due = t0 + (int64_t)((double)res->produced / o->rate * 1e9);
            int64_t ahead = due - clock_mono_ns();
            if (ahead > 1000000) {
                /* a batching bridge sends what it has before it waits */
                for (int32_t p = 0; batches && p < n_parts && !perr; p++)
                    perr = batch_flush(prod, o, &batches[p], p, &messages);
                struct timespec ts = {ahead / 1000000000, ahead % 1000000000};
                nanosleep(&ts, NULL);
            }
        }
        /* Flow control against the group's commits (see top). */
        while (!o->loaded && o->max_ahead &&
               (int64_t)messages - committed > (int64_t)o->max_ahead) {
            rd_kafka_poll(prod, 50);
            int64_t c = committed_progress(obs, o->topic, &in_marks, NULL, NULL);
            if (c >= 0) committed = c;
            if (clock_mono_ns() > deadline) {
                snprintf(res->error, sizeof(res->error),
                         "timed out: %lld of %llu messages committed by group %s",
                         (long long)committed, (unsigned long long)res->produced, o->group);
                goto out;
            }
        }
    }
    for (int32_t p = 0; batches && p < n_parts && !perr; p++)
        perr = batch_flush(prod, o, &batches[p], p, &messages);
    if (perr) {
        snprintf(res->error, sizeof(res->error), "produce: %s", rd_kafka_err2str(perr));
        goto out;
    }
    rd_kafka_flush(prod, 60000);
    res->produce_seconds = (double)(clock_mono_ns() - t0) / 1e9;
    if (res->failed) {
        snprintf(res->error, sizeof(res->error), "%llu messages failed delivery",
                 (unsigned long long)res->failed);
        goto out;
    }
    if (marks_read(prod, o->topic, &in_marks, true, err, errlen)) goto out;

    if (o->loaded) {
        if (o->loaded(o->loaded_ctx) != 0) {
            snprintf(res->error, sizeof(res->error), "the consumer did not start");
            goto out;
        }
        int64_t since_ns = clock_mono_ns();
        if (o->wait && !wait_group_ready(o, obs, &in_marks, deadline, &since_ns)) {
            snprintf(res->error, sizeof(res->error), "%s",
                     consumer_gone(o) ? "quell exited before it consumed anything"
                                      : "the group has no member: is quell running?");
            goto out;
        }
        t0 = o->wait ? since_ns : clock_mono_ns();
    }
    if (o->wait) {
        bool done = false;
        while (!done) {
            committed_progress(obs, o->topic, &in_marks, in_marks.end, &done);
            if (done) break;
            if (consumer_gone(o)) {
                snprintf(res->error, sizeof(res->error),
                         "quell exited before it committed the storm");
                goto out;
            }
            if (clock_mono_ns() > deadline) {
                snprintf(res->error, sizeof(res->error),
                         "timed out waiting for group %s to commit the storm", o->group);
                goto out;
            }
            struct timespec ts = {0, 50000000};
            nanosleep(&ts, NULL);
        }
        res->seconds = (double)(clock_mono_ns() - t0) / 1e9;
        if (marks_read(prod, o->output_topic, &out_marks, true, err, errlen) ||
            marks_read(prod, o->dlq_topic, &dlq_marks, true, err, errlen))
            goto out;
        res->incidents = (uint64_t)marks_delta(&out_marks);
        res->dead_lettered = (uint64_t)marks_delta(&dlq_marks);
    }
    rc = 0;
out:
    for (int32_t p = 0; batches && p < n_parts; p++) free(batches[p].buf);
    free(batches);
    gen_destroy(gen);
    marks_free(&in_marks);
    marks_free(&out_marks);
    marks_free(&dlq_marks);
    if (obs) rd_kafka_destroy(obs);
    if (prod) rd_kafka_destroy(prod);
    return rc;
}

int load_ensure_topic(const char *brokers, const char *topic, bool append_time, char *errbuf,
                      size_t errlen)
{
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, brokers, NULL, 0, NULL, errbuf, errlen);
    if (!rk) return -1;
    int rc = ensure_topic(rk, topic, append_time, errbuf, errlen);
    int32_t n = rc ? 0 : partition_count(rk, topic, 10000);
    rd_kafka_destroy(rk);
    if (!rc && n <= 0) snprintf(errbuf, errlen, "topic %s could not be created", topic);
    return !rc && n > 0 ? 0 : -1;
}

struct load_sampler {
    rd_kafka_t *rk;
    const char *topic, *output_topic;
    marks_t in, out;
};

load_sampler_t *load_sampler_new(const char *brokers, const char *topic, const char *group,
                                 const char *output_topic, char *errbuf, size_t errlen)
{
    load_sampler_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->topic = topic;
    s->output_topic = output_topic;
    s->rk = client(RD_KAFKA_CONSUMER, brokers, group, 0, NULL, errbuf, errlen);
    if (!s->rk || marks_read(s->rk, topic, &s->in, false, errbuf, errlen) ||
        marks_read(s->rk, output_topic, &s->out, false, errbuf, errlen)) {
        load_sampler_destroy(s);
        return NULL;
    }
    return s;
}

int load_sampler_read(load_sampler_t *s, uint64_t *in, uint64_t *committed, uint64_t *out)
{
    char err[256];
    if (marks_read(s->rk, s->topic, &s->in, true, err, sizeof err) ||
        marks_read(s->rk, s->output_topic, &s->out, true, err, sizeof err))
        return -1;
    int64_t c = committed_progress(s->rk, s->topic, &s->in, NULL, NULL);
    if (c < 0) return -1;
    *in = (uint64_t)marks_delta(&s->in);
    *out = (uint64_t)marks_delta(&s->out);
    *committed = (uint64_t)c;
    return 0;
}

void load_sampler_destroy(load_sampler_t *s)
{
    if (!s) return;
    if (s->rk) rd_kafka_destroy(s->rk);
    marks_free(&s->in);
    marks_free(&s->out);
    free(s);
}

static void load_usage(FILE *out)
{
    fprintf(out, "usage: quell load --brokers LIST [options]\n"
                 "  --topic T          input topic (alerts)\n"
                 "  --group G          quell's consumer group to wait for (quell)\n"
                 "  --output-topic T   incidents topic to count (incidents)\n"
                 "  --dlq-topic T      dead-letter topic to count (alerts-dlq)\n"
                 "  --max-ahead N      messages produced but not yet committed, at most (100000; 0 "
                 "= no limit;\n"
                 "                     a quell with dedup.snapshot_file commits once a snapshot\n"
                 "                     covers it, every dedup.snapshot_interval)\n"
                 "  --no-wait          produce only, do not wait for the group\n"
                 "  --rate R           alerts per second (as fast as possible)\n"
                 "  --batch N          alerts per message: a quell.v1.AlertBatch or a JSON array,\n"
                 "                     one partition's alerts in order (1)\n"
                 "  --timeout S        give up after S seconds (600)\n"
                 "  --json             print the result as JSON\n"
                 "  --alerts N --fingerprints K --seed S --format json|proto --resolve-share F\n"
                 "                     the storm, as for 'quell gen'\n");
}

int load_main(int argc, char **argv)
{
    load_opts_t o = {.topic = "alerts",
                     .group = "quell",
                     .output_topic = "incidents",
                     .dlq_topic = "alerts-dlq",
                     .max_ahead = 100000,
                     .wait = true,
                     .timeout_s = 600};
    gen_opts_defaults(&o.gen);
    bool json = false;
    /* Options that are not the loader's describe the storm: gen parses them. */
    char **gen_argv = calloc((size_t)argc + 1, sizeof(char *));
    int gen_argc = 1;
    gen_argv[0] = "gen";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) {
            load_usage(stdout);
            free(gen_argv);
            return 0;
        } else if (!strcmp(a, "--json"))
            json = true;
        else if (!strcmp(a, "--no-wait"))
            o.wait = false;
        else if (!v) {
            fprintf(stderr, "quell load: option %s needs a value\n", a);
            free(gen_argv);
            return 2;
        } else if (!strcmp(a, "--brokers"))
            o.brokers = v, i++;
        else if (!strcmp(a, "--topic"))
            o.topic = v, i++;
        else if (!strcmp(a, "--group"))
            o.group = v, i++;
        else if (!strcmp(a, "--output-topic"))
            o.output_topic = v, i++;
        else if (!strcmp(a, "--dlq-topic"))
            o.dlq_topic = v, i++;
        else if (!strcmp(a, "--max-ahead"))
            o.max_ahead = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--timeout"))
            o.timeout_s = atoi(v), i++;
        else if (!strcmp(a, "--rate"))
            o.rate = atof(v), i++;
        else if (!strcmp(a, "--batch"))
            o.batch = (unsigned)strtoul(v, NULL, 10), i++;
        else {
            gen_argv[gen_argc++] = argv[i++];
            gen_argv[gen_argc++] = argv[i];
        }
    }
    char errbuf[256];
    bool help = false;
    qerr_t perr = gen_parse_args(gen_argc, gen_argv, &o.gen, &help, errbuf, sizeof(errbuf));
    free(gen_argv);
    if (perr != QERR_OK) {
        fprintf(stderr, "quell load: %s\n", errbuf);
        load_usage(stderr);
        return 2;
    }
    if (!o.brokers) {
        fprintf(stderr, "quell load: --brokers is required\n");
        return 2;
    }
    load_result_t r;
    int rc = load_run(&o, &r);
    if (rc != 0) {
        fprintf(stderr, "quell load: %s\n", r.error);
        return 1;
    }
    double rate = r.seconds > 0 ? (double)r.produced / r.seconds : 0;
    if (!o.wait) {
        printf("produced %llu alerts in %.3f s (%.0f alerts/s)\n", (unsigned long long)r.produced,
               r.produce_seconds,
               r.produce_seconds > 0 ? (double)r.produced / r.produce_seconds : 0.0);
        return 0;
    }
    if (json)
        printf("{\"produced\":%llu,\"produce_seconds\":%.3f,\"seconds\":%.3f,\"alerts_per_second\":"
               "%.0f,"
               "\"incidents\":%llu,\"dead_lettered\":%llu}\n",
               (unsigned long long)r.produced, r.produce_seconds, r.seconds, rate,
               (unsigned long long)r.incidents, (unsigned long long)r.dead_lettered);
    else
        printf("produced %llu alerts in %.3f s; committed by group %s after %.3f s (%.0f alerts/s "
               "end to end); "
               "%llu incidents out, %llu dead-lettered\n",
               (unsigned long long)r.produced, r.produce_seconds, o.group, r.seconds, rate,
               (unsigned long long)r.incidents, (unsigned long long)r.dead_lettered);
    return 0;
}
