/* SPDX-License-Identifier: GPL-2.0 */
/*
 * spanalloc: differences between the kernels it builds for.
 *
 * The code is written to the newest interfaces (6.12); this header supplies
 * them where an older kernel (Debian 12's 6.1) lacks them. Which kernel has
 * what is decided by feature tests in Kbuild, which grep the target kernel's
 * headers and define SPANALLOC_HAVE_*; LINUX_VERSION_CODE only where a header
 * cannot tell. scripts/compat.sh builds and boots every supported kernel.
 *
 * Included from internal.h, so every file of the module sees it.
 */
#ifndef _SPANALLOC_COMPAT_H
#define _SPANALLOC_COMPAT_H

#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/types.h>
#include <kunit/test-bug.h>
/* After types.h and gfp.h: 6.1's needs them without CONFIG_FAULT_INJECTION. */
#include <linux/fault-inject.h>

/*
 * Fault injection without CONFIG_FAULT_INJECTION (Debian's kernels): 6.12
 * has stubs that inject nothing; 6.1 has none.
 */
#ifndef DECLARE_FAULT_ATTR
struct dentry;

struct fault_attr {
};

#define DECLARE_FAULT_ATTR(name) struct fault_attr name = {}

static inline bool should_fail(struct fault_attr *attr, ssize_t size)
{
	return false;
}

static inline struct dentry *fault_create_debugfs_attr(const char *name,
						       struct dentry *parent,
						       struct fault_attr *attr)
{
	return ERR_PTR(-ENODEV);
}
#endif /* !DECLARE_FAULT_ATTR */

/*
 * SLAB_NO_MERGE (for the benchmark's SLUB caches): 6.5+. Before, the flags
 * that keep a cache from being merged with another (SLAB_NEVER_MERGE in
 * mm/slab_common.c) include SLAB_NOLEAKTRACE, whose only other effect is
 * that kmemleak does not track the cache's objects.
 */
#ifndef SLAB_NO_MERGE
#define SLAB_NO_MERGE SLAB_NOLEAKTRACE
#endif

/*
 * kunit_get_current_test(): 6.3+. Before, a running KUnit test is found in
 * current->kunit_test (present when KUnit is configured).
 */
#ifndef SPANALLOC_HAVE_KUNIT_GET_CURRENT_TEST
#include <linux/sched.h>

struct kunit;

static inline struct kunit *kunit_get_current_test(void)
{
#if IS_ENABLED(CONFIG_KUNIT)
	return current->kunit_test;
#else
	return NULL;
#endif
}
#endif /* !SPANALLOC_HAVE_KUNIT_GET_CURRENT_TEST */

/*
 * shrinker_alloc(), shrinker_register(), shrinker_free(): 6.7+. Before, the
 * caller owns the struct shrinker and calls register_shrinker(s, fmt, ...)
 * and unregister_shrinker(s). The 6.7 interface is emulated: the shrinker is
 * allocated with its name, registered under that name, and freed after
 * unregistering (which does nothing if registration failed).
 */
#ifndef SPANALLOC_HAVE_SHRINKER_ALLOC
#include <linux/kernel.h>
#include <linux/printk.h>
#include <linux/slab.h>
#include <linux/stdarg.h>

struct spanalloc_compat_shrinker {
	struct shrinker shrinker;
	char name[32];
};

static inline __printf(2, 3)
struct shrinker *shrinker_alloc(unsigned int flags, const char *fmt, ...)
{
	struct spanalloc_compat_shrinker *cs;
	va_list args;

	cs = kzalloc(sizeof(*cs), GFP_KERNEL);
	if (!cs)
		return NULL;
	va_start(args, fmt);
	vsnprintf(cs->name, sizeof(cs->name), fmt, args);
	va_end(args);
	cs->shrinker.flags = flags;
	cs->shrinker.seeks = DEFAULT_SEEKS;
	return &cs->shrinker;
}

static inline void shrinker_register(struct shrinker *s)
{
	struct spanalloc_compat_shrinker *cs =
		container_of(s, struct spanalloc_compat_shrinker, shrinker);

	if (register_shrinker(s, "%s", cs->name))
		pr_warn("spanalloc: could not register shrinker %s\n", cs->name);
}

static inline void shrinker_free(struct shrinker *s)
{
	if (!s)
		return;
	unregister_shrinker(s);
	kfree(container_of(s, struct spanalloc_compat_shrinker, shrinker));
}
#endif /* !SPANALLOC_HAVE_SHRINKER_ALLOC */

#endif /* _SPANALLOC_COMPAT_H */
