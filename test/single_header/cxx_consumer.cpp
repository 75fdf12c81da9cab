// A C++ program using the single header for the API (extern "C"); the
// implementation comes from a C file (impl.c), as the header requires.
// Built with g++ and clang++ by run.sh, -Wall -Wextra -Wpedantic -Werror.
#include "mpsync.h"

#include <cstdio>
#include <thread>

namespace {

mps_lock_t lock = MPS_LOCK_INIT;
mps_cond_t cond = MPS_COND_INIT;
int ready;   // under lock

bool is_ready(void *arg)
{
	return *static_cast<const int *>(arg) != 0;
}

int threads()
{
	if (mps_lock_acquire(&lock, 5.0) != 0)
		return 1;
	std::thread producer([] {
		mps_lock_acquire(&lock, MPS_FOREVER);
		ready = 1;
		mps_cond_notify(&cond, 1);
		mps_lock_release(&lock);
	});
	// No _Generic in C++: the typed function.
	int r = mps_cond_wait_for_lock(&cond, &lock, is_ready, &ready, 10.0);
	mps_lock_release(&lock);
	producer.join();
	return r;
}

int segment()
{
	mps_segment_t *seg;
	mps_list_t *list;
	int r = mps_segment_create_anonymous(1 << 20, &seg);
	if (r != 0)
		return r;
	r = mps_segment_list(seg, "squares", MPS_CREATE_ONLY, &list);
	for (int i = 0; r == 0 && i < 10; i++) {
		mps_var_t v = mps_int(i * i);
		r = mps_list_append(list, &v);
	}
	mps_var_t got = mps_none();
	mps_out_t none = {nullptr, 0};
	if (r == 0)
		r = mps_list_get(list, -1, &got, none);
	if (r == 0 && (got.type != MPS_INT || got.i != 81))
		r = -1;
	mps_segment_close(seg);
	return r;
}

}  // namespace

int main()
{
	int r = threads();
	if (r == 0)
		r = segment();
	std::printf("C++ consumer of the single header: %s\n", r == 0 ? "ok" : mps_strerror(r));
	return r == 0 ? 0 : 1;
}
