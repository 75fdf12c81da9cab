/* Lock: research/conformance.md §2, in three flavours. */
#include <errno.h>
#include "harness.h"

static int hold_and_count(struct mps_area *a, int index)
{
	(void)index;
	for (int i = 0; i < 2000; i++) {
		if (mps_lock_acquire(&a->lock, 10) != 0)
			return 1;
		a->value[0]++;
		mps_lock_release(&a->lock);
	}
	return 0;
}

MPS_FLAVOURS(lock, mutual_exclusion)
ParameterizedTest(enum mps_flavour *f, lock, mutual_exclusion)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	mps_workers_start(&w, *f, a, hold_and_count, 4, 0);
	cr_assert_eq(mps_workers_join(&w, 60), 0);
	cr_assert_eq(a->value[0], 8000, "%s: lost updates", mps_flavour_name(*f));
	cr_assert(!mps_lock_locked(&a->lock));
	mps_area_destroy(a);
}
