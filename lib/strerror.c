#include <errno.h>
#include <mpsync/common.h>

const char *mps_strerror(int code)
{
	switch (code) {
	case 0:           return "success";
	case ETIMEDOUT:   return "timed out: not acquired or not signalled within the timeout";
	case EPERM:       return "not permitted: the lock is not held, or not by the caller";
	case EOVERFLOW:   return "overflow: bounded semaphore released too many times, or a counter limit";
	case EINVAL:      return "invalid argument or corrupt object";
	case EINTR:       return "interrupted by a signal handler (thread is interruptible)";
	case EOWNERDEAD:  return "acquired, but the previous owner died holding it";
	case MPS_EBROKEN: return "barrier broken: aborted, reset, timed out, or its action failed";
	default:          return "unknown mpsync result code";
	}
}
