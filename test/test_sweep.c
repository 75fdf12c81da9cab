/* Kill at every store, every operation (issue 11 item 2; SPEC §6). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpsync/container.h>
#include <mpsync/queue.h>
#include <mpsync/value.h>
#include "harness.h"
#include "segtest.h"
#include "sweep.h"
#include "../lib/segment/var.h"

static const char long1[] = "a string long enough for a heap blob, one";
static const char long2[] = "a string long enough for a heap blob, two";

static mps_dict_t *dict(mps_segment_t *seg, const char *name)
{
	return sweep_obj(seg, name);
}

static mps_dict_t *new_dict(mps_segment_t *seg, const char *name)
{
	mps_dict_t *d = NULL;
	cr_assert_eq(mps_segment_dict(seg, name, MPS_CREATE_ONLY, &d), 0);
	return d;
}

static void set_s(mps_dict_t *d, const char *k, const char *v)
{
	mps_var_t key = mps_str(k), val = mps_str(v);
	cr_assert_eq(mps_dict_set(d, &key, &val), 0);
}

static void setup_update(mps_segment_t *seg)
{
	mps_dict_t *d = new_dict(seg, "d"), *s = new_dict(seg, "src");
	cr_assert(d && s);
	set_s(d, "a", long1);
	set_s(d, "b", "short");
	set_s(s, "a", long2);
	for (int i = 0; i < 10; i++) {
		char k[8];
		snprintf(k, sizeof k, "k%d", i);
		set_s(s, k, long1);
	}
}

static int run_update(mps_segment_t *seg)
{
	return mps_dict_update(dict(seg, "d"), dict(seg, "src"));
}

static void survive_dict(mps_segment_t *seg)
{
	mps_dict_t *d = dict(seg, "d");
	mps_var_t k = mps_str("w"), v = mps_str(long2);
	if (d)
		mps_dict_set(d, &k, &v);
}

static const struct sweep_case cases[] = {
	{ "dict update", 0, setup_update, survive_dict, { { "update", run_update, NULL } }, 1, false },
};

Test(sweep, dict)
{
	struct sweep_plan p = sweep_plan_from_env();
	int bad = 0;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sweep_stats s;
		sweep_case(&cases[i], &p, &s);
		cr_log_info("%s: %d stores, %d points replayed: %d before, %d after; %d killed for "
		            "real; %d bad; %ld steps, %.1f s", cases[i].name, s.stores, s.killed,
		            s.as_before, s.as_after, s.real, s.bad, s.steps, s.seconds);
		bad += s.bad;

	}
	cr_assert_eq(bad, 0);
}
