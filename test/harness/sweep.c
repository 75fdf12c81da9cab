/* The sweep (sweep.h): a holder single-stepped and captured store by
 * store, each point replayed into a fresh segment with the holder a zombie,
 * some points killed for real, survivors observed several at a time, and
 * every observation judged against the expected ones. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "segtest.h"
#include "sweep.h"

#define OBSERVE_S 20      /* a survivor that needs longer is wedged */
#define POINTS_MAX 200000
#define WINDOW    16       /* survivors observed at once */
#define STEPS_MAX 50000000L /* one operation, single-stepped */

/* ------------------------------------------------------ processes */

static size_t seg_size(const struct sweep_case *c)
{
	return c->size ? c->size : MPS_SEG_MIN_SIZE;
}

static mps_segment_t *fresh(const struct sweep_case *c)
{
	mps_segment_t *seg = segtest_anon(seg_size(c));
	c->setup(seg);
	return seg;
}

/* Runs holder i to its end in an untraced child. */
static void run_whole(const struct sweep_case *c, int i, mps_segment_t *seg)
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(c->holder[i].run(seg) == 0 ? 0 : 4);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "%s: %s died", c->name, c->holder[i].name);
}

/* The survivor's write, then the observation, in a child under a time
 * bound: "HANG" or "CRASH" instead of a text when it does not finish.
 * Several run at once: recovering a lock from a dead holder waits for the
 * end of a sleep slice (20 ms), which would otherwise dominate the sweep. */
struct observer {
	pid_t pid;
	int fd;
	mps_segment_t *seg;
	int kills[SWEEP_CHAIN_MAX];
};

static void observe_start(const struct sweep_case *c, mps_segment_t *seg, struct observer *o)
{
	int fd[2];
	cr_assert_eq(pipe(fd), 0);
	o->seg = seg;
	o->pid = fork();
	cr_assert(o->pid >= 0);
	if (o->pid == 0) {
		static char buf[SWEEP_TEXT_MAX];
		close(fd[0]);
		alarm(OBSERVE_S);
		if (c->survive)
			c->survive(seg);
		sweep_observe(seg, buf, sizeof buf);
		size_t len = strlen(buf) + 1;
		for (size_t off = 0; off < len;) {
			ssize_t n = write(fd[1], buf + off, len - off);
			if (n <= 0)
				_exit(5);
			off += (size_t)n;
		}
		_exit(0);
	}
	close(fd[1]);
	o->fd = fd[0];
}

/* Collects the text and closes the observer's segment. */
static void observe_finish(struct observer *o, char *out)
{
	size_t len = 0;
	for (;;) {
		ssize_t n = read(o->fd, out + len, SWEEP_TEXT_MAX - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	out[len] = 0;
	close(o->fd);
	int st;
	cr_assert_eq(waitpid(o->pid, &st, 0), o->pid);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
		snprintf(out, SWEEP_TEXT_MAX, "HANG: the survivor did not finish in %d s\n", OBSERVE_S);
	else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		snprintf(out, SWEEP_TEXT_MAX, "CRASH: the survivor ended with status 0x%x\n", st);
	cr_assert_eq(mps_segment_close(o->seg), 0);
}

static void survive_and_observe(const struct sweep_case *c, mps_segment_t *seg, char *out)
{
	struct observer o;
	observe_start(c, seg, &o);
	observe_finish(&o, out);
}

/* ------------------------------------------------------- stepping */

struct tracee {
	pid_t pid;
	const unsigned char *base;
	unsigned char *prev;
	size_t size;
	long steps;
	bool at_exit;             /* stopped at its exit (PTRACE_EVENT_EXIT) */
};

static void tracee_start(struct tracee *t, const struct sweep_case *c, int i, mps_segment_t *seg,
                         unsigned char *prev)
{
	t->base = mps_segment_base(seg);
	t->size = mps_segment_size(seg);
	t->prev = prev;
	t->steps = 0;
	t->at_exit = false;
	memcpy(prev, t->base, t->size);
	t->pid = segtest_traced_child();
	if (t->pid == 0)
		_exit(c->holder[i].run(seg) == 0 ? 0 : 4);
	cr_assert_eq(ptrace(PTRACE_SETOPTIONS, t->pid, NULL, (void *)PTRACE_O_TRACEEXIT), 0);
}

/* One instruction; true when the segment changed (a store). t->at_exit
 * becomes true when the child reached its exit instead: it is still there,
 * stopped, its last store made. */
static bool step_one(struct tracee *t)
{
	int st;
	cr_assert_eq(ptrace(PTRACE_SINGLESTEP, t->pid, NULL, NULL), 0);
	cr_assert_eq(waitpid(t->pid, &st, 0), t->pid);
	cr_assert_lt(++t->steps, STEPS_MAX, "the traced child runs on and on (a loop?)");
	cr_assert(WIFSTOPPED(st), "the traced child ended with status 0x%x", st);
	if (st >> 8 == (SIGTRAP | PTRACE_EVENT_EXIT << 8)) {
		t->at_exit = true;
		return false;
	}
	cr_assert_eq(WSTOPSIG(st), SIGTRAP, "the traced child got signal %d", WSTOPSIG(st));
	if (memcmp(t->prev, t->base, t->size) == 0)
		return false;
	return true;
}

/* SIGKILL, leaving a zombie: its tid stays dead and cannot be reused until
 * reap, so locks it held read as held by a dead thread. A tracee killed
 * stops once more at its exit (PTRACE_O_TRACEEXIT) and is let go on. */
static pid_t kill_now(struct tracee *t)
{
	kill(t->pid, SIGKILL);
	if (t->at_exit)   /* that stop is not reported again: let it go on */
		ptrace(PTRACE_CONT, t->pid, NULL, NULL);
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		cr_assert_eq(waitid(P_PID, (id_t)t->pid, &si, WEXITED | WSTOPPED | WNOWAIT), 0);
		if (si.si_code == CLD_KILLED || si.si_code == CLD_EXITED || si.si_code == CLD_DUMPED)
			return t->pid;
		int st;
		cr_assert_eq(waitpid(t->pid, &st, 0), t->pid);
		ptrace(PTRACE_CONT, t->pid, NULL, NULL);
	}
}

static void reap(pid_t pid)
{
	int st;
	if (pid)
		cr_assert_eq(waitpid(pid, &st, 0), pid);
}

/* Steps to the k-th store and kills there (or at its exit when it makes
 * fewer); returns the zombie. *made: the stores made. */
static pid_t kill_after(struct tracee *t, int k, int *made)
{
	int stores = 0;
	while (!t->at_exit && stores < k)
		if (step_one(t)) {
			stores++;
			memcpy(t->prev, t->base, t->size);
		}
	*made = stores;
	return kill_now(t);
}

/* ------------------------------------------------------ capturing */

#define CHUNK 64

/* The changes one run of a holder makes, store by store: chunk diffs
 * tagged with the store that made them, enough to rebuild the segment as
 * it was after any store. */
struct capture {
	unsigned char *start;     /* the segment before the holder ran */
	struct diff {
		int store;
		uint32_t off;
		unsigned char bytes[CHUNK];
	} *d;
	size_t nd, capd;
	bool *accepted;           /* per store (1-based): the filter's verdict */
	int stores;
	pid_t zombie;
};

static void record(struct capture *cp, int store, const unsigned char *now, unsigned char *prev,
                   size_t size)
{
	for (size_t off = 0; off < size; off += CHUNK) {
		if (memcmp(now + off, prev + off, CHUNK) == 0)
			continue;
		if (cp->nd == cp->capd) {
			cp->capd = cp->capd ? 2 * cp->capd : 1024;
			cp->d = realloc(cp->d, sizeof *cp->d * cp->capd);
			cr_assert(cp->d);
		}
		struct diff *d = &cp->d[cp->nd++];
		d->store = store;
		d->off = (uint32_t)off;
		memcpy(d->bytes, now + off, CHUNK);
		memcpy(prev + off, now + off, CHUNK);
	}
}

/* Runs holder i on seg to its end, single-stepped, recording every store;
 * the holder is left a zombie (cp->zombie). */
static void capture(const struct sweep_case *c, int i, mps_segment_t *seg, unsigned char *prev,
                    struct capture *cp, long *steps)
{
	size_t size = mps_segment_size(seg);
	memset(cp, 0, sizeof *cp);
	cp->start = malloc(size);
	cp->accepted = calloc(POINTS_MAX + 1, sizeof *cp->accepted);
	cr_assert(cp->start && cp->accepted);
	memcpy(cp->start, mps_segment_base(seg), size);
	struct tracee t;
	tracee_start(&t, c, i, seg, prev);
	sweep_filter_fn f = c->holder[i].filter;
	while (!t.at_exit) {
		if (!step_one(&t))
			continue;
		cr_assert_lt(cp->stores, POINTS_MAX);
		cp->stores++;
		record(cp, cp->stores, t.base, prev, size);
		cp->accepted[cp->stores] = !f || f(seg, t.pid);
	}
	*steps += t.steps;
	cp->zombie = kill_now(&t);
}

static void capture_free(struct capture *cp)
{
	reap(cp->zombie);
	free(cp->start);
	free(cp->d);
	free(cp->accepted);
}

/* The segment as it was after store k (0: before the holder ran). */
static void image_at(const struct capture *cp, int k, unsigned char *img, size_t size)
{
	memcpy(img, cp->start, size);
	for (size_t i = 0; i < cp->nd && cp->d[i].store <= k; i++)
		memcpy(img + cp->d[i].off, cp->d[i].bytes, CHUNK);
}

static mps_segment_t *from_image(const struct sweep_case *c, const unsigned char *img)
{
	mps_segment_t *seg = segtest_anon(seg_size(c));
	memcpy(mps_segment_base(seg), img, seg_size(c));
	return seg;
}

/* --------------------------------------------------------- points */

static unsigned name_seed(const char *s, unsigned seed)
{
	unsigned x = 2166136261u ^ seed;
	for (; *s; s++)
		x = (x ^ (unsigned char)*s) * 16777619u;
	return x;
}

/* Under AddressSanitizer an operation runs about five times the
 * instructions, all single-stepped: fewer real kills and chain points. */
static bool sanitized(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return true;
#else
	return false;
#endif
}

struct sweep_plan sweep_plan_from_env(void)
{
	const char *mode = getenv("MPS_SWEEP");
	const char *seed = getenv("MPS_SWEEP_SEED");
	const char *strict = getenv("MPS_SWEEP_STRICT");
	struct sweep_plan p = { .full = mode && strcmp(mode, "full") == 0, .kills = 4,
	                        .strict = strict && strcmp(strict, "1") == 0,
	                        .chain_points = 6, .chain_kills = 3,
	                        .seed = seed ? (unsigned)strtoul(seed, NULL, 0) : 11u };
	if (sanitized() && !p.full) {
		p.kills = 2;
		p.chain_points = 4;
		p.chain_kills = 1;
	}
	return p;
}

/* Whether point k of n is one of about want, spread by a seeded stride;
 * the last point always is. */
static bool stride_pick(const struct sweep_plan *p, const char *name, int k, int n, int want)
{
	if (n <= want || k == n)
		return true;
	int stride = (n + want - 1) / want;
	return (k - 1) % stride == (int)(name_seed(name, p->seed) % (unsigned)stride);
}

static bool sampled(const struct sweep_plan *p, const char *name, int k, int n, int want)
{
	return p->full || stride_pick(p, name, k, n, want);
}

/* ---------------------------------------------------------- sweep */

static void first_difference(const char *a, const char *b, char *out, size_t cap)
{
	size_t line = 0;
	while (*a && *a == *b) {
		if (*a == '\n')
			line = 0;
		else
			line++;
		a++, b++;
	}
	a -= line, b -= line;
	int la = (int)strcspn(a, "\n"), lb = (int)strcspn(b, "\n");
	snprintf(out, cap, "\n    got:      %.*s\n    expected: %.*s", la, a, lb, b);
}

struct expect {
	char text[1 << SWEEP_CHAIN_MAX][SWEEP_TEXT_MAX];
};

/* Every subset of the holders run to its end, in order. */
static void expected(const struct sweep_case *c, struct expect *e)
{
	for (int mask = 0; mask < 1 << c->n; mask++) {
		mps_segment_t *seg = fresh(c);
		for (int i = 0; i < c->n; i++)
			if (mask & 1 << i)
				run_whole(c, i, seg);
		survive_and_observe(c, seg, e->text[mask]);
	}
	cr_assert(strncmp(e->text[0], "HANG", 4) && strncmp(e->text[0], "CRASH", 5),
	          "%s: %s", c->name, e->text[0]);
}

static void describe(const struct sweep_case *c, const int *kills, int n, char *out, size_t cap)
{
	size_t len = 0;
	for (int i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s killed after store %d",
		                        i ? ", then " : "", c->holder[i].name, kills[i]);
}

static int match(const struct sweep_case *c, const char *got, const struct expect *e)
{
	for (int mask = 0; mask < 1 << c->n; mask++)
		if (strcmp(got, e->text[mask]) == 0)
			return mask;
	return -1;
}

static void report_bad(const struct sweep_case *c, const int *kills, const char *got,
                       const struct expect *e)
{
	char what[256], diff[2][1024];
	describe(c, kills, c->n, what, sizeof what);
	first_difference(got, e->text[0], diff[0], sizeof diff[0]);
	first_difference(got, e->text[(1 << c->n) - 1], diff[1], sizeof diff[1]);
	cr_log_error("%s: %s: neither before nor after.\n  vs before:%s\n  vs after:%s",
	             c->name, what, diff[0], diff[1]);
}

/* The same kills for real: every holder started again from the setup,
 * stepped to its point and SIGKILLed there. */
static void real_run(const struct sweep_case *c, const int *kills, unsigned char *prev,
                     long *steps, char *got)
{
	mps_segment_t *seg = fresh(c);
	pid_t zombies[SWEEP_CHAIN_MAX];
	struct tracee t;
	for (int i = 0; i < c->n; i++) {
		int made;
		tracee_start(&t, c, i, seg, prev);
		zombies[i] = kill_after(&t, kills[i], &made);
		*steps += t.steps;
		cr_assert_eq(made, kills[i], "%s: %s made %d stores, not %d as when captured",
		             c->name, c->holder[i].name, made, kills[i]);
	}
	survive_and_observe(c, seg, got);
	for (int i = 0; i < c->n; i++)
		reap(zombies[i]);
}

struct sweep_run {
	const struct sweep_case *c;
	const struct sweep_plan *p;
	const struct expect *e;
	struct sweep_stats *s;
	unsigned char *prev;
	int kills[SWEEP_CHAIN_MAX];
	int last_stores;
	int combos;               /* sweeps of the last holder so far */
};

static void judge(struct sweep_run *r, const int *kills, const char *got)
{
	int mask = match(r->c, got, r->e);
	for (int m = 0; mask < 0 && r->c->leak && !r->p->strict && m < 1 << r->c->n; m++) {
		if (sweep_leak_match(got, r->e->text[m], r->c->leak)) {
			r->s->leaked++;
			return;
		}
	}
	if (mask < 0) {
		r->s->bad++;
		report_bad(r->c, kills, got, r->e);
	} else if (mask & 1 << (r->c->n - 1)) {
		r->s->as_after++;
	} else {
		r->s->as_before++;
	}
}

/* A real kill must leave what the replay of its point left. */
static void judge_real(struct sweep_run *r, const int *kills, const char *real,
                       const char *replayed)
{
	char what[256], diff[1024];
	describe(r->c, kills, r->c->n, what, sizeof what);
	first_difference(real, replayed, diff, sizeof diff);
	r->s->bad++;
	cr_log_error("%s: %s: SIGKILL and replay differ:%s", r->c->name, what, diff);
}

/* The observation of one replayed point is in: judged, and for some
 * points compared with a real kill. */
static void observed(struct sweep_run *r, struct observer *o)
{
	static char got[SWEEP_TEXT_MAX], real[SWEEP_TEXT_MAX];
	const struct sweep_case *c = r->c;
	int last = c->n - 1;
	observe_finish(o, got);
	if (getenv("MPS_SWEEP_TRACE"))
		fprintf(stderr, "== %s k=%d\n%s", c->name, o->kills[last], got);
	r->s->killed++;
	judge(r, o->kills, got);
	/* A chain's real kills restep every holder: a few, in the first
	 * combination of the earlier holders' points only. */
	bool real_kill = c->n == 1 ? sampled(r->p, c->name, o->kills[last], r->last_stores, r->p->kills)
	                           : r->combos == 1 &&
	                                     stride_pick(r->p, c->name, o->kills[last],
	                                                 r->last_stores, r->p->chain_kills);
	if (real_kill) {
		real_run(c, o->kills, r->prev, &r->s->steps, real);
		r->s->real++;
		if (strcmp(real, got) != 0)
			judge_real(r, o->kills, real, got);
	}
}

/* Whether earlier holder i stops at its a-th of n accepted points: some
 * (a chain of three: half as many each); MPS_SWEEP=full: all of them in a
 * chain of two, four times as many in a chain of three (every pair of
 * points would take hours). */
static bool chain_point(const struct sweep_run *r, int i, int a, int n)
{
	const struct sweep_case *c = r->c;
	int want = r->p->chain_points / (c->n - 1);
	if (r->p->full && c->n == 2)
		return true;
	return stride_pick(r->p, c->holder[i].name, a, n, r->p->full ? 4 * want : want);
}

/* Holder i runs on seg (the state its predecessors left): captured once,
 * then every accepted point replayed (the next holder's sweep, or the
 * survivor, WINDOW at a time), and some points killed for real as well. */
static void sweep_holder(struct sweep_run *r, int i, mps_segment_t *seg)
{
	const struct sweep_case *c = r->c;
	/* Tells gcc's -O3 array-bounds pass what c->n <= SWEEP_CHAIN_MAX
	 * already guarantees for the recursion below. */
	if (i < 0 || i >= SWEEP_CHAIN_MAX)
		abort();
	size_t size = seg_size(c);
	struct capture cp;
	struct observer win[WINDOW];
	int nwin = 0, head = 0;
	capture(c, i, seg, r->prev, &cp, &r->s->steps);
	if (i == 0 && c->n == 1)
		r->s->stores = cp.stores;
	if (i == c->n - 1) {
		r->s->points += cp.stores;
		r->last_stores = cp.stores;
		r->combos++;
	}
	unsigned char *img = malloc(size);
	cr_assert(img);
	int accepted = 0;
	for (int k = 1; k <= cp.stores; k++)
		accepted += cp.accepted[k];
	cr_assert_gt(accepted, 0, "%s: no point of %s is of interest", c->name, c->holder[i].name);
	for (int k = 1, a = 0; k <= cp.stores; k++) {
		if (!cp.accepted[k])
			continue;
		a++;
		if (i < c->n - 1 && !chain_point(r, i, a, accepted))
			continue;
		r->kills[i] = k;
		image_at(&cp, k, img, size);
		mps_segment_t *next = from_image(c, img);
		if (i < c->n - 1) {
			sweep_holder(r, i + 1, next);
			cr_assert_eq(mps_segment_close(next), 0);
			continue;
		}
		if (nwin == WINDOW) {
			observed(r, &win[head]);
			head = (head + 1) % WINDOW;
			nwin--;
		}
		struct observer *o = &win[(head + nwin++) % WINDOW];
		memcpy(o->kills, r->kills, sizeof o->kills);
		observe_start(c, next, o);
	}
	for (; nwin > 0; nwin--, head = (head + 1) % WINDOW)
		observed(r, &win[head]);
	free(img);
	capture_free(&cp);
}

void sweep_case(const struct sweep_case *c, const struct sweep_plan *plan, struct sweep_stats *s)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(s, 0, sizeof *s);
	cr_assert(c->n >= 1 && c->n <= SWEEP_CHAIN_MAX);
	struct sweep_run r = { .c = c, .p = plan, .s = s };
	struct expect *e = malloc(sizeof *e);
	r.prev = malloc(seg_size(c));
	cr_assert(e && r.prev);
	expected(c, e);
	r.e = e;
	cr_assert(c->unchanged || strcmp(e->text[0], e->text[(1 << c->n) - 1]) != 0,
	          "%s: the operation changes nothing that is observed", c->name);
	mps_segment_t *seg = fresh(c);
	sweep_holder(&r, 0, seg);
	cr_assert_eq(mps_segment_close(seg), 0);
	free(r.prev);
	free(e);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
}
