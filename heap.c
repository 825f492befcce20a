// SPDX-License-Identifier: GPL-2.0
/*
 * The page heap (Go's mheap): the bottom layer. See span.c for the overview.
 *
 * One heap per NUMA node takes pages from alloc_pages() in chunks of 1 MiB
 * (order SA_CHUNK_ORDER), falling back to smaller orders when the buddy
 * allocator has no such block, and splits each chunk into independent pages
 * (split_page()) so that any run of them can later go back on its own. The
 * heap carves spans of N pages out of free spans (first fit by length), and a
 * freed span coalesces with the free spans next to it in the same chunk.
 *
 * Every page the heap holds carries SA_PAGE_TAG in page->mapping and its span
 * (in use or free) in page->private, so sa_lookup() needs no lock. Both are
 * cleared before a page goes back to the page allocator. Retagging costs a
 * store per page, so a carve takes the last pages of a free span (only they
 * get a new descriptor) and of two free spans joined, the shorter is
 * retagged.
 *
 * Requests larger than a chunk ("huge" objects) take their pages straight
 * from alloc_pages() and give them straight back.
 */
#include <linux/gfp.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/slab.h>

#include "internal.h"

const unsigned long sa_page_tag[2] __aligned(sizeof(long));
struct kmem_cache *sa_span_cachep;
/* Largest chunk order tried; tests lower it to exercise the fallback. */
unsigned int sa_max_chunk_order = SA_CHUNK_ORDER;
/* Fault injection for tests: fail the Nth next span carved (0: off). */
atomic_t sa_fail_new_span = ATOMIC_INIT(0);
/* Fault injection on the refill path, debugfs spanalloc/fail_refill. */
DECLARE_FAULT_ATTR(sa_fail_refill);

static struct sa_heap *sa_heaps[MAX_NUMNODES];
unsigned long sa_granules[BITS_TO_LONGS(SA_GRANULES)];
/* Beyond the bitmap: the lowest and highest address ever held there. */
static unsigned long sa_far_lo = ULONG_MAX, sa_far_hi;
static DEFINE_SPINLOCK(sa_range_lock);	/* serializes widening sa_far_lo/hi */

/* Mark the granules of @npages at @base as held once; never undone. */
static void sa_widen_range(unsigned long base, unsigned int npages)
{
	unsigned long end = base + ((unsigned long)npages << PAGE_SHIFT), flags, a;

	for (a = base & ~(BIT(SA_GRANULE_SHIFT) - 1); a < end; a += BIT(SA_GRANULE_SHIFT)) {
		unsigned long g = (a - PAGE_OFFSET) >> SA_GRANULE_SHIFT;

		if (g < SA_GRANULES) {
			set_bit(g, sa_granules);
			continue;
		}
		spin_lock_irqsave(&sa_range_lock, flags);
		WRITE_ONCE(sa_far_lo, min(sa_far_lo, a));
		WRITE_ONCE(sa_far_hi, max(sa_far_hi, end));
		spin_unlock_irqrestore(&sa_range_lock, flags);
	}
}

/**
 * sa_lookup_far() - may sa_lookup() read the struct page of @addr?
 * @addr: an address past the first SA_GRANULES of the direct map
 *
 * Return: true if @addr is within the range spanalloc held pages in there and
 * has a struct page.
 */
bool sa_lookup_far(unsigned long addr)
{
	if (addr < READ_ONCE(sa_far_lo) || addr >= READ_ONCE(sa_far_hi))
		return false;
	return pfn_valid(__pa(addr) >> PAGE_SHIFT);
}

/*
 * Spare span descriptors per heap, so that no slab call is made under a lock,
 * and so that hardirq context, which cannot allocate them, can split spans.
 */
#define SA_SPARES_MIN	16
#define SA_SPARES_MAX	64

/* The caller's reclaim and failure behaviour: all that matters below us. */
#define SA_RECLAIM_MASK	(__GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HIGH | \
			 __GFP_NOWARN | __GFP_NORETRY | __GFP_RETRY_MAYFAIL | \
			 __GFP_NOFAIL | __GFP_NOMEMALLOC | __GFP_MEMALLOC)

/**
 * sa_set_pages() - point every page of a span at its descriptor
 * @s: the span
 * @owner: descriptor to store, or NULL to untag the pages
 *
 * Context: heap lock held, or the pages are not reachable by anyone else.
 */
void sa_set_pages(struct sa_span *s, struct sa_span *owner)
{
	struct page *page = virt_to_page((void *)s->base);
	unsigned int i;

	for (i = 0; i < s->npages; i++, page++) {
		if (owner) {
			WRITE_ONCE(page->private, (unsigned long)owner);
			WRITE_ONCE(page->mapping, SA_PAGE_TAG);
		} else {
			WRITE_ONCE(page->mapping, NULL);
			WRITE_ONCE(page->private, 0);
		}
	}
}

/*
 * Split a new block of 2^@order pages into pages that can go back one by one,
 * and clear what their last user left in page->index. kmemleak scans the
 * struct page of every page in use, and a slab's freelist, which shares that
 * word, still points into the page after the slab is freed: an object of
 * ours there would look referenced, and its leak would go unreported.
 */
static void sa_take_pages(struct page *page, unsigned int order)
{
	unsigned int i;

	split_page(page, order);
	for (i = 0; i < (1U << order); i++)
		page[i].index = 0;
}

/* Untag a span's pages and give them back to the page allocator. */
static void sa_free_pages(struct sa_span *s)
{
	struct page *page = virt_to_page((void *)s->base);
	unsigned int i;

	sa_set_pages(s, NULL);
	for (i = 0; i < s->npages; i++)
		__free_page(page + i);
}

static unsigned int sa_list_index(unsigned int npages)
{
	return min(npages, SA_HEAP_LISTS) - 1;
}

static void sa_heap_insert(struct sa_heap *h, struct sa_span *s)
{
	unsigned int i = sa_list_index(s->npages);

	lockdep_assert_held(&h->lock);
	s->state = SA_SPAN_FREE;
	s->idle_since = jiffies;
	list_add(&s->list, &h->free[i]);
	list_add(&s->lru, &h->lru);
	__set_bit(i, h->nonempty);
	h->pages_free += s->npages;
	h->nr_free_spans++;
}

static void sa_heap_remove(struct sa_heap *h, struct sa_span *s)
{
	unsigned int i = sa_list_index(s->npages);

	lockdep_assert_held(&h->lock);
	list_del(&s->list);
	list_del(&s->lru);
	if (list_empty(&h->free[i]))
		__clear_bit(i, h->nonempty);
	h->pages_free -= s->npages;
	h->nr_free_spans--;
}

/*
 * Take @npages from the smallest free span that holds them: its last pages,
 * so that only the pages taken are retagged (with a spare descriptor); the
 * free span keeps its head, its descriptor and its pages' tags.
 */
static struct sa_span *sa_heap_take(struct sa_heap *h, unsigned int npages)
{
	struct sa_span *s, *t;
	unsigned int i;

	lockdep_assert_held(&h->lock);
	for (i = find_next_bit(h->nonempty, SA_HEAP_LISTS, npages - 1);
	     i < SA_HEAP_LISTS;
	     i = find_next_bit(h->nonempty, SA_HEAP_LISTS, i + 1)) {
		list_for_each_entry(s, &h->free[i], list) {
			if (s->npages >= npages)
				goto found;
		}
	}
	return NULL;
found:
	sa_heap_remove(h, s);
	if (s->npages == npages) {
		/* Off the free lists: no neighbour may merge it while it is set up. */
		WRITE_ONCE(s->state, 0);
		return s;
	}
	t = list_first_entry_or_null(&h->spares, struct sa_span, list);
	if (!t) {
		sa_heap_insert(h, s);
		return NULL;
	}
	list_del(&t->list);
	h->nr_spares--;
	/* State 0 (set up, on no list) before its pages point at it. */
	memset(t, 0, sizeof(*t));
	s->npages -= npages;
	t->base = s->base + ((unsigned long)s->npages << PAGE_SHIFT);
	t->npages = npages;
	t->chunk = s->chunk;
	t->node = s->node;
	t->needzero = s->needzero;
	sa_set_pages(t, t);
	sa_heap_insert(h, s);
	return t;
}

static void sa_heap_put_spare(struct sa_heap *h, struct sa_span *s)
{
	lockdep_assert_held(&h->lock);
	s->state = 0;
	list_add(&s->list, &h->spares);
	h->nr_spares++;
}

/*
 * Free the spare descriptors of @h above @keep: the newest, or with @oldest
 * the oldest.
 */
static void sa_heap_trim_spares(struct sa_heap *h, unsigned int keep, bool oldest)
{
	unsigned long flags;
	struct sa_span *s;
	LIST_HEAD(extra);

	raw_spin_lock_irqsave(&h->lock, flags);
	while (h->nr_spares > keep) {
		s = oldest ? list_last_entry(&h->spares, struct sa_span, list) :
			     list_first_entry(&h->spares, struct sa_span, list);
		list_move(&s->list, &extra);
		h->nr_spares--;
	}
	raw_spin_unlock_irqrestore(&h->lock, flags);
	while ((s = list_first_entry_or_null(&extra, struct sa_span, list))) {
		list_del(&s->list);
		kmem_cache_free(sa_span_cachep, s);
	}
}

/*
 * May this context call the page and slab allocators? Not hardirq context
 * (their locks sleep on PREEMPT_RT; see span.c), nor NMI.
 */
static bool sa_may_grow(void)
{
	return !in_hardirq() && !in_nmi();
}

/* Add a new spare descriptor to @h, allocated outside the lock. Return: false if none. */
static bool sa_heap_new_spare(struct sa_heap *h, gfp_t gfp)
{
	struct sa_span *s = kmem_cache_alloc_node(sa_span_cachep, gfp & SA_RECLAIM_MASK, h->node);
	unsigned long flags;

	if (!s)
		return false;
	raw_spin_lock_irqsave(&h->lock, flags);
	sa_heap_put_spare(h, s);
	raw_spin_unlock_irqrestore(&h->lock, flags);
	return true;
}

/* Bring the spares between SA_SPARES_MIN and SA_SPARES_MAX, outside the lock. */
static void sa_heap_balance_spares(struct sa_heap *h, gfp_t gfp)
{
	if (!sa_may_grow())
		return;
	while (READ_ONCE(h->nr_spares) < SA_SPARES_MIN)
		if (!sa_heap_new_spare(h, gfp))
			break;
	if (READ_ONCE(h->nr_spares) > SA_SPARES_MAX)
		sa_heap_trim_spares(h, SA_SPARES_MAX, false);
}

/* The free span that ends right before @s, or starts right after it. */
static struct sa_span *sa_heap_neighbour(struct sa_span *s, bool after)
{
	unsigned long end_s = s->base + ((unsigned long)s->npages << PAGE_SHIFT);
	unsigned long addr = after ? end_s : s->base - PAGE_SIZE;
	struct sa_chunk *c = s->chunk;
	unsigned long end = c->base + (PAGE_SIZE << c->order);
	struct sa_span *n;

	if (addr < c->base || addr >= end)
		return NULL;
	n = sa_lookup((void *)addr);
	if (!n || n->state != SA_SPAN_FREE || n->chunk != c)
		return NULL;
	/* Every page points at its span: a free neighbour touches @s. */
	if (WARN_ON_ONCE(after ? n->base != end_s :
			 n->base + ((unsigned long)n->npages << PAGE_SHIFT) != s->base))
		return NULL;
	return n;
}

/*
 * Join two adjacent free spans on no list, @a and @b right after it: the
 * longer keeps its descriptor, the shorter's pages are retagged and its
 * descriptor becomes a spare. Return: the joined span.
 */
static struct sa_span *sa_heap_join(struct sa_heap *h, struct sa_span *a, struct sa_span *b)
{
	struct sa_span *keep = a->npages >= b->npages ? a : b;
	struct sa_span *gone = keep == a ? b : a;

	sa_set_pages(gone, keep);
	keep->base = a->base;
	keep->npages = a->npages + b->npages;
	keep->needzero = a->needzero || b->needzero;
	sa_heap_put_spare(h, gone);
	return keep;
}

static void sa_heap_free_locked(struct sa_heap *h, struct sa_span *s)
{
	struct sa_span *n;

	lockdep_assert_held(&h->lock);
	/* Not a live span for lookups while it is joined (sa_heap_insert()). */
	WRITE_ONCE(s->state, 0);
	s->pool = NULL;
	n = sa_heap_neighbour(s, false);
	if (n) {
		sa_heap_remove(h, n);
		s = sa_heap_join(h, n, s);
	}
	n = sa_heap_neighbour(s, true);
	if (n) {
		sa_heap_remove(h, n);
		s = sa_heap_join(h, s, n);
	}
	sa_heap_insert(h, s);
}

/**
 * sa_heap_free_span() - give an unused span back to its node's page heap
 * @s: a span no object of which is live, on no list
 *
 * Context: any context but NMI; takes the heap lock.
 */
void sa_heap_free_span(struct sa_span *s)
{
	struct sa_heap *h = sa_heaps[s->node];
	unsigned long flags;

	s->needzero = true;
	raw_spin_lock_irqsave(&h->lock, flags);
	sa_heap_free_locked(h, s);
	raw_spin_unlock_irqrestore(&h->lock, flags);
	sa_heap_balance_spares(h, GFP_ATOMIC | __GFP_NOWARN);
}

static gfp_t sa_page_gfp(gfp_t gfp)
{
	return (gfp & (SA_RECLAIM_MASK | __GFP_THISNODE)) | __GFP_ZERO;
}

/*
 * Take a chunk of at least @npages pages from the page allocator, largest
 * order first, up to @max_order (or sa_max_chunk_order if lower).
 */
static struct sa_span *sa_heap_grow(int node, unsigned int npages, unsigned int max_order,
				    gfp_t gfp)
{
	unsigned int min_order = get_order((unsigned long)npages << PAGE_SHIFT);
	unsigned int order = max(min(READ_ONCE(sa_max_chunk_order), max_order), min_order);
	struct page *page = NULL;
	struct sa_chunk *chunk;
	struct sa_span *s;

	chunk = kmalloc_node(sizeof(*chunk), gfp & SA_RECLAIM_MASK, node);
	/* Not scanned: its @base would keep the first object "referenced". */
	kmemleak_ignore(chunk);
	s = kmem_cache_alloc_node(sa_span_cachep, gfp & SA_RECLAIM_MASK, node);
	if (!chunk || !s)
		goto fail;
	for (; order >= min_order; order--) {
		gfp_t g = sa_page_gfp(gfp);

		if (order > min_order)
			g = (g | __GFP_NORETRY | __GFP_NOWARN) & ~__GFP_NOFAIL;
		page = alloc_pages_node(node, g | __GFP_THISNODE, order);
		if (!page && !(gfp & __GFP_THISNODE) && order == min_order)
			page = alloc_pages_node(node, g, order);
		if (page || order == 0)
			break;
	}
	if (!page)
		goto fail;
	sa_take_pages(page, order);
	chunk->base = (unsigned long)page_address(page);
	chunk->order = order;
	chunk->held = 1U << order;
	memset(s, 0, sizeof(*s));
	s->base = chunk->base;
	s->npages = 1U << order;
	s->chunk = chunk;
	s->node = page_to_nid(page);
	s->needzero = false;
	sa_widen_range(s->base, s->npages);
	sa_set_pages(s, s);
	return s;
fail:
	kfree(chunk);
	if (s)
		kmem_cache_free(sa_span_cachep, s);
	return NULL;
}

/* Put @s, a new chunk's whole span, in @h (its node's heap) as a free span. */
static void sa_heap_add_chunk(struct sa_heap *h, struct sa_span *s)
{
	lockdep_assert_held(&h->lock);
	list_add(&s->chunk->list, &h->chunks);
	h->nr_chunks[s->chunk->order]++;
	h->pages_held += s->npages;
	sa_heap_insert(h, s);
}

/*
 * Grow @node's heap for hardirq context, on that node, without sleeping or
 * warning: by a chunk of up to 2^@max_order pages, or less if the page
 * allocator has no such block at once. If that fails, so may hardirq
 * allocations.
 */
static void sa_heap_fill_reserve(int node, unsigned int max_order, gfp_t gfp)
{
	gfp_t g = (gfp & ~(__GFP_DIRECT_RECLAIM | __GFP_NOFAIL)) | __GFP_NOWARN |
		  __GFP_NORETRY | __GFP_THISNODE;
	struct sa_span *s = sa_heap_grow(node, 1, max_order, g);
	struct sa_heap *h = sa_heaps[node];
	unsigned long flags;

	if (!s)
		return;
	raw_spin_lock_irqsave(&h->lock, flags);
	sa_heap_add_chunk(h, s);
	raw_spin_unlock_irqrestore(&h->lock, flags);
}

/**
 * sa_heap_alloc_span() - carve a span of @npages pages
 * @node: NUMA node to take the pages from
 * @npages: pages wanted, at most SA_CHUNK_PAGES
 * @gfp: the caller's allocation flags; the heap grows with them
 *
 * Outside hardirq context, a carve that leaves the heap fewer than
 * SA_IRQ_RESERVE_PAGES free pages also grows it by a chunk, without
 * sleeping: hardirq context, which cannot grow it, finds pages there.
 *
 * Context: any context but NMI; may sleep if @gfp allows.
 * Return: a span on no list, its pages pointing at it, in state 0 (none: the
 * caller sets it once the span is set up), or NULL. Its node may differ from
 * @node when @node had no memory and @gfp allows other nodes.
 */
struct sa_span *sa_heap_alloc_span(int node, unsigned int npages, gfp_t gfp)
{
	struct sa_heap *h = sa_heaps[node];
	unsigned long flags;
	struct sa_span *s;
	int fail = atomic_read(&sa_fail_new_span);
	bool low;

	if (unlikely(fail) && atomic_dec_and_test(&sa_fail_new_span))
		return NULL;
	if (should_fail(&sa_fail_refill, (ssize_t)npages << PAGE_SHIFT))
		return NULL;

	sa_heap_balance_spares(h, gfp);
	raw_spin_lock_irqsave(&h->lock, flags);
	s = sa_heap_take(h, npages);
	low = h->pages_free < SA_IRQ_RESERVE_PAGES;
	raw_spin_unlock_irqrestore(&h->lock, flags);
	if (!sa_may_grow())
		return s;
	if (!s) {
		s = sa_heap_grow(node, npages, SA_CHUNK_ORDER, gfp);
		if (!s)
			return NULL;
		h = sa_heaps[s->node];
		raw_spin_lock_irqsave(&h->lock, flags);
		sa_heap_add_chunk(h, s);
		s = sa_heap_take(h, npages);
		low = h->pages_free < SA_IRQ_RESERVE_PAGES;
		raw_spin_unlock_irqrestore(&h->lock, flags);
	}
	/*
	 * Hardirq context cannot grow the heap: keep some pages for it. The
	 * heap grows by its usual chunk, only a little earlier than it would.
	 */
	if (unlikely(low))
		sa_heap_fill_reserve(h->node, SA_CHUNK_ORDER, gfp);
	return s;
}

/**
 * sa_huge_alloc() - pages for an object larger than a chunk
 * @node: NUMA node, or NUMA_NO_NODE
 * @size: bytes wanted
 * @gfp: the caller's allocation flags
 *
 * Context: any context but NMI; may sleep if @gfp allows.
 * Return: a span in state SA_SPAN_HUGE with tagged pages, or NULL.
 */
struct sa_span *sa_huge_alloc(int node, size_t size, gfp_t gfp)
{
	unsigned int order = get_order(size);
	unsigned int npages = PAGE_ALIGN(size) >> PAGE_SHIFT;
	unsigned long flags;
	struct page *page;
	struct sa_span *s;
	struct sa_heap *h;
	unsigned int i;

	if (!sa_may_grow())
		return NULL;
	s = kmem_cache_alloc_node(sa_span_cachep, gfp & SA_RECLAIM_MASK,
				  node);
	if (!s)
		return NULL;
	page = alloc_pages_node(node, sa_page_gfp(gfp) & ~__GFP_ZERO, order);
	if (!page) {
		kmem_cache_free(sa_span_cachep, s);
		return NULL;
	}
	sa_take_pages(page, order);
	for (i = npages; i < (1U << order); i++)
		__free_page(page + i);
	memset(s, 0, sizeof(*s));
	s->base = (unsigned long)page_address(page);
	s->npages = npages;
	s->elemsize = npages << PAGE_SHIFT;
	s->node = page_to_nid(page);
	s->state = SA_SPAN_HUGE;
	s->needzero = true;
	sa_widen_range(s->base, s->npages);
	sa_set_pages(s, s);
	h = sa_heaps[s->node];
	raw_spin_lock_irqsave(&h->lock, flags);
	h->huge_pages += npages;
	raw_spin_unlock_irqrestore(&h->lock, flags);
	return s;
}

/**
 * sa_huge_free() - give a huge object's pages back
 * @s: its span
 *
 * Context: any context but NMI.
 */
void sa_huge_free(struct sa_span *s)
{
	struct sa_heap *h = sa_heaps[s->node];
	unsigned long flags;

	sa_free_pages(s);
	raw_spin_lock_irqsave(&h->lock, flags);
	h->huge_pages -= s->npages;
	raw_spin_unlock_irqrestore(&h->lock, flags);
	kmem_cache_free(sa_span_cachep, s);
}

/**
 * sa_heap_read_stats() - snapshot of one node's heap
 * @node: NUMA node
 * @st: filled in
 */
void sa_heap_read_stats(int node, struct spanalloc_heap_stats *st)
{
	struct sa_heap *h = sa_heaps[node];
	unsigned long flags;
	unsigned int o;

	memset(st, 0, sizeof(*st));
	if (!h)
		return;
	raw_spin_lock_irqsave(&h->lock, flags);
	st->pages_held = h->pages_held;
	st->pages_free = h->pages_free;
	st->pages_returned = h->pages_returned;
	st->huge_pages = h->huge_pages;
	st->nr_free_spans = h->nr_free_spans;
	for (o = 0; o <= SA_CHUNK_ORDER; o++) {
		st->nr_chunks_order[o] = h->nr_chunks[o];
		st->nr_chunks += h->nr_chunks[o];
	}
	raw_spin_unlock_irqrestore(&h->lock, flags);
}

/*
 * A free span, already off the free lists, leaves the heap's books: in the
 * same lock hold that took it off, so that pages_held - pages_free never
 * counts it as in use. Return: its chunk, if that held nothing else, for
 * kfree() once the lock is dropped.
 */
static struct sa_chunk *sa_heap_unhold(struct sa_heap *h, struct sa_span *s)
{
	struct sa_chunk *chunk = s->chunk;

	lockdep_assert_held(&h->lock);
	chunk->held -= s->npages;
	h->pages_held -= s->npages;
	h->pages_returned += s->npages;
	if (chunk->held)
		return NULL;
	h->nr_chunks[chunk->order]--;
	list_del(&chunk->list);
	return chunk;
}

/* Free spans sa_heap_release() looks at, oldest first, for one that fits. */
#define SA_RELEASE_LOOK	16

/*
 * The free span idle longest among those whose release leaves @h at least
 * @keep free pages, or NULL.
 */
static struct sa_span *sa_heap_oldest_above(struct sa_heap *h, unsigned long keep)
{
	unsigned int looked = 0;
	struct sa_span *s;

	lockdep_assert_held(&h->lock);
	if (h->pages_free <= keep)
		return NULL;
	list_for_each_entry_reverse(s, &h->lru, lru) {
		if (s->npages <= h->pages_free - keep)
			return s;
		if (++looked >= SA_RELEASE_LOOK)
			break;
	}
	return NULL;
}

/**
 * sa_heap_release() - give a node's free pages back, idle longest first
 * @node: NUMA node
 * @keep: free pages to keep: a span is given back only if at least this
 *        many remain
 * @max: give back at most about this many pages in this call
 *
 * Each span is taken off under the heap lock and given back outside it, so
 * the lock is never held for long.
 *
 * Context: process context (it frees pages and descriptors).
 * Return: pages given back.
 */
unsigned long sa_heap_release(int node, unsigned long keep, unsigned long max)
{
	struct sa_heap *h = sa_heaps[node];
	unsigned long done = 0, flags;
	struct sa_chunk *dead;
	struct sa_span *s;

	while (h && done < max) {
		raw_spin_lock_irqsave(&h->lock, flags);
		s = sa_heap_oldest_above(h, keep);
		if (!s) {
			raw_spin_unlock_irqrestore(&h->lock, flags);
			break;
		}
		sa_heap_remove(h, s);
		s->state = 0;
		dead = sa_heap_unhold(h, s);
		raw_spin_unlock_irqrestore(&h->lock, flags);
		done += s->npages;
		/* Its pages untagged and freed, the descriptor becomes a spare. */
		sa_free_pages(s);
		raw_spin_lock_irqsave(&h->lock, flags);
		sa_heap_put_spare(h, s);
		raw_spin_unlock_irqrestore(&h->lock, flags);
		kfree(dead);
		cond_resched();
	}
	if (h)
		sa_heap_balance_spares(h, GFP_KERNEL);
	return done;
}

/**
 * sa_heap_trim_meta() - give back the span descriptors no span needs
 *
 * Renews each node's spares, SA_SPARES_MIN new descriptors for the old ones
 * (new ones come from few slabs; the old ones, spread over as many slabs as
 * spans once came from, would keep those slabs), frees the empty slabs of
 * the descriptor cache, and waits for them to reach the page allocator (the
 * cache is SLAB_TYPESAFE_BY_RCU: its slabs are freed after a grace period).
 * Slabs that still hold a live descriptor stay.
 *
 * Context: process context, may sleep (for an RCU grace period and more).
 */
void sa_heap_trim_meta(void)
{
	int node;

	for_each_node(node) {
		struct sa_heap *h = sa_heaps[node];
		unsigned int i;

		if (!h)
			continue;
		for (i = 0; i < SA_SPARES_MIN; i++)
			if (!sa_heap_new_spare(h, GFP_KERNEL))
				break;
		sa_heap_trim_spares(h, SA_SPARES_MIN, true);
	}
	kmem_cache_shrink(sa_span_cachep);
	rcu_barrier();
}

/**
 * sa_heap_free_pages() - free pages held in all page heaps
 *
 * Return: the sum over nodes, read without locks.
 */
unsigned long sa_heap_free_pages(void)
{
	unsigned long sum = 0;
	int node;

	for_each_node(node)
		if (sa_heaps[node])
			sum += READ_ONCE(sa_heaps[node]->pages_free);
	return sum;
}

/**
 * sa_heap_init() - set up one page heap per possible NUMA node
 *
 * Return: 0 or -ENOMEM.
 */
int sa_heap_init(void)
{
	unsigned int i;
	int node;

	/*
	 * kmemleak must not scan span descriptors: a span's @base points at its
	 * first object, which would never be reported as a leak.
	 */
	sa_span_cachep = kmem_cache_create("spanalloc_span", sizeof(struct sa_span), SA_SPAN_ALIGN,
					   SLAB_TYPESAFE_BY_RCU | SLAB_NOLEAKTRACE, NULL);
	if (!sa_span_cachep)
		return -ENOMEM;
	for_each_node(node) {
		struct sa_heap *h = kzalloc_node(sizeof(*h), GFP_KERNEL, node);

		if (!h) {
			sa_heap_exit();
			return -ENOMEM;
		}
		raw_spin_lock_init(&h->lock);
		for (i = 0; i < SA_HEAP_LISTS; i++)
			INIT_LIST_HEAD(&h->free[i]);
		INIT_LIST_HEAD(&h->chunks);
		INIT_LIST_HEAD(&h->spares);
		INIT_LIST_HEAD(&h->lru);
		h->node = node;
		sa_heaps[node] = h;
	}
	/* Hardirq context finds pages and descriptors from the start. */
	for_each_node_state(node, N_MEMORY) {
		sa_heap_balance_spares(sa_heaps[node], GFP_KERNEL);
		sa_heap_fill_reserve(node, ilog2(SA_IRQ_RESERVE_PAGES), GFP_KERNEL);
	}
	return 0;
}

/**
 * sa_heap_exit() - give every free page back and tear the heaps down
 *
 * Pages still in use (leaked objects) stay allocated: they are reported by
 * the caller and must not be handed back while someone may use them.
 */
void sa_heap_exit(void)
{
	int node;

	for_each_node(node) {
		struct sa_heap *h = sa_heaps[node];

		if (!h)
			continue;
		sa_heap_release(node, 0, ULONG_MAX);
		while (!list_empty(&h->spares)) {
			struct sa_span *s = list_first_entry(&h->spares, struct sa_span, list);

			list_del(&s->list);
			kmem_cache_free(sa_span_cachep, s);
		}
		if (h->pages_held || h->huge_pages)
			pr_err("spanalloc: node %d: %lu pages still in use at unload, leaked\n",
			       node, h->pages_held + h->huge_pages);
		kfree(h);
		sa_heaps[node] = NULL;
	}
	if (sa_span_cachep) {
		rcu_barrier();
		kmem_cache_destroy(sa_span_cachep);
		sa_span_cachep = NULL;
	}
}

/**
 * sa_heap_release_all() - give every free page of every node back
 *
 * Used by tests and by the shrinker until the scavenger exists.
 */
void sa_heap_release_all(void)
{
	int node;

	for_each_node(node)
		sa_heap_release(node, 0, ULONG_MAX);
}
