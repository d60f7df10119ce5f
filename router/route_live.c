/*
 * Routing generations: the compiled routing a reload published, for the
 * threads that read it (the router thread, dedup workers for a route's
 * dedup_window, HTTP API threads).
 *
 * Readers load the current generation with one acquire load and take no
 * lock. A generation is never freed before routing_live_destroy: the
 * workers and the API read it without announcing themselves, and the
 * router's retired notifiers (groups, in-flight deliveries) point into
 * it. A reload is an operator's act, rare, and a compiled tree is a few
 * kilobytes per route, so keeping them until exit costs little and makes
 * a use-after-free impossible by construction; docs/limits.md says so.
 * Publishing is serialised by a mutex that readers never take.
 */
#include <pthread.h>
#include <stdlib.h>

#include "router_int.h"

typedef struct gen_node gen_node_t;
struct gen_node {
    routing_gen_t gen;
    routing_t *owned; /* NULL for the borrowed first generation */
    gen_node_t *older;
};

struct routing_live {
    _Atomic(gen_node_t *) current;
    pthread_mutex_t writer;
    void (*view_free)(void *view);
};

routing_live_t *routing_live_new(const routing_t *initial, void *view, void (*view_free)(void *))
{
    routing_live_t *l = calloc(1, sizeof *l);
    gen_node_t *g = calloc(1, sizeof *g);
    if (!l || !g) {
        free(l);
        free(g);
        return NULL;
    }
    g->gen = (routing_gen_t){.generation = 1, .routing = initial, .view = view};
    pthread_mutex_init(&l->writer, NULL);
    l->view_free = view_free;
    atomic_init(&l->current, g);
    return l;
}

qerr_t routing_live_publish(routing_live_t *l, routing_t *rt, void *view, uint64_t *generation)
{
    gen_node_t *g = calloc(1, sizeof *g);
    if (!g) return QERR_NOMEM;
    pthread_mutex_lock(&l->writer);
    gen_node_t *cur = atomic_load_explicit(&l->current, memory_order_relaxed);
    g->gen = (routing_gen_t){.generation = cur->gen.generation + 1, .routing = rt, .view = view};
    g->owned = rt;
    g->older = cur;
    atomic_store_explicit(&l->current, g, memory_order_release);
    pthread_mutex_unlock(&l->writer);
    if (generation) *generation = g->gen.generation;
    return QERR_OK;
}

const routing_gen_t *routing_live_current(routing_live_t *l)
{
    return &atomic_load_explicit(&l->current, memory_order_acquire)->gen;
}

void routing_live_destroy(routing_live_t *l)
{
    if (!l) return;
    gen_node_t *g = atomic_load(&l->current);
    while (g) {
        gen_node_t *older = g->older;
        routing_destroy(g->owned);
        if (l->view_free && g->gen.view) l->view_free(g->gen.view);
        free(g);
        g = older;
    }
    pthread_mutex_destroy(&l->writer);
    free(l);
}
