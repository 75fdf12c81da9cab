#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mpsync/container.h>
#include <mpsync/queue.h>
#include <mpsync/value.h>
#include "../../lib/segment/seg.h"
#include "segtest.h"
#include "sweep.h"

#define OBSERVE_S 20      /* a survivor that needs longer is wedged */
#define BUF_MAX   4096
#define NAMES_MAX 64
#define POINTS_MAX 200000
#define WINDOW    16       /* survivors observed at once */

/* ------------------------------------------------------------ text */

struct text {
	char *p;
	size_t len, cap;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct text *t, const char *fmt, ...)
{
	if (t->len + 1 >= t->cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len += (size_t)n < t->cap - t->len ? (size_t)n : t->cap - t->len - 1;
}

static void add_bytes(struct text *t, const void *p, size_t n)
{
	const unsigned char *s = p;
	add(t, "'");
	for (size_t i = 0; i < n; i++)
		add(t, s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\'' && s[i] != '\\' ? "%c" : "\\%02x",
		    s[i]);
	add(t, "'");
}

/* ----------------------------------------------------- observation */

struct named {
	char name[MPS_OBJ_NAME_MAX + 1];
	enum mps_kind kind;
	void *obj;
};

struct world {
	struct named n[NAMES_MAX];
	int count;
};

static int collect(const char *name, enum mps_kind kind, void *object, void *arg)
{
	struct world *w = arg;
	if (w->count < NAMES_MAX) {
		struct named *e = &w->n[w->count++];
		snprintf(e->name, sizeof e->name, "%s", name);
		e->kind = kind;
		e->obj = object;
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

static const char *name_of(const struct world *w, const void *obj)
{
	for (int i = 0; i < w->count; i++)
		if (w->n[i].obj == obj)
			return w->n[i].name;
	return NULL;
}

/* A value read out of a container; drops the reference the read took. */
static void add_var(struct text *t, const struct world *w, mps_var_t *v)
{
	switch (v->type) {
	case MPS_NONE:
		add(t, "None");
		break;
	case MPS_INT:
		add(t, "%" PRId64, v->i);
		break;
	case MPS_FLOAT:
		add(t, "%a", v->f);
		break;
	case MPS_BYTES:
	case MPS_STR:
		add(t, v->type == MPS_BYTES ? "b" : "s");
		add_bytes(t, v->data, v->len);
		break;
	case MPS_REF: {
		const char *name = name_of(w, v->ref);
		add(t, "<%s %s refs=%u>", mps_kind_name(mps_object_kind(v->ref)),
		    name ? name : "unnamed", mps_object_refs(v->ref) - 1);
		mps_object_release(v->ref);
		break;
	}
	default:
		add(t, "?type %d", (int)v->type);
	}
}

static void add_dict(struct text *t, const struct world *w, mps_dict_t *d)
{
	static char kb[BUF_MAX], vb[BUF_MAX];
	mps_dict_iter_t it;
	mps_var_t k, v;
	int r;
	add(t, " len=%zu {", mps_dict_len(d));
	mps_dict_iter_begin(d, &it, false);
	while ((r = mps_dict_iter_next(&it, &k, (mps_out_t){ kb, sizeof kb }, &v,
	                               (mps_out_t){ vb, sizeof vb })) == 0) {
		add_var(t, w, &k);
		add(t, ": ");
		add_var(t, w, &v);
		add(t, ", ");
	}
	add(t, "} end=%d", r);
}

static void add_list(struct text *t, const struct world *w, mps_list_t *l)
{
	static char b[BUF_MAX];
	size_t n = mps_list_len(l);
	add(t, " len=%zu [", n);
	for (size_t i = 0; i < n; i++) {
		mps_var_t v;
		int r = mps_list_get(l, (int64_t)i, &v, (mps_out_t){ b, sizeof b });
		if (r)
			add(t, "error %d", r);
		else
			add_var(t, w, &v);
		add(t, ", ");
	}
	add(t, "]");
}

static void add_queue(struct text *t, mps_queue_t *q)
{
	static unsigned char b[BUF_MAX];
	add(t, " qsize=%zu bytes=%zu unfinished=%zu shutdown=%d [", mps_queue_qsize(q),
	    mps_queue_bytes(q), mps_queue_unfinished(q), (int)mps_queue_is_shutdown(q));
	size_t n;
	int r;
	while ((r = mps_queue_get(q, b, sizeof b, &n, 0)) == 0) {
		add_bytes(t, b, n);
		add(t, ", ");
	}
	add(t, "] end=%d", r);
}

static void add_value(struct text *t, enum mps_kind kind, void *obj)
{
	static unsigned char b[BUF_MAX];
	if (kind == MPS_KIND_VALUE) {
		mps_value_t *v = obj;
		int r = mps_value_get(v, b);
		add(t, " %c sync=%d r=%d ", mps_value_typecode(v), (int)mps_value_sync(v), r);
		add_bytes(t, b, mps_typecode_size(mps_value_typecode(v)));
		return;
	}
	mps_array_t *a = obj;
	size_t n = mps_array_len(a), bytes = n * mps_typecode_size(mps_array_typecode(a));
	if (bytes > sizeof b)
		bytes = 0, n = 0;
	int r = mps_array_read(a, 0, n, b);
	add(t, " %c[%zu] sync=%d r=%d ", mps_array_typecode(a), n, (int)mps_array_sync(a), r);
	add_bytes(t, b, bytes);
}

static void add_object(struct text *t, const struct world *w, const struct named *e)
{
	static char b[BUF_MAX];
	add(t, "%s %s refs=%u", e->name, mps_kind_name(e->kind), mps_object_refs(e->obj));
	switch (e->kind) {
	case MPS_KIND_DICT:
		add_dict(t, w, e->obj);
		break;
	case MPS_KIND_LIST:
		add_list(t, w, e->obj);
		break;
	case MPS_KIND_NAMESPACE: {
		int r = mps_namespace_repr(e->obj, b, sizeof b);
		add(t, " len=%zu r=%d %s", mps_namespace_len(e->obj), r, r ? "" : b);
		break;
	}
	case MPS_KIND_QUEUE:
	case MPS_KIND_JOINABLE_QUEUE:
		add_queue(t, e->obj);
		break;
	case MPS_KIND_VALUE:
	case MPS_KIND_ARRAY:
		add_value(t, e->kind, e->obj);
		break;
	case MPS_KIND_LOCK:
		add(t, " owner=%d", (int)mps_lock_owner(e->obj));
		break;
	default:
		break;
	}
	add(t, "\n");
}

static void add_heap(struct text *t, mps_segment_t *seg)
{
	struct mps_seg_header *h = mps_segment_base(seg);
	uint64_t used = 0, nfree = 0;
	bool took = mps_seg_enter(h);
	int check = mps_heap_check(h, &used, &nfree);
	mps_seg_leave(h, took);
	struct mps_segment_info info;
	int r = mps_segment_info(seg, &info);
	add(t, "segment: info %d objects=%u names=%u free_bytes=%" PRIu64 " heap_check=%d "
	    "used_blocks=%" PRIu64 "\n", r, info.objects, info.names, info.free_bytes, check, used);
}

void sweep_observe(mps_segment_t *seg, char *buf, size_t cap)
{
	struct text t = { buf, 0, cap };
	struct world w = { .count = 0 };
	buf[0] = 0;
	int r = mps_segment_foreach(seg, collect, &w);
	qsort(w.n, (size_t)w.count, sizeof w.n[0], by_name);
	add(&t, "names: foreach %d count %d\n", r, w.count);
	for (int i = 0; i < w.count; i++)
		add_object(&t, &w, &w.n[i]);
	add_heap(&t, seg);
}

void *sweep_obj(mps_segment_t *seg, const char *name)
{
	struct mps_seg_header *h = mps_segment_base(seg);
	struct mps_dir_entry *e = mps_dir_find(h, name);
	return e ? mps_obj_at(h, e->object) : NULL;
}

bool sweep_holds(const mps_lock_t *lock, pid_t tid)
{
	return mps_lock_owner(lock) == tid;
}

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
	t->steps++;
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

/* ---------------------------------------------- documented leaks */

/* The object a "refs=" at p (inside line) counts: the name in "<kind name
 * refs=N>", else the line's first word. */
static void refs_owner(const char *line, const char *p, char *name, size_t cap)
{
	const char *lt = NULL;
	for (const char *q = line; q < p; q++)
		if (*q == '<')
			lt = q;
		else if (*q == '>')
			lt = NULL;
	const char *w = line;
	if (lt) {
		w = strchr(lt, ' ');
		w = w && w < p ? w + 1 : p;
	}
	size_t n = strcspn(w, " \n");
	snprintf(name, cap, "%.*s", (int)(n < cap ? n : cap - 1), w);
}

static long number_at(const char **p)
{
	char *end;
	long v = strtol(*p, &end, 10);
	*p = end;
	return v;
}

/* One line of got against want: equal but for reference counts, each
 * higher in got (by exactly one, on the object *owner, for SWEEP_LEAK_REF). */
static bool refs_only(const char *g, const char *w, int leak, char *owner, size_t cap)
{
	const char *gl = g;
	while (*g && *g != '\n' && *w && *w != '\n') {
		if (*g == *w) {
			g++, w++;
			continue;
		}
		while (g > gl && g[-1] >= '0' && g[-1] <= '9')
			g--, w--;
		if (g - gl < 5 || strncmp(g - 5, "refs=", 5) != 0)
			return false;
		char name[MPS_OBJ_NAME_MAX + 1];
		refs_owner(gl, g, name, sizeof name);
		long delta = number_at(&g) - number_at(&w);
		if (delta < 1 || (leak == SWEEP_LEAK_REF && delta != 1))
			return false;
		if (leak == SWEEP_LEAK_REF && *owner && strcmp(owner, name) != 0)
			return false;
		snprintf(owner, cap, "%s", name);
	}
	return (*g == '\n' || !*g) && (*w == '\n' || !*w);
}

/* The segment line of got against want under SWEEP_LEAK_OWN: one object
 * more at most, space lost, nothing else different. */
static bool segment_leak(const char *g, const char *w)
{
	int gr, wr, gc, wc;
	unsigned go, wo, gn, wn;
	unsigned long long gf, wf, gu, wu;
	const char *fmt = "segment: info %d objects=%u names=%u free_bytes=%llu heap_check=%d "
	                  "used_blocks=%llu";
	return sscanf(g, fmt, &gr, &go, &gn, &gf, &gc, &gu) == 6 &&
	       sscanf(w, fmt, &wr, &wo, &wn, &wf, &wc, &wu) == 6 && gr == wr && gn == wn &&
	       gc == 0 && wc == 0 && (go == wo || go == wo + 1) && gf <= wf && gu >= wu;
}

/* Whether got is want but for a leak of the kind the case documents. */
static bool leak_match(const char *got, const char *want, int leak)
{
	char owner[MPS_OBJ_NAME_MAX + 1] = "";
	while (*got && *want) {
		size_t gl = strcspn(got, "\n"), wl = strcspn(want, "\n");
		bool same = gl == wl && memcmp(got, want, gl) == 0;
		if (!same && strncmp(got, "segment:", 8) == 0) {
			if (leak != SWEEP_LEAK_OWN || !segment_leak(got, want))
				return false;
		} else if (!same && !refs_only(got, want, leak, owner, sizeof owner)) {
			return false;
		}
		got += gl + (got[gl] == '\n');
		want += wl + (want[wl] == '\n');
	}
	return !*got && !*want;
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
		if (leak_match(got, r->e->text[m], r->c->leak)) {
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

/* Holder i runs on seg (the state its predecessors left): captured once,
 * then every accepted point replayed (the next holder's sweep, or the
 * survivor, WINDOW at a time), and some points killed for real as well. */
static void sweep_holder(struct sweep_run *r, int i, mps_segment_t *seg)
{
	const struct sweep_case *c = r->c;
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
		if (i < c->n - 1 && !sampled(r->p, c->holder[i].name, a, accepted,
		                             r->p->chain_points / (c->n - 1)))
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
