/*
 * The one Redis connection helper: every Redis user in quell (store
 * workers, the inhibition sync, the readiness probe) opens its connection
 * here, so AUTH, Sentinel and database selection are done once, the same
 * way.
 *
 * Connect: with store.sentinels, each sentinel in turn is asked
 * `SENTINEL get-master-addr-by-name NAME` until one answers; the address
 * it gives is connected to, authenticated, and must answer ROLE with
 * "master" (a sentinel may still name a demoted master for a moment after
 * a failover: refusing it makes the caller retry after its backoff rather
 * than write into a replica). Without sentinels, store.url's host:port.
 * Then AUTH (`AUTH user pass` for an ACL user, `AUTH pass` otherwise) and
 * SELECT. Every step is bounded by store.timeout.
 *
 * Failover: callers drop a connection on any error (connection lost,
 * timeout, an error reply such as READONLY) and call redis_open again
 * after their backoff; with sentinels that asks for the master afresh, so
 * a promoted replica is found without a restart.
 *
 * TLS: hiredis 0.14 (Debian 12) has none; see docs/shared-store.md
 * (a local TLS tunnel such as stunnel, quell connecting to loopback).
 *
 * Threads: no shared state; each caller owns the context it gets.
 */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "dedup.h"

static struct timeval tv_of(int64_t ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

static redisContext *connect_to(const char *host, int port, int64_t timeout_ms, char *errbuf,
                                size_t errlen)
{
    redisContext *c = redisConnectWithTimeout(host, port, tv_of(timeout_ms));
    if (!c || c->err) {
        snprintf(errbuf, errlen, "%s:%d: %s", host, port, c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv_of(timeout_ms));
    return c;
}

/* Runs one setup command; false with errbuf set unless the reply is of
 * the wanted type. */
static bool setup_cmd(redisContext *c, redisReply *r, int want, const char *what, char *errbuf,
                      size_t errlen)
{
    bool ok = r && r->type == want;
    if (!ok)
        snprintf(errbuf, errlen, "%s: %.150s", what,
                 r && r->type == REDIS_REPLY_ERROR ? r->str : (r ? "unexpected reply" : c->errstr));
    if (r) freeReplyObject(r);
    return ok;
}

/* Asks the sentinels for the master's address; false when none knew. */
static bool ask_sentinels(const store_conf_t *sc, char *host, size_t hostlen, int *port,
                          char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < sc->n_sentinels; i++) {
        const store_addr_t *s = &sc->sentinels[i];
        redisContext *c = connect_to(s->host, s->port, sc->timeout_ms, errbuf, errlen);
        if (!c) continue;
        char what[300];
        snprintf(what, sizeof(what), "sentinel %s:%d: AUTH", s->host, s->port);
        if (sc->sentinel_password[0] &&
            !setup_cmd(c, redisCommand(c, "AUTH %s", sc->sentinel_password), REDIS_REPLY_STATUS,
                       what, errbuf, errlen)) {
            redisFree(c);
            continue;
        }
        redisReply *r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", sc->master_name);
        bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                  r->element[0]->type == REDIS_REPLY_STRING &&
                  r->element[1]->type == REDIS_REPLY_STRING;
        if (ok) {
            snprintf(host, hostlen, "%s", r->element[0]->str);
            *port = atoi(r->element[1]->str);
        } else {
            snprintf(errbuf, errlen, "sentinel %s:%d does not know master \"%s\"%s%.100s", s->host,
                     s->port, sc->master_name, r && r->type == REDIS_REPLY_ERROR ? ": " : "",
                     r && r->type == REDIS_REPLY_ERROR ? r->str : "");
        }
        if (r) freeReplyObject(r);
        redisFree(c);
        if (ok) return true;
    }
    return false;
}

void *redis_open(const store_conf_t *sc, char *addr, size_t addrlen, char *errbuf, size_t errlen)
{
    char host[256];
    int port = sc->port;
    snprintf(host, sizeof(host), "%s", sc->host);
    if (sc->n_sentinels && !ask_sentinels(sc, host, sizeof(host), &port, errbuf, errlen))
        return NULL;
    if (addr) snprintf(addr, addrlen, "%s:%d", host, port);
    redisContext *c = connect_to(host, port, sc->timeout_ms, errbuf, errlen);
    if (!c) return NULL;
    bool ok = true;
    if (sc->password[0]) {
        redisReply *r = sc->user[0] ? redisCommand(c, "AUTH %s %s", sc->user, sc->password)
                                    : redisCommand(c, "AUTH %s", sc->password);
        ok = setup_cmd(c, r, REDIS_REPLY_STATUS, "AUTH", errbuf, errlen);
    }
    if (ok && sc->n_sentinels) {
        redisReply *r = redisCommand(c, "ROLE");
        ok = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
             r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "master") == 0;
        if (!ok)
            snprintf(errbuf, errlen, "%s:%d is not the master (yet)%s%.100s", host, port,
                     r && r->type == REDIS_REPLY_ERROR ? ": " : "",
                     r && r->type == REDIS_REPLY_ERROR ? r->str : "");
        if (r) freeReplyObject(r);
    }
    if (ok && sc->db)
        ok = setup_cmd(c, redisCommand(c, "SELECT %d", sc->db), REDIS_REPLY_STATUS, "SELECT",
                       errbuf, errlen);
    if (!ok) {
        redisFree(c);
        return NULL;
    }
    return c;
}

bool redis_error_is_failover(const char *err)
{
    static const char *const prefixes[] = {"READONLY", "MASTERDOWN", "LOADING", "NOREPLICAS"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(err, prefixes[i], strlen(prefixes[i])) == 0 || strstr(err, prefixes[i]))
            return true;
    return false;
}

const char *store_conf_where(const store_conf_t *sc, char *buf, size_t len)
{
    if (sc->n_sentinels)
        snprintf(buf, len, "%s (via %zu sentinel%s)", sc->master_name, sc->n_sentinels,
                 sc->n_sentinels == 1 ? "" : "s");
    else
        snprintf(buf, len, "%s:%d", sc->host, sc->port);
    return buf;
}

static bool parse_addr(const char *s, store_addr_t *out)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof(out->host)) return false;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 1 || port > 65535) return false;
    memcpy(out->host, s, (size_t)(colon - s));
    out->host[colon - s] = '\0';
    out->port = (int)port;
    return true;
}

_Static_assert(sizeof(((store_conf_t *)0)->password) == 512 &&
                   sizeof(((store_conf_t *)0)->sentinel_password) == 512,
               "read_secret fills 512 bytes");

/* A password from a file (`key` names the setting for errors): trailing
 * whitespace dropped; nothing done when `path` is empty. `out` holds 512. */
static qerr_t read_secret(const char *key, const char *path, char out[512], char *errbuf,
                          size_t errlen)
{
    if (!path || !*path) return QERR_OK;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errbuf, errlen, "%s %s: cannot be read", key, path);
        return QERR_IO;
    }
    char buf[512 + 1];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n && strchr("\r\n \t", buf[n - 1])) buf[--n] = '\0';
    if (n == 0 || n >= 512 || memchr(buf, '\0', n)) {
        snprintf(errbuf, errlen, "%s %s: %s", key, path, n ? "longer than 511 bytes" : "empty");
        return QERR_INVALID;
    }
    memcpy(out, buf, n + 1); /* n < 512, checked above */
    return QERR_OK;
}

qerr_t store_conf_connection(const conf_t *c, store_conf_t *sc, bool *is_memory, char *errbuf,
                             size_t errlen)
{
    qerr_t err = store_url_parse(c->store.url, sc, is_memory, errbuf, errlen);
    if (err != QERR_OK || *is_memory) return err;
    sc->sentinel_password[0] = '\0';
    if ((err = read_secret("store.password_file", c->store.password_file, sc->password, errbuf,
                           errlen)) != QERR_OK ||
        (err = read_secret("store.sentinel_password_file", c->store.sentinel_password_file,
                           sc->sentinel_password, errbuf, errlen)) != QERR_OK)
        return err;
    sc->n_sentinels = 0;
    if (c->store.sentinels.n > STORE_MAX_SENTINELS) {
        snprintf(errbuf, errlen, "store.sentinels: at most %d", STORE_MAX_SENTINELS);
        return QERR_INVALID;
    }
    for (size_t i = 0; i < c->store.sentinels.n; i++) {
        if (!parse_addr(c->store.sentinels.items[i], &sc->sentinels[i])) {
            snprintf(errbuf, errlen, "store.sentinels: \"%s\" is not host:port",
                     c->store.sentinels.items[i]);
            return QERR_INVALID;
        }
        sc->n_sentinels++;
    }
    const char *name = c->store.master_name ? c->store.master_name : "";
    if (sc->n_sentinels && !*name) {
        snprintf(errbuf, errlen, "store.sentinels needs store.master_name");
        return QERR_INVALID;
    }
    if (!sc->n_sentinels && *name) {
        snprintf(errbuf, errlen, "store.master_name needs store.sentinels");
        return QERR_INVALID;
    }
    if (!sc->n_sentinels && sc->sentinel_password[0]) {
        snprintf(errbuf, errlen, "store.sentinel_password_file needs store.sentinels");
        return QERR_INVALID;
    }
    if (strlen(name) >= sizeof(sc->master_name)) {
        snprintf(errbuf, errlen, "store.master_name: longer than 127 bytes");
        return QERR_INVALID;
    }
    snprintf(sc->master_name, sizeof(sc->master_name), "%s", name);
    return QERR_OK;
}
