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
	case EEXIST:      return "exists: the name is taken (create-only)";
	case ENOENT:      return "not found: no such segment, name or key";
	case ENAMETOOLONG: return "name too long";
	case ENOSPC:      return "no space: /dev/shm or the segment is full";
	case EPROTO:      return "not an mpsync segment, or another layout version";
	case EBADMSG:     return "segment header or structure corrupt";
	case EAGAIN:      return "segment still being initialised by its creator";
	case ENOTRECOVERABLE: return "segment half-initialised: its creator died; remove it";
	case EXDEV:       return "segment created in another PID namespace";
	case EPROTOTYPE:  return "an object of another kind has that name";
	case EMSGSIZE:    return "item too large for the queue, or buffer too small for the item";
	case ESHUTDOWN:   return "queue shut down";
	case ENOTSUP:     return "not supported by this kind of object";
	case ERANGE:      return "index or number out of range";
	case ESTALE:      return "container changed during iteration";
	case ENOMEM:      return "out of process memory";
	default:          return "unknown mpsync result code";
	}
}
