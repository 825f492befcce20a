// SPDX-License-Identifier: GPL-2.0
/*
 * A client module that leaks on purpose, for the kselftest
 * tests/selftests/spanalloc/kmemleak.sh: kmemleak must find spanalloc
 * objects that nobody points to any more, as it finds kmalloc ones.
 *
 * /sys/kernel/debug/sa_leaky/
 *   leak     write N: allocate N objects of each kind (spanalloc_alloc() of
 *            24, 200 and 3000 bytes, a named cache's object, a whole-span
 *            object of 40000 bytes) and forget them: only their addresses
 *            XOR a random key are kept, which kmemleak cannot take for
 *            pointers. The first object of the named cache is the first
 *            object of its span.
 *   objects  (0400) the forgotten objects' addresses, one a line
 *   free     write anything: free them all (the test's clean-up)
 */
#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/sched/task_stack.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/string.h>

#include <spanalloc.h>

#define SA_LEAKY_MAX	256

static const unsigned int sa_leaky_sizes[] = { 24, 200, 3000, 0, 40000 };	/* 0: the cache */

static DEFINE_MUTEX(sa_leaky_lock);
static unsigned long sa_leaky_key;			/* XOR key; sa_leaky_lock */
static unsigned long sa_leaky_hidden[SA_LEAKY_MAX];	/* address ^ key; sa_leaky_lock */
static bool sa_leaky_cached[SA_LEAKY_MAX];		/* from the cache; sa_leaky_lock */
static unsigned int sa_leaky_nr;			/* entries used; sa_leaky_lock */
static struct spanalloc_cache *sa_leaky_cache;		/* 128-byte objects */
static struct dentry *sa_leaky_dir;

/* Allocate and forget; no copy of a pointer stays in this frame's callers. */
static noinline int sa_leaky_alloc(unsigned int n)
{
	unsigned int i, k;
	void *p;

	lockdep_assert_held(&sa_leaky_lock);
	for (i = 0; i < n; i++) {
		for (k = 0; k < ARRAY_SIZE(sa_leaky_sizes); k++) {
			if (sa_leaky_nr == SA_LEAKY_MAX)
				return -ENOSPC;
			if (sa_leaky_sizes[k])
				p = spanalloc_alloc(sa_leaky_sizes[k], GFP_KERNEL);
			else
				p = spanalloc_cache_alloc(sa_leaky_cache, GFP_KERNEL);
			if (!p)
				return -ENOMEM;
			sa_leaky_cached[sa_leaky_nr] = !sa_leaky_sizes[k];
			sa_leaky_hidden[sa_leaky_nr++] = (unsigned long)p ^ sa_leaky_key;
			p = NULL;
		}
	}
	return 0;
}

/*
 * Overwrite the stack below us down to 2 KiB above its end, where the
 * allocations (the page allocator's, zeroing, kmemleak's own bookkeeping
 * under them) left copies of the pointers: kmemleak scans a live task's
 * whole stack, and the shell that wrote to "leak" lives on. One 512-byte
 * frame at a time, so that nothing is written outside a frame of ours.
 */
static noinline void sa_leaky_scrub(void)
{
	unsigned long end = (unsigned long)task_stack_page(current);
	char buf[512];

	memzero_explicit(buf, sizeof(buf));
	if ((unsigned long)buf - end > 2 * sizeof(buf) + SZ_2K)
		sa_leaky_scrub();
	barrier_data(buf);
}

static ssize_t sa_leaky_leak_write(struct file *f, const char __user *ubuf, size_t len,
				   loff_t *ppos)
{
	unsigned int n;
	int ret = kstrtouint_from_user(ubuf, len, 0, &n);

	if (ret)
		return ret;
	mutex_lock(&sa_leaky_lock);
	ret = sa_leaky_alloc(n);
	mutex_unlock(&sa_leaky_lock);
	sa_leaky_scrub();
	return ret ?: len;
}

static void sa_leaky_free_all(void)
{
	unsigned int i;

	mutex_lock(&sa_leaky_lock);
	for (i = 0; i < sa_leaky_nr; i++) {
		void *p = (void *)(sa_leaky_hidden[i] ^ sa_leaky_key);

		if (sa_leaky_cached[i])
			spanalloc_cache_free(sa_leaky_cache, p);
		else
			spanalloc_free(p);
	}
	sa_leaky_nr = 0;
	mutex_unlock(&sa_leaky_lock);
}

static ssize_t sa_leaky_free_write(struct file *f, const char __user *ubuf, size_t len,
				   loff_t *ppos)
{
	sa_leaky_free_all();
	return len;
}

static int sa_leaky_objects_show(struct seq_file *m, void *v)
{
	unsigned int i;

	mutex_lock(&sa_leaky_lock);
	for (i = 0; i < sa_leaky_nr; i++)
		seq_printf(m, "0x%lx\n", sa_leaky_hidden[i] ^ sa_leaky_key);
	mutex_unlock(&sa_leaky_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(sa_leaky_objects);

static const struct file_operations sa_leaky_leak_fops = {
	.owner = THIS_MODULE,
	.write = sa_leaky_leak_write,
};

static const struct file_operations sa_leaky_free_fops = {
	.owner = THIS_MODULE,
	.write = sa_leaky_free_write,
};

static int __init sa_leaky_init(void)
{
	sa_leaky_key = get_random_long() | 1;
	sa_leaky_cache = spanalloc_cache_create("sa_leaky", 128, 0, 0, NULL);
	if (!sa_leaky_cache)
		return -ENOMEM;
	sa_leaky_dir = debugfs_create_dir("sa_leaky", NULL);
	debugfs_create_file("leak", 0200, sa_leaky_dir, NULL, &sa_leaky_leak_fops);
	debugfs_create_file("objects", 0400, sa_leaky_dir, NULL, &sa_leaky_objects_fops);
	debugfs_create_file("free", 0200, sa_leaky_dir, NULL, &sa_leaky_free_fops);
	return 0;
}

static void __exit sa_leaky_exit(void)
{
	debugfs_remove_recursive(sa_leaky_dir);
	sa_leaky_free_all();
	spanalloc_cache_destroy(sa_leaky_cache);
}

module_init(sa_leaky_init);
module_exit(sa_leaky_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A spanalloc client that leaks on purpose, for the kmemleak kselftest");
