/* Value and Array over mps_value_t / mps_array_t: multiprocessing.Value and
 * Array (and SyncManager's Value/Array proxies). Typecodes are the array
 * module's (a ctypes type is read through its _type_). Elements convert
 * here, by typecode; a number that does not fit raises OverflowError where
 * ctypes would truncate it silently. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <wchar.h>

#include "_mpsync.h"

static int typecode_of(PyObject *o, char *out)
{
	PyObject *t = NULL;
	if (!PyUnicode_Check(o)) {
		t = PyObject_GetAttrString(o, "_type_");   /* ctypes.c_int and friends */
		if (!t) {
			PyErr_Clear();
			PyErr_SetString(PyExc_TypeError, "typecode must be a str or a ctypes type");
			return -1;
		}
		o = t;
	}
	const char *s = PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL;
	int ok = s && strlen(s) == 1 && mps_typecode_size(s[0]);
	if (ok)
		*out = s[0];
	else if (!PyErr_Occurred())
		PyErr_Format(PyExc_ValueError, "bad typecode %R (must be one of cbBhHiIlLqQfdu)", o);
	Py_XDECREF(t);
	return ok ? 0 : -1;
}

static int pack_int(char tc, PyObject *o, void *buf)
{
	if (tc == 'Q' || tc == 'L') {
		unsigned long long u = PyLong_AsUnsignedLongLong(o);
		if (u == (unsigned long long)-1 && PyErr_Occurred())
			return -1;
		memcpy(buf, &u, 8);
		return 0;
	}
	long long v = PyLong_AsLongLong(o);
	if (v == -1 && PyErr_Occurred())
		return -1;
	struct { char tc; long long lo, hi; size_t n; } r[] = {
		{'b', INT8_MIN, INT8_MAX, 1}, {'B', 0, UINT8_MAX, 1},
		{'h', INT16_MIN, INT16_MAX, 2}, {'H', 0, UINT16_MAX, 2},
		{'i', INT32_MIN, INT32_MAX, 4}, {'I', 0, UINT32_MAX, 4},
		{'l', INT64_MIN, INT64_MAX, 8}, {'q', INT64_MIN, INT64_MAX, 8},
	};
	for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
		if (r[i].tc != tc)
			continue;
		if (v < r[i].lo || v > r[i].hi) {
			PyErr_Format(PyExc_OverflowError, "%lld does not fit typecode '%c'", v, tc);
			return -1;
		}
		int8_t b = (int8_t)v; int16_t h = (int16_t)v; int32_t w = (int32_t)v;
		memcpy(buf, r[i].n == 1 ? (void *)&b : r[i].n == 2 ? (void *)&h :
		            r[i].n == 4 ? (void *)&w : (void *)&v, r[i].n);
		return 0;
	}
	return -1;
}

int mpy_pack(char tc, PyObject *o, void *buf)
{
	switch (tc) {
	case 'f': case 'd': {
		double d = PyFloat_AsDouble(o);
		if (d == -1.0 && PyErr_Occurred())
			return -1;
		float f = (float)d;
		memcpy(buf, tc == 'f' ? (void *)&f : (void *)&d, tc == 'f' ? 4 : 8);
		return 0;
	}
	case 'c':
		if (!PyBytes_Check(o) || PyBytes_GET_SIZE(o) != 1) {
			PyErr_SetString(PyExc_TypeError, "typecode 'c' takes a bytes of length 1");
			return -1;
		}
		memcpy(buf, PyBytes_AS_STRING(o), 1);
		return 0;
	case 'u': {
		if (!PyUnicode_Check(o) || PyUnicode_GET_LENGTH(o) != 1) {
			PyErr_SetString(PyExc_TypeError, "typecode 'u' takes a str of length 1");
			return -1;
		}
		wchar_t w = (wchar_t)PyUnicode_READ_CHAR(o, 0);
		memcpy(buf, &w, sizeof w);
		return 0;
	}
	default:
		if (!PyLong_Check(o)) {
			PyErr_Format(PyExc_TypeError, "typecode '%c' takes an int, not %.100s", tc,
			             Py_TYPE(o)->tp_name);
			return -1;
		}
		return pack_int(tc, o, buf);
	}
}

PyObject *mpy_unpack(char tc, const void *buf)
{
	union { int8_t b; uint8_t B; int16_t h; uint16_t H; int32_t i; uint32_t I;
	        int64_t q; uint64_t Q; float f; double d; wchar_t u; char c; } x;
	memcpy(&x, buf, mps_typecode_size(tc));
	switch (tc) {
	case 'b': return PyLong_FromLong(x.b);
	case 'B': return PyLong_FromLong(x.B);
	case 'h': return PyLong_FromLong(x.h);
	case 'H': return PyLong_FromLong(x.H);
	case 'i': return PyLong_FromLong(x.i);
	case 'I': return PyLong_FromUnsignedLong(x.I);
	case 'l': case 'q': return PyLong_FromLongLong(x.q);
	case 'L': case 'Q': return PyLong_FromUnsignedLongLong(x.Q);
	case 'f': return PyFloat_FromDouble(x.f);
	case 'd': return PyFloat_FromDouble(x.d);
	case 'c': return PyBytes_FromStringAndSize(&x.c, 1);
	case 'u': return PyUnicode_FromWideChar(&x.u, 1);
	default:  return mpy_error(EINVAL);
	}
}

/* lock=True (own RLock), False (raw), or an mpsync Lock/RLock of the segment. */
static int sync_of(PyObject *lock, enum mps_sync *sync, void **lockp, PyObject **segment)
{
	*lockp = NULL;
	if (lock == Py_True || lock == Py_None) {
		*sync = MPS_SYNC_RLOCK;
		return 0;
	}
	if (lock == Py_False) {
		*sync = MPS_SYNC_NONE;
		return 0;
	}
	if (PyObject_TypeCheck(lock, &Mpy_LockType) || PyObject_TypeCheck(lock, &Mpy_RLockType)) {
		*sync = PyObject_TypeCheck(lock, &Mpy_LockType) ? MPS_SYNC_LOCK : MPS_SYNC_GIVEN_RLOCK;
		*lockp = MPY_OBJ(lock);
		PyObject *ls = (PyObject *)((MpsObject *)lock)->segment;
		if (*segment && *segment != Py_None && *segment != ls) {
			PyErr_SetString(PyExc_ValueError, "the lock must be in the value's segment");
			return -1;
		}
		*segment = ls;
		return 0;
	}
	PyErr_SetString(PyExc_TypeError, "lock must be True, False or an mpsync Lock/RLock");
	return -1;
}

/* ---- Value ---- */

struct value_args { char tc; const void *init; enum mps_sync sync; void *lock;
                    size_t len; };

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
	struct value_args a = {0, NULL, MPS_SYNC_RLOCK, NULL, 0};
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OO$OzO:Value", kwlist, &tco, &init, &lock,
	                                 &segment, &name, &mode_o) ||
	    mpy_parse_mode(mode_o, &mode) < 0 || typecode_of(tco, &a.tc) < 0 ||
	    sync_of(lock, &a.sync, &a.lock, &segment) < 0)
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
	int r = mps_value_get(self->obj, buf);
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
	if (mpy_pack(mps_value_typecode(self->obj), o, buf) < 0)
		return -1;
	int r = mps_value_set(self->obj, buf);
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

/* The synchronized wrapper's lock methods, shared by Value and Array. */
typedef int (*acq_fn)(void *, double);
typedef int (*rel_fn)(void *);

struct cell_ops { acq_fn acquire; rel_fn release; void *(*lock)(void *); int (*sync)(void *); };

static int v_sync(void *o) { return mps_value_sync(o); }
static int a_sync(void *o) { return mps_array_sync(o); }
static void *v_lock(void *o) { return mps_value_lock(o); }
static void *a_lock(void *o) { return mps_array_lock(o); }
static int v_acq(void *o, double t) { return mps_value_acquire(o, t); }
static int a_acq(void *o, double t) { return mps_array_acquire(o, t); }
static int v_rel(void *o) { return mps_value_release(o); }
static int a_rel(void *o) { return mps_array_release(o); }

static const struct cell_ops value_ops = { v_acq, v_rel, v_lock, v_sync };
static const struct cell_ops array_ops = { a_acq, a_rel, a_lock, a_sync };

static const struct cell_ops *ops_of(MpsObject *self)
{
	return PyObject_TypeCheck(self, &Mpy_ArrayType) ? &array_ops : &value_ops;
}

static int cells_block(void *obj, double timeout, void *arg)
{
	return ((const struct cell_ops *)arg)->acquire(obj, timeout);
}

static PyObject *cells_acquire_t(MpsObject *self, double timeout)
{
	const struct cell_ops *ops = ops_of(self);
	if (ops->sync(self->obj) == MPS_SYNC_NONE) {
		PyErr_SetString(PyExc_AttributeError, "a raw (lock=False) object has no lock");
		return NULL;
	}
	int r = ops->acquire(self->obj, 0);
	if (r == ETIMEDOUT && timeout > 0)
		r = mpy_block(cells_block, self->obj, timeout, (void *)ops);
	return mpy_acquired(r, ops->release, self->obj);
}

static PyObject *cells_acquire(MpsObject *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
	double timeout = MPS_FOREVER;
	if ((nargs || kwnames) && mpy_parse_acquire(args, nargs, kwnames, &timeout) < 0)
		return NULL;
	return cells_acquire_t(self, timeout);
}

static PyObject *cells_enter(MpsObject *self, PyObject *unused)
{
	(void)unused;
	return cells_acquire_t(self, MPS_FOREVER);
}

static PyObject *cells_release(MpsObject *self, PyObject *unused)
{
	(void)unused;
	const struct cell_ops *ops = ops_of(self);
	int r = ops->release(self->obj);
	if (r == EINVAL) {
		PyErr_SetString(PyExc_AttributeError, "a raw (lock=False) object has no lock");
		return NULL;
	}
	if (r) {
		PyErr_SetString(Mpy_NotOwnerError, "lock not held by this thread");
		return NULL;
	}
	Py_RETURN_NONE;
}

static PyObject *cells_exit(MpsObject *self, PyObject *args)
{
	(void)args;
	return cells_release(self, NULL);
}

/* get_lock(): the given Lock/RLock; for the object's own RLock, the object
 * itself, which has acquire/release and is a context manager. */
static PyObject *cells_get_lock(MpsObject *self, PyObject *unused)
{
	(void)unused;
	const struct cell_ops *ops = ops_of(self);
	switch (ops->sync(self->obj)) {
	case MPS_SYNC_NONE:
		PyErr_SetString(PyExc_AttributeError, "a raw (lock=False) object has no get_lock()");
		return NULL;
	case MPS_SYNC_LOCK:
		return mpy_wrap(&Mpy_LockType, self->segment, ops->lock(self->obj), 1);
	case MPS_SYNC_GIVEN_RLOCK:
		return mpy_wrap(&Mpy_RLockType, self->segment, ops->lock(self->obj), 1);
	default:
		return Py_NewRef(self);
	}
}

static PyObject *value_repr(MpsObject *self)
{
	PyObject *v = value_get(self, NULL);
	if (!v)
		return NULL;
	PyObject *r = PyUnicode_FromFormat("<mpsync.Value('%c', %R)>", mps_value_typecode(self->obj), v);
	Py_DECREF(v);
	return r;
}

static PyObject *value_typecode(MpsObject *self, void *c)
{
	(void)c;
	char tc = mps_value_typecode(self->obj);
	return PyUnicode_FromStringAndSize(&tc, 1);
}

#define FASTKW METH_FASTCALL | METH_KEYWORDS
#define FAST(fn) (PyCFunction)(void (*)(void))(fn)

static PyMethodDef value_methods[] = {
	{"get", (PyCFunction)value_get, METH_NOARGS, "The value (ValueProxy.get)."},
	{"set", (PyCFunction)value_set, METH_O, "Store a value (ValueProxy.set)."},
	{"get_lock", (PyCFunction)cells_get_lock, METH_NOARGS, NULL},
	{"acquire", FAST(cells_acquire), FASTKW, NULL},
	{"release", (PyCFunction)cells_release, METH_NOARGS, NULL},
	{"__enter__", (PyCFunction)cells_enter, METH_NOARGS, NULL},
	{"__exit__", (PyCFunction)cells_exit, METH_VARARGS, NULL},
	{"__reduce__", mpy_object_reduce, METH_NOARGS, NULL},
	{NULL, NULL, 0, NULL}
};

static PyGetSetDef value_getset[] = {
	{"value", (getter)value_getter, (setter)value_setter, NULL, NULL},
	{"typecode", (getter)value_typecode, NULL, NULL, NULL},
	{NULL, NULL, NULL, NULL, NULL},
	{NULL, NULL, NULL, NULL, NULL},
	{NULL, NULL, NULL, NULL, NULL},
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

/* ---- Array ---- */

static int array_create(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                        void *arg, void **out)
{
	struct value_args *a = arg;
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
	struct value_args a = {0, NULL, MPS_SYNC_RLOCK, NULL, 0};
	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O$OzO:Array", kwlist, &tco, &init, &lock,
	                                 &segment, &name, &mode_o) ||
	    mpy_parse_mode(mode_o, &mode) < 0 || typecode_of(tco, &a.tc) < 0 ||
	    sync_of(lock, &a.sync, &a.lock, &segment) < 0)
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
	if (array_result(mps_array_get(self->obj, (size_t)i, buf)) < 0)
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
	if (array_result(mps_array_read(self->obj, 0, len, buf)) < 0) {
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
		PyObject *seq = PySequence_Fast(value, "can only assign a sequence");
		if (!seq)
			return -1;
		if (PySequence_Fast_GET_SIZE(seq) != n || step != 1) {
			Py_DECREF(seq);
			PyErr_SetString(PyExc_ValueError, "can only assign a sequence of the same "
			                "length to a contiguous slice");
			return -1;
		}
		size_t es = mps_typecode_size(tc);
		char *all = PyMem_Malloc((size_t)n * es + 1);
		int r = all ? 0 : -1;
		for (Py_ssize_t k = 0; r == 0 && k < n; k++)
			r = mpy_pack(tc, PySequence_Fast_GET_ITEM(seq, k), all + (size_t)k * es);
		Py_DECREF(seq);
		if (r == 0 && n)
			r = array_result(mps_array_write(self->obj, (size_t)start, (size_t)n, all));
		PyMem_Free(all);
		if (!all)
			PyErr_NoMemory();
		return r;
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
	if (mpy_pack(tc, value, buf) < 0)
		return -1;
	return array_result(mps_array_set(self->obj, (size_t)i, buf));
}

static PyObject *array_repr(MpsObject *self)
{
	PyObject *all = PySequence_GetSlice((PyObject *)self, 0, PY_SSIZE_T_MAX);
	if (!all)
		return NULL;
	PyObject *r = PyUnicode_FromFormat("<mpsync.Array('%c', %R)>", mps_array_typecode(self->obj), all);
	Py_DECREF(all);
	return r;
}

static PyObject *array_typecode(MpsObject *self, void *c)
{
	(void)c;
	char tc = mps_array_typecode(self->obj);
	return PyUnicode_FromStringAndSize(&tc, 1);
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
	{"get_lock", (PyCFunction)cells_get_lock, METH_NOARGS, NULL},
	{"acquire", FAST(cells_acquire), FASTKW, NULL},
	{"release", (PyCFunction)cells_release, METH_NOARGS, NULL},
	{"__enter__", (PyCFunction)cells_enter, METH_NOARGS, NULL},
	{"__exit__", (PyCFunction)cells_exit, METH_VARARGS, NULL},
	{"__reduce__", mpy_object_reduce, METH_NOARGS, NULL},
	{NULL, NULL, 0, NULL}
};

static PyGetSetDef array_getset[] = {
	{"typecode", (getter)array_typecode, NULL, NULL, NULL},
	{"value", (getter)array_get_value, NULL, "a char array up to its first NUL", NULL},
	{NULL, NULL, NULL, NULL, NULL},
	{NULL, NULL, NULL, NULL, NULL},
	{NULL, NULL, NULL, NULL, NULL},
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

/* The tables above end with room for the common getters (_segment, _offset). */
static void add_common(PyGetSetDef *table)
{
	while (table->name)
		table++;
	for (PyGetSetDef *g = mpy_object_getset; g->name; g++)
		*table++ = *g;
}

void mpy_value_types_init(void)
{
	add_common(value_getset);
	add_common(array_getset);
	Mpy_ValueType.tp_getset = value_getset;
	Mpy_ArrayType.tp_getset = array_getset;
}
