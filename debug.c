// SPDX-License-Identifier: GPL-2.0
/*
 * Debug mode, in the spirit of slab_debug=FZP. See span.c for the overview.
 *
 * In a debug pool each slot of the class holds the caller's object, then
 * SA_DBG_META bytes of metadata:
 *
 *   | object: pool->usable bytes | red zone: 8 | alloc site: 8 | free site: 8 |
 *   | size requested: 4 | unused: 4 |
 *
 * A free object is filled with SA_POISON_FREE and ends with SA_POISON_END; the
 * red zone always holds SA_RED, and so do an allocated object's bytes past the
 * size requested (as slab_debug's kmalloc red zone: the size API's request,
 * or a named cache's object size, short of the slot's usable bytes), until
 * spanalloc_usable_size() gives them to the caller. Check points: an
 * allocation checks the poison of the object it hands out (a write after
 * free), a free checks the red zones (a write past the end, or past the size
 * requested). A failed check is reported once, with a hexdump and the
 * object's call sites. A write past the end, or after free, may have hit the
 * metadata or a neighbour: the object is not handed out again and its span
 * is quarantined, taken out of every cache and list, never reused. A write
 * past the size requested stayed inside the slot: the object is freed.
 *
 * With generic KASAN the checks run on unpoisoned memory, which is poisoned
 * again afterwards, so KASAN keeps seeing the object as before.
 */
#include <linux/log2.h>
#include <linux/moduleparam.h>
#include <linux/printk.h>
#include <linux/string.h>

#include "internal.h"

#define SA_POISON_FREE	0x6b	/* POISON_FREE */
#define SA_POISON_END	0xa5	/* POISON_END */
#define SA_RED		0xbb	/* SLUB_RED_INACTIVE */

DEFINE_STATIC_KEY_FALSE(sa_debug_active);

bool sa_debug_all;
EXPORT_SYMBOL_NS_GPL(sa_debug_all, SPANALLOC_INTERNAL);
module_param_named(debug, sa_debug_all, bool, 0444);
MODULE_PARM_DESC(debug, "Debug mode for every cache and spanalloc_alloc(): poison, red zones, checks");

struct sa_dbg_meta {
	u8 red[8];			/* SA_RED while the slot is sane */
	unsigned long alloc_ip;		/* who allocated it last */
	unsigned long free_ip;		/* who freed it last */
	u32 req;			/* allocated: bytes the caller may use */
	u32 unused;
};

static_assert(sizeof(struct sa_dbg_meta) == SA_DBG_META);

/**
 * sa_debug_size_class() - the class of a size API object under debug=1
 * @size: bytes requested, 1 to SPANALLOC_MAX_SMALL - SA_DBG_META
 *
 * Every class pool keeps SA_DBG_META bytes of each slot. A power of two
 * keeps its natural alignment up to a page, as without debug (and as
 * kmalloc keeps it under slub_debug): its slot is the smallest class that
 * is a multiple of it (there is one: the classes have every power of two).
 *
 * Return: the class index.
 */
unsigned int sa_debug_size_class(size_t size)
{
	unsigned int cls = sa_size_to_class(size + SA_DBG_META);

	if (is_power_of_2(size))
		while (sa_classes[cls].size % min_t(size_t, size, PAGE_SIZE))
			cls++;
	return cls;
}
EXPORT_SYMBOL_NS_GPL(sa_debug_size_class, SPANALLOC_INTERNAL);

static struct sa_dbg_meta *sa_meta(struct sa_pool *pool, const void *obj)
{
	return (struct sa_dbg_meta *)((char *)obj + pool->usable);
}

static void sa_poison(struct sa_pool *pool, void *obj)
{
	memset(obj, SA_POISON_FREE, pool->usable - 1);
	((u8 *)obj)[pool->usable - 1] = SA_POISON_END;
}

/**
 * sa_report_object() - report a corrupted object, with its dump and call sites
 * @problem: what was found
 * @pool: its pool
 * @obj: the object (its slot must be unpoisoned for KASAN)
 * @caller: the call that found it
 */
void sa_report_object(const char *problem, struct sa_pool *pool, const void *obj,
		      unsigned long caller)
{
	struct sa_dbg_meta *m = sa_meta(pool, obj);
	static DEFINE_RATELIMIT_STATE(rs, 5 * HZ, 10);

	atomic_long_inc(&sa_errors);
	if (sa_counted_report() || !__ratelimit(&rs))
		return;
	pr_err("spanalloc: %s: object %p (%u bytes, %u last requested), found by %pS\n", problem,
	       obj, pool->usable, m->req, (void *)caller);
	pr_err("spanalloc: last allocated at %pS, last freed at %pS\n",
	       (void *)m->alloc_ip, (void *)m->free_ip);
	print_hex_dump(KERN_ERR, "spanalloc: ", DUMP_PREFIX_OFFSET, 16, 1, obj,
		       min_t(unsigned int, pool->cls->size, 128), true);
}

/**
 * sa_debug_init_span() - poison every slot of a span just carved
 * @pool: a debug pool
 * @s: the span, unpoisoned for KASAN
 */
void sa_debug_init_span(struct sa_pool *pool, struct sa_span *s)
{
	unsigned int i;

	for (i = 0; i < s->nelems; i++) {
		void *obj = (void *)(s->base + (unsigned long)i * s->elemsize);
		struct sa_dbg_meta *m = sa_meta(pool, obj);

		if (!pool->ctor)
			sa_poison(pool, obj);
		memset(m->red, SA_RED, sizeof(m->red));
		m->alloc_ip = 0;
		m->free_ip = 0;
		m->req = pool->usable;
		m->unused = 0;
	}
}

static bool sa_red_ok(struct sa_dbg_meta *m)
{
	return !memchr_inv(m->red, SA_RED, sizeof(m->red));
}

/**
 * sa_quarantine() - take a span out of use for good
 * @pool: its pool
 * @s: the span
 *
 * If this CPU's cache holds it, it is given up; from then on it is on no list
 * it could be allocated from, and it never goes back to the page heap.
 */
void sa_quarantine(struct sa_pool *pool, struct sa_span *s)
{
	struct sa_pcpu *c;
	bool mine = false;
	unsigned int i;

	WRITE_ONCE(s->quarantined, true);
	c = get_cpu_ptr(pool->pcpu);
	if (sa_pcpu_enter(c)) {
		if (c->span == s) {
			c->span = SA_NO_SPAN;
			mine = true;
		}
		if (mine || READ_ONCE(s->owner) == c)
			WRITE_ONCE(s->owner, NULL);
		for (i = 0; !mine && i < c->nr_retired; i++) {
			if (c->retired[i] != s)
				continue;
			sa_pcpu_unretire(c, i);
			mine = true;
		}
		sa_pcpu_exit(c);
	}
	put_cpu_ptr(pool->pcpu);
	if (mine)
		sa_central_put_span(pool, s);
}

/**
 * sa_debug_alloc() - check point of an object about to be handed out
 * @pool: a debug pool
 * @obj: the object, its slot unpoisoned for KASAN
 * @caller: the allocating call
 *
 * Return: true if the object is sane and now marked allocated; false if it
 * was written after it was freed (reported; its span is quarantined and the
 * object is never handed out).
 */
bool sa_debug_alloc(struct sa_pool *pool, void *obj, unsigned long caller)
{
	struct sa_dbg_meta *m = sa_meta(pool, obj);
	struct sa_span *s = sa_lookup(obj);
	bool bad;

	/* Its span was found corrupted since this CPU took it: give it up. */
	if (unlikely(READ_ONCE(s->quarantined))) {
		sa_quarantine(pool, s);
		return false;
	}
	bad = !sa_red_ok(m);

	if (!pool->ctor && !bad)
		bad = memchr_inv(obj, SA_POISON_FREE, pool->usable - 1) ||
		      ((u8 *)obj)[pool->usable - 1] != SA_POISON_END;
	if (unlikely(bad)) {
		sa_report_object("object written after it was freed", pool, obj, caller);
		sa_quarantine(pool, s);
		return false;
	}
	m->alloc_ip = caller;
	return true;
}

/**
 * sa_debug_set_size() - the caller's share of an object just handed out
 * @pool: a debug pool
 * @obj: the object, its slot unpoisoned for KASAN
 * @req: the bytes the caller may use: requested (at most pool->usable), or
 *       all of them once spanalloc_usable_size() told the caller so
 *
 * The bytes past @req hold SA_RED, which the free checks.
 */
void sa_debug_set_size(struct sa_pool *pool, void *obj, size_t req)
{
	struct sa_dbg_meta *m = sa_meta(pool, obj);

	if (WARN_ON_ONCE(req > pool->usable))
		req = pool->usable;
	memset(obj + req, SA_RED, pool->usable - req);
	m->req = req;
}

/**
 * sa_debug_get_size() - the bytes the caller of a live object may use
 * @pool: a debug pool
 * @obj: the object, allocated (its metadata may be poisoned for KASAN)
 *
 * Return: its size requested, or pool->usable after spanalloc_usable_size().
 */
size_t sa_debug_get_size(struct sa_pool *pool, const void *obj)
{
	struct sa_dbg_meta *m = sa_meta(pool, obj);
	size_t req;

	kasan_disable_current();
	req = min_t(size_t, READ_ONCE(m->req), pool->usable);
	kasan_enable_current();
	return req;
}

/**
 * sa_debug_free() - check point of an object being freed
 * @pool: a debug pool
 * @s: its span
 * @obj: the object, its slot unpoisoned for KASAN
 * @caller: the freeing call
 *
 * A red zone written over is reported, and past the end, the span
 * quarantined; the object is poisoned and freed either way.
 */
void sa_debug_free(struct sa_pool *pool, struct sa_span *s, void *obj, unsigned long caller)
{
	struct sa_dbg_meta *m = sa_meta(pool, obj);

	if (unlikely(!sa_red_ok(m) || m->req > pool->usable)) {
		sa_report_object("object written past its end", pool, obj, caller);
		memset(m->red, SA_RED, sizeof(m->red));
		WRITE_ONCE(s->quarantined, true);
	} else if (unlikely(memchr_inv(obj + m->req, SA_RED, pool->usable - m->req))) {
		sa_report_object("object written past the size requested", pool, obj, caller);
	}
	if (!pool->ctor)
		sa_poison(pool, obj);
	m->free_ip = caller;
}
