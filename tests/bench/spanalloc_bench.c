// SPDX-License-Identifier: GPL-2.0
/*
 * spanalloc_bench: spanalloc against SLUB, in the same boot.
 *
 * scripts/bench.sh (`make bench`) loads it after spanalloc.ko in Debian's
 * stock kernel under QEMU, once per mode; the `make test` VM loads it with
 * mode=verify. The "mode" parameter:
 *
 *   icount  QEMU -icount shift=0 on one vCPU: a guest nanosecond is one
 *           guest instruction. Scenarios 1, 2, 3, 6 and 7.
 *   wall    multi-threaded TCG on every vCPU: wall-clock nanoseconds, as
 *           TCG distorts them. Scenarios 4 and 5.
 *   verify  no timing: every scenario once, small, every object checked.
 *
 * Every mode starts with the verification pass (sab_verify_all()): each
 * object is checked for alignment, for zeroes when init_on_alloc is on, for
 * spanalloc_usable_size(), and written with a pattern that is checked before
 * it is freed. Timed loops never touch the objects.
 *
 * Timing. A short run (a few hundred thousand instructions) is repeated
 * "runs" times and the minimum over the runs no timer tick fell in is kept:
 * in icount mode a tick makes guest time jump by a whole tick. A trace
 * replay cannot be repeated, so it is timed in chunks of SAB_CHUNK events;
 * a chunk during which jiffies moved is dropped and the others are weighted
 * by the inverse of their chance to be tick-free, 1 - t / TICK_NSEC (a
 * Horvitz-Thompson estimate of the tick-free total).
 *
 * Pages (scenarios 6 and 7), the same method for both allocators: probes on
 * the kmem:mm_page_alloc and kmem:mm_page_free tracepoints mark in a PFN
 * bitmap each page the benchmark thread takes from the page allocator while
 * measuring, and unmark it when it is freed, by anyone. "Held" is the count
 * of marked pages, "peak" its maximum. spanalloc starts each measurement
 * with its free pages given back (spanalloc_debug_release()); SLUB's side
 * uses fresh private caches (SLAB_NO_MERGE), with one cache per kmalloc slot
 * size standing in for kmalloc.
 *
 * Output: "sabench: row SCENARIO UNIT SIZE SPANALLOC SLUB LABEL" lines (values
 * with two decimals, "-" when not measured) that scripts/bench-report.py
 * turns into the table.
 */
#define pr_fmt(fmt) "sabench: " fmt

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/mman.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include <spanalloc.h>
#include "internal.h"

MODULE_IMPORT_NS(SPANALLOC_INTERNAL);

static char *mode = "verify";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "icount, wall, fastpath, profile, or verify (default: checks only)");

static char *profile = "spanalloc";
module_param(profile, charp, 0444);
MODULE_PARM_DESC(profile, "profile: the allocator that replays, spanalloc or slub (default spanalloc)");

static char *traces;
module_param(traces, charp, 0444);
MODULE_PARM_DESC(traces, "Comma-separated binary traces to replay (scripts/mktrace.py)");

static char *only;
module_param(only, charp, 0444);
MODULE_PARM_DESC(only, "Comma-separated scenarios to run (e.g. \"1,6\"), without the checks");

static unsigned int runs = 60;
module_param(runs, uint, 0444);
MODULE_PARM_DESC(runs, "icount: runs per measurement, the minimum is kept (default 60)");

static unsigned int wall_runs = 7;
module_param(wall_runs, uint, 0444);
MODULE_PARM_DESC(wall_runs, "wall: runs per measurement, the median is kept (default 7)");

#define SAB_PAIR_OPS	1000	/* pairs per run, scenario 1 */
#define SAB_BULK_OBJS	1024	/* objects per run, scenario 3 */
#define SAB_CHUNK	256	/* replay events per timed chunk */
#define SAB_RING	64	/* producer-consumer ring, scenario 4 */
#define SAB_XFER_OBJS	32768	/* objects per run, scenario 4 */
#define SAB_PAR_BATCH	256	/* objects per batch, scenario 5 */
#define SAB_PAR_ROUNDS	512	/* batches per run, scenario 5 */
#define SAB_NA		(-1LL)	/* not measured */
#define SAB_PATH_STATS	"/sys/kernel/debug/spanalloc/stats"
#define SAB_PATH_SCAV	"/sys/kernel/debug/spanalloc/scavenge"

/* ---- Checks ---- */

static bool sab_quiet;		/* mode=verify: no table rows */
static atomic_long_t sab_checks = ATOMIC_LONG_INIT(0);
static atomic_long_t sab_failures = ATOMIC_LONG_INIT(0);

static void sab_fail(const char *what, const void *p, size_t size)
{
	if (atomic_long_inc_return(&sab_failures) <= 20)
		pr_err("FAIL: %s (object %p, %zu bytes)\n", what, p, size);
}

static u64 sab_key(const void *p)
{
	return (unsigned long)p * 0x9e3779b97f4a7c15ULL + 0x5a5a5a5aULL;
}

/* Write the object's pattern over @size bytes. */
static void sab_fill(void *p, size_t size)
{
	u64 key = sab_key(p);
	u8 *b = p;
	size_t i;

	for (i = 0; i + 8 <= size; i += 8)
		*(u64 *)(b + i) = key + i;
	for (; i < size; i++)
		b[i] = (u8)(key + i);
}

/* Is the object's pattern intact? */
static bool sab_intact(const void *p, size_t size)
{
	u64 key = sab_key(p);
	const u8 *b = p;
	size_t i;

	for (i = 0; i + 8 <= size; i += 8)
		if (*(const u64 *)(b + i) != key + i)
			return false;
	for (; i < size; i++)
		if (b[i] != (u8)(key + i))
			return false;
	return true;
}

/*
 * Check a new object, then write its pattern. @sa_size: it came from
 * spanalloc's size API (power-of-two sizes are then aligned to their size).
 */
static void sab_check_new(void *p, size_t size, bool spanalloc, bool sa_size)
{
	size_t align = 8;

	atomic_long_inc(&sab_checks);
	if (ZERO_OR_NULL_PTR(p)) {
		sab_fail("allocation failed", p, size);
		return;
	}
	if (sa_size && is_power_of_2(size))
		align = min_t(size_t, size, PAGE_SIZE);
	if (!IS_ALIGNED((unsigned long)p, align)) {
		sab_fail("misaligned", p, size);
		return;
	}
	if (want_init_on_alloc(GFP_KERNEL) && memchr_inv(p, 0, size))
		sab_fail("not zeroed on allocation (init_on_alloc)", p, size);
	if (spanalloc && spanalloc_usable_size(p) < size)
		sab_fail("usable size below the request", p, size);
	sab_fill(p, size);
}

static void sab_check_old(const void *p, size_t size)
{
	atomic_long_inc(&sab_checks);
	if (p && !sab_intact(p, size))
		sab_fail("pattern overwritten while allocated", p, size);
}

/* ---- A source of objects: one allocator, one API, one size ---- */

enum sab_api {
	SAB_SA_CACHE,		/* spanalloc named cache */
	SAB_SA_SIZE,		/* spanalloc_alloc() */
	SAB_SL_CACHE,		/* private kmem_cache (SLAB_NO_MERGE) */
	SAB_SL_KMALLOC,		/* kmalloc() */
};

struct sab_alloc {
	enum sab_api api;
	unsigned int size;
	struct spanalloc_cache *sc;
	struct kmem_cache *kc;
};

static atomic_t sab_seq = ATOMIC_INIT(0);

static bool sab_is_sa(enum sab_api api)
{
	return api == SAB_SA_CACHE || api == SAB_SA_SIZE;
}

static int sab_alloc_init(struct sab_alloc *a, enum sab_api api, unsigned int size)
{
	char name[48];

	memset(a, 0, sizeof(*a));
	a->api = api;
	a->size = size;
	snprintf(name, sizeof(name), "sabench-%d-%u", atomic_inc_return(&sab_seq), size);
	if (api == SAB_SA_CACHE)
		a->sc = spanalloc_cache_create(name, size, 0, 0, NULL);
	else if (api == SAB_SL_CACHE)
		a->kc = kmem_cache_create(name, size, 0, SLAB_NO_MERGE, NULL);
	else
		return 0;
	if (!a->sc && !a->kc) {
		pr_err("cannot create cache %s\n", name);
		return -ENOMEM;
	}
	return 0;
}

static void sab_alloc_fini(struct sab_alloc *a)
{
	spanalloc_cache_destroy(a->sc);
	kmem_cache_destroy(a->kc);
	a->sc = NULL;
	a->kc = NULL;
}

/* @api is a constant where the callers are inlined: no switch at run time. */
static __always_inline void *sab_get(const struct sab_alloc *a, const enum sab_api api)
{
	switch (api) {
	case SAB_SA_CACHE:
		return spanalloc_cache_alloc(a->sc, GFP_KERNEL);
	case SAB_SA_SIZE:
		return spanalloc_alloc(a->size, GFP_KERNEL);
	case SAB_SL_CACHE:
		return kmem_cache_alloc(a->kc, GFP_KERNEL);
	default:
		return kmalloc(a->size, GFP_KERNEL);
	}
}

static __always_inline void sab_put(const struct sab_alloc *a, const enum sab_api api, void *p)
{
	switch (api) {
	case SAB_SA_CACHE:
		spanalloc_cache_free(a->sc, p);
		break;
	case SAB_SA_SIZE:
		spanalloc_free(p);
		break;
	case SAB_SL_CACHE:
		kmem_cache_free(a->kc, p);
		break;
	default:
		kfree(p);
		break;
	}
}

/* Run-time dispatch, for the multi-CPU scenarios and the checks. */
static void *sab_get_any(const struct sab_alloc *a)
{
	return sab_get(a, a->api);
}

static void sab_put_any(const struct sab_alloc *a, void *p)
{
	sab_put(a, a->api, p);
}

/* ---- The timed loops ---- */

static __always_inline unsigned int sab_pair_loop(const struct sab_alloc *a, unsigned int n,
						  const enum sab_api api)
{
	unsigned int i, fails = 0;

	for (i = 0; i < n; i++) {
		void *p = sab_get(a, api);

		if (unlikely(!p)) {
			fails++;
			continue;
		}
		sab_put(a, api, p);
	}
	return fails;
}

/* Scenario 1: @n allocate-free pairs. Return: allocations that failed. */
static noinline unsigned int sab_pair(const struct sab_alloc *a, unsigned int n)
{
	switch (a->api) {
	case SAB_SA_CACHE:
		return sab_pair_loop(a, n, SAB_SA_CACHE);
	case SAB_SA_SIZE:
		return sab_pair_loop(a, n, SAB_SA_SIZE);
	case SAB_SL_CACHE:
		return sab_pair_loop(a, n, SAB_SL_CACHE);
	default:
		return sab_pair_loop(a, n, SAB_SL_KMALLOC);
	}
}

static __always_inline unsigned int sab_batch_loop(const struct sab_alloc *a, unsigned int n,
						   void **objs, const u32 *order,
						   const enum sab_api api)
{
	unsigned int i, fails = 0;

	for (i = 0; i < n; i++) {
		objs[i] = sab_get(a, api);
		if (unlikely(!objs[i]))
			fails++;
	}
	for (i = 0; i < n; i++) {
		void *p = objs[order[i]];

		if (likely(p))
			sab_put(a, api, p);
	}
	return fails;
}

/* Scenario 2: allocate @n objects, free them in @order. */
static noinline unsigned int sab_batch(const struct sab_alloc *a, unsigned int n, void **objs,
				       const u32 *order)
{
	switch (a->api) {
	case SAB_SA_CACHE:
		return sab_batch_loop(a, n, objs, order, SAB_SA_CACHE);
	case SAB_SA_SIZE:
		return sab_batch_loop(a, n, objs, order, SAB_SA_SIZE);
	case SAB_SL_CACHE:
		return sab_batch_loop(a, n, objs, order, SAB_SL_CACHE);
	default:
		return sab_batch_loop(a, n, objs, order, SAB_SL_KMALLOC);
	}
}

/* Scenario 3: @loops bulk allocations and frees of @nr objects (caches only). */
static noinline unsigned int sab_bulk(const struct sab_alloc *a, unsigned int nr,
				      unsigned int loops, void **objs)
{
	unsigned int i, fails = 0;

	if (a->api == SAB_SA_CACHE) {
		for (i = 0; i < loops; i++) {
			int got = spanalloc_cache_alloc_bulk(a->sc, GFP_KERNEL, nr, objs);

			if (unlikely(got != nr)) {
				fails++;
				continue;
			}
			spanalloc_cache_free_bulk(a->sc, nr, objs);
		}
	} else {
		for (i = 0; i < loops; i++) {
			int got = kmem_cache_alloc_bulk(a->kc, GFP_KERNEL, nr, objs);

			if (unlikely(got != nr)) {
				fails++;
				continue;
			}
			kmem_cache_free_bulk(a->kc, nr, objs);
		}
	}
	return fails;
}

enum sab_job_kind { SAB_JOB_PAIR, SAB_JOB_BATCH, SAB_JOB_BULK };

struct sab_job {
	enum sab_job_kind kind;
	struct sab_alloc a;
	unsigned int n;		/* pairs, batch size, or bulk size */
	unsigned int loops;	/* bulk calls per run */
	void **objs;
	const u32 *order;
};

static unsigned int sab_job_run(const struct sab_job *j)
{
	switch (j->kind) {
	case SAB_JOB_PAIR:
		return sab_pair(&j->a, j->n);
	case SAB_JOB_BATCH:
		return sab_batch(&j->a, j->n, j->objs, j->order);
	default:
		return sab_bulk(&j->a, j->n, j->loops, j->objs);
	}
}

/*
 * The minimum time of @nruns runs of @j in ns (instructions under icount),
 * over the runs during which jiffies did not move (over all runs if none).
 */
static u64 sab_time_min(const struct sab_job *j, unsigned int nruns)
{
	u64 best = U64_MAX, best_any = U64_MAX;
	unsigned int r, fails;

	fails = sab_job_run(j);		/* warm up */
	for (r = 0; r < max(nruns, 1U); r++) {
		unsigned long j0 = READ_ONCE(jiffies);
		u64 t = ktime_get_ns();

		fails += sab_job_run(j);
		t = ktime_get_ns() - t;
		if (READ_ONCE(jiffies) == j0)
			best = min(best, t);
		best_any = min(best_any, t);
		cond_resched();
	}
	if (fails)
		sab_fail("allocation failed in a timed run", NULL, j->a.size);
	return best != U64_MAX ? best : best_any;
}

/* ---- Output ---- */

/* @num / @den with two decimals, as hundredths; SAB_NA if @den is 0. */
static s64 sab_fx(u64 num, u64 den)
{
	return den ? (s64)div64_u64(num * 100, den) : SAB_NA;
}

static void sab_val(char *buf, size_t len, s64 v)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%lld.%02lld", v / 100, v % 100);
}

/* One table row; @sa and @sl are in hundredths (sab_fx()) or SAB_NA. */
static __printf(6, 7) void sab_row(const char *scen, const char *unit, unsigned int size,
				   s64 sa, s64 sl, const char *fmt, ...)
{
	char label[160], vs[32], vl[32];
	va_list args;

	if (sab_quiet)
		return;
	va_start(args, fmt);
	vsnprintf(label, sizeof(label), fmt, args);
	va_end(args);
	sab_val(vs, sizeof(vs), sa);
	sab_val(vl, sizeof(vl), sl);
	pr_info("row %s %s %u %s %s %s\n", scen, unit, size, vs, vl, label);
}

/* ---- Random numbers, reproducible from boot to boot ---- */

static u64 sab_rand(u64 *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static u32 sab_rand_range(u64 *s, u32 lo, u32 hi)
{
	return lo + (u32)(sab_rand(s) % (hi - lo + 1));
}

/* @order[0..n) = 0..n-1, shuffled if @shuffle. */
static void sab_order(u32 *order, unsigned int n, bool shuffle, u64 seed)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		order[i] = i;
	if (!shuffle)
		return;
	for (i = n - 1; i > 0; i--) {
		u32 k = (u32)(sab_rand(&seed) % (i + 1));

		swap(order[i], order[k]);
	}
}

/* ---- Pages held from the page allocator ---- */

struct sab_pages {
	bool ok;			/* probes registered */
	bool on;			/* measuring */
	struct task_struct *task;	/* the thread whose page allocations count */
	unsigned long *bits;		/* PFNs taken while measuring, not freed yet */
	unsigned long nbits;
	atomic_long_t held;		/* bits set */
	atomic_long_t untracked;	/* pages beyond @nbits (never expected) */
	long peak;			/* max of @held; written by @task only */
	struct tracepoint *tp_alloc;
	struct tracepoint *tp_free;
};

static struct sab_pages sab_pg;

static void sab_probe_alloc(void *data, struct page *page, unsigned int order, gfp_t gfp,
			    int migratetype)
{
	unsigned long pfn, i, n = 1UL << order;
	long added = 0, held;

	if (!READ_ONCE(sab_pg.on) || current != sab_pg.task || !in_task() || !page)
		return;
	pfn = page_to_pfn(page);
	if (pfn + n > sab_pg.nbits) {
		atomic_long_add(n, &sab_pg.untracked);
		return;
	}
	for (i = 0; i < n; i++)
		if (!test_and_set_bit(pfn + i, sab_pg.bits))
			added++;
	held = atomic_long_add_return(added, &sab_pg.held);
	if (held > sab_pg.peak)
		sab_pg.peak = held;
}

static void sab_probe_free(void *data, struct page *page, unsigned int order)
{
	unsigned long pfn, i, n = 1UL << order;
	long removed = 0;

	if (!READ_ONCE(sab_pg.on) || !page)
		return;
	pfn = page_to_pfn(page);
	if (pfn >= sab_pg.nbits)
		return;
	n = min(n, sab_pg.nbits - pfn);
	for (i = 0; i < n; i++)
		if (test_and_clear_bit(pfn + i, sab_pg.bits))
			removed++;
	if (removed)
		atomic_long_sub(removed, &sab_pg.held);
}

#ifdef CONFIG_TRACEPOINTS
static void sab_tp_match(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "mm_page_alloc"))
		sab_pg.tp_alloc = tp;
	else if (!strcmp(tp->name, "mm_page_free"))
		sab_pg.tp_free = tp;
}

static void sab_pages_init(void)
{
	sab_pg.nbits = totalram_pages() + (SZ_1G >> PAGE_SHIFT);
	sab_pg.bits = vzalloc(BITS_TO_LONGS(sab_pg.nbits) * sizeof(long));
	if (!sab_pg.bits)
		return;
	for_each_kernel_tracepoint(sab_tp_match, NULL);
	if (!sab_pg.tp_alloc || !sab_pg.tp_free ||
	    tracepoint_probe_register(sab_pg.tp_alloc, sab_probe_alloc, NULL))
		goto fail;
	if (tracepoint_probe_register(sab_pg.tp_free, sab_probe_free, NULL)) {
		tracepoint_probe_unregister(sab_pg.tp_alloc, sab_probe_alloc, NULL);
		goto fail;
	}
	sab_pg.ok = true;
	return;
fail:
	pr_warn("kmem:mm_page_alloc/mm_page_free probes unavailable: no page counts\n");
	vfree(sab_pg.bits);
	sab_pg.bits = NULL;
}

static void sab_pages_exit(void)
{
	if (!sab_pg.ok)
		return;
	tracepoint_probe_unregister(sab_pg.tp_alloc, sab_probe_alloc, NULL);
	tracepoint_probe_unregister(sab_pg.tp_free, sab_probe_free, NULL);
	tracepoint_synchronize_unregister();
	sab_pg.ok = false;
	vfree(sab_pg.bits);
	sab_pg.bits = NULL;
}
#else
static void sab_pages_init(void)
{
	pr_warn("no CONFIG_TRACEPOINTS: no page counts\n");
}

static void sab_pages_exit(void)
{
}
#endif

static void sab_pages_start(void)
{
	if (!sab_pg.ok)
		return;
	bitmap_zero(sab_pg.bits, sab_pg.nbits);
	atomic_long_set(&sab_pg.held, 0);
	atomic_long_set(&sab_pg.untracked, 0);
	sab_pg.peak = 0;
	sab_pg.task = current;
	smp_wmb();	/* the bitmap is clear before a probe sees "on" */
	WRITE_ONCE(sab_pg.on, true);
}

/* Pages held now, or SAB_NA without probes. */
static long sab_pages_held(void)
{
	return sab_pg.ok ? atomic_long_read(&sab_pg.held) : SAB_NA;
}

static long sab_pages_peak(void)
{
	return sab_pg.ok ? sab_pg.peak : SAB_NA;
}

static void sab_pages_stop(void)
{
	if (!sab_pg.ok)
		return;
	WRITE_ONCE(sab_pg.on, false);
	if (atomic_long_read(&sab_pg.untracked))
		pr_warn("%ld pages beyond the PFN bitmap were not counted\n",
			atomic_long_read(&sab_pg.untracked));
	synchronize_rcu();	/* probes run with preemption off */
}

/* Pages as a row value: hundredths, or SAB_NA. */
static s64 sab_pv(long pages)
{
	return pages < 0 ? SAB_NA : (s64)pages * 100;
}

/* ---- spanalloc's debugfs files (the lead's; used when present) ---- */

/*
 * Read or write a debugfs file through its own file operations, with a
 * buffer mapped in this process: kernel_read() and kernel_write() want
 * read_iter and write_iter, which debugfs files do not have.
 * Return: bytes read (@kbuf is then NUL-terminated) or written, or -errno.
 */
static ssize_t sab_debugfs_rw(const char *path, bool write, char *kbuf, size_t len)
{
	size_t maplen = PAGE_ALIGN(len + 1), done = 0;
	unsigned long u;
	struct file *f;
	loff_t pos = 0;
	ssize_t n = -EINVAL;

	if (!current->mm)
		return -EINVAL;
	f = filp_open(path, write ? O_WRONLY : O_RDONLY, 0);
	if (IS_ERR(f))
		return PTR_ERR(f);
	u = vm_mmap(NULL, 0, maplen, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, 0);
	if (IS_ERR_VALUE(u)) {
		n = (ssize_t)u;
		goto out;
	}
	if (write && f->f_op->write) {
		n = -EFAULT;
		if (!copy_to_user((void __user *)u, kbuf, len))
			n = f->f_op->write(f, (const char __user *)u, len, &pos);
	} else if (!write && f->f_op->read) {
		while (done < len) {
			n = f->f_op->read(f, (char __user *)u + done, len - done, &pos);
			if (n <= 0)
				break;
			done += n;
		}
		if (n >= 0)
			n = copy_from_user(kbuf, (const void __user *)u, done) ? -EFAULT : done;
		kbuf[n > 0 ? n : 0] = 0;
	}
	vm_munmap(u, maplen);
out:
	filp_close(f, NULL);
	return n;
}

/* The value of "@key: value" in spanalloc's debugfs stats, or -1. */
static long sab_sa_stat(const char *key)
{
	const size_t cap = PAGE_SIZE * 4;
	size_t klen = strlen(key);
	char *buf, *line, *end;
	long val = -1;

	buf = kzalloc(cap, GFP_KERNEL);
	if (!buf)
		return -1;
	if (sab_debugfs_rw(SAB_PATH_STATS, false, buf, cap - 1) <= 0)
		goto out;
	for (line = buf; *line; line = end + 1) {
		end = strchrnul(line, '\n');
		if (end - line > klen && !strncmp(line, key, klen) && line[klen] == ':') {
			*end = 0;
			if (kstrtol(skip_spaces(line + klen + 1), 10, &val) < 0)
				val = -1;
			break;
		}
		if (!*end)
			break;
	}
out:
	kfree(buf);
	return val;
}

/* A full scavenge through debugfs. Return: 0, or -errno if there is none. */
static int sab_sa_scavenge(void)
{
	char one[] = "1\n";
	ssize_t n = sab_debugfs_rw(SAB_PATH_SCAV, true, one, 2);

	return n < 0 ? n : 0;
}

/* ---- Traces ---- */

#define SAB_TRACE_MAGIC		"SABTRC01"
#define SAB_OP_ALLOC		1
#define SAB_OP_FREE		2
#define SAB_TRACE_MAX		SZ_256M

struct sab_trace_hdr {
	char magic[8];
	__le32 hdr_size;
	__le32 nr_kinds;
	__le32 nr_events;
	__le32 nr_ids;
	__le32 kind_size;
	__le32 ev_size;
};

struct sab_trace_kind {
	__le32 size;		/* object size; 0 for kind 0, kmalloc */
	__le32 allocs;		/* allocations of this kind in the trace */
	char name[40];
};

struct sab_ev {
	__le32 id;		/* allocation number */
	__le32 size;		/* bytes requested */
	__le16 kind;		/* 0: kmalloc, else a named cache */
	u8 op;			/* SAB_OP_ALLOC or SAB_OP_FREE */
	u8 cpu;			/* recorded, not used */
};

static_assert(sizeof(struct sab_trace_hdr) == 32);
static_assert(sizeof(struct sab_trace_kind) == 48);
static_assert(sizeof(struct sab_ev) == 12);

struct sab_trace {
	char name[32];
	void *buf;			/* vmalloc'ed file (or generated) */
	const struct sab_trace_kind *kinds;
	const struct sab_ev *ev;
	u32 nr_kinds, nr_events, nr_ids;
	u64 kmalloc_events;
};

static void sab_trace_free(struct sab_trace *t)
{
	vfree(t->buf);
	t->buf = NULL;
}

/* Check that the events make sense: every free frees a live allocation. */
static int sab_trace_validate(struct sab_trace *t)
{
	unsigned long *live;
	u32 i;
	int ret = 0;

	live = vzalloc(BITS_TO_LONGS(t->nr_ids) * sizeof(long));
	if (!live)
		return -ENOMEM;
	t->kmalloc_events = 0;
	for (i = 0; i < t->nr_events && !ret; i++) {
		const struct sab_ev *e = &t->ev[i];
		u32 id = le32_to_cpu(e->id), size = le32_to_cpu(e->size);
		u32 k = le16_to_cpu(e->kind);

		if (id >= t->nr_ids || k >= t->nr_kinds || !size || size > SPANALLOC_MAX_SIZE ||
		    (k && size != le32_to_cpu(t->kinds[k].size)) ||
		    (k && size > SPANALLOC_MAX_SMALL))
			ret = -EINVAL;
		else if (e->op == SAB_OP_ALLOC && !test_and_set_bit(id, live))
			ret = 0;
		else if (e->op == SAB_OP_FREE && test_and_clear_bit(id, live))
			ret = 0;
		else
			ret = -EINVAL;
		if (!k)
			t->kmalloc_events++;
	}
	if (ret)
		pr_err("trace %s: bad event %u\n", t->name, i - 1);
	vfree(live);
	return ret;
}

/* Read a whole regular file into a vmalloc'ed buffer. Return: its size or -errno. */
static ssize_t sab_read_file(const char *path, void **bufp)
{
	struct file *f;
	size_t done = 0;
	loff_t size, pos = 0;
	ssize_t n = 0;
	void *buf;

	f = filp_open(path, O_RDONLY, 0);
	if (IS_ERR(f))
		return PTR_ERR(f);
	size = i_size_read(file_inode(f));
	if (size <= 0 || size > SAB_TRACE_MAX) {
		filp_close(f, NULL);
		return -EFBIG;
	}
	buf = vmalloc(size);
	while (buf && done < size) {
		n = kernel_read(f, buf + done, size - done, &pos);
		if (n <= 0)
			break;
		done += n;
	}
	filp_close(f, NULL);
	if (!buf)
		return -ENOMEM;
	if (done != size) {
		vfree(buf);
		return n < 0 ? n : -EIO;
	}
	*bufp = buf;
	return size;
}

static int sab_trace_load(struct sab_trace *t, const char *path)
{
	const struct sab_trace_hdr *h;
	const char *base;
	void *buf = NULL;
	size_t need;
	ssize_t n;
	int ret;

	memset(t, 0, sizeof(*t));
	base = strrchr(path, '/');
	strscpy(t->name, base ? base + 1 : path, sizeof(t->name));
	if (strchr(t->name, '.'))
		*strchr(t->name, '.') = 0;
	n = sab_read_file(path, &buf);
	if (n < 0) {
		pr_err("cannot read trace %s: %zd\n", path, n);
		return n;
	}
	h = buf;
	ret = -EINVAL;
	if (n < sizeof(*h) || memcmp(h->magic, SAB_TRACE_MAGIC, 8) ||
	    le32_to_cpu(h->hdr_size) != sizeof(*h) ||
	    le32_to_cpu(h->kind_size) != sizeof(struct sab_trace_kind) ||
	    le32_to_cpu(h->ev_size) != sizeof(struct sab_ev))
		goto bad;
	t->nr_kinds = le32_to_cpu(h->nr_kinds);
	t->nr_events = le32_to_cpu(h->nr_events);
	t->nr_ids = le32_to_cpu(h->nr_ids);
	need = sizeof(*h) + (size_t)t->nr_kinds * sizeof(struct sab_trace_kind) +
	       (size_t)t->nr_events * sizeof(struct sab_ev);
	if (!t->nr_kinds || t->nr_kinds > U16_MAX || !t->nr_ids || need != n)
		goto bad;
	t->buf = buf;
	t->kinds = buf + sizeof(*h);
	t->ev = (const void *)(t->kinds + t->nr_kinds);
	ret = sab_trace_validate(t);
	if (ret)
		goto bad;
	pr_info("trace %s: %u events, %u caches, %llu kmalloc events\n", t->name,
		t->nr_events, t->nr_kinds - 1, t->kmalloc_events);
	return 0;
bad:
	pr_err("trace %s: not a valid trace (scripts/mktrace.py)\n", path);
	vfree(buf);
	t->buf = NULL;
	return ret;
}

/*
 * A small synthetic trace for the checks: kmalloc of 1 B to 96 KiB, and three
 * named caches.
 */
static int sab_trace_synth(struct sab_trace *t, u32 nr_events)
{
	static const u32 cache_size[] = { 64, 200, 4000 };
	struct sab_trace_kind *kinds;
	struct sab_ev *ev;
	u32 *live, *live_size, nlive = 0, nids = 0, i, k;
	u64 s = 0x1234abcdULL;
	u16 *live_kind;

	memset(t, 0, sizeof(*t));
	strscpy(t->name, "synthetic", sizeof(t->name));
	t->nr_kinds = 1 + ARRAY_SIZE(cache_size);
	t->buf = vzalloc(t->nr_kinds * sizeof(*kinds) + nr_events * sizeof(*ev));
	live = vmalloc_array(nr_events, sizeof(u32));
	live_size = vmalloc_array(nr_events, sizeof(u32));
	live_kind = vmalloc_array(nr_events, sizeof(u16));
	if (!t->buf || !live || !live_size || !live_kind) {
		vfree(live);
		vfree(live_size);
		vfree(live_kind);
		sab_trace_free(t);
		return -ENOMEM;
	}
	kinds = t->buf;
	ev = (void *)(kinds + t->nr_kinds);
	strscpy(kinds[0].name, "kmalloc", sizeof(kinds[0].name));
	for (k = 1; k < t->nr_kinds; k++) {
		kinds[k].size = cpu_to_le32(cache_size[k - 1]);
		snprintf(kinds[k].name, sizeof(kinds[k].name), "synth-%u", cache_size[k - 1]);
	}
	for (i = 0; i < nr_events; i++) {
		u32 r = (u32)(sab_rand(&s) % 100), size, j;

		if (nlive && (r < 45 || i + nlive >= nr_events)) {
			j = (u32)(sab_rand(&s) % nlive);
			ev[i].id = cpu_to_le32(live[j]);
			ev[i].size = cpu_to_le32(live_size[j]);
			ev[i].kind = cpu_to_le16(live_kind[j]);
			ev[i].op = SAB_OP_FREE;
			nlive--;
			live[j] = live[nlive];
			live_size[j] = live_size[nlive];
			live_kind[j] = live_kind[nlive];
			continue;
		}
		k = (u32)(sab_rand(&s) % 8);
		if (k >= t->nr_kinds)
			k = 0;
		if (k)
			size = cache_size[k - 1];
		else if (r < 90)
			size = sab_rand_range(&s, 1, 512);
		else if (r < 99)
			size = sab_rand_range(&s, 513, 16384);
		else
			size = sab_rand_range(&s, 16385, 98304);
		ev[i].id = cpu_to_le32(nids);
		ev[i].size = cpu_to_le32(size);
		ev[i].kind = cpu_to_le16(k);
		ev[i].op = SAB_OP_ALLOC;
		live[nlive] = nids++;
		live_size[nlive] = size;
		live_kind[nlive++] = k;
		le32_add_cpu(&kinds[k].allocs, 1);
	}
	vfree(live);
	vfree(live_size);
	vfree(live_kind);
	t->kinds = kinds;
	t->ev = ev;
	t->nr_events = nr_events;
	t->nr_ids = max(nids, 1U);
	return sab_trace_validate(t);
}

/* ---- Replay ---- */

enum sab_impl {
	SAB_R_SA,	/* spanalloc: size API and named caches */
	SAB_R_SLUB,	/* SLUB: kmalloc and private kmem_caches */
	SAB_R_PRIV,	/* SLUB, kmalloc replaced by private caches of its slot sizes */
};

static const char *const sab_impl_name[] = { "spanalloc", "SLUB", "SLUB-private" };

/* SLUB's kmalloc slot sizes up to KMALLOC_MAX_CACHE_SIZE (x86_64, 4 KiB pages). */
static const unsigned int sab_slot[] = {
	8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192
};

#define SAB_NR_SLOTS	ARRAY_SIZE(sab_slot)
#define SAB_SLOT_MAX	8192

static __always_inline unsigned int sab_slot_idx(u32 size)
{
	if (size <= 8)
		return 0;
	if (size <= 16)
		return 1;
	if (size <= 32)
		return 2;
	if (size <= 64)
		return 3;
	if (size <= 96)
		return 4;
	if (size <= 128)
		return 5;
	if (size <= 192)
		return 6;
	return order_base_2(size) - 1;
}

/* Private caches of kmalloc's slot sizes (SLAB_NO_MERGE). */
static int sab_slots_create(struct kmem_cache **slot)
{
	char name[48];
	unsigned int i;

	for (i = 0; i < SAB_NR_SLOTS; i++) {
		snprintf(name, sizeof(name), "sabench-%d-kmalloc-%u",
			 atomic_inc_return(&sab_seq), sab_slot[i]);
		slot[i] = kmem_cache_create(name, sab_slot[i], 0, SLAB_NO_MERGE, NULL);
		if (!slot[i])
			return -ENOMEM;
	}
	return 0;
}

static void sab_slots_destroy(struct kmem_cache **slot)
{
	unsigned int i;

	for (i = 0; i < SAB_NR_SLOTS; i++) {
		kmem_cache_destroy(slot[i]);
		slot[i] = NULL;
	}
}

struct sab_replay {
	const struct sab_trace *t;
	const struct sab_ev *ev;	/* the events replayed */
	struct sab_ev *ev_own;		/* a filtered copy, if any */
	u32 nr;
	u32 done;			/* events replayed */
	enum sab_impl impl;
	void **ptr;			/* by allocation id */
	struct spanalloc_cache **sc;	/* by kind */
	struct kmem_cache **kc;		/* by kind */
	struct kmem_cache *slot[SAB_NR_SLOTS];
	/* Results. */
	u64 est_ns;			/* tick-free time estimate */
	u32 clean, dirty;		/* chunks kept, chunks with a tick */
	long peak, final, after_free, after_destroy;	/* pages */
};

static __always_inline int sab_replay_ev(struct sab_replay *r, const struct sab_ev *e,
					 const enum sab_impl impl, const bool check)
{
	u32 id = le32_to_cpu(e->id), size = le32_to_cpu(e->size);
	unsigned int k = le16_to_cpu(e->kind);
	void *p;

	if (e->op == SAB_OP_FREE) {
		p = r->ptr[id];
		if (check)
			sab_check_old(p, size);
		if (k) {
			if (impl == SAB_R_SA)
				spanalloc_cache_free(r->sc[k], p);
			else
				kmem_cache_free(r->kc[k], p);
		} else if (impl == SAB_R_SA) {
			spanalloc_free(p);
		} else if (impl == SAB_R_PRIV && size <= SAB_SLOT_MAX) {
			kmem_cache_free(r->slot[sab_slot_idx(size)], p);
		} else {
			kfree(p);
		}
		return 0;
	}
	if (k) {
		if (impl == SAB_R_SA)
			p = spanalloc_cache_alloc(r->sc[k], GFP_KERNEL);
		else
			p = kmem_cache_alloc(r->kc[k], GFP_KERNEL);
	} else if (impl == SAB_R_SA) {
		p = spanalloc_alloc(size, GFP_KERNEL);
	} else if (impl == SAB_R_PRIV && size <= SAB_SLOT_MAX) {
		p = kmem_cache_alloc(r->slot[sab_slot_idx(size)], GFP_KERNEL);
	} else {
		p = kmalloc(size, GFP_KERNEL);
	}
	if (unlikely(!p))
		return -ENOMEM;
	if (check)
		sab_check_new(p, size, impl == SAB_R_SA, impl == SAB_R_SA && !k);
	r->ptr[id] = p;
	return 0;
}

static __always_inline int sab_replay_loop(struct sab_replay *r, const enum sab_impl impl,
					   const bool check)
{
	u32 i, k, end;

	for (i = 0; i < r->nr; i = end) {
		unsigned long j0;
		int ret = 0;
		u64 t;

		end = min_t(u32, i + SAB_CHUNK, r->nr);
		j0 = READ_ONCE(jiffies);
		t = ktime_get_ns();
		for (k = i; k < end; k++) {
			ret = sab_replay_ev(r, &r->ev[k], impl, check);
			if (unlikely(ret))
				break;
		}
		t = ktime_get_ns() - t;
		r->done = k;
		if (ret) {
			pr_err("replay %s on %s: allocation failed at event %u\n", r->t->name,
			       sab_impl_name[impl], k);
			return ret;
		}
		if (READ_ONCE(jiffies) == j0 && t < TICK_NSEC / 2) {
			r->est_ns += div64_u64(t * TICK_NSEC, TICK_NSEC - t);
			r->clean++;
		} else {
			r->dirty++;
		}
		cond_resched();
	}
	return 0;
}

static noinline int sab_replay_run(struct sab_replay *r, bool check)
{
	switch (r->impl) {
	case SAB_R_SA:
		return check ? sab_replay_loop(r, SAB_R_SA, true) :
			       sab_replay_loop(r, SAB_R_SA, false);
	case SAB_R_SLUB:
		return check ? sab_replay_loop(r, SAB_R_SLUB, true) :
			       sab_replay_loop(r, SAB_R_SLUB, false);
	default:
		return check ? sab_replay_loop(r, SAB_R_PRIV, true) :
			       sab_replay_loop(r, SAB_R_PRIV, false);
	}
}

/* One event, dispatched at run time: outside the timed loop. */
static int sab_replay_one(struct sab_replay *r, const struct sab_ev *e, bool check)
{
	switch (r->impl) {
	case SAB_R_SA:
		return sab_replay_ev(r, e, SAB_R_SA, check);
	case SAB_R_SLUB:
		return sab_replay_ev(r, e, SAB_R_SLUB, check);
	default:
		return sab_replay_ev(r, e, SAB_R_PRIV, check);
	}
}

/* Free (and with @check, check) what the replayed events left live. */
static int sab_replay_free_live(struct sab_replay *r, bool check)
{
	unsigned long *live;
	struct sab_ev e;
	u32 i, id;

	live = vzalloc(BITS_TO_LONGS(r->t->nr_ids) * sizeof(long));
	if (!live) {
		sab_fail("no memory to free a replay's live objects", NULL, 0);
		return -ENOMEM;
	}
	for (i = 0; i < r->done; i++) {
		id = le32_to_cpu(r->ev[i].id);
		if (r->ev[i].op == SAB_OP_ALLOC)
			__set_bit(id, live);
		else
			__clear_bit(id, live);
	}
	for (i = 0; i < r->done; i++) {
		id = le32_to_cpu(r->ev[i].id);
		if (r->ev[i].op != SAB_OP_ALLOC || !test_bit(id, live))
			continue;
		e = r->ev[i];
		e.op = SAB_OP_FREE;
		sab_replay_one(r, &e, check);
	}
	vfree(live);
	return 0;
}

static int sab_replay_setup(struct sab_replay *r, const struct sab_trace *t, enum sab_impl impl,
			    bool kmalloc_only)
{
	char name[64];
	u32 i, k;

	memset(r, 0, sizeof(*r));
	r->t = t;
	r->impl = impl;
	r->ptr = vzalloc(array_size(t->nr_ids, sizeof(void *)));
	r->sc = kcalloc(t->nr_kinds, sizeof(*r->sc), GFP_KERNEL);
	r->kc = kcalloc(t->nr_kinds, sizeof(*r->kc), GFP_KERNEL);
	if (!r->ptr || !r->sc || !r->kc)
		return -ENOMEM;
	if (kmalloc_only) {
		r->ev_own = vmalloc_array(max_t(u64, t->kmalloc_events, 1), sizeof(struct sab_ev));
		if (!r->ev_own)
			return -ENOMEM;
		for (i = 0; i < t->nr_events; i++)
			if (!t->ev[i].kind)
				r->ev_own[r->nr++] = t->ev[i];
		r->ev = r->ev_own;
	} else {
		r->ev = t->ev;
		r->nr = t->nr_events;
		for (k = 1; k < t->nr_kinds; k++) {
			unsigned int size = le32_to_cpu(t->kinds[k].size);

			if (!t->kinds[k].allocs)
				continue;
			snprintf(name, sizeof(name), "sabench-%d-%.40s",
				 atomic_inc_return(&sab_seq), t->kinds[k].name);
			if (impl == SAB_R_SA)
				r->sc[k] = spanalloc_cache_create(name, size, 0, 0, NULL);
			else
				r->kc[k] = kmem_cache_create(name, size, 0, SLAB_NO_MERGE, NULL);
			if (!r->sc[k] && !r->kc[k]) {
				pr_err("cannot create cache %s (%u bytes)\n", name, size);
				return -ENOMEM;
			}
		}
	}
	return impl == SAB_R_PRIV ? sab_slots_create(r->slot) : 0;
}

static void sab_replay_teardown(struct sab_replay *r)
{
	u32 k;

	for (k = 0; r->sc && r->kc && k < r->t->nr_kinds; k++) {
		spanalloc_cache_destroy(r->sc[k]);
		kmem_cache_destroy(r->kc[k]);
	}
	sab_slots_destroy(r->slot);
	kfree(r->sc);
	kfree(r->kc);
	vfree(r->ptr);
	vfree(r->ev_own);
	r->sc = NULL;
	r->kc = NULL;
	r->ptr = NULL;
	r->ev_own = NULL;
}

/*
 * Replay @t (its kmalloc events alone if @kmalloc_only) on @impl, timed by
 * chunks and with pages counted; with @check, check every object instead.
 * Everything is freed and destroyed before it returns.
 */
static int sab_replay(const struct sab_trace *t, enum sab_impl impl, bool kmalloc_only,
		      bool check, struct sab_replay *r)
{
	int ret;

	ret = sab_replay_setup(r, t, impl, kmalloc_only);
	if (ret)
		goto out;
	if (impl == SAB_R_SA)
		spanalloc_debug_release();
	sab_pages_start();
	ret = sab_replay_run(r, check);
	r->peak = sab_pages_peak();
	r->final = sab_pages_held();
	sab_replay_free_live(r, check);
	r->after_free = sab_pages_held();
	sab_replay_teardown(r);
	r->after_destroy = sab_pages_held();
	sab_pages_stop();
	if (ret)
		sab_fail("replay failed", NULL, 0);
	return ret;
out:
	pr_err("replay %s on %s: setup failed (%d)\n", t->name, sab_impl_name[impl], ret);
	sab_replay_teardown(r);
	sab_fail("replay setup failed", NULL, 0);
	return ret;
}

/* ---- Scenarios ---- */

/* Time @ops operations of a job on a fresh source; SAB_NA on failure. */
static s64 sab_measure(enum sab_job_kind kind, enum sab_api api, unsigned int size,
		       unsigned int n, unsigned int loops, void **objs, const u32 *order,
		       unsigned int nruns, unsigned int ops)
{
	struct sab_job j = {
		.kind = kind, .n = n, .loops = loops, .objs = objs, .order = order,
	};
	u64 ns;

	if (sab_alloc_init(&j.a, api, size))
		return SAB_NA;
	ns = sab_time_min(&j, nruns);
	sab_alloc_fini(&j.a);
	return sab_fx(ns, ops);
}

/* Scenario 1, 64 B cache API and kmem_cache, for scenario 3. */
static s64 sab_s1_cache64[2] = { SAB_NA, SAB_NA };

static void sab_s1(void)
{
	static const unsigned int sizes[] = { 16, 64, 256, 1024, 4096 };
	unsigned int i, n = SAB_PAIR_OPS;
	s64 sa, sl;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		sa = sab_measure(SAB_JOB_PAIR, SAB_SA_CACHE, sizes[i], n, 0, NULL, NULL, runs, n);
		sl = sab_measure(SAB_JOB_PAIR, SAB_SL_CACHE, sizes[i], n, 0, NULL, NULL, runs, n);
		if (sizes[i] == 64) {
			sab_s1_cache64[0] = sa;
			sab_s1_cache64[1] = sl;
		}
		sab_row("1", "instr", sizes[i], sa, sl,
			"hot alloc+free pair, cache API vs kmem_cache");
		sa = sab_measure(SAB_JOB_PAIR, SAB_SA_SIZE, sizes[i], n, 0, NULL, NULL, runs, n);
		sl = sab_measure(SAB_JOB_PAIR, SAB_SL_KMALLOC, sizes[i], n, 0, NULL, NULL, runs, n);
		sab_row("1", "instr", sizes[i], sa, sl, "hot alloc+free pair, size API vs kmalloc");
	}
}

struct sab_cmp {
	enum sab_api sa, sl;
	unsigned int size;
	const char *what;
};

static const struct sab_cmp sab_cmp_cache64 = {
	SAB_SA_CACHE, SAB_SL_CACHE, 64, "cache API vs kmem_cache"
};

static const struct sab_cmp sab_cmp_size64 = {
	SAB_SA_SIZE, SAB_SL_KMALLOC, 64, "size API vs kmalloc"
};

static const struct sab_cmp sab_cmp_size256 = {
	SAB_SA_SIZE, SAB_SL_KMALLOC, 256, "size API vs kmalloc"
};

static void sab_s2(void)
{
	static const struct sab_cmp *const cfg[] = {
		&sab_cmp_cache64, &sab_cmp_size64, &sab_cmp_size256
	};
	static const unsigned int ns[] = { 256, 1024, 4096 };
	unsigned int c, i, shuffle, nmax = ns[ARRAY_SIZE(ns) - 1];
	void **objs;
	u32 *order;

	objs = kvmalloc_array(nmax, sizeof(*objs), GFP_KERNEL);
	order = kvmalloc_array(nmax, sizeof(*order), GFP_KERNEL);
	if (!objs || !order)
		goto out;
	for (c = 0; c < ARRAY_SIZE(cfg); c++) {
		for (i = 0; i < ARRAY_SIZE(ns); i++) {
			for (shuffle = 0; shuffle < 2; shuffle++) {
				unsigned int n = ns[i], nruns = n > 1024 ? runs / 2 : runs;
				s64 sa, sl;

				/* 1024 objects: kmalloc in random order, as in kernel-notes.md. */
				if (n == 1024 && (!shuffle || cfg[c]->sa != SAB_SA_SIZE))
					continue;
				sab_order(order, n, shuffle, 42 + n);
				sa = sab_measure(SAB_JOB_BATCH, cfg[c]->sa, cfg[c]->size, n, 0,
						 objs, order, nruns, n);
				sl = sab_measure(SAB_JOB_BATCH, cfg[c]->sl, cfg[c]->size, n, 0,
						 objs, order, nruns, n);
				sab_row("2", "instr", cfg[c]->size, sa, sl,
					"allocate %u then free %u in %s order, %s, per object",
					n, n, shuffle ? "random" : "allocation", cfg[c]->what);
			}
		}
	}
out:
	kvfree(objs);
	kvfree(order);
}

static void sab_s3(void)
{
	static const unsigned int nrs[] = { 16, 64 };
	void *objs[64];
	const s64 *pair = sab_s1_cache64;
	unsigned int i;
	s64 sa, sl;

	for (i = 0; i < ARRAY_SIZE(nrs); i++) {
		unsigned int loops = SAB_BULK_OBJS / nrs[i];

		sa = sab_measure(SAB_JOB_BULK, SAB_SA_CACHE, 64, nrs[i], loops, objs, NULL, runs,
				 SAB_BULK_OBJS);
		sl = sab_measure(SAB_JOB_BULK, SAB_SL_CACHE, 64, nrs[i], loops, objs, NULL, runs,
				 SAB_BULK_OBJS);
		sab_row("3", "instr", 64, sa, sl,
			"bulk alloc+free of %u objects, per object, cache API vs kmem_cache",
			nrs[i]);
		sab_row("3", "x", 64,
			sa >= 0 && pair[0] > 0 ? sab_fx(sa, pair[0]) : SAB_NA,
			sl >= 0 && pair[1] > 0 ? sab_fx(sl, pair[1]) : SAB_NA,
			"bulk of %u per object / the same allocator's single pair (scenario 1)",
			nrs[i]);
	}
}

/* ---- Threads for the multi-CPU scenarios ---- */

/*
 * One turn of a loop that waits for another benchmark thread. It yields to
 * whoever needs the CPU: on this non-preemptible kernel a stop_machine()
 * (the switch from tsc-early to tsc, a second into the boot, is one) waits
 * for every CPU's stopper thread, and a waiter that never yields while the
 * thread it waits for sits in the stopper deadlocks the machine.
 */
static void sab_spin(void)
{
	cpu_relax();
	cond_resched();
}

static void sab_wait_start(atomic_t *started, int n)
{
	atomic_inc(started);
	while (atomic_read(started) < n)
		sab_spin();
}

struct sab_thread {
	int (*fn)(void *arg);
	void *arg;
	struct completion done;
};

/*
 * A thread runs its function, says so, and waits for kthread_stop(): a thread
 * stopped before it first ran would never run its function at all.
 */
static int sab_thread_main(void *arg)
{
	struct sab_thread *t = arg;

	t->fn(t->arg);
	complete(&t->done);
	set_current_state(TASK_INTERRUPTIBLE);
	while (!kthread_should_stop()) {
		schedule();
		set_current_state(TASK_INTERRUPTIBLE);
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}

/* Run @fn[i](@args[i]) on @cpus[i] for each i < @n, all at once; wait for all. */
static int sab_run_threads(int (*const *fn)(void *), void *const *args, const unsigned int *cpus,
			   unsigned int n)
{
	struct task_struct **k;
	struct sab_thread *t;
	unsigned int i, made;
	int ret = 0;

	k = kcalloc(n, sizeof(*k), GFP_KERNEL);
	t = kcalloc(n, sizeof(*t), GFP_KERNEL);
	if (!k || !t) {
		kfree(k);
		kfree(t);
		return -ENOMEM;
	}
	for (made = 0; made < n; made++) {
		t[made].fn = fn[made];
		t[made].arg = args[made];
		init_completion(&t[made].done);
		k[made] = kthread_create_on_cpu(sab_thread_main, &t[made], cpus[made],
						"sabench/%u");
		if (IS_ERR(k[made])) {
			ret = PTR_ERR(k[made]);
			break;
		}
		get_task_struct(k[made]);
	}
	if (!ret) {
		for (i = 0; i < n; i++)
			wake_up_process(k[i]);
		for (i = 0; i < n; i++)
			wait_for_completion(&t[i].done);
	}
	/* Threads never woken return from kthread_stop() without running. */
	for (i = 0; i < made; i++) {
		kthread_stop(k[i]);
		put_task_struct(k[i]);
	}
	kfree(k);
	kfree(t);
	return ret;
}

/* The first @n online CPUs. Return: how many there are, at most @n. */
static unsigned int sab_cpus(unsigned int *cpus, unsigned int n)
{
	unsigned int cpu, i = 0;

	for_each_online_cpu(cpu) {
		if (i == n)
			break;
		cpus[i++] = cpu;
	}
	return i;
}

/* Scenario 4: objects allocated on one CPU, freed on another. */
struct sab_xfer {
	const struct sab_alloc *a;
	unsigned int total;
	bool check;
	atomic_t started;
	u64 t0, t1;
	unsigned int fails;
	unsigned long head ____cacheline_aligned_in_smp;	/* producer writes */
	unsigned long tail ____cacheline_aligned_in_smp;	/* consumer writes */
	void *ring[SAB_RING] ____cacheline_aligned_in_smp;
};

static int sab_producer(void *arg)
{
	struct sab_xfer *x = arg;
	const struct sab_alloc *a = x->a;
	unsigned long h;

	sab_wait_start(&x->started, 2);
	x->t0 = ktime_get_ns();
	for (h = 0; h < x->total; h++) {
		void *p = sab_get_any(a);

		if (unlikely(!p))
			x->fails++;
		else if (x->check)
			sab_check_new(p, a->size, sab_is_sa(a->api), a->api == SAB_SA_SIZE);
		/* Acquire: the consumer has read the slot before it moved tail. */
		while (h - smp_load_acquire(&x->tail) >= SAB_RING)
			sab_spin();
		x->ring[h % SAB_RING] = p;
		/* Release: the slot (and the object) are written before head moves. */
		smp_store_release(&x->head, h + 1);
	}
	return 0;
}

static int sab_consumer(void *arg)
{
	struct sab_xfer *x = arg;
	unsigned long t;

	sab_wait_start(&x->started, 2);
	for (t = 0; t < x->total; t++) {
		void *p;

		/* Acquire: pairs with the producer's release of head. */
		while (smp_load_acquire(&x->head) == t)
			sab_spin();
		p = x->ring[t % SAB_RING];
		/* Release: the slot is read before the producer may reuse it. */
		smp_store_release(&x->tail, t + 1);
		if (likely(p)) {
			if (x->check)
				sab_check_old(p, x->a->size);
			sab_put_any(x->a, p);
		}
	}
	x->t1 = ktime_get_ns();
	return 0;
}

/* One producer-consumer run: ns per object, or SAB_NA. */
static s64 sab_xfer_once(const struct sab_alloc *a, unsigned int total, bool check)
{
	static int (*const fn[2])(void *) = { sab_producer, sab_consumer };
	unsigned int cpus[2];
	struct sab_xfer *x;
	void *args[2];
	s64 ret = SAB_NA;

	if (sab_cpus(cpus, 2) < 2)
		return SAB_NA;
	x = kzalloc(sizeof(*x), GFP_KERNEL);
	if (!x)
		return SAB_NA;
	x->a = a;
	x->total = total;
	x->check = check;
	args[0] = x;
	args[1] = x;
	if (!sab_run_threads(fn, args, cpus, 2)) {
		if (x->fails)
			sab_fail("allocation failed (producer-consumer)", NULL, a->size);
		ret = sab_fx(x->t1 - x->t0, total);
	}
	kfree(x);
	return ret;
}

static int sab_cmp_s64(const void *a, const void *b)
{
	s64 x = *(const s64 *)a, y = *(const s64 *)b;

	return x < y ? -1 : x > y;
}

/* The median of @n values (sorted in place); SAB_NA if any is. */
static s64 sab_median(s64 *v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (v[i] < 0)
			return SAB_NA;
	sort(v, n, sizeof(*v), sab_cmp_s64, NULL);
	return n ? v[n / 2] : SAB_NA;
}

#define SAB_WALL_MAX	15

static unsigned int sab_wall_runs(void)
{
	return clamp(wall_runs, 1U, (unsigned int)SAB_WALL_MAX);
}

/* spanalloc's and SLUB's sources of @c; 0, or -ENOMEM with neither made. */
static int sab_cmp_init(struct sab_alloc *a, const struct sab_cmp *c)
{
	if (sab_alloc_init(&a[0], c->sa, c->size))
		return -ENOMEM;
	if (sab_alloc_init(&a[1], c->sl, c->size)) {
		sab_alloc_fini(&a[0]);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Wall-clock runs alternate between the two allocators, run by run, so that
 * a busy host slows both alike; each gets the median of its own runs.
 */
static void sab_s4(void)
{
	static const struct sab_cmp *const cfg[] = { &sab_cmp_cache64, &sab_cmp_size256 };
	unsigned int c, r, k, n = sab_wall_runs();
	s64 v[2][SAB_WALL_MAX];
	struct sab_alloc a[2];

	if (num_online_cpus() < 2) {
		pr_info("note 4: one CPU online, no cross-CPU frees\n");
		return;
	}
	for (c = 0; c < ARRAY_SIZE(cfg); c++) {
		if (sab_cmp_init(a, cfg[c]))
			continue;
		for (k = 0; k < 2; k++)
			sab_xfer_once(&a[k], SAB_XFER_OBJS / 8, false);	/* warm up */
		for (r = 0; r < n; r++)
			for (k = 0; k < 2; k++)
				v[k][r] = sab_xfer_once(&a[k], SAB_XFER_OBJS, false);
		sab_row("4", "ns", cfg[c]->size, sab_median(v[0], n), sab_median(v[1], n),
			"producer on one CPU, consumer frees on another, %s, per object",
			cfg[c]->what);
		sab_alloc_fini(&a[0]);
		sab_alloc_fini(&a[1]);
	}
}

/* Scenario 5: every CPU allocates and frees at once. */
struct sab_par {
	const struct sab_alloc *a;
	atomic_t *started;
	int nthreads;
	unsigned int rounds;
	bool check;
	u64 ns;
	unsigned int fails;
	void *objs[SAB_PAR_BATCH];
};

static int sab_par_fn(void *arg)
{
	struct sab_par *p = arg;
	const struct sab_alloc *a = p->a;
	unsigned int r, i;
	u64 t0;

	sab_wait_start(p->started, p->nthreads);
	t0 = ktime_get_ns();
	for (r = 0; r < p->rounds; r++) {
		for (i = 0; i < SAB_PAR_BATCH; i++) {
			p->objs[i] = sab_get_any(a);
			if (unlikely(!p->objs[i]))
				p->fails++;
			else if (p->check)
				sab_check_new(p->objs[i], a->size, sab_is_sa(a->api),
					      a->api == SAB_SA_SIZE);
		}
		for (i = 0; i < SAB_PAR_BATCH; i++) {
			if (unlikely(!p->objs[i]))
				continue;
			if (p->check)
				sab_check_old(p->objs[i], a->size);
			sab_put_any(a, p->objs[i]);
		}
	}
	p->ns = ktime_get_ns() - t0;
	return 0;
}

/* One run on @n CPUs at once: mean ns per alloc+free per CPU, or SAB_NA. */
static s64 sab_par_once(const struct sab_alloc *a, unsigned int n, unsigned int rounds,
			bool check)
{
	int (**fn)(void *) = NULL;
	struct sab_par *p = NULL;
	unsigned int *cpus = NULL;
	void **args = NULL;
	atomic_t started = ATOMIC_INIT(0);
	s64 ret = SAB_NA;
	u64 sum = 0;
	unsigned int i;

	cpus = kcalloc(n, sizeof(*cpus), GFP_KERNEL);
	fn = kcalloc(n, sizeof(*fn), GFP_KERNEL);
	args = kcalloc(n, sizeof(*args), GFP_KERNEL);
	p = kvcalloc(n, sizeof(*p), GFP_KERNEL);
	if (!cpus || !fn || !args || !p || sab_cpus(cpus, n) < n)
		goto out;
	for (i = 0; i < n; i++) {
		p[i].a = a;
		p[i].started = &started;
		p[i].nthreads = n;
		p[i].rounds = rounds;
		p[i].check = check;
		fn[i] = sab_par_fn;
		args[i] = &p[i];
	}
	if (sab_run_threads((int (*const *)(void *))fn, args, cpus, n))
		goto out;
	for (i = 0; i < n; i++) {
		if (p[i].fails)
			sab_fail("allocation failed (all CPUs)", NULL, a->size);
		sum += p[i].ns;
	}
	ret = sab_fx(sum, (u64)n * rounds * SAB_PAR_BATCH);
out:
	kfree(cpus);
	kfree(fn);
	kfree(args);
	kvfree(p);
	return ret;
}

static void sab_s5(void)
{
	static const struct sab_cmp *const cfg[] = { &sab_cmp_cache64, &sab_cmp_size256 };
	unsigned int c, r, k, ncpu = num_online_cpus(), n = sab_wall_runs();
	s64 one[2][SAB_WALL_MAX], all[2][SAB_WALL_MAX], m1[2], ma[2];
	struct sab_alloc a[2];

	for (c = 0; c < ARRAY_SIZE(cfg); c++) {
		if (sab_cmp_init(a, cfg[c]))
			continue;
		for (k = 0; k < 2; k++)
			sab_par_once(&a[k], ncpu, SAB_PAR_ROUNDS / 8, false);	/* warm up */
		for (r = 0; r < n; r++) {
			for (k = 0; k < 2; k++) {
				one[k][r] = sab_par_once(&a[k], 1, SAB_PAR_ROUNDS, false);
				all[k][r] = sab_par_once(&a[k], ncpu, SAB_PAR_ROUNDS, false);
			}
		}
		for (k = 0; k < 2; k++) {
			m1[k] = sab_median(one[k], n);
			ma[k] = sab_median(all[k], n);
		}
		sab_row("5", "ns", cfg[c]->size, ma[0], ma[1],
			"all %u CPUs at once: allocate %u then free them, %s, per pair per CPU",
			ncpu, SAB_PAR_BATCH, cfg[c]->what);
		sab_row("5", "ns", cfg[c]->size, m1[0], m1[1],
			"one CPU alone: allocate %u then free them, %s, per pair",
			SAB_PAR_BATCH, cfg[c]->what);
		sab_row("5", "x", cfg[c]->size,
			m1[0] > 0 && ma[0] >= 0 ? sab_fx(ma[0], m1[0]) : SAB_NA,
			m1[1] > 0 && ma[1] >= 0 ? sab_fx(ma[1], m1[1]) : SAB_NA,
			"per-CPU time with all %u CPUs / with one (1.00: perfect scaling), %s",
			ncpu, cfg[c]->what);
		sab_alloc_fini(&a[0]);
		sab_alloc_fini(&a[1]);
	}
}

/* Scenario 6: replay a recorded trace. */
static void sab_s6(const struct sab_trace *t)
{
	static const char *const part[] = { "whole trace", "kmalloc part" };
	struct sab_replay *r;
	unsigned int km;

	r = kcalloc(3, sizeof(*r), GFP_KERNEL);
	if (!r)
		return;
	/* The checks first, untimed: every object of the trace, on spanalloc. */
	sab_replay(t, SAB_R_SA, false, true, &r[0]);
	for (km = 0; km < 2; km++) {
		struct sab_replay *sa = &r[0], *sl = &r[1], *pv = &r[2];

		if (sab_replay(t, SAB_R_SA, km, false, sa) ||
		    sab_replay(t, SAB_R_SLUB, km, false, sl) ||
		    sab_replay(t, SAB_R_PRIV, km, false, pv))
			continue;
		sab_row("6", "instr", 0, sab_fx(sa->est_ns, sa->nr), sab_fx(sl->est_ns, sl->nr),
			"%s replay, %s (%u events): time per event", t->name, part[km], sa->nr);
		sab_row("6", "pages", 0, sab_pv(sa->peak), sab_pv(pv->peak),
			"%s replay, %s: peak pages held", t->name, part[km]);
		sab_row("6", "pages", 0, sab_pv(sa->final), sab_pv(pv->final),
			"%s replay, %s: pages held at the end (its live objects remain)",
			t->name, part[km]);
		if (!sab_quiet)
			pr_info("note 6: %s %s: chunks kept/dropped for ticks: spanalloc %u/%u, SLUB %u/%u; SLUB-private time per event %lld; pages after freeing the rest / destroying the caches: spanalloc %ld/%ld, SLUB-private %ld/%ld\n",
				t->name, part[km], sa->clean, sa->dirty, sl->clean, sl->dirty,
				sab_fx(pv->est_ns, pv->nr) / 100, sa->after_free,
				sa->after_destroy, pv->after_free, pv->after_destroy);
	}
	kfree(r);
}

/* Bytes held per byte requested, in hundredths, or SAB_NA. */
static s64 sab_bpb(long pages, u64 req)
{
	return pages < 0 ? SAB_NA : sab_fx((u64)pages << PAGE_SHIFT, req);
}

/* Scenario 7: a population of @n objects of @lo to @hi bytes. */
static void sab_s7_pop(u32 lo, u32 hi, u32 n)
{
	long sa_held, sa_free, sa_scav = SAB_NA, sl_held, sl_free, sl_shrink;
	long st_held, st_scav = -1;
	struct kmem_cache *slot[SAB_NR_SLOTS] = {};
	u32 *sizes, *order, i, cnt[SA_NUM_CLASSES] = {};
	u64 bound_pages = 0, bound_spans = 0;
	/* A descriptor's slot: SLUB keeps the free pointer after it (TYPESAFE_BY_RCU). */
	size_t desc = ALIGN(sizeof(struct sa_span) + sizeof(void *), SA_SPAN_ALIGN);
	u64 s = 7 + n, req = 0;
	void **objs;

	sizes = vmalloc_array(n, sizeof(*sizes));
	order = vmalloc_array(n, sizeof(*order));
	objs = vmalloc_array(n, sizeof(*objs));
	if (!sizes || !order || !objs)
		goto out;
	for (i = 0; i < n; i++) {
		sizes[i] = sab_rand_range(&s, lo, hi);
		req += sizes[i];
	}
	sab_order(order, n, true, 99 + n);
	/* The bound: these sizes packed perfectly into spanalloc's classes. */
	for (i = 0; i < n; i++)
		cnt[sa_size_to_class(sizes[i])]++;
	for (i = 1; i < SA_NUM_CLASSES; i++) {
		u32 sp = DIV_ROUND_UP(cnt[i], sa_classes[i].nelems);

		bound_spans += sp;
		bound_pages += sp * sa_classes[i].npages;
	}

	/* spanalloc, from no free pages. */
	spanalloc_debug_release();
	sab_pages_start();
	for (i = 0; i < n; i++) {
		objs[i] = spanalloc_alloc(sizes[i], GFP_KERNEL);
		sab_check_new(objs[i], sizes[i], true, true);
	}
	sa_held = sab_pages_held();
	st_held = sab_sa_stat("pages_held");
	for (i = 0; i < n; i++) {
		sab_check_old(objs[order[i]], sizes[order[i]]);
		spanalloc_free(objs[order[i]]);
	}
	sa_free = sab_pages_held();
	if (!sab_sa_scavenge()) {
		sa_scav = sab_pages_held();
		st_scav = sab_sa_stat("pages_held");
	}
	sab_pages_stop();

	/* SLUB, private caches of kmalloc's slot sizes. */
	if (sab_slots_create(slot))
		goto out;
	sab_pages_start();
	for (i = 0; i < n; i++) {
		objs[i] = kmem_cache_alloc(slot[sab_slot_idx(sizes[i])], GFP_KERNEL);
		sab_check_new(objs[i], sizes[i], false, false);
	}
	sl_held = sab_pages_held();
	for (i = 0; i < n; i++) {
		u32 k = order[i];

		sab_check_old(objs[k], sizes[k]);
		if (objs[k])
			kmem_cache_free(slot[sab_slot_idx(sizes[k])], objs[k]);
	}
	sl_free = sab_pages_held();
	for (i = 0; i < SAB_NR_SLOTS; i++)
		kmem_cache_shrink(slot[i]);
	sl_shrink = sab_pages_held();
	sab_pages_stop();

	sab_row("7", "B/B", 0, sab_bpb(sa_held, req), sab_bpb(sl_held, req),
		"%u objects of %u-%u B (uniform): bytes held / bytes requested, all live",
		n, lo, hi);
	sab_row("7", "pages", 0, sab_pv(sa_free), sab_pv(sl_free),
		"%u-%u B population: pages still held after all are freed", lo, hi);
	sab_row("7", "pages", 0, sab_pv(sa_scav), sab_pv(sl_shrink),
		"%u-%u B population: pages held after free-all and a full scavenge (spanalloc) / kmem_cache_shrink (SLUB)",
		lo, hi);
	if (!sab_quiet)
		pr_info("note 7: %u-%u B: requested %llu B; spanalloc debugfs pages_held: %ld all live, %ld after the scavenge, scavenger_goal_pages %ld (-1: not there)\n",
			lo, hi, req, st_held, st_scav, sab_sa_stat("scavenger_goal_pages"));
	if (!sab_quiet)
		pr_info("note 7: %u-%u B: perfect packing into spanalloc's classes (a bound): %llu pages in %llu spans, bytes held / bytes requested %lld%%, %lld%% with a span descriptor's slab slot (%zu B) each\n",
			lo, hi, bound_pages, bound_spans, sab_bpb(bound_pages, req),
			sab_fx((bound_pages << PAGE_SHIFT) + bound_spans * desc, req), desc);
out:
	sab_slots_destroy(slot);
	vfree(sizes);
	vfree(order);
	vfree(objs);
}

static void sab_s7(void)
{
	sab_s7_pop(9, 8192, 4096);
	sab_s7_pop(9, 512, 32768);
}

/* ---- The verification pass ---- */

static void sab_verify_objs(enum sab_api api, unsigned int size, unsigned int n, bool shuffle)
{
	struct sab_alloc a;
	void **objs;
	u32 *order;
	unsigned int i;

	objs = kvmalloc_array(n, sizeof(*objs), GFP_KERNEL);
	order = kvmalloc_array(n, sizeof(*order), GFP_KERNEL);
	if (!objs || !order || sab_alloc_init(&a, api, size)) {
		sab_fail("no memory for the checks", NULL, size);
		goto out;
	}
	for (i = 0; i < n; i++) {
		objs[i] = sab_get_any(&a);
		sab_check_new(objs[i], size, sab_is_sa(api), api == SAB_SA_SIZE);
	}
	sab_order(order, n, shuffle, size + n);
	for (i = 0; i < n; i++) {
		void *p = objs[order[i]];

		if (ZERO_OR_NULL_PTR(p))
			continue;
		sab_check_old(p, size);
		sab_put_any(&a, p);
	}
	sab_alloc_fini(&a);
out:
	kvfree(objs);
	kvfree(order);
}

static void sab_verify_bulk(enum sab_api api, unsigned int nr)
{
	struct sab_alloc a;
	void *objs[64];
	unsigned int l, i;
	int got;

	if (sab_alloc_init(&a, api, 64))
		return;
	for (l = 0; l < 8; l++) {
		if (api == SAB_SA_CACHE)
			got = spanalloc_cache_alloc_bulk(a.sc, GFP_KERNEL, nr, objs);
		else
			got = kmem_cache_alloc_bulk(a.kc, GFP_KERNEL, nr, objs);
		if (got != nr) {
			sab_fail("bulk allocation failed", NULL, nr);
			break;
		}
		for (i = 0; i < nr; i++)
			sab_check_new(objs[i], 64, sab_is_sa(api), false);
		for (i = 0; i < nr; i++)
			sab_check_old(objs[i], 64);
		if (api == SAB_SA_CACHE)
			spanalloc_cache_free_bulk(a.sc, nr, objs);
		else
			kmem_cache_free_bulk(a.kc, nr, objs);
	}
	sab_alloc_fini(&a);
}

static void sab_verify_cpus(const struct sab_cmp *c, unsigned int scale)
{
	struct sab_alloc a;
	int k;

	for (k = 0; k < 2; k++) {
		if (sab_alloc_init(&a, k ? c->sl : c->sa, c->size))
			continue;
		if (num_online_cpus() >= 2 && sab_xfer_once(&a, 1024 * scale, true) < 0)
			sab_fail("producer-consumer run failed", NULL, c->size);
		if (sab_par_once(&a, num_online_cpus(), 4, true) < 0)
			sab_fail("all-CPU run failed", NULL, c->size);
		sab_alloc_fini(&a);
	}
}

/*
 * Every API and scenario, every object checked. @scale 1 is the quick pass of
 * mode=verify (the make test VM, KASAN on); the benchmark modes use 4.
 */
static void sab_verify_all(unsigned int scale)
{
	static const unsigned int sizes[] = {
		1, 8, 16, 24, 64, 100, 256, 1000, 1024, 4096, 5000, 32768, 40000, 300000
	};
	static const enum sab_api apis[] = {
		SAB_SA_CACHE, SAB_SA_SIZE, SAB_SL_CACHE, SAB_SL_KMALLOC
	};
	unsigned long errs = spanalloc_errors();
	struct sab_replay *r;
	struct sab_trace t;
	unsigned int i, k;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		for (k = 0; k < ARRAY_SIZE(apis); k++) {
			bool cache = apis[k] == SAB_SA_CACHE || apis[k] == SAB_SL_CACHE;
			bool small = sizes[i] <= 4096;

			if (cache && sizes[i] > SPANALLOC_MAX_SMALL)
				continue;
			sab_verify_objs(apis[k], sizes[i], small ? 64 : 8, false);
			sab_verify_objs(apis[k], sizes[i], small ? 256 * scale : 8, true);
		}
		cond_resched();
	}
	for (i = 16; i <= 64; i *= 4) {
		sab_verify_bulk(SAB_SA_CACHE, i);
		sab_verify_bulk(SAB_SL_CACHE, i);
	}
	sab_verify_cpus(&sab_cmp_cache64, scale);
	sab_verify_cpus(&sab_cmp_size256, scale);

	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (r && !sab_trace_synth(&t, 10000 * scale)) {
		sab_replay(&t, SAB_R_SA, false, true, r);
		sab_replay(&t, SAB_R_SA, true, true, r);
		sab_replay(&t, SAB_R_SLUB, false, true, r);
		sab_replay(&t, SAB_R_PRIV, false, true, r);
		sab_trace_free(&t);
	} else {
		sab_fail("no memory for the synthetic trace", NULL, 0);
	}
	kfree(r);
	if (spanalloc_errors() != errs)
		sab_fail("spanalloc reported caller errors", NULL, spanalloc_errors() - errs);
	pr_info("checks: %ld objects checked, %ld failures\n", atomic_long_read(&sab_checks),
		atomic_long_read(&sab_failures));
}

/* ---- Module ---- */

#define SAB_MAX_TRACES	4

static int sab_load_traces(struct sab_trace *t)
{
	char *list, *cur, *path;
	int n = 0;

	if (!traces || !*traces)
		return 0;
	list = kstrdup(traces, GFP_KERNEL);
	if (!list)
		return 0;
	cur = list;
	while ((path = strsep(&cur, ",")) && n < SAB_MAX_TRACES) {
		if (!*path)
			continue;
		if (sab_trace_load(&t[n], path))
			sab_fail("trace not loaded", NULL, 0);
		else
			n++;
	}
	kfree(list);
	return n;
}

/* Scenario @n is to run: "only" is not set, or lists it. */
static bool sab_want(const char *n)
{
	const char *p = only;
	size_t len = strlen(n);

	if (!p || !*p)
		return true;
	while (p) {
		if (!strncmp(p, n, len) && (p[len] == ',' || !p[len]))
			return true;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return false;
}

/* ---- mode=fastpath: one hot pair of each API, for scripts/fastpath-trace.sh ---- */

static struct sab_alloc sab_fp[4];
static struct dentry *sab_fp_dir;
static unsigned int fastpath_size = 16;
module_param(fastpath_size, uint, 0444);
MODULE_PARM_DESC(fastpath_size, "fastpath: object size (default 16)");

/* Scenario 3's bulk calls, traced too: SAB_FP_BULK objects. */
#define SAB_FP_BULK	16
static void *sab_fp_bulk[SAB_FP_BULK];

/*
 * One allocate+free pair of each API, in the order of enum sab_api, then a
 * bulk allocation and free of SAB_FP_BULK objects with each cache API, each
 * followed by three nops: the host single-steps this function in QEMU's
 * gdbstub and cuts its instruction trace at the nops.
 */
static noinline void sab_fastpath_run(void)
{
	sab_put(&sab_fp[0], SAB_SA_CACHE, sab_get(&sab_fp[0], SAB_SA_CACHE));
	asm volatile("nop; nop; nop" ::: "memory");
	sab_put(&sab_fp[1], SAB_SA_SIZE, sab_get(&sab_fp[1], SAB_SA_SIZE));
	asm volatile("nop; nop; nop" ::: "memory");
	sab_put(&sab_fp[2], SAB_SL_CACHE, sab_get(&sab_fp[2], SAB_SL_CACHE));
	asm volatile("nop; nop; nop" ::: "memory");
	sab_put(&sab_fp[3], SAB_SL_KMALLOC, sab_get(&sab_fp[3], SAB_SL_KMALLOC));
	asm volatile("nop; nop; nop" ::: "memory");
	if (spanalloc_cache_alloc_bulk(sab_fp[0].sc, GFP_KERNEL, SAB_FP_BULK, sab_fp_bulk))
		spanalloc_cache_free_bulk(sab_fp[0].sc, SAB_FP_BULK, sab_fp_bulk);
	asm volatile("nop; nop; nop" ::: "memory");
	if (kmem_cache_alloc_bulk(sab_fp[2].kc, GFP_KERNEL, SAB_FP_BULK, sab_fp_bulk))
		kmem_cache_free_bulk(sab_fp[2].kc, SAB_FP_BULK, sab_fp_bulk);
	asm volatile("nop; nop; nop" ::: "memory");
}

/* Writing to sabench/fastpath warms each pair up, then runs sab_fastpath_run(). */
static ssize_t sab_fp_write(struct file *f, const char __user *buf, size_t len, loff_t *pos)
{
	unsigned int i, k;

	for (i = 0; i < 2000; i++) {
		for (k = 0; k < ARRAY_SIZE(sab_fp); k++)
			sab_put_any(&sab_fp[k], sab_get_any(&sab_fp[k]));
		if (spanalloc_cache_alloc_bulk(sab_fp[0].sc, GFP_KERNEL, SAB_FP_BULK,
					       sab_fp_bulk))
			spanalloc_cache_free_bulk(sab_fp[0].sc, SAB_FP_BULK, sab_fp_bulk);
		if (kmem_cache_alloc_bulk(sab_fp[2].kc, GFP_KERNEL, SAB_FP_BULK, sab_fp_bulk))
			kmem_cache_free_bulk(sab_fp[2].kc, SAB_FP_BULK, sab_fp_bulk);
	}
	sab_fastpath_run();
	return len;
}

static const struct file_operations sab_fp_fops = {
	.owner = THIS_MODULE,
	.write = sab_fp_write,
};

static void sab_fastpath_exit(void)
{
	unsigned int k;

	debugfs_remove_recursive(sab_fp_dir);
	sab_fp_dir = NULL;
	for (k = 0; k < ARRAY_SIZE(sab_fp); k++)
		sab_alloc_fini(&sab_fp[k]);
}

static int sab_fastpath_init(void)
{
	unsigned int k;

	for (k = 0; k < ARRAY_SIZE(sab_fp); k++) {
		if (sab_alloc_init(&sab_fp[k], k, fastpath_size)) {
			sab_fastpath_exit();
			return -ENOMEM;
		}
	}
	sab_fp_dir = debugfs_create_dir("sabench", NULL);
	debugfs_create_file("fastpath", 0200, sab_fp_dir, NULL, &sab_fp_fops);
	pr_info("fastpath: ready, %u B\n", fastpath_size);
	return 0;
}

/*
 * mode=profile, for scripts/profile.sh (make profile): replay each trace
 * whole, runs times, on one allocator, and nothing else, under perf.
 */
static int sab_profile_run(void)
{
	enum sab_impl impl = !strcmp(profile, "slub") ? SAB_R_SLUB : SAB_R_SA;
	struct sab_replay *r;
	struct sab_trace *t;
	unsigned int k;
	int i, nt;

	if (impl == SAB_R_SA && strcmp(profile, "spanalloc")) {
		pr_err("profile=%s: want spanalloc or slub\n", profile);
		return -EINVAL;
	}
	t = kcalloc(SAB_MAX_TRACES, sizeof(*t), GFP_KERNEL);
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!t || !r) {
		kfree(t);
		kfree(r);
		return -ENOMEM;
	}
	sab_pages_init();
	nt = sab_load_traces(t);
	for (i = 0; i < nt; i++) {
		for (k = 0; k < runs; k++)
			sab_replay(&t[i], impl, false, false, r);
		pr_info("profile: %s replayed %u times on %s, %lld instructions per event (sampled by perf)\n",
			t[i].name, runs, sab_impl_name[impl], sab_fx(r->est_ns, r->nr) / 100);
		sab_trace_free(&t[i]);
	}
	sab_pages_exit();
	kfree(r);
	kfree(t);
	return 0;
}

static int __init sab_init(void)
{
	bool icount = !strcmp(mode, "icount"), wall = !strcmp(mode, "wall");
	bool verify = !strcmp(mode, "verify");
	struct sab_trace *t;
	int i, nt;

	if (!strcmp(mode, "fastpath"))
		return sab_fastpath_init();
	if (!strcmp(mode, "profile"))
		return sab_profile_run();
	if (!icount && !wall && !verify) {
		pr_err("mode=%s: want icount, wall, fastpath, profile or verify\n", mode);
		return -EINVAL;
	}
	t = kcalloc(SAB_MAX_TRACES, sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	sab_quiet = verify;
	pr_info("start: mode %s, %u CPUs, init_on_alloc %d, init_on_free %d, HZ %d, page size %lu\n",
		mode, num_online_cpus(), want_init_on_alloc(GFP_KERNEL), want_init_on_free(), HZ,
		PAGE_SIZE);
	sab_pages_init();
	nt = icount || verify ? sab_load_traces(t) : 0;
	if (!only || !*only)
		sab_verify_all(verify ? 1 : 4);
	if (icount && sab_want("1"))
		sab_s1();
	if (icount && sab_want("2"))
		sab_s2();
	if (icount && sab_want("3"))
		sab_s3();
	if (wall && sab_want("4"))
		sab_s4();
	if (wall && sab_want("5"))
		sab_s5();
	for (i = 0; i < nt; i++) {
		if (icount && sab_want("6")) {
			sab_s6(&t[i]);
		} else if (verify) {
			struct sab_replay *r = kzalloc(sizeof(*r), GFP_KERNEL);

			if (r)
				sab_replay(&t[i], SAB_R_SA, false, true, r);
			kfree(r);
		}
		sab_trace_free(&t[i]);
	}
	if (icount && sab_want("7"))
		sab_s7();
	sab_pages_exit();
	kfree(t);
	pr_info("verify: %s, %ld objects checked, %ld failures\n",
		atomic_long_read(&sab_failures) ? "FAILED" : "ok", atomic_long_read(&sab_checks),
		atomic_long_read(&sab_failures));
	pr_info("done\n");
	return verify && atomic_long_read(&sab_failures) ? -EIO : 0;
}

static void __exit sab_exit(void)
{
	sab_fastpath_exit();
}

module_init(sab_init);
module_exit(sab_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("spanalloc against SLUB: benchmarks and their checks");
MODULE_AUTHOR("The spanalloc developers");
