/* Owner identity is the kernel tid, the same number in every process of one
 * PID namespace. gettid() is a syscall, so the tid is cached in TLS; the
 * atfork child handler runs in the only thread of the child (the one that
 * called fork) and clears its stale copy. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpsync/common.h>

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
/* Reads /proc/<id>/stat into buf; -1 when the file cannot be opened (errno
 * set), else the bytes read. The one /proc reader of the library. */
static ssize_t read_stat(uint32_t id, char *buf, size_t cap)
{
	char path[32];
	snprintf(path, sizeof path, "/proc/%u/stat", id);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return n;
}

bool mps_tid_alive(uint32_t tid)
{
	char buf[512];
	ssize_t n = read_stat(tid, buf, sizeof buf);
	if (n < 0) {
		/* Only "no such thread" is proof of death; out of file descriptors
		 * or no /proc at all proves nothing. */
		if (errno != ENOENT && errno != ESRCH)
			return true;
		return access("/proc/self/stat", F_OK) != 0;
	}
	if (n == 0)
		return false;
	char *paren = strrchr(buf, ')');
	if (!paren || paren[1] != ' ')
		return true;
	char state = paren[2];
	return state != 'Z' && state != 'X' && state != 'x';
}

bool mps_owner_alive(pid_t tid)
{
	return tid > 0 && mps_tid_alive((uint32_t)tid);
}

/* Start time of a process in clock ticks since boot (field 22 of stat), 0
 * when it is gone or a zombie: with the pid it names one process, so a
 * reused pid is not taken for a recorded one. */
uint64_t mps_process_start(int pid)
{
	char buf[1024];
	if (pid <= 0 || read_stat((uint32_t)pid, buf, sizeof buf) <= 0)
		return 0;
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X' || p[2] == 'x')
		return 0;
	for (int field = 3; p && field <= 22; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}
