/* Event over mps_event_t. */
#include <errno.h>

#include "_mpsync.h"

static int event_create(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                        void *arg, void **out)
{
	(void)arg;
	return mps_segment_event(seg, name, mode, (mps_event_t **)out);
}

static PyObject *event_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {MPY_PLACEMENT_KW, NULL};
	PyObject *segment = NULL, *mode_o = NULL;
	const char *name = NULL;
	int mode;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|$OzO:Event", kwlist, &segment, &name, &mode_o) ||
	    mpy_parse_mode(mode_o, &mode) < 0)
		return NULL;
	return mpy_create(tp, segment, name, mode, event_create, NULL);
}

static int event_block(void *obj, double timeout, void *arg)
{
	(void)arg;
	return mps_event_wait(obj, timeout);
}

static PyObject *event_wait(MpsObject *self, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames)
{
	double timeout;
	if (mpy_parse_wait(args, nargs, kwnames, &timeout) < 0)
		return NULL;
	if (mps_event_is_set(self->obj))
		Py_RETURN_TRUE;
	int r = timeout > 0 ? mpy_block(event_block, self->obj, timeout, NULL) : ETIMEDOUT;
	return mpy_acquired(r, NULL, NULL);
}

static PyObject *event_set(MpsObject *self, PyObject *unused)
{
	(void)unused;
	mps_event_set(self->obj);
	Py_RETURN_NONE;
}

static PyObject *event_clear(MpsObject *self, PyObject *unused)
{
	(void)unused;
	mps_event_clear(self->obj);
	Py_RETURN_NONE;
}

static PyObject *event_is_set(MpsObject *self, PyObject *unused)
{
	(void)unused;
	return PyBool_FromLong(mps_event_is_set(self->obj));
}

static PyObject *event_repr(MpsObject *self)
{
	return PyUnicode_FromFormat("<%s at %p: %s>", Py_TYPE(self)->tp_name, self,
	                            mps_event_is_set(self->obj) ? "set" : "unset");
}

static PyMethodDef event_methods[] = {
	{"wait", (PyCFunction)(void (*)(void))event_wait, METH_FASTCALL | METH_KEYWORDS,
	 "wait(timeout=None) -> bool"},
	{"set", (PyCFunction)event_set, METH_NOARGS, NULL},
	{"clear", (PyCFunction)event_clear, METH_NOARGS, NULL},
	{"is_set", (PyCFunction)event_is_set, METH_NOARGS, NULL},
	{"__reduce__", mpy_object_reduce, METH_NOARGS, NULL},
	{NULL, NULL, 0, NULL}
};

PyTypeObject Mpy_EventType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mpsync.Event",
	MPY_OBJECT_TYPE_FIELDS,
	.tp_repr = (reprfunc)event_repr,
	.tp_doc = "Event(): multiprocessing.Event in shared memory.",
	.tp_methods = event_methods,
	.tp_new = event_new,
};
