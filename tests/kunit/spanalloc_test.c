// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for the allocator core: size classes, page heap, spans,
 * per-CPU caches and the exported API. Caller mistakes provoked on purpose
 * are counted through the "spanalloc_errors" resource, as lib/slub_kunit.c
 * does with "slab_errors", and each test asserts their exact number.
 */
#include <kunit/resource.h>
#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/cpu.h>
#include <linux/delay.h>
#include <linux/fault-inject.h>
#include <linux/hrtimer.h>
#include <linux/kasan.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/prandom.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/mm.h>
#include <linux/timer.h>
#include <linux/vmalloc.h>
#include <asm/apic.h>
#include <asm/nmi.h>

#include <spanalloc.h>
#include "internal.h"

MODULE_IMPORT_NS(SPANALLOC_INTERNAL);

static int sa_test_errors_own;		/* reports of the test thread itself */
static atomic_t sa_test_errors_other;	/* reports from kworkers and interrupts */
static struct kunit_resource sa_test_resource;

/* Every report the running test provoked, in any context. */
#define sa_test_errors	(sa_test_errors_own + atomic_read(&sa_test_errors_other))

static int sa_test_init(struct kunit *test)
{
	sa_test_errors_own = 0;
	atomic_set(&sa_test_errors_other, 0);
	kunit_add_named_resource(test, NULL, NULL, &sa_test_resource,
				 "spanalloc_errors", &sa_test_errors_own);
	spanalloc_debug_capture(&sa_test_errors_other);
	return 0;
}

static void sa_test_exit(struct kunit *test)
{
	spanalloc_debug_capture(NULL);
}

/*
 * A case about the plain geometry (objects per span, usable sizes, pages):
 * under debug=1 (make test-compat's 6.12-debug boot) every slot also holds
 * SA_DBG_META bytes of metadata, so it skips there.
 */
static void sa_test_plain_slots(struct kunit *test)
{
	if (sa_debug_all)
		kunit_skip(test, "debug=1: every slot holds debug metadata");
}

/* Pages of all nodes in use by spans (held but not free). */
static long sa_pages_in_use(void)
{
	struct spanalloc_heap_stats st;
	long used = 0;
	int node;

	for_each_node(node) {
		spanalloc_debug_heap(node, &st);
		used += st.pages_held - st.pages_free + st.huge_pages;
	}
	return used;
}

static void sa_total_heap(struct spanalloc_heap_stats *sum)
{
	struct spanalloc_heap_stats st;
	int node, o;

	memset(sum, 0, sizeof(*sum));
	for_each_node(node) {
		spanalloc_debug_heap(node, &st);
		sum->pages_held += st.pages_held;
		sum->pages_free += st.pages_free;
		sum->huge_pages += st.huge_pages;
		sum->nr_chunks += st.nr_chunks;
		for (o = 0; o <= SA_CHUNK_ORDER; o++)
			sum->nr_chunks_order[o] += st.nr_chunks_order[o];
	}
}

static void sa_shuffle(void **p, unsigned int n)
{
	unsigned int i;

	for (i = n - 1; i > 0; i--) {
		unsigned int j = get_random_u32_below(i + 1);

		swap(p[i], p[j]);
	}
}

static int sa_cmp_ptr(const void *a, const void *b)
{
	unsigned long x = *(unsigned long *)a, y = *(unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* ---- size classes ---- */

static void sizeclass_table_invariants(struct kunit *test)
{
	unsigned int c, size, off;

	KUNIT_EXPECT_EQ(test, sa_classes[0].size, 0U);
	for (c = 1; c < SA_NUM_CLASSES; c++) {
		const struct sa_class *k = &sa_classes[c];
		unsigned int span = k->npages * PAGE_SIZE;

		KUNIT_EXPECT_EQ_MSG(test, k->size % 8, 0U, "class %u", c);
		if (c > 1)
			KUNIT_EXPECT_GT(test, k->size, sa_classes[c - 1].size);
		KUNIT_EXPECT_LE(test, k->npages, (u16)SA_MAX_SPAN_PAGES);
		KUNIT_EXPECT_EQ(test, k->nelems, span / k->size);
		KUNIT_EXPECT_LE(test, k->nelems, (u16)SA_MAX_NELEMS);
		/* Tail waste at most 1/8 of the span. */
		KUNIT_EXPECT_LE_MSG(test, span % k->size, span / 8, "class %u", c);
		for (off = 0; off < span; off++)
			if (((u64)off * k->div_mul) >> 32 != off / k->size) {
				KUNIT_FAIL(test, "class %u: div_mul wrong at %u", c, off);
				break;
			}
	}
	KUNIT_EXPECT_EQ(test, sa_classes[SA_NUM_CLASSES - 1].size, (u32)SA_MAX_SMALL);
	for (size = 1; size <= SA_MAX_SMALL; size++) {
		c = sa_size_to_class(size);
		if (c < 1 || c >= SA_NUM_CLASSES || sa_classes[c].size < size ||
		    (c > 1 && sa_classes[c - 1].size >= size)) {
			KUNIT_FAIL(test, "size %u maps to class %u", size, c);
			break;
		}
	}
}

/* ---- each class: whole spans ---- */

static void sa_class_desc(unsigned int *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "class %u (%u bytes)", *c, sa_classes[*c].size);
}

static unsigned int sa_class_params[SA_NUM_CLASSES - 1];
KUNIT_ARRAY_PARAM(sa_class, sa_class_params, sa_class_desc);

static void class_fill_spans(struct kunit *test)
{
	unsigned int c = *(const unsigned int *)test->param_value;
	const struct sa_class *k = &sa_classes[c];
	unsigned int n = k->nelems + 1, i, j;
	unsigned long align = is_power_of_2(k->size) ? min_t(unsigned long, k->size, PAGE_SIZE) : 8;
	struct spanalloc_ptr_info info;
	long before;
	void **p, **sorted;

	sa_test_plain_slots(test);

	p = kunit_kcalloc(test, n, sizeof(*p), GFP_KERNEL);
	sorted = kunit_kcalloc(test, n, sizeof(*p), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, sorted);
	spanalloc_debug_drain();
	before = sa_pages_in_use();

	for (i = 0; i < n; i++) {
		p[i] = spanalloc_alloc(k->size, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p[i]);
		KUNIT_ASSERT_EQ(test, (unsigned long)p[i] % align, 0UL);
		KUNIT_ASSERT_EQ(test, spanalloc_debug_lookup(p[i], &info), 0);
		KUNIT_ASSERT_EQ(test, info.state, (int)SA_SPAN_SMALL);
		KUNIT_ASSERT_EQ(test, info.class_idx, c);
		KUNIT_ASSERT_TRUE(test, info.live);
		KUNIT_ASSERT_GE(test, (unsigned long)p[i], info.base);
		KUNIT_ASSERT_LE(test, (unsigned long)p[i] + k->size,
				info.base + info.npages * PAGE_SIZE);
		KUNIT_ASSERT_EQ(test, spanalloc_usable_size(p[i]), (size_t)k->size);
		memset(p[i], (u8)i, k->size);
	}
	/* A whole span was filled and a second one begun; all objects distinct. */
	KUNIT_EXPECT_GE(test, sa_pages_in_use() - before, 2L * k->npages);
	memcpy(sorted, p, n * sizeof(*p));
	sort(sorted, n, sizeof(*sorted), sa_cmp_ptr, NULL);
	for (i = 1; i < n; i++)
		KUNIT_ASSERT_GE(test, (unsigned long)sorted[i],
				(unsigned long)sorted[i - 1] + k->size);
	/* Nobody wrote over anybody. */
	for (i = 0; i < n; i++)
		for (j = 0; j < k->size; j += 8)
			if (((u8 *)p[i])[j] != (u8)i) {
				KUNIT_FAIL(test, "object %u overwritten at %u", i, j);
				return;
			}

	sa_shuffle(p, n);
	for (i = 0; i < n; i++)
		spanalloc_free(p[i]);
	spanalloc_debug_drain();
	/* The spans came back to the heap. */
	KUNIT_EXPECT_EQ(test, sa_pages_in_use(), before);
	for (i = 0; i < n; i++)
		if (!spanalloc_debug_lookup(p[i], &info))
			KUNIT_EXPECT_EQ(test, info.state, (int)SA_SPAN_FREE);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

/* ---- page heap ---- */

/*
 * Every page of the chunk around @p points at the span that holds it, in use
 * or free (the heap's tagging invariant). Return: the pages that do not.
 */
static unsigned int sa_test_chunk_tags(const void *p)
{
	unsigned long base = ALIGN_DOWN((unsigned long)p, SA_CHUNK_PAGES * PAGE_SIZE);
	struct spanalloc_ptr_info info;
	unsigned int i, bad = 0;

	for (i = 0; i < SA_CHUNK_PAGES; i++) {
		unsigned long a = base + i * PAGE_SIZE;

		if (spanalloc_debug_lookup((void *)a, &info) == -ENOENT ||
		    a < info.base || a >= info.base + info.npages * PAGE_SIZE ||
		    (info.state != SA_SPAN_FREE && info.state != SA_SPAN_SMALL &&
		     info.state != SA_SPAN_LARGE))
			bad++;
	}
	return bad;
}

static void heap_split_and_coalesce(struct kunit *test)
{
	struct spanalloc_heap_stats st0, st;
	struct spanalloc_ptr_info info;
	void *a, *b, *c, *d, *big;

	spanalloc_debug_release();
	sa_total_heap(&st0);
	a = spanalloc_alloc_node(40 << 10, GFP_KERNEL, numa_mem_id());
	b = spanalloc_alloc_node(40 << 10, GFP_KERNEL, numa_mem_id());
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_EXPECT_TRUE(test, PAGE_ALIGNED(a));
	sa_total_heap(&st);
	/* Split: both from one new chunk, the rest of it free. */
	KUNIT_EXPECT_EQ(test, st.nr_chunks, st0.nr_chunks + 1);
	KUNIT_EXPECT_EQ(test, st.pages_held - st.pages_free, st0.pages_held - st0.pages_free + 20);
	KUNIT_ASSERT_EQ(test, spanalloc_debug_lookup(b, &info), 0);
	KUNIT_EXPECT_EQ(test, info.state, (int)SA_SPAN_LARGE);
	KUNIT_EXPECT_EQ(test, info.npages, 10U);
	KUNIT_EXPECT_EQ(test, spanalloc_usable_size(a), (size_t)(40 << 10));

	KUNIT_EXPECT_EQ(test, sa_test_chunk_tags(a), 0U);
	/*
	 * Two more spans, c (9 pages) and d, next to a and b in the chunk.
	 * Freed a, c, b, d: b joins c before it (the longer, b, keeps its
	 * descriptor and its start moves down) and a after it; d joins the
	 * rest of the chunk on one side and those on the other.
	 */
	c = spanalloc_alloc_node(36 << 10, GFP_KERNEL, numa_mem_id());
	d = spanalloc_alloc_node(40 << 10, GFP_KERNEL, numa_mem_id());
	KUNIT_ASSERT_NOT_NULL(test, c);
	KUNIT_ASSERT_NOT_NULL(test, d);
	KUNIT_EXPECT_EQ(test, sa_test_chunk_tags(a), 0U);
	spanalloc_free(a);
	KUNIT_ASSERT_EQ(test, spanalloc_debug_lookup(a, &info), 0);
	KUNIT_EXPECT_EQ(test, info.state, (int)SA_SPAN_FREE);
	KUNIT_EXPECT_EQ(test, sa_test_chunk_tags(a), 0U);
	spanalloc_free(c);
	KUNIT_EXPECT_EQ(test, sa_test_chunk_tags(a), 0U);
	spanalloc_free(b);
	KUNIT_ASSERT_EQ(test, spanalloc_debug_lookup(b, &info), 0);
	KUNIT_EXPECT_EQ(test, info.state, (int)SA_SPAN_FREE);
	KUNIT_EXPECT_EQ(test, info.npages, 29U);
	KUNIT_EXPECT_EQ(test, sa_test_chunk_tags(a), 0U);
	spanalloc_free(d);
	KUNIT_EXPECT_EQ(test, sa_test_chunk_tags(a), 0U);
	/* Coalesced: the whole chunk is one free span again, 1 MiB fits there. */
	KUNIT_ASSERT_EQ(test, spanalloc_debug_lookup(a, &info), 0);
	KUNIT_EXPECT_EQ(test, info.npages, SA_CHUNK_PAGES);
	big = spanalloc_alloc_node(SA_CHUNK_PAGES * PAGE_SIZE, GFP_KERNEL, numa_mem_id());
	KUNIT_ASSERT_NOT_NULL(test, big);
	KUNIT_EXPECT_EQ(test, (unsigned long)big, info.base);
	/* That left nothing free: the heap grew a reserve for hardirq context. */
	sa_total_heap(&st);
	KUNIT_EXPECT_EQ(test, st.nr_chunks, st0.nr_chunks + 2);
	KUNIT_EXPECT_GE(test, st.pages_free, st0.pages_free + SA_IRQ_RESERVE_PAGES);
	spanalloc_free(big);
	spanalloc_debug_release();
	sa_total_heap(&st);
	KUNIT_EXPECT_EQ(test, st.pages_held, st0.pages_held);
	KUNIT_EXPECT_EQ(test, st.nr_chunks, st0.nr_chunks);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

static void heap_chunk_fallback(struct kunit *test)
{
	struct spanalloc_heap_stats st0, st;
	unsigned int old, o;
	void *p, *q;

	spanalloc_debug_release();
	sa_total_heap(&st0);
	/* Orders above 2 fail as if the buddy allocator had no such block. */
	old = spanalloc_debug_set_chunk_order(2);
	p = spanalloc_alloc(4096, GFP_KERNEL);
	q = spanalloc_alloc(40 << 10, GFP_KERNEL);	/* 10 pages: order 4 */
	spanalloc_debug_set_chunk_order(old);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, q);
	sa_total_heap(&st);
	/* Order 2 for p (and for the reserve of hardirq context), 4 for q. */
	KUNIT_EXPECT_GE(test, st.nr_chunks_order[2], st0.nr_chunks_order[2] + 1);
	KUNIT_EXPECT_EQ(test, st.nr_chunks_order[4], st0.nr_chunks_order[4] + 1);
	for (o = 0; o <= SA_CHUNK_ORDER; o++)
		if (o != 2 && o != 4)
			KUNIT_EXPECT_EQ_MSG(test, st.nr_chunks_order[o], st0.nr_chunks_order[o],
					    "order %u", o);
	memset(p, 1, 4096);
	memset(q, 2, 40 << 10);
	spanalloc_free(p);
	spanalloc_free(q);
	spanalloc_debug_release();
	sa_total_heap(&st);
	KUNIT_EXPECT_EQ(test, st.pages_held, st0.pages_held);
}

static int sa_module_data;

static void heap_lookup_foreign(struct kunit *test)
{
	struct spanalloc_ptr_info info;
	int on_stack = 0;
	void *km = kmalloc(64, GFP_KERNEL);
	void *vm = vmalloc(PAGE_SIZE);
	struct page *page = alloc_page(GFP_KERNEL);
	void *ours = spanalloc_alloc(64, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, km);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_NOT_NULL(test, ours);
	KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup(&on_stack, &info), -ENOENT);
	KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup(km, &info), -ENOENT);
	KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup(vm, &info), -ENOENT);
	KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup(&sa_module_data, &info), -ENOENT);
	KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup(page_address(page), &info), -ENOENT);
	KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup((void *)16, &info), -ENOENT);
	KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup(ours, &info), 0);

	/* Freeing any of them is reported and refused. */
	spanalloc_free(&on_stack);
	spanalloc_free(km);
	spanalloc_free(vm);
	spanalloc_free(&sa_module_data);
	spanalloc_free(page_address(page));
	spanalloc_free((char *)ours + 8);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 6);
	/* And nothing was damaged. */
	memset(km, 0, 64);
	memset(ours, 0, 64);
	spanalloc_free(ours);
	spanalloc_free(ours);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 7);
	kfree(km);
	vfree(vm);
	__free_page(page);
}

/* ---- per-CPU caches ---- */

struct sa_xcpu {
	void **p;
	unsigned int n;
	unsigned int size;
};

static long sa_xcpu_alloc(void *arg)
{
	struct sa_xcpu *x = arg;
	unsigned int i;

	for (i = 0; i < x->n; i++) {
		x->p[i] = spanalloc_alloc(x->size, GFP_KERNEL);
		if (!x->p[i])
			return -ENOMEM;
		memset(x->p[i], 0x5a, x->size);
	}
	return 0;
}

static long sa_xcpu_free(void *arg)
{
	struct sa_xcpu *x = arg;
	unsigned int i, j;
	long bad = 0;

	for (i = 0; i < x->n; i++) {
		for (j = 0; j < x->size; j++)
			bad += ((u8 *)x->p[i])[j] != 0x5a;
		spanalloc_free(x->p[i]);
	}
	return bad;
}

static void percpu_alloc_here_free_there(struct kunit *test)
{
	struct sa_xcpu x = { .n = 2000, .size = 48 };
	unsigned long a0, f0, a1, f1;
	int c0, c1;

	cpus_read_lock();
	if (num_online_cpus() < 2) {
		cpus_read_unlock();
		kunit_skip(test, "needs two online CPUs");
	}
	c0 = cpumask_first(cpu_online_mask);
	c1 = cpumask_next(c0, cpu_online_mask);
	x.p = kunit_kcalloc(test, x.n, sizeof(void *), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, x.p);
	spanalloc_debug_counts(&a0, &f0);
	KUNIT_EXPECT_EQ(test, work_on_cpu(c0, sa_xcpu_alloc, &x), 0L);
	KUNIT_EXPECT_EQ(test, work_on_cpu(c1, sa_xcpu_free, &x), 0L);
	/* And back the other way, through the span c1 now owns. */
	KUNIT_EXPECT_EQ(test, work_on_cpu(c1, sa_xcpu_alloc, &x), 0L);
	KUNIT_EXPECT_EQ(test, work_on_cpu(c0, sa_xcpu_free, &x), 0L);
	cpus_read_unlock();
	spanalloc_debug_counts(&a1, &f1);
	KUNIT_EXPECT_EQ(test, a1 - a0, 2UL * x.n);
	KUNIT_EXPECT_EQ(test, f1 - f0, 2UL * x.n);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

#define SA_IRQ_ROUNDS	200

struct sa_irq_ctx {
	struct hrtimer hrt;
	struct timer_list tl;
	atomic_t hard_rounds, soft_rounds, bad;
};

static void sa_irq_work(struct sa_irq_ctx *ctx)
{
	void *p[8];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(p); i++) {
		p[i] = spanalloc_alloc(16 << (i % 6), GFP_ATOMIC);
		if (!p[i]) {
			atomic_inc(&ctx->bad);
			continue;
		}
		memset(p[i], i, 16);
	}
	for (i = 0; i < ARRAY_SIZE(p); i++) {
		if (p[i] && ((u8 *)p[i])[15] != i)
			atomic_inc(&ctx->bad);
		spanalloc_free(p[i]);
	}
}

static enum hrtimer_restart sa_hrtimer_fn(struct hrtimer *t)
{
	struct sa_irq_ctx *ctx = container_of(t, struct sa_irq_ctx, hrt);

	sa_irq_work(ctx);
	if (atomic_inc_return(&ctx->hard_rounds) >= SA_IRQ_ROUNDS)
		return HRTIMER_NORESTART;
	hrtimer_forward_now(t, ns_to_ktime(50 * NSEC_PER_USEC));
	return HRTIMER_RESTART;
}

static void sa_timer_fn(struct timer_list *t)
{
	struct sa_irq_ctx *ctx = from_timer(ctx, t, tl);

	sa_irq_work(ctx);
	if (atomic_inc_return(&ctx->soft_rounds) < SA_IRQ_ROUNDS)
		mod_timer(&ctx->tl, jiffies + 1);
}

/*
 * Start allocating and freeing from an hrtimer (hardirq) pinned to this CPU
 * and from a timer (softirq). Hardirq allocations use memory spanalloc
 * holds, and the test before may have given it all back: the hrtimer's CPU
 * gets some first.
 */
static void sa_irq_start(struct sa_irq_ctx *ctx)
{
	unsigned int i;

	migrate_disable();
	for (i = 0; i < 6; i++)
		spanalloc_free(spanalloc_alloc(16 << i, GFP_KERNEL));
	hrtimer_init(&ctx->hrt, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_HARD);
	ctx->hrt.function = sa_hrtimer_fn;
	timer_setup(&ctx->tl, sa_timer_fn, 0);
	hrtimer_start(&ctx->hrt, ns_to_ktime(50 * NSEC_PER_USEC), HRTIMER_MODE_REL_PINNED_HARD);
	migrate_enable();
	mod_timer(&ctx->tl, jiffies + 1);
}

static void sa_irq_stop(struct sa_irq_ctx *ctx)
{
	hrtimer_cancel(&ctx->hrt);
	timer_shutdown_sync(&ctx->tl);
}

static void percpu_irq_and_softirq(struct kunit *test)
{
	struct sa_irq_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	unsigned long a0, f0, a1, f1, deadline;
	unsigned int i = 0;

	KUNIT_ASSERT_NOT_NULL(test, ctx);
	spanalloc_debug_counts(&a0, &f0);
	sa_irq_start(ctx);
	/* Meanwhile this task hammers the same pools from process context. */
	deadline = jiffies + 20 * HZ;
	while ((atomic_read(&ctx->hard_rounds) < SA_IRQ_ROUNDS ||
		atomic_read(&ctx->soft_rounds) < SA_IRQ_ROUNDS) && time_before(jiffies, deadline)) {
		void *p = spanalloc_alloc(16 << (i++ % 6), GFP_KERNEL);

		if (!p) {
			KUNIT_FAIL(test, "process-context allocation failed");
			break;
		}
		spanalloc_free(p);
		cond_resched();
	}
	sa_irq_stop(ctx);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->hard_rounds), SA_IRQ_ROUNDS);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->soft_rounds), SA_IRQ_ROUNDS);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->bad), 0);
	spanalloc_debug_counts(&a1, &f1);
	KUNIT_EXPECT_EQ(test, a1 - a0, f1 - f0);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

struct sa_irq_grow {
	struct hrtimer hrt;
	struct completion done;
	void *small, *large;
};

static enum hrtimer_restart sa_irq_grow_fn(struct hrtimer *t)
{
	struct sa_irq_grow *g = container_of(t, struct sa_irq_grow, hrt);

	g->small = spanalloc_alloc(SA_MAX_SMALL, GFP_ATOMIC);
	g->large = spanalloc_alloc(40000, GFP_ATOMIC);
	complete(&g->done);
	return HRTIMER_NORESTART;
}

/*
 * Hardirq context cannot grow the page heap; process context keeps it
 * SA_IRQ_RESERVE_PAGES free pages for it. Here process context takes a whole
 * chunk, which leaves nothing free, and a hardirq then allocates from the
 * reserve that this made the heap grow.
 */
static void percpu_hardirq_uses_reserve(struct kunit *test)
{
	struct sa_irq_grow *g = kunit_kzalloc(test, sizeof(*g), GFP_KERNEL);
	struct spanalloc_heap_stats st;
	void *big;
	int node;

	sa_test_plain_slots(test);

	KUNIT_ASSERT_NOT_NULL(test, g);
	init_completion(&g->done);
	hrtimer_init(&g->hrt, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_HARD);
	g->hrt.function = sa_irq_grow_fn;
	migrate_disable();
	node = numa_mem_id();
	spanalloc_debug_release();
	spanalloc_debug_heap(node, &st);
	KUNIT_EXPECT_EQ(test, st.pages_free, 0UL);
	big = spanalloc_alloc_node(SA_CHUNK_PAGES * PAGE_SIZE, GFP_KERNEL, node);
	KUNIT_EXPECT_NOT_NULL(test, big);
	spanalloc_debug_heap(node, &st);
	KUNIT_EXPECT_GE(test, st.pages_free, (unsigned long)SA_IRQ_RESERVE_PAGES);
	/* It grew by its usual chunk, not by a small one: few page allocator calls. */
	KUNIT_EXPECT_EQ(test, st.nr_chunks_order[SA_CHUNK_ORDER], 2UL);
	hrtimer_start(&g->hrt, ns_to_ktime(10 * NSEC_PER_USEC), HRTIMER_MODE_REL_PINNED_HARD);
	wait_for_completion(&g->done);
	migrate_enable();
	KUNIT_EXPECT_NOT_NULL(test, g->small);
	KUNIT_EXPECT_NOT_NULL(test, g->large);
	spanalloc_free(g->small);
	spanalloc_free(g->large);
	spanalloc_free(big);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

#define SA_THREADS	4
#define SA_THREAD_OPS	20000
#define SA_THREAD_LIVE	256

struct sa_thread_ctx {
	struct completion done;
	atomic_t bad;
	unsigned int seed;
};

static int sa_thread_fn(void *arg)
{
	struct sa_thread_ctx *ctx = arg;
	void **live = kcalloc(SA_THREAD_LIVE, sizeof(void *), GFP_KERNEL);
	u32 *sizes = kcalloc(SA_THREAD_LIVE, sizeof(u32), GFP_KERNEL);
	struct rnd_state rnd;
	unsigned int i;

	prandom_seed_state(&rnd, ctx->seed);
	for (i = 0; live && sizes && i < SA_THREAD_OPS; i++) {
		unsigned int slot = prandom_u32_state(&rnd) % SA_THREAD_LIVE;

		if (live[slot]) {
			if (((u8 *)live[slot])[sizes[slot] - 1] != (u8)slot)
				atomic_inc(&ctx->bad);
			spanalloc_free(live[slot]);
			live[slot] = NULL;
		} else {
			sizes[slot] = 1 + prandom_u32_state(&rnd) % 2048;
			live[slot] = spanalloc_alloc(sizes[slot], GFP_KERNEL);
			if (!live[slot]) {
				atomic_inc(&ctx->bad);
				continue;
			}
			memset(live[slot], (u8)slot, sizes[slot]);
		}
		if (!(i % 512))
			cond_resched();
	}
	for (i = 0; live && i < SA_THREAD_LIVE; i++)
		spanalloc_free(live[i]);
	if (!live || !sizes)
		atomic_inc(&ctx->bad);
	kfree(live);
	kfree(sizes);
	complete(&ctx->done);
	return 0;
}

static void percpu_parallel_threads(struct kunit *test)
{
	struct sa_thread_ctx ctx[SA_THREADS];
	unsigned long a0, f0, a1, f1;
	long before;
	int i;

	spanalloc_debug_drain();
	before = sa_pages_in_use();
	spanalloc_debug_counts(&a0, &f0);
	for (i = 0; i < SA_THREADS; i++) {
		struct task_struct *t;

		init_completion(&ctx[i].done);
		atomic_set(&ctx[i].bad, 0);
		ctx[i].seed = 1000 + i;
		t = kthread_run(sa_thread_fn, &ctx[i], "sa_test/%d", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	}
	for (i = 0; i < SA_THREADS; i++) {
		wait_for_completion(&ctx[i].done);
		KUNIT_EXPECT_EQ(test, atomic_read(&ctx[i].bad), 0);
	}
	spanalloc_debug_counts(&a1, &f1);
	KUNIT_EXPECT_EQ(test, a1 - a0, f1 - f0);
	KUNIT_EXPECT_GT(test, a1 - a0, (unsigned long)SA_THREADS * SA_THREAD_OPS / 4);
	spanalloc_debug_drain();
	KUNIT_EXPECT_EQ(test, sa_pages_in_use(), before);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

/* ---- API semantics ---- */

static void api_zero_size(struct kunit *test)
{
	KUNIT_EXPECT_PTR_EQ(test, spanalloc_alloc(0, GFP_KERNEL), ZERO_SIZE_PTR);
	KUNIT_EXPECT_EQ(test, spanalloc_usable_size(ZERO_SIZE_PTR), (size_t)0);
	KUNIT_EXPECT_EQ(test, spanalloc_usable_size(NULL), (size_t)0);
	spanalloc_free(NULL);
	spanalloc_free(ZERO_SIZE_PTR);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

static void api_too_large(struct kunit *test)
{
	KUNIT_EXPECT_NULL(test, spanalloc_alloc(SPANALLOC_MAX_SIZE + 1, GFP_KERNEL | __GFP_NOWARN));
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
	KUNIT_EXPECT_NULL(test, spanalloc_alloc(SPANALLOC_MAX_SIZE + 1, GFP_KERNEL));
	KUNIT_EXPECT_NULL(test, spanalloc_alloc(SIZE_MAX, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, sa_test_errors, 2);
}

static void api_large_objects(struct kunit *test)
{
	static const size_t sizes[] = { 32769, 40 << 10, 1 << 20, (1 << 20) + 1, 4 << 20 };
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		u8 *p = spanalloc_alloc(sizes[i], GFP_KERNEL | __GFP_ZERO);

		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_TRUE(test, PAGE_ALIGNED(p));
		KUNIT_EXPECT_GE(test, spanalloc_usable_size(p), sizes[i]);
		KUNIT_EXPECT_EQ(test, p[0] | p[sizes[i] - 1], 0);
		/*
		 * Nothing a page's last user left in page->index (a freed
		 * slab's freelist, say) points into the object: kmemleak scans
		 * struct pages, and would take it for a reference.
		 */
		for (j = 0; j < DIV_ROUND_UP(sizes[i], PAGE_SIZE); j++)
			KUNIT_EXPECT_EQ_MSG(test, virt_to_page(p)[j].index, 0UL,
					    "size %zu, page %u", sizes[i], j);
		memset(p, 0xff, sizes[i]);
		spanalloc_free(p);
	}
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

static void api_pow2_alignment(struct kunit *test)
{
	unsigned int size;

	for (size = 8; size <= SA_MAX_SMALL; size <<= 1) {
		void *p = spanalloc_alloc(size, GFP_KERNEL);
		void *q = spanalloc_alloc(size, GFP_KERNEL);
		unsigned long align = min_t(unsigned long, size, PAGE_SIZE);

		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_ASSERT_NOT_NULL(test, q);
		KUNIT_EXPECT_EQ(test, (unsigned long)p % align, 0UL);
		KUNIT_EXPECT_EQ(test, (unsigned long)q % align, 0UL);
		spanalloc_free(p);
		spanalloc_free(q);
	}
	/* Odd sizes: at least 8 bytes. */
	for (size = 1; size < 300; size += 7) {
		void *p = spanalloc_alloc(size, GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_EQ(test, (unsigned long)p % 8, 0UL);
		KUNIT_EXPECT_GE(test, spanalloc_usable_size(p), (size_t)size);
		spanalloc_free(p);
	}
}

/*
 * The fast path's size table (made at load from sa_size_to_class()) agrees
 * with it at every 8-byte step: an object of a multiple of 8 bytes, and of
 * one byte more, has the size of the class sa_size_to_class() names.
 */
static void api_size_lookup(struct kunit *test)
{
	unsigned int size, c;
	size_t usable;
	void *p;

	sa_test_plain_slots(test);

	for (size = 1; size <= SA_MAX_SMALL; size += size % 8 ? 7 : 1) {
		p = spanalloc_alloc(size, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p);
		usable = spanalloc_usable_size(p);
		spanalloc_free(p);
		c = sa_size_to_class(size);
		if (usable != sa_classes[c].size) {
			KUNIT_FAIL(test, "size %u: %zu bytes, class %u has %u", size, usable, c,
				   sa_classes[c].size);
			break;
		}
	}
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

static void api_realloc(struct kunit *test)
{
	u8 *p, *q;
	unsigned int i;

	sa_test_plain_slots(test);

	p = spanalloc_realloc(NULL, 100, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_EQ(test, spanalloc_usable_size(p), (size_t)112);
	for (i = 0; i < 100; i++)
		p[i] = i;
	/* Big enough already: the same pointer. */
	KUNIT_EXPECT_PTR_EQ(test, spanalloc_realloc(p, 110, GFP_KERNEL), (void *)p);
	KUNIT_EXPECT_PTR_EQ(test, spanalloc_realloc(p, 10, GFP_KERNEL), (void *)p);
	q = spanalloc_realloc(p, 5000, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, q);
	for (i = 0; i < 100; i++)
		KUNIT_EXPECT_EQ(test, q[i], (u8)i);
	/* Failure leaves the old object untouched. */
	KUNIT_EXPECT_NULL(test, spanalloc_realloc(q, SPANALLOC_MAX_SIZE + 1,
						  GFP_KERNEL | __GFP_NOWARN));
	KUNIT_EXPECT_EQ(test, q[99], 99);
	p = spanalloc_realloc(q, 100 << 10, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_EQ(test, p[42], 42);
	KUNIT_EXPECT_PTR_EQ(test, spanalloc_realloc(p, 0, GFP_KERNEL), ZERO_SIZE_PTR);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

static void api_bulk_all_or_nothing(struct kunit *test)
{
	struct spanalloc_cache *cache;
	unsigned long a0, f0, a1, f1;
	void *p[16];

	/* 20000 B objects: one per span, so each object needs a new span. */
	cache = spanalloc_cache_create("sa_test_bulk", 20000, 0, 0, NULL);
	KUNIT_ASSERT_NOT_NULL(test, cache);
	KUNIT_EXPECT_EQ(test, spanalloc_cache_alloc_bulk(cache, GFP_KERNEL, 16, p), 16);
	spanalloc_cache_free_bulk(cache, 16, p);

	spanalloc_debug_drain();
	spanalloc_debug_counts(&a0, &f0);
	spanalloc_debug_fail_new_span(5);
	KUNIT_EXPECT_EQ(test, spanalloc_cache_alloc_bulk(cache, GFP_KERNEL, 16, p), 0);
	spanalloc_debug_fail_new_span(0);
	spanalloc_debug_counts(&a1, &f1);
	KUNIT_EXPECT_EQ(test, a1 - a0, f1 - f0);
	KUNIT_EXPECT_GE(test, a1 - a0, 4UL);

	KUNIT_EXPECT_EQ(test, spanalloc_alloc_bulk(64, GFP_KERNEL, 16, p), 16);
	spanalloc_free_bulk(16, p);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
	/* Destroy finds nothing live: no report. */
	spanalloc_cache_destroy(cache);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

/*
 * Bulk calls take and give back runs of objects in one critical section:
 * across several spans (refills), every object distinct, live and zeroed
 * when reused, counters exact, a duplicate in a bulk free reported once.
 */
static void api_bulk_batched(struct kunit *test)
{
	const unsigned int n = 300;	/* 64 B objects, 64 per span */
	struct spanalloc_cache *cache;
	struct spanalloc_ptr_info info;
	unsigned long a0, f0, a1, f1;
	unsigned int i, j;
	void **p, *lost;

	sa_test_plain_slots(test);

	p = kunit_kcalloc(test, n, sizeof(*p), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	cache = spanalloc_cache_create("sa_test_bulk_batch", 64, 0, 0, NULL);
	KUNIT_ASSERT_NOT_NULL(test, cache);
	KUNIT_ASSERT_EQ(test, spanalloc_cache_alloc_bulk(cache, GFP_KERNEL, n, p), (int)n);
	for (i = 0; i < n; i++)
		memset(p[i], 0xa5, 64);
	spanalloc_cache_free_bulk(cache, n, p);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);

	spanalloc_debug_counts(&a0, &f0);
	KUNIT_ASSERT_EQ(test, spanalloc_cache_alloc_bulk(cache, GFP_KERNEL | __GFP_ZERO, n, p),
			(int)n);
	spanalloc_debug_counts(&a1, &f1);
	KUNIT_EXPECT_EQ(test, a1 - a0, (unsigned long)n);
	KUNIT_EXPECT_EQ(test, f1 - f0, 0UL);
	for (i = 0; i < n; i++) {
		KUNIT_ASSERT_EQ(test, spanalloc_debug_lookup(p[i], &info), 0);
		KUNIT_EXPECT_TRUE(test, info.live);
		KUNIT_EXPECT_EQ(test, info.size, 64U);
		KUNIT_EXPECT_NULL(test, memchr_inv(p[i], 0, 64));
		for (j = 0; j < i; j++)
			KUNIT_ASSERT_PTR_NE(test, p[i], p[j]);
	}

	/* Interleave the spans, and free one object twice. */
	for (i = 0; i + 200 < n; i++)
		swap(p[i], p[i + 200]);
	lost = p[n - 1];
	p[n - 1] = p[7];
	spanalloc_cache_free_bulk(cache, n, p);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
	spanalloc_cache_free(cache, lost);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
	spanalloc_debug_counts(&a1, &f1);
	KUNIT_EXPECT_EQ(test, f1 - f0, (unsigned long)n);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_TRUE(test, spanalloc_debug_lookup(p[i], &info) || !info.live);
	spanalloc_cache_destroy(cache);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
}

static atomic_t sa_ctor_calls;

static void sa_test_ctor(void *obj)
{
	atomic_inc(&sa_ctor_calls);
	memset(obj, 0xc7, 24);
}

/*
 * Offsets of a span of geometry @k that sa_span_obj_start() gets wrong: all
 * of them if @all, else each object's first, second and last byte and the
 * tail's first. Return: how many.
 */
static unsigned int sa_test_bad_starts(const struct sa_class *k, bool all)
{
	struct sa_span s = { .elemsize = k->size, .div_mul = k->div_mul, .nelems = k->nelems };
	unsigned long span = k->npages * PAGE_SIZE, off, step;
	unsigned int idx, bad = 0;
	bool start, want;

	for (off = 0; off < span; off += step) {
		start = sa_span_obj_start(&s, (void *)off, &idx);
		want = off % k->size == 0 && off / k->size < k->nelems;
		if (start != want || (start && idx != off / k->size))
			bad++;
		/* Not all: the object's start, its next byte, its last byte. */
		step = all || off % k->size == 0 ? 1 : off % k->size == 1 ? k->size - 2 : 1;
	}
	return bad;
}

/*
 * A named cache's objects are of its own size, on spans of SLUB's policy:
 * the fewest pages holding SA_CACHE_MIN_OBJS objects with a small tail.
 */
static void api_cache_geometry(struct kunit *test)
{
	static const struct {
		unsigned int size, npages, nelems;
	} want[] = {
		{ 24, 1, 170 },		/* Go's class 3 too */
		{ 200, 1, 20 },		/* not a class: 208 */
		{ 760, 3, 16 },		/* 1 page: 5 and 296 B of tail */
		{ 4096, 4, 4 },		/* Go's class: 1 a page */
		{ 8192, 8, 4 },
		{ 20000, 5, 1 },
	};
	struct spanalloc_ptr_info info;
	struct spanalloc_cache *c;
	struct sa_class k;
	unsigned int i, size, obj;
	void *p;

	sa_test_plain_slots(test);

	for (i = 0; i < ARRAY_SIZE(want); i++) {
		c = spanalloc_cache_create("sa_test_geometry", want[i].size, 0, 0, NULL);
		KUNIT_ASSERT_NOT_NULL(test, c);
		p = spanalloc_cache_alloc(c, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_EQ(test, spanalloc_usable_size(p), (size_t)want[i].size);
		KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup(p, &info), 0);
		KUNIT_EXPECT_EQ(test, info.size, want[i].size);
		KUNIT_EXPECT_EQ(test, info.npages, want[i].npages);
		KUNIT_EXPECT_EQ(test, info.nelems, want[i].nelems);
		KUNIT_EXPECT_EQ(test, info.class_idx, 0U);
		/* The span's last object is live only if it is @p. */
		obj = (info.nelems - 1) * info.size;
		KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup((char *)info.base + obj, &info), 0);
		KUNIT_EXPECT_EQ(test, info.live, (char *)p == (char *)info.base + obj);
		spanalloc_cache_free(c, p);
		spanalloc_cache_destroy(c);
	}
	/* Alignment up to a page: every object of a span aligned. */
	for (obj = 128; obj <= PAGE_SIZE; obj *= 2) {
		unsigned int j;
		void *q[9];

		c = spanalloc_cache_create("sa_test_geometry", 100, obj, 0, NULL);
		KUNIT_ASSERT_NOT_NULL(test, c);
		for (j = 0; j < ARRAY_SIZE(q); j++) {
			q[j] = spanalloc_cache_alloc(c, GFP_KERNEL);
			KUNIT_ASSERT_NOT_NULL(test, q[j]);
			KUNIT_EXPECT_EQ(test, (unsigned long)q[j] % obj, 0UL);
			KUNIT_EXPECT_EQ(test, spanalloc_usable_size(q[j]), (size_t)obj);
		}
		while (j)
			spanalloc_cache_free(c, q[--j]);
		spanalloc_cache_destroy(c);
	}
	/* Every size a cache can have: a span, a small tail, exact division. */
	for (size = 8; size <= SA_MAX_SMALL; size += 8) {
		KUNIT_ASSERT_TRUE(test, sa_cache_geometry(&k, size));
		KUNIT_EXPECT_EQ(test, k.size, size);
		KUNIT_EXPECT_GE(test, k.nelems, 1U);
		KUNIT_EXPECT_LE(test, k.nelems, (u16)SA_MAX_NELEMS);
		KUNIT_EXPECT_LE(test, k.npages, (u16)SA_MAX_SPAN_PAGES);
		KUNIT_EXPECT_EQ(test, k.nelems, k.npages * PAGE_SIZE / size);
		/* A tail of at most 1/8 with SA_CACHE_MIN_OBJS objects, if a span has one. */
		obj = min_t(unsigned int, SA_CACHE_MIN_OBJS, SA_MAX_SPAN_PAGES * PAGE_SIZE / size);
		for (i = 1; i <= SA_MAX_SPAN_PAGES; i++)
			if (i * PAGE_SIZE / size >= obj &&
			    (i * PAGE_SIZE) % size <= i * PAGE_SIZE / 8)
				break;
		if (i <= SA_MAX_SPAN_PAGES) {
			KUNIT_EXPECT_GE(test, k.nelems, obj);
			KUNIT_EXPECT_LE(test, k.npages * PAGE_SIZE - k.nelems * size,
					k.npages * PAGE_SIZE / 8);
		}
		KUNIT_EXPECT_EQ(test, (u32)(((u64)(k.nelems * size - 1) * k.div_mul) >> 32),
				k.nelems - 1U);
		KUNIT_EXPECT_EQ_MSG(test, sa_test_bad_starts(&k, false), 0U, "size %u", size);
	}
	/* Every offset of every class's span: an object's start or not. */
	for (i = 1; i < SA_NUM_CLASSES; i++)
		KUNIT_EXPECT_EQ_MSG(test, sa_test_bad_starts(&sa_classes[i], true), 0U,
				    "class %u", i);
	/* Past the largest class, with debug metadata or alignment: one object. */
	for (size = SA_MAX_SMALL + 8; size <= SA_MAX_CACHE_SLOT; size += 8) {
		KUNIT_ASSERT_TRUE(test, sa_cache_geometry(&k, size));
		KUNIT_EXPECT_EQ(test, k.nelems, 1U);
		KUNIT_EXPECT_EQ(test, k.npages, (u16)DIV_ROUND_UP(size, PAGE_SIZE));
	}
	KUNIT_EXPECT_FALSE(test, sa_cache_geometry(&k, SA_MAX_CACHE_SLOT + 8));
	KUNIT_EXPECT_FALSE(test, sa_cache_geometry(&k, 12));
}

static void api_cache_ctor_and_align(struct kunit *test)
{
	struct spanalloc_cache *a, *b, *h;
	struct spanalloc_ptr_info info;
	u8 *p[100];
	unsigned int i;
	int calls;

	sa_test_plain_slots(test);

	atomic_set(&sa_ctor_calls, 0);
	a = spanalloc_cache_create("sa_test_ctor", 24, 0, 0, sa_test_ctor);
	b = spanalloc_cache_create("sa_test_align", 40, 64, 0, NULL);
	h = spanalloc_cache_create("sa_test_hw", 100, 0, SPANALLOC_HWCACHE_ALIGN, NULL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_ASSERT_NOT_NULL(test, h);
	/*
	 * On one CPU: the objects come back to the span this CPU owns and are
	 * handed out again. On another CPU, that span still cached here, the
	 * second round would carve a new one (and call the ctor again).
	 */
	migrate_disable();
	for (i = 0; i < ARRAY_SIZE(p); i++) {
		p[i] = spanalloc_cache_alloc(a, GFP_KERNEL);
		if (!p[i])
			break;
		KUNIT_EXPECT_EQ(test, p[i][0], 0xc7);
		KUNIT_EXPECT_EQ(test, p[i][23], 0xc7);
		/* Never another pool's object. */
		KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup(p[i], &info), 0);
		KUNIT_EXPECT_EQ(test, info.size, 24U);
	}
	KUNIT_EXPECT_EQ(test, i, ARRAY_SIZE(p));
	calls = atomic_read(&sa_ctor_calls);
	/* Once per object, when its span was carved: whole spans of 170. */
	KUNIT_EXPECT_EQ(test, calls % 170, 0);
	KUNIT_EXPECT_GE(test, calls, 170);
	while (i)
		spanalloc_cache_free(a, p[--i]);
	for (i = 0; i < ARRAY_SIZE(p); i++) {
		p[i] = spanalloc_cache_alloc(a, GFP_KERNEL);
		if (!p[i])
			break;
		/* Reused, not zeroed: init_on_alloc skips a constructor's objects. */
		KUNIT_EXPECT_EQ(test, p[i][0], 0xc7);
		KUNIT_EXPECT_EQ(test, p[i][23], 0xc7);
	}
	KUNIT_EXPECT_EQ(test, i, ARRAY_SIZE(p));
	KUNIT_EXPECT_EQ(test, atomic_read(&sa_ctor_calls), calls);
	while (i)
		spanalloc_cache_free(a, p[--i]);
	migrate_enable();

	for (i = 0; i < ARRAY_SIZE(p); i++) {
		p[i] = spanalloc_cache_alloc(b, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p[i]);
		KUNIT_EXPECT_EQ(test, (unsigned long)p[i] % 64, 0UL);
	}
	for (i = 0; i < ARRAY_SIZE(p); i++)
		spanalloc_cache_free(b, p[i]);
	for (i = 0; i < ARRAY_SIZE(p); i++) {
		p[i] = spanalloc_cache_alloc(h, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p[i]);
		KUNIT_EXPECT_EQ(test, (unsigned long)p[i] % cache_line_size(), 0UL);
	}
	for (i = 0; i < ARRAY_SIZE(p); i++)
		spanalloc_cache_free(h, p[i]);
	spanalloc_cache_destroy(a);
	spanalloc_cache_destroy(b);
	spanalloc_cache_destroy(h);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

static void api_cache_destroy_live(struct kunit *test)
{
	struct spanalloc_cache *c = spanalloc_cache_create("sa_test_live", 32, 0, 0, NULL);
	void *p;

	KUNIT_ASSERT_NOT_NULL(test, c);
	p = spanalloc_cache_alloc(c, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	spanalloc_cache_destroy(c);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
	/* The object stayed valid and can still be freed. */
	memset(p, 1, 32);
	spanalloc_cache_free(c, p);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
}

static void api_node_placement(struct kunit *test)
{
	int node;

	for_each_node_state(node, N_MEMORY) {
		void *small = spanalloc_alloc_node(200, GFP_KERNEL, node);
		void *large = spanalloc_alloc_node(100 << 10, GFP_KERNEL, node);

		KUNIT_ASSERT_NOT_NULL(test, small);
		KUNIT_ASSERT_NOT_NULL(test, large);
		KUNIT_EXPECT_EQ(test, page_to_nid(virt_to_page(small)), node);
		KUNIT_EXPECT_EQ(test, page_to_nid(virt_to_page(large)), node);
		spanalloc_free(small);
		spanalloc_free(large);
	}
	/* Plain allocations come from the current CPU's node. */
	preempt_disable();
	node = numa_mem_id();
	{
		void *p = spanalloc_alloc(64, GFP_ATOMIC);

		preempt_enable();
		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_EQ(test, page_to_nid(virt_to_page(p)), node);
		spanalloc_free(p);
	}
	KUNIT_EXPECT_NULL(test, spanalloc_alloc_node(64, GFP_KERNEL, MAX_NUMNODES + 5));
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
}

static void api_gfp_zero_after_dirty_reuse(struct kunit *test)
{
	unsigned int sizes[] = { 8, 64, 256, 1024, 4096, 32768 };
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		u8 *p = spanalloc_alloc(sizes[i], GFP_KERNEL), *q;

		KUNIT_ASSERT_NOT_NULL(test, p);
		memset(p, 0xaa, sizes[i]);
		spanalloc_free(p);
		/* Run through the span so the dirty object comes back. */
		for (j = 0; j < 600; j++) {
			q = spanalloc_alloc(sizes[i], GFP_KERNEL | __GFP_ZERO);
			KUNIT_ASSERT_NOT_NULL(test, q);
			if (memchr_inv(q, 0, sizes[i])) {
				KUNIT_FAIL(test, "size %u: __GFP_ZERO object not zero", sizes[i]);
				spanalloc_free(q);
				return;
			}
			memset(q, 0xbb, sizes[i]);
			spanalloc_free(q);
		}
	}
}

/* An object of @size from @c, or from the size API if @c is NULL. */
static void *sa_test_alloc(struct spanalloc_cache *c, unsigned int size, gfp_t gfp)
{
	return c ? spanalloc_cache_alloc(c, gfp) : spanalloc_alloc(size, gfp);
}

/* Free @p to @c, or by the size API if @c is NULL. */
static void sa_test_free(struct spanalloc_cache *c, void *p)
{
	if (c)
		spanalloc_cache_free(c, p);
	else
		spanalloc_free(p);
}

/*
 * Every way sa_zero() zeroes an object (one to eight words by stores, more
 * by lines of eight stores or blocks of four lines, a page by clear_page(),
 * more by sa_zero_big()), through a named cache (one by one and in bulk)
 * and the size API: of three objects side by side, all dirty, the middle
 * one is freed and allocated again. It must come back zero (init_on_alloc,
 * or __GFP_ZERO where it is off), the same object, and its neighbours must
 * keep every byte.
 */
static void sa_test_zero_round(struct kunit *test, struct spanalloc_cache *c,
			       unsigned int size)
{
	gfp_t gfp = GFP_KERNEL | (want_init_on_alloc(GFP_KERNEL) ? 0 : __GFP_ZERO);
	const char *what = c ? "a named cache's" : "a size class's";
	unsigned int i, tries;
	u8 *o[3], *x = NULL;
	bool ok = true;

	/*
	 * The neighbours prove no overrun only around the object freed: a
	 * size class may hand out another (an interrupt's allocation between
	 * the free and ours), so a few tries.
	 */
	for (tries = 0; tries < 4; tries++) {
		migrate_disable();
		for (i = 0; i < ARRAY_SIZE(o); i++) {
			o[i] = sa_test_alloc(c, size, GFP_KERNEL);
			ok &= !!o[i];
		}
		if (ok) {
			for (i = 0; i < ARRAY_SIZE(o); i++)
				memset(o[i], 0x5a, size);
			sa_test_free(c, o[1]);
			x = sa_test_alloc(c, size, gfp);
		}
		migrate_enable();
		/* The last try's objects are checked, then freed, below. */
		if (!ok || !x || x == o[1] || tries == 3)
			break;
		for (i = 0; i < ARRAY_SIZE(o); i++)
			sa_test_free(c, i == 1 ? x : o[i]);
	}
	if (!ok || !x) {
		/* What this try holds: o[1] went back if the three came. */
		for (i = 0; i < ARRAY_SIZE(o); i++)
			if (o[i] && !(ok && i == 1))
				sa_test_free(c, o[i]);
		KUNIT_FAIL(test, "size %u: allocation failed", size);
		return;
	}
	KUNIT_EXPECT_PTR_EQ_MSG(test, x, o[1], "size %u: %s freed object never came back",
				size, what);
	KUNIT_EXPECT_NULL_MSG(test, memchr_inv(x, 0, size), "size %u: %s object not zeroed",
			      size, what);
	KUNIT_EXPECT_NULL_MSG(test, memchr_inv(o[0], 0x5a, size),
			      "size %u: %s object before was written", size, what);
	KUNIT_EXPECT_NULL_MSG(test, memchr_inv(o[2], 0x5a, size),
			      "size %u: %s object after was written", size, what);
	for (i = 0; i < ARRAY_SIZE(o); i++)
		sa_test_free(c, i == 1 ? x : o[i]);
}

/*
 * Allocate @n objects of @size (from @c if given, in bulk), dirty them, free
 * them, allocate @n again with @gfp: each must be zero (by @zeroer), and
 * some must be the dirty ones, or the case proves nothing. On one CPU, so
 * the objects come back.
 */
static void sa_test_reuse_round(struct kunit *test, struct spanalloc_cache *c,
				unsigned int size, gfp_t gfp, const char *zeroer)
{
	void *p[16], *q[16];
	unsigned int i, j, reused = 0, dirty = 0;
	bool ok = true;

	memset(p, 0, sizeof(p));
	memset(q, 0, sizeof(q));
	migrate_disable();
	if (c) {
		ok = spanalloc_cache_alloc_bulk(c, GFP_KERNEL, ARRAY_SIZE(p), p) == ARRAY_SIZE(p);
	} else {
		for (i = 0; i < ARRAY_SIZE(p); i++) {
			p[i] = spanalloc_alloc(size, GFP_KERNEL);
			ok &= !!p[i];
		}
		for (i = 0; !ok && i < ARRAY_SIZE(p); i++)
			spanalloc_free(p[i]);
	}
	if (ok) {
		for (i = 0; i < ARRAY_SIZE(p); i++)
			memset(p[i], 0x5a, size);
		if (c)
			spanalloc_cache_free_bulk(c, ARRAY_SIZE(p), p);
		else
			for (i = 0; i < ARRAY_SIZE(p); i++)
				spanalloc_free(p[i]);
		if (c)
			ok = spanalloc_cache_alloc_bulk(c, gfp, ARRAY_SIZE(q), q) == ARRAY_SIZE(q);
		else
			for (i = 0; i < ARRAY_SIZE(q); i++)
				q[i] = spanalloc_alloc(size, gfp);
	}
	migrate_enable();
	KUNIT_EXPECT_TRUE_MSG(test, ok, "size %u: allocation failed", size);
	for (i = 0; ok && i < ARRAY_SIZE(q); i++) {
		if (!q[i]) {
			KUNIT_FAIL(test, "size %u: allocation failed", size);
			continue;
		}
		dirty += !!memchr_inv(q[i], 0, size);
		for (j = 0; j < ARRAY_SIZE(p); j++)
			reused += q[i] == p[j];
	}
	KUNIT_EXPECT_EQ_MSG(test, dirty, 0U, "size %u: objects not zeroed by %s", size, zeroer);
	KUNIT_EXPECT_TRUE_MSG(test, !ok || reused, "size %u: no dirty object came back", size);
	if (c && ok)
		spanalloc_cache_free_bulk(c, ARRAY_SIZE(q), q);
	else if (!c)
		for (i = 0; i < ARRAY_SIZE(q); i++)
			spanalloc_free(q[i]);
}

static void sa_test_zero_size(struct kunit *test, unsigned int size)
{
	struct spanalloc_cache *c = spanalloc_cache_create("sa_test_zero", size, 0, 0, NULL);

	KUNIT_ASSERT_NOT_NULL(test, c);
	sa_test_zero_round(test, c, size);
	/* The bulk calls test the zeroing kind once per call. */
	sa_test_reuse_round(test, c, size,
			    GFP_KERNEL | (want_init_on_alloc(GFP_KERNEL) ? 0 : __GFP_ZERO),
			    "init_on_alloc or __GFP_ZERO, in bulk");
	spanalloc_cache_destroy(c);
	sa_test_zero_round(test, NULL, size);
	/* A debug cache: red zone and call sites after each object (usable < size). */
	c = spanalloc_cache_create("sa_test_zero_debug", size, 0, SPANALLOC_DEBUG, NULL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	sa_test_zero_round(test, c, size);
	spanalloc_cache_destroy(c);
}

static void api_zero_each_kind(struct kunit *test)
{
	/*
	 * Lines of 64 bytes: one to many, the last one overlapping or not;
	 * blocks of 256 bytes (256, 512, 1024, 3840): one to many.
	 */
	static const unsigned int lines[] = { 80, 120, 128, 136, 192, 256, 264, 512, 1000,
					      1024, 3064, 3840, 4088 };
	unsigned int i, size;

	sa_test_plain_slots(test);

	for (size = 8; size <= 72; size += 8)
		sa_test_zero_size(test, size);
	for (i = 0; i < ARRAY_SIZE(lines); i++)
		sa_test_zero_size(test, lines[i]);
	/* A page (clear_page()), and two (sa_zero_big()). */
	sa_test_zero_size(test, PAGE_SIZE);
	sa_test_zero_size(test, 2 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

/*
 * With init_on_free=1 (make test-compat's 6.12-initfree boot, where
 * init_on_alloc is off), a freed object is zeroed: allocated again without
 * __GFP_ZERO it is zero, after a single, a bulk or a large free. A
 * constructor cache's objects keep what the constructor wrote (SLUB's rule).
 */
static void api_init_on_free(struct kunit *test)
{
	static const unsigned int sizes[] = { 8, 64, 256, 4096, 65536 };
	struct spanalloc_cache *c;
	unsigned int i;
	u8 *o, *first;

	if (sa_debug_all)
		kunit_skip(test, "debug=1: debug pools poison freed objects instead (SLUB's rule)");
	if (!want_init_on_free())
		kunit_skip(test, "init_on_free is off (make test-compat boots it on)");
	if (want_init_on_alloc(GFP_KERNEL))
		kunit_skip(test, "init_on_alloc is on: it would zero the objects itself");
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		sa_test_reuse_round(test, NULL, sizes[i], GFP_KERNEL, "init_on_free");

	c = spanalloc_cache_create("sa_test_initfree", 96, 0, 0, NULL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	sa_test_reuse_round(test, c, 96, GFP_KERNEL, "init_on_free");
	spanalloc_cache_destroy(c);

	c = spanalloc_cache_create("sa_test_initfree_ctor", 24, 0, 0, sa_test_ctor);
	KUNIT_ASSERT_NOT_NULL(test, c);
	migrate_disable();
	first = spanalloc_cache_alloc(c, GFP_KERNEL);
	spanalloc_cache_free(c, first);
	o = first ? spanalloc_cache_alloc(c, GFP_KERNEL) : NULL;
	migrate_enable();
	KUNIT_EXPECT_NOT_NULL(test, first);
	KUNIT_EXPECT_PTR_EQ(test, o, first);
	if (o) {
		KUNIT_EXPECT_NULL_MSG(test, memchr_inv(o, 0xc7, 24),
				      "a constructor cache's object was zeroed on free");
		spanalloc_cache_free(c, o);
	}
	spanalloc_cache_destroy(c);
}

static void api_cross_cache_free_refused(struct kunit *test)
{
	struct spanalloc_cache *a = spanalloc_cache_create("sa_test_a", 64, 0, 0, NULL);
	struct spanalloc_cache *b = spanalloc_cache_create("sa_test_b", 64, 0, 0, NULL);
	void *p, *q;

	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_EXPECT_NULL(test, spanalloc_cache_create("sa_test_a", 64, 0, 0, NULL));
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
	p = spanalloc_cache_alloc(a, GFP_KERNEL);
	q = spanalloc_alloc(64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, q);
	KUNIT_EXPECT_PTR_NE(test, p, q);
	spanalloc_cache_free(b, p);
	spanalloc_cache_free(b, q);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 3);
	spanalloc_cache_free(a, p);
	spanalloc_free(q);
	spanalloc_cache_destroy(a);
	spanalloc_cache_destroy(b);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 3);
}

/* ---- giving memory back ---- */

static unsigned long sa_pages_held(void)
{
	struct spanalloc_heap_stats st;

	sa_total_heap(&st);
	return st.pages_held + st.huge_pages;
}

static unsigned long sa_pages_returned(void)
{
	struct spanalloc_heap_stats st;
	unsigned long sum = 0;
	int node;

	for_each_node(node) {
		spanalloc_debug_heap(node, &st);
		sum += st.pages_returned;
	}
	return sum;
}

/* Allocate then free a mixed population of about @bytes; pages held at its peak. */
static unsigned long sa_population(struct kunit *test, unsigned long bytes)
{
	unsigned int n = 0, max = bytes / 64, i;
	unsigned long got = 0, peak;
	void **p = kvcalloc(max, sizeof(void *), GFP_KERNEL);

	if (!p)
		return 0;
	while (got < bytes && n < max) {
		size_t size = 8 + get_random_u32_below(4096);

		p[n] = spanalloc_alloc(size, GFP_KERNEL);
		if (!p[n])
			break;
		got += size;
		n++;
	}
	KUNIT_EXPECT_GE(test, got, bytes);
	peak = sa_pages_held();
	sa_shuffle(p, n);
	for (i = 0; i < n; i++)
		spanalloc_free(p[i]);
	kvfree(p);
	return peak;
}

/* Wait until pages held are at most @limit; the time it took, or -1. */
static long sa_wait_held(unsigned long limit, unsigned int max_ms)
{
	unsigned long start = jiffies;

	while (sa_pages_held() > limit) {
		if (time_after(jiffies, start + msecs_to_jiffies(max_ms)))
			return -1;
		msleep(20);
	}
	return jiffies_to_msecs(jiffies - start);
}

#define SA_SCAV_MS	50	/* scavenger period in these tests */

static void scavenger_returns_to_floor(struct kunit *test)
{
	unsigned int old[3];
	unsigned long ret0, floor;
	long took;
	int nodes = num_node_state(N_MEMORY);

	sa_test_plain_slots(test);

	spanalloc_debug_scavenger(SA_SCAV_MS, 10, 0, old);
	ret0 = sa_pages_returned();
	KUNIT_EXPECT_GE(test, sa_population(test, 8 << 20), 2048UL);
	spanalloc_debug_drain();
	/* Floor 0, nothing in use: everything goes back within 20 periods. */
	took = sa_wait_held(0, 20 * SA_SCAV_MS + 2000);
	KUNIT_EXPECT_GE(test, took, 0L);
	KUNIT_EXPECT_GE(test, sa_pages_returned() - ret0, 2048UL);

	/*
	 * Floor of 2 chunks per node: that much stays, and less than one of
	 * the smallest chunks (the reserve's for hardirq context) more.
	 */
	spanalloc_debug_scavenger(SA_SCAV_MS, 10, 2, NULL);
	sa_population(test, 8 << 20);
	spanalloc_debug_drain();
	floor = 2UL * SA_CHUNK_PAGES * nodes;
	took = sa_wait_held(floor + (SA_IRQ_RESERVE_PAGES - 1) * nodes, 20 * SA_SCAV_MS + 2000);
	KUNIT_EXPECT_GE(test, took, 0L);
	msleep(4 * SA_SCAV_MS);
	KUNIT_EXPECT_LE(test, sa_pages_held(), floor + (SA_IRQ_RESERVE_PAGES - 1) * nodes);
	KUNIT_EXPECT_GT(test, sa_pages_held(), 0UL);
	spanalloc_debug_scavenger(old[0], old[1], old[2], NULL);
}

struct sa_steady {
	struct kunit *test;
	unsigned long returned, held0, held1;
	int bad;
};

/* A constant live set with churn, on one CPU (so on one node). */
static long sa_steady_fn(void *arg)
{
	struct sa_steady *st = arg;
	unsigned int n = 4000, i, round;
	unsigned long ret0;
	void **p = kvcalloc(n, sizeof(void *), GFP_KERNEL);
	u32 *sizes = kvcalloc(n, sizeof(u32), GFP_KERNEL);

	if (!p || !sizes)
		goto out;
	for (i = 0; i < n; i++) {
		sizes[i] = 8 + get_random_u32_below(2048);
		p[i] = spanalloc_alloc(sizes[i], GFP_KERNEL);
		st->bad += !p[i];
	}
	/* Let the scavenger settle, then count what it does in a window. */
	msleep(6 * SA_SCAV_MS);
	ret0 = sa_pages_returned();
	st->held0 = sa_pages_held();
	for (round = 0; round < 20; round++) {
		for (i = 0; i < n / 4; i++) {
			unsigned int k = get_random_u32_below(n);

			spanalloc_free(p[k]);
			p[k] = spanalloc_alloc(sizes[k], GFP_KERNEL);
			st->bad += !p[k];
		}
		msleep(SA_SCAV_MS);
	}
	st->returned = sa_pages_returned() - ret0;
	st->held1 = sa_pages_held();
	for (i = 0; i < n; i++)
		spanalloc_free(p[i]);
out:
	kvfree(p);
	kvfree(sizes);
	return 0;
}

static void scavenger_steady_no_thrash(struct kunit *test)
{
	struct sa_steady st = { .test = test };
	unsigned int old[3];

	spanalloc_debug_scavenger(SA_SCAV_MS, 10, 2, old);
	work_on_cpu(cpumask_first(cpu_online_mask), sa_steady_fn, &st);
	spanalloc_debug_scavenger(old[0], old[1], old[2], NULL);
	KUNIT_EXPECT_EQ(test, st.bad, 0);
	KUNIT_EXPECT_GT(test, st.held0, 0UL);
	/* Nothing given back only to be taken again, and no growth. */
	KUNIT_EXPECT_EQ(test, st.returned, 0UL);
	KUNIT_EXPECT_LE(test, st.held1, st.held0 + SA_CHUNK_PAGES);
}

static long sa_alloc_on_cpu(void *arg)
{
	void **p = arg;
	unsigned int i;

	for (i = 0; i < 64; i++) {
		p[i] = spanalloc_alloc(32 + 64 * (i % 16), GFP_KERNEL);
		if (!p[i])
			return -ENOMEM;
		memset(p[i], 0x3c, 32);
	}
	return 0;
}

static void hotplug_offline_flushes_cache(struct kunit *test)
{
	void **p = kunit_kcalloc(test, 64, sizeof(void *), GFP_KERNEL);
	unsigned long a0, f0, a1, f1;
	unsigned int i;
	int cpu;

	KUNIT_ASSERT_NOT_NULL(test, p);
	if (num_online_cpus() < 2)
		kunit_skip(test, "needs two online CPUs");
	cpu = cpumask_last(cpu_online_mask);
	spanalloc_debug_counts(&a0, &f0);
	KUNIT_ASSERT_EQ(test, work_on_cpu(cpu, sa_alloc_on_cpu, p), 0L);
	KUNIT_EXPECT_GT(test, spanalloc_debug_cpu_spans(cpu), 0U);
	KUNIT_ASSERT_EQ(test, remove_cpu(cpu), 0);
	/* The dead CPU's spans went back to the central lists. */
	KUNIT_EXPECT_EQ(test, spanalloc_debug_cpu_spans(cpu), 0U);
	for (i = 0; i < 64; i++) {
		KUNIT_EXPECT_EQ(test, ((u8 *)p[i])[31], 0x3c);
		spanalloc_free(p[i]);
	}
	KUNIT_ASSERT_EQ(test, add_cpu(cpu), 0);
	/* It comes back with an empty cache. */
	KUNIT_EXPECT_EQ(test, spanalloc_debug_cpu_spans(cpu), 0U);
	spanalloc_debug_counts(&a1, &f1);
	KUNIT_EXPECT_EQ(test, a1 - a0, f1 - f0);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

static void hotplug_during_workload(struct kunit *test)
{
	struct sa_thread_ctx ctx[SA_THREADS];
	unsigned long a0, f0, a1, f1;
	long before;
	int i, cpu, toggles = 0;
	bool done = false;

	if (num_online_cpus() < 2)
		kunit_skip(test, "needs two online CPUs");
	cpu = cpumask_last(cpu_online_mask);
	spanalloc_debug_drain();
	before = sa_pages_in_use();
	spanalloc_debug_counts(&a0, &f0);
	for (i = 0; i < SA_THREADS; i++) {
		struct task_struct *t;

		init_completion(&ctx[i].done);
		atomic_set(&ctx[i].bad, 0);
		ctx[i].seed = 2000 + i;
		t = kthread_run(sa_thread_fn, &ctx[i], "sa_hp/%d", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	}
	while (!done) {
		/* A few toggles suffice; many provoke 6.12's deadline-server warning. */
		if (toggles < 5 && !remove_cpu(cpu)) {
			msleep(20);
			KUNIT_EXPECT_EQ(test, add_cpu(cpu), 0);
			toggles++;
		}
		msleep(200);
		done = true;
		for (i = 0; i < SA_THREADS; i++)
			done &= completion_done(&ctx[i].done);
	}
	for (i = 0; i < SA_THREADS; i++) {
		wait_for_completion(&ctx[i].done);
		KUNIT_EXPECT_EQ(test, atomic_read(&ctx[i].bad), 0);
	}
	KUNIT_EXPECT_GT(test, toggles, 0);
	spanalloc_debug_counts(&a1, &f1);
	KUNIT_EXPECT_EQ(test, a1 - a0, f1 - f0);
	spanalloc_debug_drain();
	KUNIT_EXPECT_EQ(test, sa_pages_in_use(), before);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

static struct kunit_case spanalloc_reclaim_cases[] = {
	KUNIT_CASE_SLOW(scavenger_returns_to_floor),
	KUNIT_CASE_SLOW(scavenger_steady_no_thrash),
	KUNIT_CASE(hotplug_offline_flushes_cache),
	KUNIT_CASE_SLOW(hotplug_during_workload),
	{}
};

static struct kunit_suite spanalloc_reclaim_suite = {
	.name = "spanalloc_reclaim",
	.init = sa_test_init,
	.exit = sa_test_exit,
	.test_cases = spanalloc_reclaim_cases,
};

/* ---- bad input: each is reported once and refused ---- */

static long sa_alloc64_on_cpu(void *arg)
{
	*(void **)arg = spanalloc_alloc(64, GFP_KERNEL);
	return 0;
}

static long sa_free_twice_on_cpu(void *arg)
{
	spanalloc_free(arg);
	spanalloc_free(arg);
	return 0;
}

static void bad_double_free_local(struct kunit *test)
{
	void *a = spanalloc_alloc(64, GFP_KERNEL), *b, *c;

	KUNIT_ASSERT_NOT_NULL(test, a);
	spanalloc_free(a);
	spanalloc_free(a);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
	/* Freed once: it is handed out once. */
	b = spanalloc_alloc(64, GFP_KERNEL);
	c = spanalloc_alloc(64, GFP_KERNEL);
	KUNIT_EXPECT_PTR_NE(test, b, c);
	spanalloc_free(b);
	spanalloc_free(c);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
}

static void bad_double_free_remote(struct kunit *test)
{
	void *a = NULL;
	int c0, c1;

	if (num_online_cpus() < 2)
		kunit_skip(test, "needs two online CPUs");
	cpus_read_lock();
	c0 = cpumask_first(cpu_online_mask);
	c1 = cpumask_next(c0, cpu_online_mask);
	work_on_cpu(c0, sa_alloc64_on_cpu, &a);
	KUNIT_EXPECT_NOT_NULL(test, a);
	/* c0's cache owns the span: both frees take the remote path. */
	if (a)
		work_on_cpu(c1, sa_free_twice_on_cpu, a);
	cpus_read_unlock();
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
}

/* Two threads on two CPUs free one object at the same moment. */
struct sa_race_ctx {
	void *p;			/* the object both free */
	atomic_t *ready;		/* threads at the start line */
	struct completion done;
};

static int sa_race_free_fn(void *arg)
{
	struct sa_race_ctx *r = arg;

	atomic_inc(r->ready);
	while (atomic_read(r->ready) < 2)
		cpu_relax();
	spanalloc_free(r->p);
	complete(&r->done);
	return 0;
}

#define SA_RACE_ROUNDS	16

/*
 * A large (64 KiB, from the page heap) and a huge (2 MiB, straight from the
 * page allocator) object, each freed by two CPUs at once, many times: one
 * free claims it (sa_free_full()'s cmpxchg of the state), the other is
 * reported, whichever way it loses (the claim, a free span, pages no longer
 * spanalloc's), and every page comes back once.
 */
static void bad_double_free_large_race(struct kunit *test)
{
	static const size_t sizes[] = { 64 << 10, 2 << 20 };
	struct task_struct *t[2];
	struct sa_race_ctx r[2];
	unsigned int round, k;
	int cpu[2], errors;
	atomic_t ready;
	long before;

	if (num_online_cpus() < 2)
		kunit_skip(test, "needs two online CPUs");
	cpu[0] = cpumask_first(cpu_online_mask);
	cpu[1] = cpumask_next(cpu[0], cpu_online_mask);
	before = sa_pages_in_use();
	for (round = 0; round < 2 * SA_RACE_ROUNDS; round++) {
		void *p = spanalloc_alloc(sizes[round % 2], GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, p);
		atomic_set(&ready, 0);
		for (k = 0; k < 2; k++) {
			r[k].p = p;
			r[k].ready = &ready;
			init_completion(&r[k].done);
			t[k] = kthread_create(sa_race_free_fn, &r[k], "sa_race/%u", k);
			if (IS_ERR(t[k]))
				break;
			kthread_bind(t[k], cpu[k]);
		}
		if (k < 2) {
			/* Never woken: its function never runs. */
			if (k)
				kthread_stop(t[0]);
			spanalloc_free(p);
			KUNIT_FAIL(test, "kthread_create failed");
			return;
		}
		for (k = 0; k < 2; k++)
			wake_up_process(t[k]);
		for (k = 0; k < 2; k++)
			wait_for_completion(&r[k].done);
		errors = sa_test_errors;
		KUNIT_ASSERT_EQ_MSG(test, errors, round + 1, "round %u, %zu bytes", round,
				    sizes[round % 2]);
	}
	KUNIT_EXPECT_EQ(test, sa_pages_in_use(), before);
}

struct sa_remote_job {
	struct spanalloc_cache *cache;	/* where the objects come from */
	void **p;			/* the objects */
	unsigned int n;			/* how many */
};

static long sa_remote_alloc(void *arg)
{
	struct sa_remote_job *j = arg;
	unsigned int i;

	for (i = 0; i < j->n; i++)
		j->p[i] = spanalloc_cache_alloc(j->cache, GFP_KERNEL);
	return 0;
}

static long sa_remote_free(void *arg)
{
	struct sa_remote_job *j = arg;
	unsigned int i;

	for (i = 0; i < j->n; i++)
		spanalloc_cache_free(j->cache, j->p[i]);
	/* Both kinds of span: no CPU's (the first), another CPU's (the last). */
	spanalloc_cache_free(j->cache, j->p[0]);
	spanalloc_cache_free(j->cache, j->p[j->n - 1]);
	return 0;
}

/*
 * Frees on a CPU that owns none of the spans go through its batch: each is
 * marked at once (a double free is caught at once), the batch is folded in
 * under the central lock, and every span comes back: destroying the cache
 * then finds no live object to report.
 */
static void remote_frees_batched(struct kunit *test)
{
	struct sa_remote_job j = { .n = (SA_RETIRED + 5) * 64 + 7 };
	struct spanalloc_ptr_info info;
	unsigned int i;
	long before;
	int c0, c1;

	sa_test_plain_slots(test);

	if (num_online_cpus() < 2)
		kunit_skip(test, "needs two online CPUs");
	j.p = kunit_kcalloc(test, j.n, sizeof(*j.p), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, j.p);
	j.cache = spanalloc_cache_create("sa_test_remote", 64, 0, 0, NULL);
	KUNIT_ASSERT_NOT_NULL(test, j.cache);
	spanalloc_debug_drain();
	before = sa_pages_in_use();
	cpus_read_lock();
	c0 = cpumask_first(cpu_online_mask);
	c1 = cpumask_next(c0, cpu_online_mask);
	work_on_cpu(c0, sa_remote_alloc, &j);
	for (i = 0; i < j.n; i++)
		KUNIT_ASSERT_NOT_NULL(test, j.p[i]);
	/*
	 * 64 objects a span: c0 owns the last one and the SA_RETIRED before
	 * it, no CPU the others.
	 */
	KUNIT_ASSERT_EQ(test, spanalloc_debug_lookup(j.p[0], &info), 0);
	KUNIT_EXPECT_EQ(test, info.nelems, 64U);
	work_on_cpu(c1, sa_remote_free, &j);
	cpus_read_unlock();
	KUNIT_EXPECT_EQ(test, sa_test_errors, 2);
	for (i = 0; i < j.n; i++) {
		if (!spanalloc_debug_lookup(j.p[i], &info))
			KUNIT_EXPECT_FALSE(test, info.live);
	}
	spanalloc_debug_drain();
	KUNIT_EXPECT_EQ(test, sa_pages_in_use(), before);
	spanalloc_cache_destroy(j.cache);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 2);
}

/* How many of the spans at @bases are in use as small spans. */
static unsigned int sa_spans_held(const unsigned long *bases, unsigned int nr)
{
	struct spanalloc_ptr_info info;
	unsigned int k, held = 0;

	for (k = 0; k < nr; k++)
		held += !spanalloc_debug_lookup((void *)bases[k], &info) &&
			info.state == SA_SPAN_SMALL && info.base == bases[k];
	return held;
}

/*
 * A CPU keeps the spans it filled (retired, SA_RETIRED of them): frees into
 * them are local and leave them with it, even empty, until a drain; a double
 * free into one is still caught; a refill takes one back (once a quarter of
 * it is free) before the central list. Spans filled before those went to
 * the central list and, emptied by batched frees, to the page heap.
 */
static void retired_spans_stay_local(struct kunit *test)
{
	const unsigned int nspans = SA_RETIRED + 3, per = 64;
	unsigned int n = nspans * per;
	unsigned long bases[SA_RETIRED + 3];
	struct spanalloc_ptr_info info;
	struct spanalloc_cache *c;
	unsigned int i, k, mine;
	unsigned int scav[3];
	long before;
	void **p;

	sa_test_plain_slots(test);

	p = kunit_kcalloc(test, n, sizeof(*p), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	/* No periodic trim meanwhile: the scavenger waits an hour. */
	spanalloc_debug_scavenger(0, 10, 2, scav);
	spanalloc_debug_scavenger(3600 * MSEC_PER_SEC, scav[1], scav[2], NULL);
	c = spanalloc_cache_create("sa_test_retire", 64, 0, 0, NULL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	spanalloc_debug_drain();
	before = sa_pages_in_use();
	/* One CPU: its current span, then the ones it retired. */
	migrate_disable();
	for (i = 0; i < n; i++) {
		p[i] = spanalloc_cache_alloc(c, GFP_KERNEL);
		if (!p[i])
			break;
	}
	KUNIT_EXPECT_EQ(test, i, n);
	n = i;
	KUNIT_ASSERT_EQ(test, n, nspans * per);
	for (k = 0; k < nspans; k++) {
		KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup(p[k * per], &info), 0);
		KUNIT_EXPECT_EQ(test, info.nelems, per);
		KUNIT_EXPECT_EQ(test, info.npages, 1U);
		bases[k] = info.base;
	}
	KUNIT_EXPECT_EQ(test, sa_spans_held(bases, nspans), nspans);
	/* Span nspans - 2 is retired: a double free into it is refused. */
	spanalloc_cache_free(c, p[(nspans - 2) * per]);
	spanalloc_cache_free(c, p[(nspans - 2) * per]);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
	p[(nspans - 2) * per] = NULL;
	for (i = 0; i < n; i++)
		spanalloc_cache_free(c, p[i]);
	/* The first spans went back (their batch is applied at 32 frees). */
	KUNIT_EXPECT_EQ(test, sa_spans_held(bases, nspans), SA_RETIRED + 1);
	KUNIT_EXPECT_EQ(test, sa_spans_held(bases + nspans - SA_RETIRED - 1, SA_RETIRED + 1),
			SA_RETIRED + 1);
	/* Allocating them again takes no span from anywhere else. */
	for (i = 0; i < (SA_RETIRED + 1) * per; i++) {
		p[i] = spanalloc_cache_alloc(c, GFP_KERNEL);
		if (!p[i])
			break;
	}
	n = i;
	KUNIT_EXPECT_EQ(test, n, (SA_RETIRED + 1) * per);
	for (i = 0, mine = 0; i < n; i++) {
		if (spanalloc_debug_lookup(p[i], &info))
			continue;
		for (k = nspans - SA_RETIRED - 1; k < nspans; k++)
			mine += info.base == bases[k];
	}
	KUNIT_EXPECT_EQ(test, mine, n);
	KUNIT_EXPECT_EQ(test, sa_spans_held(bases, nspans), SA_RETIRED + 1);
	for (i = 0; i < n; i++)
		spanalloc_cache_free(c, p[i]);
	/*
	 * The scavenger's trim: the first check sees the pool was busy, the
	 * second that it was not since, and gives the retired spans back; the
	 * span it allocates from stays.
	 */
	spanalloc_debug_trim_idle();
	KUNIT_EXPECT_EQ(test, sa_spans_held(bases, nspans), SA_RETIRED + 1);
	spanalloc_debug_trim_idle();
	KUNIT_EXPECT_EQ(test, sa_spans_held(bases, nspans), 1U);
	migrate_enable();
	spanalloc_debug_drain();
	KUNIT_EXPECT_EQ(test, sa_pages_in_use(), before);
	spanalloc_cache_destroy(c);
	spanalloc_debug_scavenger(scav[0], scav[1], scav[2], NULL);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
}

static void bad_double_free_in_bulk(struct kunit *test)
{
	void *p[8], *lost;

	KUNIT_ASSERT_EQ(test, spanalloc_alloc_bulk(96, GFP_KERNEL, 8, p), 8);
	lost = p[3];
	p[3] = p[2];
	spanalloc_free_bulk(8, p);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
	spanalloc_free(lost);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
}

static void bad_free_foreign_pointers(struct kunit *test)
{
	void *large = spanalloc_alloc(40 << 10, GFP_KERNEL);
	void *small = spanalloc_alloc(2048, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, large);
	KUNIT_ASSERT_NOT_NULL(test, small);
	spanalloc_free((void *)0x100);			/* the NULL page */
	spanalloc_free((void *)0x4bad1dea5eed0000UL);	/* a random address */
	spanalloc_free((char *)large + PAGE_SIZE);	/* inside a large object */
	spanalloc_free((char *)small + 1);		/* inside a small object */
	KUNIT_EXPECT_EQ(test, sa_test_errors, 4);
	spanalloc_free(large);
	spanalloc_free(large);				/* now a free span */
	KUNIT_EXPECT_EQ(test, sa_test_errors, 5);
	spanalloc_free(small);
	KUNIT_EXPECT_EQ(test, spanalloc_usable_size((char *)small + 8), (size_t)0);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 6);
}

/* A pointer past a span's last object, into its tail: never an object. */
static void bad_free_span_tail(struct kunit *test)
{
	struct spanalloc_ptr_info info;
	unsigned long tail;
	unsigned int n, i;
	void *p, **objs;
	bool same;

	p = spanalloc_alloc(48, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_EQ(test, spanalloc_debug_lookup(p, &info), 0);
	tail = info.base + (unsigned long)info.nelems * info.size;
	/* 4096 / 48: 85 objects and 16 bytes of tail. */
	KUNIT_ASSERT_LT(test, tail, info.base + info.npages * PAGE_SIZE);
	spanalloc_free((void *)tail);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
	KUNIT_EXPECT_EQ(test, spanalloc_usable_size((void *)tail), (size_t)0);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 2);
	KUNIT_ASSERT_EQ(test, spanalloc_debug_lookup((void *)tail, &info), 0);
	KUNIT_EXPECT_FALSE(test, info.live);
	/* The span's accounting is intact: no object is ever handed out there. */
	n = 2 * info.nelems;
	objs = kunit_kcalloc(test, n, sizeof(*objs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	for (i = 0; i < n; i++) {
		objs[i] = spanalloc_alloc(48, GFP_KERNEL);
		KUNIT_EXPECT_NOT_NULL(test, objs[i]);
		KUNIT_EXPECT_PTR_NE(test, objs[i], (void *)tail);
	}
	for (i = 0; i < n; i++)
		spanalloc_free(objs[i]);
	spanalloc_free(p);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 2);

	/*
	 * In a bulk free, amid objects of this CPU's span (a run freed in one
	 * section): refused alone, the objects around it freed. The two
	 * objects are taken from one span (the first again if the span filled
	 * between them), so that the tail pointer breaks a run.
	 */
	migrate_disable();
	objs[0] = spanalloc_alloc(48, GFP_KERNEL);
	objs[2] = spanalloc_alloc(48, GFP_KERNEL);
	if (objs[0] && objs[2] && !spanalloc_debug_lookup(objs[2], &info) &&
	    (unsigned long)objs[0] - info.base >= info.npages * PAGE_SIZE) {
		spanalloc_free(objs[0]);
		objs[0] = spanalloc_alloc(48, GFP_KERNEL);
	}
	same = objs[0] && objs[2] && !spanalloc_debug_lookup(objs[0], &info) &&
	       (unsigned long)objs[2] - info.base < info.npages * PAGE_SIZE;
	if (same) {
		objs[1] = (void *)(info.base + (unsigned long)info.nelems * info.size);
		spanalloc_free_bulk(3, objs);
	}
	migrate_enable();
	KUNIT_ASSERT_TRUE(test, same);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 3);
	for (i = 0; i < 3; i += 2) {
		KUNIT_ASSERT_EQ(test, spanalloc_debug_lookup(objs[i], &info), 0);
		KUNIT_EXPECT_FALSE(test, info.live);
	}
}

static void bad_use_destroyed_cache(struct kunit *test)
{
	struct spanalloc_cache *c = spanalloc_cache_create("sa_test_dead", 48, 0, 0, NULL);
	void *p[2];

	KUNIT_ASSERT_NOT_NULL(test, c);
	spanalloc_cache_destroy(c);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
	KUNIT_EXPECT_NULL(test, spanalloc_cache_alloc(c, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, spanalloc_cache_alloc_bulk(c, GFP_KERNEL, 2, p), 0);
	spanalloc_cache_free(c, p);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 3);
	/* One report each, whatever the array holds; destroyed twice, refused. */
	spanalloc_cache_free_bulk(c, 2, p);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 4);
	spanalloc_cache_destroy(c);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 5);

	/*
	 * Destroyed with a live object: kept, the object still valid, but no
	 * allocation, on this CPU either, whose cache held a span before.
	 */
	c = spanalloc_cache_create("sa_test_dead_live", 48, 0, 0, NULL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	migrate_disable();
	p[0] = spanalloc_cache_alloc(c, GFP_KERNEL);
	spanalloc_cache_destroy(c);
	p[1] = p[0] ? spanalloc_cache_alloc(c, GFP_KERNEL) : NULL;
	migrate_enable();
	KUNIT_ASSERT_NOT_NULL(test, p[0]);
	KUNIT_EXPECT_NULL(test, p[1]);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 7);
	spanalloc_cache_free(c, p[0]);
	spanalloc_cache_destroy(c);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 7);
	KUNIT_EXPECT_NULL(test, spanalloc_cache_alloc(c, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, sa_test_errors, 8);
}

static void bad_bulk_counts(struct kunit *test)
{
	void *p[4];

	KUNIT_EXPECT_EQ(test, spanalloc_alloc_bulk(64, GFP_KERNEL, 0, p), 0);
	KUNIT_EXPECT_EQ(test, spanalloc_alloc_bulk(64, GFP_KERNEL, SIZE_MAX, p), 0);
	KUNIT_EXPECT_EQ(test, spanalloc_alloc_bulk(64, GFP_KERNEL, 4, NULL), 0);
	spanalloc_free_bulk(0, p);
	spanalloc_free_bulk(SIZE_MAX, p);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 5);
	/* Sizes whose arithmetic would overflow are refused like any too large. */
	KUNIT_EXPECT_NULL(test, spanalloc_alloc(SIZE_MAX - 7, GFP_KERNEL));
	KUNIT_EXPECT_NULL(test, spanalloc_realloc(NULL, SIZE_MAX, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, sa_test_errors, 7);
}

/* What bad_nmi_context's NMI does, and what it got. */
struct sa_nmi_job {
	struct spanalloc_cache *c;
	void *big, *other, *own;		/* freed in the NMI */
	void *fresh, *large, *own2, *objs[4];	/* allocated in it */
	int n;					/* bulk allocation's result */
	atomic_t armed;				/* 1: the next NMI on @cpu is ours */
	int cpu;				/* the CPU it is sent to */
	bool ran;
};

static struct sa_nmi_job *sa_nmi_job;

static int sa_test_nmi(unsigned int cmd, struct pt_regs *regs)
{
	struct sa_nmi_job *j = READ_ONCE(sa_nmi_job);

	if (!j || j->cpu != smp_processor_id() || atomic_cmpxchg(&j->armed, 1, 0) != 1)
		return NMI_DONE;
	j->fresh = spanalloc_cache_alloc(j->c, GFP_ATOMIC);
	j->n = spanalloc_cache_alloc_bulk(j->c, GFP_ATOMIC, ARRAY_SIZE(j->objs), j->objs);
	j->large = spanalloc_alloc(100 << 10, GFP_ATOMIC);
	spanalloc_free(j->big);
	spanalloc_cache_free(j->c, j->other);
	/* This CPU's own span: the fast paths, unless a runtime hook is on. */
	spanalloc_free(j->own);
	j->own2 = spanalloc_alloc(32, GFP_ATOMIC);
	WRITE_ONCE(j->ran, true);
	return NMI_HANDLED;
}

/*
 * max_duration at its top: the kernel reports an NMI handler that ran over a
 * millisecond (a longer one than its longest yet), by the wall clock, which
 * under TCG with KASAN is the emulator's time, not the handler's.
 */
static struct nmiaction sa_test_nmi_action = {
	.list = LIST_HEAD_INIT(sa_test_nmi_action.list),
	.handler = sa_test_nmi,
	.max_duration = U64_MAX,
	.name = "sa_test",
};

/*
 * Calls in a real NMI, which this CPU sends itself (an NMI_LOCAL handler,
 * the way the kernel's nmi_selftest sends one): what the fast paths serve
 * without a lock is served; a refill, a bulk call, a large object, a free to
 * a span this CPU does not own and a large free are reported and refused,
 * the objects kept (freed again after). With KASAN or kmemleak built in, a
 * fast free is refused too (kmemleak takes a lock); with a runtime hook on,
 * every call.
 */
static void bad_nmi_context(struct kunit *test)
{
	struct sa_nmi_job *j = kunit_kzalloc(test, sizeof(*j), GFP_KERNEL);
	struct spanalloc_ptr_info info;
	bool hooked, free_hooks;
	unsigned int i;
	int errors;

	KUNIT_ASSERT_NOT_NULL(test, j);
	j->c = spanalloc_cache_create("sa_test_nmi", 64, 0, 0, NULL);
	KUNIT_ASSERT_NOT_NULL(test, j->c);
	KUNIT_ASSERT_EQ(test, __register_nmi_handler(NMI_LOCAL, &sa_test_nmi_action), 0);
	WRITE_ONCE(sa_nmi_job, j);
	migrate_disable();
	j->big = spanalloc_alloc(100 << 10, GFP_KERNEL);
	j->other = spanalloc_cache_alloc(j->c, GFP_KERNEL);
	/* No CPU owns @other's span now, and this CPU has no span of @c. */
	spanalloc_debug_drain();
	j->own = spanalloc_alloc(32, GFP_KERNEL);
	hooked = spanalloc_debug_hooked();
	free_hooks = hooked || IS_ENABLED(CONFIG_KASAN_GENERIC) ||
		     IS_ENABLED(CONFIG_DEBUG_KMEMLEAK);

	/* Not send_IPI_self(): x2APIC's self IPI has no NMI delivery mode. */
	j->cpu = smp_processor_id();
	atomic_set(&j->armed, 1);
	apic->send_IPI_mask(cpumask_of(j->cpu), NMI_VECTOR);
	for (i = 0; i < 1000 && !READ_ONCE(j->ran); i++)
		usleep_range(10, 20);
	migrate_enable();
	WRITE_ONCE(sa_nmi_job, NULL);
	unregister_nmi_handler(NMI_LOCAL, "sa_test");
	KUNIT_ASSERT_TRUE_MSG(test, READ_ONCE(j->ran), "the NMI never came");

	errors = 5 + free_hooks + hooked;
	KUNIT_EXPECT_NULL(test, j->fresh);
	KUNIT_EXPECT_EQ(test, j->n, 0);
	KUNIT_EXPECT_NULL(test, j->large);
	KUNIT_EXPECT_EQ(test, sa_test_errors, errors);
	/* The refused frees kept their objects. */
	KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup(j->big, &info), 0);
	KUNIT_EXPECT_TRUE(test, info.live);
	KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup(j->other, &info), 0);
	KUNIT_EXPECT_TRUE(test, info.live);
	if (hooked)
		KUNIT_EXPECT_NULL(test, j->own2);
	else if (free_hooks)
		KUNIT_EXPECT_TRUE(test, j->own2 && j->own2 != j->own);
	else
		KUNIT_EXPECT_PTR_EQ(test, j->own2, j->own);
	if (free_hooks) {
		/* Refused: still allocated. */
		KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup(j->own, &info), 0);
		KUNIT_EXPECT_TRUE(test, info.live);
		spanalloc_free(j->own);
	}
	spanalloc_free(j->big);
	spanalloc_cache_free(j->c, j->other);
	spanalloc_free(j->own2);
	spanalloc_cache_destroy(j->c);
	KUNIT_EXPECT_EQ(test, sa_test_errors, errors);
}

/*
 * A sleeping gfp in atomic context is reported and refused before anything
 * sleeps: on every call with CONFIG_DEBUG_ATOMIC_SLEEP (where might_sleep()
 * would warn), else wherever spanalloc could sleep: a refill (here a new
 * cache's first allocation, single or bulk) and a large object.
 */
static void bad_gfp_sleeping_in_atomic(struct kunit *test)
{
	struct spanalloc_cache *c = spanalloc_cache_create("sa_test_atomic", 64, 0, 0, NULL);
	void *p, *objs[4];
	int errors = 0, n;

	KUNIT_ASSERT_NOT_NULL(test, c);
	preempt_disable();
	p = spanalloc_cache_alloc(c, GFP_KERNEL);
	preempt_enable();
	KUNIT_EXPECT_NULL(test, p);
	KUNIT_EXPECT_EQ(test, sa_test_errors, ++errors);
	/* A bulk allocation too: all or nothing, nothing taken. */
	preempt_disable();
	n = spanalloc_cache_alloc_bulk(c, GFP_KERNEL, ARRAY_SIZE(objs), objs);
	preempt_enable();
	KUNIT_EXPECT_EQ(test, n, 0);
	KUNIT_EXPECT_EQ(test, sa_test_errors, ++errors);
	if (IS_ENABLED(CONFIG_DEBUG_ATOMIC_SLEEP)) {
		/* Even where the fast path has an object. */
		p = spanalloc_alloc(64, GFP_KERNEL);
		KUNIT_EXPECT_NOT_NULL(test, p);
		preempt_disable();
		KUNIT_EXPECT_NULL(test, spanalloc_alloc(64, GFP_KERNEL));
		KUNIT_EXPECT_NULL(test, spanalloc_cache_alloc(c, GFP_KERNEL));
		preempt_enable();
		spanalloc_free(p);
		errors += 2;
		KUNIT_EXPECT_EQ(test, sa_test_errors, errors);
	}
	local_irq_disable();
	p = spanalloc_alloc(100 << 10, GFP_KERNEL);
	local_irq_enable();
	KUNIT_EXPECT_NULL(test, p);
	KUNIT_EXPECT_EQ(test, sa_test_errors, ++errors);
	/* The same in atomic context with GFP_ATOMIC is fine. */
	preempt_disable();
	p = spanalloc_alloc(64, GFP_ATOMIC);
	preempt_enable();
	KUNIT_EXPECT_NOT_NULL(test, p);
	spanalloc_free(p);
	preempt_disable();
	p = spanalloc_cache_alloc(c, GFP_ATOMIC);
	preempt_enable();
	KUNIT_EXPECT_NOT_NULL(test, p);
	spanalloc_cache_free(c, p);
	KUNIT_EXPECT_EQ(test, sa_test_errors, errors);
	spanalloc_cache_destroy(c);
}

static void bad_gfp_zero_with_ctor(struct kunit *test)
{
	struct spanalloc_cache *c = spanalloc_cache_create("sa_test_zctor", 24, 0, 0,
							   sa_test_ctor);
	u8 *p;

	KUNIT_ASSERT_NOT_NULL(test, c);
	p = spanalloc_cache_alloc(c, GFP_KERNEL | __GFP_ZERO);
	KUNIT_ASSERT_NOT_NULL(test, p);
	/* The constructed state is kept, as SLUB does. */
	KUNIT_EXPECT_EQ(test, p[0], 0xc7);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
	spanalloc_cache_free(c, p);
	spanalloc_cache_destroy(c);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
}

static void bad_gfp_zone_flags(struct kunit *test)
{
	void *p = spanalloc_alloc(64, GFP_KERNEL | __GFP_DMA32);
	void *q = spanalloc_alloc(64, GFP_KERNEL | __GFP_HIGHMEM);

	KUNIT_EXPECT_NOT_NULL(test, p);
	KUNIT_EXPECT_NOT_NULL(test, q);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 2);
	spanalloc_free(p);
	spanalloc_free(q);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 2);
}

static void bad_cache_create_args(struct kunit *test)
{
	KUNIT_EXPECT_NULL(test, spanalloc_cache_create(NULL, 64, 0, 0, NULL));
	KUNIT_EXPECT_NULL(test, spanalloc_cache_create("", 64, 0, 0, NULL));
	KUNIT_EXPECT_NULL(test, spanalloc_cache_create("sa_test_bad", 0, 0, 0, NULL));
	KUNIT_EXPECT_NULL(test, spanalloc_cache_create("sa_test_bad", SPANALLOC_MAX_SMALL + 1,
						       0, 0, NULL));
	KUNIT_EXPECT_NULL(test, spanalloc_cache_create("sa_test_bad", 64, 3, 0, NULL));
	KUNIT_EXPECT_NULL(test, spanalloc_cache_create("sa_test_bad", 64, 2 * PAGE_SIZE,
						       0, NULL));
	KUNIT_EXPECT_NULL(test, spanalloc_cache_create("sa_test_bad", 64, 0, 0x80, NULL));
	KUNIT_EXPECT_EQ(test, sa_test_errors, 7);
}

/* ---- faults on the refill path ---- */

static void fault_refill_ten_percent(struct kunit *test)
{
	struct fault_attr *attr = spanalloc_debug_fail_refill();
	struct spanalloc_cache *c = spanalloc_cache_create("sa_test_fault", 4096, 0, 0, NULL);
	unsigned int i, n = 400, got = 0, failed = 0, bulk_ok = 0, bulk_failed = 0;
	unsigned long a0, f0, a1, f1;
	void **p = kunit_kcalloc(test, n + 16 * 20, sizeof(void *), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, c);
	KUNIT_ASSERT_NOT_NULL(test, p);
	spanalloc_debug_counts(&a0, &f0);
	attr->probability = 10;
	attr->interval = 1;
	atomic_set(&attr->times, -1);
	attr->verbose = 0;
	for (i = 0; i < n; i++) {
		/* 4 KiB objects: four per span, so every fourth allocation refills. */
		p[got] = spanalloc_cache_alloc(c, GFP_KERNEL | __GFP_NOWARN);
		if (p[got])
			got++;
		else
			failed++;
	}
	for (i = 0; i < 20; i++) {
		if (spanalloc_cache_alloc_bulk(c, GFP_KERNEL | __GFP_NOWARN, 16, p + got) == 16) {
			got += 16;
			bulk_ok++;
		} else {
			bulk_failed++;
		}
	}
	attr->probability = 0;
	spanalloc_debug_counts(&a1, &f1);
	/* What failed holds nothing: in use is exactly what was kept. */
	KUNIT_EXPECT_EQ(test, (a1 - f1) - (a0 - f0), (unsigned long)got);
	KUNIT_EXPECT_GT(test, failed, 0U);
	KUNIT_EXPECT_GT(test, got, n / 2);
	KUNIT_EXPECT_GT(test, bulk_failed, 0U);
	for (i = 0; i < got; i++) {
		memset(p[i], 0x11, 4096);
		spanalloc_cache_free(c, p[i]);
	}
	spanalloc_cache_destroy(c);
	spanalloc_debug_counts(&a1, &f1);
	KUNIT_EXPECT_EQ(test, a1 - f1, a0 - f0);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
	kunit_info(test, "%u of %u single allocations failed, %u of 20 bulk", failed, n,
		   bulk_failed);
}

/*
 * A double free racing with the owner's own free of an object can leave the
 * object's remote-free bit set while it is free (it cannot be told from a
 * free that lost the race: both are reported or taken). When the owner
 * folds the remote frees in, that bit must not count as a free: the span's
 * count of objects would fall one below its bitmap, and the span would be
 * given back with an object still live.
 */
static void bad_double_free_stray_remote_bit(struct kunit *test)
{
	struct spanalloc_cache *c = spanalloc_cache_create("sa_test_stray", 64, 0, 0, NULL);
	struct spanalloc_ptr_info info;
	void *x, *y, *p[64];
	unsigned int i, n = 0;

	KUNIT_ASSERT_NOT_NULL(test, c);
	migrate_disable();
	x = spanalloc_cache_alloc(c, GFP_KERNEL);
	y = spanalloc_cache_alloc(c, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, x);
	KUNIT_ASSERT_NOT_NULL(test, y);
	spanalloc_cache_free(c, x);
	spanalloc_debug_stray_remote_bit(x);
	/* Fill the span: its window runs out and the owner folds. */
	KUNIT_ASSERT_EQ(test, spanalloc_debug_lookup(y, &info), 0);
	for (i = 0; i < info.nelems; i++) {
		p[n] = spanalloc_cache_alloc(c, GFP_KERNEL);
		if (!p[n])
			break;
		n++;
	}
	KUNIT_ASSERT_EQ(test, spanalloc_debug_lookup(y, &info), 0);
	KUNIT_EXPECT_EQ(test, info.alloc_count, info.alloc_weight);
	while (n)
		spanalloc_cache_free(c, p[--n]);
	spanalloc_cache_free(c, y);
	migrate_enable();
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
	spanalloc_cache_destroy(c);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

static long sa_free_on_cpu(void *arg)
{
	spanalloc_free(arg);
	return 0;
}

/*
 * Objects 256-511 of a span (the 8 B class's only) have their bits in the
 * bitmaps' second line, at sa_bpos() of their index, and go through the full
 * paths: each way of allocating and freeing one must find its bits. A span of
 * 512 objects, taken in bulk in index order on this CPU: freed locally (into
 * the window, twice), remotely (twice), with a stray remote bit and a fold,
 * in bulk behind an object below 256 while another has a remote free
 * pending, after the span went back to the central list (the batch applied
 * there, twice), and in bulk again with one of them twice.
 */
static void high_objects_bits(struct kunit *test)
{
	struct spanalloc_ptr_info info = {};
	unsigned int i, k, n = SA_MAX_NELEMS;
	struct spanalloc_cache *c;
	void **p, **r, *q[2];
	int other;

	sa_test_plain_slots(test);
	if (num_online_cpus() < 2)
		kunit_skip(test, "needs two online CPUs");
	p = kunit_kcalloc(test, n, sizeof(*p), GFP_KERNEL);
	r = kunit_kcalloc(test, n + 1, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, r);
	c = spanalloc_cache_create("sa_test_high", 8, 0, 0, NULL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	cpus_read_lock();
	migrate_disable();
	other = cpumask_any_but(cpu_online_mask, smp_processor_id());
	if (spanalloc_cache_alloc_bulk(c, GFP_KERNEL, n, p) != n) {
		KUNIT_FAIL(test, "bulk allocation failed");
		goto out;
	}
	for (i = 0; i < n && p[i] == p[0] + 8 * i; i++)
		;
	KUNIT_EXPECT_EQ_MSG(test, i, n, "not one span in index order");
	KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup(p[0], &info), 0);
	KUNIT_EXPECT_EQ(test, info.nelems, n);
	if (i < n || info.nelems != n) {
		spanalloc_cache_free_bulk(c, n, p);
		goto out;
	}

	/* Into the window (its last word): the next allocation. */
	spanalloc_cache_free(c, p[500]);
	q[0] = spanalloc_cache_alloc(c, GFP_KERNEL);
	KUNIT_EXPECT_PTR_EQ(test, q[0], p[500]);
	/* Local and remote (the span is this CPU's): once, then refused. */
	spanalloc_cache_free(c, p[300]);
	spanalloc_cache_free(c, p[300]);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
	work_on_cpu(other, sa_free_twice_on_cpu, p[400]);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 2);
	for (i = 255; i < n; i++) {
		KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup(p[i], &info), 0);
		KUNIT_EXPECT_EQ_MSG(test, info.live, i != 300 && i != 400, "object %u", i);
	}
	KUNIT_EXPECT_EQ(test, spanalloc_usable_size(p[511]), (size_t)8);
	/* A racing double free's stray bit on the free object 300. */
	spanalloc_debug_stray_remote_bit(p[300]);
	/* The owner folds: object 400 is free again, 300 too, each once. */
	q[0] = spanalloc_cache_alloc(c, GFP_KERNEL);
	q[1] = spanalloc_cache_alloc(c, GFP_KERNEL);
	KUNIT_EXPECT_PTR_EQ(test, q[0], p[300]);
	KUNIT_EXPECT_PTR_EQ(test, q[1], p[400]);
	KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup(p[0], &info), 0);
	KUNIT_EXPECT_EQ(test, info.alloc_count, n);
	KUNIT_EXPECT_EQ(test, info.alloc_weight, n);

	/*
	 * Object 45 freed remotely (pending), 301 locally: a bulk free of 0
	 * and 301 frees 0 and refuses 301, and 45's remote free stays (its
	 * remote bit is bit 301 of the bitmaps, where a run that took 301
	 * for an object of its own would look).
	 */
	work_on_cpu(other, sa_free_on_cpu, p[45]);
	spanalloc_cache_free(c, p[301]);
	r[0] = p[0];
	r[1] = p[301];
	spanalloc_cache_free_bulk(c, 2, r);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 3);
	KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup(p[45], &info), 0);
	KUNIT_EXPECT_FALSE(test, info.live);
	/* The drains take the hotplug lock and visit every CPU. */
	migrate_enable();
	cpus_read_unlock();

	/* The span goes back to the central list: frees there, batched. */
	spanalloc_debug_drain();
	for (i = 260; i < 270; i++)
		spanalloc_cache_free(c, p[i]);
	spanalloc_debug_drain();
	spanalloc_cache_free(c, p[260]);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 4);
	for (i = 255; i < 275; i++) {
		KUNIT_EXPECT_EQ(test, spanalloc_debug_lookup(p[i], &info), 0);
		KUNIT_EXPECT_EQ_MSG(test, info.live, i < 260 || i >= 270, "object %u", i);
	}
	KUNIT_EXPECT_EQ(test, info.alloc_count, n - 13);
	KUNIT_EXPECT_EQ(test, info.alloc_weight, n - 13);

	/* The rest in bulk, and 300 twice. */
	for (i = 0, k = 0; i < n; i++)
		if (i && i != 45 && i != 301 && (i < 260 || i >= 270))
			r[k++] = p[i];
	r[k++] = p[300];
	spanalloc_cache_free_bulk(c, k, r);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 5);
	spanalloc_debug_drain();
	for (i = 0; i < n; i++)
		if (!spanalloc_debug_lookup(p[i], &info))
			KUNIT_EXPECT_FALSE_MSG(test, info.live, "object %u", i);
	spanalloc_cache_destroy(c);
	return;
out:
	migrate_enable();
	cpus_read_unlock();
	spanalloc_cache_destroy(c);
}

static void fault_refill_sweep(struct kunit *test)
{
	unsigned long a0, f0, a1, f1;
	unsigned int nth;
	void *p[8];

	/* 20000 B objects, one per span: the nth new span is the nth object. */
	for (nth = 1; nth <= 10; nth++) {
		struct spanalloc_cache *c = spanalloc_cache_create("sa_test_sweep", 20000, 0, 0,
								   NULL);
		int ret;

		KUNIT_ASSERT_NOT_NULL(test, c);
		spanalloc_debug_counts(&a0, &f0);
		spanalloc_debug_fail_new_span(nth);
		ret = spanalloc_cache_alloc_bulk(c, GFP_KERNEL | __GFP_NOWARN, 8, p);
		spanalloc_debug_fail_new_span(0);
		KUNIT_EXPECT_EQ_MSG(test, ret, nth <= 8 ? 0 : 8, "refill %u failed", nth);
		if (ret)
			spanalloc_cache_free_bulk(c, 8, p);
		spanalloc_debug_counts(&a1, &f1);
		KUNIT_EXPECT_EQ(test, a1 - f1, a0 - f0);
		spanalloc_cache_destroy(c);
	}
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

static struct kunit_case spanalloc_robust_cases[] = {
	KUNIT_CASE(bad_double_free_local),
	KUNIT_CASE(bad_double_free_remote),
	KUNIT_CASE(bad_double_free_large_race),
	KUNIT_CASE(bad_double_free_in_bulk),
	KUNIT_CASE(bad_double_free_stray_remote_bit),
	KUNIT_CASE(high_objects_bits),
	KUNIT_CASE(bad_free_foreign_pointers),
	KUNIT_CASE(bad_free_span_tail),
	KUNIT_CASE(remote_frees_batched),
	KUNIT_CASE(retired_spans_stay_local),
	KUNIT_CASE(bad_use_destroyed_cache),
	KUNIT_CASE(bad_bulk_counts),
	KUNIT_CASE(bad_gfp_sleeping_in_atomic),
	KUNIT_CASE(bad_nmi_context),
	KUNIT_CASE(bad_gfp_zero_with_ctor),
	KUNIT_CASE(bad_gfp_zone_flags),
	KUNIT_CASE(bad_cache_create_args),
	KUNIT_CASE(fault_refill_ten_percent),
	KUNIT_CASE(fault_refill_sweep),
	{}
};

static struct kunit_suite spanalloc_robust_suite = {
	.name = "spanalloc_robust",
	.init = sa_test_init,
	.exit = sa_test_exit,
	.test_cases = spanalloc_robust_cases,
};

/* ---- stress: threads, cross-CPU frees, interrupts, hotplug ---- */

static unsigned long stress_ops = 1000000;
module_param(stress_ops, ulong, 0444);
MODULE_PARM_DESC(stress_ops, "Operations of the stress test, all threads together");

#define SA_STRESS_LIVE	512	/* objects a thread holds at most */
#define SA_MAILBOX	64	/* objects handed to the next thread */

struct sa_stress;

struct sa_stress_thread {
	struct sa_stress *st;
	struct completion done;
	spinlock_t lock;		/* protects mailbox and nr_mail */
	void *mailbox[SA_MAILBOX];	/* objects to free, from another thread */
	unsigned int nr_mail;
	unsigned long ops, handed, frees, cross_cpu;
	int id;
	int cpu;			/* where it ran last; racy hint */
};

struct sa_stress {
	struct spanalloc_cache *cache;
	struct sa_stress_thread *t;
	int nr;
	unsigned long ops_each;
	atomic_t bad;
};

/* The byte an object of @size at @p is filled with. */
static u8 sa_stress_pattern(const void *p, u32 size)
{
	return (u8)(((unsigned long)p >> 4) ^ size);
}

/*
 * An object holds its size, the size's complement and the CPU it came from,
 * then its pattern byte up to its last byte.
 */
static void *sa_stress_alloc(struct sa_stress *st, struct rnd_state *rnd)
{
	u32 r = prandom_u32_state(rnd);
	u32 size = r & 1 ? 192 : 16 + (r >> 8) % ((r & 14) ? 1024 : 32768);
	u32 *p = size == 192 ? spanalloc_cache_alloc(st->cache, GFP_KERNEL)
			     : spanalloc_alloc(size, GFP_KERNEL);

	if (!p)
		return NULL;
	p[0] = size;
	p[1] = ~size;
	p[2] = raw_smp_processor_id();
	memset(p + 3, sa_stress_pattern(p, size), size - 3 * sizeof(u32));
	return p;
}

static void sa_stress_free(struct sa_stress *st, u32 *p, unsigned long *cross_cpu)
{
	if (p[1] != ~p[0] ||
	    memchr_inv(p + 3, sa_stress_pattern(p, p[0]), p[0] - 3 * sizeof(u32)))
		atomic_inc(&st->bad);
	if (cross_cpu && p[2] != raw_smp_processor_id())
		(*cross_cpu)++;
	if (p[0] == 192)
		spanalloc_cache_free(st->cache, p);
	else
		spanalloc_free(p);
}

static int sa_stress_fn(void *arg)
{
	struct sa_stress_thread *me = arg;
	struct sa_stress *st = me->st;
	struct sa_stress_thread *next;
	void **live = kcalloc(SA_STRESS_LIVE, sizeof(void *), GFP_KERNEL);
	void *mail[SA_MAILBOX];
	struct rnd_state rnd;
	unsigned int i, n;

	prandom_seed_state(&rnd, 77 + me->id);
	while (live && me->ops < st->ops_each) {
		unsigned int slot = prandom_u32_state(&rnd) % SA_STRESS_LIVE;

		if (!live[slot]) {
			live[slot] = sa_stress_alloc(st, &rnd);
			if (!live[slot])
				atomic_inc(&st->bad);
		} else if (!(prandom_u32_state(&rnd) % 4)) {
			sa_stress_free(st, live[slot], &me->cross_cpu);
			live[slot] = NULL;
			me->frees++;
		} else {
			/* Hand it to a thread running on another CPU, if one is. */
			int cpu = raw_smp_processor_id(), j;

			WRITE_ONCE(me->cpu, cpu);
			next = &st->t[(me->id + 1) % st->nr];
			for (j = 1; j < st->nr; j++) {
				struct sa_stress_thread *t = &st->t[(me->id + j) % st->nr];

				if (READ_ONCE(t->cpu) != cpu) {
					next = t;
					break;
				}
			}
			spin_lock(&next->lock);
			if (next->nr_mail < SA_MAILBOX) {
				next->mailbox[next->nr_mail++] = live[slot];
				live[slot] = NULL;
				me->handed++;
			}
			spin_unlock(&next->lock);
		}
		me->ops++;
		if (!(me->ops % 64)) {
			spin_lock(&me->lock);
			n = me->nr_mail;
			memcpy(mail, me->mailbox, n * sizeof(void *));
			me->nr_mail = 0;
			spin_unlock(&me->lock);
			for (i = 0; i < n; i++)
				sa_stress_free(st, mail[i], &me->cross_cpu);
			me->frees += n;
			cond_resched();
		}
	}
	for (i = 0; live && i < SA_STRESS_LIVE; i++)
		if (live[i])
			sa_stress_free(st, live[i], NULL);
	if (!live)
		atomic_inc(&st->bad);
	kfree(live);
	complete(&me->done);
	return 0;
}

static void stress_threads_irqs_hotplug(struct kunit *test)
{
	struct sa_irq_ctx *irq = kunit_kzalloc(test, sizeof(*irq), GFP_KERNEL);
	struct sa_stress st = {};
	unsigned long a0, f0, a1, f1, ops = 0, cross = 0, frees = 0, handed = 0;
	int i, hp_cpu = -1, toggles = 0, rounds = 0;
	long before;
	bool done;

	KUNIT_ASSERT_NOT_NULL(test, irq);
	st.nr = 2 * num_online_cpus();
	st.ops_each = stress_ops / st.nr;
	st.t = kunit_kcalloc(test, st.nr, sizeof(*st.t), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, st.t);
	st.cache = spanalloc_cache_create("sa_test_stress", 192, 0, 0, NULL);
	KUNIT_ASSERT_NOT_NULL(test, st.cache);
	if (num_online_cpus() > 1)
		hp_cpu = cpumask_last(cpu_online_mask);
	spanalloc_debug_drain();
	before = sa_pages_in_use();
	spanalloc_debug_counts(&a0, &f0);
	/* Interrupt context allocates and frees all along. */
	sa_irq_start(irq);

	for (i = 0; i < st.nr; i++) {
		st.t[i].st = &st;
		st.t[i].id = i;
		spin_lock_init(&st.t[i].lock);
		init_completion(&st.t[i].done);
	}
	for (i = 0; i < st.nr; i++) {
		struct task_struct *t;

		t = kthread_run(sa_stress_fn, &st.t[i], "sa_stress/%d", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	}
	do {
		/* A CPU goes away and comes back while they run, now and then. */
		if (hp_cpu >= 0 && !(rounds++ % 20) && toggles < 5 && !remove_cpu(hp_cpu)) {
			msleep(30);
			KUNIT_EXPECT_EQ(test, add_cpu(hp_cpu), 0);
			toggles++;
		}
		msleep(50);
		done = true;
		for (i = 0; i < st.nr; i++)
			done &= completion_done(&st.t[i].done);
	} while (!done);
	sa_irq_stop(irq);

	for (i = 0; i < st.nr; i++) {
		ops += st.t[i].ops;
		cross += st.t[i].cross_cpu;
		frees += st.t[i].frees;
		handed += st.t[i].handed;
		/* Leftover mail: objects still handed over, freed here. */
		while (st.t[i].nr_mail)
			sa_stress_free(&st, st.t[i].mailbox[--st.t[i].nr_mail], NULL);
	}
	KUNIT_EXPECT_EQ(test, atomic_read(&st.bad), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&irq->bad), 0);
	KUNIT_EXPECT_GE(test, ops, stress_ops - st.nr);
	/* At least 30% of the frees happened on another CPU than the allocation. */
	if (hp_cpu >= 0)
		KUNIT_EXPECT_GE(test, cross * 10, frees * 3);
	if (hp_cpu >= 0)
		KUNIT_EXPECT_GT(test, toggles, 0);
	spanalloc_debug_counts(&a1, &f1);
	KUNIT_EXPECT_EQ(test, a1 - a0, f1 - f0);
	spanalloc_cache_destroy(st.cache);
	spanalloc_debug_drain();
	KUNIT_EXPECT_EQ(test, sa_pages_in_use(), before);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
	kunit_info(test, "%d threads, %lu ops, %lu frees, %lu handed over, %lu on another CPU, %d hotplug toggles",
		   st.nr, ops, frees, handed, cross, toggles);
}

static struct kunit_case spanalloc_stress_cases[] = {
	KUNIT_CASE_SLOW(stress_threads_irqs_hotplug),
	{}
};

static struct kunit_suite spanalloc_stress_suite = {
	.name = "spanalloc_stress",
	.init = sa_test_init,
	.exit = sa_test_exit,
	.test_cases = spanalloc_stress_cases,
};

/* ---- debug mode ---- */

/*
 * debug=1's size API (sa_debug_size_class()): each size's slot holds it and
 * the metadata, is the smallest that does, and keeps a power of two
 * naturally aligned up to a page (spans start on a page), as without debug.
 */
static void debug_all_size_classes(struct kunit *test)
{
	unsigned int size, cls, align, k;

	for (size = 1; size <= SA_MAX_SMALL - SA_DBG_META; size++) {
		cls = sa_debug_size_class(size);
		KUNIT_ASSERT_TRUE_MSG(test, cls >= 1 && cls < SA_NUM_CLASSES, "size %u", size);
		KUNIT_EXPECT_GE_MSG(test, sa_classes[cls].size, size + SA_DBG_META,
				    "size %u", size);
		if (!is_power_of_2(size)) {
			KUNIT_EXPECT_EQ_MSG(test, cls, sa_size_to_class(size + SA_DBG_META),
					    "size %u", size);
			continue;
		}
		align = min_t(unsigned int, size, PAGE_SIZE);
		KUNIT_EXPECT_EQ_MSG(test, sa_classes[cls].size % align, 0U, "size %u", size);
		for (k = sa_size_to_class(size + SA_DBG_META); k < cls; k++)
			KUNIT_EXPECT_NE_MSG(test, sa_classes[k].size % align, 0U,
					    "size %u: class %u would do", size, k);
	}
}

static void debug_write_past_end(struct kunit *test)
{
	struct spanalloc_cache *c = spanalloc_cache_create("sa_test_dbg_end", 40, 0,
							   SPANALLOC_DEBUG, NULL);
	struct spanalloc_ptr_info info;
	u8 *p, *q[8];
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, c);
	p = spanalloc_cache_alloc(c, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_EQ(test, spanalloc_debug_lookup(p, &info), 0);
	/* The caller's object is 40 bytes; the red zone follows. */
	kasan_disable_current();
	p[40] = 0;
	kasan_enable_current();
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
	spanalloc_cache_free(c, p);
	/* Reported once, at the free. */
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
	/* Its span is quarantined: nothing comes from it any more. */
	for (i = 0; i < ARRAY_SIZE(q); i++) {
		q[i] = spanalloc_cache_alloc(c, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, q[i]);
		KUNIT_EXPECT_FALSE(test, (unsigned long)q[i] >= info.base &&
				   (unsigned long)q[i] < info.base + info.npages * PAGE_SIZE);
	}
	for (i = 0; i < ARRAY_SIZE(q); i++)
		spanalloc_cache_free(c, q[i]);
	spanalloc_cache_destroy(c);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
}

/*
 * Past the size requested, short of the slot's usable bytes: a named debug
 * cache's 100 B object has 104, and (debug=1) a size API object of 20 B 32.
 * A write there is reported at the free, once, as slab_debug's kmalloc red
 * zone does; it stayed in the slot, so the span is not quarantined (the
 * object comes back). spanalloc_realloc() in place moves the red zone to the
 * new size, and zeroes the bytes gained; moving, it copies only the bytes
 * requested. After spanalloc_usable_size(), every byte is the caller's.
 */
static void debug_write_past_size(struct kunit *test)
{
	struct spanalloc_cache *c = spanalloc_cache_create("sa_test_dbg_req", 100, 0,
							   SPANALLOC_DEBUG, NULL);
	unsigned int i;
	long e;
	u8 *p, *q;

	KUNIT_ASSERT_NOT_NULL(test, c);
	migrate_disable();
	for (i = 0; i < (sa_debug_all ? 2 : 1); i++) {
		struct spanalloc_cache *k = i ? NULL : c;
		unsigned int req = i ? 20 : 100;

		p = sa_test_alloc(k, req, GFP_KERNEL);
		KUNIT_EXPECT_NOT_NULL(test, p);
		if (!p)
			break;
		kasan_disable_current();
		p[req] = 0;
		kasan_enable_current();
		sa_test_free(k, p);
		KUNIT_EXPECT_EQ(test, sa_test_errors, i + 1);
		/* Not quarantined: the cache's only object comes back, clean. */
		q = sa_test_alloc(k, req, GFP_KERNEL);
		KUNIT_EXPECT_NOT_NULL(test, q);
		if (k)
			KUNIT_EXPECT_PTR_EQ(test, q, p);
		sa_test_free(k, q);
		KUNIT_EXPECT_EQ(test, sa_test_errors, i + 1);
	}
	migrate_enable();
	e = sa_test_errors;
	/* Resized in place: the bytes gained come zeroed, the red zone follows. */
	p = spanalloc_cache_alloc(c, GFP_KERNEL);
	KUNIT_EXPECT_NOT_NULL(test, p);
	if (p) {
		memset(p, 0x3c, 100);
		q = spanalloc_realloc(p, 102, GFP_KERNEL | __GFP_ZERO);
		KUNIT_EXPECT_PTR_EQ(test, q, p);
		KUNIT_EXPECT_TRUE(test, p[99] == 0x3c && !p[100] && !p[101]);
		kasan_disable_current();
		p[102] = 0;
		kasan_enable_current();
		spanalloc_free(p);
		KUNIT_EXPECT_EQ(test, sa_test_errors, e + 1);
	}
	/* Moved (debug=1): the old object's red bytes are not copied. */
	if (sa_debug_all) {
		p = spanalloc_alloc(20, GFP_KERNEL);
		KUNIT_EXPECT_NOT_NULL(test, p);
		if (p) {
			memset(p, 0x3c, 20);
			q = spanalloc_realloc(p, 64, GFP_KERNEL | __GFP_ZERO);
			KUNIT_EXPECT_NOT_NULL(test, q);
			if (q) {
				KUNIT_EXPECT_TRUE(test, q[19] == 0x3c);
				KUNIT_EXPECT_NULL(test, memchr_inv(q + 20, 0, 44));
				spanalloc_free(q);
			}
		}
	}
	/* After spanalloc_usable_size(), the slack is the caller's. */
	p = spanalloc_cache_alloc(c, GFP_KERNEL);
	KUNIT_EXPECT_NOT_NULL(test, p);
	if (p) {
		KUNIT_EXPECT_EQ(test, spanalloc_usable_size(p), (size_t)104);
		memset(p, 0x3c, 104);
		spanalloc_cache_free(c, p);
	}
	spanalloc_cache_destroy(c);
	KUNIT_EXPECT_EQ(test, sa_test_errors, e + 1);
}

/*
 * The largest debug caches: SPANALLOC_MAX_SMALL bytes, and a page-aligned
 * object that alignment makes as large, each with its metadata past the
 * largest class (a span of one object), as SLUB's debug caches take them.
 * Every byte is the caller's; past the first, the red zone follows.
 */
static void debug_largest_objects(struct kunit *test)
{
	static const struct { unsigned int size, align; } t[] = {
		{ SA_MAX_SMALL, 0 }, { SA_MAX_SMALL - PAGE_SIZE + 8, PAGE_SIZE },
	};
	struct spanalloc_cache *c;
	unsigned int i;
	u8 *p;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		c = spanalloc_cache_create("sa_test_dbg_big", t[i].size, t[i].align,
					   SPANALLOC_DEBUG, NULL);
		KUNIT_ASSERT_NOT_NULL_MSG(test, c, "size %u", t[i].size);
		p = spanalloc_cache_alloc(c, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_EQ(test, (unsigned long)p % max(t[i].align, 8U), 0UL);
		memset(p, 0x3c, t[i].size);
		spanalloc_cache_free(c, p);
		KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
		spanalloc_cache_destroy(c);
	}
	c = spanalloc_cache_create("sa_test_dbg_big", SA_MAX_SMALL, 0, SPANALLOC_DEBUG, NULL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	p = spanalloc_cache_alloc(c, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	kasan_disable_current();
	p[SA_MAX_SMALL] = 0;
	kasan_enable_current();
	spanalloc_cache_free(c, p);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
	spanalloc_cache_destroy(c);
}

static void debug_write_after_free(struct kunit *test)
{
	struct spanalloc_cache *c = spanalloc_cache_create("sa_test_dbg_uaf", 40, 0,
							   SPANALLOC_DEBUG, NULL);
	unsigned int i, n = 3 * 64;
	void **q = kunit_kcalloc(test, n, sizeof(void *), GFP_KERNEL);
	u8 *p;

	KUNIT_ASSERT_NOT_NULL(test, c);
	KUNIT_ASSERT_NOT_NULL(test, q);
	p = spanalloc_cache_alloc(c, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	spanalloc_cache_free(c, p);
	kasan_disable_current();
	p[3] = 0x42;
	kasan_enable_current();
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
	/* Enough allocations to come back to it: reported there, once. */
	for (i = 0; i < n; i++) {
		q[i] = spanalloc_cache_alloc(c, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, q[i]);
		KUNIT_EXPECT_PTR_NE(test, (void *)q[i], (void *)p);
	}
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
	for (i = 0; i < n; i++)
		spanalloc_cache_free(c, q[i]);
	spanalloc_cache_destroy(c);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 1);
}

static void debug_clean_use_reports_nothing(struct kunit *test)
{
	struct spanalloc_cache *c = spanalloc_cache_create("sa_test_dbg_ok", 100, 0,
							   SPANALLOC_DEBUG, NULL);
	unsigned int i, round;
	u8 *p[50];

	KUNIT_ASSERT_NOT_NULL(test, c);
	for (round = 0; round < 4; round++) {
		for (i = 0; i < ARRAY_SIZE(p); i++) {
			p[i] = spanalloc_cache_alloc(c, GFP_KERNEL | __GFP_ZERO);
			KUNIT_ASSERT_NOT_NULL(test, p[i]);
			KUNIT_EXPECT_FALSE(test, memchr_inv(p[i], 0, 100));
			memset(p[i], 0xee, 100);
		}
		for (i = 0; i < ARRAY_SIZE(p); i++)
			spanalloc_cache_free(c, p[i]);
	}
	spanalloc_cache_destroy(c);
	KUNIT_EXPECT_EQ(test, sa_test_errors, 0);
}

/* ---- the kernel's sanitizers see spanalloc's objects ---- */

static void kasan_poisons_free_objects(struct kunit *test)
{
	u8 *p;

	sa_test_plain_slots(test);

	if (!IS_ENABLED(CONFIG_KASAN_GENERIC))
		kunit_skip(test, "needs generic KASAN");
	p = spanalloc_alloc(50, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	/* Live: the 50 bytes asked for are accessible, the rest of the 64 not. */
	KUNIT_EXPECT_EQ(test, sa_kasan_shadow(p), 0);
	KUNIT_EXPECT_EQ(test, sa_kasan_shadow(p + 48), 2);
	KUNIT_EXPECT_NE(test, sa_kasan_shadow(p + 56), 0);
	/* After ksize-like use, all 64. */
	KUNIT_EXPECT_EQ(test, spanalloc_usable_size(p), (size_t)64);
	KUNIT_EXPECT_EQ(test, sa_kasan_shadow(p + 56), 0);
	spanalloc_free(p);
	/* Free: poisoned, so a use after free is a KASAN report. */
	KUNIT_EXPECT_EQ(test, sa_kasan_shadow(p), 0xFB);
	KUNIT_EXPECT_EQ(test, sa_kasan_shadow(p + 56), 0xFB);
}

static struct kunit_case spanalloc_debug_cases[] = {
	KUNIT_CASE(debug_all_size_classes),
	KUNIT_CASE(debug_write_past_end),
	KUNIT_CASE(debug_largest_objects),
	KUNIT_CASE(debug_write_past_size),
	KUNIT_CASE(debug_write_after_free),
	KUNIT_CASE(debug_clean_use_reports_nothing),
	KUNIT_CASE(kasan_poisons_free_objects),
	{}
};

static struct kunit_suite spanalloc_debug_suite = {
	.name = "spanalloc_debug",
	.init = sa_test_init,
	.exit = sa_test_exit,
	.test_cases = spanalloc_debug_cases,
};

static struct kunit_case spanalloc_core_cases[] = {
	KUNIT_CASE(sizeclass_table_invariants),
	KUNIT_CASE_PARAM_ATTR(class_fill_spans, sa_class_gen_params, {.speed = KUNIT_SPEED_SLOW}),
	KUNIT_CASE(heap_split_and_coalesce),
	KUNIT_CASE(heap_chunk_fallback),
	KUNIT_CASE(heap_lookup_foreign),
	KUNIT_CASE(percpu_alloc_here_free_there),
	KUNIT_CASE(percpu_irq_and_softirq),
	KUNIT_CASE(percpu_hardirq_uses_reserve),
	KUNIT_CASE(percpu_parallel_threads),
	KUNIT_CASE(api_zero_size),
	KUNIT_CASE(api_too_large),
	KUNIT_CASE(api_large_objects),
	KUNIT_CASE(api_pow2_alignment),
	KUNIT_CASE(api_size_lookup),
	KUNIT_CASE(api_realloc),
	KUNIT_CASE(api_bulk_all_or_nothing),
	KUNIT_CASE(api_bulk_batched),
	KUNIT_CASE(api_cache_ctor_and_align),
	KUNIT_CASE(api_cache_geometry),
	KUNIT_CASE(api_cache_destroy_live),
	KUNIT_CASE(api_node_placement),
	KUNIT_CASE(api_gfp_zero_after_dirty_reuse),
	KUNIT_CASE(api_zero_each_kind),
	KUNIT_CASE(api_init_on_free),
	KUNIT_CASE(api_cross_cache_free_refused),
	{}
};

static int spanalloc_core_suite_init(struct kunit_suite *suite)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sa_class_params); i++)
		sa_class_params[i] = i + 1;
	return 0;
}

static struct kunit_suite spanalloc_core_suite = {
	.name = "spanalloc_core",
	.suite_init = spanalloc_core_suite_init,
	.init = sa_test_init,
	.exit = sa_test_exit,
	.test_cases = spanalloc_core_cases,
};

kunit_test_suites(&spanalloc_core_suite, &spanalloc_reclaim_suite, &spanalloc_robust_suite,
		  &spanalloc_stress_suite, &spanalloc_debug_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for the spanalloc allocator core");
