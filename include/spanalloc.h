/* SPDX-License-Identifier: GPL-2.0 */
/*
 * spanalloc - a slab-style allocator on the design of the Go runtime's.
 *
 * The public interface for client modules. Semantics follow kmalloc() and
 * kmem_cache_*() unless said otherwise:
 *
 * - A size of 0 returns ZERO_SIZE_PTR; freeing NULL or ZERO_SIZE_PTR does
 *   nothing. Requests above SPANALLOC_MAX_SIZE return NULL (with a warning
 *   unless __GFP_NOWARN).
 * - Objects are aligned to at least 8 bytes; power-of-two sizes are aligned to
 *   their size up to PAGE_SIZE; objects above SPANALLOC_MAX_SMALL are page
 *   aligned.
 * - GFP_KERNEL may sleep to grow; GFP_ATOMIC and GFP_NOWAIT never sleep and
 *   work in softirq and hardirq context. In hardirq context, even on
 *   PREEMPT_RT, they are served from memory spanalloc holds (a reserve of
 *   free pages per node is kept for them) and fail when it holds none that
 *   fits.
 *   __GFP_ZERO zeroes; __GFP_NOWARN silences failure reports; the kernel's
 *   init_on_alloc and init_on_free policy is honoured, except for caches with
 *   a constructor.
 * - Bulk calls are all-or-nothing.
 *
 * Not allowed (each is reported and refused where it can be detected):
 * - calling from NMI context;
 * - passing a spanalloc object to kfree(), or a kmalloc() object to
 *   spanalloc_free(): kfree() of a spanalloc object cannot be detected by
 *   spanalloc and corrupts page reference counts;
 * - freeing a named cache's object with spanalloc_cache_free() of another
 *   cache.
 */
#ifndef _SPANALLOC_H
#define _SPANALLOC_H

#include <linux/gfp.h>
#include <linux/types.h>

struct spanalloc_cache;

/* Cache flag: align objects to a hardware cache line. */
#define SPANALLOC_HWCACHE_ALIGN		0x1U
/*
 * Cache flag: debug mode, as slab_debug=FZP: free objects are poisoned, a red
 * zone follows each object and fills its bytes past the size requested (up
 * to spanalloc_usable_size(), which gives them to the caller), all are
 * checked on every allocation and free, and a span whose metadata may be
 * corrupted is quarantined. The module parameter debug=1 does the same for
 * every cache and for spanalloc_alloc().
 */
#define SPANALLOC_DEBUG			0x2U

/* Largest request served from a size class; larger ones get whole spans. */
#define SPANALLOC_MAX_SMALL		32768
/* Largest request served at all (8 MiB). */
#define SPANALLOC_MAX_SIZE		(8UL << 20)

void *spanalloc_alloc(size_t size, gfp_t flags);
void *spanalloc_alloc_node(size_t size, gfp_t flags, int node);
void *spanalloc_realloc(const void *p, size_t new_size, gfp_t flags);
void spanalloc_free(const void *p);
size_t spanalloc_usable_size(const void *p);
int spanalloc_alloc_bulk(size_t size, gfp_t flags, size_t nr, void **p);
void spanalloc_free_bulk(size_t nr, void **p);

struct spanalloc_cache *spanalloc_cache_create(const char *name, unsigned int size,
					       unsigned int align, unsigned int flags,
					       void (*ctor)(void *));
void spanalloc_cache_destroy(struct spanalloc_cache *cache);
void *spanalloc_cache_alloc(struct spanalloc_cache *cache, gfp_t flags);
void spanalloc_cache_free(struct spanalloc_cache *cache, void *p);
int spanalloc_cache_alloc_bulk(struct spanalloc_cache *cache, gfp_t flags, size_t nr,
			       void **p);
void spanalloc_cache_free_bulk(struct spanalloc_cache *cache, size_t nr, void **p);

#endif /* _SPANALLOC_H */
