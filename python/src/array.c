/* Array over mps_array_t: multiprocessing.Array and SyncManager's Array;
 * conversions and the lock methods: cells.c. */
#include <errno.h>
#include <string.h>

#include "_mpsync.h"

struct array_args { char tc; const void *init; enum mps_sync sync; void *lock;
                    size_t len; };

static int array_create(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                        void *arg, void **out)
{
	struct array_args *a = arg;
	return mps_segment_array(seg, name, mode, a->tc, a->len, a->init, a->sync, a->lock,
	                         (mps_array_t **)out);
}

static PyObject *array_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"typecode_or_type", "size_or_initializer", "lock",
	                         MPY_PLACEMENT_KW, NULL};
	PyObject *tco, *init, *lock = Py_True, *segment = NULL, *mode_o = NULL, *self = NULL;
	const char *name = NULL;
	int mode;
	struct array_args a = {0, NULL, MPS_SYNC_RLOCK, NULL, 0};
	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O$OzO:Array", kwlist, &tco, &init, &lock,
	                                 &segment, &name, &mode_o) ||
	    mpy_parse_mode(mode_o, &mode) < 0 || mpy_typecode_of(tco, &a.tc) < 0 ||
	    mpy_sync_of(lock, &a.sync, &a.lock, &segment) < 0)
		return NULL;
	size_t es = mps_typecode_size(a.tc);
	char *buf = NULL;
	if (PyLong_Check(init)) {
		Py_ssize_t n = PyLong_AsSsize_t(init);
		if (n < 0)
			return PyErr_Occurred() ? NULL : mpy_error(EINVAL);
		a.len = (size_t)n;
	} else {
		PyObject *seq = PyBytes_Check(init) && a.tc == 'c' ? NULL
		              : PySequence_Fast(init, "size_or_initializer must be an int or a sequence");
		if (!seq && PyErr_Occurred())
			return NULL;
		a.len = seq ? (size_t)PySequence_Fast_GET_SIZE(seq) : (size_t)PyBytes_GET_SIZE(init);
		buf = PyMem_Malloc(a.len * es + 1);
		if (!buf) {
			Py_XDECREF(seq);
			return PyErr_NoMemory();
		}
		if (!seq)
			memcpy(buf, PyBytes_AS_STRING(init), a.len);
		for (size_t i = 0; seq && i < a.len; i++)
			if (mpy_pack(a.tc, PySequence_Fast_GET_ITEM(seq, i), buf + i * es) < 0) {
				Py_DECREF(seq);
				PyMem_Free(buf);
				return NULL;
			}
		Py_XDECREF(seq);
		a.init = buf;
	}
	self = mpy_create(tp, segment, name, mode, array_create, &a);
	PyMem_Free(buf);
	return self;
}

static Py_ssize_t array_length(MpsObject *self)
{
	return (Py_ssize_t)mps_array_len(self->obj);
}

static int array_result(int r)
{
	if (r == EOWNERDEAD)
		return mpy_owner_died();
	if (r) {
		mpy_error(r);
		return -1;
	}
	return 0;
}

static PyObject *array_item(MpsObject *self, Py_ssize_t i)
{
	char buf[16];
	if (i < 0 || (size_t)i >= mps_array_len(self->obj)) {
		PyErr_SetString(PyExc_IndexError, "invalid index");
		return NULL;
	}
	struct mpy_hold h;
	if (mpy_cells_hold(self, &h) < 0)
		return NULL;
	int r = mps_array_get(self->obj, (size_t)i, buf);
	mpy_cells_unhold(self, &h);
	if (array_result(r) < 0)
		return NULL;
	return mpy_unpack(mps_array_typecode(self->obj), buf);
}

/* A slice: one locked read of the covering range, then the step. */
static PyObject *array_slice(MpsObject *self, PyObject *key)
{
	Py_ssize_t start, stop, step, n;
	if (PySlice_Unpack(key, &start, &stop, &step) < 0)
		return NULL;
	n = PySlice_AdjustIndices(array_length(self), &start, &stop, step);
	char tc = mps_array_typecode(self->obj);
	size_t es = mps_typecode_size(tc), len = mps_array_len(self->obj);
	char *buf = PyMem_Malloc(len * es + 1);
	if (!buf)
		return PyErr_NoMemory();
	struct mpy_hold h;
	if (mpy_cells_hold(self, &h) < 0) {
		PyMem_Free(buf);
		return NULL;
	}
	int r = mps_array_read(self->obj, 0, len, buf);
	mpy_cells_unhold(self, &h);
	if (array_result(r) < 0) {
		PyMem_Free(buf);
		return NULL;
	}
	PyObject *out = PyList_New(n);
	for (Py_ssize_t k = 0, i = start; out && k < n; k++, i += step) {
		PyObject *x = mpy_unpack(tc, buf + (size_t)i * es);
		if (!x) {
			Py_CLEAR(out);
			break;
		}
		PyList_SET_ITEM(out, k, x);
	}
	PyMem_Free(buf);
	if (out && tc == 'c') {       /* as ctypes: a char array's slice is bytes */
		PyObject *b = PyBytes_FromStringAndSize(NULL, n);
		for (Py_ssize_t k = 0; b && k < n; k++)
			PyBytes_AS_STRING(b)[k] = PyBytes_AS_STRING(PyList_GET_ITEM(out, k))[0];
		Py_DECREF(out);
		return b;
	}
	return out;
}

static PyObject *array_subscript(MpsObject *self, PyObject *key)
{
	if (PySlice_Check(key))
		return array_slice(self, key);
	Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
	if (i == -1 && PyErr_Occurred())
		return NULL;
	if (i < 0)
		i += array_length(self);
	return array_item(self, i);
}

/* A char array's slice takes bytes, as ctypes': one item per byte. */
static PyObject *char_items(PyObject *b)
{
	Py_ssize_t n = PyBytes_GET_SIZE(b);
	PyObject *out = PyList_New(n);
	for (Py_ssize_t k = 0; out && k < n; k++) {
		PyObject *c = PyBytes_FromStringAndSize(PyBytes_AS_STRING(b) + k, 1);
		if (!c)
			Py_CLEAR(out);
		else
			PyList_SET_ITEM(out, k, c);
	}
	return out;
}

/* The items of seq packed by typecode, one after another (PyMem). */
static char *pack_all(char tc, PyObject *seq)
{
	Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
	size_t es = mps_typecode_size(tc);
	char *all = PyMem_Malloc((size_t)n * es + 1);
	if (!all)
		return (char *)PyErr_NoMemory();
	for (Py_ssize_t k = 0; k < n; k++) {
		if (mpy_pack(tc, PySequence_Fast_GET_ITEM(seq, k), all + (size_t)k * es) < 0) {
			PyMem_Free(all);
			return NULL;
		}
	}
	return all;
}

/* a[start::step] = seq (step != 1), element by element under one hold of
 * the array's lock (ctypes' SynchronizedArray holds its lock throughout;
 * a given non-recursive Lock is taken per element). */
static int assign_extended(MpsObject *self, char tc, Py_ssize_t start, Py_ssize_t step,
                           PyObject *seq)
{
	Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
	size_t es = mps_typecode_size(tc);
	char *all = pack_all(tc, seq);
	struct mpy_hold h;
	if (!all || mpy_cells_hold(self, &h) < 0) {
		PyMem_Free(all);
		return -1;
	}
	int r = 0;
	for (Py_ssize_t k = 0; r == 0 && k < n; k++)
		r = mps_array_set(self->obj, (size_t)(start + k * step), all + (size_t)k * es);
	mpy_cells_unhold(self, &h);
	PyMem_Free(all);
	return array_result(r);
}

static int array_ass_subscript(MpsObject *self, PyObject *key, PyObject *value)
{
	char tc = mps_array_typecode(self->obj), buf[16];
	if (!value) {
		PyErr_SetString(PyExc_TypeError, "Array items cannot be deleted");
		return -1;
	}
	if (PySlice_Check(key)) {
		Py_ssize_t start, stop, step, n;
		if (PySlice_Unpack(key, &start, &stop, &step) < 0)
			return -1;
		n = PySlice_AdjustIndices(array_length(self), &start, &stop, step);
		PyObject *seq = tc == 'c' && PyBytes_Check(value) ? char_items(value)
		                : PySequence_Fast(value, "can only assign a sequence");
		if (!seq)
			return -1;
		if (PySequence_Fast_GET_SIZE(seq) != n) {
			Py_DECREF(seq);
			PyErr_SetString(PyExc_ValueError, "can only assign a sequence of the same "
			                "length to a slice");
			return -1;
		}
		if (step != 1) {
			int r = assign_extended(self, tc, start, step, seq);
			Py_DECREF(seq);
			return r;
		}
		char *all = pack_all(tc, seq);
		Py_DECREF(seq);
		struct mpy_hold h;
		if (!all || mpy_cells_hold(self, &h) < 0) {
			PyMem_Free(all);
			return -1;
		}
		int r = n ? mps_array_write(self->obj, (size_t)start, (size_t)n, all) : 0;
		mpy_cells_unhold(self, &h);
		PyMem_Free(all);
		return array_result(r);
	}
	Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
	if (i == -1 && PyErr_Occurred())
		return -1;
	if (i < 0)
		i += array_length(self);
	if (i < 0 || (size_t)i >= mps_array_len(self->obj)) {
		PyErr_SetString(PyExc_IndexError, "invalid index");
		return -1;
	}
	struct mpy_hold h;
	if (mpy_pack(tc, value, buf) < 0 || mpy_cells_hold(self, &h) < 0)
		return -1;
	int r = mps_array_set(self->obj, (size_t)i, buf);
	mpy_cells_unhold(self, &h);
	return array_result(r);
}

static PyObject *array_repr(MpsObject *self)
{
	return mpy_cells_repr((PyObject *)self, mps_array_typecode(self->obj),
	                      PySequence_GetSlice((PyObject *)self, 0, PY_SSIZE_T_MAX));
}

static PyObject *array_typecode(MpsObject *self, void *c)
{
	(void)c;
	return mpy_typecode_str(mps_array_typecode(self->obj));
}

static PyObject *array_get_value(MpsObject *self, void *c)
{
	(void)c;
	if (mps_array_typecode(self->obj) != 'c') {
		PyErr_SetString(PyExc_AttributeError, "value: only for typecode 'c'");
		return NULL;
	}
	PyObject *all = PySequence_GetSlice((PyObject *)self, 0, PY_SSIZE_T_MAX);
	if (!all)
		return NULL;
	Py_ssize_t n = strnlen(PyBytes_AS_STRING(all), (size_t)PyBytes_GET_SIZE(all));
	PyObject *r = PyBytes_FromStringAndSize(PyBytes_AS_STRING(all), n);
	Py_DECREF(all);
	return r;
}

static PyMethodDef array_methods[] = {
	MPY_CELLS_METHODS,
	{NULL, NULL, 0, NULL}
};

static PyGetSetDef array_getset[] = {
	{"typecode", (getter)array_typecode, NULL, NULL, NULL},
	{"value", (getter)array_get_value, NULL, "a char array up to its first NUL", NULL},
	MPY_GETSET_ROOM
};

static PySequenceMethods array_as_sequence = {
	.sq_length = (lenfunc)array_length,
	.sq_item = (ssizeargfunc)array_item,
};

static PyMappingMethods array_as_mapping = {
	.mp_length = (lenfunc)array_length,
	.mp_subscript = (binaryfunc)array_subscript,
	.mp_ass_subscript = (objobjargproc)array_ass_subscript,
};

PyTypeObject Mpy_ArrayType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mpsync.Array",
	MPY_OBJECT_TYPE_FIELDS,
	.tp_repr = (reprfunc)array_repr,
	.tp_as_sequence = &array_as_sequence,
	.tp_as_mapping = &array_as_mapping,
	.tp_doc = "Array(typecode_or_type, size_or_initializer, lock=True): "
	          "multiprocessing.Array.",
	.tp_methods = array_methods,
	.tp_new = array_new,
};

void mpy_array_type_init(void)
{
	mpy_getset_join(array_getset);
	Mpy_ArrayType.tp_getset = array_getset;
}
