/* Semaphore and BoundedSemaphore over mps_sem_t (one C type in the library,
 * two Python types as in multiprocessing). */
#include <errno.h>
#include <limits.h>

#include "_mpsync.h"

struct sem_args { unsigned value; int bounded; };

static int sem_create(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                      void *arg, void **out)
{
	struct sem_args *a = arg;
	if (a->bounded)
		return mps_segment_bounded_semaphore(seg, name, mode, a->value, (mps_sem_t **)out);
	return mps_segment_semaphore(seg, name, mode, a->value, (mps_sem_t **)out);
}

static PyObject *sem_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"value", MPY_PLACEMENT_KW, NULL};
	PyObject *segment = NULL, *mode_o = NULL;
	const char *name = NULL;
	long long value = 1;
	int mode;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|L$OzO:Semaphore", kwlist, &value, &segment,
	                                 &name, &mode_o) ||
	    mpy_parse_mode(mode_o, &mode) < 0)
		return NULL;
	if (value < 0) {
		PyErr_SetString(PyExc_ValueError, "semaphore initial value must be >= 0");
		return NULL;
	}
	if (value > MPS_SEM_VALUE_MAX) {
		PyErr_SetString(PyExc_OverflowError, "semaphore initial value too large");
		return NULL;
	}
	struct sem_args a = { (unsigned)value, PyType_IsSubtype(tp, &Mpy_BoundedSemaphoreType) };
	return mpy_create(tp, segment, name, mode, sem_create, &a);
}

static int sem_block(void *obj, double timeout, void *arg)
{
	(void)arg;
	return mps_sem_acquire(obj, timeout);
}

static PyObject *sem_do_acquire(MpsObject *self, double timeout)
{
	int r = mps_sem_acquire(self->obj, 0);
	if (r == ETIMEDOUT && timeout > 0)
		r = mpy_block(sem_block, self->obj, timeout, NULL);
	return mpy_acquired(r, NULL, NULL);
}

static PyObject *sem_acquire(MpsObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
	double timeout = MPS_FOREVER;
	if ((nargs || kwnames) && mpy_parse_acquire(args, nargs, kwnames, &timeout) < 0)
		return NULL;
	return sem_do_acquire(self, timeout);
}

static PyObject *sem_enter(MpsObject *self, PyObject *unused)
{
	(void)unused;
	return sem_do_acquire(self, MPS_FOREVER);
}

static PyObject *sem_release_n(MpsObject *self, long n)
{
	if (n < 1) {
		PyErr_SetString(PyExc_ValueError, "n must be one or more");
		return NULL;
	}
	/* More than UINT_MAX overflows any semaphore: clamped, not truncated. */
	int r = mps_sem_release(self->obj, n > (long)UINT_MAX ? UINT_MAX : (unsigned)n);
	if (r == EOVERFLOW) {
		PyErr_SetString(mps_sem_is_bounded(self->obj) ? Mpy_ReleaseError : PyExc_OverflowError,
		                "semaphore or lock released too many times");
		return NULL;
	}
	if (r)
		return mpy_error(r);
	Py_RETURN_NONE;
}

/* release(n=1): multiprocessing takes no argument; threading's n is accepted. */
static PyObject *sem_release(MpsObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
	PyObject *n_o = NULL;
	if (mpy_parse_one("release", "n", args, nargs, kwnames, &n_o) < 0)
		return NULL;
	long n = n_o ? PyLong_AsLong(n_o) : 1;
	if (n == -1 && PyErr_Occurred())
		return NULL;
	return sem_release_n(self, n);
}

static PyObject *sem_exit(MpsObject *self, PyObject *args)
{
	(void)args;
	return sem_release_n(self, 1);
}

static PyObject *sem_get_value(MpsObject *self, PyObject *unused)
{
	(void)unused;
	return PyLong_FromUnsignedLong(mps_sem_value(self->obj));
}

static PyObject *sem_repr(MpsObject *self)
{
	if (mps_sem_is_bounded(self->obj))
		return PyUnicode_FromFormat("<%s at %p: value=%u/%u>", Py_TYPE(self)->tp_name, self,
		                            mps_sem_value(self->obj), mps_sem_bound(self->obj));
	return PyUnicode_FromFormat("<%s at %p: value=%u>", Py_TYPE(self)->tp_name, self,
	                            mps_sem_value(self->obj));
}

static PyMethodDef sem_methods[] = {
	{"acquire", (PyCFunction)(void (*)(void))sem_acquire, METH_FASTCALL | METH_KEYWORDS,
	 "acquire(block=True, timeout=None) -> bool"},
	{"release", (PyCFunction)(void (*)(void))sem_release, METH_FASTCALL | METH_KEYWORDS,
	 "release(n=1); a BoundedSemaphore raises ValueError past its initial value."},
	{"__enter__", (PyCFunction)sem_enter, METH_NOARGS, NULL},
	{"__exit__", (PyCFunction)sem_exit, METH_VARARGS, NULL},
	{"get_value", (PyCFunction)sem_get_value, METH_NOARGS, "The current value."},
	{"__reduce__", mpy_object_reduce, METH_NOARGS, NULL},
	{NULL, NULL, 0, NULL}
};

PyTypeObject Mpy_SemaphoreType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mpsync.Semaphore",
	MPY_OBJECT_TYPE_FIELDS,
	.tp_repr = (reprfunc)sem_repr,
	.tp_doc = "Semaphore(value=1): multiprocessing.Semaphore in shared memory.",
	.tp_methods = sem_methods,
	.tp_new = sem_new,
};

PyTypeObject Mpy_BoundedSemaphoreType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mpsync.BoundedSemaphore",
	MPY_OBJECT_TYPE_FIELDS,
	.tp_repr = (reprfunc)sem_repr,
	.tp_doc = "BoundedSemaphore(value=1): multiprocessing.BoundedSemaphore in shared memory.",
	.tp_methods = sem_methods,
	.tp_new = sem_new,
};
