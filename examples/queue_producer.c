/* Producer half of the queue example (run_queue_example.sh runs it with
 * queue_consumer; the programs are unrelated: they meet by name only).
 *
 * It creates segment "mpsync-example" holding a JoinableQueue "jobs", a
 * dict "results" and a Semaphore "consumers", waits until the number of
 * consumers given on the command line has attached, queues the jobs, waits
 * for all of them to be done (join), prints the results, and shuts the queue
 * down, which ends the consumers. Python equivalent: a SyncManager with a
 * JoinableQueue and a dict, without the server process. */
#include <mpsync.h>
#include <stdio.h>
#include <stdlib.h>

#define SEGMENT "mpsync-example"
#define JOBS    20
#define WAIT_S  60.0

static int fail(const char *what, int err)
{
	fprintf(stderr, "producer: %s: %s\n", what, mps_strerror(err));
	return 1;
}

static int print_results(mps_dict_t *results)
{
	for (int i = 1; i <= JOBS; i++) {
		mps_var_t key = mps_int(i), value;
		int err = mps_dict_get(results, &key, &value, (mps_out_t){ NULL, 0 });
		if (err)
			return fail("result missing", err);
		printf("job %d: %lld\n", i, (long long)value.i);
	}
	return 0;
}

static int produce(mps_segment_t *seg, int consumers)
{
	mps_queue_t *jobs;
	mps_dict_t *results;
	mps_sem_t *attached;
	int err;
	if ((err = mps_segment_joinable_queue(seg, "jobs", MPS_CREATE_ONLY, 0, 4096, &jobs)) ||
	    (err = mps_segment_dict(seg, "results", MPS_CREATE_ONLY, &results)) ||
	    (err = mps_segment_semaphore(seg, "consumers", MPS_CREATE_ONLY, 0, &attached)))
		return fail("creating the objects", err);
	printf("producer: ready\n");
	fflush(stdout);
	for (int i = 0; i < consumers; i++)
		if ((err = mps_sem_acquire(attached, WAIT_S)))
			return fail("waiting for the consumers", err);
	for (int i = 1; i <= JOBS; i++) {
		char item[16];
		int len = snprintf(item, sizeof item, "%d", i);
		if ((err = mps_queue_put(jobs, item, (size_t)len, WAIT_S)))
			return fail("put", err);
	}
	if ((err = mps_queue_join(jobs, WAIT_S)))
		return fail("join", err);
	printf("producer: %zu results\n", mps_dict_len(results));
	err = print_results(results);
	mps_queue_shutdown(jobs, false);   /* the consumers' next get fails: they leave */
	return err;
}

int main(int argc, char **argv)
{
	int consumers = argc > 1 ? atoi(argv[1]) : 1;
	mps_segment_t *seg;
	mps_segment_unlink(SEGMENT);       /* a previous run's leftover, if any */
	int err = mps_segment_create(SEGMENT, 1 << 20, &seg);
	if (err)
		return fail("creating " SEGMENT, err);
	int r = produce(seg, consumers);
	mps_segment_close(seg);
	mps_segment_unlink(SEGMENT);       /* attached consumers keep their mapping */
	return r;
}
