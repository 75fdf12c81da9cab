/* Linked against the shared libmpsync: the inline fast paths compiled into
 * this program read the library's TLS record (mps_tls_held) and its fork
 * stamp (mps_stamp_page, which a copy relocation places in this program's
 * .bss: it must stay one page-aligned page, advised MADV_WIPEONFORK). A child
 * made by a raw fork syscall, which runs no atfork handler, must not take
 * its parent's RLock for its own. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpsync.h>

static mps_rlock_t rlock = MPS_RLOCK_INIT;

static int fail(const char *why)
{
	fprintf(stderr, "shared_fork: %s\n", why);
	return 1;
}

int main(void)
{
	if ((uintptr_t)mps_stamp_page % 4096 != 0)
		return fail("the stamp page is not page-aligned");
	if (mps_rlock_acquire(&rlock, 0) != 0 || mps_rlock_acquire(&rlock, 0) != 0 ||
	    mps_rlock_count(&rlock) != 2)
		return fail("the parent could not take its RLock twice");
	pid_t pid = (pid_t)syscall(SYS_fork);
	if (pid == 0)
		_exit(mps_rlock_acquire(&rlock, 0) == ETIMEDOUT && mps_rlock_count(&rlock) == 0 ? 0 : 1);
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return fail("the child did not exit");
	if (WEXITSTATUS(status) != 0)
		return fail("the child took its parent's RLock for its own (stale tid cache)");
	if (mps_rlock_release(&rlock) != 0 || mps_rlock_release(&rlock) != 0 ||
	    mps_rlock_release(&rlock) != EPERM)
		return fail("the parent's releases went wrong");
	printf("shared libmpsync: inline fast paths, TLS record and fork stamp: ok\n");
	return 0;
}
