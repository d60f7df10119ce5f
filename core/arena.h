/*
 * core/arena.h: the per-thread bump allocator decoding uses, and a page
 * prefault for memory the hot path touches first.
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

/* Faults in the pages under [p, p + len) for writing now
 * (madvise(MADV_POPULATE_WRITE), Linux 5.14+; elsewhere it does nothing),
 * so that the thread that first writes them later takes no page fault.
 * For memory a pipeline thread starts writing all at once when traffic
 * starts (rings, the decision log, caches): at ~3 us a fault on this
 * project's VM, a worker faulting in ~25 MiB took ~20 ms of the first
 * second of traffic, when a new topic's backlog already makes it late.
 * Contents are unchanged, so any thread may call it at any time. */
void mem_prefault(void *p, size_t len);

#endif
