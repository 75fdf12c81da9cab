/* Errors, timeouts and the blocking-call loop shared by every wrapper. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "_mpsync.h"

/* OSError(code, msg[, filename]) with our own words for the code. */
PyObject *mpy_os_error(int code, const char *msg, const char *filename)
{
	PyObject *args = filename ? Py_BuildValue("(iss)", code, msg, filename)
	                          : Py_BuildValue("(is)", code, msg);
	if (args) {
		PyErr_SetObject(PyExc_OSError, args);
		Py_DECREF(args);
	}
	return NULL;
}

PyObject *mpy_error(int code)
{
	int saved = errno;
	switch (code) {
	case ENOMEM:
		PyErr_NoMemory();
		break;
	case EINVAL:
		PyErr_SetString(PyExc_ValueError, mps_strerror(code));
		break;
	case ERANGE:
		PyErr_SetString(PyExc_IndexError, "index out of range");
		break;
	case MPS_EBROKEN:
		PyErr_SetNone(Mpy_BrokenBarrierError);
		break;
	case ENOSPC:        /* say which space: not the disk's */
		mpy_os_error(ENOSPC, "no space left in the shared memory segment (see Manager's "
		             "size=, Queue's capacity=) or in /dev/shm", NULL);
		break;
	default:
		errno = code;   /* FileNotFoundError, FileExistsError... by errno */
		PyErr_SetFromErrno(PyExc_OSError);
		break;
	}
	errno = saved;
	return NULL;
}

int mpy_owner_died(void)
{
	return PyErr_WarnEx(Mpy_OwnerDiedWarning,
	                    "the previous holder of this lock died while holding it; "
	                    "the data it protects may be inconsistent", 1);
}

int mpy_timeout_only(PyObject *timeout, double *out)
{
	if (!timeout || timeout == Py_None) {
		*out = MPS_FOREVER;
		return 0;
	}
	double t = PyFloat_AsDouble(timeout);
	if (t == -1.0 && PyErr_Occurred())
		return -1;
	if (isnan(t)) {
		PyErr_SetString(PyExc_ValueError, "timeout must not be NaN");
		return -1;
	}
	*out = t < 0 ? 0 : t;
	return 0;
}

int mpy_timeout(PyObject *block, PyObject *timeout, double *out)
{
	if (block) {
		int b = PyObject_IsTrue(block);
		if (b < 0)
			return -1;
		if (!b) {
			*out = 0;
			return 0;
		}
	}
	return mpy_timeout_only(timeout, out);
}

static double monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The library reports a signal as EINTR when its handler ran before the
 * call's last check for pending signals or while it sleeps in the kernel.
 * A handler that runs between that check and the sleep (a few
 * instructions; no futex wait can close it), or one that arrives while a
 * timed-out sleep waits for a CPU, sets Python's flag but leaves the
 * library asleep. Python runs signal handlers only in the main thread, so
 * only the main thread cuts a long wait into slices, after each of which
 * PyErr_CheckSignals sees the flag; every other thread sleeps until it is
 * woken (idle waiters cost nothing). */
#define SIGNAL_SLICE 0.1

int mpy_block_sliced(mpy_blocking_fn fn, void *obj, double timeout, void *arg, double slice)
{
	double deadline = isinf(timeout) ? timeout : monotonic() + timeout;
	bool main_thread = _PyOS_IsMainThread();
	/* A signal caught since the interpreter last looked (say, during the
	 * first, non-blocking attempt) would not interrupt the wait: its C
	 * handler has already run. Run the Python handlers now. */
	if (PyErr_CheckSignals() < 0)
		return -1;
	for (;;) {
		int r;
		double t = timeout > slice && main_thread ? slice : timeout;
		Py_BEGIN_ALLOW_THREADS
		bool was = mps_set_interruptible(true);
		r = fn(obj, t, arg);
		mps_set_interruptible(was);
		Py_END_ALLOW_THREADS
		if (r != EINTR && !(r == ETIMEDOUT && t < timeout))
			return r;
		if (PyErr_CheckSignals() < 0)
			return -1;
		if (!isinf(timeout)) {
			timeout = deadline - monotonic();
			if (timeout < 0)
				timeout = 0;
		}
	}
}

int mpy_block(mpy_blocking_fn fn, void *obj, double timeout, void *arg)
{
	return mpy_block_sliced(fn, obj, timeout, arg, SIGNAL_SLICE);
}

/* acquire(block=True, timeout=None), with threading's keyword "blocking"
 * accepted for block. */
int mpy_parse_acquire(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                      double *timeout)
{
	PyObject *block = NULL, *to = NULL;
	if (nargs > 2) {
		PyErr_SetString(PyExc_TypeError, "acquire() takes at most 2 arguments");
		return -1;
	}
	if (nargs > 0)
		block = args[0];
	if (nargs > 1)
		to = args[1];
	Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
	for (Py_ssize_t i = 0; i < nkw; i++) {
		PyObject *k = PyTuple_GET_ITEM(kwnames, i);
		PyObject **slot = NULL;
		if (PyUnicode_CompareWithASCIIString(k, "block") == 0 ||
		    PyUnicode_CompareWithASCIIString(k, "blocking") == 0)
			slot = &block;
		else if (PyUnicode_CompareWithASCIIString(k, "timeout") == 0)
			slot = &to;
		if (!slot || *slot) {
			PyErr_Format(PyExc_TypeError, "acquire() got an unexpected or repeated "
			             "keyword argument %R", k);
			return -1;
		}
		*slot = args[nargs + i];
	}
	return mpy_timeout(block, to, timeout);
}

/* One optional argument, positional or by keyword name. */
int mpy_parse_one(const char *fname, const char *kwname, PyObject *const *args,
                  Py_ssize_t nargs, PyObject *kwnames, PyObject **out)
{
	Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
	if (nargs + nkw > 1) {
		PyErr_Format(PyExc_TypeError, "%s() takes at most 1 argument", fname);
		return -1;
	}
	if (nargs == 1)
		*out = args[0];
	else if (nkw == 1) {
		if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), kwname)) {
			PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R",
			             fname, PyTuple_GET_ITEM(kwnames, 0));
			return -1;
		}
		*out = args[0];
	}
	return 0;
}

/* wait(timeout=None) of Condition and Event. */
int mpy_parse_wait(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, double *timeout)
{
	PyObject *to = NULL;
	if (mpy_parse_one("wait", "timeout", args, nargs, kwnames, &to) < 0)
		return -1;
	return mpy_timeout_only(to, timeout);
}

/* The result of an acquire: True, False on timeout, True with a warning
 * when the previous holder died (released again if the warning raised). */
PyObject *mpy_acquired(int r, int (*release)(void *), void *obj)
{
	switch (r) {
	case 0:
		Py_RETURN_TRUE;
	case ETIMEDOUT:
		Py_RETURN_FALSE;
	case EOWNERDEAD:
		if (mpy_owner_died() < 0) {
			release(obj);
			return NULL;
		}
		Py_RETURN_TRUE;
	case -1:
		return NULL;
	default:
		return mpy_error(r);
	}
}

/* The raised exception as one object (PyErr_Fetch is deprecated in 3.12). */
PyObject *mpy_take_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
	return PyErr_GetRaisedException();
#else
	PyObject *type, *value, *tb;
	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	if (tb)
		PyException_SetTraceback(value, tb);
	Py_XDECREF(type);
	Py_XDECREF(tb);
	return value;
#endif
}

void mpy_give_exception(PyObject *exc)
{
#if PY_VERSION_HEX >= 0x030C0000
	PyErr_SetRaisedException(exc);
#else
	PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc,
	              PyException_GetTraceback(exc));
#endif
}

/* Py_ReprEnter for a shared container. Every read of a nested container
 * makes a new wrapper, so identity cannot find the cycle: the payload's
 * address in this mapping is the key. */
static PyObject *repr_set(void)
{
	PyObject *td = PyThreadState_GetDict();
	if (!td) {
		PyErr_SetString(PyExc_RuntimeError, "mpsync: no thread state dict");
		return NULL;
	}
	PyObject *set = PyDict_GetItemString(td, "mpsync.repr");
	if (set)
		return set;
	if (!(set = PySet_New(NULL)))
		return NULL;
	int r = PyDict_SetItemString(td, "mpsync.repr", set);
	Py_DECREF(set);
	return r < 0 ? NULL : set;
}

int mpy_repr_enter(void *obj)
{
	PyObject *set = repr_set();
	PyObject *key = set ? PyLong_FromVoidPtr(obj) : NULL;
	if (!key)
		return -1;
	int r = PySet_Contains(set, key);
	if (r == 0 && PySet_Add(set, key) < 0)
		r = -1;
	Py_DECREF(key);
	return r;
}

void mpy_repr_leave(void *obj)
{
	PyObject *exc = mpy_take_exception();
	PyObject *set = repr_set();
	PyObject *key = set ? PyLong_FromVoidPtr(obj) : NULL;
	if (key && PySet_Discard(set, key) < 0)
		PyErr_Clear();
	Py_XDECREF(key);
	PyErr_Clear();
	if (exc)
		mpy_give_exception(exc);
}
