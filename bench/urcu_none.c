/* Built when liburcu-memb was not found (or MPSYNC_BENCH_URCU is off). */
#include "bench.h"

bool urcu_available(void)
{
	return false;
}

void run_urcu(const struct opts *o)
{
	(void)o;
}
