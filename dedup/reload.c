/*
 * Rule reload: on request (SIGHUP) or when the config file changes, the
 * file is loaded and its rule sections compiled on this thread; a set that
 * compiles replaces the live one atomically (rules_live_swap), one that
 * does not is refused: the old rules stay, the error is logged and counted.
 * A reload_hook_t adds the sections other stages own (the routing, wired
 * by app/pipeline.c): compiled here too, the whole config is refused when
 * either part fails, and published after the rules. Other keys need a
 * restart.
 *
 * Thread: its own, polling every poll_ms (a stat(2) per poll); a file
 * change is acted on once the file has stayed unchanged for one poll (so a
 * half-written file is not loaded). The request flag may be set from a
 * signal handler.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "rules_int.h"

struct rules_reloader {
    rules_live_t *live;
    char *path;
    int64_t poll_ms;
    _Atomic bool *request;
    reload_hook_t hook;
    bool has_hook;
    _Atomic bool stop;
    pthread_t thread;
    struct timespec mtime;
    off_t size;
    bool settling; /* changed at the last poll: reload once it stays put */
    _Atomic uint64_t reloads, failures;
};

static void log_warning(void *ctx, const char *msg)
{
    (void)ctx;
    log_warn("rules", "%s", msg);
}

qerr_t rules_reload_with(rules_live_t *live, const char *path, const reload_hook_t *hook,
                         char *errbuf, size_t errlen)
{
    conf_t c;
    conf_defaults(&c);
    qerr_t rc = conf_load(&c, path, errbuf, errlen);
    ruleset_t *rs = NULL;
    void *prepared = NULL;
    if (rc == QERR_OK) rc = ruleset_compile(&c, log_warning, NULL, &rs, errbuf, errlen);
    if (rc == QERR_OK && hook) rc = hook->prepare(hook->ctx, &c, &prepared, errbuf, errlen);
    conf_free(&c);
    if (rc != QERR_OK) {
        ruleset_destroy(rs);
        return rc;
    }
    rules_live_swap(live, rs);
    if (hook) hook->commit(hook->ctx, prepared);
    return QERR_OK;
}

qerr_t rules_reload_now(rules_live_t *live, const char *path, char *errbuf, size_t errlen)
{
    return rules_reload_with(live, path, NULL, errbuf, errlen);
}

static bool file_changed(rules_reloader_t *r)
{
    struct stat st;
    if (stat(r->path, &st) != 0) return false;
    bool changed = st.st_mtim.tv_sec != r->mtime.tv_sec || st.st_mtim.tv_nsec != r->mtime.tv_nsec ||
                   st.st_size != r->size;
    r->mtime = st.st_mtim;
    r->size = st.st_size;
    return changed;
}

static void *reloader_main(void *arg)
{
    rules_reloader_t *r = arg;
    while (!atomic_load(&r->stop)) {
        struct timespec ts = {r->poll_ms / 1000, (r->poll_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        bool asked = r->request && atomic_exchange(r->request, false);
        /* A file being written (truncated, half there) must not be loaded:
         * an empty file is a valid config without rules. So a change is
         * acted on only once a whole poll interval passed without another. */
        if (file_changed(r)) {
            r->settling = true;
            if (!asked) continue;
        }
        bool changed = r->settling;
        if (!asked && !changed) continue;
        r->settling = false;
        char err[1024];
        bool ok = rules_reload_with(r->live, r->path, r->has_hook ? &r->hook : NULL, err,
                                    sizeof err) == QERR_OK;
        if (ok) {
            atomic_fetch_add(&r->reloads, 1);
            metrics_note_reload(true); /* quell_config_reloads_total and friends */
            log_info("rules", "rules reloaded from %s (%s), generation %llu", r->path,
                     asked ? "SIGHUP" : "file changed",
                     (unsigned long long)rules_live_generation(r->live));
        } else {
            atomic_fetch_add(&r->failures, 1);
            metrics_note_reload(false);
            log_error("rules", "reload refused, the previous rules and routing stay: %s", err);
        }
    }
    return NULL;
}

rules_reloader_t *rules_reloader_start(rules_live_t *live, const char *path, int64_t poll_ms,
                                       _Atomic bool *request, const reload_hook_t *hook)
{
    rules_reloader_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->live = live;
    r->path = strdup(path);
    r->poll_ms = poll_ms > 0 ? poll_ms : 1000;
    r->request = request;
    if (hook) {
        r->hook = *hook;
        r->has_hook = true;
    }
    if (!r->path) goto fail;
    file_changed(r); /* the version already loaded */
    if (pthread_create(&r->thread, NULL, reloader_main, r) != 0) goto fail;
    pthread_setname_np(r->thread, "quell-reload");
    return r;
fail:
    free(r->path);
    free(r);
    return NULL;
}

void rules_reloader_stop(rules_reloader_t *r)
{
    if (!r) return;
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    free(r->path);
    free(r);
}

void rules_reloader_counts(rules_reloader_t *r, uint64_t *reloads, uint64_t *failures)
{
    *reloads = r ? atomic_load(&r->reloads) : 0;
    *failures = r ? atomic_load(&r->failures) : 0;
}
