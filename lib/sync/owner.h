/* The one owner helper: who the calling thread is (its kernel tid, cached
 * per thread and forgotten in every new process however it was made), what
 * it holds (the held record that tells a word it took from one that a dead
 * thread with the same tid left behind), and whether a tid found in a word
 * still names a live thread. owner.c opens with the reasoning. */
#ifndef MPS_LIB_OWNER_H
#define MPS_LIB_OWNER_H

#include <stdbool.h>
#include <stdint.h>
#include <mpsync/abi.h>

/* The thread's state (struct mps_held, mps_tls_held), the fork stamp
 * (mps_stamp_page) and the cached tid (mps_fp_tid) are public, in
 * <mpsync/abi.h>: the inline fast paths of the public headers use them too. */
uint32_t mps_self_tid_slow(void);

static inline uint32_t mps_self_tid(void)
{
	uint32_t tid = mps_fp_tid();
	return tid ? tid : mps_self_tid_slow();
}

void mps_held_push_slow(const void *word);
void mps_held_pop_slow(const void *word);

/* The most recent entry of the held record is word. (Fields named directly:
 * see <mpsync/abi.h> on gcc 12's UBSan.) */
static inline bool mps_held_top(const void *word)
{
	uint32_t n = mps_tls_held.n;
	return n && mps_tls_held.at[n - 1] == word;
}

/* Pushes word when the record has room; false otherwise (the slow path's
 * mps_held_push_slow prunes it). */
static inline bool mps_held_push_fast(const void *word)
{
	uint32_t n = mps_tls_held.n;
	if (n >= MPS_HELD_MAX)
		return false;
	mps_tls_held.at[n] = word;
	mps_tls_held.n = n + 1;
	return true;
}

/* Pops word when it is the most recent entry; false otherwise. */
static inline bool mps_held_pop_top(const void *word)
{
	uint32_t n = mps_tls_held.n;
	if (n && mps_tls_held.at[n - 1] == word) {
		mps_tls_held.n = n - 1;
		return true;
	}
	return false;
}

static inline void mps_held_push(const void *word)
{
	if (!mps_held_push_fast(word))
		mps_held_push_slow(word);
}

static inline void mps_held_pop(const void *word)
{
	if (!mps_held_pop_top(word))
		mps_held_pop_slow(word);
}

/* Whether a word that holds this thread's own tid was taken by this thread
 * (through this address or another mapping of the same bytes). False means
 * a dead thread whose tid this one inherited left it there. Slow path only. */
bool mps_held_by_self(const void *word);

/* Reads a word that may lie outside any mapping (unmapped since its address
 * was taken) without faulting: process_vm_readv on this process. False when
 * it could not be read. Preserves errno. */
bool mps_read_word(const void *p, uint32_t *out);

/* False when the thread is gone (kill: ESRCH) or a zombie (/proc state Z/X).
 * True when it exists, including one that /proc hides (hidepid) or that
 * belongs to another user (EPERM). Preserves errno. */
bool mps_tid_alive(uint32_t tid);

/* The watcher's probe: false when tid is dead, or names a thread other than
 * the one seen first (its start time differs: the tid was reused while the
 * caller watched). *start is 0 before the first probe and is filled in then.
 * Preserves errno. */
bool mps_tid_alive_as(uint32_t tid, uint64_t *start);

/* Start time (clock ticks since boot) of thread or process id: 0 when it is
 * gone, a zombie, or hidden from this process's /proc. */
uint64_t mps_process_start(int pid);

/* Whether pid still names the process that had start time start (0: any). */
bool mps_pid_alive_since(int pid, uint64_t start);

#endif
