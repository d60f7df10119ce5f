/*
 * Bump allocator for per-message decoding. One thread owns an arena; it
 * allocates while decoding a message and resets once the message's alerts
 * have been copied into the worker rings, so the steady state allocates
 * nothing: chunks are kept and reused across resets.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"

struct arena_chunk {
    arena_chunk_t *next;
    size_t size; /* usable bytes in data[] */
    size_t used;
    _Alignas(16) unsigned char data[];
};

void arena_init(arena_t *a, size_t chunk_bytes)
{
    a->head = NULL;
    a->current = NULL;
    a->chunk_bytes = chunk_bytes ? chunk_bytes : 64 * 1024;
}

static arena_chunk_t *chunk_new(size_t size)
{
    arena_chunk_t *c = malloc(sizeof(*c) + size);
    if (!c) return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

void *arena_alloc(arena_t *a, size_t bytes)
{
    size_t need = (bytes + 15) & ~(size_t)15;
    if (need == 0) need = 16;
    arena_chunk_t *c = a->current;
    /* Walk forward through chunks kept from before the last reset. */
    while (c && c->used + need > c->size) {
        if (!c->next) break;
        c = c->next;
        c->used = 0;
    }
    if (!c || c->used + need > c->size) {
        size_t size = need > a->chunk_bytes ? need : a->chunk_bytes;
        arena_chunk_t *n = chunk_new(size);
        if (!n) return NULL;
        if (c) {
            /* Insert after c so kept chunks further on stay reachable. */
            n->next = c->next;
            c->next = n;
        } else {
            a->head = n;
        }
        c = n;
    }
    a->current = c;
    void *p = c->data + c->used;
    c->used += need;
    return p;
}

char *arena_strndup(arena_t *a, const char *s, size_t len)
{
    char *p = arena_alloc(a, len + 1);
    if (!p) return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void arena_reset(arena_t *a)
{
    a->current = a->head;
    if (a->head) a->head->used = 0;
}

void arena_free(arena_t *a)
{
    arena_chunk_t *c = a->head;
    while (c) {
        arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    a->head = a->current = NULL;
}
