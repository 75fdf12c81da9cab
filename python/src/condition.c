/* Condition over mps_cond_t, with an mpsync Lock or RLock (default: a new
 * RLock). The condition lives in its lock's segment: notify_all moves
 * waiters onto the lock word through an offset, which must be the same in
 * every process. The lock wrapper is kept in `extra`, and travels with the
 * condition when it is pickled. */
#include <errno.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "_mpsync.h"
#include <structmember.h>

static int cond_create(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                       void *arg, void **out)
{
	(void)arg;
	return mps_segment_condition(seg, name, mode, (mps_cond_t **)out);
}

/* The Condition in lock's segment; steals lock. */
static PyObject *cond_in_lock_segment(PyTypeObject *tp, PyObject *lock, const char *name,
                                      int mode)
{
	PyObject *self = mpy_create(tp, (PyObject *)((MpsObject *)lock)->segment, name, mode,
	                            cond_create, NULL);
	if (!self) {
		Py_DECREF(lock);
		return NULL;
	}
	((MpsObject *)self)->extra = lock;
	return self;
}

/* A new RLock for the Condition, named "<name>.lock" for a named one (so
 * that segment.find joins them). */
static PyObject *own_rlock(PyObject *segment, const char *name, PyObject *mode_o)
{
	PyObject *kwargs = name
		? Py_BuildValue("{s:O,s:N,s:O}", "segment", segment ? segment : Py_None,
		                "name", PyUnicode_FromFormat("%s.lock", name),
		                "mode", mode_o ? mode_o : Py_None)
		: Py_BuildValue("{s:O}", "segment", segment ? segment : Py_None);
	PyObject *empty = PyTuple_New(0);
	PyObject *lock = kwargs && empty ? PyObject_Call((PyObject *)&Mpy_RLockType, empty, kwargs)
	                                 : NULL;
	Py_XDECREF(empty);
	Py_XDECREF(kwargs);
	return lock;
}

/* The pending exception is OSError(ENOSPC): cleared, and true. */
static int out_of_space(void)
{
	if (!PyErr_ExceptionMatches(PyExc_OSError))
		return 0;
	PyObject *exc = mpy_take_exception();
	PyObject *no = exc ? PyObject_GetAttrString(exc, "errno") : NULL;
	int full = no && PyLong_Check(no) && PyLong_AsLong(no) == ENOSPC;
	Py_XDECREF(no);
	PyErr_Clear();
	if (full)
		Py_XDECREF(exc);
	else
		mpy_give_exception(exc);
	return full;
}

static PyObject *cond_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"lock", MPY_PLACEMENT_KW, NULL};
	PyObject *lock = Py_None, *segment = NULL, *mode_o = NULL;
	const char *name = NULL;
	int mode;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O$OzO:Condition", kwlist, &lock, &segment,
	                                 &name, &mode_o) ||
	    mpy_parse_mode(mode_o, &mode) < 0)
		return NULL;
	if (name && lock != Py_None) {
		PyErr_SetString(PyExc_ValueError, "a named Condition makes its own RLock, named "
		                "'<name>.lock' so that it is found with the Condition: pass no lock");
		return NULL;
	}
	if (lock != Py_None) {
		if (!PyObject_TypeCheck(lock, &Mpy_LockType) &&
		    !PyObject_TypeCheck(lock, &Mpy_RLockType))
			return PyErr_Format(PyExc_TypeError, "Condition needs an mpsync Lock or RLock, "
			                    "not %.100s (a lock private to this process cannot be "
			                    "shared)", Py_TYPE(lock)->tp_name);
		return cond_in_lock_segment(tp, Py_NewRef(lock), name, mode);
	}
	if (!(lock = own_rlock(segment, name, mode_o)))
		return NULL;
	PyObject *self = cond_in_lock_segment(tp, lock, name, mode);
	if (self || segment || name || !out_of_space())
		return self;
	/* The automatic segment had room for the lock, not for the condition:
	 * both go to a new one. */
	SegmentObject *grown = mpy_target_segment(NULL, 1);
	if (!grown)
		return NULL;
	lock = own_rlock((PyObject *)grown, NULL, NULL);
	Py_DECREF(grown);
	return lock ? cond_in_lock_segment(tp, lock, NULL, mode) : NULL;
}

static MpsObject *lock_of(MpsObject *self)
{
	return (MpsObject *)self->extra;
}

static int is_rlock(MpsObject *self)
{
	return PyObject_TypeCheck(self->extra, &Mpy_RLockType);
}

static int owned(MpsObject *self)
{
	if (is_rlock(self))
		return mps_rlock_is_owned(lock_of(self)->obj);
	return mps_lock_owner(lock_of(self)->obj) == (pid_t)syscall(SYS_gettid);
}

static int cond_block(void *obj, double timeout, void *arg)
{
	MpsObject *self = arg;
	if (is_rlock(self))
		return mps_cond_wait_rlock(obj, lock_of(self)->obj, timeout);
	return mps_cond_wait_lock(obj, lock_of(self)->obj, timeout);
}

static int cond_wait_timeout(MpsObject *self, double timeout)
{
	if (!owned(self)) {
		PyErr_SetString(PyExc_RuntimeError, "cannot wait on un-acquired lock");
		return -1;
	}
	/* Not sliced: a waiter whose slice ended is out of the waiting set
	 * until it has the lock again, and a notify then would miss it. */
	int r = mpy_block_sliced(cond_block, self->obj, timeout, self, MPS_FOREVER);
	switch (r) {
	case -1:
		return -1;
	case 0:
		return 1;
	case ETIMEDOUT:
		return 0;
	case EOWNERDEAD:
		return mpy_owner_died() < 0 ? -1 : 1;
	case EPERM:
		PyErr_SetString(PyExc_RuntimeError, "cannot wait on un-acquired lock");
		return -1;
	default:
		mpy_error(r);
		return -1;
	}
}

static PyObject *cond_wait(MpsObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
	double timeout;
	if (mpy_parse_wait(args, nargs, kwnames, &timeout) < 0)
		return NULL;
	int r = cond_wait_timeout(self, timeout);
	return r < 0 ? NULL : PyBool_FromLong(r);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* threading.Condition.wait_for: the predicate runs with the lock held and
 * the GIL taken; each wait gets what is left of the timeout. */
static PyObject *cond_wait_for(MpsObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"predicate", "timeout", NULL};
	PyObject *pred, *to = Py_None;
	double timeout;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:wait_for", kwlist, &pred, &to) ||
	    mpy_timeout_only(to, &timeout) < 0)
		return NULL;
	double deadline = now() + timeout;
	PyObject *result = PyObject_CallNoArgs(pred);
	for (;;) {
		if (!result)
			return NULL;
		int t = PyObject_IsTrue(result);
		if (t < 0) {
			Py_DECREF(result);
			return NULL;
		}
		if (t)
			return result;
		double left = timeout == MPS_FOREVER ? MPS_FOREVER : deadline - now();
		if (left <= 0)
			return result;
		Py_DECREF(result);
		if (cond_wait_timeout(self, left) < 0)
			return NULL;
		result = PyObject_CallNoArgs(pred);
	}
}

static PyObject *cond_notify(MpsObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
	PyObject *n_o = NULL;
	if (mpy_parse_one("notify", "n", args, nargs, kwnames, &n_o) < 0)
		return NULL;
	int overflow = 0;
	long n = n_o ? PyLong_AsLongAndOverflow(n_o, &overflow) : 1;
	if (n == -1 && PyErr_Occurred())
		return NULL;
	if (overflow)                   /* threading: any n, all waiters at most */
		n = overflow > 0 ? LONG_MAX : 0;
	if (!owned(self)) {
		PyErr_SetString(PyExc_RuntimeError, "cannot notify on un-acquired lock");
		return NULL;
	}
	if (n > 0)
		mps_cond_notify(self->obj, n > (long)UINT_MAX ? UINT_MAX : (unsigned)n);
	Py_RETURN_NONE;
}

static PyObject *cond_notify_all(MpsObject *self, PyObject *unused)
{
	(void)unused;
	if (!owned(self)) {
		PyErr_SetString(PyExc_RuntimeError, "cannot notify on un-acquired lock");
		return NULL;
	}
	mps_cond_notify_all(self->obj);
	Py_RETURN_NONE;
}

/* The lock's methods, so that a Condition is used as its lock. */
static PyObject *forward(MpsObject *self, const char *method, PyObject *const *args,
                         Py_ssize_t nargs, PyObject *kwnames)
{
	PyObject *m = PyObject_GetAttrString(self->extra, method);
	if (!m)
		return NULL;
	PyObject *r = PyObject_Vectorcall(m, args, nargs, kwnames);
	Py_DECREF(m);
	return r;
}

#define FORWARD(fn, method) \
	static PyObject *fn(MpsObject *self, PyObject *const *args, Py_ssize_t nargs, \
	                    PyObject *kwnames) \
	{ return forward(self, method, args, nargs, kwnames); }

FORWARD(cond_acquire, "acquire")
FORWARD(cond_release, "release")
FORWARD(cond_enter, "__enter__")
FORWARD(cond_exit, "__exit__")
FORWARD(cond_release_save, "_release_save")
FORWARD(cond_acquire_restore, "_acquire_restore")

static PyObject *cond_is_owned(MpsObject *self, PyObject *unused)
{
	(void)unused;
	return PyBool_FromLong(owned(self));
}

static PyObject *cond_repr(MpsObject *self)
{
	return PyUnicode_FromFormat("<%s(%R, %u)>", Py_TYPE(self)->tp_name, self->extra,
	                            mps_cond_n_waiting(self->obj));
}

static PyMethodDef cond_methods[] = {
	{"wait", FAST(cond_wait), FASTKW, "wait(timeout=None) -> bool"},
	{"wait_for", (PyCFunction)(void (*)(void))cond_wait_for, METH_VARARGS | METH_KEYWORDS,
	 "wait_for(predicate, timeout=None) -> the predicate's last result"},
	{"notify", FAST(cond_notify), FASTKW, "notify(n=1): wake min(n, waiters) waiters."},
	{"notify_all", (PyCFunction)cond_notify_all, METH_NOARGS, NULL},
	{"notifyAll", (PyCFunction)cond_notify_all, METH_NOARGS, NULL},
	{"acquire", FAST(cond_acquire), FASTKW, NULL},
	{"release", FAST(cond_release), FASTKW, NULL},
	{"__enter__", FAST(cond_enter), FASTKW, NULL},
	{"__exit__", FAST(cond_exit), FASTKW, NULL},
	{"_is_owned", (PyCFunction)cond_is_owned, METH_NOARGS, NULL},
	{"_release_save", FAST(cond_release_save), FASTKW, NULL},
	{"_acquire_restore", FAST(cond_acquire_restore), FASTKW, NULL},
	{"__reduce__", mpy_object_reduce, METH_NOARGS, NULL},
	{NULL, NULL, 0, NULL}
};

static PyMemberDef cond_members[] = {
	{"_lock", T_OBJECT, offsetof(MpsObject, extra), READONLY, "the lock"},
	{NULL, 0, 0, 0, NULL}
};

PyTypeObject Mpy_ConditionType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mpsync.Condition",
	MPY_OBJECT_TYPE_FIELDS,
	.tp_repr = (reprfunc)cond_repr,
	.tp_doc = "Condition(lock=None): multiprocessing.Condition in shared memory.",
	.tp_methods = cond_methods,
	.tp_members = cond_members,
	.tp_new = cond_new,
};

