/*
 * Novelty shared through Redis: several instances of one consumer group
 * mark an alert `novel` once per signature (alertname + novelty.labels)
 * within novelty.days, whichever instance sees it first.
 *
 * The local table (novelty_check, route.c) stays the first filter: a
 * signature this process saw within the window is not novel and costs no
 * round trip. Only a signature new to this process is claimed in Redis
 * with `SET PREFIXnovel:SIG 1 NX PX WINDOW`: OK means no instance had
 * seen it (novel), nil that another had. One round trip per signature per
 * process per window, on the router thread, bounded by store.timeout.
 *
 * Redis unavailable (down, failing over): the local answer stands (an
 * instance may then mark a signature novel that another already did: a
 * second `novel`, never a missing one), and the connection is retried
 * after 1 s. Connections go through redis_open (dedup/redis_conn.c), so
 * AUTH and Sentinel apply.
 *
 * Threads: the router thread only.
 */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "router_int.h"

struct novelty_shared {
    store_conf_t conf;
    char prefix[128];
    redisContext *ctx;
    int64_t retry_ns;
    bool logged_down;
    uint64_t claims, unavailable;
};

novelty_shared_t *novelty_shared_new(const store_conf_t *sc, const char *prefix)
{
    novelty_shared_t *ns = calloc(1, sizeof(*ns));
    if (!ns) return NULL;
    ns->conf = *sc;
    snprintf(ns->prefix, sizeof(ns->prefix), "%snovel:", prefix ? prefix : "");
    ns->conf.prefix = ns->prefix;
    return ns;
}

void novelty_shared_destroy(novelty_shared_t *ns)
{
    if (!ns) return;
    if (ns->ctx) redisFree(ns->ctx);
    free(ns);
}

static void down(novelty_shared_t *ns, const char *why)
{
    char where[300];
    if (ns->ctx) redisFree(ns->ctx);
    ns->ctx = NULL;
    ns->retry_ns = clock_mono_ns() + 1000000000LL;
    ns->unavailable++;
    if (!ns->logged_down)
        log_warn("router", "novelty: redis %s unavailable (%.150s); deciding novelty locally",
                 store_conf_where(&ns->conf, where, sizeof(where)), why);
    ns->logged_down = true;
}

int novelty_shared_claim(novelty_shared_t *ns, uint64_t sig, int64_t window_ms)
{
    if (!ns->ctx) {
        if (clock_mono_ns() < ns->retry_ns) return -1;
        char errbuf[256];
        ns->ctx = redis_open(&ns->conf, NULL, 0, errbuf, sizeof(errbuf));
        if (!ns->ctx) {
            down(ns, errbuf);
            return -1;
        }
        if (ns->logged_down) log_info("router", "novelty: redis reachable again");
        ns->logged_down = false;
    }
    char key[160], px[24];
    snprintf(key, sizeof(key), "%s%016llx", ns->prefix, (unsigned long long)sig);
    snprintf(px, sizeof(px), "%lld", (long long)window_ms);
    const char *argv[6] = {"SET", key, "1", "NX", "PX", px};
    size_t lens[6] = {3, strlen(key), 1, 2, 2, strlen(px)};
    redisReply *r = redisCommandArgv(ns->ctx, 6, argv, lens);
    int out;
    if (r && r->type == REDIS_REPLY_STATUS) {
        out = 1;
    } else if (r && r->type == REDIS_REPLY_NIL) {
        out = 0;
    } else {
        char why[160];
        snprintf(why, sizeof(why), "%s",
                 r && r->type == REDIS_REPLY_ERROR
                     ? r->str
                     : (ns->ctx->errstr[0] ? ns->ctx->errstr : "no reply"));
        if (r) freeReplyObject(r);
        down(ns, why);
        return -1;
    }
    freeReplyObject(r);
    ns->claims++;
    return out;
}
