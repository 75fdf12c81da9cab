/* mpsync: list, inspect and remove mpsync segments, as ipcs/ipcrm do for
 * System V IPC.
 *
 *   mpsync list              every mpsync segment in /dev/shm
 *   mpsync show NAME         its header and every named object's state
 *   mpsync rm [--force] NAME remove it; refused while a live process is
 *                            attached, unless --force
 *
 * Exit status: 0 done, 1 error or refused, 2 usage. Output is one record
 * per line with fixed field order, so it can be grepped and cut.
 *
 * A file of /dev/shm is taken for a segment when its first 8 bytes are the
 * segment magic ("MPSYNSEG", lib/segment/seg.h); other files are skipped by list
 * and refused (EPROTO) by show and rm without being mapped. A segment that
 * fails to open (corrupt header, other layout, other PID namespace, creator
 * died while creating it) is listed with the library's error.
 *
 * Reading states uses the public API only. Looking uses no lock except
 * where the API takes one (queue and container lengths, a Value/Array whose
 * lock is free): a Value or Array whose lock is held is shown as locked,
 * never waited for. Opening the segment records this process as attached
 * for a moment; it is left out of the attached pids shown. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mpsync.h>

#define SHM_DIR "/dev/shm"
#define SEG_MAGIC "MPSYNSEG"     /* MPS_SEG_MAGIC of lib/segment/seg.h, as stored */
#define MAX_ITEMS 8              /* array elements shown */

enum { EXIT_OK = 0, EXIT_ERR = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
	"usage: mpsync list\n"
	"       mpsync show NAME\n"
	"       mpsync rm [--force] NAME\n"
	"       mpsync --help\n"
	"\n"
	"  list   every mpsync segment in " SHM_DIR ": name, size, creator pid and\n"
	"         whether it is alive, objects, attached live pids\n"
	"  show   the segment's header and the state of each named object\n"
	"  rm     remove the segment's name; refused while a live process is\n"
	"         attached unless --force (attached processes keep their mapping)\n"
	"\n"
	"exit status: 0 ok, 1 error or refused, 2 usage\n";

/* ---- errors ---- */

static const char *errname(int code)
{
	static char buf[16];
	switch (code) {
	case EPROTO:          return "EPROTO";
	case EBADMSG:         return "EBADMSG";
	case EXDEV:           return "EXDEV";
	case EAGAIN:          return "EAGAIN";
	case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
	case ENOENT:          return "ENOENT";
	case EACCES:          return "EACCES";
	case EINVAL:          return "EINVAL";
	case ENAMETOOLONG:    return "ENAMETOOLONG";
	case ENOSPC:          return "ENOSPC";
	case ENOMEM:          return "ENOMEM";
	case EIO:             return "EIO";
	case EPERM:           return "EPERM";
	default:
		snprintf(buf, sizeof buf, "E#%d", code);
		return buf;
	}
}

/* The library's words for code, or the C library's when it has none. */
static const char *describe(int code)
{
	const char *s = mps_strerror(code);
	return strcmp(s, mps_strerror(INT_MIN)) == 0 ? strerror(code) : s;
}

static void report(const char *name, int code, const char *hint)
{
	fprintf(stderr, "mpsync: %s: %s: %s%s\n", name, errname(code), describe(code),
	        hint ? hint : "");
}

static const char *yes_no(bool b)
{
	return b ? "yes" : "no";
}

/* ---- /dev/shm files ---- */

enum probe { P_SEGMENT, P_UNREADY, P_OTHER, P_ERROR };

/* What the file name in /dev/shm is, by its first 8 bytes: a segment, a
 * segment still being created (magic not yet written), something else. */
static enum probe probe(const char *name, off_t *size, int *err)
{
	char path[PATH_MAX], magic[8];
	snprintf(path, sizeof path, SHM_DIR "/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		*err = errno;
		if (fd >= 0)
			close(fd);
		return P_ERROR;
	}
	*size = st.st_size;
	ssize_t n = S_ISREG(st.st_mode) ? pread(fd, magic, sizeof magic, 0) : -1;
	close(fd);
	if (n != (ssize_t)sizeof magic)
		return n == 0 ? P_UNREADY : P_OTHER;
	if (memcmp(magic, SEG_MAGIC, sizeof magic) == 0)
		return P_SEGMENT;
	static const char zero[8];
	return memcmp(magic, zero, sizeof magic) == 0 ? P_UNREADY : P_OTHER;
}

static const char *bare(const char *name)
{
	return name[0] == '/' ? name + 1 : name;
}

/* Opens a segment named on the command line; reports and returns an error.
 * A file that is not a segment is refused before anything maps it. */
static int open_named(const char *name, mps_segment_t **seg)
{
	off_t size;
	int err = 0;
	if (strchr(bare(name), '/') || !*bare(name)) {
		report(name, EINVAL, " (a segment name has no '/' but a leading one)");
		return EINVAL;
	}
	enum probe p = probe(bare(name), &size, &err);
	if (p == P_OTHER)
		err = EPROTO;
	else if (p != P_ERROR)
		err = mps_segment_open(name, seg);
	if (err)
		report(name, err, NULL);
	return err;
}

/* Live attached pids other than this process, written as "1 2 3". */
static unsigned attached_others(const struct mps_segment_info *info, char *buf, size_t cap,
                                char sep)
{
	unsigned n = 0, shown = info->attached < 32 ? info->attached : 32;
	size_t len = 0;
	buf[0] = 0;
	for (unsigned i = 0; i < shown; i++) {
		if (info->attached_pids[i] == (int32_t)getpid())
			continue;
		if (n && len + 1 < cap)
			buf[len++] = sep;
		if (len < cap)
			len += (size_t)snprintf(buf + len, cap - len, "%d", (int)info->attached_pids[i]);
		n++;
	}
	return n;
}

/* ---- list ---- */

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_one(const char *name)
{
	off_t size = 0;
	int err = 0;
	mps_segment_t *seg;
	if (probe(name, &size, &err) != P_SEGMENT)
		return;
	err = mps_segment_open(name, &seg);
	if (err) {
		printf("%-32s %10lld %8s %-6s %7s %s: %s\n", name, (long long)size, "-", "error", "-",
		       errname(err), describe(err));
		return;
	}
	struct mps_segment_info info;
	char pids[512];
	mps_segment_info(seg, &info);
	mps_segment_close(seg);
	if (!attached_others(&info, pids, sizeof pids, ','))
		strcpy(pids, "-");
	printf("%-32s %10llu %8d %-6s %7u %s\n", name, (unsigned long long)info.size,
	       (int)info.creator_pid, info.creator_alive ? "alive" : "dead", info.objects, pids);
}

static int cmd_list(void)
{
	DIR *d = opendir(SHM_DIR);
	if (!d) {
		report(SHM_DIR, errno, NULL);
		return EXIT_ERR;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			char **grown = realloc(names, cap * sizeof *names);
			if (!grown)
				break;
			names = grown;
		}
		if ((names[n] = strdup(e->d_name)))
			n++;
	}
	closedir(d);
	if (n)   /* qsort wants a non-null base even for 0 elements */
		qsort(names, n, sizeof *names, by_name);
	printf("%-32s %10s %8s %-6s %7s %s\n", "NAME", "SIZE", "CREATOR", "STATE", "OBJECTS",
	       "ATTACHED");
	for (size_t i = 0; i < n; i++) {
		list_one(names[i]);
		free(names[i]);
	}
	free(names);
	return EXIT_OK;
}

/* ---- show: one line per object ---- */

struct named {
	char name[MPS_OBJ_NAME_MAX + 1];
	void *object;
};

struct objects {
	struct named *v;
	size_t n, cap;
};

static int collect(const char *name, enum mps_kind kind, void *object, void *arg)
{
	struct objects *o = arg;
	(void)kind;
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 32;
		struct named *grown = realloc(o->v, cap * sizeof *grown);
		if (!grown)
			return 1;
		o->v = grown;
		o->cap = cap;
	}
	snprintf(o->v[o->n].name, sizeof o->v[o->n].name, "%s", name);
	o->v[o->n++].object = object;
	return 0;
}

static int by_object_name(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

static const char *name_of(const struct objects *o, const void *object)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->v[i].object == object)
			return o->v[i].name;
	return "(unnamed)";
}

/* A line under construction. */
struct line {
	char buf[1024];
	size_t len;
};

__attribute__((format(printf, 2, 3)))
static void add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	if (l->len >= sizeof l->buf)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(l->buf + l->len, sizeof l->buf - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len += (size_t)n;
}

static void add_owner(struct line *l, pid_t owner)
{
	if (owner)
		add(l, " locked=yes owner=%d owner_alive=%s", (int)owner, yes_no(mps_owner_alive(owner)));
	else
		add(l, " locked=no");
}

static void add_lock(struct line *l, const mps_lock_t *lk)
{
	add_owner(l, mps_lock_locked(lk) ? mps_lock_owner(lk) : 0);
}

/* count: the owner's depth, a plain field of the public RLock. */
static void add_rlock(struct line *l, const mps_rlock_t *r)
{
	add_owner(l, mps_rlock_locked(r) ? mps_rlock_owner(r) : 0);
	if (mps_rlock_locked(r))
		add(l, " count=%u", __atomic_load_n(&r->count, __ATOMIC_RELAXED));
}

/* One element of typecode tc, Python's repr where it has one. */
static void add_element(struct line *l, char tc, const unsigned char *p)
{
	union { int8_t b; uint8_t B; int16_t h; uint16_t H; int32_t i; uint32_t I; int64_t q;
	        uint64_t Q; float f; double d; } u;
	memcpy(&u, p, mps_typecode_size(tc));
	switch (tc) {
	case 'c':
		if (isprint(u.B) && u.B != '\'' && u.B != '\\')
			add(l, "b'%c'", u.B);
		else
			add(l, "b'\\x%02x'", u.B);
		break;
	case 'u': add(l, "U+%04X", u.I); break;
	case 'b': add(l, "%d", u.b); break;
	case 'B': add(l, "%u", u.B); break;
	case 'h': add(l, "%d", u.h); break;
	case 'H': add(l, "%u", u.H); break;
	case 'i': add(l, "%d", u.i); break;
	case 'I': add(l, "%u", u.I); break;
	case 'f': add(l, "%.9g", u.f); break;
	case 'd': add(l, "%.17g", u.d); break;
	case 'l': case 'q': add(l, "%lld", (long long)u.q); break;
	default: add(l, "%llu", (unsigned long long)u.Q); break;
	}
}

static const char *sync_name(enum mps_sync s)
{
	static const char *const names[] = { "rlock", "none", "lock", "given-rlock" };
	return (unsigned)s < 4 ? names[s] : "?";
}

/* The lock part of a Value/Array; whether its lock is free to be taken. */
static bool add_sync(struct line *l, const struct objects *o, enum mps_sync s, void *lock)
{
	add(l, " sync=%s", sync_name(s));
	if (s == MPS_SYNC_LOCK || s == MPS_SYNC_GIVEN_RLOCK)
		add(l, " lock=%s", name_of(o, lock));
	if (s == MPS_SYNC_NONE)
		return true;
	if (s == MPS_SYNC_LOCK) {
		add_lock(l, lock);
		return !mps_lock_locked(lock);
	}
	add_rlock(l, lock);
	return !mps_rlock_locked(lock);
}

static void add_value(struct line *l, const struct objects *o, mps_value_t *v)
{
	unsigned char cell[8];
	char tc = mps_value_typecode(v);
	add(l, " typecode=%c", tc);
	bool free = add_sync(l, o, mps_value_sync(v), mps_value_lock(v));
	int err = free ? mps_value_get(v, cell) : EBUSY;
	if (err && err != EOWNERDEAD) {
		add(l, " value=(locked)");
		return;
	}
	add(l, " value=");
	add_element(l, tc, cell);
}

static void add_array(struct line *l, const struct objects *o, mps_array_t *a)
{
	unsigned char cells[8 * MAX_ITEMS];
	char tc = mps_array_typecode(a);
	size_t len = mps_array_len(a), size = mps_typecode_size(tc);
	size_t shown = len < MAX_ITEMS ? len : MAX_ITEMS;
	add(l, " typecode=%c len=%zu", tc, len);
	bool free = add_sync(l, o, mps_array_sync(a), mps_array_lock(a));
	int err = free ? mps_array_read(a, 0, shown, cells) : EBUSY;
	if (err && err != EOWNERDEAD) {
		add(l, " items=(locked)");
		return;
	}
	add(l, " items=[");
	for (size_t i = 0; i < shown; i++) {
		add(l, i ? "," : "");
		add_element(l, tc, cells + i * size);
	}
	add(l, "%s]", len > shown ? ",..." : "");
}

static void add_queue(struct line *l, mps_queue_t *q, bool joinable)
{
	add(l, " qsize=%zu bytes=%zu capacity=%zu maxsize=%u getters_waiting=%u"
	       " putters_waiting=%u", mps_queue_qsize(q), mps_queue_bytes(q),
	    mps_queue_capacity(q), mps_queue_maxsize(q), mps_queue_getters_waiting(q),
	    mps_queue_putters_waiting(q));
	if (joinable)
		add(l, " unfinished=%zu", mps_queue_unfinished(q));
	add(l, " shutdown=%s", yes_no(mps_queue_is_shutdown(q)));
}

static void add_state(struct line *l, const struct objects *o, enum mps_kind kind, void *obj)
{
	switch (kind) {
	case MPS_KIND_LOCK:  add_lock(l, obj); break;
	case MPS_KIND_RLOCK: add_rlock(l, obj); break;
	case MPS_KIND_SEMAPHORE: add(l, " value=%u", mps_sem_value(obj)); break;
	case MPS_KIND_BOUNDED_SEMAPHORE:
		add(l, " value=%u bound=%u", mps_sem_value(obj), mps_sem_bound(obj));
		break;
	case MPS_KIND_EVENT: add(l, " set=%s", yes_no(mps_event_is_set(obj))); break;
	case MPS_KIND_CONDITION: add(l, " waiters=%u", mps_cond_n_waiting(obj)); break;
	case MPS_KIND_BARRIER:
		add(l, " parties=%u waiting=%u broken=%s", mps_barrier_parties(obj),
		    mps_barrier_n_waiting(obj), yes_no(mps_barrier_broken(obj)));
		break;
	case MPS_KIND_VALUE: add_value(l, o, obj); break;
	case MPS_KIND_ARRAY: add_array(l, o, obj); break;
	case MPS_KIND_QUEUE: add_queue(l, obj, false); break;
	case MPS_KIND_JOINABLE_QUEUE: add_queue(l, obj, true); break;
	case MPS_KIND_DICT: add(l, " len=%zu", mps_dict_len(obj)); break;
	case MPS_KIND_LIST: add(l, " len=%zu", mps_list_len(obj)); break;
	case MPS_KIND_NAMESPACE: add(l, " len=%zu", mps_namespace_len(obj)); break;
	default: break;
	}
}

/* ---- show ---- */

static void show_header(const char *name, const struct mps_segment_info *info)
{
	char when[64] = "-", pids[512];
	time_t secs = (time_t)(info->created_unix_ns / 1000000000);
	struct tm tm;
	if (gmtime_r(&secs, &tm))
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	unsigned n = attached_others(info, pids, sizeof pids, ' ');
	printf("segment %s\n", bare(name));
	printf("layout_version %u\n", info->layout_version);
	printf("size %llu\n", (unsigned long long)info->size);
	printf("free_bytes %llu\n", (unsigned long long)info->free_bytes);
	printf("creator_pid %d\n", (int)info->creator_pid);
	printf("creator_alive %s\n", yes_no(info->creator_alive));
	printf("pid_namespace %llu\n", (unsigned long long)info->pid_namespace);
	printf("created %s\n", when);
	printf("objects %u\n", info->objects);
	printf("names %u\n", info->names);
	printf("attached %u%s%s\n", n, n ? " " : "", pids);
}

static int cmd_show(const char *name)
{
	mps_segment_t *seg;
	if (open_named(name, &seg))
		return EXIT_ERR;
	struct mps_segment_info info;
	struct objects o = { 0 };
	int err = mps_segment_info(seg, &info);
	if (!err)
		err = mps_segment_foreach(seg, collect, &o);
	if (err) {
		report(name, err, NULL);
		mps_segment_close(seg);
		free(o.v);
		return EXIT_ERR;
	}
	show_header(name, &info);
	qsort(o.v, o.n, sizeof *o.v, by_object_name);
	for (size_t i = 0; i < o.n; i++) {
		struct line l = { .len = 0 };
		enum mps_kind kind = mps_object_kind(o.v[i].object);
		add(&l, "object %s %s refs=%u", o.v[i].name, mps_kind_name(kind),
		    mps_object_refs(o.v[i].object));
		add_state(&l, &o, kind, o.v[i].object);
		printf("%s\n", l.buf);
	}
	free(o.v);
	mps_segment_close(seg);
	return EXIT_OK;
}

/* ---- rm ---- */

static int cmd_rm(const char *name, bool force)
{
	mps_segment_t *seg;
	off_t size;
	int err = 0;
	enum probe p = probe(bare(name), &size, &err);
	if (p == P_OTHER) {
		report(name, EPROTO, "; not removed");
		return EXIT_ERR;
	}
	if (p == P_ERROR) {
		report(name, err, NULL);
		return EXIT_ERR;
	}
	err = mps_segment_open(name, &seg);
	if (err && !force) {
		report(name, err, "; not removed (--force removes it anyway)");
		return EXIT_ERR;
	}
	if (!err) {
		struct mps_segment_info info;
		char pids[512];
		unsigned n = 0;
		if (mps_segment_info(seg, &info) == 0)
			n = attached_others(&info, pids, sizeof pids, ' ');
		mps_segment_close(seg);
		if (n && !force) {
			fprintf(stderr, "mpsync: %s: in use by pid %s; not removed (--force removes it"
			        " anyway)\n", bare(name), pids);
			return EXIT_ERR;
		}
	}
	err = mps_segment_unlink(name);
	if (err) {
		report(name, err, NULL);
		return EXIT_ERR;
	}
	printf("removed %s\n", bare(name));
	return EXIT_OK;
}

/* ---- main ---- */

static int usage(void)
{
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	                  !strcmp(argv[1], "help"))) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (argc == 2 && !strcmp(argv[1], "list"))
		return cmd_list();
	if (argc == 3 && !strcmp(argv[1], "show"))
		return cmd_show(argv[2]);
	if (argc >= 3 && argc <= 4 && !strcmp(argv[1], "rm")) {
		const char *name = NULL;
		bool force = false;
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f"))
				force = true;
			else if (!name && argv[i][0] != '-')
				name = argv[i];
			else
				return usage();
		}
		return name ? cmd_rm(name, force) : usage();
	}
	return usage();
}
