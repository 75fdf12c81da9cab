/* Self-test of arch/atomic.h on the architecture it is built for (native,
 * or cross-built and run under qemu-user by tools/cross.sh).
 *
 * Every operation the header provides is checked single-threaded (return
 * values, wrap-around, both halves of 64-bit words, a failed CAS returns the
 * current value and writes nothing, no neighbouring word is touched), then
 * under contention (N threads x M loops with exact final sums), then the
 * futex paths through the public API (Lock, Event, Semaphore over 2 threads).
 *
 * Plain C, no Criterion: prints "N passed, N failed" alone on its last line
 * and exits non-zero on any failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mpsync.h>
#include "../../arch/atomic.h"

#define NTHREADS 4
#define LOOPS    20000
#define FUTEX_ROUNDS 2000

static int passed, failed;

static void check(int ok, const char *what, uint64_t got, uint64_t want, int line)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL line %d: %s: got 0x%" PRIx64 ", want 0x%" PRIx64 "\n", line, what, got, want);
}

#define EQ(got, want) do { \
	uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want); \
	check(g_ == w_, #got " == " #want, g_, w_, __LINE__); \
} while (0)

#define TRUE(cond) check(!!(cond), #cond, 0, 1, __LINE__)

/* A 32-bit word between two guards, so a wrong-width store shows. */
struct guarded32 {
	uint32_t lo_guard;
	uint32_t word;
	uint32_t hi_guard;
} __attribute__((aligned(16)));

#define GUARD 0xa5a5a5a5u

static void guards_intact(const struct guarded32 *g, int line)
{
	check(g->lo_guard == GUARD && g->hi_guard == GUARD, "guards intact",
	      (uint64_t)g->hi_guard << 32 | g->lo_guard, (uint64_t)GUARD << 32 | GUARD, line);
}

static struct guarded32 guarded(uint32_t v)
{
	struct guarded32 g = { GUARD, v, GUARD };
	return g;
}

/* ---- single-thread semantics ---------------------------------------- */

static void test_load_store(void)
{
	static const uint32_t values[] = { 0, 1, 0x7fffffffu, 0x80000000u, 0xffffffffu, 0x12345678u };
	struct guarded32 g = guarded(0);
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		a_store(&g.word, values[i]);
		EQ(g.word, values[i]);
		EQ(a_load(&g.word), values[i]);
		EQ(a_load_relaxed(&g.word), values[i]);
	}
	guards_intact(&g, __LINE__);
}

static void test_load64(void)
{
	uint64_t w = 0xfedcba9876543210ull;
	EQ(a_load64(&w), 0xfedcba9876543210ull);
	w = 0xffffffff00000000ull;
	EQ(a_load64(&w), 0xffffffff00000000ull);
	w = 1;
	EQ(a_load64(&w), 1);
}

static void test_cas_success(void)
{
	struct guarded32 g = guarded(5);
	EQ(a_cas(&g.word, 5, 6), 5);
	EQ(g.word, 6);
	/* High bit set: riscv64 must compare sign-extended lr.w results. */
	a_store(&g.word, 0x80000001u);
	EQ(a_cas(&g.word, 0x80000001u, 0xfffffffeu), 0x80000001u);
	EQ(g.word, 0xfffffffeu);
	EQ(a_cas(&g.word, 0xfffffffeu, 0), 0xfffffffeu);
	EQ(g.word, 0);
	EQ(a_cas(&g.word, 0, 0), 0);
	EQ(g.word, 0);
	guards_intact(&g, __LINE__);
}

static void test_cas_failure(void)
{
	struct guarded32 g = guarded(7);
	EQ(a_cas(&g.word, 8, 9), 7);
	EQ(g.word, 7);
	a_store(&g.word, 0x80000000u);
	EQ(a_cas(&g.word, 0, 1), 0x80000000u);
	EQ(a_cas(&g.word, 0x00000000u, 0x80000000u), 0x80000000u);
	/* Same low 31 bits, different high bit. */
	EQ(a_cas(&g.word, 0x7fffffffu | 0x80000000u, 3), 0x80000000u);
	a_store(&g.word, 0xffffffffu);
	EQ(a_cas(&g.word, 0x7fffffffu, 3), 0xffffffffu);
	EQ(g.word, 0xffffffffu);
	guards_intact(&g, __LINE__);
}

static void test_cas64(void)
{
	uint64_t w[3] = { 0x1111111111111111ull, 0x100000000ull, 0x2222222222222222ull };
	/* Low halves equal, high halves differ: must fail. */
	EQ(a_cas64(&w[1], 0, 5), 0x100000000ull);
	EQ(w[1], 0x100000000ull);
	EQ(a_cas64(&w[1], 0x200000000ull, 5), 0x100000000ull);
	EQ(w[1], 0x100000000ull);
	EQ(a_cas64(&w[1], 0x100000000ull, 0xffffffffffffffffull), 0x100000000ull);
	EQ(w[1], 0xffffffffffffffffull);
	EQ(a_cas64(&w[1], 0xffffffffffffffffull, 0x8000000000000000ull), 0xffffffffffffffffull);
	EQ(w[1], 0x8000000000000000ull);
	EQ(a_cas64(&w[1], 0, 1), 0x8000000000000000ull);
	EQ(w[1], 0x8000000000000000ull);
	EQ(w[0], 0x1111111111111111ull);
	EQ(w[2], 0x2222222222222222ull);
}

static void test_swap(void)
{
	struct guarded32 g = guarded(3);
	EQ(a_swap(&g.word, 0xffffffffu), 3);
	EQ(g.word, 0xffffffffu);
	EQ(a_swap(&g.word, 0x80000000u), 0xffffffffu);
	EQ(a_swap(&g.word, 0), 0x80000000u);
	EQ(g.word, 0);
	guards_intact(&g, __LINE__);
}

static void test_fetch_add(void)
{
	struct guarded32 g = guarded(10);
	EQ(a_fetch_add(&g.word, 5), 10);
	EQ(g.word, 15);
	EQ(a_fetch_add(&g.word, 0xffffffffu), 15);   /* adding -1 */
	EQ(g.word, 14);
	a_store(&g.word, 0xffffffffu);
	EQ(a_fetch_add(&g.word, 1), 0xffffffffu);    /* wraps to 0 */
	EQ(g.word, 0);
	a_store(&g.word, 0x7fffffffu);
	EQ(a_fetch_add(&g.word, 1), 0x7fffffffu);
	EQ(g.word, 0x80000000u);
	EQ(a_fetch_add(&g.word, 0), 0x80000000u);
	guards_intact(&g, __LINE__);
}

static void test_fetch_or(void)
{
	struct guarded32 g = guarded(0x1u);
	EQ(a_fetch_or(&g.word, 0x80000000u), 0x1u);
	EQ(g.word, 0x80000001u);
	EQ(a_fetch_or(&g.word, 0x1u), 0x80000001u);   /* already set: unchanged */
	EQ(g.word, 0x80000001u);
	EQ(a_fetch_or(&g.word, 0x7ffffffeu), 0x80000001u);
	EQ(g.word, 0xffffffffu);
	EQ(a_fetch_or(&g.word, 0), 0xffffffffu);
	guards_intact(&g, __LINE__);
}

static void test_fetch_add64(void)
{
	uint64_t w[3] = { 7, 0xffffffffull, 9 };
	EQ(a_fetch_add64(&w[1], 1), 0xffffffffull);    /* carry into the high half */
	EQ(w[1], 0x100000000ull);
	EQ(a_fetch_add64(&w[1], 0x100000001ull), 0x100000000ull);
	EQ(w[1], 0x200000001ull);
	EQ(a_fetch_add64(&w[1], (uint64_t)0 - 0x200000002ull), 0x200000001ull);
	EQ(w[1], 0xffffffffffffffffull);
	EQ(a_fetch_add64(&w[1], 1), 0xffffffffffffffffull);   /* wraps to 0 */
	EQ(w[1], 0);
	EQ(w[0], 7);
	EQ(w[2], 9);
}

#ifndef MPS_ARCH_NO_CYCLES
static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
#endif

static void test_spin_and_cycles(void)
{
	for (int i = 0; i < 1000; i++)
		a_spin();
	passed++;   /* a_spin ran (an illegal encoding would have trapped) */
#ifdef MPS_ARCH_NO_CYCLES
	printf("note: no a_cycles on this architecture (clock_gettime is used)\n");
#else
	uint64_t prev = a_cycles(), first = prev;
	int backwards = 0;
	for (int i = 0; i < 10000; i++) {
		uint64_t c = a_cycles();
		backwards += c < prev;
		prev = c;
	}
	EQ(backwards, 0);
	int64_t t0 = now_ns();
	while (now_ns() - t0 < 20000000LL)
		a_spin();
	TRUE(a_cycles() > first);
#endif
}

/* a_cas_narrow: each byte and halfword position of a word; only the target
 * bytes change, a mismatch writes nothing, the guards around the word hold. */
static void test_cas_narrow(void)
{
	for (unsigned size = 1; size <= 2; size++) {
		for (unsigned pos = 0; pos < 4; pos += size) {
			struct guarded32 g = guarded(0x44332211u);
			unsigned char *p = (unsigned char *)&g.word + pos;
			uint32_t mask = (size == 1 ? 0xffu : 0xffffu) << (pos * 8);
			uint32_t cur = (0x44332211u & mask) >> (pos * 8);
			uint32_t want = size == 1 ? 0xeeu : 0xeeddu;
			EQ(a_cas_narrow(p, size, cur ^ 1, want), 0);
			EQ(g.word, 0x44332211u);
			EQ(a_cas_narrow(p, size, cur, want), 1);
			EQ(g.word, (0x44332211u & ~mask) | (want << (pos * 8)));
			guards_intact(&g, __LINE__);
		}
	}
}

/* ---- contention -------------------------------------------------------- */

struct shared {
	uint32_t add32, cas32, fetched_or_claims, spinlock, guarded_count;
	uint64_t add64, cas64;
	uint32_t claim[LOOPS];
	uint32_t bits[256];
	uint8_t bytes[4] __attribute__((aligned(4)));   /* one per thread, one word */
	uint16_t halves[2] __attribute__((aligned(4))); /* threads 0-1 / 2-3 share each */
};

static struct shared sh;

struct worker {
	pthread_t thread;
	int index;
};

static void cas_increment32(uint32_t *p)
{
	uint32_t v = a_load_relaxed(p), seen;
	while ((seen = a_cas(p, v, v + 1)) != v)
		v = seen;
}

static void cas_increment64(uint64_t *p, uint64_t step)
{
	uint64_t v = a_load64(p), seen;
	while ((seen = a_cas64(p, v, v + step)) != v)
		v = seen;
}

/* A test-and-set lock from a_swap and a_store: mutual exclusion over a
 * plain (non-atomic) counter checks acquire/release order as well. */
/* Increments a byte or halfword by a_cas_narrow while neighbours change. */
static void cas_increment_narrow(void *p, unsigned size)
{
	for (;;) {
		uint32_t v = size == 1 ? __atomic_load_n((uint8_t *)p, __ATOMIC_RELAXED)
		                       : __atomic_load_n((uint16_t *)p, __ATOMIC_RELAXED);
		uint32_t next = (v + 1) & (size == 1 ? 0xffu : 0xffffu);
		if (a_cas_narrow(p, size, v, next))
			return;
	}
}

static void swap_token_increment(void)
{
	while (a_swap(&sh.spinlock, 1) != 0)
		while (a_load_relaxed(&sh.spinlock) != 0)
			a_spin();
	sh.guarded_count++;
	a_store(&sh.spinlock, 0);
}

static void *contend(void *arg)
{
	struct worker *w = arg;
	uint32_t bit = 1u << w->index;
	for (int i = 0; i < LOOPS; i++) {
		a_fetch_add(&sh.add32, 1);
		a_fetch_add64(&sh.add64, 0x100000001ull);
		cas_increment32(&sh.cas32);
		cas_increment64(&sh.cas64, 0x100000001ull);
		swap_token_increment();
		if (a_fetch_or(&sh.claim[i], 1) == 0)
			a_fetch_add(&sh.fetched_or_claims, 1);
		a_fetch_or(&sh.bits[i & 255], bit);
		cas_increment_narrow(&sh.bytes[w->index], 1);
		cas_increment_narrow(&sh.halves[w->index / 2], 2);
	}
	return NULL;
}

static void test_contention(void)
{
	struct worker w[NTHREADS];
	memset(&sh, 0, sizeof sh);
	for (int i = 0; i < NTHREADS; i++) {
		w[i].index = i;
		pthread_create(&w[i].thread, NULL, contend, &w[i]);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(w[i].thread, NULL);
	uint64_t total = (uint64_t)NTHREADS * LOOPS;
	EQ(sh.add32, total);
	EQ(sh.cas32, total);
	EQ(sh.guarded_count, total);
	EQ(sh.add64, total * 0x100000001ull);
	EQ(sh.cas64, total * 0x100000001ull);
	EQ(sh.fetched_or_claims, LOOPS);   /* each claim word taken exactly once */
	int bad_bits = 0;
	for (int i = 0; i < 256; i++)
		bad_bits += sh.bits[i] != (1u << NTHREADS) - 1;
	EQ(bad_bits, 0);
	EQ(sh.spinlock, 0);
	for (int i = 0; i < NTHREADS; i++)
		EQ(sh.bytes[i], LOOPS & 0xff);   /* neighbours' updates lost nothing */
	EQ(sh.halves[0], (2 * LOOPS) & 0xffff);
	EQ(sh.halves[1], (2 * LOOPS) & 0xffff);
}

/* Message passing: data written before a_store is seen after a_load. */
static uint32_t mp_flag, mp_data[4];

static void *mp_producer(void *arg)
{
	(void)arg;
	for (uint32_t round = 1; round <= LOOPS; round++) {
		while (a_load(&mp_flag) != 0)
			a_spin();
		for (int i = 0; i < 4; i++)
			mp_data[i] = round * (uint32_t)(i + 1);
		a_store(&mp_flag, round);
	}
	return NULL;
}

static void test_message_passing(void)
{
	pthread_t t;
	int torn = 0;
	mp_flag = 0;
	pthread_create(&t, NULL, mp_producer, NULL);
	for (uint32_t round = 1; round <= LOOPS; round++) {
		uint32_t seen;
		while ((seen = a_load(&mp_flag)) == 0)
			a_spin();
		for (int i = 0; i < 4; i++)
			torn += mp_data[i] != seen * (uint32_t)(i + 1);
		torn += seen != round;
		a_store(&mp_flag, 0);
	}
	pthread_join(t, NULL);
	EQ(torn, 0);
}

/* ---- futex smoke through the public API ------------------------------- */

static mps_lock_t lock;
static mps_event_t ev_ready, ev_go;
static mps_sem_t ping, pong;
static int64_t lock_count;
static uint32_t worker_errors;

static void *lock_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < FUTEX_ROUNDS; i++) {
		if (mps_lock_acquire(&lock, 60) != 0) {
			a_fetch_add(&worker_errors, 1);
			break;
		}
		lock_count++;
		mps_lock_release(&lock);
	}
	return NULL;
}

static void test_lock_smoke(void)
{
	pthread_t t[2];
	mps_lock_init(&lock);
	lock_count = 0;
	worker_errors = 0;
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, lock_worker, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	EQ(worker_errors, 0);
	EQ(lock_count, 2 * FUTEX_ROUNDS);
	TRUE(!mps_lock_locked(&lock));
	EQ(mps_lock_release(&lock), EPERM);
}

/* The holder keeps the lock while the other thread sleeps on it. */
static void *lock_sleeper(void *arg)
{
	int *result = arg;
	mps_event_set(&ev_ready);
	result[0] = mps_lock_acquire(&lock, 0.05);    /* held: times out */
	result[1] = mps_lock_acquire(&lock, 60);      /* released meanwhile */
	if (result[1] == 0)
		mps_lock_release(&lock);
	return NULL;
}

static void test_lock_blocking(void)
{
	pthread_t t;
	int result[2] = { -1, -1 };
	mps_lock_init(&lock);
	mps_event_init(&ev_ready);
	EQ(mps_lock_acquire(&lock, 0), 0);
	pthread_create(&t, NULL, lock_sleeper, result);
	EQ(mps_event_wait(&ev_ready, 60), 0);
	struct timespec ts = { 0, 200000000 };
	nanosleep(&ts, NULL);
	EQ(mps_lock_release(&lock), 0);
	pthread_join(t, NULL);
	EQ(result[0], ETIMEDOUT);
	EQ(result[1], 0);
	TRUE(!mps_lock_locked(&lock));
}

static void *event_waiter(void *arg)
{
	int *result = arg;
	*result = mps_event_wait(&ev_go, 60);
	mps_event_set(&ev_ready);
	return NULL;
}

static void test_event_smoke(void)
{
	pthread_t t;
	int result = -1;
	mps_event_init(&ev_go);
	mps_event_init(&ev_ready);
	EQ(mps_event_wait(&ev_go, 0.01), ETIMEDOUT);
	pthread_create(&t, NULL, event_waiter, &result);
	struct timespec ts = { 0, 50000000 };
	nanosleep(&ts, NULL);
	mps_event_set(&ev_go);
	EQ(mps_event_wait(&ev_ready, 60), 0);
	pthread_join(t, NULL);
	EQ(result, 0);
	TRUE(mps_event_is_set(&ev_go));
	mps_event_clear(&ev_go);
	TRUE(!mps_event_is_set(&ev_go));
}

static void *sem_ponger(void *arg)
{
	int *errors = arg;
	for (int i = 0; i < FUTEX_ROUNDS; i++) {
		if (mps_sem_acquire(&ping, 60) != 0 || mps_sem_release(&pong, 1) != 0) {
			(*errors)++;
			break;
		}
	}
	return NULL;
}

static void test_sem_smoke(void)
{
	pthread_t t;
	int errors = 0, mine = 0;
	EQ(mps_sem_init(&ping, 0), 0);
	EQ(mps_sem_init_bounded(&pong, 1), 0);
	EQ(mps_sem_acquire(&pong, 0), 0);      /* pong now 0, bound 1 */
	pthread_create(&t, NULL, sem_ponger, &errors);
	for (int i = 0; i < FUTEX_ROUNDS; i++) {
		if (mps_sem_release(&ping, 1) != 0 || mps_sem_acquire(&pong, 60) != 0) {
			mine++;
			break;
		}
	}
	pthread_join(t, NULL);
	EQ(errors, 0);
	EQ(mine, 0);
	EQ(mps_sem_value(&ping), 0);
	EQ(mps_sem_value(&pong), 0);
	EQ(mps_sem_release(&pong, 1), 0);
	EQ(mps_sem_release(&pong, 1), EOVERFLOW);
	EQ(mps_sem_acquire(&ping, 0.01), ETIMEDOUT);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_load_store();
	test_load64();
	test_cas_success();
	test_cas_failure();
	test_cas64();
	test_swap();
	test_fetch_add();
	test_fetch_or();
	test_fetch_add64();
	test_cas_narrow();
	test_spin_and_cycles();
	test_contention();
	test_message_passing();
	test_lock_smoke();
	test_lock_blocking();
	test_event_smoke();
	test_sem_smoke();
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
