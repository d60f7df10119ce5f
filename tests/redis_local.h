/*
 * A throwaway redis-server for tests: a free loopback port, its own temp
 * dir, no persistence; stopped by redis_stop() and, should the test exit
 * early, by an atexit hook. redis_local_available() is false when
 * redis-server is not installed (the test then exits 77: skipped).
 */
#ifndef QUELL_TEST_REDIS_LOCAL_H
#define QUELL_TEST_REDIS_LOCAL_H

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    pid_t pid;
    int port;
    char dir[64];
} redis_local_t;

static redis_local_t *redis_local_atexit_ref;

static bool redis_local_available(void)
{
    return system("redis-server --version >/dev/null 2>&1") == 0;
}

static int redis_local_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = -1;
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(s);
    return port;
}

static bool redis_local_ping(int port)
{
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    bool ok = false;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS;
        if (r) freeReplyObject(r);
    }
    if (c) redisFree(c);
    return ok;
}

static void redis_local_kill(redis_local_t *r, int sig)
{
    if (r->pid <= 0) return;
    kill(r->pid, sig);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
}

static void redis_local_atexit(void)
{
    if (redis_local_atexit_ref) redis_local_kill(redis_local_atexit_ref, SIGKILL);
}

/* Starts (or restarts, on the same port, empty) the server. 0 on success. */
static int redis_local_start(redis_local_t *r)
{
    if (!r->dir[0]) {
        snprintf(r->dir, sizeof(r->dir), "/tmp/quell-redis-XXXXXX");
        if (!mkdtemp(r->dir)) return -1;
        r->port = redis_local_free_port();
        redis_local_atexit_ref = r;
        atexit(redis_local_atexit);
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", r->port);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout)) _exit(127);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", r->dir, "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    r->pid = pid;
    for (int i = 0; i < 250; i++) {
        if (redis_local_ping(r->port)) return 0;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void redis_local_stop(redis_local_t *r)
{
    redis_local_kill(r, SIGTERM);
    if (r->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", r->dir);
    }
    redis_local_atexit_ref = NULL;
}

/* A plain client for assertions. */
static redisContext *redis_local_client(const redis_local_t *r)
{
    struct timeval tv = {2, 0};
    return redisConnectWithTimeout("127.0.0.1", r->port, tv);
}

/* Keys under `prefix`; *no_ttl counts those without a TTL. */
static long long redis_local_count_keys(redisContext *c, const char *prefix, long long *no_ttl)
{
    long long n = 0;
    *no_ttl = 0;
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s* COUNT 1000", cursor, prefix);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r) freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            redisReply *t = redisCommand(c, "PTTL %b", r->element[1]->element[i]->str,
                                         (size_t)r->element[1]->element[i]->len);
            if (t && t->type == REDIS_REPLY_INTEGER && t->integer < 0) (*no_ttl)++;
            if (t) freeReplyObject(t);
            n++;
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return n;
}

#endif
