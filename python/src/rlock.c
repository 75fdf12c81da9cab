/* RLock: multiprocessing.RLock over mps_rlock_t, plus the threading
 * protocol Condition uses (_is_owned, _release_save, _acquire_restore). */
#include <errno.h>

#include "_mpsync.h"

static int rlock_create(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                        void *arg, void **out)
{
	(void)arg;
	return mps_segment_rlock(seg, name, mode, (mps_rlock_t **)out);
}

static PyObject *rlock_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {MPY_PLACEMENT_KW, NULL};
	PyObject *segment = NULL, *mode_o = NULL;
	const char *name = NULL;
	int mode;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|$OzO:RLock", kwlist, &segment, &name, &mode_o) ||
	    mpy_parse_mode(mode_o, &mode) < 0)
		return NULL;
	return mpy_create(tp, segment, name, mode, rlock_create, NULL);
}

static int rlock_block(void *obj, double timeout, void *arg)
{
	(void)arg;
	return mps_rlock_acquire(obj, timeout);
}

static int rlock_release_any(void *obj)
{
	return mps_rlock_release(obj);
}

static PyObject *rlock_do_acquire(MpsObject *self, double timeout)
{
	int r = mps_rlock_acquire(self->obj, 0);
	if (r == ETIMEDOUT && timeout > 0)
		r = mpy_block(rlock_block, self->obj, timeout, NULL);
	if (r == EOVERFLOW) {
		PyErr_SetString(PyExc_OverflowError, "RLock recursion too deep");
		return NULL;
	}
	return mpy_acquired(r, rlock_release_any, self->obj);
}

static PyObject *rlock_acquire(MpsObject *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
	double timeout = MPS_FOREVER;
	if ((nargs || kwnames) && mpy_parse_acquire(args, nargs, kwnames, &timeout) < 0)
		return NULL;
	return rlock_do_acquire(self, timeout);
}

static PyObject *rlock_enter(MpsObject *self, PyObject *unused)
{
	(void)unused;
	return rlock_do_acquire(self, MPS_FOREVER);
}

static PyObject *rlock_release(MpsObject *self, PyObject *unused)
{
	(void)unused;
	if (mps_rlock_release(self->obj)) {
		PyErr_SetString(Mpy_NotOwnerError,
		                "attempt to release recursive lock not owned by thread");
		return NULL;
	}
	Py_RETURN_NONE;
}

static PyObject *rlock_exit(MpsObject *self, PyObject *args)
{
	(void)args;
	return rlock_release(self, NULL);
}

static PyObject *rlock_is_owned(MpsObject *self, PyObject *unused)
{
	(void)unused;
	return PyBool_FromLong(mps_rlock_is_owned(self->obj));
}

static PyObject *rlock_recursion_count(MpsObject *self, PyObject *unused)
{
	(void)unused;
	return PyLong_FromUnsignedLong(mps_rlock_count(self->obj));
}

/* Condition's protocol (threading): give the lock up entirely, then take
 * it back at the same depth. */
static PyObject *rlock_release_save(MpsObject *self, PyObject *unused)
{
	(void)unused;
	unsigned count = mps_rlock_count(self->obj);
	if (count == 0) {
		PyErr_SetString(PyExc_RuntimeError, "cannot release un-acquired lock");
		return NULL;
	}
	pid_t owner = mps_rlock_owner(self->obj);
	for (unsigned i = 0; i < count; i++)
		mps_rlock_release(self->obj);
	return Py_BuildValue("(Ii)", count, (int)owner);
}

static PyObject *rlock_acquire_restore(MpsObject *self, PyObject *state)
{
	unsigned count;
	int owner;
	if (!PyArg_ParseTuple(state, "Ii:_acquire_restore", &count, &owner))
		return NULL;
	PyObject *r = rlock_do_acquire(self, MPS_FOREVER);
	if (!r)
		return NULL;
	Py_DECREF(r);
	for (unsigned i = 1; i < count; i++)
		mps_rlock_acquire(self->obj, 0);   /* recursive: cannot fail but on overflow */
	Py_RETURN_NONE;
}

static PyObject *rlock_repr(MpsObject *self)
{
	pid_t owner = mps_rlock_owner(self->obj);
	return PyUnicode_FromFormat("<%s %s object owner=%d count=%u at %p>",
	                            owner ? "locked" : "unlocked", Py_TYPE(self)->tp_name,
	                            (int)owner, mps_rlock_count(self->obj), self);
}

static PyMethodDef rlock_methods[] = {
	{"acquire", (PyCFunction)(void (*)(void))rlock_acquire, METH_FASTCALL | METH_KEYWORDS,
	 "acquire(block=True, timeout=None) -> bool"},
	{"release", (PyCFunction)rlock_release, METH_NOARGS,
	 "Release one level; AssertionError (also a RuntimeError) if not the owner."},
	{"__enter__", (PyCFunction)rlock_enter, METH_NOARGS, NULL},
	{"__exit__", (PyCFunction)rlock_exit, METH_VARARGS, NULL},
	{"_is_owned", (PyCFunction)rlock_is_owned, METH_NOARGS, NULL},
	{"_recursion_count", (PyCFunction)rlock_recursion_count, METH_NOARGS, NULL},
	{"_release_save", (PyCFunction)rlock_release_save, METH_NOARGS, NULL},
	{"_acquire_restore", (PyCFunction)rlock_acquire_restore, METH_O, NULL},
	{"__reduce__", mpy_object_reduce, METH_NOARGS, NULL},
	{NULL, NULL, 0, NULL}
};

PyTypeObject Mpy_RLockType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mpsync.RLock",
	MPY_OBJECT_TYPE_FIELDS,
	.tp_repr = (reprfunc)rlock_repr,
	.tp_doc = "RLock(): multiprocessing.RLock in shared memory.",
	.tp_methods = rlock_methods,
	.tp_new = rlock_new,
};
