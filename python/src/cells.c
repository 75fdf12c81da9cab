/* What Value and Array share: typecodes (the array module's; a ctypes type
 * is read through its _type_), element conversion (a number that does not
 * fit raises OverflowError where ctypes would truncate it silently), the
 * lock argument, and the synchronized wrapper's lock methods. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <wchar.h>

#include "_mpsync.h"

int mpy_typecode_of(PyObject *o, char *out)
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
int mpy_sync_of(PyObject *lock, enum mps_sync *sync, void **lockp, PyObject **segment)
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

/* A library call that takes the cell's lock would wait for it with the
 * GIL held, freezing every thread and deaf to Ctrl-C, while another
 * process has it. An RLock (own or given) is taken first as acquire()
 * takes it, and the call re-enters it; a given Lock cannot be re-entered,
 * so the call runs with the GIL released. */
int mpy_cells_hold(MpsObject *self, struct mpy_hold *h)
{
	const struct cell_ops *ops = ops_of(self);
	int sync = ops->sync(self->obj);
	h->taken = 0;
	h->ts = NULL;
	if (sync == MPS_SYNC_LOCK) {
		h->ts = PyEval_SaveThread();
	} else if (sync != MPS_SYNC_NONE) {
		PyObject *ok = cells_acquire_t(self, MPS_FOREVER);
		if (!ok)
			return -1;
		Py_DECREF(ok);
		h->taken = 1;
	}
	return 0;
}

void mpy_cells_unhold(MpsObject *self, struct mpy_hold *h)
{
	if (h->ts)
		PyEval_RestoreThread(h->ts);
	if (h->taken)
		ops_of(self)->release(self->obj);
}

PyObject *mpy_cells_acquire(MpsObject *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
	double timeout = MPS_FOREVER;
	if ((nargs || kwnames) && mpy_parse_acquire(args, nargs, kwnames, &timeout) < 0)
		return NULL;
	return cells_acquire_t(self, timeout);
}

PyObject *mpy_cells_enter(MpsObject *self, PyObject *unused)
{
	(void)unused;
	return cells_acquire_t(self, MPS_FOREVER);
}

PyObject *mpy_cells_release(MpsObject *self, PyObject *unused)
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

PyObject *mpy_cells_exit(MpsObject *self, PyObject *args)
{
	(void)args;
	return mpy_cells_release(self, NULL);
}

/* get_lock(): the given Lock/RLock; for the object's own RLock, the object
 * itself, which has acquire/release and is a context manager. */
PyObject *mpy_cells_get_lock(MpsObject *self, PyObject *unused)
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

/* "<mpsync.Value('i', 3)>", "<mpsync.Array('i', [1, 2])>"; steals contents
 * (NULL: the error is passed on). */
PyObject *mpy_cells_repr(PyObject *self, char tc, PyObject *contents)
{
	if (!contents)
		return NULL;
	PyObject *r = PyUnicode_FromFormat("<%s('%c', %R)>", Py_TYPE(self)->tp_name, tc, contents);
	Py_DECREF(contents);
	return r;
}

PyObject *mpy_typecode_str(char tc)
{
	return PyUnicode_FromStringAndSize(&tc, 1);
}
