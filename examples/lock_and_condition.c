/* Two processes share a Lock and a Condition in an anonymous shared mapping:
 * the child waits until the parent publishes a value. */
#include <mpsync.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

struct shared { mps_lock_t lock; mps_cond_t ready; int value; };

static bool published(void *arg) { return ((struct shared *)arg)->value != 0; }

int main(void)
{
	struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE,
	                        MAP_SHARED | MAP_ANONYMOUS, -1, 0); /* zeroed = ready to use */
	if (fork() == 0) {
		mps_lock_acquire(&s->lock, MPS_FOREVER);
		mps_cond_wait_for(&s->ready, &s->lock, published, s, 5.0);
		printf("child saw %d\n", s->value);
		mps_lock_release(&s->lock);
		fflush(stdout);
		_exit(0);
	}
	mps_lock_acquire(&s->lock, MPS_FOREVER);
	s->value = 42;
	mps_cond_notify_all(&s->ready);
	mps_lock_release(&s->lock);
	wait(NULL);
	return 0;
}
