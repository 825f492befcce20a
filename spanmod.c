// SPDX-License-Identifier: GPL-2.0
/*
 * Per-CPU caches (Go's mcache), the exported API and the module's life.
 * See span.c for the overview, the glossary and the lock order.
 *
 * The per-CPU critical section: with preemption off, a CPU sets its pool's
 * sa_pcpu::busy, works on the spans it owns (the one it allocates from and
 * the ones it retired), and clears busy. Nothing else ever touches an owned
 * span's allocation state, so the fast
 * paths take no lock and make no atomic read-modify-write. An interrupt that
 * arrives while busy is set does not enter: it takes the locked central path,
 * as does a free of an object whose span this CPU does not own. One that
 * arrives between the test of busy and its store runs a whole section of its
 * own, and may change the cache: so the cache is read only after busy is set
 * (sa_pcpu_enter()).
 */
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/kernel.h>
#include <linux/kmemleak.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/topology.h>
#include <kunit/test-bug.h>
#include <kunit/resource.h>

#include <spanalloc.h>
#include "internal.h"

#define CREATE_TRACE_POINTS
#include "spanalloc_trace.h"

struct sa_pool sa_class_pools[SA_NUM_CLASSES];
LIST_HEAD(sa_caches);
/* Protects sa_caches and every walk over the pools; see span.c's lock order. */
DEFINE_MUTEX(sa_pools_mutex);
static enum cpuhp_state sa_cpuhp_state;
atomic_long_t sa_errors = ATOMIC_LONG_INIT(0);
DEFINE_PER_CPU(struct sa_large_stats, sa_large);
DEFINE_STATIC_KEY_FALSE(sa_hooks);

/*
 * @caller, or for 0 the return address of the exported function the code is
 * inlined into: the fast paths pass 0, so that only the ways that report or
 * call on read it.
 */
#define sa_caller(caller)	((caller) ?: _RET_IP_)

/*
 * Size to class pool: the class of every 8 bytes of small size, made from
 * sa_size_to_class() at load (4 KiB), and each class's pool. One test of
 * the size, which the fast path has made already, and two loads.
 */
static u8 sa_size_class[SA_MAX_SMALL / SA_SMALL_SIZE_DIV] __ro_after_init;
static struct sa_pool *sa_class_pool[SA_NUM_CLASSES] __ro_after_init;

/* The class pool of a @size from 1 to SA_MAX_SMALL, as sa_size_to_class(). */
static __always_inline struct sa_pool *sa_size_to_pool(size_t size)
{
	return sa_class_pool[sa_size_class[(size - 1) / SA_SMALL_SIZE_DIV]];
}

/*
 * A cache destroyed with no live object: its pool freed (sa_pool_destroy(),
 * per-CPU caches sa_dead_pcpu), the structure kept in the graveyard so that
 * a caller who goes on using it is told so.
 */
static inline bool sa_cache_buried(const struct spanalloc_cache *cache)
{
	return !cache->pool.central;
}

/*
 * Debug mode is on for a pool: sa_debug_active for good, and a reference on
 * sa_hooks for as long as the pool lives (sa_hooks_debug_off()).
 */
void sa_hooks_debug_on(struct sa_pool *pool)
{
	static_branch_enable(&sa_debug_active);
	static_branch_inc(&sa_hooks);
	pool->hooks_ref = true;
}

/* A pool goes away: its reference on sa_hooks, if it took one, too. */
void sa_hooks_debug_off(struct sa_pool *pool)
{
	if (pool->hooks_ref) {
		pool->hooks_ref = false;
		static_branch_dec(&sa_hooks);
	}
}

/**
 * sa_trace_reg() - a spanalloc trace event is being enabled
 *
 * Return: 0.
 */
int sa_trace_reg(void)
{
	static_branch_inc(&sa_hooks);
	return 0;
}

/* A spanalloc trace event was disabled. */
void sa_trace_unreg(void)
{
	static_branch_dec(&sa_hooks);
}

/* A KUnit suite counting reports made in other contexts (kworkers, irqs, NMIs). */
static atomic_t *sa_capture;

/**
 * sa_counted_report() - count a report in the running KUnit test, if any
 *
 * In NMI context only the capture counts it: the test's resource list is
 * under a spinlock, which the interrupted test thread may hold.
 *
 * Return: true if a test counted it, so it must not be printed.
 */
bool sa_counted_report(void)
{
	struct kunit_resource *res;
	struct kunit *test = kunit_get_current_test();
	atomic_t *capture = READ_ONCE(sa_capture);

	if (!test || in_nmi()) {
		if (!capture)
			return false;
		atomic_inc(capture);
		return true;
	}
	res = kunit_find_named_resource(test, "spanalloc_errors");
	if (!res)
		return false;
	(*(int *)res->data)++;
	kunit_put_resource(res);
	return true;
}

/**
 * sa_report() - report a caller's mistake once, rate limited, and count it
 * @problem: what is wrong
 * @p: the pointer concerned
 * @caller: the caller's address
 *
 * A KUnit test that provokes the report on purpose counts it in its
 * "spanalloc_errors" resource instead of seeing it printed.
 */
void sa_report(const char *problem, const void *p, unsigned long caller)
{
	atomic_long_inc(&sa_errors);
	if (sa_counted_report())
		return;
	pr_err_ratelimited("spanalloc: %s: pointer %p, caller %pS\n", problem, p,
			   (void *)caller);
}

/**
 * spanalloc_errors() - how many caller mistakes have been reported
 *
 * Return: the count since the module was loaded.
 */
unsigned long spanalloc_errors(void)
{
	return atomic_long_read(&sa_errors);
}
EXPORT_SYMBOL_NS_GPL(spanalloc_errors, SPANALLOC_INTERNAL);

/*
 * __GFP_ZERO asks an object of @pool to be zeroed where init_on_alloc does
 * not (sa_pool::zero is SA_ZERO_NONE). A constructor's objects keep what it
 * wrote: __GFP_ZERO was reported and dropped (sa_pool::gfp_full). @named:
 * @pool may be a named cache's; a size class has no constructor.
 */
static __always_inline bool sa_gfp_zero(struct sa_pool *pool, gfp_t gfp, const bool named)
{
	return (gfp & __GFP_ZERO) && (!named || !pool->ctor);
}

/**
 * sa_pool_next() - walk every pool: the size classes', then the named caches'
 * @pool: the pool before, or NULL for the first
 *
 * Context: the list of caches stays as it is: sa_pools_mutex, held by the
 * caller or by whoever waits for it.
 * Return: the pool after @pool, or NULL after the last.
 */
struct sa_pool *sa_pool_next(struct sa_pool *pool)
{
	struct spanalloc_cache *cache;

	if (!pool)
		return &sa_class_pools[1];
	if (!pool->cache && pool != &sa_class_pools[SA_NUM_CLASSES - 1])
		return pool + 1;
	cache = pool->cache ? list_next_entry(pool->cache, list) :
			      list_first_entry(&sa_caches, struct spanalloc_cache, list);
	return list_entry_is_head(cache, &sa_caches, list) ? NULL : &cache->pool;
}

/*
 * Apply this CPU's batch of frees of @pool's spans it does not own; the spans
 * it empties go to the page heap after the critical section.
 */
static noinline void sa_pool_flush_frees(struct sa_pool *pool)
{
	LIST_HEAD(empty);
	struct sa_pcpu *c;

	c = get_cpu_ptr(pool->pcpu);
	/* Busy: this interrupts the owner; the next free flushes. */
	if (likely(sa_pcpu_enter(c))) {
		sa_central_apply_frees(pool, c->frees, c->nr_frees, &empty);
		c->nr_frees = 0;
		sa_pcpu_exit(c);
	}
	put_cpu_ptr(pool->pcpu);
	sa_central_free_empty(&empty);
}

/*
 * Retire @old, the span this CPU stops allocating from: it stays this CPU's,
 * so that frees into it stay local. Return: the span to give back to the
 * central list (the oldest retired one, or @old when the pool keeps none),
 * or NULL.
 * Context: inside @c's critical section.
 */
static struct sa_span *sa_pcpu_retire(struct sa_pool *pool, struct sa_pcpu *c,
				      struct sa_span *old)
{
	struct sa_span *out = NULL;

	if (!pool->max_retired) {
		WRITE_ONCE(old->owner, NULL);
		return old;
	}
	if (c->nr_retired >= pool->max_retired) {
		out = sa_pcpu_unretire(c, 0);
		WRITE_ONCE(out->owner, NULL);
	}
	c->retired[c->nr_retired++] = old;
	return out;
}

/*
 * Allocate from a retired span that has free objects again, newest first,
 * and make it this CPU's span; the current one takes its place.
 * Context: inside @c's critical section.
 * Return: the object (with SA_FRESH), or 0.
 */
static unsigned long sa_pcpu_take_retired(struct sa_pcpu *c, int node)
{
	unsigned long obj;
	int i;

	for (i = c->nr_retired - 1; i >= 0; i--) {
		struct sa_span *s = c->retired[i];

		if ((node != NUMA_NO_NODE && s->node != node) ||
		    s->node != numa_mem_id() || unlikely(READ_ONCE(s->quarantined)))
			continue;
		obj = sa_span_adopt(s);
		if (!obj)
			continue;
		if (sa_pcpu_span(c))
			c->retired[i] = c->span;
		else
			sa_pcpu_unretire(c, i);
		c->span = s;
		return obj;
	}
	return 0;
}

/* Take a new span into this CPU's cache, or serve one object without. */
static noinline unsigned long sa_pool_refill(struct sa_pool *pool, gfp_t gfp, int node)
{
	struct sa_span *s, *old = NULL;
	struct sa_pcpu *c;
	unsigned long obj = 0;
	int want = node == NUMA_NO_NODE ? numa_mem_id() : node;

	/* Frees waiting in this CPU's batch may leave a span partial: first. */
	if (this_cpu_read(pool->pcpu->nr_frees))
		sa_pool_flush_frees(pool);
	/* A span this CPU retired may have room again: no lock needed. */
	c = get_cpu_ptr(pool->pcpu);
	if (likely(sa_pcpu_enter(c))) {
		if (c->nr_retired)
			obj = sa_pcpu_take_retired(c, node);
		sa_pcpu_exit(c);
	}
	put_cpu_ptr(pool->pcpu);
	if (obj)
		return obj;
	s = sa_central_get_span(pool, want, gfp);
	if (!s)
		return 0;
	c = get_cpu_ptr(pool->pcpu);
	if (likely(s->node == numa_mem_id() && sa_pcpu_enter(c))) {
		old = sa_pcpu_span(c);
		c->span = s;
		WRITE_ONCE(s->owner, c);
		obj = sa_span_next_free(s);
		if (old)
			old = sa_pcpu_retire(pool, c, old);
		sa_pcpu_exit(c);
		this_cpu_inc(pool->pcpu->stat[SA_REFILL]);
		if (old)
			this_cpu_inc(pool->pcpu->stat[SA_FLUSH]);
		put_cpu_ptr(pool->pcpu);
		if (old)
			sa_central_put_span(pool, old);
	} else {
		/* Interrupted a critical section, or another node: no caching. */
		put_cpu_ptr(pool->pcpu);
		obj = sa_span_next_free(s);
		sa_central_put_span(pool, s);
	}
	return obj;
}

/*
 * Zero @len bytes at @p, an object or a span: whole pages (@p on a page,
 * @len a multiple of PAGE_SIZE) with clear_page(), as the page allocator
 * zeroes a page, in the variant the kernel chose for this CPU at boot (rep
 * stos where the CPU does that fast); else with memset(). Return: @p.
 */
static noinline notrace void *sa_zero_big(void *p, size_t len)
{
	size_t i;

	/* Not whole pages: under a page, a size like 4864, a debug cache's. */
	if (!IS_ALIGNED((unsigned long)p | len, PAGE_SIZE))
		return memset(p, 0, len);
	for (i = 0; i < len; i += PAGE_SIZE)
		clear_page(p + i);
	return p;
}

/* Zero 64 bytes at @q by eight word stores: no call, no loop. */
static __always_inline void sa_zero_line(u64 *q)
{
	q[0] = 0;
	q[1] = 0;
	q[2] = 0;
	q[3] = 0;
	q[4] = 0;
	q[5] = 0;
	q[6] = 0;
	q[7] = 0;
}

/*
 * Zero @len bytes at @p, more than 64 and a multiple of 8, by lines of 64
 * bytes, eight word stores each, the last line ending at @p + @len
 * (overlapping the one before it unless @len is a multiple of 64). This is
 * memset()'s own loop without its call, length split and alignment tests
 * (about 20 instructions of a 256 byte object's 66). The empty asm keeps
 * a compiler from turning the loop back into a memset() call (Debian 12's
 * gcc does not, with or without it). Return: @p.
 */
static __always_inline void *sa_zero_lines(void *p, unsigned int len)
{
	u64 *q = p, *last = p + len - 64;

	do {
		sa_zero_line(q);
		q += 8;
		asm volatile("" : : "r" (q) : "memory");
	} while (q < last);
	sa_zero_line(last);
	return p;
}

/*
 * Zero @len bytes at @p, a multiple of 256, by blocks of four lines: a
 * quarter of sa_zero_lines()' loop tests, and no overlapping line.
 * Return: @p.
 */
static __always_inline void *sa_zero_blocks(void *p, unsigned int len)
{
	u64 *q = p, *end = p + len;

	do {
		sa_zero_line(q);
		sa_zero_line(q + 8);
		sa_zero_line(q + 16);
		sa_zero_line(q + 24);
		q += 32;
		asm volatile("" : : "r" (q) : "memory");
	} while (q < end);
	return p;
}

/*
 * Zero an object of @pool (sa_pool::usable bytes, a multiple of 8) as @kind
 * (sa_pool::zero) says, the kinds tested in the order of their share of
 * the allocations in shared/traces (fs: 41% 65 to 4095 bytes, 32% a page,
 * 25% 33 to 64 bytes; boot: 82%, 0.5%, 14%). One comparison tells a page
 * (clear_page()) and the other kinds over 64 bytes (lines of eight stores
 * under a page, blocks of four lines for multiples of 256 bytes,
 * sa_zero_big() from a page up) from the rest; then 64 bytes,
 * by eight word stores, and the smaller sizes by word stores too (exactly
 * theirs for 16 and 32 bytes, the others overlapping from both ends): no
 * call, loop or size test up to 64 bytes. SA_ZERO_NONE zeroes only for
 * sa_gfp_zero(@pool, @gfp, @named), the rare case, tested last. Return: @p.
 */
static __always_inline void *sa_zero(void *p, unsigned int kind, struct sa_pool *pool,
				     gfp_t gfp, const bool named)
{
	u64 *q = p;

	/* One comparison splits a page, larger kinds and smaller ones. */
	if (kind == SA_ZERO_PAGE) {
		clear_page(p);
		return p;
	}
	if (kind > SA_ZERO_PAGE) {
		if (likely(kind == SA_ZERO_LINES))
			return sa_zero_lines(p, pool->usable);
		if (kind == SA_ZERO_BLOCKS)
			return sa_zero_blocks(p, pool->usable);
		return sa_zero_big(p, pool->usable);
	}
	if (kind == SA_ZERO_WORDS) {
		sa_zero_line(q);
		return p;
	}
	if (kind == 2) {
		q[0] = 0;
		q[1] = 0;
		return p;
	}
	if (kind == 4) {
		q[0] = 0;
		q[1] = 0;
		q[2] = 0;
		q[3] = 0;
		return p;
	}
	if (kind != SA_ZERO_NONE) {
		q[0] = 0;
		q[kind - 1] = 0;
		if (kind > 2) {
			q[1] = 0;
			q[kind - 2] = 0;
		}
		if (kind > 4) {
			q[2] = 0;
			q[3] = 0;
			q[kind - 4] = 0;
			q[kind - 3] = 0;
		}
		return p;
	}
	if (!sa_gfp_zero(pool, gfp, named))
		return p;
	return sa_zero_big(p, pool->usable);
}

/*
 * Take an object from this CPU's span of @pool in a critical section, and
 * count it. Return: the object (with SA_FRESH), or 0 when the CPU has no
 * span, its span is full or on another node, or an interrupted critical
 * section holds the cache.
 */
static unsigned long sa_pcpu_take(struct sa_pool *pool, int node)
{
	unsigned long got = 0;
	struct sa_pcpu *c;

	c = get_cpu_ptr(pool->pcpu);
	if (likely(sa_pcpu_enter(c))) {
		struct sa_span *s = sa_pcpu_span(c);

		if (likely(s) && (node == NUMA_NO_NODE || node == s->node)) {
			got = sa_span_next_free(s);
			if (likely(got))
				c->sect_stat[SA_ALLOC]++;
		}
		sa_pcpu_exit(c);
	}
	put_cpu_ptr(pool->pcpu);
	return got;
}

/*
 * A gfp that may sleep, in atomic context: reported, and the allocation
 * refused (true), before anything sleeps. Every path that may sleep checks:
 * the full ones (sa_fix_flags()) and a refill; the fast path only with
 * CONFIG_DEBUG_ATOMIC_SLEEP (sa_gfp_plain()).
 */
static __always_inline bool sa_sleep_refused(gfp_t flags, unsigned long caller)
{
	if (!IS_ENABLED(CONFIG_PREEMPT_COUNT) || likely(!gfpflags_allow_blocking(flags)) ||
	    likely(preemptible()))
		return false;
	sa_report("sleeping gfp flags in atomic context, refused", NULL, caller);
	return true;
}

/*
 * NMI context, a caller's mistake ("any context but NMI"): the code the NMI
 * interrupted may hold a central or heap lock on this CPU. An NMI is served
 * only by the fast paths, which take no lock (sa_pcpu::busy keeps them out
 * of a section the NMI interrupted); the full paths, a bulk call, a large
 * object, a free to a span this CPU does not own and, with free hooks built
 * in (kmemleak's locks), any free report it and refuse (true): an
 * allocation fails, a free leaks its object.
 */
static __always_inline bool sa_nmi_refused(const char *what, const void *p,
					   unsigned long caller)
{
	if (likely(!in_nmi()))
		return false;
	sa_report(what, p, caller);
	return true;
}

#define SA_NMI_ALLOC	"allocation in NMI context, refused"
#define SA_DESTROYED_ALLOC	"allocation from a destroyed cache"
#define SA_NMI_FREE	"free in NMI context, refused (the object is leaked)"

/* Bytes requested: @req, or 0 for a named cache's object size (read late). */
static __always_inline size_t sa_req(struct sa_pool *pool, size_t req)
{
	return req ?: pool->cache->object_size;
}

/*
 * Hand out @obj, unpoisoned and counted: zero it unless @fresh, tell
 * kmemleak. @named: @pool may be a named cache's, with a constructor.
 */
static __always_inline void *sa_alloc_finish(struct sa_pool *pool, void *obj, bool fresh,
					     gfp_t gfp, size_t req, const bool named)
{
	if (!fresh)
		obj = sa_zero(obj, pool->zero, pool, gfp, named);
	sa_kasan_tail(obj, sa_req(pool, req), pool->cls->size);
	sa_kmemleak_alloc(obj, pool->cls->size, gfp);
	return obj;
}

/* sa_alloc_finish() for a debug pool (whose objects are never fresh). */
static noinline void *sa_alloc_finish_debug(struct sa_pool *pool, void *obj, gfp_t gfp,
					    size_t req)
{
	obj = sa_zero(obj, pool->zero, pool, gfp, true);
	/* Red past @req before KASAN poisons those bytes. */
	sa_debug_set_size(pool, obj, req);
	sa_kasan_tail(obj, req, pool->cls->size);
	sa_kmemleak_alloc(obj, pool->cls->size, gfp);
	return obj;
}

/*
 * The whole allocation path: refill, debug checks, tracing. The fast path
 * comes here when this CPU's window is empty, or a runtime hook is on.
 */
static noinline void *sa_pool_alloc_full(struct sa_pool *pool, gfp_t gfp, int node,
					 size_t req, unsigned long caller)
{
	unsigned long got;
	void *obj;

	if (unlikely(sa_nmi_refused(SA_NMI_ALLOC, NULL, caller)))
		return NULL;
	/* Read racily, as the allocation that follows would be. */
	if (unlikely(pool->cache && data_race(pool->cache->destroyed))) {
		sa_report(SA_DESTROYED_ALLOC, pool->cache->name, caller);
		return NULL;
	}
	/* The fast path's miss comes here without it; others call it twice. */
	might_alloc(gfp);
	for (;;) {
		got = sa_pcpu_take(pool, node);
		if (unlikely(!got)) {
			/* A refill may sleep: the fast path may not have checked. */
			if (unlikely(sa_sleep_refused(gfp, caller)))
				return NULL;
			got = sa_pool_refill(pool, gfp, node);
			if (unlikely(!got))
				return NULL;
			this_cpu_inc(pool->pcpu->stat[SA_ALLOC]);
		}
		obj = (void *)(got & ~SA_FRESH);
		sa_kasan_unpoison(obj, pool->cls->size);
		if (!static_branch_unlikely(&sa_debug_active) || !pool->debug)
			break;
		/* A corrupted object is reported, never handed out: take another. */
		if (likely(sa_debug_alloc(pool, obj, caller))) {
			req = sa_req(pool, req);
			obj = sa_alloc_finish_debug(pool, obj, gfp, req);
			goto out;
		}
		/* Taken, never handed out: not an allocation. */
		this_cpu_dec(pool->pcpu->stat[SA_ALLOC]);
		sa_kasan_free(obj, pool->cls->size);
	}
	req = sa_req(pool, req);
	obj = sa_alloc_finish(pool, obj, got & SA_FRESH, gfp, req, true);
out:
	trace_alloc(caller, obj, req, pool->usable, gfp, node);
	return obj;
}

/* Debug mode is on for @pool: the full paths check its objects. */
static __always_inline bool sa_pool_hooked(struct sa_pool *pool)
{
	return static_branch_unlikely(&sa_debug_active) && pool->debug;
}

/*
 * The fast path, for a caller that found no runtime hook on (sa_unhooked()):
 * an object from this CPU's window (sa_span_take_window()); anything else
 * goes to sa_pool_alloc_full(). It calls nothing, and each way out leaves
 * the critical section on its own, so that the compiler need not test again
 * what it knew inside.
 *
 * @req (bytes requested) may be 0 for a named cache's object size, and
 * @caller 0 for the return address of the exported function this is inlined
 * into: so they are read only on the ways that need them. @named: @pool may
 * be a named cache's. @might: call might_alloc(), after the allocation, so
 * that nothing lives across the call but the object.
 */
static __always_inline void *sa_pool_alloc_fast(struct sa_pool *pool, gfp_t gfp, int node,
						size_t req, unsigned long caller,
						const bool named, const bool might)
{
	unsigned long b, pos;
	struct sa_pcpu *c;
	struct sa_span *s;
	void *obj;

	c = get_cpu_ptr(pool->pcpu);
	if (unlikely(!sa_pcpu_enter(c)))
		goto miss;
	/* No span: SA_NO_SPAN, whose window is empty. */
	s = c->span;
	if (unlikely(!s->alloc_cache || (node != NUMA_NO_NODE && node != s->node)))
		goto miss_exit;
	b = sa_span_window_first(s, &pos);
	/* A stray remote bit (see sa_span_window_first()): the full path. */
	if (unlikely(test_bit(pos, sa_rbits(s))))
		goto miss_exit;
	c->sect_stat[SA_ALLOC]++;
	if (likely(!sa_span_take_window(s, b, pos, &obj))) {
		sa_pcpu_exit(c);
		put_cpu_ptr(pool->pcpu);
		sa_kasan_unpoison(obj, pool->cls->size);
		obj = sa_alloc_finish(pool, obj, false, gfp, req, named);
		goto out;
	}
	sa_pcpu_exit(c);
	put_cpu_ptr(pool->pcpu);
	sa_kasan_unpoison(obj, pool->cls->size);
	obj = sa_alloc_finish(pool, obj, true, gfp, req, named);
out:
	if (might)
		might_alloc(gfp);
	return obj;
miss_exit:
	sa_pcpu_exit(c);
miss:
	put_cpu_ptr(pool->pcpu);
	return sa_pool_alloc_full(pool, gfp, node, req, sa_caller(caller));
}

/* An allocation from @pool, by the fast path if no runtime hook is on. */
static __always_inline void *sa_pool_alloc(struct sa_pool *pool, gfp_t gfp, int node,
					   size_t req, unsigned long caller)
{
	if (unlikely(!sa_unhooked()))
		return sa_pool_alloc_full(pool, gfp, node, req, caller);
	return sa_pool_alloc_fast(pool, gfp, node, req, caller, true, false);
}

/* Free hooks compiled in: they run on the fast path too. */
static __always_inline bool sa_free_hooks_built(void)
{
	return IS_ENABLED(CONFIG_KASAN_GENERIC) || IS_ENABLED(CONFIG_DEBUG_KMEMLEAK);
}

/* Runtime free hooks, left to the full path: init_on_free, debug mode. */
static __always_inline bool sa_free_hooked(struct sa_pool *pool)
{
	return want_init_on_free() || sa_pool_hooked(pool);
}

/* A free that this CPU's cache cannot take: the central list's, locked. */
static noinline void sa_pool_free_central(struct sa_pool *pool, struct sa_span *s,
					  void *obj, unsigned int pos, unsigned long caller)
{
	if (unlikely(!sa_central_free(pool, s, pos))) {
		sa_report("double free", obj, caller);
		return;
	}
	this_cpu_inc(pool->pcpu->stat[SA_FREE]);
}

/*
 * Free an object of a span this CPU does not own (another CPU's, or no
 * CPU's): set its remote-free bit now, without a lock (which catches a
 * double free at once), and leave the span's lists to this CPU's batch. An
 * interrupted critical section, or a full batch, takes the central lock.
 *
 * Context: preemption off, from sa_pool_free(), which tail-calls this; it
 * is on again at return. The batch is applied with preemption on, and the
 * central path runs under an RCU read side instead (which keeps @s a span
 * descriptor as preemption off did): both may free spans to the heap, which
 * may take PREEMPT_RT's sleeping locks through the slab allocator.
 */
static noinline void sa_pool_free_other(struct sa_pool *pool, void *obj, struct sa_span *s,
					unsigned int pos, unsigned long caller)
{
	struct sa_pcpu *c;
	bool flush;

	/* Only the fast path comes here in NMI context, and only unhooked. */
	if (unlikely(sa_nmi_refused(SA_NMI_FREE, obj, caller))) {
		preempt_enable();
		return;
	}
	c = this_cpu_ptr(pool->pcpu);
	if (unlikely(!sa_pcpu_enter(c)))
		goto central;
	if (unlikely(c->nr_frees >= pool->free_batch)) {
		sa_pcpu_exit(c);
		goto central;
	}
	if (unlikely(!test_bit(pos, sa_abits(s)) ||
		     test_and_set_bit(pos, sa_rbits(s)))) {
		sa_pcpu_exit(c);
		preempt_enable();
		sa_report("double free", obj, caller);
		return;
	}
	c->frees[c->nr_frees++] = ~(unsigned long)obj;
	flush = c->nr_frees >= pool->free_batch;
	c->sect_stat[SA_FREE]++;
	sa_pcpu_exit(c);
	preempt_enable();
	if (unlikely(flush))
		sa_pool_flush_frees(pool);
	return;
central:
	rcu_read_lock();
	preempt_enable();
	sa_pool_free_central(pool, s, obj, pos, caller);
	rcu_read_unlock();
}

/*
 * sa_pool_free_other() for spanalloc_free(), whose fast path keeps the object
 * in the register it came in: the arguments in the order it has them.
 */
static noinline void sa_free_other_obj(void *obj, struct sa_span *s, unsigned int pos,
				       unsigned long caller, struct sa_pool *pool)
{
	sa_pool_free_other(pool, obj, s, pos, caller);
}

/*
 * Free a live-looking object of a small span, @idx. @full: the runtime hooks
 * may be on (the full path); the fast path passes false and has checked they
 * are off, and that @idx is below SA_REMOTE_BITS (sa_span_obj_start_fast()).
 * @caller: as for sa_caller(). @by_obj: spanalloc_free()'s fast path (see
 * sa_free_other_obj()).
 *
 * Context: the fast path (!@full) calls with preemption off since before it
 * looked @s up, the full path in an RCU read-side critical section: either
 * way @s stays a span descriptor (SLAB_TYPESAFE_BY_RCU) while it is read,
 * even if a racing double free gave it back. Preemption is on at return.
 */
static __always_inline void sa_pool_free(struct sa_pool *pool, struct sa_span *s,
					 void *obj, unsigned int idx, unsigned long caller,
					 const bool full, const bool by_obj)
{
	/* The fast path's objects have their bits at their index. */
	unsigned int pos = full ? sa_bpos(idx) : idx;
	struct sa_pcpu *c;

	if (sa_free_hooks_built() || (full && sa_free_hooked(pool))) {
		/* kmemleak takes a lock: in NMI context, refused before (see span.c). */
		if (sa_free_hooks_built() &&
		    unlikely(sa_nmi_refused(SA_NMI_FREE, obj, sa_caller(caller)))) {
			if (!full)
				preempt_enable();
			return;
		}
		/* The hooks touch the object: it must be live before they run. */
		if (unlikely(!sa_span_obj_live(s, pos))) {
			/* Reported with preemption on, as the other refusals. */
			if (!full)
				preempt_enable();
			sa_report("double free", obj, sa_caller(caller));
			return;
		}
		sa_kmemleak_free(s, idx, obj);
		sa_kasan_unpoison(obj, pool->cls->size);
		if (full && sa_pool_hooked(pool)) {
			sa_debug_free(pool, s, obj, sa_caller(caller));
			if (unlikely(READ_ONCE(s->quarantined)))
				sa_quarantine(pool, s);
		} else if (full && want_init_on_free() && !pool->ctor) {
			sa_zero_big(obj, pool->cls->size);
		}
		sa_kasan_free(obj, pool->cls->size);
	}
	if (full)
		preempt_disable();
	c = this_cpu_ptr(pool->pcpu);
	if (unlikely(!sa_pcpu_enter(c)))
		goto other;
	/*
	 * The span this CPU allocates from, or one it retired: its own. Only
	 * this CPU sets owner to @c or changes it from @c, so a racy plain
	 * read compares right.
	 */
	if (unlikely(data_race(s->owner) != c)) {
		sa_pcpu_exit(c);
		goto other;
	}
	/* Freed once already, locally or remotely: a double free. */
	if (unlikely(!sa_span_free_local(s, pos))) {
		sa_pcpu_exit(c);
		preempt_enable();
		sa_report("double free", obj, sa_caller(caller));
		return;
	}
	c->sect_stat[SA_FREE]++;
	sa_pcpu_exit(c);
	preempt_enable();
	return;
other:
	/* Preemption goes back on there. */
	if (by_obj)
		sa_free_other_obj(obj, s, pos, sa_caller(caller), pool);
	else
		sa_pool_free_other(pool, obj, s, pos, sa_caller(caller));
}

/* A free of a pointer into a span that is free (or becoming free). */
#define SA_FREE_MEMORY	"free of a pointer into free memory (double free?)"

/*
 * Check a pointer handed to a free function; NULL if it must be refused.
 * @state: receives the span's state, as checked (it is read once).
 */
static __always_inline struct sa_span *sa_check_free(const void *p, unsigned int *idx,
						     u8 *state, unsigned long caller)
{
	struct sa_span *s = sa_lookup(p);

	if (unlikely(!s)) {
		sa_report("free of a pointer spanalloc did not hand out", p, caller);
		return NULL;
	}
	*state = READ_ONCE(s->state);
	switch (*state) {
	case SA_SPAN_SMALL:
		if (unlikely(!sa_span_obj_start(s, p, idx))) {
			sa_report(*idx < s->nelems ? "free of a pointer inside an object" :
				  "free of a pointer past a span's last object", p, caller);
			return NULL;
		}
		return s;
	case SA_SPAN_LARGE:
	case SA_SPAN_HUGE:
		*idx = 0;
		if (unlikely((unsigned long)p != s->base)) {
			sa_report("free of a pointer inside an object", p, caller);
			return NULL;
		}
		return s;
	default:
		sa_report(SA_FREE_MEMORY, p, caller);
		return NULL;
	}
}

static void *sa_large_alloc(size_t size, gfp_t flags, int node)
{
	unsigned int npages = PAGE_ALIGN(size) >> PAGE_SHIFT;
	int want = node == NUMA_NO_NODE ? numa_mem_id() : node;
	bool zero = (flags & __GFP_ZERO) || want_init_on_alloc(flags);
	struct sa_span *s;

	if (npages <= SA_CHUNK_PAGES) {
		s = sa_heap_alloc_span(want, npages, flags);
		if (!s)
			return NULL;
		s->elemsize = npages << PAGE_SHIFT;
		s->pool = NULL;
		/* Publish the size before a lookup can see the state (sa_lookup()). */
		smp_wmb();
		WRITE_ONCE(s->state, SA_SPAN_LARGE);
	} else {
		s = sa_huge_alloc(node, size, flags);
		if (!s)
			return NULL;
	}
	sa_kasan_unpoison((void *)s->base, s->elemsize);
	if (zero && s->needzero)
		sa_zero_big((void *)s->base, s->elemsize);
	sa_kasan_tail((void *)s->base, size, s->elemsize);
	sa_kmemleak_alloc((void *)s->base, s->elemsize, flags);
	this_cpu_inc(sa_large.allocs);
	this_cpu_add(sa_large.pages, s->npages);
	return (void *)s->base;
}

/* Free a large or huge object; @state: its span's, which the caller claimed. */
static void sa_large_free(struct sa_span *s, u8 state)
{
	sa_kmemleak_free(s, 0, (void *)s->base);
	sa_kasan_unpoison((void *)s->base, s->elemsize);
	if (want_init_on_free())
		sa_zero_big((void *)s->base, s->elemsize);
	sa_kasan_free((void *)s->base, s->elemsize);
	this_cpu_inc(sa_large.frees);
	this_cpu_sub(sa_large.pages, s->npages);
	if (state == SA_SPAN_HUGE)
		sa_huge_free(s);
	else
		sa_heap_free_span(s);
}

static bool sa_bad_node(int node)
{
	return node != NUMA_NO_NODE &&
	       (node < 0 || node >= nr_node_ids || !node_possible(node));
}

/*
 * Check the caller's gfp flags, as kmalloc_fix_flags() and might_alloc() do:
 * zone modifiers are stripped with a report; a flag that may sleep in atomic
 * context is reported and the allocation refused (false), before it sleeps.
 * @lazy: the caller checks the context before each refill itself, so here
 * only with CONFIG_DEBUG_ATOMIC_SLEEP (as the fast path, sa_gfp_plain()).
 */
static __always_inline bool sa_fix_flags(gfp_t *flags, unsigned long caller, const bool lazy)
{
	if (unlikely(*flags & SA_GFP_ZONES)) {
		sa_report("highmem/DMA gfp flags are not supported, stripped", NULL, caller);
		*flags &= ~SA_GFP_ZONES;
	}
	if ((!lazy || IS_ENABLED(CONFIG_DEBUG_ATOMIC_SLEEP)) &&
	    unlikely(sa_sleep_refused(*flags, caller)))
		return false;
	might_alloc(*flags);
	return true;
}

static void *sa_alloc_large(size_t size, gfp_t flags, int node, unsigned long caller)
{
	void *p;

	if (unlikely(sa_nmi_refused(SA_NMI_ALLOC, NULL, caller)))
		return NULL;
	p = sa_large_alloc(size, flags, node);
	if (p)
		trace_alloc(caller, p, size, PAGE_ALIGN(size), flags, node);
	return p;
}

/* debug=1: a size API object in a class pool's slot with its metadata. */
static noinline void *sa_alloc_debug(size_t size, gfp_t flags, int node, unsigned long caller)
{
	if (size > SPANALLOC_MAX_SMALL - SA_DBG_META)
		return sa_alloc_large(size, flags, node, caller);
	return sa_pool_alloc(sa_class_pool[sa_debug_size_class(size)], flags, node, size, caller);
}

/* Every allocation of the size API but the fast path's: checks, reports, large. */
static noinline void *sa_alloc_full(size_t size, gfp_t flags, int node, unsigned long caller)
{
	if (unlikely(!size))
		return ZERO_SIZE_PTR;
	if (unlikely(size > SPANALLOC_MAX_SIZE)) {
		if (!(flags & __GFP_NOWARN))
			sa_report("allocation larger than SPANALLOC_MAX_SIZE", NULL, caller);
		return NULL;
	}
	if (unlikely(sa_bad_node(node))) {
		sa_report("allocation on an invalid NUMA node", NULL, caller);
		return NULL;
	}
	if (unlikely(!sa_fix_flags(&flags, caller, false)))
		return NULL;
	if (static_branch_unlikely(&sa_debug_active) && sa_debug_all)
		return sa_alloc_debug(size, flags, node, caller);
	if (unlikely(size > SPANALLOC_MAX_SMALL))
		return sa_alloc_large(size, flags, node, caller);
	return sa_pool_alloc(sa_size_to_pool(size), flags, node, size, caller);
}

/*
 * The gfp checks of sa_fix_flags() that may report or refuse, with the flags
 * @full the pool leaves to the full path (sa_pool::gfp_full). Return: true
 * if none can, so the fast path needs only might_alloc(). The fast path
 * cannot sleep (might_alloc()'s cond_resched() does not in atomic context):
 * it checks the context only where might_alloc() does, on a kernel with
 * CONFIG_DEBUG_ATOMIC_SLEEP, and refuses what preemptible() sees as atomic
 * before might_sleep() would warn (an RCU read side of a preemptible RCU,
 * which preemptible() does not see, is left to might_sleep(), as kmalloc()).
 */
static __always_inline bool sa_gfp_plain(gfp_t flags, gfp_t full)
{
	if (unlikely(flags & full))
		return false;
	return !IS_ENABLED(CONFIG_DEBUG_ATOMIC_SLEEP) || !IS_ENABLED(CONFIG_PREEMPT_COUNT) ||
	       !gfpflags_allow_blocking(flags) || likely(preemptible());
}

/*
 * The fast path: a small size, plain flags, no runtime hook; else
 * sa_alloc_full(). @caller: 0 for the return address of the exported
 * function this is inlined into (read only if needed).
 */
static __always_inline void *sa_alloc(size_t size, gfp_t flags, int node, unsigned long caller)
{
	if (unlikely(size - 1 >= SPANALLOC_MAX_SMALL || sa_bad_node(node) ||
		     !sa_gfp_plain(flags, SA_GFP_ZONES) || !sa_unhooked()))
		return sa_alloc_full(size, flags, node, sa_caller(caller));
	return sa_pool_alloc_fast(sa_size_to_pool(size), flags, node, size, caller, false, true);
}

/**
 * spanalloc_alloc() - allocate memory
 * @size: bytes wanted
 * @flags: GFP flags, as for kmalloc()
 *
 * Context: any context but NMI; may sleep if @flags allow it.
 * Return: a pointer to at least @size bytes, ZERO_SIZE_PTR if @size is 0,
 * or NULL on failure.
 */
void *spanalloc_alloc(size_t size, gfp_t flags)
{
	return sa_alloc(size, flags, NUMA_NO_NODE, 0);
}
EXPORT_SYMBOL_GPL(spanalloc_alloc);

/**
 * spanalloc_alloc_node() - allocate memory on a NUMA node
 * @size: bytes wanted
 * @flags: GFP flags, as for kmalloc_node()
 * @node: NUMA node, or NUMA_NO_NODE for the current CPU's
 *
 * Context: any context but NMI; may sleep if @flags allow it.
 * Return: a pointer to at least @size bytes, ZERO_SIZE_PTR if @size is 0,
 * or NULL on failure.
 */
void *spanalloc_alloc_node(size_t size, gfp_t flags, int node)
{
	return sa_alloc(size, flags, node, 0);
}
EXPORT_SYMBOL_GPL(spanalloc_alloc_node);

/*
 * The rest of sa_free_full(), from the lookup on. Context: an RCU read-side
 * critical section: a span descriptor given back by a racing double free
 * stays one while it is read (SLAB_TYPESAFE_BY_RCU).
 */
static void sa_free_checked(struct spanalloc_cache *cache, const void *p, unsigned long caller)
{
	struct sa_pool *pool;
	struct sa_span *s;
	unsigned int idx;
	u8 state;

	s = sa_check_free(p, &idx, &state, caller);
	if (unlikely(!s))
		return;
	/* NULL if the span went back to the heap since (a racing double free). */
	pool = READ_ONCE(s->pool);
	if (cache && unlikely(pool != &cache->pool)) {
		sa_report("free to the wrong cache", p, caller);
		return;
	}
	if (likely(state == SA_SPAN_SMALL)) {
		if (unlikely(!pool)) {
			sa_report(SA_FREE_MEMORY, p, caller);
			return;
		}
		trace_free(caller, p, s->elemsize);
		sa_pool_free(pool, s, (void *)p, idx, caller, true, false);
		return;
	}
	/* Of two racing frees of one large object, the one that claims it frees it. */
	if (unlikely(cmpxchg(&s->state, state, 0) != state)) {
		sa_report("double free", p, caller);
		return;
	}
	trace_free(caller, p, s->elemsize);
	sa_large_free(s, state);
}

/* Every free but the fast path's: checks and reports, large objects, hooks. */
static noinline void sa_free_full(struct spanalloc_cache *cache, const void *p,
				  unsigned long caller)
{
	if (cache && unlikely(sa_cache_buried(cache))) {
		sa_report("free to a destroyed cache", p, caller);
		return;
	}
	if (unlikely(ZERO_OR_NULL_PTR(p)))
		return;
	if (unlikely(sa_nmi_refused(SA_NMI_FREE, p, caller)))
		return;
	rcu_read_lock();
	sa_free_checked(cache, p, caller);
	rcu_read_unlock();
}

/* A named cache's pool, without touching the cache: NULL for a NULL cache. */
static __always_inline struct sa_pool *sa_cache_pool(struct spanalloc_cache *cache)
{
	static_assert(offsetof(struct spanalloc_cache, pool) == 0);
	return (struct sa_pool *)cache;
}

/*
 * The fast path: an object of a small span, of @cache if given, below the
 * span's nelems_fast (its bits at its index), with no runtime hook on.
 * Anything else, a mistake included, goes to sa_free_full(),
 * which checks in the documented order and reports. @caller: 0 for the
 * return address of the exported function this is inlined into (read only
 * if needed). @named: spanalloc_cache_free(), whose NULL @cache is a mistake.
 */
static __always_inline void sa_free(const void *p, struct spanalloc_cache *cache,
				    unsigned long caller, const bool named)
{
	struct sa_pool *pool;
	struct sa_span *s;
	unsigned int idx;

	/* Preemption off until sa_pool_free() is done with @s (see there). */
	preempt_disable();
	/*
	 * NULL and ZERO_SIZE_PTR: on x86-64 they lie far below the direct map,
	 * and __sa_lookup() sends them to the full path, which ignores them
	 * (or, for a named cache, checks the cache first).
	 */
	if (!IS_ENABLED(CONFIG_X86_64) && unlikely(ZERO_OR_NULL_PTR(p)))
		goto full;
	s = __sa_lookup(p, false);
	/* Compared once: a racy plain read (the full path reads it again). */
	if (unlikely(!s || data_race(s->state) != SA_SPAN_SMALL))
		goto full;
	if (unlikely(!sa_span_obj_start_fast(s, p, &idx)))
		goto full;
	/*
	 * A small span has a pool: this also refuses a NULL cache. Read once:
	 * NULL if the span went back to the heap since (a racing double free).
	 */
	pool = data_race(s->pool);
	if ((named || cache) ? unlikely(pool != sa_cache_pool(cache)) : unlikely(!pool))
		goto full;
	if (unlikely(!sa_unhooked()))
		goto full;
	sa_pool_free(pool, s, (void *)p, idx, caller, false, !named && !cache);
	return;
full:
	preempt_enable();
	if (named && unlikely(!cache)) {
		sa_report("cache_free to a NULL cache", p, sa_caller(caller));
		return;
	}
	sa_free_full(cache, p, sa_caller(caller));
}

/**
 * spanalloc_free() - free memory from spanalloc_alloc() or a named cache
 * @p: the object, NULL or ZERO_SIZE_PTR
 *
 * A pointer spanalloc did not hand out, one inside an object and a double
 * free are reported and ignored.
 *
 * Context: any context but NMI.
 */
void spanalloc_free(const void *p)
{
	sa_free(p, NULL, 0, false);
}
EXPORT_SYMBOL_GPL(spanalloc_free);

/* The pool of @p, a live object of the small span @s, else NULL. */
static struct sa_pool *sa_live_pool(struct sa_span *s, const void *p)
{
	struct sa_pool *pool = READ_ONCE(s->pool);
	unsigned int idx;

	if (!pool || !sa_span_obj_start(s, p, &idx) || !sa_span_obj_live(s, sa_bpos(idx)))
		return NULL;
	return pool;
}

/*
 * The caller of @p, a live object of the debug pool @pool, may use @req
 * bytes: its red zone, and KASAN's, start there (the metadata unpoisoned
 * meanwhile).
 */
static void sa_debug_resize(struct sa_pool *pool, const void *p, size_t req)
{
	sa_kasan_unpoison(p, pool->cls->size);
	sa_debug_set_size(pool, (void *)p, req);
	sa_kasan_tail(p, req, pool->cls->size);
}

/* spanalloc_usable_size() of @p, not NULL, in an RCU read-side critical section. */
static size_t sa_usable_size(const void *p, unsigned long caller)
{
	struct sa_pool *pool;
	struct sa_span *s;
	u8 state;

	s = sa_lookup(p);
	state = s ? READ_ONCE(s->state) : SA_SPAN_FREE;
	/* 0: a span being set up, joined, or a large object being freed. */
	if (state == SA_SPAN_FREE || !state) {
		sa_report("usable_size of a pointer spanalloc did not hand out", p, caller);
		return 0;
	}
	if (state != SA_SPAN_SMALL) {
		if (p != (void *)s->base)
			return 0;
		sa_kasan_unpoison(p, s->elemsize);
		return s->elemsize;
	}
	pool = sa_live_pool(s, p);
	if (!pool) {
		sa_report("usable_size of a pointer that is not a live object", p, caller);
		return 0;
	}
	/* The caller may now use all of it, as after ksize(): no red zone. */
	if (sa_pool_hooked(pool))
		sa_debug_resize(pool, p, pool->usable);
	else
		sa_kasan_unpoison(p, pool->usable);
	return pool->usable;
}

/**
 * spanalloc_usable_size() - how many bytes an object really has
 * @p: the object
 *
 * Return: the object's size (its class size for small objects, whole pages
 * for large ones); 0 for NULL, ZERO_SIZE_PTR or a pointer that is not the
 * start of a live spanalloc object (which is also reported).
 */
size_t spanalloc_usable_size(const void *p)
{
	size_t size;

	if (ZERO_OR_NULL_PTR(p))
		return 0;
	/* A stale descriptor (@p freed meanwhile) stays one (see sa_free_checked()). */
	rcu_read_lock();
	size = sa_usable_size(p, _RET_IP_);
	rcu_read_unlock();
	return size;
}
EXPORT_SYMBOL_GPL(spanalloc_usable_size);

/*
 * The pool of @p if it is a live object of a debug pool, else NULL. Context:
 * an RCU read-side critical section (see sa_free_checked()).
 */
static struct sa_pool *sa_debug_obj_pool(const void *p)
{
	struct sa_span *s = sa_lookup(p);
	struct sa_pool *pool;

	if (!s || READ_ONCE(s->state) != SA_SPAN_SMALL)
		return NULL;
	pool = sa_live_pool(s, p);
	return pool && sa_pool_hooked(pool) ? pool : NULL;
}

/**
 * spanalloc_realloc() - resize an object
 * @p: the object, or NULL to allocate
 * @new_size: bytes wanted; 0 frees @p and returns ZERO_SIZE_PTR
 * @flags: GFP flags
 *
 * The contents up to the smaller of the old and new sizes are kept. The same
 * pointer comes back when the object is already big enough.
 *
 * Context: any context but NMI; may sleep if @flags allow it.
 * Return: the object, ZERO_SIZE_PTR, or NULL on failure (then @p is intact).
 */
void *spanalloc_realloc(const void *p, size_t new_size, gfp_t flags)
{
	struct sa_pool *pool;
	size_t old, had;
	void *n;

	if (unlikely(!new_size)) {
		sa_free(p, NULL, _RET_IP_, false);
		return ZERO_SIZE_PTR;
	}
	if (ZERO_OR_NULL_PTR(p))
		return sa_alloc(new_size, flags, NUMA_NO_NODE, _RET_IP_);
	/* A debug object's caller has the bytes it asked for, the rest is red. */
	pool = NULL;
	had = 0;
	if (static_branch_unlikely(&sa_debug_active)) {
		rcu_read_lock();
		pool = sa_debug_obj_pool(p);
		had = pool ? sa_debug_get_size(pool, p) : 0;
		rcu_read_unlock();
	}
	old = spanalloc_usable_size(p);
	if (unlikely(!old))
		return NULL;
	if (!pool)
		had = old;
	if (new_size <= old) {
		/* Red before: now the caller's, as fresh memory. */
		if (new_size > had && want_init_on_alloc(flags))
			memset((char *)p + had, 0, new_size - had);
		if (flags & __GFP_ZERO)
			memset((char *)p + new_size, 0, old - new_size);
		/* The red zone (and KASAN's) from the new size on. */
		if (pool)
			sa_debug_resize(pool, p, new_size);
		return (void *)p;
	}
	n = sa_alloc(new_size, flags, NUMA_NO_NODE, _RET_IP_);
	if (!n)
		return NULL;
	memcpy(n, p, had);
	sa_free(p, NULL, _RET_IP_, false);
	return n;
}
EXPORT_SYMBOL_GPL(spanalloc_realloc);

static bool sa_bulk_args_ok(size_t nr, void **p, unsigned long caller)
{
	if (unlikely(!nr || !p || nr > INT_MAX)) {
		sa_report("bulk call with no or an absurd object count", p, caller);
		return false;
	}
	return true;
}

/*
 * Take objects of span @s for @p[@i..@nr) from its allocCache window, with
 * the span's allocation state kept in registers meanwhile; when it runs
 * out, one more by sa_span_next_free(), which moves the window, and on.
 * Return: the new @i, short of @nr only when the span is full.
 *
 * The window's stray remote bits (see sa_span_window_first()) are left out
 * of it at once, from one read of their bitmap word: a bit that a racing
 * double free sets later is seen no later than the fast path would see it,
 * at its next allocation from the window.
 *
 * Context: owner of @s (per-CPU critical section).
 */
static __always_inline size_t sa_span_take_bulk(struct sa_span *s, void **p, size_t i,
						size_t nr)
{
	unsigned long esz = s->elemsize, dirty = s->dirty_pos;
	size_t start = i;

	while (i < nr) {
		unsigned long wp = s->winpos, wb = s->winbase, cache = s->alloc_cache, got;

		cache &= ~READ_ONCE(sa_rbits(s)[wp / BITS_PER_LONG]);
		while (cache) {
			unsigned long b = __ffs(cache), pos = wp + b;

			__set_bit(pos, sa_abits(s));
			got = wb + b * esz;
			if (pos >= dirty) {
				dirty = pos + 1;
				got |= SA_FRESH;
			}
			p[i] = (void *)got;
			/* Cleared on both ways out: one instruction less per object. */
			if (++i == nr) {
				cache &= cache - 1;
				break;
			}
			cache &= cache - 1;
		}
		s->alloc_cache = cache;
		if (i == nr)
			break;
		/* The window is empty: the next, through the span's bitmap. */
		s->alloc_count += i - start;
		s->dirty_pos = dirty;
		got = sa_span_next_free(s);
		if (!got)
			return i;
		p[i++] = (void *)got;
		dirty = s->dirty_pos;
		start = i;
	}
	s->alloc_count += i - start;
	s->dirty_pos = dirty;
	return i;
}

/*
 * Hand out the @n objects a bulk allocation took into @p (each with SA_FRESH
 * if still zero): unpoison, zero them as @kind says, tell kmemleak. Inlined
 * under tests of @kind, so that sa_zero() tests it once per call.
 */
static __always_inline void sa_bulk_finish(struct sa_pool *pool, void **p, size_t n,
					   size_t req, gfp_t gfp, unsigned int kind)
{
	size_t j;

	for (j = 0; j < n; j++) {
		unsigned long got = (unsigned long)p[j];
		void *obj = (void *)got;

		/* Most are not fresh: the array is written only for those that are. */
		if (unlikely(got & SA_FRESH)) {
			obj = (void *)(got & ~SA_FRESH);
			p[j] = obj;
		}
		sa_kasan_unpoison(obj, pool->cls->size);
		if (kind != SA_ZERO_NONE && !(got & SA_FRESH))
			sa_zero(obj, kind, pool, 0, true);
		sa_kasan_tail(obj, req, pool->cls->size);
		sa_kmemleak_alloc(obj, pool->cls->size, gfp);
	}
}

/*
 * Take @nr objects of @pool into @p, all in one critical section of this
 * CPU's cache unless its span runs out (then one more per refill), and
 * finish them outside it. All or nothing.
 */
static int sa_pool_alloc_bulk(struct sa_pool *pool, gfp_t gfp, size_t nr, void **p,
			      size_t req, unsigned long caller)
{
	unsigned long got;
	unsigned int kind;
	struct sa_pcpu *c;
	size_t i = 0;

	while (i < nr) {
		c = get_cpu_ptr(pool->pcpu);
		if (likely(sa_pcpu_enter(c))) {
			if (likely(c->span != SA_NO_SPAN))
				i = sa_span_take_bulk(c->span, p, i, nr);
			sa_pcpu_exit(c);
		}
		put_cpu_ptr(pool->pcpu);
		if (i < nr) {
			/* A refill may sleep: the gate checked only in debug kernels. */
			if (unlikely(sa_sleep_refused(gfp, caller)))
				break;
			got = sa_pool_refill(pool, gfp, NUMA_NO_NODE);
			if (unlikely(!got))
				break;
			p[i++] = (void *)got;
		}
	}
	this_cpu_add(pool->pcpu->stat[SA_ALLOC], i);
	/* The zeroing decision and its kind tested once for all objects. */
	kind = pool->zero;
	if (kind == SA_ZERO_NONE && sa_gfp_zero(pool, gfp, true))
		kind = SA_ZERO_CALL;
	if (kind == SA_ZERO_NONE)
		sa_bulk_finish(pool, p, i, req, gfp, SA_ZERO_NONE);
	else if (kind == SA_ZERO_PAGE)
		sa_bulk_finish(pool, p, i, req, gfp, SA_ZERO_PAGE);
	else if (kind == SA_ZERO_LINES)
		sa_bulk_finish(pool, p, i, req, gfp, SA_ZERO_LINES);
	else if (kind == SA_ZERO_BLOCKS)
		sa_bulk_finish(pool, p, i, req, gfp, SA_ZERO_BLOCKS);
	else if (kind == SA_ZERO_CALL)
		sa_bulk_finish(pool, p, i, req, gfp, SA_ZERO_CALL);
	else if (kind == SA_ZERO_WORDS)
		sa_bulk_finish(pool, p, i, req, gfp, SA_ZERO_WORDS);
	else if (kind == 2)
		sa_bulk_finish(pool, p, i, req, gfp, 2);
	else if (kind == 4)
		sa_bulk_finish(pool, p, i, req, gfp, 4);
	else
		sa_bulk_finish(pool, p, i, req, gfp, kind);
	if (likely(i == nr))
		return nr;
	while (i--)
		sa_free_full(NULL, p[i], caller);
	return 0;
}

static int sa_alloc_bulk(struct spanalloc_cache *cache, size_t size, gfp_t flags,
			 size_t nr, void **p, unsigned long caller)
{
	size_t i;

	if (!sa_bulk_args_ok(nr, p, caller))
		return 0;
	/* All or nothing: refused at once (giving some back could be refused too). */
	if (unlikely(sa_nmi_refused(SA_NMI_ALLOC, NULL, caller)))
		return 0;
	if (cache && sa_unhooked())
		return sa_pool_alloc_bulk(&cache->pool, flags, nr, p, cache->object_size, caller);
	for (i = 0; i < nr; i++) {
		p[i] = cache ? sa_pool_alloc(&cache->pool, flags, NUMA_NO_NODE,
					     cache->object_size, caller)
			     : sa_alloc(size, flags, NUMA_NO_NODE, caller);
		if (unlikely(!p[i] || p[i] == ZERO_SIZE_PTR))
			goto fail;
	}
	return nr;
fail:
	while (i--)
		sa_free(p[i], cache, caller, false);
	return 0;
}

/*
 * Free the run of objects @p[@i..@nr) that lie in this CPU's span of their
 * pool, in one critical section, stopping at the first object that is not
 * one (another span, a mistake, a double free, an object past the span's
 * nelems_fast). Return: the index where the run stopped; that object is the
 * caller's.
 */
static size_t sa_free_bulk_run(struct spanalloc_cache *cache, size_t nr, void **p,
			       size_t i)
{
	unsigned long base, end;
	struct sa_pool *pool;
	unsigned int fi;
	struct sa_span *s;
	struct sa_pcpu *c;
	size_t start;
	u32 div_mul;

	if (unlikely(ZERO_OR_NULL_PTR(p[i])))
		return i;
	/* Preemption off from the lookup on: see sa_pool_free(). */
	preempt_disable();
	s = sa_lookup(p[i]);
	if (unlikely(!s || READ_ONCE(s->state) != SA_SPAN_SMALL))
		goto out;
	/* NULL if the span went back to the heap since (a racing double free). */
	pool = READ_ONCE(s->pool);
	if (unlikely(!pool) || (cache && unlikely(pool != &cache->pool)) ||
	    unlikely(!sa_unhooked()))
		goto out;
	/* The free hooks take kmemleak's lock: sa_free() refuses in NMI context. */
	if (sa_free_hooks_built() && unlikely(in_nmi()))
		goto out;
	/* The pool's geometry: kept in registers for the loop. */
	div_mul = s->div_mul;
	c = this_cpu_ptr(pool->pcpu);
	if (likely(sa_pcpu_enter(c))) {
		if (unlikely(c->span != s)) {
			sa_pcpu_exit(c);
			goto out;
		}
		/*
		 * Read once this CPU owns @s: before, the descriptor may have
		 * been freed and reused for another span of the pool.
		 */
		base = s->base;
		/* Objects past nelems_fast need sa_bpos(): sa_free()'s full path. */
		end = (unsigned long)s->nelems_fast * s->elemsize;
		fi = s->winpos;
		for (start = i; i < nr; i++) {
			void *obj = p[i];
			unsigned long off = (unsigned long)obj - base;
			unsigned int idx;

			/*
			 * Another span (or NULL: it wraps) ends the run, and
			 * so does the span's tail, after its last object.
			 */
			if (off >= end)
				break;
			if (unlikely(!sa_obj_exact(off, div_mul, &idx)))
				break;
			/* Not live (freed remotely, or not allocated): sa_free() reports it. */
			if (unlikely(test_bit(idx, sa_rbits(s)) ||
				     !__test_and_clear_bit(idx, sa_abits(s))))
				break;
			if (sa_free_hooks_built()) {
				sa_kmemleak_free(s, idx, obj);
				sa_kasan_unpoison(obj, pool->cls->size);
				sa_kasan_free(obj, pool->cls->size);
			}
			/* sa_span_window_return(), with the window's start in a register. */
			if (likely(idx - fi < BITS_PER_LONG))
				__set_bit(idx - fi, &s->alloc_cache);
		}
		s->alloc_count -= i - start;
		c->sect_stat[SA_FREE] += i - start;
		sa_pcpu_exit(c);
	}
out:
	preempt_enable();
	return i;
}

/*
 * Free @nr objects of @cache (or of anyone, if NULL): runs of objects of
 * this CPU's spans in one critical section each, the others one by one
 * through sa_free(), in order.
 */
static void sa_free_bulk(struct spanalloc_cache *cache, size_t nr, void **p,
			 unsigned long caller)
{
	size_t i = 0;

	while (i < nr) {
		i = sa_free_bulk_run(cache, nr, p, i);
		if (i < nr)
			sa_free(p[i++], cache, caller, false);
	}
}

/**
 * spanalloc_alloc_bulk() - allocate @nr objects of @size bytes
 * @size: bytes per object, 1 to SPANALLOC_MAX_SIZE
 * @flags: GFP flags
 * @nr: how many
 * @p: array that receives the objects
 *
 * All or nothing: on failure nothing stays allocated.
 *
 * Context: any context but NMI; may sleep if @flags allow it.
 * Return: @nr, or 0 on failure.
 */
int spanalloc_alloc_bulk(size_t size, gfp_t flags, size_t nr, void **p)
{
	return sa_alloc_bulk(NULL, size, flags, nr, p, _RET_IP_);
}
EXPORT_SYMBOL_GPL(spanalloc_alloc_bulk);

/**
 * spanalloc_free_bulk() - free @nr objects
 * @nr: how many
 * @p: the objects; each is checked as by spanalloc_free()
 *
 * Context: any context but NMI.
 */
void spanalloc_free_bulk(size_t nr, void **p)
{
	if (!sa_bulk_args_ok(nr, p, _RET_IP_))
		return;
	sa_free_bulk(NULL, nr, p, _RET_IP_);
}
EXPORT_SYMBOL_GPL(spanalloc_free_bulk);

/*
 * A destroyed cache's structure is kept for a while (its pool freed), so that
 * a caller that goes on using it is told so instead of corrupting memory.
 */
#define SA_GRAVEYARD	64
static LIST_HEAD(sa_graveyard);
static unsigned int sa_graveyard_len;

/*
 * The per-CPU caches of every destroyed cache's freed pool: no span, so that
 * spanalloc_cache_alloc()'s fast path misses without testing
 * spanalloc_cache::destroyed, and sa_pool_alloc_full() refuses.
 */
static struct sa_pcpu __percpu *sa_dead_pcpu;

static void sa_free_cache(struct spanalloc_cache *cache)
{
	kfree(cache->name);
	kfree(cache);
}

static void sa_bury(struct spanalloc_cache *cache)
{
	struct spanalloc_cache *old = NULL;

	mutex_lock(&sa_pools_mutex);
	list_add(&cache->list, &sa_graveyard);
	if (++sa_graveyard_len > SA_GRAVEYARD) {
		old = list_last_entry(&sa_graveyard, struct spanalloc_cache, list);
		list_del(&old->list);
		sa_graveyard_len--;
	}
	mutex_unlock(&sa_pools_mutex);
	if (old)
		sa_free_cache(old);
}

static unsigned int sa_cache_align(unsigned int size, unsigned int align, unsigned int flags)
{
	if (flags & SPANALLOC_HWCACHE_ALIGN) {
		unsigned int ralign = cache_line_size();

		while (size <= ralign / 2)
			ralign /= 2;
		align = max(align, ralign);
	}
	return max_t(unsigned int, align, 8);
}

/**
 * spanalloc_cache_create() - create a named cache of objects of one size
 * @name: name, unique among spanalloc caches; copied
 * @size: object size, 1 to SPANALLOC_MAX_SMALL
 * @align: alignment, 0 or a power of two up to PAGE_SIZE
 * @flags: SPANALLOC_HWCACHE_ALIGN, SPANALLOC_DEBUG, or 0
 * @ctor: constructor run once on each object before it is first handed out,
 *	  or NULL
 *
 * Context: process context, may sleep.
 * Return: the cache, or NULL on bad arguments (reported) or no memory.
 */
struct spanalloc_cache *spanalloc_cache_create(const char *name, unsigned int size,
					       unsigned int align, unsigned int flags,
					       void (*ctor)(void *))
{
	struct spanalloc_cache *cache, *other;
	unsigned int objsize;
	bool debug;

	might_sleep();
	if (!name || !*name) {
		sa_report("cache_create without a name", NULL, _RET_IP_);
		return NULL;
	}
	if (!size || size > SPANALLOC_MAX_SMALL ||
	    (align && (!is_power_of_2(align) || align > PAGE_SIZE)) ||
	    (flags & ~(SPANALLOC_HWCACHE_ALIGN | SPANALLOC_DEBUG))) {
		sa_report("cache_create with an absurd size, align or flags", name, _RET_IP_);
		return NULL;
	}
	debug = sa_debug_all || (flags & SPANALLOC_DEBUG);
	align = sa_cache_align(size, align, flags);
	objsize = ALIGN(ALIGN(size, align) + (debug ? SA_DBG_META : 0), align);
	cache = kzalloc(sizeof(*cache), GFP_KERNEL);
	if (!cache)
		return NULL;
	/*
	 * Objects of the size asked for. Every slot that a size, an alignment
	 * and debug metadata can make (up to SA_MAX_CACHE_SLOT) has a geometry.
	 */
	if (WARN_ON_ONCE(!sa_cache_geometry(&cache->geom, objsize))) {
		kfree(cache);
		return NULL;
	}
	cache->name = kstrdup(name, GFP_KERNEL);
	cache->object_size = size;
	cache->align = align;
	cache->flags = flags;
	if (!cache->name || sa_pool_init(&cache->pool, &cache->geom, ctor, cache, debug))
		goto fail;

	mutex_lock(&sa_pools_mutex);
	list_for_each_entry(other, &sa_caches, list) {
		if (!strcmp(other->name, name)) {
			mutex_unlock(&sa_pools_mutex);
			sa_report("cache_create with a duplicate name", name, _RET_IP_);
			goto fail;
		}
	}
	list_add_tail(&cache->list, &sa_caches);
	mutex_unlock(&sa_pools_mutex);
	return cache;
fail:
	sa_pool_destroy(&cache->pool);
	sa_free_cache(cache);
	return NULL;
}
EXPORT_SYMBOL_GPL(spanalloc_cache_create);

/*
 * Empty @c for a give-back: its batch of frees applied (emptied spans onto
 * @empty), its retired spans, and its current one too if @current_too, moved
 * to @out (SA_RETIRED + 1 entries), none owned any more.
 * Context: inside @c's critical section, or @c's CPU is dead; preemption off
 * or in an RCU read-side critical section (sa_central_apply_frees()).
 * Return: how many spans are in @out.
 */
static unsigned int sa_pcpu_detach(struct sa_pool *pool, struct sa_pcpu *c, bool current_too,
				   struct sa_span **out, struct list_head *empty)
{
	unsigned int i, n = 0;

	if (current_too && sa_pcpu_span(c)) {
		out[n++] = c->span;
		c->span = SA_NO_SPAN;
	}
	for (i = 0; i < c->nr_retired; i++)
		out[n++] = c->retired[i];
	c->nr_retired = 0;
	for (i = 0; i < n; i++)
		WRITE_ONCE(out[i]->owner, NULL);
	sa_central_apply_frees(pool, c->frees, c->nr_frees, empty);
	c->nr_frees = 0;
	return n;
}

/*
 * Apply this CPU's batch of frees of @pool, give its retired spans back to
 * the central list, and the span it allocates from too if @current_too.
 */
static void sa_pool_give_back(struct sa_pool *pool, bool current_too)
{
	struct sa_span *out[SA_RETIRED + 1];
	unsigned int i, n;
	struct sa_pcpu *c;

	LIST_HEAD(empty);

	c = get_cpu_ptr(pool->pcpu);
	/* Process context: no critical section of this CPU is interrupted. */
	if (WARN_ON_ONCE(!sa_pcpu_enter(c))) {
		put_cpu_ptr(pool->pcpu);
		return;
	}
	n = sa_pcpu_detach(pool, c, current_too, out, &empty);
	sa_pcpu_exit(c);
	this_cpu_add(pool->pcpu->stat[SA_FLUSH], n);
	put_cpu_ptr(pool->pcpu);
	sa_central_free_empty(&empty);
	for (i = 0; i < n; i++)
		sa_central_put_span(pool, out[i]);
}

/* Give this CPU's spans of @pool back to the central list; apply its frees. */
static long sa_pool_drain_local(void *arg)
{
	sa_pool_give_back(arg, true);
	return 0;
}

/* sa_trim_idle() on this CPU: the pools it marked give back all but their span. */
static long sa_trim_local(void *unused)
{
	struct sa_pool *pool;

	for (pool = sa_pool_next(NULL); pool; pool = sa_pool_next(pool))
		if (this_cpu_read(pool->pcpu->trim_now))
			sa_pool_give_back(pool, false);
	return 0;
}

/*
 * Mark @pool on @cpu for a trim if it neither allocated nor freed since the
 * last check and keeps something a trim gives back. Return: true if marked.
 */
static bool sa_trim_mark(struct sa_pool *pool, int cpu)
{
	struct sa_pcpu *c = per_cpu_ptr(pool->pcpu, cpu);
	unsigned long ops = sa_pcpu_stat(c, SA_ALLOC) + sa_pcpu_stat(c, SA_FREE);

	lockdep_assert_held(&sa_pools_mutex);
	c->trim_now = ops == c->trim_seen &&
		      (READ_ONCE(c->nr_frees) || READ_ONCE(c->nr_retired));
	c->trim_seen = ops;
	return c->trim_now;
}

/**
 * sa_trim_idle() - give back what idle per-CPU caches keep
 *
 * On each CPU, each pool that neither allocated nor freed since the last
 * call and keeps a batch of frees or retired spans has the batch applied
 * and the retired spans given back to the central list (emptied ones go to
 * the page heap); the span it allocates from stays. A busy pool is left alone, and a CPU
 * with nothing to trim is not disturbed. The scavenger's periodic pass calls
 * this.
 *
 * Context: process context, may sleep.
 */
void sa_trim_idle(void)
{
	struct sa_pool *pool;
	bool any;
	int cpu;

	cpus_read_lock();
	mutex_lock(&sa_pools_mutex);
	for_each_online_cpu(cpu) {
		any = false;
		for (pool = sa_pool_next(NULL); pool; pool = sa_pool_next(pool))
			any |= sa_trim_mark(pool, cpu);
		if (any)
			work_on_cpu(cpu, sa_trim_local, NULL);
	}
	mutex_unlock(&sa_pools_mutex);
	cpus_read_unlock();
}

/**
 * spanalloc_debug_trim_idle() - run the scavenger's trim of idle per-CPU caches
 *
 * Context: process context, may sleep.
 */
void spanalloc_debug_trim_idle(void)
{
	sa_trim_idle();
}
EXPORT_SYMBOL_NS_GPL(spanalloc_debug_trim_idle, SPANALLOC_INTERNAL);

/*
 * Give this CPU's spans of every pool back. Runs for sa_drain_all(), whose
 * caller holds sa_pools_mutex (so the list of caches stays as it is).
 */
static long sa_drain_all_local(void *unused)
{
	struct sa_pool *pool;

	for (pool = sa_pool_next(NULL); pool; pool = sa_pool_next(pool))
		sa_pool_drain_local(pool);
	return 0;
}

/* Drain @pool on every online CPU; offline CPUs were drained when they died. */
static void sa_pool_drain(struct sa_pool *pool)
{
	int cpu;

	/* Context: cpus_read_lock() held, so no CPU comes or goes meanwhile. */
	for_each_online_cpu(cpu)
		work_on_cpu(cpu, sa_pool_drain_local, pool);
}

/* Drain a pool on a CPU that is dead or that nothing else can run on. */
static void sa_pool_drain_cpu(struct sa_pool *pool, int cpu)
{
	struct sa_pcpu *c = per_cpu_ptr(pool->pcpu, cpu);
	struct sa_span *out[SA_RETIRED + 1];
	unsigned int i, n;
	LIST_HEAD(empty);

	rcu_read_lock();
	n = sa_pcpu_detach(pool, c, true, out, &empty);
	rcu_read_unlock();
	sa_central_free_empty(&empty);
	for (i = 0; i < n; i++)
		sa_central_put_span(pool, out[i]);
}

/**
 * spanalloc_cache_destroy() - destroy a named cache
 * @cache: the cache, or NULL
 *
 * A cache that still has live objects is reported with its name and count
 * and left in place, so that those objects stay valid and can still be freed
 * (and the cache destroyed again once they are). A cache already destroyed
 * without live objects is reported and left alone.
 *
 * Context: process context, may sleep.
 */
void spanalloc_cache_destroy(struct spanalloc_cache *cache)
{
	unsigned long live;

	might_sleep();
	if (!cache)
		return;
	if (unlikely(sa_cache_buried(cache))) {
		sa_report("destroy of a destroyed cache", cache->name, _RET_IP_);
		return;
	}
	cpus_read_lock();
	mutex_lock(&sa_pools_mutex);
	sa_pool_drain(&cache->pool);
	live = sa_pool_live_objects(&cache->pool);
	if (live) {
		cache->destroyed = true;
		mutex_unlock(&sa_pools_mutex);
		cpus_read_unlock();
		if (!sa_counted_report())
			pr_err("spanalloc: cache %s destroyed with %lu live objects; kept\n",
			       cache->name, live);
		atomic_long_inc(&sa_errors);
		return;
	}
	list_del(&cache->list);
	cache->destroyed = true;
	mutex_unlock(&sa_pools_mutex);
	cpus_read_unlock();
	sa_pool_destroy(&cache->pool);
	cache->pool.pcpu = sa_dead_pcpu;
	sa_bury(cache);
}
EXPORT_SYMBOL_GPL(spanalloc_cache_destroy);

/*
 * Checks common to the cache allocation calls; false refuses the call.
 * @lazy: as for sa_fix_flags().
 */
static __always_inline bool sa_cache_usable(struct spanalloc_cache *cache, gfp_t *flags,
					    unsigned long caller, const bool lazy)
{
	if (unlikely(!cache)) {
		sa_report("allocation from a NULL cache", NULL, caller);
		return false;
	}
	if (unlikely(cache->destroyed)) {
		sa_report(SA_DESTROYED_ALLOC, cache->name, caller);
		return false;
	}
	if (unlikely(cache->pool.ctor && (*flags & __GFP_ZERO))) {
		sa_report("__GFP_ZERO with a constructor cache, ignored", cache->name, caller);
		*flags &= ~__GFP_ZERO;
	}
	return sa_fix_flags(flags, caller, lazy);
}

/* Every allocation from a named cache but the fast path's: checks and reports. */
static noinline void *sa_cache_alloc_full(struct spanalloc_cache *cache, gfp_t flags,
					  unsigned long caller)
{
	if (unlikely(!sa_cache_usable(cache, &flags, caller, false)))
		return NULL;
	return sa_pool_alloc(&cache->pool, flags, NUMA_NO_NODE, cache->object_size, caller);
}

/**
 * spanalloc_cache_alloc() - allocate an object from a named cache
 * @cache: the cache
 * @flags: GFP flags
 *
 * Context: any context but NMI; may sleep if @flags allow it.
 * Return: the object, or NULL on failure.
 */
void *spanalloc_cache_alloc(struct spanalloc_cache *cache, gfp_t flags)
{
	/*
	 * A destroyed cache has no span in any per-CPU cache (drained, or
	 * sa_dead_pcpu): its fast path misses, and sa_pool_alloc_full() refuses.
	 */
	if (unlikely(!cache || !sa_gfp_plain(flags, cache->pool.gfp_full) || !sa_unhooked()))
		return sa_cache_alloc_full(cache, flags, _RET_IP_);
	return sa_pool_alloc_fast(&cache->pool, flags, NUMA_NO_NODE, 0, 0, true, true);
}
EXPORT_SYMBOL_GPL(spanalloc_cache_alloc);

/**
 * spanalloc_cache_free() - free an object to its named cache
 * @cache: the cache the object came from
 * @p: the object, or NULL
 *
 * An object of another cache is reported and not freed.
 *
 * Context: any context but NMI.
 */
void spanalloc_cache_free(struct spanalloc_cache *cache, void *p)
{
	sa_free(p, cache, 0, true);
}
EXPORT_SYMBOL_GPL(spanalloc_cache_free);

/**
 * spanalloc_cache_alloc_bulk() - allocate @nr objects from a named cache
 * @cache: the cache
 * @flags: GFP flags
 * @nr: how many
 * @p: array that receives the objects
 *
 * All or nothing: on failure nothing stays allocated.
 *
 * Context: any context but NMI; may sleep if @flags allow it.
 * Return: @nr, or 0 on failure.
 */
int spanalloc_cache_alloc_bulk(struct spanalloc_cache *cache, gfp_t flags, size_t nr,
			       void **p)
{
	if (unlikely(!sa_cache_usable(cache, &flags, _RET_IP_, true)))
		return 0;
	return sa_alloc_bulk(cache, 0, flags, nr, p, _RET_IP_);
}
EXPORT_SYMBOL_GPL(spanalloc_cache_alloc_bulk);

/**
 * spanalloc_cache_free_bulk() - free @nr objects to a named cache
 * @cache: the cache they came from
 * @nr: how many
 * @p: the objects
 *
 * Context: any context but NMI.
 */
void spanalloc_cache_free_bulk(struct spanalloc_cache *cache, size_t nr, void **p)
{
	if (unlikely(!cache || sa_cache_buried(cache))) {
		sa_report("cache_free_bulk to a NULL or destroyed cache", p, _RET_IP_);
		return;
	}
	if (!sa_bulk_args_ok(nr, p, _RET_IP_))
		return;
	sa_free_bulk(cache, nr, p, _RET_IP_);
}
EXPORT_SYMBOL_GPL(spanalloc_cache_free_bulk);

/* ---- Hooks for the KUnit suites (namespace SPANALLOC_INTERNAL) ---- */

/**
 * sa_drain_all() - give every per-CPU cache's spans back
 *
 * Context: process context, may sleep.
 */
void sa_drain_all(void)
{
	int cpu;

	cpus_read_lock();
	mutex_lock(&sa_pools_mutex);
	/* One trip to each CPU for all pools, not one per pool. */
	for_each_online_cpu(cpu)
		work_on_cpu(cpu, sa_drain_all_local, NULL);
	mutex_unlock(&sa_pools_mutex);
	cpus_read_unlock();
}

/**
 * spanalloc_debug_drain() - give every per-CPU cache's spans back
 *
 * Context: process context, may sleep.
 */
void spanalloc_debug_drain(void)
{
	sa_drain_all();
}
EXPORT_SYMBOL_NS_GPL(spanalloc_debug_drain, SPANALLOC_INTERNAL);

/**
 * spanalloc_debug_release() - drain caches and give all free pages back
 *
 * Context: process context, may sleep.
 */
void spanalloc_debug_release(void)
{
	spanalloc_debug_drain();
	sa_heap_release_all();
}
EXPORT_SYMBOL_NS_GPL(spanalloc_debug_release, SPANALLOC_INTERNAL);

/**
 * spanalloc_debug_hooked() - is a runtime hook on (sa_hooks)?
 *
 * Return: true if every call takes the full paths now (a debug cache lives,
 * a spanalloc trace event is on, or init_on_free).
 */
bool spanalloc_debug_hooked(void)
{
	return !sa_unhooked();
}
EXPORT_SYMBOL_NS_GPL(spanalloc_debug_hooked, SPANALLOC_INTERNAL);

/**
 * spanalloc_debug_heap() - read one node's page heap counters
 * @node: NUMA node
 * @st: filled in
 */
void spanalloc_debug_heap(int node, struct spanalloc_heap_stats *st)
{
	sa_heap_read_stats(node, st);
}
EXPORT_SYMBOL_NS_GPL(spanalloc_debug_heap, SPANALLOC_INTERNAL);

/**
 * spanalloc_debug_lookup() - what spanalloc knows of a pointer
 * @p: any pointer
 * @info: filled in when @p is in spanalloc memory
 *
 * Return: 0 if @p points into memory spanalloc holds, -ENOENT if not.
 */
int spanalloc_debug_lookup(const void *p, struct spanalloc_ptr_info *info)
{
	struct sa_pool *pool;
	struct sa_span *s;
	unsigned int idx;

	/* Tests pass freed pointers: see sa_free_checked(). */
	rcu_read_lock();
	s = sa_lookup(p);
	if (!s) {
		rcu_read_unlock();
		return -ENOENT;
	}
	memset(info, 0, sizeof(*info));
	info->state = READ_ONCE(s->state);
	info->base = s->base;
	info->npages = s->npages;
	info->node = s->node;
	pool = READ_ONCE(s->pool);
	if (info->state == SA_SPAN_SMALL && pool) {
		idx = sa_span_index(s, p);
		info->size = s->elemsize;
		info->nelems = s->nelems;
		info->class_idx = pool->class_idx;
		info->live = idx < s->nelems && sa_span_obj_live(s, sa_bpos(idx));
		info->alloc_count = READ_ONCE(s->alloc_count);
		info->alloc_weight = sa_span_alloc_weight(s);
	} else if (info->state == SA_SPAN_LARGE || info->state == SA_SPAN_HUGE) {
		info->size = s->elemsize;
		info->live = true;
	}
	rcu_read_unlock();
	return 0;
}
EXPORT_SYMBOL_NS_GPL(spanalloc_debug_lookup, SPANALLOC_INTERNAL);

/**
 * spanalloc_debug_stray_remote_bit() - leave what a racing double free leaves
 * @p: a free object of a small span
 *
 * A caller's second free of an object, on another CPU, racing with the
 * owner's first: it sees the object still allocated, and sets its
 * remote-free bit after the owner cleared its allocBit. Tests set that bit
 * here, as the race would.
 */
void spanalloc_debug_stray_remote_bit(const void *p)
{
	struct sa_span *s;
	unsigned int idx;

	/* The object is free: its span may go back to the heap meanwhile. */
	rcu_read_lock();
	s = sa_lookup(p);
	if (!WARN_ON_ONCE(!s || s->state != SA_SPAN_SMALL || !sa_span_obj_start(s, p, &idx)))
		set_bit(sa_bpos(idx), sa_rbits(s));
	rcu_read_unlock();
}
EXPORT_SYMBOL_NS_GPL(spanalloc_debug_stray_remote_bit, SPANALLOC_INTERNAL);

/**
 * spanalloc_debug_set_chunk_order() - cap the order of new chunks
 * @order: largest order tried, 0 to SA_CHUNK_ORDER
 *
 * Return: the previous cap.
 */
unsigned int spanalloc_debug_set_chunk_order(unsigned int order)
{
	return xchg(&sa_max_chunk_order, min_t(unsigned int, order, SA_CHUNK_ORDER));
}
EXPORT_SYMBOL_NS_GPL(spanalloc_debug_set_chunk_order, SPANALLOC_INTERNAL);

/**
 * spanalloc_debug_fail_new_span() - make the @nth next new span fail
 * @nth: 1 fails the next one; 0 turns the injection off
 */
void spanalloc_debug_fail_new_span(int nth)
{
	atomic_set(&sa_fail_new_span, nth);
}
EXPORT_SYMBOL_NS_GPL(spanalloc_debug_fail_new_span, SPANALLOC_INTERNAL);

/**
 * spanalloc_debug_capture() - count reports of all contexts instead of printing
 * @counter: where to count them, or NULL to print them again
 *
 * A test thread's own reports go to its "spanalloc_errors" resource; this
 * catches those it provokes through kworkers and interrupts.
 */
void spanalloc_debug_capture(atomic_t *counter)
{
	WRITE_ONCE(sa_capture, counter);
}
EXPORT_SYMBOL_NS_GPL(spanalloc_debug_capture, SPANALLOC_INTERNAL);

/**
 * spanalloc_debug_fail_refill() - the fault_attr of the refill path
 *
 * Return: the attribute tests set (probability, interval, times).
 */
struct fault_attr *spanalloc_debug_fail_refill(void)
{
	return &sa_fail_refill;
}
EXPORT_SYMBOL_NS_GPL(spanalloc_debug_fail_refill, SPANALLOC_INTERNAL);

/**
 * spanalloc_debug_counts() - objects allocated and freed, summed over CPUs
 * @allocs: total allocations (small and large)
 * @frees: total frees (small and large)
 */
void spanalloc_debug_counts(unsigned long *allocs, unsigned long *frees)
{
	unsigned long a = 0, f = 0;
	struct sa_pool *pool;
	int cpu;

	mutex_lock(&sa_pools_mutex);
	for_each_possible_cpu(cpu) {
		for (pool = sa_pool_next(NULL); pool; pool = sa_pool_next(pool)) {
			struct sa_pcpu *c = per_cpu_ptr(pool->pcpu, cpu);

			a += sa_pcpu_stat(c, SA_ALLOC);
			f += sa_pcpu_stat(c, SA_FREE);
		}
		a += per_cpu(sa_large.allocs, cpu);
		f += per_cpu(sa_large.frees, cpu);
	}
	mutex_unlock(&sa_pools_mutex);
	*allocs = a;
	*frees = f;
}
EXPORT_SYMBOL_NS_GPL(spanalloc_debug_counts, SPANALLOC_INTERNAL);

/**
 * spanalloc_debug_cpu_spans() - spans a CPU's caches hold
 * @cpu: the CPU
 *
 * Return: how many spans the pools' caches own on @cpu, current and retired
 * (a racy snapshot).
 */
unsigned int spanalloc_debug_cpu_spans(int cpu)
{
	struct sa_pool *pool;
	unsigned int n = 0;

	mutex_lock(&sa_pools_mutex);
	for (pool = sa_pool_next(NULL); pool; pool = sa_pool_next(pool)) {
		struct sa_pcpu *c = per_cpu_ptr(pool->pcpu, cpu);

		n += !!sa_pcpu_span(c) + READ_ONCE(c->nr_retired);
	}
	mutex_unlock(&sa_pools_mutex);
	return n;
}
EXPORT_SYMBOL_NS_GPL(spanalloc_debug_cpu_spans, SPANALLOC_INTERNAL);

/* ---- Module life ---- */

static int sa_cpu_dead(unsigned int cpu)
{
	struct sa_pool *pool;

	mutex_lock(&sa_pools_mutex);
	for (pool = sa_pool_next(NULL); pool; pool = sa_pool_next(pool))
		sa_pool_drain_cpu(pool, cpu);
	mutex_unlock(&sa_pools_mutex);
	return 0;
}

static void sa_class_pools_exit(void)
{
	unsigned int i;
	int cpu;

	for (i = 1; i < SA_NUM_CLASSES; i++) {
		struct sa_pool *pool = &sa_class_pools[i];
		unsigned long live;

		if (!pool->pcpu)
			continue;
		for_each_possible_cpu(cpu)
			sa_pool_drain_cpu(pool, cpu);
		live = sa_pool_live_objects(pool);
		if (live)
			pr_err("spanalloc: %lu objects of %u bytes still allocated at unload\n",
			       live, pool->cls->size);
		else
			sa_pool_destroy(pool);
	}
}

static int __init spanalloc_init(void)
{
	unsigned int i;
	int ret;

	ret = sa_heap_init();
	if (ret)
		return ret;
	if (want_init_on_free())
		static_branch_inc(&sa_hooks);
	sa_dead_pcpu = sa_pcpu_alloc();
	if (!sa_dead_pcpu) {
		ret = -ENOMEM;
		goto fail;
	}
	for (i = 1; i < SA_NUM_CLASSES; i++) {
		ret = sa_pool_init(&sa_class_pools[i], &sa_classes[i], NULL, NULL, sa_debug_all);
		if (ret)
			goto fail;
	}
	for (i = 0; i < ARRAY_SIZE(sa_size_class); i++)
		sa_size_class[i] = sa_size_to_class((i + 1) * SA_SMALL_SIZE_DIV);
	for (i = 0; i < SA_NUM_CLASSES; i++)
		sa_class_pool[i] = &sa_class_pools[i];
	ret = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "spanalloc:dead",
					NULL, sa_cpu_dead);
	if (ret < 0)
		goto fail;
	sa_cpuhp_state = ret;
	ret = sa_scavenger_init();
	if (ret) {
		cpuhp_remove_state_nocalls(sa_cpuhp_state);
		goto fail;
	}
	sa_debugfs_init();
	pr_info("spanalloc: %u size classes, %lu KiB chunks, %u nodes%s\n",
		SA_NUM_CLASSES - 1, (PAGE_SIZE << SA_CHUNK_ORDER) >> 10, num_possible_nodes(),
		sa_debug_all ? ", debug mode for every object (debug=1)" : "");
	return 0;
fail:
	sa_class_pools_exit();
	free_percpu(sa_dead_pcpu);
	sa_heap_exit();
	return ret;
}

static void __exit spanalloc_exit(void)
{
	struct spanalloc_cache *cache, *tmp;
	int cpu;

	sa_debugfs_exit();
	sa_scavenger_exit();
	cpuhp_remove_state_nocalls(sa_cpuhp_state);
	list_for_each_entry_safe(cache, tmp, &sa_caches, list) {
		unsigned long live;

		for_each_possible_cpu(cpu)
			sa_pool_drain_cpu(&cache->pool, cpu);
		live = sa_pool_live_objects(&cache->pool);
		if (live || !cache->destroyed)
			pr_err("spanalloc: cache %s still exists at unload (%lu live objects)\n",
			       cache->name, live);
		if (!live) {
			list_del(&cache->list);
			sa_pool_destroy(&cache->pool);
			sa_free_cache(cache);
		}
	}
	list_for_each_entry_safe(cache, tmp, &sa_graveyard, list)
		sa_free_cache(cache);
	sa_class_pools_exit();
	free_percpu(sa_dead_pcpu);
	sa_heap_exit();
}

module_init(spanalloc_init);
module_exit(spanalloc_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("spanalloc: a slab-style allocator on the design of the Go runtime's");
MODULE_AUTHOR("The spanalloc developers");
MODULE_VERSION("0.1.0");
