/* Value over mps_value_t: multiprocessing.Value and SyncManager's Value
 * (value, get, set); conversions and the lock methods: cells.c. */
#include <errno.h>
#include <string.h>

#include "_mpsync.h"

struct value_args { char tc; const void *init; enum mps_sync sync; void *lock; };

static int value_create(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                        void *arg, void **out)
{
	struct value_args *a = arg;
	return mps_segment_value(seg, name, mode, a->tc, a->init, a->sync, a->lock,
	                         (mps_value_t **)out);
}

static PyObject *value_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"typecode_or_type", "value", "lock", MPY_PLACEMENT_KW, NULL};
	PyObject *tco, *init = NULL, *lock = Py_True, *segment = NULL, *mode_o = NULL;
	const char *name = NULL;
	int mode;
	char buf[16];
	struct value_args a = {0, NULL, MPS_SYNC_RLOCK, NULL};
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OO$OzO:Value", kwlist, &tco, &init, &lock,
	                                 &segment, &name, &mode_o) ||
	    mpy_parse_mode(mode_o, &mode) < 0 || mpy_typecode_of(tco, &a.tc) < 0 ||
	    mpy_sync_of(lock, &a.sync, &a.lock, &segment) < 0)
		return NULL;
	if (init && init != Py_None) {
		if (mpy_pack(a.tc, init, buf) < 0)
			return NULL;
		a.init = buf;
	}
	return mpy_create(tp, segment, name, mode, value_create, &a);
}

static PyObject *value_get(MpsObject *self, PyObject *unused)
{
	(void)unused;
	char buf[16];
	struct mpy_hold h;
	if (mpy_cells_hold(self, &h) < 0)
		return NULL;
	int r = mps_value_get(self->obj, buf);
	mpy_cells_unhold(self, &h);
	if (r == EOWNERDEAD && mpy_owner_died() < 0)
		return NULL;
	if (r && r != EOWNERDEAD)
		return mpy_error(r);
	return mpy_unpack(mps_value_typecode(self->obj), buf);
}

static int value_set_o(MpsObject *self, PyObject *o)
{
	char buf[16];
	if (!o) {
		PyErr_SetString(PyExc_AttributeError, "cannot delete value");
		return -1;
	}
	struct mpy_hold h;
	if (mpy_pack(mps_value_typecode(self->obj), o, buf) < 0 || mpy_cells_hold(self, &h) < 0)
		return -1;
	int r = mps_value_set(self->obj, buf);
	mpy_cells_unhold(self, &h);
	if (r == EOWNERDEAD)
		return mpy_owner_died();
	if (r) {
		mpy_error(r);
		return -1;
	}
	return 0;
}

static PyObject *value_set(MpsObject *self, PyObject *o)
{
	return value_set_o(self, o) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *value_getter(MpsObject *self, void *c)
{
	(void)c;
	return value_get(self, NULL);
}

static int value_setter(MpsObject *self, PyObject *o, void *c)
{
	(void)c;
	return value_set_o(self, o);
}

static PyObject *value_repr(MpsObject *self)
{
	return mpy_cells_repr((PyObject *)self, mps_value_typecode(self->obj), value_get(self, NULL));
}

static PyObject *value_typecode(MpsObject *self, void *c)
{
	(void)c;
	return mpy_typecode_str(mps_value_typecode(self->obj));
}

static PyMethodDef value_methods[] = {
	{"get", (PyCFunction)value_get, METH_NOARGS, "The value (ValueProxy.get)."},
	{"set", (PyCFunction)value_set, METH_O, "Store a value (ValueProxy.set)."},
	MPY_CELLS_METHODS,
	{NULL, NULL, 0, NULL}
};

static PyGetSetDef value_getset[] = {
	{"value", (getter)value_getter, (setter)value_setter, NULL, NULL},
	{"typecode", (getter)value_typecode, NULL, NULL, NULL},
	MPY_GETSET_ROOM
};

PyTypeObject Mpy_ValueType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mpsync.Value",
	MPY_OBJECT_TYPE_FIELDS,
	.tp_repr = (reprfunc)value_repr,
	.tp_doc = "Value(typecode_or_type, value=0, lock=True): multiprocessing.Value.",
	.tp_methods = value_methods,
	.tp_new = value_new,
};

void mpy_value_type_init(void)
{
	mpy_getset_join(value_getset);
	Mpy_ValueType.tp_getset = value_getset;
}
