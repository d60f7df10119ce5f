/*
 * The HTTP server: libmicrohttpd with one thread per connection, so a
 * handler may block (the intake waits for Kafka's acknowledgement) without
 * holding up scrapes on other connections.
 *
 * Per request: find the route (404/405), check the bearer token when the
 * route asks for it (401), refuse a body over max_request_bytes (413, from
 * Content-Length before reading when it is given), gather the body, call
 * the handler once with the whole body, send what it wrote. The built-in
 * /-/healthy answers 200 while the process serves; /-/ready runs every
 * registered check (Kafka assigned, the store answers, ...) and answers 503
 * naming the ones that fail.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http.h"
#include "log.h"

#define MAX_ROUTES 32
#define MAX_CHECKS 8

/* Status codes counted per handler; anything else is "other". */
static const unsigned counted_codes[] = {200, 202, 400, 401, 404, 405, 413, 500, 503};
#define N_CODES (sizeof(counted_codes) / sizeof(counted_codes[0]) + 1)
/* Pseudo-routes for what the server answers itself. */
enum { R_HEALTHY = MAX_ROUTES, R_READY, R_UNKNOWN, N_COUNTED };

typedef struct {
    char method[8];
    char path[64];
    int flags;
    http_handler_fn fn;
    void *ctx;
    size_t counted_as; /* the first route of this path: one series per handler */
} route_t;

typedef struct {
    char name[32];
    http_check_fn fn;
    void *ctx;
} check_t;

struct http_server {
    struct MHD_Daemon *d;
    struct sockaddr_storage addr;
    char listen[128];
    char *token;
    size_t max_bytes;
    route_t routes[MAX_ROUTES];
    size_t n_routes;
    check_t checks[MAX_CHECKS];
    _Atomic size_t n_checks; /* checks may be added while serving */
    uint16_t port;
    _Atomic uint64_t answered[N_COUNTED][N_CODES];
};

static void count_answer(http_server_t *s, size_t route, unsigned status)
{
    size_t c = 0;
    while (c < N_CODES - 1 && counted_codes[c] != status) c++;
    atomic_fetch_add_explicit(&s->answered[route][c], 1, memory_order_relaxed);
}

void http_server_metrics(http_server_t *s, mbuf_t *b)
{
    metrics_family(b, "quell_http_requests_total", "counter",
                   "HTTP requests answered, by handler and status code.");
    for (size_t r = 0; r < N_COUNTED; r++) {
        if (r >= s->n_routes && r < MAX_ROUTES) continue;
        if (r < MAX_ROUTES && s->routes[r].counted_as != r) continue; /* counted with its path */
        const char *handler = r < MAX_ROUTES   ? s->routes[r].path
                              : r == R_HEALTHY ? "/-/healthy"
                              : r == R_READY   ? "/-/ready"
                                               : "other";
        for (size_t c = 0; c < N_CODES; c++) {
            uint64_t v = atomic_load_explicit(&s->answered[r][c], memory_order_relaxed);
            if (!v) continue;
            char code[16];
            if (c < N_CODES - 1)
                snprintf(code, sizeof(code), "%u", counted_codes[c]);
            else
                snprintf(code, sizeof(code), "other");
            metrics_sample(b, "quell_http_requests_total", (double)v, 2, "handler", handler, "code",
                           code);
        }
    }
}

/* Per-connection request state between MHD's calls. */
typedef struct {
    const route_t *route;
    char *body;
    size_t len, cap;
    bool too_large;
} conn_state_t;

const char *http_req_header(const http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_req_query(const http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct {
    const char *name;
    const char **out;
    size_t cap, n;
} query_all_t;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    query_all_t *q = cls;
    if (key && value && !strcmp(key, q->name) && q->n < q->cap) q->out[q->n++] = value;
    return MHD_YES;
}

size_t http_req_query_all(const http_req_t *req, const char *name, const char **out, size_t cap)
{
    query_all_t q = {name, out, cap, 0};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
    return q.n;
}

bool http_token_equal(const char *got, size_t got_len, const char *want)
{
    size_t want_len = strlen(want);
    /* Compare every byte of the expected token whatever was sent, so the
     * time taken says nothing about how much of a guess was right. */
    unsigned char diff = (unsigned char)(got_len != want_len);
    for (size_t i = 0; i < want_len; i++) {
        unsigned char g = i < got_len ? (unsigned char)got[i] : 0;
        diff |= (unsigned char)(g ^ (unsigned char)want[i]);
    }
    return diff == 0;
}

qerr_t http_load_token(const char *path, char **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errbuf, errlen, "http.auth_token_file %s: cannot be read", path);
        return QERR_IO;
    }
    char buf[4097];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n &&
           (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = '\0';
    if (n == 0 || n >= sizeof(buf) - 1) {
        snprintf(errbuf, errlen, "http.auth_token_file %s: %s", path,
                 n ? "longer than 4096 bytes" : "empty");
        return QERR_INVALID;
    }
    *out = strdup(buf);
    return *out ? QERR_OK : QERR_NOMEM;
}

static qerr_t parse_listen(const char *listen, struct sockaddr_storage *out, char *errbuf,
                           size_t errlen)
{
    char host[128];
    const char *port;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':' || (size_t)(close - listen - 1) >= sizeof(host)) goto bad;
        memcpy(host, listen + 1, (size_t)(close - listen - 1));
        host[close - listen - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (!colon || (size_t)(colon - listen) >= sizeof(host)) goto bad;
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
        port = colon + 1;
    }
    if (!*port) goto bad;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(*host ? host : NULL, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(errbuf, errlen, "http.listen \"%s\": %s", listen, gai_strerror(rc));
        return QERR_INVALID;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return QERR_OK;
bad:
    snprintf(errbuf, errlen, "http.listen \"%s\": expected host:port or [v6]:port", listen);
    return QERR_INVALID;
}

http_server_t *http_server_new(const http_opts_t *o, char *errbuf, size_t errlen)
{
    http_server_t *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    snprintf(s->listen, sizeof(s->listen), "%s", o->listen);
    s->max_bytes = o->max_request_bytes;
    if (o->token && *o->token && !(s->token = strdup(o->token))) goto fail;
    if (parse_listen(o->listen, &s->addr, errbuf, errlen) != QERR_OK) goto fail;
    return s;
fail:
    free(s->token);
    free(s);
    return NULL;
}

qerr_t http_route(http_server_t *s, const char *method, const char *path, int flags,
                  http_handler_fn fn, void *ctx)
{
    if (s->n_routes == MAX_ROUTES || strlen(method) >= sizeof(s->routes[0].method) ||
        strlen(path) >= sizeof(s->routes[0].path))
        return QERR_INVALID;
    route_t *r = &s->routes[s->n_routes];
    r->counted_as = s->n_routes++;
    for (size_t i = 0; i < r->counted_as; i++)
        if (!strcmp(s->routes[i].path, path)) {
            r->counted_as = i;
            break;
        }
    snprintf(r->method, sizeof(r->method), "%s", method);
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->flags = flags;
    r->fn = fn;
    r->ctx = ctx;
    return QERR_OK;
}

qerr_t http_ready_check(http_server_t *s, const char *name, http_check_fn fn, void *ctx)
{
    /* Callers add checks from one thread; readers see a check only once it
     * is complete (release/acquire on the count). */
    size_t n = atomic_load_explicit(&s->n_checks, memory_order_relaxed);
    if (n == MAX_CHECKS) return QERR_INVALID;
    check_t *c = &s->checks[n];
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->fn = fn;
    c->ctx = ctx;
    atomic_store_explicit(&s->n_checks, n + 1, memory_order_release);
    return QERR_OK;
}

static enum MHD_Result send_text(http_server_t *s, size_t route, struct MHD_Connection *conn,
                                 unsigned status, const char *content_type, const char *body,
                                 size_t len)
{
    count_answer(s, route, status);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_msg(http_server_t *s, size_t route, struct MHD_Connection *conn,
                                unsigned status, const char *msg)
{
    return send_text(s, route, conn, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

static void builtin_ready(http_server_t *s, http_resp_t *resp)
{
    bool ready = true;
    size_t n = atomic_load_explicit(&s->n_checks, memory_order_acquire);
    for (size_t i = 0; i < n; i++) {
        char why[256] = "";
        if (s->checks[i].fn(s->checks[i].ctx, why, sizeof(why))) continue;
        if (ready) mbuf_printf(&resp->body, "not ready:\n");
        ready = false;
        mbuf_printf(&resp->body, "  %s: %s\n", s->checks[i].name, why[0] ? why : "failing");
    }
    if (ready) mbuf_printf(&resp->body, "OK\n");
    resp->status = ready ? 200 : 503;
}

static bool authorized(const http_server_t *s, struct MHD_Connection *conn)
{
    if (!s->token) return true;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return false;
    h += 7;
    while (*h == ' ') h++;
    return http_token_equal(h, strlen(h), s->token);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    http_server_t *s = cls;
    conn_state_t *st = *con_cls;
    if (!st) {
        /* First call: headers only. Anything refused now is refused
         * before the body is read. */
        bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
        if (get && !strcmp(url, "/-/healthy")) return send_msg(s, R_HEALTHY, conn, 200, "OK\n");
        if (get && !strcmp(url, "/-/ready")) {
            http_resp_t resp = {.status = 200};
            builtin_ready(s, &resp);
            enum MHD_Result r = send_msg(s, R_READY, conn, (unsigned)resp.status,
                                         resp.body.buf ? resp.body.buf : "");
            mbuf_free(&resp.body);
            return r;
        }
        const route_t *route = NULL;
        bool path_known = false;
        for (size_t i = 0; i < s->n_routes; i++) {
            const char *rp = s->routes[i].path;
            size_t rl = strlen(rp);
            bool prefix = rl && rp[rl - 1] == '*'; /* "/api/v2/silence/" + star: an id follows */
            if (prefix ? strncmp(rp, url, rl - 1) != 0 || !url[rl - 1] : strcmp(rp, url) != 0)
                continue;
            path_known = true;
            if (!strcmp(s->routes[i].method, method) ||
                (!strcmp(method, "HEAD") && !strcmp(s->routes[i].method, "GET")))
                route = &s->routes[i];
        }
        if (!route)
            return path_known ? send_msg(s, R_UNKNOWN, conn, 405, "method not allowed\n")
                              : send_msg(s, R_UNKNOWN, conn, 404, "not found\n");
        size_t ri = route->counted_as;
        if ((route->flags & HTTP_AUTH) && !authorized(s, conn))
            return send_msg(s, ri, conn, 401, "a valid bearer token is required\n");
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->max_bytes)
            return send_msg(s, ri, conn, 413, "request body larger than http.max_request_bytes\n");
        st = calloc(1, sizeof(*st));
        if (!st) return MHD_NO;
        st->route = route;
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->too_large || st->len + n > s->max_bytes) {
            st->too_large = true; /* chunked body: read and dropped */
            return MHD_YES;
        }
        if (st->len + n + 1 > st->cap) {
            size_t ncap = st->cap ? st->cap : 4096;
            while (ncap < st->len + n + 1) ncap *= 2;
            char *nb = realloc(st->body, ncap);
            if (!nb) return MHD_NO;
            st->body = nb;
            st->cap = ncap;
        }
        memcpy(st->body + st->len, upload_data, n);
        st->len += n;
        return MHD_YES;
    }
    size_t ri = st->route->counted_as;
    if (st->too_large)
        return send_msg(s, ri, conn, 413, "request body larger than http.max_request_bytes\n");
    http_req_t req = {method, url, st->body ? st->body : "", st->len, conn};
    if (st->body) st->body[st->len] = '\0';
    http_resp_t resp = {.status = 200, .content_type = "text/plain; charset=utf-8"};
    st->route->fn(st->route->ctx, &req, &resp);
    enum MHD_Result r;
    if (resp.body.oom)
        r = send_msg(s, ri, conn, 500, "out of memory\n");
    else
        r = send_text(s, ri, conn, (unsigned)resp.status, resp.content_type,
                      resp.body.buf ? resp.body.buf : "", resp.body.len);
    mbuf_free(&resp.body);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    conn_state_t *st = *con_cls;
    if (!st) return;
    free(st->body);
    free(st);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = '\0';
    LOG_LIMITED(LOG_WARN, "http", "mhd", 10000, "%s", msg);
}

qerr_t http_server_start(http_server_t *s, char *errbuf, size_t errlen)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ERROR_LOG | MHD_USE_POLL;
    if (s->addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
                            on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&s->addr,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    if (!s->d) {
        snprintf(errbuf, errlen, "http.listen %s: cannot listen (address in use?)", s->listen);
        return QERR_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    return QERR_OK;
}

uint16_t http_server_port(const http_server_t *s) { return s->port; }

void http_server_destroy(http_server_t *s)
{
    if (!s) return;
    if (s->d) MHD_stop_daemon(s->d);
    free(s->token);
    free(s);
}

/* ---- client ----------------------------------------------------------- */

static size_t on_get_body(char *p, size_t size, size_t n, void *ctx)
{
    mbuf_append(ctx, p, size * n);
    return size * n;
}

qerr_t http_get(const char *url, const char *token, long timeout_ms, mbuf_t *body, long *status,
                char *errbuf, size_t errlen)
{
    *status = 0;
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(errbuf, errlen, "cannot start an HTTP client");
        return QERR_NOMEM;
    }
    struct curl_slist *h = NULL;
    if (token && *token) {
        size_t n = strlen(token) + 32;
        char *auth = malloc(n);
        if (auth) {
            snprintf(auth, n, "Authorization: Bearer %s", token);
            h = curl_slist_append(NULL, auth);
            free(auth);
        }
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_get_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* callers may be threads */
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    else
        snprintf(errbuf, errlen, "%s", curl_easy_strerror(rc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? QERR_OK : QERR_IO;
}
