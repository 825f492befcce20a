// SPDX-License-Identifier: GPL-2.0
/*
 * The view: /sys/kernel/debug/spanalloc. See span.c for the overview.
 *
 * Every count comes from per-CPU counters or per-list counts summed when a
 * file is read; nothing here adds work to the fast paths. When the system is
 * quiet the files reconcile exactly:
 *   objects_in_use == allocs - frees,
 *   pages_held == pages_in_spans + pages_free,
 *   the rows of "classes", "caches" and "heap" sum to their Total rows.
 * With CONFIG_DEBUG_FS=n the debugfs calls are stubs and this is a no-op.
 */
#include <linux/debugfs.h>
#include <linux/kstrtox.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>

#include "internal.h"

static struct dentry *sa_debugfs_root;

/* One pool's counters, summed over CPUs and nodes. */
struct sa_pool_sum {
	unsigned long stat[SA_NR_STATS];	/* enum sa_stat events */
	unsigned long partial, full, cached;	/* spans by where they are */
	unsigned long cpu_free;			/* free objects in cached spans */
};

/* Free objects in a span a CPU owns, or 0 for none: racy, a snapshot. */
static unsigned int sa_span_free_now(const struct sa_span *s)
{
	u16 n;

	if (!s)
		return 0;
	n = READ_ONCE(s->alloc_count);
	return s->nelems - min(n, s->nelems);
}

static void sa_pool_sum(struct sa_pool *pool, struct sa_pool_sum *ps)
{
	unsigned long flags;
	unsigned int i;
	int cpu, node;

	memset(ps, 0, sizeof(*ps));
	/* Descriptors are SLAB_TYPESAFE_BY_RCU: a stale pointer is a span. */
	rcu_read_lock();
	for_each_possible_cpu(cpu) {
		struct sa_pcpu *c = per_cpu_ptr(pool->pcpu, cpu);
		unsigned int r, nr = min(READ_ONCE(c->nr_retired), SA_RETIRED);

		for (i = 0; i < SA_NR_STATS; i++)
			ps->stat[i] += sa_pcpu_stat(c, i);
		/* Owner-private and racy: a snapshot is all debugfs promises. */
		ps->cpu_free += sa_span_free_now(sa_pcpu_span(c));
		for (r = 0; r < nr; r++)
			ps->cpu_free += sa_span_free_now(READ_ONCE(c->retired[r]));
	}
	rcu_read_unlock();
	for_each_node(node) {
		struct sa_central *c = pool->central[node];

		raw_spin_lock_irqsave(&c->lock, flags);
		ps->partial += c->nr_partial;
		ps->full += c->nr_full;
		ps->cached += c->nr_cached;
		raw_spin_unlock_irqrestore(&c->lock, flags);
	}
}

static unsigned long sa_inuse(const struct sa_pool_sum *ps)
{
	return ps->stat[SA_ALLOC] - ps->stat[SA_FREE];
}

static unsigned long sa_spans(const struct sa_pool_sum *ps)
{
	return ps->partial + ps->full + ps->cached;
}

/* Everything "stats" shows, summed. */
struct sa_totals {
	unsigned long allocs, frees, refills, flushes;
	unsigned long small_bytes, cpu_bytes, small_spans, small_pages;
	unsigned long large_allocs, large_frees, large_pages;
	struct spanalloc_heap_stats heap;
};

static void sa_add_pool(struct sa_totals *t, struct sa_pool *pool)
{
	struct sa_pool_sum ps;

	sa_pool_sum(pool, &ps);
	t->allocs += ps.stat[SA_ALLOC];
	t->frees += ps.stat[SA_FREE];
	t->refills += ps.stat[SA_REFILL];
	t->flushes += ps.stat[SA_FLUSH];
	t->small_bytes += sa_inuse(&ps) * pool->cls->size;
	t->cpu_bytes += ps.cpu_free * pool->cls->size;
	t->small_spans += sa_spans(&ps);
	t->small_pages += sa_spans(&ps) * pool->cls->npages;
}

static void sa_collect(struct sa_totals *t)
{
	struct spanalloc_heap_stats st;
	struct sa_pool *pool;
	unsigned int i;
	int cpu, node;

	memset(t, 0, sizeof(*t));
	mutex_lock(&sa_pools_mutex);
	for (pool = sa_pool_next(NULL); pool; pool = sa_pool_next(pool))
		sa_add_pool(t, pool);
	mutex_unlock(&sa_pools_mutex);
	for_each_possible_cpu(cpu) {
		struct sa_large_stats *l = per_cpu_ptr(&sa_large, cpu);

		t->large_allocs += READ_ONCE(l->allocs);
		t->large_frees += READ_ONCE(l->frees);
		t->large_pages += READ_ONCE(l->pages);
	}
	for_each_node(node) {
		sa_heap_read_stats(node, &st);
		t->heap.pages_held += st.pages_held + st.huge_pages;
		t->heap.pages_free += st.pages_free;
		t->heap.pages_returned += st.pages_returned;
		t->heap.nr_chunks += st.nr_chunks;
		t->heap.nr_free_spans += st.nr_free_spans;
		for (i = 0; i <= SA_CHUNK_ORDER; i++)
			t->heap.nr_chunks_order[i] += st.nr_chunks_order[i];
	}
}

static int sa_stats_show(struct seq_file *m, void *v)
{
	unsigned long allocs, frees, large;
	struct sa_totals t;
	unsigned int o;

	sa_collect(&t);
	allocs = t.allocs + t.large_allocs;
	frees = t.frees + t.large_frees;
	large = t.large_allocs - t.large_frees;
	seq_printf(m, "objects_in_use: %lu\n", allocs - frees);
	seq_printf(m, "bytes_in_use: %lu\n", t.small_bytes + t.large_pages * PAGE_SIZE);
	seq_printf(m, "bytes_in_cpu_caches: %lu\n", t.cpu_bytes);
	seq_printf(m, "spans_in_use: %lu\n", t.small_spans + large);
	seq_printf(m, "spans_free: %lu\n", t.heap.nr_free_spans);
	seq_printf(m, "pages_held: %lu\n", t.heap.pages_held);
	seq_printf(m, "pages_in_spans: %lu\n", t.small_pages + t.large_pages);
	seq_printf(m, "pages_free: %lu\n", t.heap.pages_free);
	seq_printf(m, "pages_returned: %lu\n", t.heap.pages_returned);
	seq_printf(m, "chunks: %lu\n", t.heap.nr_chunks);
	for (o = 0; o <= SA_CHUNK_ORDER; o++)
		seq_printf(m, "chunks_order_%u: %lu\n", o, t.heap.nr_chunks_order[o]);
	seq_printf(m, "large_objects: %lu\n", large);
	seq_printf(m, "large_bytes: %lu\n", t.large_pages * PAGE_SIZE);
	seq_printf(m, "allocs: %lu\n", allocs);
	seq_printf(m, "frees: %lu\n", frees);
	seq_printf(m, "refills: %lu\n", t.refills);
	seq_printf(m, "flushes: %lu\n", t.flushes);
	seq_printf(m, "errors: %lu\n", atomic_long_read(&sa_errors));
	sa_scavenger_show(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(sa_stats);

static int sa_classes_show(struct seq_file *m, void *v)
{
	unsigned long tot[8] = {};
	struct sa_pool_sum ps;
	unsigned int i;

	seq_printf(m, "%5s %6s %5s %4s %7s %7s %6s %9s %9s %12s %6s %11s %11s\n",
		   "class", "size", "pages", "objs", "partial", "full", "cached", "inuse",
		   "free", "bytes_inuse", "waste%", "allocs", "frees");
	for (i = 1; i < SA_NUM_CLASSES; i++) {
		const struct sa_class *k = &sa_classes[i];
		unsigned long spans, inuse, held, waste;

		sa_pool_sum(&sa_class_pools[i], &ps);
		spans = sa_spans(&ps);
		inuse = sa_inuse(&ps);
		held = spans * k->npages * PAGE_SIZE;
		waste = held ? 100 * (held - inuse * k->size) / held : 0;
		seq_printf(m, "%5u %6u %5u %4u %7lu %7lu %6lu %9lu %9lu %12lu %6lu %11lu %11lu\n",
			   i, k->size, k->npages, k->nelems, ps.partial, ps.full, ps.cached,
			   inuse, spans * k->nelems - inuse, inuse * k->size, waste,
			   ps.stat[SA_ALLOC], ps.stat[SA_FREE]);
		tot[0] += ps.partial;
		tot[1] += ps.full;
		tot[2] += ps.cached;
		tot[3] += inuse;
		tot[4] += spans * k->nelems - inuse;
		tot[5] += inuse * k->size;
		tot[6] += ps.stat[SA_ALLOC];
		tot[7] += ps.stat[SA_FREE];
	}
	seq_printf(m, "%5s %6s %5s %4s %7lu %7lu %6lu %9lu %9lu %12lu %6s %11lu %11lu\n",
		   "Total", "-", "-", "-", tot[0], tot[1], tot[2], tot[3], tot[4], tot[5],
		   "-", tot[6], tot[7]);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(sa_classes);

static int sa_caches_show(struct seq_file *m, void *v)
{
	unsigned long tot[4] = {};
	struct spanalloc_cache *cache;
	struct sa_pool_sum ps;

	seq_printf(m, "%-24s %6s %5s %4s %7s %5s %4s %9s %7s %11s %11s\n",
		   "name", "size", "align", "ctor", "objsize", "pages", "objs", "inuse", "spans",
		   "allocs", "frees");
	mutex_lock(&sa_pools_mutex);
	list_for_each_entry(cache, &sa_caches, list) {
		const struct sa_class *k = cache->pool.cls;

		sa_pool_sum(&cache->pool, &ps);
		seq_printf(m, "%-24s %6u %5u %4s %7u %5u %4u %9lu %7lu %11lu %11lu\n",
			   cache->name, cache->object_size, cache->align,
			   cache->pool.ctor ? "yes" : "no", k->size, k->npages, k->nelems,
			   sa_inuse(&ps), sa_spans(&ps), ps.stat[SA_ALLOC], ps.stat[SA_FREE]);
		tot[0] += sa_inuse(&ps);
		tot[1] += sa_spans(&ps);
		tot[2] += ps.stat[SA_ALLOC];
		tot[3] += ps.stat[SA_FREE];
	}
	mutex_unlock(&sa_pools_mutex);
	seq_printf(m, "%-24s %6s %5s %4s %7s %5s %4s %9lu %7lu %11lu %11lu\n",
		   "Total", "-", "-", "-", "-", "-", "-", tot[0], tot[1], tot[2], tot[3]);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(sa_caches);

static int sa_heap_show(struct seq_file *m, void *v)
{
	unsigned long tot[5] = {};
	struct spanalloc_heap_stats st;
	int node;

	seq_printf(m, "%5s %7s %9s %9s %9s %10s\n",
		   "node", "chunks", "held", "in_spans", "free", "returned");
	for_each_node(node) {
		unsigned long held;

		sa_heap_read_stats(node, &st);
		held = st.pages_held + st.huge_pages;
		seq_printf(m, "%5d %7lu %9lu %9lu %9lu %10lu\n", node, st.nr_chunks, held,
			   held - st.pages_free, st.pages_free, st.pages_returned);
		tot[0] += st.nr_chunks;
		tot[1] += held;
		tot[2] += held - st.pages_free;
		tot[3] += st.pages_free;
		tot[4] += st.pages_returned;
	}
	seq_printf(m, "%5s %7lu %9lu %9lu %9lu %10lu\n", "Total",
		   tot[0], tot[1], tot[2], tot[3], tot[4]);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(sa_heap);

static ssize_t sa_scavenge_write(struct file *file, const char __user *buf, size_t len,
				 loff_t *ppos)
{
	sa_scavenge_all();
	return len;
}

static const struct file_operations sa_scavenge_fops = {
	.owner = THIS_MODULE,
	.write = sa_scavenge_write,
	.llseek = noop_llseek,
};

/**
 * sa_debugfs_init() - create /sys/kernel/debug/spanalloc
 *
 * Failure is not an error: the allocator works without its view.
 */
void sa_debugfs_init(void)
{
	sa_debugfs_root = debugfs_create_dir("spanalloc", NULL);
	debugfs_create_file("stats", 0444, sa_debugfs_root, NULL, &sa_stats_fops);
	debugfs_create_file("classes", 0444, sa_debugfs_root, NULL, &sa_classes_fops);
	debugfs_create_file("caches", 0444, sa_debugfs_root, NULL, &sa_caches_fops);
	debugfs_create_file("heap", 0444, sa_debugfs_root, NULL, &sa_heap_fops);
	debugfs_create_file("scavenge", 0200, sa_debugfs_root, NULL, &sa_scavenge_fops);
	sa_fault_quiet(&sa_fail_refill);
	fault_create_debugfs_attr("fail_refill", sa_debugfs_root, &sa_fail_refill);
}

/**
 * sa_debugfs_exit() - remove /sys/kernel/debug/spanalloc
 */
void sa_debugfs_exit(void)
{
	debugfs_remove_recursive(sa_debugfs_root);
}
