/* The floor: the least a futex lock can do across processes.
 *
 * mutex3 from Drepper, "Futexes Are Tricky": word 0 free, 1 locked, 2 locked
 * with possible sleepers. lock: CAS 0->1; else exchange in 2 and sleep while
 * the word is 2. unlock: decrement; if the old value was not 1, store 0 and
 * wake one. No spinning, no owner, no timeout: nothing a real library could
 * ship, which is why it is the floor. Shared futex ops (no PRIVATE flag),
 * like mpsync and pthread's PROCESS_SHARED objects.
 *
 * raw_futex_wait/wake are the bare syscalls, for the hand-off floor. */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

static _Thread_local uint64_t calls;

static long sys_futex(atomic_uint *w, int op, unsigned val)
{
	calls++;
	return syscall(SYS_futex, (unsigned *)w, op, val, NULL, NULL, 0);
}

uint64_t futex3_calls(void)
{
	return calls;
}

void futex3_lock(atomic_uint *w)
{
	unsigned c = 0;
	if (atomic_compare_exchange_strong(w, &c, 1))
		return;
	if (c != 2)
		c = atomic_exchange(w, 2);
	while (c != 0) {
		sys_futex(w, FUTEX_WAIT, 2);
		c = atomic_exchange(w, 2);
	}
}

void futex3_unlock(atomic_uint *w)
{
	if (atomic_fetch_sub(w, 1) != 1) {
		atomic_store(w, 0);
		sys_futex(w, FUTEX_WAKE, 1);
	}
}

void raw_futex_wait(atomic_uint *w, unsigned val)
{
	sys_futex(w, FUTEX_WAIT, val);
}

void raw_futex_wake(atomic_uint *w, int n)
{
	sys_futex(w, FUTEX_WAKE, (unsigned)n);
}
