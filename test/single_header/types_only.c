/* A file of a library that keeps a private (MPSYNC_STATIC) copy elsewhere:
 * it includes the header only for the types. The static declarations it
 * never uses must not warn (-Wall -Wextra -Wpedantic -Werror). */
#define MPSYNC_STATIC
#include "mpsync.h"

struct guarded_counter {
	mps_lock_t lock;
	mps_cond_t changed;
	long value;
};

long guarded_counter_size(void);

long guarded_counter_size(void)
{
	return (long)sizeof(struct guarded_counter);
}
