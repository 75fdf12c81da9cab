/* Barrier over mps_barrier_t. The action is a Python callable kept in
 * `extra` and pickled with the barrier; the last party to arrive runs it,
 * in its own process, taking the GIL back for the call. */
#include <errno.h>

#include "_mpsync.h"

struct barrier_args { unsigned parties; double timeout; };

static int barrier_create(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                          void *arg, void **out)
{
	struct barrier_args *a = arg;
	return mps_segment_barrier(seg, name, mode, a->parties, a->timeout, (mps_barrier_t **)out);
}

static PyObject *barrier_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"parties", "action", "timeout", MPY_PLACEMENT_KW, NULL};
	PyObject *action = Py_None, *to = Py_None, *segment = NULL, *mode_o = NULL;
	const char *name = NULL;
	long long parties;
	int mode;
	struct barrier_args a;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "L|OO$OzO:Barrier", kwlist, &parties, &action,
	                                 &to, &segment, &name, &mode_o) ||
	    mpy_parse_mode(mode_o, &mode) < 0 || mpy_timeout_only(to, &a.timeout) < 0)
		return NULL;
	if (parties < 1) {
		PyErr_SetString(PyExc_ValueError, "parties must be > 0");
		return NULL;
	}
	if (parties > MPS_BARRIER_MAX_PARTIES) {
		PyErr_Format(PyExc_ValueError, "parties must be <= %u", MPS_BARRIER_MAX_PARTIES);
		return NULL;
	}
	if (action != Py_None && !PyCallable_Check(action)) {
		PyErr_SetString(PyExc_TypeError, "action must be callable");
		return NULL;
	}
	a.parties = (unsigned)parties;
	PyObject *self = mpy_create(tp, segment, name, mode, barrier_create, &a);
	if (self && action != Py_None)
		((MpsObject *)self)->extra = Py_NewRef(action);
	return self;
}

struct wait_call {
	PyObject *action;
	PyObject *exc;                   /* what the action raised */
	unsigned index;
};

static int run_action(void *arg)
{
	struct wait_call *w = arg;
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *r = PyObject_CallNoArgs(w->action);
	int failed = r == NULL;
	if (failed)
		w->exc = mpy_take_exception();
	Py_XDECREF(r);
	PyGILState_Release(g);
	return failed;
}

static int barrier_block(void *obj, double timeout, void *arg)
{
	struct wait_call *w = arg;
	return mps_barrier_wait_action(obj, timeout, w->action ? run_action : NULL, w,
	                               &w->index);
}

static PyObject *barrier_wait(MpsObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
	PyObject *to = NULL;
	double timeout;
	if (mpy_parse_one("wait", "timeout", args, nargs, kwnames, &to) < 0)
		return NULL;
	if (!to || to == Py_None)
		timeout = mps_barrier_timeout(self->obj);
	else if (mpy_timeout_only(to, &timeout) < 0)
		return NULL;
	struct wait_call w = { self->extra, NULL, 0 };
	int r = mpy_block_sliced(barrier_block, self->obj, timeout, &w, MPS_FOREVER);
	if (w.exc) {
		mpy_give_exception(w.exc);   /* the action's own exception */
		return NULL;
	}
	if (r == 0)
		return PyLong_FromUnsignedLong(w.index);
	if (r == ETIMEDOUT || r == MPS_EBROKEN) {
		PyErr_SetNone(Mpy_BrokenBarrierError);
		return NULL;
	}
	return r < 0 ? NULL : mpy_error(r);
}

static PyObject *barrier_abort(MpsObject *self, PyObject *unused)
{
	(void)unused;
	mps_barrier_abort(self->obj);
	Py_RETURN_NONE;
}

static PyObject *barrier_reset(MpsObject *self, PyObject *unused)
{
	(void)unused;
	mps_barrier_reset(self->obj);
	Py_RETURN_NONE;
}

static PyObject *barrier_get_parties(MpsObject *self, void *c)
{
	(void)c;
	return PyLong_FromUnsignedLong(mps_barrier_parties(self->obj));
}

static PyObject *barrier_get_n_waiting(MpsObject *self, void *c)
{
	(void)c;
	return PyLong_FromUnsignedLong(mps_barrier_n_waiting(self->obj));
}

static PyObject *barrier_get_broken(MpsObject *self, void *c)
{
	(void)c;
	return PyBool_FromLong(mps_barrier_broken(self->obj));
}

static PyObject *barrier_repr(MpsObject *self)
{
	if (mps_barrier_broken(self->obj))
		return PyUnicode_FromFormat("<%s at %p: broken>", Py_TYPE(self)->tp_name, self);
	return PyUnicode_FromFormat("<%s at %p: waiters=%u/%u>", Py_TYPE(self)->tp_name, self,
	                            mps_barrier_n_waiting(self->obj),
	                            mps_barrier_parties(self->obj));
}

static PyMethodDef barrier_methods[] = {
	{"wait", (PyCFunction)(void (*)(void))barrier_wait, METH_FASTCALL | METH_KEYWORDS,
	 "wait(timeout=None) -> arrival index; BrokenBarrierError"},
	{"abort", (PyCFunction)barrier_abort, METH_NOARGS, NULL},
	{"reset", (PyCFunction)barrier_reset, METH_NOARGS, NULL},
	{"__reduce__", mpy_object_reduce, METH_NOARGS, NULL},
	{NULL, NULL, 0, NULL}
};

static PyGetSetDef barrier_getset[] = {
	{"parties", (getter)barrier_get_parties, NULL, NULL, NULL},
	{"n_waiting", (getter)barrier_get_n_waiting, NULL, NULL, NULL},
	{"broken", (getter)barrier_get_broken, NULL, NULL, NULL},
	MPY_GETSET_ROOM
};

PyTypeObject Mpy_BarrierType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mpsync.Barrier",
	MPY_OBJECT_TYPE_FIELDS,
	.tp_repr = (reprfunc)barrier_repr,
	.tp_doc = "Barrier(parties, action=None, timeout=None): multiprocessing.Barrier "
	          "in shared memory.",
	.tp_methods = barrier_methods,
	.tp_new = barrier_new,
};

void mpy_barrier_type_init(void)
{
	mpy_getset_join(barrier_getset);
	Mpy_BarrierType.tp_getset = barrier_getset;
}
