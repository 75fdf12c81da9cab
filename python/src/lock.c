/* Lock: multiprocessing.Lock over mps_lock_t. acquire first tries without
 * releasing the GIL (no syscall when the lock is free), then blocks with the
 * GIL released, as Modules/_multiprocessing/semaphore.c does. */
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "_mpsync.h"

static pid_t self_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static int lock_create(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                       void *arg, void **out)
{
	(void)arg;
	return mps_segment_lock(seg, name, mode, (mps_lock_t **)out);
}

static PyObject *lock_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {MPY_PLACEMENT_KW, NULL};
	PyObject *segment = NULL, *mode_o = NULL;
	const char *name = NULL;
	int mode;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|$OzO:Lock", kwlist, &segment, &name, &mode_o) ||
	    mpy_parse_mode(mode_o, &mode) < 0)
		return NULL;
	return mpy_create(tp, segment, name, mode, lock_create, NULL);
}

static int lock_block(void *obj, double timeout, void *arg)
{
	(void)arg;
	return mps_lock_acquire(obj, timeout);
}

static int lock_release_any(void *obj)
{
	return mps_lock_release(obj);
}

static PyObject *lock_do_acquire(MpsObject *self, double timeout)
{
	int r = mps_lock_acquire(self->obj, 0);
	if (r == ETIMEDOUT && timeout > 0)
		r = mpy_block(lock_block, self->obj, timeout, NULL);
	return mpy_acquired(r, lock_release_any, self->obj);
}

static PyObject *lock_acquire(MpsObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
	double timeout = MPS_FOREVER;
	if ((nargs || kwnames) && mpy_parse_acquire(args, nargs, kwnames, &timeout) < 0)
		return NULL;
	return lock_do_acquire(self, timeout);
}

static PyObject *lock_enter(MpsObject *self, PyObject *unused)
{
	(void)unused;
	return lock_do_acquire(self, MPS_FOREVER);
}

static PyObject *lock_release(MpsObject *self, PyObject *unused)
{
	(void)unused;
	if (mps_lock_release(self->obj)) {
		PyErr_SetString(Mpy_ReleaseError, "semaphore or lock released too many times");
		return NULL;
	}
	Py_RETURN_NONE;
}

static PyObject *lock_exit(MpsObject *self, PyObject *args)
{
	(void)args;
	return lock_release(self, NULL);
}

static PyObject *lock_locked(MpsObject *self, PyObject *unused)
{
	(void)unused;
	return PyBool_FromLong(mps_lock_locked(self->obj));
}

static PyObject *lock_is_owned(MpsObject *self, PyObject *unused)
{
	(void)unused;
	return PyBool_FromLong(mps_lock_owner(self->obj) == self_tid());
}

/* threading's hook after fork; for a shared lock this forces it free. */
static PyObject *lock_at_fork_reinit(MpsObject *self, PyObject *unused)
{
	(void)unused;
	mps_lock_init(self->obj);
	Py_RETURN_NONE;
}

static PyObject *lock_repr(MpsObject *self)
{
	pid_t owner = mps_lock_owner(self->obj);
	return PyUnicode_FromFormat("<%s %s object owner=%d at %p>",
	                            owner ? "locked" : "unlocked", Py_TYPE(self)->tp_name,
	                            (int)owner, self);
}

static PyMethodDef lock_methods[] = {
	{"acquire", (PyCFunction)(void (*)(void))lock_acquire, METH_FASTCALL | METH_KEYWORDS,
	 "acquire(block=True, timeout=None) -> bool"},
	{"release", (PyCFunction)lock_release, METH_NOARGS, "Release; ValueError if unlocked."},
	{"__enter__", (PyCFunction)lock_enter, METH_NOARGS, NULL},
	{"__exit__", (PyCFunction)lock_exit, METH_VARARGS, NULL},
	{"locked", (PyCFunction)lock_locked, METH_NOARGS, "Whether the lock is held."},
	{"_is_owned", (PyCFunction)lock_is_owned, METH_NOARGS, "Held by this thread."},
	{"_at_fork_reinit", (PyCFunction)lock_at_fork_reinit, METH_NOARGS, NULL},
	{"__reduce__", mpy_object_reduce, METH_NOARGS, NULL},
	{NULL, NULL, 0, NULL}
};

PyTypeObject Mpy_LockType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mpsync.Lock",
	MPY_OBJECT_TYPE_FIELDS,
	.tp_repr = (reprfunc)lock_repr,
	.tp_doc = "Lock(): multiprocessing.Lock in shared memory.",
	.tp_methods = lock_methods,
	.tp_new = lock_new,
};

