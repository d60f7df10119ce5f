/*
 * Periodic snapshots of the memory store, so a crash (kill -9, OOM kill,
 * power to the process lost) re-pages only what opened since the last one.
 *
 * Design. Workers own their tables and nothing on the decision path takes a
 * lock, so the writer never reads a table: every `interval` it asks each
 * worker for a copy (dedup_worker_copy_table; the worker copies between two
 * records, ~40 bytes an entry, then carries on) and writes the copies to one
 * file from this thread, off the hot path. One file rather than a shard
 * file per worker: the start-up load (dedup_snapshot_load) re-shards by
 * fingerprint, so the worker count may change between runs.
 *
 * Consistency with Kafka offsets. A copy may hold an incident whose
 * forward is decided but not yet delivered. Restored after a crash, that
 * entry would make the re-read alert a duplicate and the incident would be
 * lost. So after the copies the writer raises a barrier (the consumer
 * notes, per partition, how many messages it has handed out, and reports
 * once all of them are finished: decided and delivered) and renames the
 * file into place only then. Every entry in a published snapshot has been
 * delivered, so restoring it never hides a page; an incident opened after
 * the copy is absent and is paged again once after a crash. Hence: after
 * kill -9, duplicates <= incidents opened since the last copy; lost = 0.
 * A forward that never completes (a sink down) holds the barrier: no new
 * snapshot is published meanwhile (the previous one stays), counted in
 * `failures` and logged.
 *
 * The other way round, state must not lag the offsets: a message finished
 * and committed after the copies is neither in the state a restart loads
 * nor read again (a resolve lost that way leaves its incident open, and
 * the next firing is suppressed as a duplicate: a lost page). So the
 * consumer holds its commits to the snapshots (ingest_hold_commits):
 * before the copies the writer asks for a mark (per partition, the offset
 * after the last finished message, so all before it is in the copies) and
 * publishes it once the files are in place; only then are offsets up to
 * it committed. A restart re-reads from the last published mark. Commits
 * trail by about one interval; a clean stop saves the state, then commits
 * everything (app/pipeline.c).
 *
 * With routing, the groups (snapshot_beside_t, PATH.groups) are cut after
 * the copies and renamed before the table file, and they replace the
 * barrier: an incident in the copies whose notification is not delivered
 * is in a group as not sent, and a restart sends it. So a receiver that is
 * down, or a group_interval of minutes, does not stop the snapshots. See
 * write_once for the order.
 *
 * Writes are atomic: temp file, fsync, rename (file_replace), in the layout
 * dedup_snapshot_save writes at a clean stop (window.c).
 * Threads: one writer thread; stop joins it and must come before the
 * workers stop (the final snapshot at shutdown is written by the caller,
 * after the drain, as before).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dedup.h"

#define COPY_TIMEOUT_MS    5000
#define BARRIER_TIMEOUT_MS 30000

struct snapshot_writer {
    char *path;
    dedup_worker_t **workers;
    size_t n_workers;
    inhibit_state_t *inhibit; /* saved beside, as PATH.inhibit; NULL: none */
    snapshot_beside_t beside; /* cut == NULL: none */
    int64_t interval_ms;
    snapshot_consumer_t consumer;
    pthread_t thread;
    pthread_mutex_t lock; /* guards nothing but the stop wait */
    pthread_cond_t cond;
    _Atomic bool stop;
    _Atomic uint64_t writes, failures, last_entries;
    _Atomic int64_t last_write_ms;
    log_limit_t fail_log;
};

typedef struct {
    dedup_entry_t *const *parts;
    const size_t *counts;
    size_t n_parts;
} entry_parts_t;

static qerr_t write_parts(FILE *f, void *ctx)
{
    const entry_parts_t *ep = ctx;
    uint64_t total = 0;
    for (size_t i = 0; i < ep->n_parts; i++) total += ep->counts[i];
    fwrite(DEDUP_SNAPSHOT_MAGIC, 8, 1, f);
    fwrite(&total, sizeof(total), 1, f);
    for (size_t i = 0; i < ep->n_parts; i++)
        if (ep->counts[i]) fwrite(ep->parts[i], sizeof(dedup_entry_t), ep->counts[i], f);
    return QERR_OK;
}

qerr_t dedup_snapshot_write(const char *path, dedup_entry_t *const *parts, const size_t *counts,
                            size_t n_parts, char *errbuf, size_t errlen)
{
    entry_parts_t ep = {parts, counts, n_parts};
    return file_replace(path, write_parts, &ep, errbuf, errlen);
}

static bool stopping(snapshot_writer_t *s) { return atomic_load(&s->stop); }

typedef struct {
    const char *buf;
    size_t len;
} bytes_t;

static qerr_t write_bytes(FILE *f, void *ctx)
{
    const bytes_t *b = ctx;
    return !b->len || fwrite(b->buf, 1, b->len, f) == b->len ? QERR_OK : QERR_IO;
}

/* One snapshot: copies, barrier, write. false (and nothing renamed) when
 * any step did not finish. */
static bool write_once(snapshot_writer_t *s)
{
    bool ok = false;
    const char *why = "stopping";
    char errbuf[512] = "";
    dedup_entry_t **parts = calloc(s->n_workers, sizeof(*parts));
    size_t *counts = calloc(s->n_workers, sizeof(*counts));
    if (!parts || !counts) {
        why = "out of memory";
        goto out;
    }
    /* The mark first: every message finished before it is in the copies
     * (and, with routing, in the groups cut after them). */
    const snapshot_consumer_t *c = &s->consumer;
    uint64_t mark = c->mark_request ? c->mark_request(c->ctx) : 0;
    if (mark && !wait_served(c->mark_taken, c->ctx, mark, BARRIER_TIMEOUT_MS, &s->stop)) {
        why = "the consumer did not take the commit mark in 30 s";
        goto out;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < s->n_workers; i++) {
        parts[i] = dedup_worker_copy_table(s->workers[i], &counts[i], COPY_TIMEOUT_MS, &s->stop);
        if (!parts[i]) {
            why = "a worker did not hand over its table";
            goto out;
        }
        total += counts[i];
    }
    /* Everything in the copies was decided from records the consumer
     * handed out before this request. Not needed when the file beside
     * carries what is not delivered yet (see below). */
    bool barrier = !(s->beside.cut && s->beside.carries_undelivered);
    if (barrier && !wait_served(c->barrier_passed, c->ctx, c->barrier_request(c->ctx),
                                BARRIER_TIMEOUT_MS, &s->stop)) {
        why = "forwards decided before the copy were not delivered in 30 s";
        goto out;
    }
    /* The file beside (routing groups) comes next: cut now, renamed
     * before the table file. Why this loses nothing after kill -9, with
     * the offsets committed up to the mark taken before the copies (and
     * never before what a message produced is delivered), so after a
     * restart everything not finished at the mark is read again and
     * decided against the restored table:
     *
     * - Cut after the copies: the router routes everything its lanes hold
     *   before it cuts, and every forward decided before a copy was in a
     *   lane by then, so each incident in the table file is in a group:
     *   delivered (written as sent: not paged again), waiting for its
     *   group_wait/group_interval (written as pending), or with a receiver
     *   that has not confirmed it (written as not sent, router/group.c).
     *   The last two are sent after the restart. The re-read alert is a
     *   duplicate against the restored table, which is right: its group
     *   already holds it. An incident decided after the copies is not in
     *   the table: re-read, it is forwarded again and folds into its
     *   group (a duplicate page at worst). At least once, never lost.
     * - So the groups are always newer than the table: they can hold a
     *   firing alert decided after the copy (its offset is read again;
     *   a file written before commits were held to the marks may even
     *   have it committed).
     *   The start loads the groups' firing alerts into the tables before
     *   the table file (app/pipeline.c), so its resolve is forwarded, not
     *   suppressed as resolved_no_incident. Renamed first for the same
     *   reason: a crash between the renames leaves groups newer than the
     *   table, which that covers, while a table newer than its groups
     *   would restore an incident as decided whose group is not in the
     *   file: its notification, or its resolved one, would be lost. So a
     *   failed groups write publishes neither; the previous pair stays. */
    char *beside = NULL;
    size_t beside_len = 0;
    if (s->beside.cut) {
        qerr_t err = s->beside.cut(s->beside.ctx, &beside, &beside_len, &s->stop);
        char bpath[4096];
        snprintf(bpath, sizeof bpath, "%s%s", s->path, s->beside.suffix);
        if (err != QERR_OK)
            snprintf(errbuf, sizeof(errbuf), "%.400s not cut (%s)", bpath, qerr_str(err));
        else if (beside) /* NULL: nothing of its own to keep */
            err = file_replace(bpath, write_bytes, &(bytes_t){beside, beside_len}, errbuf,
                               sizeof(errbuf));
        free(beside);
        if (err != QERR_OK) {
            why = errbuf;
            goto out;
        }
    }
    if (dedup_snapshot_write(s->path, parts, counts, s->n_workers, errbuf, sizeof(errbuf)) !=
        QERR_OK) {
        why = errbuf;
        goto out;
    }
    /* The firing inhibition sources too, so a restart after a crash
     * mutes targets at once instead of when their source next fires. They
     * are read now, after the copies: a source recorded here whose alert
     * is re-read after a crash fires again, the same state. */
    if (s->inhibit) {
        char ipath[4096];
        snprintf(ipath, sizeof ipath, "%s.inhibit", s->path);
        if (inhibit_state_save(s->inhibit, ipath, errbuf, sizeof(errbuf)) != QERR_OK) {
            why = errbuf;
            goto out;
        }
    }
    /* All in place: a restart loads this state, so the offsets up to the
     * mark may be committed. */
    if (mark) c->mark_publish(c->ctx, mark);
    atomic_store(&s->last_entries, total);
    atomic_store(&s->last_write_ms, clock_wall_ms());
    atomic_fetch_add(&s->writes, 1);
    ok = true;
out:
    if (!ok && !stopping(s)) {
        atomic_fetch_add(&s->failures, 1);
        if (log_limit_allow(&s->fail_log, 60000, NULL))
            log_warn("dedup", "periodic snapshot not written (%s); the previous one stays", why);
    }
    for (size_t i = 0; parts && i < s->n_workers; i++) free(parts[i]);
    free(parts);
    free(counts);
    return ok;
}

static void *writer_main(void *arg)
{
    snapshot_writer_t *s = arg;
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (s->interval_ms % 1000) * 1000000;
        until.tv_sec += s->interval_ms / 1000 + ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        pthread_mutex_lock(&s->lock);
        while (!stopping(s) && pthread_cond_timedwait(&s->cond, &s->lock, &until) != ETIMEDOUT) {
        }
        pthread_mutex_unlock(&s->lock);
        if (stopping(s)) break;
        write_once(s);
    }
    return NULL;
}

snapshot_writer_t *snapshot_writer_start(const char *path, dedup_worker_t **workers,
                                         size_t n_workers, inhibit_state_t *inhibit,
                                         const snapshot_beside_t *beside, int64_t interval_ms,
                                         const snapshot_consumer_t *consumer, char *errbuf,
                                         size_t errlen)
{
    snapshot_writer_t *s = calloc(1, sizeof(*s));
    if (!s || !(s->path = strdup(path))) {
        free(s);
        snprintf(errbuf, errlen, "cannot allocate the snapshot writer");
        return NULL;
    }
    s->workers = workers;
    s->n_workers = n_workers;
    s->inhibit = inhibit;
    if (beside) s->beside = *beside;
    s->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    s->consumer = *consumer;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
        snprintf(errbuf, errlen, "cannot start the snapshot thread");
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        free(s->path);
        free(s);
        return NULL;
    }
    pthread_setname_np(s->thread, "quell-snapshot");
    return s;
}

void snapshot_writer_stop(snapshot_writer_t *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->stop, true);
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s->path);
    free(s);
}

void snapshot_writer_stats(snapshot_writer_t *s, snapshot_writer_stats_t *out)
{
    *out = (snapshot_writer_stats_t){0};
    if (!s) return;
    out->writes = atomic_load(&s->writes);
    out->failures = atomic_load(&s->failures);
    out->last_entries = atomic_load(&s->last_entries);
    out->last_write_ms = atomic_load(&s->last_write_ms);
}
