// SPDX-License-Identifier: GPL-2.0
/*
 * sa_plant: a KUnit suite that plants one fault on request, so that
 * `make test-harness` can prove the test harness notices it.
 *
 * plant=none  all cases pass (the default; `make test` loads it so)
 * plant=fail  one case fails its expectation
 * plant=warn  one case triggers a kernel warning with a stack trace
 * plant=hang  one case never returns, so the guest never finishes
 */
#include <kunit/test.h>
#include <linux/bug.h>
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/string.h>

static char *plant = "none";
module_param(plant, charp, 0444);
MODULE_PARM_DESC(plant, "fault to plant: none, fail, warn or hang");

static bool planted(const char *what)
{
	return !strcmp(plant, what);
}

static void sa_plant_known(struct kunit *test)
{
	KUNIT_EXPECT_TRUE_MSG(test, planted("none") || planted("fail") ||
			      planted("warn") || planted("hang"),
			      "unknown plant=%s", plant);
}

static void sa_plant_fail(struct kunit *test)
{
	int answer = planted("fail") ? 41 : 42;

	KUNIT_EXPECT_EQ(test, answer, 42);
}

static void sa_plant_warn(struct kunit *test)
{
	bool warned = WARN_ON(planted("warn"));

	KUNIT_EXPECT_EQ(test, warned, planted("warn"));
}

static void sa_plant_hang(struct kunit *test)
{
	while (planted("hang"))
		msleep(100);
	KUNIT_SUCCEED(test);
}

static struct kunit_case sa_plant_cases[] = {
	KUNIT_CASE(sa_plant_known),
	KUNIT_CASE(sa_plant_fail),
	KUNIT_CASE(sa_plant_warn),
	KUNIT_CASE(sa_plant_hang),
	{}
};

static struct kunit_suite sa_plant_suite = {
	.name = "sa_plant",
	.test_cases = sa_plant_cases,
};

kunit_test_suite(sa_plant_suite);

MODULE_DESCRIPTION("spanalloc test harness: plant a fault on request");
MODULE_LICENSE("GPL");
