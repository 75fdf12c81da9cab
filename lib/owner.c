/* Owner identity is the kernel tid, the same number in every process of one
 * PID namespace. gettid() is a syscall, so the tid is cached in TLS; the
 * atfork child handler runs in the only thread of the child (the one that
 * called fork) and clears its stale copy. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "owner.h"

_Thread_local uint32_t mps_tls_tid __attribute__((tls_model("initial-exec")));

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void forget_tid_in_child(void)
{
	mps_tls_tid = 0;
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, forget_tid_in_child);
}

uint32_t mps_self_tid_slow(void)
{
	pthread_once(&atfork_once, register_atfork);
	mps_tls_tid = (uint32_t)gettid();
	return mps_tls_tid;
}

/* /proc/<tid>/stat reads "tid (comm) S ..."; comm may hold ')' so the state
 * is the first letter after the last ')'. Threads that are not group leaders
 * are not listed in /proc but are reachable there by tid. */
bool mps_tid_alive(uint32_t tid)
{
	char path[32], buf[512];
	snprintf(path, sizeof path, "/proc/%u/stat", tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* Only "no such thread" is proof of death; out of file descriptors
		 * or no /proc at all proves nothing. */
		if (errno != ENOENT && errno != ESRCH)
			return true;
		return access("/proc/self/stat", F_OK) != 0;
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	char *paren = strrchr(buf, ')');
	if (!paren || paren[1] != ' ')
		return true;
	char state = paren[2];
	return state != 'Z' && state != 'X' && state != 'x';
}
