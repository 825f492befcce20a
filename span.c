// SPDX-License-Identifier: GPL-2.0
/*
 * spanalloc: a slab-style allocator on the design of the Go runtime's.
 *
 * This file holds the overview, the spans (Go's mspan) and the central
 * lists (Go's mcentral).
 *
 * Glossary
 * --------
 * page:       a kernel page, PAGE_SIZE (4 KiB) bytes.
 * chunk:      pages taken from alloc_pages() in one call: 1 MiB (order 8),
 *             or a smaller order when the buddy allocator has no such block.
 * span:       a run of contiguous pages inside a chunk (struct sa_span).
 * object:     one of the equal slots a small span is cut into.
 * size class: one of Go's 67 object sizes, 8 B to 32 KiB (sizeclass.c); it
 *             fixes the object size and the pages per span.
 * pool:       where objects of one geometry come from: one per size class
 *             for spanalloc_alloc(), one per named cache (struct sa_pool),
 *             whose objects keep the cache's own size (sa_cache_geometry(),
 *             SLUB's policy for the pages per span). Spans never move
 *             between pools.
 * large:      a request above 32 KiB: one object of whole pages, from the
 *             page heap (up to a chunk) or from alloc_pages() (huge).
 *
 * Layers, top down
 * ----------------
 * 1. Per-CPU caches (spanmod.c, Go's mcache): each CPU owns one span per
 *    pool and allocates from its allocation bitmap without locks or atomics.
 * 2. Central lists (this file, Go's mcentral): per pool and NUMA node, the
 *    spans no CPU owns, partial or full, under one spinlock each.
 * 3. The page heap (heap.c, Go's mheap): per NUMA node, free spans and the
 *    chunks they come from; coalesces freed spans.
 * 4. The page allocator: alloc_pages() / __free_page().
 *
 * Allocating an object of a small size
 * ------------------------------------
 * 1. Size to class by a table index (sa_size_to_class(); the fast path
 *    reads a table of every 8 bytes made from it at load).
 * 2. On this CPU, with preemption off, take the first free object of the
 *    owned span's window (allocCache: the free objects of one allocBits
 *    word) with a count-trailing-zeros (sa_span_take_window()). Zero it
 *    (init_on_alloc, __GFP_ZERO) unless it was never used since its pages
 *    were zeroed (needzero), as the pool's zeroing kind says (sa_zero()).
 * 3. If the window is empty, load the next allocBits word with a free
 *    object; at the end fold the remote frees in and scan again from 0.
 * 4. If the span is full, take back a span this CPU retired that has room
 *    again (no lock), else a partial span from the central list, or carve a
 *    new one from the page heap. The full span retires: the CPU keeps it (up
 *    to SA_RETIRED of them, SA_RETIRED_PAGES pages per pool, like SLUB's
 *    per-CPU partial slabs), so frees into it stay local, and the oldest
 *    retired span goes back to the central list instead.
 * 5. If the heap has no free span long enough, it takes a chunk from
 *    alloc_pages().
 * The exported calls first try a fast path (spanmod.c) that does step 2
 * only and calls nothing; whatever it does not handle (an empty window,
 * debug mode, tracing, init_on_free, a caller mistake, a large object) goes
 * to the full path, which does every step, check and report. Bulk calls take
 * all their objects in one per-CPU critical section (one more per refill),
 * and free each run of objects of the owned span in one.
 *
 * Freeing an object
 * -----------------
 * 1. Pointer to span (sa_lookup()): a bit per 1 MiB granule of the direct
 *    map says whether spanalloc ever held memory there; if so, the page's
 *    page->mapping must be SA_PAGE_TAG and page->private is the span. The
 *    object index comes by multiplication (sa_span_index()); a pointer that
 *    is not an object's start, or whose object is not live, is refused.
 *    The lookup and every use of its span run with preemption off or under
 *    rcu_read_lock(): span descriptors are SLAB_TYPESAFE_BY_RCU, so one that
 *    a racing double free gave back meanwhile is still a descriptor.
 * 2. If this CPU owns the span (its current span or a retired one): clear
 *    the allocBit, and put the object back into the window if it lies in
 *    the window's word (the next allocation reuses it); done.
 * 3. Else set the object's remote-free bit (an atomic test-and-set, which
 *    also catches a double free) and put the object in this CPU's batch of
 *    the pool (sa_pcpu::frees), without a lock.
 * 4. A full batch is applied under the central lock, one lock per run of
 *    spans of a node (sa_central_apply_frees()): a span another CPU owns is
 *    left to its owner, which folds the remote-free bits into allocBits when
 *    its window runs out or it gives the span back; in a span no CPU owns the
 *    object's two bits are cleared, and the span moves from full to
 *    partial. An interrupt that finds this CPU's cache busy, or a full
 *    batch, takes the central lock for its one object (sa_central_free()).
 * 5. A span with no live object that no CPU owns goes back to the page heap
 *    and merges with its free neighbours.
 *
 * Lock order
 * ----------
 * 1. cpu_hotplug_lock (cpus_read_lock)
 * 2. sa_pools_mutex: the list of named caches (spanmod.c)
 * 3. sa_central::lock: one pool's spans on one node
 * 4. sa_heap::lock: one node's page heap
 * A per-CPU critical section (sa_pcpu::busy with preemption off) takes no
 * lock, but for applying its batch of frees (central locks, one at a time);
 * interrupts that find it busy take the locked path. Central and
 * heap locks are raw spinlocks taken with interrupts off, held for bounded
 * work: GFP_ATOMIC callers may be in hardirq context, even on PREEMPT_RT's
 * lock rules. Nothing under them calls the page or slab allocator.
 *
 * Hardirq context
 * ---------------
 * In hardirq context spanalloc serves only from memory it already holds (its
 * spans and free pages) and never calls the page allocator, whose locks may
 * sleep on PREEMPT_RT; when it holds nothing suitable, the allocation fails.
 * So that it rarely does, every carve in another context that leaves a node's
 * heap with fewer than SA_IRQ_RESERVE_PAGES free pages grows it by a chunk,
 * without sleeping (sa_heap_alloc_span()); the scavenger's goal is larger.
 * The heap also starts with a chunk of that size on each node.
 *
 * NMI context
 * -----------
 * Not allowed, as for kmalloc(): the interrupted code may hold a central or
 * heap lock on this CPU. Only the fast paths, which take no lock, serve an
 * NMI (frees not, where KASAN or kmemleak hooks are built in: kmemleak
 * locks; nor frees of an 8 B object past the 256th of its span, which take
 * the full path, see sa_bpos()); every other way reports the mistake and
 * refuses (an allocation fails, a free leaks its object) rather than risk
 * the deadlock (sa_nmi_refused()).
 */
#include <linux/bitmap.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "internal.h"

const struct sa_span sa_no_span;

/* Go's sweep for explicit frees: fold remote frees into allocBits. */
static void sa_span_fold_remote(struct sa_span *s)
{
	unsigned int i;

	for (i = 0; i < BITS_TO_LONGS(s->nelems); i++) {
		unsigned int pw = sa_bword(i);
		unsigned long w;

		if (!READ_ONCE(sa_rbits(s)[pw]))
			continue;
		w = xchg(&sa_rbits(s)[pw], 0);
		/*
		 * A bit on a free object is a caller's double free that raced
		 * with the object's first free (see sa_central_free()): it frees
		 * nothing, and must not count.
		 */
		w &= sa_abits(s)[pw];
		sa_abits(s)[pw] &= ~w;
		s->alloc_count -= hweight_long(w);
	}
}

/**
 * sa_span_next_free_slow() - refill the allocCache window (Go's nextFreeIndex)
 * @s: span owned by the caller
 *
 * Context: owner of @s, or central lock holder of an uncached span.
 * Return: a free object, with SA_FRESH (see internal.h), or 0 when full.
 */
unsigned long sa_span_next_free_slow(struct sa_span *s)
{
	unsigned int w, nw = BITS_TO_LONGS(s->nelems);
	bool folded = false;

	/* Words after the window's, then all of them after the fold. */
	for (w = BIT_WORD(s->freeindex) + 1;; w = 0) {
		for (; w < nw; w++) {
			unsigned int pw = sa_bword(w);
			/* Free, without a stray remote bit; none past nelems. */
			unsigned long m = ~(sa_abits(s)[pw] | READ_ONCE(sa_rbits(s)[pw]));

			if (m) {
				unsigned long b = __ffs(m);

				sa_span_set_window(s, w, m & ~BIT(b));
				return sa_span_take_bit(s, b);
			}
		}
		if (folded)
			break;
		sa_span_fold_remote(s);
		if (s->alloc_count >= s->nelems)
			break;
		folded = true;
	}
	/*
	 * Full, or its only free objects carry stray bits that came after the
	 * fold (the next fold drops them): the window is the last word, and
	 * the next search folds.
	 */
	WARN_ON_ONCE(s->alloc_count < s->nelems && sa_span_alloc_weight(s) == s->nelems);
	sa_span_set_window(s, nw - 1, 0);
	return 0;
}

/* Prepare the allocCache of a span a CPU is about to own. */
static void sa_span_start_window(struct sa_span *s)
{
	sa_span_set_window(s, 0, ~(sa_abits(s)[0] | READ_ONCE(sa_rbits(s)[0])));
}

/**
 * sa_span_adopt() - allocate again from a span the caller retired
 * @s: a span the caller owns and stopped allocating from
 *
 * Only a span with a quarter of its objects free, remote frees counted, is
 * taken up again: one with a few would be full again at once, and refill
 * after refill would fold and scan it for an object or two. If so, folds the
 * remote frees in and restarts the allocCache window at 0.
 *
 * Context: owner of @s.
 * Return: a free object (with SA_FRESH), or 0.
 */
unsigned long sa_span_adopt(struct sa_span *s)
{
	unsigned int i, free = s->nelems - s->alloc_count, want = max(s->nelems / 4, 1U);

	/* Remote frees counted only as far as needed (none, most often). */
	for (i = 0; free < want && i < BITS_TO_LONGS(s->nelems); i++) {
		unsigned long w = READ_ONCE(sa_rbits(s)[sa_bword(i)]);

		if (w)
			free += hweight_long(w);
	}
	if (free < want)
		return 0;
	sa_span_fold_remote(s);
	sa_span_start_window(s);
	return sa_span_next_free(s);
}

/* Cut a fresh span from the heap into objects of @pool's class. */
static void sa_span_init_small(struct sa_pool *pool, struct sa_span *s)
{
	const struct sa_class *cls = pool->cls;
	/* The bit position past the last object's. */
	unsigned int i, all_dirty = sa_bpos(cls->nelems - 1) + 1;

	s->pool = pool;
	s->elemsize = cls->size;
	s->div_mul = cls->div_mul;
	s->nelems = cls->nelems;
	s->nelems_fast = min_t(unsigned int, s->nelems, SA_REMOTE_BITS);
	s->alloc_count = 0;
	bitmap_zero(s->bits, 2 * SA_MAX_NELEMS);
	if (IS_ENABLED(CONFIG_DEBUG_KMEMLEAK))
		bitmap_zero(s->kmemleak_untracked, SA_MAX_NELEMS);
	/* Slots past nelems in the last word look allocated forever. */
	if (s->nelems % BITS_PER_LONG)
		sa_abits(s)[sa_bword(BIT_WORD(s->nelems))] = BITMAP_FIRST_WORD_MASK(s->nelems);
	sa_span_start_window(s);
	/* Dirty pages: no object is still zero (dirty_pos past the last one). */
	s->dirty_pos = s->needzero ? all_dirty : 0;
	sa_kasan_unpoison((void *)s->base, (size_t)s->npages << PAGE_SHIFT);
	if (pool->ctor) {
		for (i = 0; i < s->nelems; i++)
			pool->ctor((void *)(s->base + (unsigned long)i * s->elemsize));
		s->dirty_pos = all_dirty;
	}
	s->quarantined = false;
	if (static_branch_unlikely(&sa_debug_active) && pool->debug)
		sa_debug_init_span(pool, s);
	/* Until an object is handed out, touching it is a KASAN report. */
	sa_kasan_free((void *)s->base, (size_t)s->npages << PAGE_SHIFT);
	s->cached = false;
	s->owner = NULL;
	/* Publish the geometry before the state (sa_lookup() readers). */
	smp_wmb();
	WRITE_ONCE(s->state, SA_SPAN_SMALL);
}

/**
 * sa_central_get_span() - a span with free objects for a per-CPU cache
 * @pool: the pool
 * @node: NUMA node wanted
 * @gfp: the caller's flags; the page heap grows with them
 *
 * The span comes from @node's partial list, else from the page heap. It is
 * returned marked cached: the caller owns its allocation state until it
 * hands it back with sa_central_put_span().
 *
 * Context: any context but NMI; may sleep if @gfp allows.
 * Return: the span, or NULL when no memory could be had.
 */
struct sa_span *sa_central_get_span(struct sa_pool *pool, int node, gfp_t gfp)
{
	struct sa_central *c = pool->central[node];
	unsigned long flags;
	struct sa_span *s;

	raw_spin_lock_irqsave(&c->lock, flags);
	s = list_first_entry_or_null(&c->partial, struct sa_span, list);
	if (s) {
		list_del(&s->list);
		c->nr_partial--;
		c->nr_cached++;
		s->cached = true;
		sa_span_start_window(s);
	}
	raw_spin_unlock_irqrestore(&c->lock, flags);
	if (s)
		return s;

	s = sa_heap_alloc_span(node, pool->cls->npages, gfp);
	if (!s)
		return NULL;
	sa_span_init_small(pool, s);
	c = pool->central[s->node];
	raw_spin_lock_irqsave(&c->lock, flags);
	s->cached = true;
	c->nr_cached++;
	raw_spin_unlock_irqrestore(&c->lock, flags);
	return s;
}

/* Put an uncached span where it belongs; true if it is empty. */
static bool sa_central_place(struct sa_central *c, struct sa_span *s)
{
	lockdep_assert_held(&c->lock);
	if (unlikely(s->quarantined)) {
		list_add(&s->list, &c->quarantine);
		return false;
	}
	if (!s->alloc_count)
		return true;
	if (s->alloc_count >= s->nelems) {
		list_add(&s->list, &c->full);
		c->nr_full++;
	} else {
		list_add(&s->list, &c->partial);
		c->nr_partial++;
	}
	return false;
}

/*
 * An uncached span's count went down under @c's lock: move it to the list it
 * now belongs on. Return: true if it is empty, off every list, for the heap.
 */
static bool sa_central_update(struct sa_central *c, struct sa_span *s, bool was_full)
{
	lockdep_assert_held(&c->lock);
	/* Still partial: it stays where it is on the list. */
	if (!was_full && s->alloc_count && !s->quarantined)
		return false;
	list_del(&s->list);
	if (!s->quarantined) {
		if (was_full)
			c->nr_full--;
		else
			c->nr_partial--;
	}
	return sa_central_place(c, s);
}

/**
 * sa_central_put_span() - a per-CPU cache gives a span back
 * @pool: the pool
 * @s: a span the caller owned and no longer holds in its cache
 *
 * Context: any context but NMI.
 */
void sa_central_put_span(struct sa_pool *pool, struct sa_span *s)
{
	struct sa_central *c = pool->central[s->node];
	unsigned long flags;
	bool empty;

	raw_spin_lock_irqsave(&c->lock, flags);
	s->cached = false;
	c->nr_cached--;
	sa_span_fold_remote(s);
	empty = sa_central_place(c, s);
	raw_spin_unlock_irqrestore(&c->lock, flags);
	if (empty)
		sa_heap_free_span(s);
}

/**
 * sa_central_free() - free an object of a span this CPU does not own
 * @pool: the span's pool
 * @s: the span
 * @pos: the object's bit position, sa_bpos() of its index
 *
 * Context: any context but NMI.
 * Return: true, or false if the object was not live (a double free, which
 * the caller reports).
 */
bool sa_central_free(struct sa_pool *pool, struct sa_span *s, unsigned int pos)
{
	struct sa_central *c = pool->central[s->node];
	unsigned long flags;
	bool empty = false;

	raw_spin_lock_irqsave(&c->lock, flags);
	if (s->cached) {
		/* The owner folds it in; the object is not reused before. */
		if (!test_bit(pos, sa_abits(s)) || test_and_set_bit(pos, sa_rbits(s)))
			goto double_free;
	} else {
		bool was_full = s->alloc_count >= s->nelems;

		/* A free still in some CPU's batch counts as freed. */
		if (test_bit(pos, sa_rbits(s)) || !__test_and_clear_bit(pos, sa_abits(s)))
			goto double_free;
		s->alloc_count--;
		empty = sa_central_update(c, s, was_full);
	}
	raw_spin_unlock_irqrestore(&c->lock, flags);
	if (empty)
		sa_heap_free_span(s);
	return true;
double_free:
	raw_spin_unlock_irqrestore(&c->lock, flags);
	return false;
}

/*
 * One lock hold of sa_central_apply_frees(): from objs[@i], whose lookup
 * found @s, on while the objects' spans belong to the same central list.
 * Return: the index of the first object not dealt with.
 */
static unsigned int sa_central_apply_run(struct sa_pool *pool, struct sa_span *s,
					 const unsigned long *objs, unsigned int i,
					 unsigned int nr, struct list_head *empty)
{
	struct sa_central *c = pool->central[READ_ONCE(s->node)];
	struct sa_span *cur = NULL;	/* checked under this lock, held since */
	unsigned long flags, a;
	unsigned int idx;

	raw_spin_lock_irqsave(&c->lock, flags);
	for (;;) {
		a = ~objs[i];
		/* Geometry, pool and node are constant while the state is small. */
		if (s != cur) {
			if (READ_ONCE(s->state) != SA_SPAN_SMALL || s->pool != pool ||
			    pool->central[s->node] != c)
				goto next;
			cur = s;
		}
		/*
		 * A span a CPU owns is its owner's to fold; in another, the bit
		 * may be gone: folded by a drain, or taken with the span by
		 * sa_central_get_span()'s new owner. A remote bit on a free
		 * object (a racing double free) frees nothing.
		 */
		if (!s->cached && sa_span_obj_start(s, (void *)a, &idx) &&
		    test_and_clear_bit(sa_bpos(idx), sa_rbits(s)) &&
		    __test_and_clear_bit(sa_bpos(idx), sa_abits(s))) {
			bool was_full = s->alloc_count >= s->nelems;

			s->alloc_count--;
			if (sa_central_update(c, s, was_full)) {
				list_add(&s->list, empty);
				cur = NULL;
			}
		}
next:
		do {
			if (++i == nr)
				goto out;
			a = ~objs[i];
			if (cur && a - cur->base < ((unsigned long)cur->npages << PAGE_SHIFT))
				s = cur;
			else
				s = sa_lookup((void *)a);
		} while (!s);
		if (s != cur && pool->central[READ_ONCE(s->node)] != c)
			break;
	}
out:
	raw_spin_unlock_irqrestore(&c->lock, flags);
	return i;
}

/**
 * sa_central_apply_frees() - fold a CPU's batch of frees into their spans
 * @pool: the pool the objects were freed to
 * @objs: objects freed to spans the CPU did not own, as the complements of
 *        their addresses (sa_pcpu::frees); their remote-free bits were set
 *        when they were freed
 * @nr: how many
 * @empty: receives the spans left empty, for sa_central_free_empty()
 *
 * A span that a CPU owns is left to its owner, which folds remote frees in
 * (sa_span_next_free_slow(), sa_central_put_span()). In any other span the
 * object's remote-free bit is cleared with its allocBit, and the span moves
 * to the list it now belongs on. Spans are found again by lookup, never by
 * a kept pointer: meanwhile the span may have been folded (given back by its
 * owner), emptied and reused, so a span whose bit for the object is no
 * longer set is not this batch's to touch.
 *
 * Context: any context but NMI, with preemption off or in an RCU read-side
 * critical section; the caller holds no central or heap lock.
 */
void sa_central_apply_frees(struct sa_pool *pool, const unsigned long *objs, unsigned int nr,
			    struct list_head *empty)
{
	unsigned int i = 0;

	/* Span descriptors are SLAB_TYPESAFE_BY_RCU: a stale one is a span. */
	RCU_LOCKDEP_WARN(preemptible() && !rcu_read_lock_held(),
			 "applying frees outside an RCU read side");
	while (i < nr) {
		struct sa_span *s = sa_lookup((void *)~objs[i]);

		if (s)
			i = sa_central_apply_run(pool, s, objs, i, nr, empty);
		else
			i++;
	}
}

/**
 * sa_central_free_empty() - give the spans sa_central_apply_frees() emptied back
 * @empty: the list it filled
 *
 * Context: any context but NMI, outside any per-CPU critical section.
 */
void sa_central_free_empty(struct list_head *empty)
{
	struct sa_span *s, *n;

	list_for_each_entry_safe(s, n, empty, list) {
		list_del(&s->list);
		sa_heap_free_span(s);
	}
}

/**
 * sa_pool_live_objects() - objects of a pool allocated now
 * @pool: the pool, with every per-CPU cache drained
 *
 * Return: the number of live objects in uncached spans.
 */
unsigned long sa_pool_live_objects(struct sa_pool *pool)
{
	unsigned long live = 0, flags;
	struct sa_span *s;
	int node;

	for_each_node(node) {
		struct sa_central *c = pool->central[node];

		raw_spin_lock_irqsave(&c->lock, flags);
		list_for_each_entry(s, &c->partial, list)
			live += s->alloc_count;
		list_for_each_entry(s, &c->full, list)
			live += s->alloc_count;
		raw_spin_unlock_irqrestore(&c->lock, flags);
	}
	return live;
}

/* True if @k->div_mul divides every offset inside @k's objects exactly. */
static bool sa_div_exact(const struct sa_class *k)
{
	unsigned long end;
	unsigned int i;

	/* off / size is monotonic: the first and last byte of each object do. */
	for (i = 0; i < k->nelems; i++) {
		end = (unsigned long)(i + 1) * k->size - 1;
		if ((((u64)end * k->div_mul) >> 32) != i ||
		    (((u64)(end + 1 - k->size) * k->div_mul) >> 32) != i)
			return false;
	}
	return true;
}

/**
 * sa_cache_geometry() - the span geometry of a named cache's objects
 * @k: receives it
 * @size: object size in bytes, a multiple of 8 and of the cache's alignment
 *
 * A named cache is SLUB's kmem_cache: its objects are of the size asked for
 * (rounded to its alignment), not of the next Go size class, which would
 * waste up to 12.5% on every object. The span is the fewest pages, up to
 * SA_MAX_SPAN_PAGES (or the pages of one object, for the few that debug
 * metadata or alignment take past it), that hold at least
 * SA_CACHE_MIN_OBJS objects (or as many as that many pages can) with a
 * tail of at most 1/16 of the span, else at most 1/8, else the least
 * waste: the policy of SLUB's calc_slab_order(). Objects of a span of few
 * objects would send most allocations to the refill path.
 *
 * Return: true, or false if @size is not a multiple of 8 or is above
 * SA_MAX_CACHE_SLOT (the caller refuses the cache).
 */
bool sa_cache_geometry(struct sa_class *k, unsigned int size)
{
	unsigned int frac, np, n, tail, want, best = 0, best_tail = 0, maxp;

	if (!size || size > SA_MAX_CACHE_SLOT || size % 8)
		return false;
	maxp = max_t(unsigned int, SA_MAX_SPAN_PAGES, DIV_ROUND_UP(size, PAGE_SIZE));
	want = min_t(unsigned int, SA_CACHE_MIN_OBJS, maxp * PAGE_SIZE / size);
	for (frac = 16; frac >= 8 && !best; frac /= 2) {
		for (np = 1; np <= maxp && !best; np++) {
			n = np * PAGE_SIZE / size;
			if (n >= want && n <= SA_MAX_NELEMS &&
			    np * PAGE_SIZE - n * size <= np * PAGE_SIZE / frac)
				best = np;
		}
	}
	/* Else the span whose tail is the smallest part of it. */
	if (!best) {
		for (np = 1; np <= maxp; np++) {
			n = np * PAGE_SIZE / size;
			tail = np * PAGE_SIZE - n * size;
			if (n && n <= SA_MAX_NELEMS &&
			    (!best || (u64)tail * best < (u64)best_tail * np)) {
				best = np;
				best_tail = tail;
			}
		}
	}
	k->size = size;
	k->npages = best;
	k->nelems = best * PAGE_SIZE / size;
	k->div_mul = U32_MAX / size + 1;
	return best && sa_div_exact(k);
}
EXPORT_SYMBOL_NS_GPL(sa_cache_geometry, SPANALLOC_INTERNAL);

/**
 * sa_pcpu_alloc() - allocate per-CPU caches, each without a span
 *
 * Context: process context, may sleep.
 * Return: the caches (SA_NO_SPAN on every CPU), or NULL.
 */
struct sa_pcpu __percpu *sa_pcpu_alloc(void)
{
	struct sa_pcpu __percpu *pcpu = alloc_percpu(struct sa_pcpu);
	int cpu;

	if (pcpu)
		for_each_possible_cpu(cpu)
			per_cpu_ptr(pcpu, cpu)->span = SA_NO_SPAN;
	return pcpu;
}

/*
 * sa_pool::zero for objects of @usable bytes every @size bytes (a debug
 * pool's are not page aligned), zeroed on allocation if @init.
 */
static u8 sa_zero_kind(bool init, unsigned int usable, unsigned int size)
{
	if (!init)
		return SA_ZERO_NONE;
	if (usable == PAGE_SIZE && size == PAGE_SIZE)
		return SA_ZERO_PAGE;
	if (usable >= PAGE_SIZE)
		return SA_ZERO_CALL;
	if (usable && IS_ALIGNED(usable, 256))
		return SA_ZERO_BLOCKS;
	if (usable > SA_ZERO_WORDS * sizeof(u64))
		return SA_ZERO_LINES;
	return usable / sizeof(u64);
}

/**
 * sa_pool_init() - set up a pool for one size class or named cache
 * @pool: zeroed pool
 * @cls: span geometry: a size class of sa_classes, or a named cache's own
 * @ctor: constructor of a named cache, or NULL
 * @cache: the named cache, or NULL
 * @debug: debug mode: poison, red zones and checks
 *
 * Context: process context, may sleep.
 * Return: 0 or -ENOMEM.
 */
int sa_pool_init(struct sa_pool *pool, const struct sa_class *cls,
		 void (*ctor)(void *), struct spanalloc_cache *cache, bool debug)
{
	int node;

	pool->cls = cls;
	pool->class_idx = cache ? 0 : cls - sa_classes;
	pool->debug = debug;
	/* debug=1's pools of classes 1 to 4 hold no metadata and serve nothing. */
	pool->usable = debug ? max_t(int, cls->size - SA_DBG_META, 0) : cls->size;
	pool->free_batch = clamp_t(unsigned int, SA_FREE_BATCH_PAGES / pool->cls->npages,
				   1, SA_FREE_BATCH);
	pool->max_retired = min_t(unsigned int, SA_RETIRED_PAGES / pool->cls->npages,
				  SA_RETIRED);
	if (debug)
		sa_hooks_debug_on(pool);
	pool->ctor = ctor;
	/* The full path reports __GFP_ZERO for a constructor's objects. */
	pool->gfp_full = SA_GFP_ZONES | (ctor ? __GFP_ZERO : 0);
	pool->zero = sa_zero_kind(want_init_on_alloc(0) && !ctor, pool->usable, cls->size);
	pool->cache = cache;
	pool->pcpu = sa_pcpu_alloc();
	pool->central = kcalloc(nr_node_ids, sizeof(*pool->central), GFP_KERNEL);
	if (!pool->pcpu || !pool->central)
		goto fail;
	for_each_node(node) {
		struct sa_central *c = kzalloc_node(sizeof(*c), GFP_KERNEL, node);

		if (!c)
			goto fail;
		raw_spin_lock_init(&c->lock);
		INIT_LIST_HEAD(&c->partial);
		INIT_LIST_HEAD(&c->full);
		INIT_LIST_HEAD(&c->quarantine);
		pool->central[node] = c;
	}
	return 0;
fail:
	sa_pool_destroy(pool);
	return -ENOMEM;
}

/**
 * sa_pool_destroy() - free a pool's structures
 * @pool: a pool whose per-CPU caches are drained
 *
 * Spans that still hold live objects are leaked on purpose, so that the
 * objects stay valid; the caller reports them.
 */
void sa_pool_destroy(struct sa_pool *pool)
{
	struct sa_span *s, *n;
	int node;

	if (pool->central) {
		for_each_node(node) {
			struct sa_central *c = pool->central[node];

			if (!c)
				continue;
			/* Quarantined spans hold nothing anyone can still use. */
			list_for_each_entry_safe(s, n, &c->quarantine, list) {
				list_del(&s->list);
				sa_heap_free_span(s);
			}
			kfree(c);
		}
		kfree(pool->central);
		pool->central = NULL;
	}
	free_percpu(pool->pcpu);
	pool->pcpu = NULL;
	sa_hooks_debug_off(pool);
}
