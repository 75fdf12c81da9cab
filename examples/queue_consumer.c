/* Consumer half of the queue example: attaches to segment "mpsync-example"
 * by name, takes jobs (a number as text) from the JoinableQueue "jobs",
 * stores number -> number squared in the dict "results", and marks each job
 * done. It leaves when the producer shuts the queue down. */
#include <errno.h>
#include <mpsync.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SEGMENT "mpsync-example"
#define WAIT_S  60.0

static int fail(const char *what, int err)
{
	fprintf(stderr, "consumer %d: %s: %s\n", (int)getpid(), what, mps_strerror(err));
	return 1;
}

static int consume(mps_queue_t *jobs, mps_dict_t *results)
{
	int done = 0;
	for (;;) {
		char item[16];
		size_t len;
		int err = mps_queue_get(jobs, item, sizeof item - 1, &len, WAIT_S);
		if (err == ESHUTDOWN)
			break;
		if (err)
			return fail("get", err);
		item[len] = 0;
		long long n = atoll(item);
		mps_var_t key = mps_int(n), square = mps_int(n * n);
		if ((err = mps_dict_set(results, &key, &square)))
			return fail("storing a result", err);
		if ((err = mps_queue_task_done(jobs)))
			return fail("task_done", err);
		done++;
	}
	printf("consumer %d: %d jobs\n", (int)getpid(), done);
	return 0;
}

int main(void)
{
	mps_segment_t *seg;
	mps_queue_t *jobs;
	mps_dict_t *results;
	mps_sem_t *attached;
	int err = mps_segment_open(SEGMENT, &seg);
	if (err)
		return fail("opening " SEGMENT, err);
	if ((err = mps_segment_joinable_queue(seg, "jobs", MPS_OPEN_ONLY, 0, 0, &jobs)) ||
	    (err = mps_segment_dict(seg, "results", MPS_OPEN_ONLY, &results)) ||
	    (err = mps_segment_semaphore(seg, "consumers", MPS_OPEN_ONLY, 0, &attached)))
		return fail("finding the objects", err);
	mps_sem_release(attached, 1);    /* attached: the producer may unlink later */
	int r = consume(jobs, results);
	mps_segment_close(seg);
	return r;
}
