/* Plain driver for fuzz_ops.c, for compilers without libFuzzer (gcc) and for
 * CTest: replays every file of the given corpus directories (or files), then
 * runs random inputs from a seeded PRNG until the time is up.
 *
 *   fuzz_replay [--seconds S] [--seed N] [--runs N] [PATH...]
 *
 * Environment: FUZZ_SECONDS (default 20), FUZZ_SEED (default: the clock,
 * printed); --seconds 0 runs no random input. A broken check aborts with the
 * op and result on stderr; the input that did it (or that made a sanitizer
 * report) is written to fuzz-crash-<seed>-<n>.bin (fuzz-crash-replay.bin for
 * a file) first, so it can be replayed here or by the libFuzzer binary.
 * FUZZ_TRACE=1 prints every call. Ends with "N passed, N failed". */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX 1024
#define OBJECT_BYTES 72

struct options {
	double seconds;
	unsigned long long seed;
	long runs;
};

static uint8_t current[INPUT_MAX];
static size_t current_size;
static char current_name[512];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Under ASan/UBSan: die by abort(), so save_current() keeps the input that
 * made the report (UBSAN_OPTIONS / ASAN_OPTIONS still override). */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__asan_default_options(void) { return "abort_on_error=1"; }
const char *__ubsan_default_options(void) { return "abort_on_error=1:print_stacktrace=1"; }

static void write_current(void)
{
	int fd = open(current_name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		ssize_t w = write(fd, current, current_size);
		close(fd);
		if (w == (ssize_t)current_size)
			fprintf(stderr, "fuzz_replay: input saved as %s\n", current_name);
	}
}

/* On abort (a broken check or, under a sanitizer, its report) or a crash:
 * keep the input, then die of the same signal. */
static void save_current(int sig)
{
	write_current();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Only where nobody (a sanitizer) handles the signal already. */
static void catch_fatal_signals(void)
{
	static const int sigs[] = { SIGABRT, SIGBUS, SIGSEGV, SIGILL, SIGFPE };
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		struct sigaction old;
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
			signal(sigs[i], save_current);
	}
}

static void run(const uint8_t *data, size_t size)
{
	current_size = size < INPUT_MAX ? size : INPUT_MAX;
	memcpy(current, data, current_size);
	LLVMFuzzerTestOneInput(data, size);
}

static long replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "fuzz_replay: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	uint8_t buf[INPUT_MAX];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	snprintf(current_name, sizeof current_name, "fuzz-crash-replay.bin");
	run(buf, n);
	return 1;
}

static long replay_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return replay_file(path);
	long count = 0;
	struct dirent *e;
	char full[4096];
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(full, sizeof full, "%s/%s", path, e->d_name);
		struct stat st;
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
			count += replay_file(full);
	}
	closedir(d);
	return count;
}

/* Object bytes: zero (valid for most), random, or zero with a few bytes set;
 * then random calls. */
static size_t random_input(uint64_t *s, uint8_t *buf)
{
	size_t size = OBJECT_BYTES + next(s) % (INPUT_MAX - OBJECT_BYTES);
	for (size_t i = 0; i < size; i++)
		buf[i] = (uint8_t)next(s);
	uint64_t style = next(s) % 4;
	if (style < 3)
		memset(buf, 0, OBJECT_BYTES);
	for (uint64_t k = style == 2 ? next(s) % 6 : 0; k > 0; k--)
		buf[next(s) % OBJECT_BYTES] = (uint8_t)next(s);
	return size;
}

static long random_runs(const struct options *o)
{
	uint64_t s = o->seed | 1;
	uint8_t buf[INPUT_MAX];
	double end = now_s() + o->seconds;
	long n = 0;
	while ((o->runs > 0 ? n < o->runs : now_s() < end)) {
		size_t size = random_input(&s, buf);
		snprintf(current_name, sizeof current_name, "fuzz-crash-%llu-%ld.bin", o->seed, n);
		run(buf, size);
		n++;
	}
	return n;
}

static double env_double(const char *name, double fallback)
{
	const char *s = getenv(name);
	return s && *s ? atof(s) : fallback;
}

static int parse(int argc, char **argv, struct options *o)
{
	o->seconds = env_double("FUZZ_SECONDS", 20);
	o->seed = getenv("FUZZ_SEED") ? strtoull(getenv("FUZZ_SEED"), NULL, 0)
	                               : (unsigned long long)time(NULL);
	o->runs = 0;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (i + 1 >= argc) {
			fprintf(stderr, "usage: fuzz_replay [--seconds S] [--seed N] [--runs N] [PATH...]\n");
			exit(2);
		}
		if (!strcmp(argv[i], "--seconds"))
			o->seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--seed"))
			o->seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--runs"))
			o->runs = atol(argv[++i]);
	}
	return i;
}

int main(int argc, char **argv)
{
	struct options o;
	int first = parse(argc, argv, &o);
	catch_fatal_signals();
	setvbuf(stdout, NULL, _IOLBF, 0);
	long files = 0;
	for (int i = first; i < argc; i++)
		files += replay_dir(argv[i]);
	printf("fuzz_replay: %ld corpus input(s) passed\n", files);
	printf("fuzz_replay: random inputs, seed %llu (FUZZ_SEED=%llu repeats them), %.0f s\n",
	       o.seed, o.seed, o.seconds);
	long n = random_runs(&o);
	printf("fuzz_replay: %ld random input(s) passed\n", n);
	printf("%d passed, 0 failed\n", (files > 0) + (n > 0));
	return 0;
}
