// SPDX-License-Identifier: GPL-2.0
/*
 * KASAN finds a client's mistakes in spanalloc's objects: a use after free,
 * a write past the size asked for, a read into a free neighbour. This module
 * is written as a client module would be: it uses include/spanalloc.h only.
 *
 * Each case makes the bad access for real and counts KASAN's reports through
 * the error_report_end tracepoint (the way mm/kasan/kasan_test_c.c counts
 * them through the console): exactly one report, at the bad address, or none
 * for the clean accesses beside it. KASAN prints its reports; the console
 * shows them between "spanalloc-expect: begin kasan" and "spanalloc-expect:
 * end kasan" lines, which scripts/results.py accepts when, and only when,
 * both lines are there. The bad access runs in a kworker, not in the KUnit
 * thread, so that KASAN does not fail the case itself (it fails whatever
 * test is current when it reports).
 *
 * The test VM loads this module last (tests/guest/init): a KASAN report
 * taints the kernel with LOCKDEP_NOW_UNRELIABLE, which turns lockdep off for
 * the rest of the boot.
 */
#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/module.h>
#include <linux/workqueue.h>
#include <trace/events/error_report.h>

#include <spanalloc.h>

static atomic_t sa_reports;		/* KASAN reports since the case began */
static atomic_t sa_reports_in;		/* ... of them, inside [lo, hi) */
static unsigned long sa_watch_lo;	/* the bad address expected, first byte */
static unsigned long sa_watch_hi;	/* ... and one past the last */

static void sa_probe_report(void *data, enum error_detector det, unsigned long id)
{
	if (det != ERROR_DETECTOR_KASAN)
		return;
	atomic_inc(&sa_reports);
	if (id >= READ_ONCE(sa_watch_lo) && id < READ_ONCE(sa_watch_hi))
		atomic_inc(&sa_reports_in);
}

struct sa_bad_access {
	struct work_struct work;	/* runs the access in a kworker */
	u8 *addr;			/* where */
	bool write;			/* store rather than load */
};

static void sa_bad_access_fn(struct work_struct *work)
{
	struct sa_bad_access *b = container_of(work, struct sa_bad_access, work);

	if (b->write)
		WRITE_ONCE(*b->addr, 0x5a);
	else
		(void)READ_ONCE(*b->addr);
}

/*
 * Make one access at @addr from a kworker and return the number of KASAN
 * reports it caused; *@at gets how many of them named an address in
 * [@addr, @addr + 1).
 */
static int sa_access(const void *addr, bool write, int *at)
{
	struct sa_bad_access b = { .addr = (u8 *)addr, .write = write };

	atomic_set(&sa_reports, 0);
	atomic_set(&sa_reports_in, 0);
	WRITE_ONCE(sa_watch_lo, (unsigned long)addr);
	WRITE_ONCE(sa_watch_hi, (unsigned long)addr + 1);
	INIT_WORK_ONSTACK(&b.work, sa_bad_access_fn);
	schedule_work(&b.work);
	flush_work(&b.work);
	destroy_work_on_stack(&b.work);
	*at = atomic_read(&sa_reports_in);
	return atomic_read(&sa_reports);
}

/* One access: @want KASAN reports (0 or 1), and the one names @addr. */
static void sa_expect_reports(struct kunit *test, const void *addr, bool write, int want)
{
	int at, n = sa_access(addr, write, &at);

	KUNIT_EXPECT_EQ_MSG(test, n, want, "KASAN reports for a %s at %p",
			    write ? "store" : "load", addr);
	KUNIT_EXPECT_EQ(test, at, want);
}

#define SA_EXPECT_KASAN_REPORT(test, addr, write) sa_expect_reports(test, addr, write, 1)
#define SA_EXPECT_NO_REPORT(test, addr, write) sa_expect_reports(test, addr, write, 0)

static int sa_kasan_init(struct kunit *test)
{
	if (!IS_ENABLED(CONFIG_KASAN_GENERIC))
		kunit_skip(test, "needs generic KASAN");
	return 0;
}

static void kasan_use_after_free(struct kunit *test)
{
	u8 *p = spanalloc_alloc(64, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	SA_EXPECT_NO_REPORT(test, p + 63, false);
	spanalloc_free(p);
	SA_EXPECT_KASAN_REPORT(test, p, false);
	SA_EXPECT_KASAN_REPORT(test, p + 63, false);
}

static void kasan_cache_use_after_free(struct kunit *test)
{
	struct spanalloc_cache *c = spanalloc_cache_create("sa_kasan_200", 200, 0, 0, NULL);
	u8 *p;

	KUNIT_ASSERT_NOT_NULL(test, c);
	p = spanalloc_cache_alloc(c, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	SA_EXPECT_NO_REPORT(test, p + 199, true);
	spanalloc_cache_free(c, p);
	SA_EXPECT_KASAN_REPORT(test, p + 100, false);
	spanalloc_cache_destroy(c);
}

/* 50 bytes asked for, a 64-byte slot: the 14 bytes behind are off limits. */
static void kasan_write_past_request(struct kunit *test)
{
	u8 *p = spanalloc_alloc(50, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	SA_EXPECT_NO_REPORT(test, p + 49, true);
	SA_EXPECT_KASAN_REPORT(test, p + 50, true);
	SA_EXPECT_KASAN_REPORT(test, p + 63, true);
	spanalloc_free(p);
}

/* Overflow out of an object into the next slot, which is free. */
static void kasan_read_into_free_neighbour(struct kunit *test)
{
	u8 *p[64];
	int i, n, a = -1;

	for (n = 0; n < ARRAY_SIZE(p); n++) {
		p[n] = spanalloc_alloc(64, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p[n]);
		if (n && p[n] == p[n - 1] + 64) {
			a = n - 1;
			n++;
			break;
		}
	}
	if (a < 0) {
		for (i = 0; i < n; i++)
			spanalloc_free(p[i]);
		kunit_skip(test, "no two neighbouring objects in %d allocations", n);
	}
	SA_EXPECT_NO_REPORT(test, p[a] + 64, false);	/* the neighbour, live */
	spanalloc_free(p[a + 1]);
	SA_EXPECT_KASAN_REPORT(test, p[a] + 64, false);
	SA_EXPECT_KASAN_REPORT(test, p[a] + 64 + 17, false);
	for (i = 0; i < n; i++)
		if (i != a + 1)
			spanalloc_free(p[i]);
}

/* A whole-span object: the bytes past it and the object after free. */
static void kasan_large_object(struct kunit *test)
{
	size_t size = 40000;
	u8 *p = spanalloc_alloc(size, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	SA_EXPECT_NO_REPORT(test, p + size - 1, true);
	SA_EXPECT_KASAN_REPORT(test, p + size, true);
	spanalloc_free(p);
	SA_EXPECT_KASAN_REPORT(test, p, false);
}

static int sa_kasan_suite_init(struct kunit_suite *suite)
{
	int ret = register_trace_error_report_end(sa_probe_report, NULL);

	if (!ret)
		pr_info("spanalloc-expect: begin kasan\n");
	return ret;
}

static void sa_kasan_suite_exit(struct kunit_suite *suite)
{
	unregister_trace_error_report_end(sa_probe_report, NULL);
	tracepoint_synchronize_unregister();
	pr_info("spanalloc-expect: end kasan\n");
}

static struct kunit_case spanalloc_kasan_cases[] = {
	KUNIT_CASE(kasan_use_after_free),
	KUNIT_CASE(kasan_cache_use_after_free),
	KUNIT_CASE(kasan_write_past_request),
	KUNIT_CASE(kasan_read_into_free_neighbour),
	KUNIT_CASE(kasan_large_object),
	{}
};

static struct kunit_suite spanalloc_kasan_suite = {
	.name = "spanalloc_kasan",
	.suite_init = sa_kasan_suite_init,
	.suite_exit = sa_kasan_suite_exit,
	.init = sa_kasan_init,
	.test_cases = spanalloc_kasan_cases,
};

kunit_test_suites(&spanalloc_kasan_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit: KASAN reports a client's misuse of spanalloc objects");
