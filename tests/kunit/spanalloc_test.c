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
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/prandom.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/timer.h>
#include <linux/vmalloc.h>

#include <spanalloc.h>
#include "internal.h"

MODULE_IMPORT_NS(SPANALLOC_INTERNAL);

static int sa_test_errors;
static struct kunit_resource sa_test_resource;

static int sa_test_init(struct kunit *test)
{
	sa_test_errors = 0;
	kunit_add_named_resource(test, NULL, NULL, &sa_test_resource,
				 "spanalloc_errors", &sa_test_errors);
	return 0;
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
	unsigned int n = 2 * k->nelems + 1, i, j;
	unsigned long align = is_power_of_2(k->size) ? min_t(unsigned long, k->size, PAGE_SIZE) : 8;
	struct spanalloc_ptr_info info;
	long before;
	void **p, **sorted;

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
	/* Whole spans were filled: at least three spans, all distinct objects. */
	KUNIT_EXPECT_GE(test, sa_pages_in_use() - before, 3L * k->npages);
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

static void heap_split_and_coalesce(struct kunit *test)
{
	struct spanalloc_heap_stats st0, st;
	struct spanalloc_ptr_info info;
	void *a, *b, *big;

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

	spanalloc_free(a);
	KUNIT_ASSERT_EQ(test, spanalloc_debug_lookup(a, &info), 0);
	KUNIT_EXPECT_EQ(test, info.state, (int)SA_SPAN_FREE);
	spanalloc_free(b);
	/* Coalesced: the whole chunk is one free span again, 1 MiB fits. */
	big = spanalloc_alloc_node(SA_CHUNK_PAGES * PAGE_SIZE, GFP_KERNEL, numa_mem_id());
	KUNIT_ASSERT_NOT_NULL(test, big);
	sa_total_heap(&st);
	KUNIT_EXPECT_EQ(test, st.nr_chunks, st0.nr_chunks + 1);
	KUNIT_EXPECT_EQ(test, st.pages_free, st0.pages_free);
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
	unsigned int old;
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
	KUNIT_EXPECT_EQ(test, st.nr_chunks_order[2], st0.nr_chunks_order[2] + 1);
	KUNIT_EXPECT_EQ(test, st.nr_chunks_order[4], st0.nr_chunks_order[4] + 1);
	KUNIT_EXPECT_EQ(test, st.nr_chunks_order[SA_CHUNK_ORDER],
			st0.nr_chunks_order[SA_CHUNK_ORDER]);
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

static void percpu_irq_and_softirq(struct kunit *test)
{
	struct sa_irq_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	unsigned long a0, f0, a1, f1, deadline;
	unsigned int i = 0;

	KUNIT_ASSERT_NOT_NULL(test, ctx);
	/* Hardirq allocations use memory spanalloc holds: make sure it has some. */
	for (i = 0; i < 6; i++)
		spanalloc_free(spanalloc_alloc(16 << i, GFP_KERNEL));
	spanalloc_debug_counts(&a0, &f0);
	hrtimer_init(&ctx->hrt, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	ctx->hrt.function = sa_hrtimer_fn;
	timer_setup(&ctx->tl, sa_timer_fn, 0);
	hrtimer_start(&ctx->hrt, ns_to_ktime(50 * NSEC_PER_USEC), HRTIMER_MODE_REL_HARD);
	mod_timer(&ctx->tl, jiffies + 1);
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
	hrtimer_cancel(&ctx->hrt);
	timer_shutdown_sync(&ctx->tl);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->hard_rounds), SA_IRQ_ROUNDS);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->soft_rounds), SA_IRQ_ROUNDS);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->bad), 0);
	spanalloc_debug_counts(&a1, &f1);
	KUNIT_EXPECT_EQ(test, a1 - a0, f1 - f0);
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
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		u8 *p = spanalloc_alloc(sizes[i], GFP_KERNEL | __GFP_ZERO);

		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_TRUE(test, PAGE_ALIGNED(p));
		KUNIT_EXPECT_GE(test, spanalloc_usable_size(p), sizes[i]);
		KUNIT_EXPECT_EQ(test, p[0] | p[sizes[i] - 1], 0);
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

static void api_realloc(struct kunit *test)
{
	u8 *p, *q;
	unsigned int i;

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

	/* 4 KiB objects: one per span, so each object needs a new span. */
	cache = spanalloc_cache_create("sa_test_bulk", 4096, 0, 0, NULL);
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

static atomic_t sa_ctor_calls;

static void sa_test_ctor(void *obj)
{
	atomic_inc(&sa_ctor_calls);
	memset(obj, 0xc7, 24);
}

static void api_cache_ctor_and_align(struct kunit *test)
{
	struct spanalloc_cache *a, *b, *h;
	struct spanalloc_ptr_info info;
	u8 *p[100];
	unsigned int i;
	int calls;

	atomic_set(&sa_ctor_calls, 0);
	a = spanalloc_cache_create("sa_test_ctor", 24, 0, 0, sa_test_ctor);
	b = spanalloc_cache_create("sa_test_align", 40, 64, 0, NULL);
	h = spanalloc_cache_create("sa_test_hw", 100, 0, SPANALLOC_HWCACHE_ALIGN, NULL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_ASSERT_NOT_NULL(test, h);
	for (i = 0; i < ARRAY_SIZE(p); i++) {
		p[i] = spanalloc_cache_alloc(a, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p[i]);
		KUNIT_EXPECT_EQ(test, p[i][0], 0xc7);
		KUNIT_EXPECT_EQ(test, p[i][23], 0xc7);
		/* Never another pool's object. */
		KUNIT_ASSERT_EQ(test, spanalloc_debug_lookup(p[i], &info), 0);
		KUNIT_EXPECT_EQ(test, info.size, 24U);
	}
	calls = atomic_read(&sa_ctor_calls);
	/* Once per object, when its span was carved: whole spans of 170. */
	KUNIT_EXPECT_EQ(test, calls % 170, 0);
	KUNIT_EXPECT_GE(test, calls, 170);
	for (i = 0; i < ARRAY_SIZE(p); i++)
		spanalloc_cache_free(a, p[i]);
	for (i = 0; i < ARRAY_SIZE(p); i++) {
		p[i] = spanalloc_cache_alloc(a, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p[i]);
	}
	KUNIT_EXPECT_EQ(test, atomic_read(&sa_ctor_calls), calls);
	for (i = 0; i < ARRAY_SIZE(p); i++)
		spanalloc_cache_free(a, p[i]);

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

static struct kunit_case spanalloc_core_cases[] = {
	KUNIT_CASE(sizeclass_table_invariants),
	KUNIT_CASE_PARAM(class_fill_spans, sa_class_gen_params),
	KUNIT_CASE(heap_split_and_coalesce),
	KUNIT_CASE(heap_chunk_fallback),
	KUNIT_CASE(heap_lookup_foreign),
	KUNIT_CASE(percpu_alloc_here_free_there),
	KUNIT_CASE(percpu_irq_and_softirq),
	KUNIT_CASE(percpu_parallel_threads),
	KUNIT_CASE(api_zero_size),
	KUNIT_CASE(api_too_large),
	KUNIT_CASE(api_large_objects),
	KUNIT_CASE(api_pow2_alignment),
	KUNIT_CASE(api_realloc),
	KUNIT_CASE(api_bulk_all_or_nothing),
	KUNIT_CASE(api_cache_ctor_and_align),
	KUNIT_CASE(api_cache_destroy_live),
	KUNIT_CASE(api_node_placement),
	KUNIT_CASE(api_gfp_zero_after_dirty_reuse),
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
	.test_cases = spanalloc_core_cases,
};
kunit_test_suite(spanalloc_core_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for the spanalloc allocator core");
