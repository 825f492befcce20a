/* SPDX-License-Identifier: GPL-2.0 */
/*
 * spanalloc internals shared by the layers: spans and central lists (span.c),
 * the page heap (heap.c), per-CPU caches and the exported API (spanmod.c).
 * See the overview at the top of span.c.
 */
#ifndef _SPANALLOC_INTERNAL_H
#define _SPANALLOC_INTERNAL_H

#include <linux/bitops.h>
#include <linux/kasan.h>
#include <linux/kmemleak.h>
#include <linux/preempt.h>
#include <linux/jump_label.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "compat.h"
#include "sizeclass.h"

#define SA_CHUNK_ORDER		8			/* 1 MiB chunks */
#define SA_CHUNK_PAGES		BIT(SA_CHUNK_ORDER)
#define SA_BITMAP_LONGS		BITS_TO_LONGS(SA_MAX_NELEMS)
/* Free pages a node's heap keeps for hardirq context, which cannot grow it. */
#define SA_IRQ_RESERVE_PAGES	8		/* a power of 2: the first chunk */
#define SA_HEAP_LISTS		SA_CHUNK_PAGES		/* free lists by length */

/* What a span is used for; written under the lock of the list it is on. */
enum sa_span_state {
	SA_SPAN_FREE = 1,	/* free pages in the page heap */
	SA_SPAN_SMALL,		/* cut into objects of one size class */
	SA_SPAN_LARGE,		/* one large object, pages from the page heap */
	SA_SPAN_HUGE,		/* one large object, pages straight from alloc_pages */
};

struct sa_pool;
struct sa_chunk;
struct seq_file;

/*
 * struct sa_span - a run of contiguous kernel pages (Go's mspan)
 *
 * Counting invariant of a small span, outside any owner's critical section:
 * alloc_count is the number of allocBits set among the first nelems objects,
 * and an object is live iff its allocBit is set and its remote-free bit clear
 * (both in sa_span::bits, see sa_bpos()).
 *
 * "Owner" below is the CPU whose per-CPU cache holds the span (@cached), inside
 * its critical section (struct sa_pcpu::busy set); a span that is not cached
 * is protected by its central list's lock.
 */
struct sa_span {
	/*
	 * Cache line 1 (the descriptor cache aligns it; see the asserts
	 * below): read by every free, on any CPU, and constant while the span
	 * is in use or written only when it changes hands. The fields the
	 * owner writes on every allocation and local free are in line 4, so
	 * that frees from other CPUs do not take this line from it.
	 */
	unsigned long base;		/* address of the first page */
	struct sa_pool *pool;		/* pool of a small span, else NULL */
	u32 elemsize;			/* object size (small), bytes (large) */
	u32 div_mul;			/* offset -> index magic, see sa_class */
	u16 nelems;			/* objects in the span */
	u8 state;			/* enum sa_span_state; heap or central lock */
	u8 node;			/* NUMA node of the pages */
	bool cached;			/* held by a per-CPU cache; central lock */
	bool quarantined;		/* debug found corruption: never reused */
	bool needzero;			/* free span: pages may be dirty; heap lock */
	/*
	 * The per-CPU cache that owns it (current or retired span), or NULL:
	 * written by that cache's CPU in its critical section, read by anyone;
	 * equal to this CPU's cache of the pool only while this CPU owns it.
	 */
	struct sa_pcpu *owner;
	u32 npages;			/* pages in the span; heap lock */
	u16 nelems_fast;		/* objects the fast frees take: min(nelems, 256) */
	struct sa_chunk *chunk;		/* chunk the pages belong to, NULL if huge */
	unsigned long idle_since;	/* jiffies when freed to the heap; heap lock */

	/*
	 * Lines 2 and 3: allocBits (set: object allocated; the owner's, or
	 * the central lock's when not cached) and the remote-free bits (set:
	 * freed by a CPU that does not own the span; atomic), an object's two
	 * bits in one line: see sa_bpos().
	 */
	unsigned long bits[2 * SA_BITMAP_LONGS];

	/*
	 * Line 4: allocation state, the owner's, or the central lock's when
	 * not cached. alloc_cache (Go's allocCache) is the window: bit b set
	 * if object freeindex + b is free and not taken yet. The window's
	 * start is kept three ways, as each user wants it (sa_span_set_window()).
	 */
	unsigned long alloc_cache;
	unsigned long winbase;		/* address of object freeindex */
	u16 freeindex;			/* window's first index, a multiple of BITS_PER_LONG */
	u16 winpos;			/* sa_bpos(freeindex) */
	u16 alloc_count;		/* allocated objects, remote frees not folded */
	u16 dirty_pos;			/* objects at sa_bpos() >= this are still zero */
	struct list_head list;		/* central partial/full list or heap free list */
	struct list_head lru;		/* heap's free spans, newest first; heap lock */
	/* set: allocated in hardirq, not reported to kmemleak; atomic */
	unsigned long kmemleak_untracked[IS_ENABLED(CONFIG_DEBUG_KMEMLEAK) ? SA_BITMAP_LONGS : 0];
};

/*
 * Not ____cacheline_aligned, which would round the size up to 256 B: SLUB
 * keeps the free pointer of a SLAB_TYPESAFE_BY_RCU cache after the object,
 * and 256 + 8 B aligned to 64 would take 320 B. 248 + 8 B take 256.
 */
#define SA_SPAN_ALIGN		64
static_assert(offsetof(struct sa_span, bits) == SA_SPAN_ALIGN);
static_assert(offsetof(struct sa_span, alloc_cache) % SA_SPAN_ALIGN == 0);

/*
 * The bitmaps' layout. Object idx's allocBit is bit sa_bpos(idx) of
 * sa_span::bits (sa_abits()), its remote-free bit SA_REMOTE_BITS further
 * (bit sa_bpos(idx) of sa_rbits()): objects 0-255 have their allocBits in
 * the first half of line 2 and their remote bits in its second half, objects
 * 256-511 (the 8 B class) the same in line 3. An allocation on the owner's
 * CPU tests the remote bit and sets the allocBit; a free on another CPU
 * tests the allocBit and sets the remote bit: in one line, only that line
 * moves between the two CPUs, where two would with a bitmap in each line
 * (scenario 4 of BENCHMARKS.md). For idx < SA_REMOTE_BITS, sa_bpos(idx) is
 * idx: the fast paths handle only those objects (sa_span::nelems_fast), and
 * so need no translation.
 */
/* The remote bits' offset from the allocBits: also the objects of a half-line. */
#define SA_REMOTE_BITS		256
#define SA_REMOTE_WORDS		(SA_REMOTE_BITS / BITS_PER_LONG)
static_assert(SA_MAX_NELEMS == 2 * SA_REMOTE_BITS);

/* The allocBit's position of object @idx; its remote bit's, in sa_rbits(). */
static __always_inline unsigned int sa_bpos(unsigned int idx)
{
	return idx + (idx & SA_REMOTE_BITS);
}

/* The position in sa_abits() (or sa_rbits()) of the bitmaps' word @w. */
static __always_inline unsigned int sa_bword(unsigned int w)
{
	return w + (w & SA_REMOTE_WORDS);
}

#define sa_abits(s)		((s)->bits)
#define sa_rbits(s)		((s)->bits + SA_REMOTE_WORDS)

/*
 * struct sa_central - spans of one pool on one NUMA node (Go's mcentral)
 */
struct sa_central {
	raw_spinlock_t lock;		/* protects everything below */
	struct list_head partial;	/* uncached spans with free objects */
	struct list_head full;		/* uncached spans without free objects */
	unsigned long nr_partial;	/* spans on @partial */
	unsigned long nr_full;		/* spans on @full */
	unsigned long nr_cached;	/* spans held by per-CPU caches */
	struct list_head quarantine;	/* debug: corrupted spans, never reused */
};

/* Per-CPU event counters of a pool, summed when read. */
enum sa_stat {
	SA_ALLOC,		/* objects handed out */
	SA_FREE,		/* objects freed */
	SA_REFILL,		/* spans taken into a per-CPU cache */
	SA_FLUSH,		/* spans given back by a per-CPU cache */
	SA_NR_STATS
};

/* Frees of spans a CPU does not own, applied to the central lists together. */
#define SA_FREE_BATCH		32
/* A batch pins at most this many pages of spans (see sa_pool::free_batch). */
#define SA_FREE_BATCH_PAGES	32
/* A named cache's span holds at least this many objects, if 8 pages can. */
#define SA_CACHE_MIN_OBJS	4
/*
 * The largest slot of a named cache: its largest object rounded up to a page
 * alignment, with debug metadata, rounded up again; one object a span.
 */
#define SA_MAX_CACHE_SLOT	(SA_MAX_SMALL + PAGE_SIZE)
/* Spans a CPU still owns after it stopped allocating from them (SLUB's CPU partial). */
#define SA_RETIRED		4
/* Retired spans keep at most this many pages per pool and CPU (sa_pool::max_retired). */
#define SA_RETIRED_PAGES	16

/*
 * struct sa_pcpu - one CPU's cache of one pool (Go's mcache entry)
 *
 * "Owner only": read and written by this CPU inside its critical section
 * (@busy set, preemption off), or by whoever drains a dead CPU.
 */
struct sa_pcpu {
	struct sa_span *span;		/* span allocated from, or SA_NO_SPAN; owner only */
	bool busy;			/* owner's critical section is running */
	unsigned int nr_frees;		/* objects in @frees; owner only */
	unsigned int nr_retired;	/* spans in @retired; owner only */
	bool trim_now;			/* sa_trim_idle() gives back; sa_pools_mutex */
	unsigned long trim_seen;	/* allocs + frees at the last trim check; sa_pools_mutex */
	unsigned long stat[SA_NR_STATS]; /* this_cpu_inc() only */
	/*
	 * Objects allocated and freed inside the critical section (SA_ALLOC,
	 * SA_FREE), counted there by a plain increment; owner only. Read
	 * together with @stat: sa_pcpu_stat().
	 */
	unsigned long sect_stat[SA_FREE + 1];
	/*
	 * Spans this CPU filled and still owns, oldest first; owner only. Frees
	 * into them are local; a refill takes one back before it takes the
	 * central lock; the oldest goes to the central list when a new one comes.
	 */
	struct sa_span *retired[SA_RETIRED];
	/*
	 * Objects freed to spans this CPU does not own: remote-free bit set,
	 * span lists not updated yet; owner only. Kept as the complements of
	 * their addresses: an object that the span's owner has already reused
	 * may be leaked by its new user, and kmemleak must not take this copy
	 * for a reference.
	 */
	unsigned long frees[SA_FREE_BATCH];
};

/*
 * sa_pcpu::span of a CPU that has none: a span whose window is empty, so the
 * fast path needs no NULL test. Read-only data: never written.
 */
extern const struct sa_span sa_no_span;
#define SA_NO_SPAN	((struct sa_span *)&sa_no_span)

/* The span @c allocates from, or NULL for none (a racy snapshot if not owner). */
static inline struct sa_span *sa_pcpu_span(const struct sa_pcpu *c)
{
	struct sa_span *s = READ_ONCE(c->span);

	return s == SA_NO_SPAN ? NULL : s;
}

/**
 * sa_pcpu_enter() - enter this CPU's critical section of a pool
 * @c: this CPU's sa_pcpu, with preemption off
 *
 * An interrupt may run a whole critical section of its own (and change
 * @c->span) between the test of @busy and the store; so every field of @c is
 * read after this returns true, never before.
 *
 * Return: false if an interrupted critical section holds it.
 */
static __always_inline bool sa_pcpu_enter(struct sa_pcpu *c)
{
	/*
	 * A racy plain read: only this CPU writes @busy, and an interrupt that
	 * set it has cleared it again before it returns.
	 */
	if (unlikely(data_race(c->busy)))
		return false;
	WRITE_ONCE(c->busy, true);
	barrier();
	return true;
}

/* Leave the critical section sa_pcpu_enter() entered. */
static __always_inline void sa_pcpu_exit(struct sa_pcpu *c)
{
	barrier();
	WRITE_ONCE(c->busy, false);
}

/* Count @i (enum sa_stat) of one CPU's cache: a racy snapshot. */
static inline unsigned long sa_pcpu_stat(const struct sa_pcpu *c, enum sa_stat i)
{
	unsigned long n = READ_ONCE(c->stat[i]);

	if (i == SA_ALLOC || i == SA_FREE)
		n += READ_ONCE(c->sect_stat[i]);
	return n;
}

/*
 * Take retired span @i out of @c, keeping the order of the others.
 * Return: the span. Context: inside @c's critical section.
 */
static inline struct sa_span *sa_pcpu_unretire(struct sa_pcpu *c, unsigned int i)
{
	struct sa_span *s = c->retired[i];

	c->nr_retired--;
	memmove(&c->retired[i], &c->retired[i + 1], (c->nr_retired - i) * sizeof(c->retired[0]));
	return s;
}

/*
 * How an object of a pool is zeroed on allocation (sa_pool::zero), chosen
 * once from its size so that the fast path tests one byte, not the size
 * (sa_zero()): 1 to SA_ZERO_WORDS, an object of that many words, zeroed by
 * that many stores; SA_ZERO_PAGE, objects of one page each, by clear_page();
 * SA_ZERO_LINES, more than 64 bytes and less than a page, by lines of eight
 * stores (sa_zero_lines()); SA_ZERO_BLOCKS, a multiple of 256 bytes under a
 * page, by blocks of four lines (sa_zero_blocks()); SA_ZERO_CALL, larger
 * ones and any size under __GFP_ZERO in bulk, by sa_zero_big() (clear_page()
 * or memset());
 * SA_ZERO_NONE, none (init_on_alloc off, fixed at boot, or a constructor),
 * but for __GFP_ZERO (sa_zero_big()).
 */
#define SA_ZERO_NONE		0
#define SA_ZERO_WORDS		8
#define SA_ZERO_PAGE		(SA_ZERO_WORDS + 1)
#define SA_ZERO_LINES		(SA_ZERO_WORDS + 2)
#define SA_ZERO_CALL		(SA_ZERO_WORDS + 3)
#define SA_ZERO_BLOCKS		(SA_ZERO_WORDS + 4)

/*
 * struct sa_pool - where objects of one geometry come from
 *
 * One pool per size class serves the size API; every named cache has its own
 * pool, so it never shares spans with anyone.
 */
struct sa_pool {
	struct sa_pcpu __percpu *pcpu;	/* per-CPU caches */
	const struct sa_class *cls;	/* span geometry */
	void (*ctor)(void *obj);	/* constructor, run when a span is carved */
	struct spanalloc_cache *cache;	/* named cache, or NULL for a size class */
	unsigned int class_idx;		/* index into sa_classes; 0: a cache's own */
	unsigned int usable;		/* bytes a caller may use (debug: less) */
	/*
	 * Entries of sa_pcpu::frees used: a pending free may keep its span
	 * from emptying, so large spans get short batches.
	 */
	unsigned int free_batch;
	unsigned int max_retired;	/* sa_pcpu::retired used: SA_RETIRED_PAGES of spans */
	gfp_t gfp_full;			/* gfp flags for the full path (sa_pool_init()) */
	u8 zero;			/* SA_ZERO_*: how sa_zero() zeroes (sa_pool_init()) */
	bool debug;			/* poison, red zone, checks (debug.c) */
	bool hooks_ref;			/* holds a reference on sa_hooks (debug) */
	struct sa_central **central;	/* per NUMA node, nr_node_ids entries */
};

/*
 * struct spanalloc_cache - a named cache
 */
struct spanalloc_cache {
	struct sa_pool pool;		/* its own spans; never shared */
	struct sa_class geom;		/* its objects' span geometry; constant */
	const char *name;		/* kstrdup'ed name */
	unsigned int object_size;	/* size asked for */
	unsigned int align;		/* alignment honoured */
	unsigned int flags;		/* SPANALLOC_* flags */
	bool destroyed;			/* destroyed: no more allocations */
	struct list_head list;		/* on sa_caches; sa_pools_mutex */
};

/* Large objects, per CPU, summed when read. */
struct sa_large_stats {
	unsigned long allocs;		/* large objects allocated */
	unsigned long frees;		/* large objects freed */
	unsigned long pages;		/* pages they hold (may wrap per CPU) */
};

extern struct sa_pool sa_class_pools[SA_NUM_CLASSES];
extern struct list_head sa_caches;
extern struct mutex sa_pools_mutex;
extern atomic_long_t sa_errors;
DECLARE_PER_CPU(struct sa_large_stats, sa_large);

/*
 * struct sa_chunk - pages taken from alloc_pages() in one call
 */
struct sa_chunk {
	struct list_head list;		/* on the heap's chunk list; heap lock */
	unsigned long base;		/* address of the first page */
	unsigned int order;		/* allocation order */
	unsigned int held;		/* pages not given back yet; heap lock */
};

/*
 * struct sa_heap - the page heap of one NUMA node (Go's mheap)
 */
struct sa_heap {
	raw_spinlock_t lock;			/* protects everything below */
	struct list_head free[SA_HEAP_LISTS];	/* free spans, by npages - 1 */
	DECLARE_BITMAP(nonempty, SA_HEAP_LISTS); /* which @free lists are used */
	struct list_head chunks;		/* all chunks of this node */
	struct list_head lru;			/* free spans, idle longest last */
	struct list_head spares;		/* spare span descriptors */
	unsigned int nr_spares;			/* descriptors on @spares */
	unsigned long pages_held;		/* pages held from the page allocator */
	unsigned long pages_free;		/* of those, in free spans */
	unsigned long pages_returned;		/* pages given back, cumulative */
	unsigned long huge_pages;		/* pages of huge objects */
	unsigned long nr_chunks[SA_CHUNK_ORDER + 1]; /* chunks held, by order */
	unsigned long nr_free_spans;		/* spans on the @free lists */
	int node;				/* NUMA node */
};

/*
 * struct spanalloc_heap_stats - one node's page heap, for tests and debugfs
 */
struct spanalloc_heap_stats {
	unsigned long pages_held;	/* held from the page allocator (chunks) */
	unsigned long pages_free;	/* in free spans */
	unsigned long pages_returned;	/* given back, cumulative */
	unsigned long huge_pages;	/* huge objects, outside chunks */
	unsigned long nr_chunks;	/* chunks held */
	unsigned long nr_free_spans;	/* free spans */
	unsigned long nr_chunks_order[SA_CHUNK_ORDER + 1]; /* by order */
};

/*
 * struct spanalloc_ptr_info - what spanalloc knows of a pointer, for tests
 */
struct spanalloc_ptr_info {
	int state;			/* enum sa_span_state */
	unsigned long base;		/* first byte of the span */
	unsigned int npages;		/* pages in the span */
	unsigned int size;		/* object size */
	unsigned int nelems;		/* objects in the span */
	unsigned int class_idx;		/* size class, 0 if large or a named cache */
	int node;			/* NUMA node */
	bool live;			/* the object is allocated */
	unsigned int alloc_count;	/* small span: its count of allocated objects */
	unsigned int alloc_weight;	/* small span: allocBits set */
};

/* Zone modifiers: spanalloc's memory has none, the full path reports them. */
#define SA_GFP_ZONES	(__GFP_HIGHMEM | __GFP_DMA32 | __GFP_DMA)

/*
 * On while a runtime hook wants the full paths: a pool in debug mode, a
 * spanalloc trace event, init_on_free (a reference each). The fast paths
 * test only this key; the full paths look at each hook.
 */
DECLARE_STATIC_KEY_FALSE(sa_hooks);
int sa_trace_reg(void);
void sa_trace_unreg(void);

/* No runtime hook is on: the fast paths may run. */
static __always_inline bool sa_unhooked(void)
{
	return !static_branch_unlikely(&sa_hooks);
}

/* Tagging of the pages spanalloc holds: page->mapping and page->private. */
extern const unsigned long sa_page_tag[2];
/*
 * The direct map's 1 MiB granules spanalloc ever held pages in (never
 * cleared), for the first SA_GRANULES of it; beyond, sa_lookup_far().
 */
#define SA_GRANULE_SHIFT	20
#define SA_GRANULES		(1UL << (36 - SA_GRANULE_SHIFT))	/* 64 GiB */
extern unsigned long sa_granules[BITS_TO_LONGS(SA_GRANULES)];
bool sa_lookup_far(unsigned long addr);
#define SA_PAGE_TAG	((struct address_space *)sa_page_tag)

/*
 * The lookup of sa_lookup(); @far: also look past the granule bitmap, with a
 * call. Without, such a pointer gets NULL: the fast free path, which passes
 * NULL on to the full one, calls nothing.
 */
static __always_inline struct sa_span *__sa_lookup(const void *p, const bool far)
{
	unsigned long off = (unsigned long)p - PAGE_OFFSET;
	unsigned long g = off >> SA_GRANULE_SHIFT;
	struct page *page;

	/*
	 * Only a struct page of a granule spanalloc once held is read: it is
	 * RAM, with a memory map. Past the bitmap, the slow check.
	 */
	if (likely(g < SA_GRANULES)) {
		if (unlikely(!test_bit(g, sa_granules)))
			return NULL;
	} else if (!far || !sa_lookup_far((unsigned long)p)) {
		return NULL;
	}
	/* On x86-64, __pa() of the direct map is the offset from PAGE_OFFSET. */
	if (IS_ENABLED(CONFIG_X86_64) && IS_ENABLED(CONFIG_SPARSEMEM_VMEMMAP))
		page = pfn_to_page(off >> PAGE_SHIFT);
	else
		page = virt_to_page(p);
	/*
	 * Racy plain reads, compared once (data_race()): the page may change
	 * hands at any time, which the callers' checks of the span allow for.
	 */
	if (data_race(page->mapping) != SA_PAGE_TAG)
		return NULL;
	return (struct sa_span *)READ_ONCE(page->private);
}

/**
 * sa_lookup() - find the span a pointer points into
 * @p: any pointer
 *
 * O(1), lock free: every page spanalloc holds carries SA_PAGE_TAG in
 * page->mapping and its span in page->private. A pointer outside the memory
 * spanalloc ever held is rejected before any struct page is read.
 *
 * Return: the span (in use or free), or NULL if @p is not in spanalloc memory.
 */
static __always_inline struct sa_span *sa_lookup(const void *p)
{
	return __sa_lookup(p, true);
}

/* heap.c: the page heap */
int sa_heap_init(void);
void sa_heap_exit(void);
struct sa_span *sa_heap_alloc_span(int node, unsigned int npages, gfp_t gfp);
void sa_heap_free_span(struct sa_span *s);
struct sa_span *sa_huge_alloc(int node, size_t size, gfp_t gfp);
void sa_huge_free(struct sa_span *s);
void sa_heap_read_stats(int node, struct spanalloc_heap_stats *st);
void sa_set_pages(struct sa_span *s, struct sa_span *owner);
void sa_heap_release_all(void);
unsigned long sa_heap_release(int node, unsigned long keep, unsigned long max);
void sa_heap_trim_meta(void);
unsigned long sa_heap_free_pages(void);
extern struct kmem_cache *sa_span_cachep;
extern unsigned int sa_max_chunk_order;
extern atomic_t sa_fail_new_span;
extern struct fault_attr sa_fail_refill;
struct fault_attr *spanalloc_debug_fail_refill(void);

/* span.c: spans and central lists */
int sa_pool_init(struct sa_pool *pool, const struct sa_class *cls,
		 void (*ctor)(void *), struct spanalloc_cache *cache, bool debug);
bool sa_cache_geometry(struct sa_class *k, unsigned int size);
void sa_pool_destroy(struct sa_pool *pool);
struct sa_pcpu __percpu *sa_pcpu_alloc(void);
struct sa_span *sa_central_get_span(struct sa_pool *pool, int node, gfp_t gfp);
void sa_central_put_span(struct sa_pool *pool, struct sa_span *s);
bool sa_central_free(struct sa_pool *pool, struct sa_span *s, unsigned int pos);
void sa_central_apply_frees(struct sa_pool *pool, const unsigned long *objs, unsigned int nr,
			    struct list_head *empty);
void sa_central_free_empty(struct list_head *empty);
unsigned long sa_span_next_free_slow(struct sa_span *s);
unsigned long sa_pool_live_objects(struct sa_pool *pool);

/* debugfs.c: the view in /sys/kernel/debug/spanalloc */
void sa_debugfs_init(void);
void sa_debugfs_exit(void);

/* scavenge.c: giving memory back (Go's scavenger) and the shrinker */
int sa_scavenger_init(void);
void sa_scavenger_exit(void);
void sa_scavenge_all(void);
void sa_scavenger_show(struct seq_file *m);
void sa_drain_all(void);
void sa_trim_idle(void);
struct sa_pool *sa_pool_next(struct sa_pool *pool);

/* debug.c: debug mode, in the spirit of slab_debug=FZP */
#define SA_DBG_META	32	/* red zone, call sites, size requested */
DECLARE_STATIC_KEY_FALSE(sa_debug_active);
void sa_hooks_debug_on(struct sa_pool *pool);
void sa_hooks_debug_off(struct sa_pool *pool);
extern bool sa_debug_all;
void sa_debug_init_span(struct sa_pool *pool, struct sa_span *s);
unsigned int sa_debug_size_class(size_t size);
bool sa_debug_alloc(struct sa_pool *pool, void *obj, unsigned long caller);
void sa_debug_set_size(struct sa_pool *pool, void *obj, size_t req);
size_t sa_debug_get_size(struct sa_pool *pool, const void *obj);
void sa_debug_free(struct sa_pool *pool, struct sa_span *s, void *obj, unsigned long caller);
void sa_quarantine(struct sa_pool *pool, struct sa_span *s);
void sa_report_object(const char *problem, struct sa_pool *pool, const void *obj,
		      unsigned long caller);

/* spanmod.c: reports, and hooks for the KUnit suites (SPANALLOC_INTERNAL) */
void sa_report(const char *problem, const void *p, unsigned long caller);
bool sa_counted_report(void);
unsigned long spanalloc_errors(void);
void spanalloc_debug_drain(void);
void spanalloc_debug_release(void);
bool spanalloc_debug_hooked(void);
void spanalloc_debug_trim_idle(void);
void spanalloc_debug_heap(int node, struct spanalloc_heap_stats *st);
int spanalloc_debug_lookup(const void *p, struct spanalloc_ptr_info *info);
void spanalloc_debug_stray_remote_bit(const void *p);
unsigned int spanalloc_debug_set_chunk_order(unsigned int order);
void spanalloc_debug_fail_new_span(int nth);
void spanalloc_debug_counts(unsigned long *allocs, unsigned long *frees);
unsigned int spanalloc_debug_cpu_spans(int cpu);
void spanalloc_debug_capture(atomic_t *counter);
void spanalloc_debug_scavenger(unsigned int interval_ms, unsigned int percent,
			       unsigned int floor_chunks, unsigned int old[3]);

/**
 * sa_span_index() - object index of an address inside a small span
 * @s: the span
 * @p: an address inside it
 *
 * Return: the index of the object holding @p (by multiplication, no divide).
 */
static __always_inline unsigned int sa_span_index(const struct sa_span *s, const void *p)
{
	unsigned long off = (unsigned long)p - s->base;

	return (unsigned int)(((u64)off * s->div_mul) >> 32);
}

/*
 * Is byte @off of a span with geometry @div_mul, below its last object's
 * end, the first byte of an object? Its index goes to @idx. For loops that
 * keep the geometry in registers and bound @off themselves.
 */
static __always_inline bool sa_obj_exact(unsigned long off, u32 div_mul, unsigned int *idx)
{
	u64 prod = (u64)off * div_mul;

	/*
	 * The low half of the product is below div_mul exactly at an object's
	 * start. With div_mul = m = U32_MAX / size + 1, size * m = 2^32 + e,
	 * 0 <= e < size; for off = idx * size + r (r < size, idx <= nelems) in
	 * a span of at most 32 KiB: off * m = idx * 2^32 + idx * e + r * m,
	 * where idx * e < 2^16 < 2^17 <= m, and (idx + 1) * e < m keeps the
	 * low half below 2^32. So it is idx * e < m if r == 0, and >= m if not.
	 * A span of one object past 32 KiB (up to SA_MAX_CACHE_SLOT) has
	 * idx <= 1, and 2 * e < 2 * size < m for any size below 46341.
	 */
	*idx = prod >> 32;
	return (u32)prod < div_mul;
}

/* sa_span_obj_start(), bounded by nelems_fast if @fast. */
static __always_inline bool __sa_span_obj_start(const struct sa_span *s, const void *p,
						unsigned int *idx, const bool fast)
{
	u64 prod = (u64)((unsigned long)p - s->base) * s->div_mul;

	/* sa_obj_exact() and the count, the geometry read as late as needed. */
	*idx = prod >> 32;
	return (u32)prod < s->div_mul && *idx < (fast ? s->nelems_fast : s->nelems);
}

/**
 * sa_span_obj_start() - is @p the first byte of one of @s's objects?
 * @s: a small span
 * @p: an address inside it
 * @idx: receives the object index
 *
 * Return: true if so; false for a pointer inside an object, or into the
 * span's tail past its last object (whose bits look allocated forever).
 */
static __always_inline bool sa_span_obj_start(const struct sa_span *s, const void *p,
					      unsigned int *idx)
{
	return __sa_span_obj_start(s, p, idx, false);
}

/*
 * sa_span_obj_start() for the fast paths: false also for an object at or
 * past SA_REMOTE_BITS, whose bits need sa_bpos() (the full path's).
 */
static __always_inline bool sa_span_obj_start_fast(const struct sa_span *s, const void *p,
						   unsigned int *idx)
{
	return __sa_span_obj_start(s, p, idx, true);
}

/**
 * sa_span_obj_live() - is the object at @pos allocated?
 * @s: a small span
 * @pos: the object's bit position, sa_bpos() of its index
 *
 * Return: true if allocated and not freed (remotely or locally).
 */
static __always_inline bool sa_span_obj_live(const struct sa_span *s, unsigned int pos)
{
	return test_bit(pos, sa_abits(s)) && !test_bit(pos, sa_rbits(s));
}

/* The number of allocBits set among @s's objects (sa_span::alloc_count's). */
static inline unsigned int sa_span_alloc_weight(const struct sa_span *s)
{
	unsigned int w, n = 0, nw = BITS_TO_LONGS(s->nelems);

	for (w = 0; w < nw; w++) {
		unsigned long a = sa_abits(s)[sa_bword(w)];

		if (w == nw - 1)
			a &= BITMAP_LAST_WORD_MASK(s->nelems);
		n += hweight_long(a);
	}
	return n;
}

/*
 * An object handed out by a span, with SA_FRESH set in bit 0 when it was
 * never used since its pages were zeroed (needzero), so it needs no zeroing.
 */
#define SA_FRESH	1UL

/*
 * Mark the object at bit position @pos allocated. Return: true if it is
 * still zero (fresh).
 */
static __always_inline bool sa_span_mark_taken(struct sa_span *s, unsigned long pos)
{
	__set_bit(pos, sa_abits(s));
	s->alloc_count++;
	if (pos < s->dirty_pos)
		return false;
	s->dirty_pos = pos + 1;
	return true;
}

/**
 * sa_span_set_window() - move the allocCache window to word @w
 * @s: span owned by the caller
 * @w: the bitmaps' word
 * @cache: the window: bit b set if object @w * BITS_PER_LONG + b is free
 */
static __always_inline void sa_span_set_window(struct sa_span *s, unsigned int w,
					       unsigned long cache)
{
	s->alloc_cache = cache;
	s->freeindex = w * BITS_PER_LONG;
	s->winpos = sa_bpos(s->freeindex);
	s->winbase = s->base + (unsigned long)s->freeindex * s->elemsize;
}

/**
 * sa_span_take_bit() - mark the object at bit @b of the window allocated
 * @s: the span
 * @b: a free object's bit in the window (it need not be set there)
 *
 * Return: the object's address, with SA_FRESH if still zero.
 */
static __always_inline unsigned long sa_span_take_bit(struct sa_span *s, unsigned long b)
{
	unsigned long obj = s->winbase + b * s->elemsize;

	return sa_span_mark_taken(s, s->winpos + b) ? obj | SA_FRESH : obj;
}

/*
 * The window's objects are free, but one may carry a remote-free bit: a
 * caller's double free on another CPU that raced with the owner's free (it
 * saw the object still allocated). Such a stray bit frees nothing: the
 * object is left out of the window, and the fold drops the bit
 * (sa_span_fold_remote()), after which the object is handed out again.
 */

/*
 * The first object of @s's window, which is not empty: its bit in the
 * window, returned, and its bit position (sa_bpos()), in @pos.
 */
static __always_inline unsigned long sa_span_window_first(const struct sa_span *s,
							  unsigned long *pos)
{
	unsigned long b = __ffs(s->alloc_cache);

	*pos = s->winpos + b;
	return b;
}

/**
 * sa_span_take_window() - take the first object of a span's window
 * @s: span owned by the caller, whose window (alloc_cache) is not empty
 * @b: its first object's bit in the window, from sa_span_window_first()
 * @pos: that object's bit position, which has no stray bit
 * @obj: receives the object
 *
 * Context: owner of @s (per-CPU critical section).
 * Return: true if the object is still zero (fresh).
 */
static __always_inline bool sa_span_take_window(struct sa_span *s, unsigned long b,
						unsigned long pos, void **obj)
{
	__clear_bit(b, &s->alloc_cache);
	*obj = (void *)(s->winbase + b * s->elemsize);
	return sa_span_mark_taken(s, pos);
}

/**
 * sa_span_next_free() - take a free object from a span (Go's nextFreeFast)
 * @s: span owned by the caller
 *
 * Context: owner of @s (per-CPU critical section), or central lock holder of
 * an uncached span.
 * Return: the object, with SA_FRESH (see above), or 0 when the span is full.
 */
static __always_inline unsigned long sa_span_next_free(struct sa_span *s)
{
	while (s->alloc_cache) {
		unsigned long pos, b = sa_span_window_first(s, &pos);

		__clear_bit(b, &s->alloc_cache);
		if (likely(!test_bit(pos, sa_rbits(s))))
			return sa_span_take_bit(s, b);
	}
	return sa_span_next_free_slow(s);
}

/*
 * The object at bit position @pos of @s, just freed by its owner, goes back
 * into the window if it lies there: the next allocation reuses it (hot in
 * the cache).
 */
static __always_inline void sa_span_window_return(struct sa_span *s, unsigned int pos)
{
	unsigned int b = pos - s->winpos;

	/* likely: a free of a recent allocation, as in a hot pair. */
	if (likely(b < BITS_PER_LONG))
		__set_bit(b, &s->alloc_cache);
}

/**
 * sa_span_free_local() - the owner frees the object at bit position @pos
 * @s: a span the caller owns (its current or a retired one)
 * @pos: the object's bit position, sa_bpos() of its index
 *
 * Return: false if the object was freed already, locally or remotely (a
 * double free, which the caller reports); nothing is changed then.
 */
static __always_inline bool sa_span_free_local(struct sa_span *s, unsigned int pos)
{
	if (unlikely(test_bit(pos, sa_rbits(s)) || !__test_and_clear_bit(pos, sa_abits(s))))
		return false;
	s->alloc_count--;
	sa_span_window_return(s, pos);
	return true;
}

unsigned long sa_span_adopt(struct sa_span *s);

/*
 * The kernel's sanitizers see spanalloc's objects: with generic KASAN a free
 * object is poisoned and a live one unpoisoned up to the bytes requested (the
 * rest up to its usable size stays poisoned until spanalloc_usable_size()
 * hands it out, as with kmalloc and ksize); kmemleak is told of every object.
 * kasan_poison() is exported but declared only in mm/kasan/kasan.h.
 */
#ifdef CONFIG_KASAN_GENERIC
void kasan_poison(const void *addr, size_t size, u8 value, bool init);

#define SA_KASAN_GRANULE	BIT(KASAN_SHADOW_SCALE_SHIFT)
#define SA_KASAN_REDZONE	0xFC	/* KASAN_SLAB_REDZONE */
#define SA_KASAN_FREE		0xFB	/* KASAN_SLAB_FREE */

static inline void sa_kasan_unpoison(const void *p, size_t size)
{
	kasan_poison(p, round_up(size, SA_KASAN_GRANULE), 0, false);
}

/* Poison what lies between the bytes requested and the object's end. */
static inline void sa_kasan_tail(const void *p, size_t req, size_t size)
{
	size_t r = round_up(req, SA_KASAN_GRANULE);

	if (r < size)
		kasan_poison(p + r, size - r, SA_KASAN_REDZONE, false);
	if (req & (SA_KASAN_GRANULE - 1))
		*(u8 *)kasan_mem_to_shadow(p + (req & ~(SA_KASAN_GRANULE - 1))) =
			req & (SA_KASAN_GRANULE - 1);
}

static inline void sa_kasan_free(const void *p, size_t size)
{
	kasan_poison(p, size, SA_KASAN_FREE, false);
}

/* The shadow byte of @p (for the tests). */
static inline u8 sa_kasan_shadow(const void *p)
{
	return *(u8 *)kasan_mem_to_shadow(p);
}
#else
static inline void sa_kasan_unpoison(const void *p, size_t size) {}
static inline void sa_kasan_tail(const void *p, size_t req, size_t size) {}
static inline void sa_kasan_free(const void *p, size_t size) {}
static inline u8 sa_kasan_shadow(const void *p) { return 0; }
#endif

/* Fault injection reports nothing by itself: no stack dump per failure. */
static inline void sa_fault_quiet(struct fault_attr *attr)
{
#ifdef CONFIG_FAULT_INJECTION
	attr->verbose = 0;
#endif
}

/*
 * kmemleak allocates its own metadata from the slab allocator, which must not
 * happen in hardirq context (its locks sleep on PREEMPT_RT): an object
 * allocated there is not reported to kmemleak, and remembered as such.
 */
static inline void sa_kmemleak_alloc(const void *p, size_t size, gfp_t gfp)
{
	struct sa_span *s;

	if (!IS_ENABLED(CONFIG_DEBUG_KMEMLEAK))
		return;
	if (likely(!in_hardirq())) {
		kmemleak_alloc(p, size, 1, gfp);
		return;
	}
	s = sa_lookup(p);
	set_bit(s->state == SA_SPAN_SMALL ? sa_span_index(s, p) : 0, s->kmemleak_untracked);
}

static inline void sa_kmemleak_free(struct sa_span *s, unsigned int idx, const void *p)
{
	if (!IS_ENABLED(CONFIG_DEBUG_KMEMLEAK))
		return;
	if (unlikely(test_bit(idx, s->kmemleak_untracked)))
		clear_bit(idx, s->kmemleak_untracked);
	else
		kmemleak_free(p);
}

#endif /* _SPANALLOC_INTERNAL_H */
