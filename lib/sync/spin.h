/* Time-bounded spinning, shared by every primitive: about 1.5 us measured on
 * the arch cycle counter (a count of pause instructions would be wrong by
 * 10x across CPUs), and none at all when only one CPU is usable. */
#ifndef MPS_LIB_SPIN_H
#define MPS_LIB_SPIN_H

#include <stdbool.h>
#include <stdint.h>
#include "../../arch/atomic.h"
#include "deadline.h"

/* Budget in spin_now() units; 0 disables spinning. Computed once. */
uint64_t mps_spin_budget(void);

/* CPUs this process may run on, read once. */
unsigned mps_usable_cpus(void);

static inline uint64_t mps_spin_now(void)
{
#ifdef MPS_ARCH_NO_CYCLES
	return (uint64_t)mps_monotonic_ns();
#else
	return a_cycles();
#endif
}

struct mps_spin {
	uint64_t end;
};

/* False when this machine should not spin. */
static inline bool mps_spin_begin(struct mps_spin *s)
{
	uint64_t budget = mps_spin_budget();
	s->end = mps_spin_now() + budget;
	return budget != 0;
}

/* One round of pause hints; false once the budget is spent. */
static inline bool mps_spin_more(struct mps_spin *s)
{
	for (int i = 0; i < 4; i++)
		a_spin();
	return mps_spin_now() < s->end;
}

#endif
