/*
 * core/arena.h: the per-thread bump allocator decoding uses.
 */
#ifndef QUELL_ARENA_H
#define QUELL_ARENA_H

#include <stddef.h>

/* A bump allocator reset per message: decoding allocates without malloc per
 * alert. Owned by one thread. Chunks are kept across resets. */
typedef struct arena_chunk arena_chunk_t;
typedef struct {
    arena_chunk_t *head;
    arena_chunk_t *current;
    size_t chunk_bytes;
} arena_t;

void arena_init(arena_t *a, size_t chunk_bytes);
void *arena_alloc(arena_t *a, size_t bytes); /* 16-byte aligned; NULL on OOM */
char *arena_strndup(arena_t *a, const char *s, size_t len);
void arena_reset(arena_t *a);
void arena_free(arena_t *a);

#endif
