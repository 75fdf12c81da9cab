/* Kernel IPC as context for the manager family's queue row: what a C
 * program would use without mpsync to pass small records between two
 * processes. Both are opened before the fork and inherited.
 *
 *   posix-mq  mq_open / mq_send / mq_receive, messages of MGR_ITEM bytes;
 *             1024 deep when the kernel allows it (root, or
 *             fs.mqueue.msg_max >= 1024), else fs.mqueue.msg_max; the name
 *             is unlinked at once, the descriptor stays valid
 *   pipe      write / read of fixed MGR_ITEM-byte records (atomic writes:
 *             under PIPE_BUF); the default 64 KiB buffer */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

#define MQ_DEPTH 1024

/* ---- POSIX message queue ---- */

static long mq_limit(void)
{
	long v = 10;
	FILE *f = fopen("/proc/sys/fs/mqueue/msg_max", "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = 10;
		fclose(f);
	}
	return v;
}

static mqd_t mq_make(long depth)
{
	static unsigned seq;
	char name[64];
	struct mq_attr attr = { .mq_maxmsg = depth, .mq_msgsize = MGR_ITEM };
	snprintf(name, sizeof name, "/mpsync-bench-%d-%u", (int)getpid(), seq++);
	mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
	if (q != (mqd_t)-1)
		mq_unlink(name);
	return q;
}

static int mq_ctx_open(void **ctx, char *note, size_t n)
{
	long depth = MQ_DEPTH;
	mqd_t q = mq_make(depth);
	if (q == (mqd_t)-1 && (errno == EINVAL || errno == EPERM || errno == EMFILE)) {
		depth = mq_limit();
		q = mq_make(depth);
	}
	if (q == (mqd_t)-1) {
		int err = errno;
		snprintf(note, n, "mq_open: %s", err_text(err));
		return err;
	}
	mqd_t *p = malloc(sizeof *p);
	if (!p) {
		mq_close(q);
		return ENOMEM;
	}
	*p = q;
	*ctx = p;
	snprintf(note, n, "depth %ld messages", depth);
	return 0;
}

static int mq_put(void *ctx, const void *item)
{
	while (mq_send(*(mqd_t *)ctx, item, MGR_ITEM, 0) != 0)
		if (errno != EINTR)
			return errno;
	return 0;
}

static int mq_get(void *ctx, void *item)
{
	ssize_t got;
	while ((got = mq_receive(*(mqd_t *)ctx, item, MGR_ITEM, NULL)) < 0)
		if (errno != EINTR)
			return errno;
	return got == MGR_ITEM ? 0 : EBADMSG;
}

static void mq_ctx_close(void *ctx)
{
	mq_close(*(mqd_t *)ctx);
	free(ctx);
}

const struct chan_impl chan_mq = {
	"posix-mq", ROLE_ALT, mq_ctx_open, mq_put, mq_get, mq_ctx_close
};

/* ---- pipe ---- */

static int pipe_open(void **ctx, char *note, size_t n)
{
	int *fd = malloc(2 * sizeof *fd);
	if (!fd)
		return ENOMEM;
	if (pipe2(fd, O_CLOEXEC) != 0) {
		int err = errno;
		snprintf(note, n, "pipe2: %s", err_text(err));
		free(fd);
		return err;
	}
	int size = fcntl(fd[0], F_GETPIPE_SZ);
	snprintf(note, n, "depth %d records (%d KiB)", size / MGR_ITEM, size >> 10);
	*ctx = fd;
	return 0;
}

static int pipe_put(void *ctx, const void *item)
{
	const char *p = item;
	size_t left = MGR_ITEM;
	while (left) {
		ssize_t w = write(((int *)ctx)[1], p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? errno : EIO;
		p += w;
		left -= (size_t)w;
	}
	return 0;
}

static int pipe_get(void *ctx, void *item)
{
	char *p = item;
	size_t left = MGR_ITEM;
	while (left) {
		ssize_t r = read(((int *)ctx)[0], p, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? errno : EPIPE;
		p += r;
		left -= (size_t)r;
	}
	return 0;
}

static void pipe_close(void *ctx)
{
	int *fd = ctx;
	close(fd[0]);
	close(fd[1]);
	free(fd);
}

const struct chan_impl chan_pipe = { "pipe", ROLE_ALT, pipe_open, pipe_put, pipe_get, pipe_close };
