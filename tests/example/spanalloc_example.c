// SPDX-License-Identifier: GPL-2.0
/*
 * spanalloc_example: a client of spanalloc, written as a user would write one.
 *
 * It includes <spanalloc.h> and calls the exported API only. A workload runs
 * on demand from user space through /sys/kernel/debug/spanalloc_example/, or,
 * the same four files with the same contents, through the module parameters
 * in /sys/module/spanalloc_example/parameters/ (which work without debugfs;
 * run and free only once the module is loaded, not as insmod arguments):
 *
 *   run     write N: on every online CPU, in a kthread bound to it, allocate
 *           N objects of mixed sizes (8 B to 64 KiB, mostly small) with
 *           spanalloc_alloc() and from the named cache "example_obj",
 *           fill each with a pattern and keep it; then free about a third of
 *           them from another CPU than the one that allocated them (each
 *           pattern checked first). Returns when done.
 *   free    write anything: check the pattern of every object still held,
 *           and free it.
 *   held    read: what is held now, and what the runs did.
 *   errors  read: pattern mismatches and allocation failures seen.
 *
 * The read files are lines of "name: value". Unloading the module frees
 * everything and destroys the cache.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/kernel.h>
#include <linux/kstrtox.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <spanalloc.h>

static unsigned int max_per_cpu = 20000;
module_param(max_per_cpu, uint, 0644);
MODULE_PARM_DESC(max_per_cpu, "Largest N accepted by run, per CPU (default 20000)");

static unsigned int cache_percent = 25;
module_param(cache_percent, uint, 0644);
MODULE_PARM_DESC(cache_percent,
		 "Percentage of objects taken from the example_obj cache (default 25)");

static unsigned int seed = 1;
module_param(seed, uint, 0444);
MODULE_PARM_DESC(seed, "Seed of the size sequence (default 1)");

#define EXAMPLE_CTOR_MAGIC	0x5350414e43544f52ULL	/* "SPANCTOR" */

/* An object of the named cache, in its constructed state between uses. */
struct example_obj {
	u64 magic;		/* EXAMPLE_CTOR_MAGIC when constructed */
	u64 payload[23];	/* zero when constructed */
};

/* What is kept of one object. */
struct example_rec {
	void *p;		/* the object, NULL once freed */
	u32 size;		/* bytes requested */
	bool cached;		/* from example_obj, not spanalloc_alloc() */
};

/* The objects one CPU allocated in one run. */
struct example_batch {
	struct list_head list;	/* on example_batches */
	unsigned int cpu;	/* the CPU that allocated them */
	unsigned int nr;	/* entries used in @recs */
	struct example_rec *recs;
};

/* One kthread's work. */
struct example_work {
	struct example_batch *batch;	/* to fill (phase 1) or thin (phase 2) */
	unsigned int want;		/* objects to allocate (phase 1) */
	u32 rnd;			/* xorshift state (phase 1) */
	unsigned long done;		/* objects allocated or freed */
	struct completion exited;
};

static struct spanalloc_cache *example_cache;
static struct dentry *example_dir;

/* Serializes run, free and the reads of held; protects all below. */
static DEFINE_MUTEX(example_lock);
static bool example_ready;	/* between the end of init and exit */
static LIST_HEAD(example_batches);
static unsigned long held_objects, held_bytes, held_cached, held_large;
static unsigned long total_allocated, total_freed, remote_frees, runs;

static atomic_long_t pattern_mismatches = ATOMIC_LONG_INIT(0);
static atomic_long_t alloc_failures = ATOMIC_LONG_INIT(0);

static void example_ctor(void *p)
{
	struct example_obj *o = p;

	memset(o, 0, sizeof(*o));
	o->magic = EXAMPLE_CTOR_MAGIC;
}

static bool example_constructed(const struct example_obj *o)
{
	return o->magic == EXAMPLE_CTOR_MAGIC &&
	       !memchr_inv(o->payload, 0, sizeof(o->payload));
}

/* The pattern of the object at @p: a function of its address. */
static u64 example_pattern(const void *p)
{
	return ((unsigned long)p * 0x9e3779b97f4a7c15ULL) ^ 0xa5a5a5a5a5a5a5a5ULL;
}

static void example_fill(void *p, size_t size)
{
	u64 pat = example_pattern(p), *w = p;
	u8 *tail = p;
	size_t i;

	for (i = 0; i < size / 8; i++)
		w[i] = pat + i;
	for (i = size & ~7UL; i < size; i++)
		tail[i] = (u8)(pat >> (8 * (i & 7)));
}

static bool example_check(const void *p, size_t size)
{
	u64 pat = example_pattern(p);
	const u64 *w = p;
	const u8 *tail = p;
	size_t i;

	for (i = 0; i < size / 8; i++)
		if (w[i] != pat + i)
			return false;
	for (i = size & ~7UL; i < size; i++)
		if (tail[i] != (u8)(pat >> (8 * (i & 7))))
			return false;
	return true;
}

static u32 example_rand(u32 *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* A request size from 8 B to 64 KiB, weighted to small ones. */
static u32 example_size(u32 *rnd)
{
	u32 r = example_rand(rnd) % 100, v = example_rand(rnd);

	if (r < 50)
		return 8 + v % 249;		/* 8 .. 256 B */
	if (r < 80)
		return 257 + v % 1792;		/* 257 B .. 2 KiB */
	if (r < 94)
		return 2049 + v % 14336;	/* 2 .. 16 KiB */
	if (r < 99)
		return 16385 + v % 16384;	/* 16 .. 32 KiB */
	return 32769 + v % 32768;		/* 32 .. 64 KiB: large objects */
}

/* Check @rec's pattern and free it: a mismatch is counted and reported. */
static void example_release(struct example_rec *rec, unsigned int cpu)
{
	if (!example_check(rec->p, rec->size)) {
		if (atomic_long_inc_return(&pattern_mismatches) <= 10)
			pr_err("pattern mismatch in a %u-byte object from CPU %u\n",
			       rec->size, cpu);
	}
	if (rec->cached) {
		example_ctor(rec->p);	/* back to its constructed state */
		spanalloc_cache_free(example_cache, rec->p);
	} else {
		spanalloc_free(rec->p);
	}
	rec->p = NULL;
}

/* Phase 1, on the batch's CPU: allocate and fill. */
static int example_alloc_fn(void *arg)
{
	struct example_work *w = arg;
	struct example_batch *b = w->batch;
	unsigned int i;

	for (i = 0; i < w->want; i++) {
		struct example_rec *rec = &b->recs[b->nr];

		if (example_rand(&w->rnd) % 100 < cache_percent) {
			rec->cached = true;
			rec->size = sizeof(struct example_obj);
			rec->p = spanalloc_cache_alloc(example_cache, GFP_KERNEL);
			if (rec->p && !example_constructed(rec->p) &&
			    atomic_long_inc_return(&pattern_mismatches) <= 10)
				pr_err("example_obj object not in its constructed state\n");
		} else {
			rec->cached = false;
			rec->size = example_size(&w->rnd);
			rec->p = spanalloc_alloc(rec->size, GFP_KERNEL);
		}
		if (!rec->p) {
			atomic_long_inc(&alloc_failures);
			continue;
		}
		example_fill(rec->p, rec->size);
		b->nr++;
		cond_resched();
	}
	w->done = b->nr;
	kthread_complete_and_exit(&w->exited, 0);
}

/* Phase 2, on another CPU than the batch's: free every third object. */
static int example_remote_free_fn(void *arg)
{
	struct example_work *w = arg;
	struct example_batch *b = w->batch;
	unsigned int i;

	for (i = 2; i < b->nr; i += 3) {
		example_release(&b->recs[i], b->cpu);
		w->done++;
		cond_resched();
	}
	kthread_complete_and_exit(&w->exited, 0);
}

/*
 * Run @fn on each CPU of @cpus, on work[k] for its k-th CPU, and wait for all.
 * A kthread that cannot be created counts as an allocation failure.
 */
static void example_on_cpus(const struct cpumask *cpus, int (*fn)(void *),
			    struct example_work *work, const char *name)
{
	unsigned int cpu, k = 0, n;

	for_each_cpu(cpu, cpus) {
		struct task_struct *t;

		init_completion(&work[k].exited);
		t = kthread_create_on_cpu(fn, &work[k], cpu, name);
		if (IS_ERR(t)) {
			atomic_long_inc(&alloc_failures);
			complete(&work[k].exited);
		} else {
			wake_up_process(t);
		}
		k++;
	}
	for (n = 0; n < k; n++)
		wait_for_completion(&work[n].exited);
}

static int example_run(unsigned int n)
{
	struct example_batch **batch;
	struct example_work *work;
	unsigned int cpu, k, nr_cpus;
	unsigned long allocated = 0, freed = 0;
	cpumask_var_t cpus;
	u64 t0, t1, t2;
	int ret = -ENOMEM;

	if (!alloc_cpumask_var(&cpus, GFP_KERNEL))
		return -ENOMEM;
	cpumask_copy(cpus, cpu_online_mask);
	nr_cpus = cpumask_weight(cpus);
	batch = kcalloc(nr_cpus, sizeof(*batch), GFP_KERNEL);
	work = kcalloc(nr_cpus, sizeof(*work), GFP_KERNEL);
	if (!batch || !work)
		goto out;

	k = 0;
	for_each_cpu(cpu, cpus) {
		batch[k] = kzalloc(sizeof(*batch[k]), GFP_KERNEL);
		if (!batch[k])
			goto out;
		batch[k]->cpu = cpu;
		batch[k]->recs = kvcalloc(n, sizeof(*batch[k]->recs), GFP_KERNEL);
		if (!batch[k]->recs)
			goto out;
		work[k].batch = batch[k];
		work[k].want = n;
		work[k].rnd = seed * 2654435761U + runs * 40503U + cpu + 1;
		if (!work[k].rnd)
			work[k].rnd = 1;
		k++;
	}

	t0 = ktime_get_ns();
	example_on_cpus(cpus, example_alloc_fn, work, "sa_example_a/%u");
	t1 = ktime_get_ns();
	for (k = 0; k < nr_cpus; k++)
		allocated += work[k].done;

	/* The k-th CPU frees from the batch of the one before it. */
	for (k = 0; k < nr_cpus; k++) {
		work[k].batch = batch[(k + nr_cpus - 1) % nr_cpus];
		work[k].done = 0;
	}
	example_on_cpus(cpus, example_remote_free_fn, work, "sa_example_f/%u");
	t2 = ktime_get_ns();

	for (k = 0; k < nr_cpus; k++) {
		struct example_batch *b = batch[k];
		unsigned int i;

		freed += work[k].done;
		for (i = 0; i < b->nr; i++) {
			if (!b->recs[i].p)
				continue;
			held_objects++;
			held_bytes += b->recs[i].size;
			held_cached += b->recs[i].cached;
			held_large += b->recs[i].size > SPANALLOC_MAX_SMALL;
		}
		list_add_tail(&b->list, &example_batches);
		batch[k] = NULL;
	}
	total_allocated += allocated;
	total_freed += freed;
	if (nr_cpus > 1)
		remote_frees += freed;
	runs++;
	pr_info("run %lu: %u CPUs x %u objects: %lu allocated in %llu ms, %lu freed from another CPU in %llu ms, %lu held\n",
		runs, nr_cpus, n, allocated, div_u64(t1 - t0, NSEC_PER_MSEC),
		freed, div_u64(t2 - t1, NSEC_PER_MSEC), held_objects);
	ret = 0;
out:
	if (batch) {
		for (k = 0; k < nr_cpus; k++) {
			if (batch[k])
				kvfree(batch[k]->recs);
			kfree(batch[k]);
		}
	}
	kfree(work);
	kfree(batch);
	free_cpumask_var(cpus);
	return ret;
}

/* Check and free everything held. Context: example_lock held. */
static void example_free_all(void)
{
	struct example_batch *b, *tmp;
	unsigned long freed = 0;
	unsigned int i;

	lockdep_assert_held(&example_lock);
	list_for_each_entry_safe(b, tmp, &example_batches, list) {
		for (i = 0; i < b->nr; i++) {
			if (!b->recs[i].p)
				continue;
			example_release(&b->recs[i], b->cpu);
			freed++;
			cond_resched();
		}
		list_del(&b->list);
		kvfree(b->recs);
		kfree(b);
	}
	total_freed += freed;
	held_objects = 0;
	held_bytes = 0;
	held_cached = 0;
	held_large = 0;
}

/**
 * example_run_n() - run the workload with @n objects per CPU
 * @n: objects per CPU, 1 to max_per_cpu
 *
 * Return: 0, -EINVAL for a bad @n, -ENODEV before init or after exit, or
 * another negative errno.
 */
static int example_run_n(unsigned int n)
{
	int ret;

	if (!n || n > max_per_cpu)
		return -EINVAL;
	ret = mutex_lock_interruptible(&example_lock);
	if (ret)
		return ret;
	ret = example_ready ? example_run(n) : -ENODEV;
	mutex_unlock(&example_lock);
	return ret;
}

/**
 * example_free_held() - check and free every object held
 *
 * Return: 0, -ENODEV before init or after exit, or -EINTR.
 */
static int example_free_held(void)
{
	int ret;

	ret = mutex_lock_interruptible(&example_lock);
	if (ret)
		return ret;
	if (example_ready)
		example_free_all();
	else
		ret = -ENODEV;
	mutex_unlock(&example_lock);
	return ret;
}

/**
 * example_held_print() - what is held now, and what the runs did
 * @buf: where to print
 * @size: its size
 *
 * Return: the length printed, or -EINTR.
 */
static int example_held_print(char *buf, size_t size)
{
	int ret, len;

	ret = mutex_lock_interruptible(&example_lock);
	if (ret)
		return ret;
	len = scnprintf(buf, size,
			"objects: %lu\nbytes_requested: %lu\ncache_objects: %lu\nlarge_objects: %lu\n"
			"runs: %lu\nallocated: %lu\nfreed: %lu\nremote_frees: %lu\n",
			held_objects, held_bytes, held_cached, held_large,
			runs, total_allocated, total_freed, remote_frees);
	mutex_unlock(&example_lock);
	return len;
}

/**
 * example_errors_print() - pattern mismatches and allocation failures seen
 * @buf: where to print
 * @size: its size
 *
 * Return: the length printed.
 */
static int example_errors_print(char *buf, size_t size)
{
	return scnprintf(buf, size, "pattern_mismatches: %ld\nalloc_failures: %ld\n",
			 atomic_long_read(&pattern_mismatches),
			 atomic_long_read(&alloc_failures));
}

/* ---- the debugfs files ---- */

static ssize_t example_run_write(struct file *file, const char __user *ubuf,
				 size_t len, loff_t *ppos)
{
	unsigned int n;
	int ret;

	ret = kstrtouint_from_user(ubuf, len, 0, &n);
	if (!ret)
		ret = example_run_n(n);
	return ret ? ret : len;
}

static const struct file_operations example_run_fops = {
	.owner = THIS_MODULE,
	.write = example_run_write,
	.llseek = noop_llseek,
};

static ssize_t example_free_write(struct file *file, const char __user *ubuf,
				  size_t len, loff_t *ppos)
{
	int ret = example_free_held();

	return ret ? ret : len;
}

static const struct file_operations example_free_fops = {
	.owner = THIS_MODULE,
	.write = example_free_write,
	.llseek = noop_llseek,
};

/* held and errors: a few short lines. */
#define EXAMPLE_TEXT_MAX	256

static int example_held_show(struct seq_file *m, void *v)
{
	char buf[EXAMPLE_TEXT_MAX];
	int len = example_held_print(buf, sizeof(buf));

	if (len < 0)
		return len;
	seq_write(m, buf, len);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(example_held);

static int example_errors_show(struct seq_file *m, void *v)
{
	char buf[EXAMPLE_TEXT_MAX];

	seq_write(m, buf, example_errors_print(buf, sizeof(buf)));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(example_errors);

/* ---- the same through module parameters (no debugfs needed) ---- */

static int example_param_run_set(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int ret;

	ret = kstrtouint(val, 0, &n);
	return ret ? ret : example_run_n(n);
}

static const struct kernel_param_ops example_run_ops = {
	.set = example_param_run_set,
};
module_param_cb(run, &example_run_ops, NULL, 0200);
MODULE_PARM_DESC(run, "Write N: run the workload, N objects per CPU (as debugfs run)");

static int example_param_free_set(const char *val, const struct kernel_param *kp)
{
	return example_free_held();
}

static const struct kernel_param_ops example_free_ops = {
	.set = example_param_free_set,
};
module_param_cb(free, &example_free_ops, NULL, 0200);
MODULE_PARM_DESC(free, "Write anything: check and free every object held (as debugfs free)");

static int example_param_held_get(char *buf, const struct kernel_param *kp)
{
	return example_held_print(buf, PAGE_SIZE);
}

static const struct kernel_param_ops example_held_ops = {
	.get = example_param_held_get,
};
module_param_cb(held, &example_held_ops, NULL, 0444);
MODULE_PARM_DESC(held, "What is held and what the runs did (as debugfs held)");

static int example_param_errors_get(char *buf, const struct kernel_param *kp)
{
	return example_errors_print(buf, PAGE_SIZE);
}

static const struct kernel_param_ops example_errors_ops = {
	.get = example_param_errors_get,
};
module_param_cb(errors, &example_errors_ops, NULL, 0444);
MODULE_PARM_DESC(errors, "Pattern mismatches and allocation failures (as debugfs errors)");

static int __init example_init(void)
{
	example_cache = spanalloc_cache_create("example_obj", sizeof(struct example_obj),
					       0, 0, example_ctor);
	if (!example_cache)
		return -ENOMEM;

	mutex_lock(&example_lock);
	example_ready = true;
	mutex_unlock(&example_lock);
	/* Without debugfs these are stubs: the module parameters remain. */
	example_dir = debugfs_create_dir("spanalloc_example", NULL);
	debugfs_create_file("run", 0200, example_dir, NULL, &example_run_fops);
	debugfs_create_file("free", 0200, example_dir, NULL, &example_free_fops);
	debugfs_create_file("held", 0444, example_dir, NULL, &example_held_fops);
	debugfs_create_file("errors", 0444, example_dir, NULL, &example_errors_fops);
	return 0;
}

static void __exit example_exit(void)
{
	/* Waits for readers and writers still inside the files. */
	debugfs_remove_recursive(example_dir);
	/*
	 * Waits for a run or free through a parameter; one written after this
	 * and before the parameters are gone finds example_ready false.
	 */
	mutex_lock(&example_lock);
	example_ready = false;
	example_free_all();
	mutex_unlock(&example_lock);
	spanalloc_cache_destroy(example_cache);
}

module_init(example_init);
module_exit(example_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("spanalloc example client: a workload on demand through debugfs or parameters");
MODULE_AUTHOR("The spanalloc developers");
