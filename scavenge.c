// SPDX-License-Identifier: GPL-2.0
/*
 * Giving memory back: the scavenger (Go's mgcscavenge.go) and the shrinker.
 * See span.c for the overview.
 *
 * The scavenger is a delayed work item. Every scavenge_interval_ms it first
 * trims idle per-CPU caches (sa_trim_idle(), spanmod.c), then it
 * compares, per NUMA node, the free pages of the page heap with a retention
 * goal: retain_percent of the pages in use, plus retain_floor_chunks whole
 * chunks so that a busy allocator does not give memory back only to ask for
 * it again. Above the goal, it returns free spans to the page allocator, the
 * span idle longest first, at most SA_SCAVENGE_BATCH pages per node and pass;
 * each span is taken under the heap lock and freed outside it.
 *
 * The shrinker answers memory pressure (and drop_caches): it gives back free
 * pages regardless of the goal, and schedules a drain of the per-CPU caches
 * so that the spans they hold can follow on the next pass.
 */
#include <linux/moduleparam.h>
#include <linux/seq_file.h>
#include <linux/shrinker.h>
#include <linux/workqueue.h>

#include "internal.h"

#define SA_SCAVENGE_BATCH	1024	/* pages per node and pass, at most */

static unsigned int scavenge_interval_ms = 1000;
module_param(scavenge_interval_ms, uint, 0644);
MODULE_PARM_DESC(scavenge_interval_ms, "Period of the scavenger in ms (default 1000)");

static unsigned int retain_percent = 10;
module_param(retain_percent, uint, 0644);
MODULE_PARM_DESC(retain_percent,
		 "Free pages kept, in percent of the pages in use (default 10)");

static unsigned int retain_floor_chunks = 2;
module_param(retain_floor_chunks, uint, 0644);
MODULE_PARM_DESC(retain_floor_chunks,
		 "Free chunks (1 MiB) always kept per NUMA node (default 2)");

static struct delayed_work sa_scavenge_work;
static struct work_struct sa_drain_work;
static struct shrinker *sa_shrinker;
static atomic_long_t sa_scavenge_passes = ATOMIC_LONG_INIT(0);
static atomic_long_t sa_shrink_pages = ATOMIC_LONG_INIT(0);

/* Free pages a node keeps: retain_percent of its pages in use, plus the floor. */
static unsigned long sa_goal(int node)
{
	struct spanalloc_heap_stats st;
	unsigned long used;

	sa_heap_read_stats(node, &st);
	used = st.pages_held - st.pages_free;
	return used * READ_ONCE(retain_percent) / 100 +
	       (unsigned long)READ_ONCE(retain_floor_chunks) * SA_CHUNK_PAGES;
}

/* One pass; true if some node is still above its goal. */
static bool sa_scavenge_pass(unsigned long batch)
{
	bool more = false;
	int node;

	for_each_node(node)
		more |= sa_heap_release(node, sa_goal(node), batch) >= batch;
	atomic_long_inc(&sa_scavenge_passes);
	return more;
}

static void sa_scavenge_fn(struct work_struct *work)
{
	unsigned long delay = msecs_to_jiffies(max(READ_ONCE(scavenge_interval_ms), 10U));

	/* Idle per-CPU caches first: what they give back may be free pages. */
	sa_trim_idle();
	/* Work left over: come back sooner, but still bounded per pass. */
	if (sa_scavenge_pass(SA_SCAVENGE_BATCH))
		delay = min(delay, HZ / 10 + 1UL);
	queue_delayed_work(system_unbound_wq, &sa_scavenge_work, delay);
}

static void sa_drain_fn(struct work_struct *work)
{
	sa_drain_all();
}

/**
 * sa_scavenge_all() - a full scavenge now: drain the per-CPU caches, give
 * back every free page above the goal, then the span descriptors no span
 * needs
 *
 * Context: process context, may sleep.
 */
void sa_scavenge_all(void)
{
	sa_drain_all();
	sa_scavenge_pass(ULONG_MAX);
	sa_heap_trim_meta();
}

static unsigned long sa_shrink_count(struct shrinker *s, struct shrink_control *sc)
{
	unsigned long free = sa_heap_free_pages();

	return free ? free : SHRINK_EMPTY;
}

static unsigned long sa_shrink_scan(struct shrinker *s, struct shrink_control *sc)
{
	unsigned long done = 0;
	int node;

	for_each_node(node) {
		if (done >= sc->nr_to_scan)
			break;
		done += sa_heap_release(node, 0, sc->nr_to_scan - done);
	}
	atomic_long_add(done, &sa_shrink_pages);
	/* Spans held by per-CPU caches come back on the next call. */
	schedule_work(&sa_drain_work);
	return done ? done : SHRINK_STOP;
}

/**
 * sa_scavenger_show() - the scavenger's lines in debugfs "stats"
 * @m: the seq_file
 */
void sa_scavenger_show(struct seq_file *m)
{
	unsigned long goal = 0;
	int node;

	for_each_node(node)
		goal += sa_goal(node);
	seq_printf(m, "scavenger_passes: %lu\n", atomic_long_read(&sa_scavenge_passes));
	seq_printf(m, "scavenger_goal_pages: %lu\n", goal);
	seq_printf(m, "shrinker_pages: %lu\n", atomic_long_read(&sa_shrink_pages));
}

/**
 * spanalloc_debug_scavenger() - set the scavenger's parameters, for tests
 * @interval_ms: new period, or 0 to keep it
 * @percent: new retain_percent
 * @floor_chunks: new retain_floor_chunks
 * @old: if not NULL, receives the old values in the same order
 *
 * Runs a pass at once with the new values and returns after it: a pass
 * queued before, under the old period, cannot run later in the caller's test.
 *
 * Context: process context, may sleep.
 */
void spanalloc_debug_scavenger(unsigned int interval_ms, unsigned int percent,
			       unsigned int floor_chunks, unsigned int old[3])
{
	if (old) {
		old[0] = READ_ONCE(scavenge_interval_ms);
		old[1] = READ_ONCE(retain_percent);
		old[2] = READ_ONCE(retain_floor_chunks);
	}
	if (interval_ms)
		WRITE_ONCE(scavenge_interval_ms, interval_ms);
	WRITE_ONCE(retain_percent, percent);
	WRITE_ONCE(retain_floor_chunks, floor_chunks);
	mod_delayed_work(system_unbound_wq, &sa_scavenge_work, 0);
	flush_delayed_work(&sa_scavenge_work);
}
EXPORT_SYMBOL_NS_GPL(spanalloc_debug_scavenger, SPANALLOC_INTERNAL);

/**
 * sa_scavenger_init() - start the scavenger and register the shrinker
 *
 * Return: 0 or -ENOMEM.
 */
int sa_scavenger_init(void)
{
	INIT_DELAYED_WORK(&sa_scavenge_work, sa_scavenge_fn);
	INIT_WORK(&sa_drain_work, sa_drain_fn);
	sa_shrinker = shrinker_alloc(0, "spanalloc");
	if (!sa_shrinker)
		return -ENOMEM;
	sa_shrinker->count_objects = sa_shrink_count;
	sa_shrinker->scan_objects = sa_shrink_scan;
	sa_shrinker->seeks = DEFAULT_SEEKS;
	shrinker_register(sa_shrinker);
	queue_delayed_work(system_unbound_wq, &sa_scavenge_work,
			   msecs_to_jiffies(READ_ONCE(scavenge_interval_ms)));
	return 0;
}

/**
 * sa_scavenger_exit() - stop the scavenger and the shrinker
 */
void sa_scavenger_exit(void)
{
	shrinker_free(sa_shrinker);
	cancel_delayed_work_sync(&sa_scavenge_work);
	cancel_work_sync(&sa_drain_work);
}
