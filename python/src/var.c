/* Values in containers (dict, list, Namespace): conversions between
 * Python objects and the library's typed values, read buffers, errors.
 *
 * Values: None, int (64-bit), float, str and bytes are stored as the
 * library's typed values, so a C program reads them as they are; objects
 * of the same segment (dict, list, Queue, Value, locks...) are stored by
 * reference, so nesting shares them as Python 3.6+ proxies do. Anything
 * else (bool, a larger int, tuple, a plain list or dict, instances, a
 * Condition, a Barrier with an action, an object of another segment) is
 * pickled and stored as bytes starting with PICKLE_MAGIC; bytes that happen
 * to start with it are pickled too, so a read never mistakes one for the
 * other. Keys are values too (never references): equal when type and
 * bytes are equal. */
#include <errno.h>
#include <string.h>

#include "_mpsync.h"

#define PICKLE_MAGIC "\0mpsync\x01"   /* 8 bytes: what a C program sees first */
#define MAGIC_LEN 8

static PyObject *pickled(PyObject *o)
{
	PyObject *p = PyObject_CallFunctionObjArgs(Mpy_Dumps, o, Mpy_Protocol, NULL);
	if (!p)
		return NULL;
	PyObject *b = PyBytes_FromStringAndSize(NULL, MAGIC_LEN + PyBytes_GET_SIZE(p));
	if (b) {
		memcpy(PyBytes_AS_STRING(b), PICKLE_MAGIC, MAGIC_LEN);
		memcpy(PyBytes_AS_STRING(b) + MAGIC_LEN, PyBytes_AS_STRING(p), PyBytes_GET_SIZE(p));
	}
	Py_DECREF(p);
	return b;
}

static int as_bytes_var(PyObject *b, mps_var_t *v)
{
	*v = mps_bytes(PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
	return 0;
}

/* keep receives a new object that must outlive the use of *v (or NULL). */
int mpy_to_var(PyObject *o, SegmentObject *seg, int is_key, mps_var_t *v, PyObject **keep)
{
	*keep = NULL;
	if (o == Py_None) {
		*v = mps_none();
		return 0;
	}
	if (PyLong_CheckExact(o)) {
		int overflow;
		long long i = PyLong_AsLongLongAndOverflow(o, &overflow);
		if (i == -1 && PyErr_Occurred())
			return -1;
		if (!overflow) {
			*v = mps_int(i);
			return 0;
		}
	} else if (PyFloat_CheckExact(o)) {
		*v = mps_float(PyFloat_AS_DOUBLE(o));
		return 0;
	} else if (PyUnicode_CheckExact(o)) {
		Py_ssize_t n;
		const char *s = PyUnicode_AsUTF8AndSize(o, &n);
		if (s) {
			mps_var_t t = {MPS_STR, 0, 0, s, (size_t)n, NULL};
			*v = t;
			return 0;
		}
		/* Lone surrogates have no UTF-8: such a str is pickled. */
		if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
			return -1;
		PyErr_Clear();
	} else if (PyBytes_CheckExact(o)) {
		if (PyBytes_GET_SIZE(o) < MAGIC_LEN ||
		    memcmp(PyBytes_AS_STRING(o), PICKLE_MAGIC, MAGIC_LEN))
			return as_bytes_var(o, v);
	} else if (!is_key && PyObject_TypeCheck(o, &Mpy_ConditionType) == 0 &&
	           mpy_kind_of_type(Py_TYPE(o)) != MPS_KIND_NONE &&
	           ((MpsObject *)o)->segment->seg == seg->seg &&
	           !(PyObject_TypeCheck(o, &Mpy_BarrierType) && ((MpsObject *)o)->extra)) {
		*v = mps_ref(MPY_OBJ(o));
		return 0;
	}
	/* A key that Python could not hash is refused, as by a dict. */
	if (is_key && PyObject_Hash(o) == -1)
		return -1;
	if (!(*keep = pickled(o)))
		return -1;
	return as_bytes_var(*keep, v);
}

PyObject *mpy_from_var(const mps_var_t *v, SegmentObject *seg)
{
	switch (v->type) {
	case MPS_NONE:
		Py_RETURN_NONE;
	case MPS_INT:
		return PyLong_FromLongLong(v->i);
	case MPS_FLOAT:
		return PyFloat_FromDouble(v->f);
	case MPS_STR:
		return PyUnicode_DecodeUTF8(v->data, (Py_ssize_t)v->len, "surrogateescape");
	case MPS_BYTES:
		if (v->len >= MAGIC_LEN && !memcmp(v->data, PICKLE_MAGIC, MAGIC_LEN)) {
			PyObject *mv = PyMemoryView_FromMemory((char *)v->data + MAGIC_LEN,
			                                       (Py_ssize_t)(v->len - MAGIC_LEN),
			                                       PyBUF_READ);
			PyObject *r = mv ? PyObject_CallOneArg(Mpy_Loads, mv) : NULL;
			Py_XDECREF(mv);
			return r;
		}
		return PyBytes_FromStringAndSize(v->data, (Py_ssize_t)v->len);
	case MPS_REF:   /* the read gave us a reference: the wrapper takes it over */
		if (mps_object_kind(v->ref) == MPS_KIND_CONDITION) {
			/* Python stores Conditions pickled (with their lock); a bare
			 * reference, stored by a C program, has no lock to wait with. */
			mpy_object_release(v->ref);
			PyErr_SetString(PyExc_TypeError, "a Condition stored by reference has no lock");
			return NULL;
		}
		return mpy_wrap(mpy_type_of_kind(mps_object_kind(v->ref)), seg, v->ref, 0);
	}
	return mpy_error(EINVAL);
}

void mpy_outs_init(struct mpy_outs *o)
{
	for (int i = 0; i < 2; i++) {
		o->heap[i] = NULL;
		o->out[i].buf = o->stack[i];
		o->out[i].cap = STACK_OUT;
	}
}

static int outs_grow(struct mpy_outs *o, int i, size_t need)
{
	PyMem_Free(o->heap[i]);
	o->heap[i] = PyMem_Malloc(need + 1);
	if (!o->heap[i]) {
		PyErr_NoMemory();
		return -1;
	}
	o->out[i].buf = o->heap[i];
	o->out[i].cap = need + 1;
	return 0;
}

int mpy_outs_fit(struct mpy_outs *o, const mps_var_t *a, const mps_var_t *b)
{
	const mps_var_t *v[2] = {a, b};
	for (int i = 0; i < 2; i++)
		if (v[i] && (v[i]->type == MPS_BYTES || v[i]->type == MPS_STR) &&
		    v[i]->len >= o->out[i].cap && outs_grow(o, i, v[i]->len) < 0)
			return -1;
	return 0;
}

void mpy_outs_free(struct mpy_outs *o)
{
	PyMem_Free(o->heap[0]);
	PyMem_Free(o->heap[1]);
}

SegmentObject *mpy_seg_of(PyObject *self)
{
	return ((MpsObject *)self)->segment;
}

/* Results: ENOENT -> KeyError(key) (or the given exception), ERANGE ->
 * IndexError, ENOSPC -> MemoryError-like OSError from mpy_error. */
PyObject *mpy_fail(int r, PyObject *key)
{
	if (r == ENOENT) {
		if (key)
			PyErr_SetObject(PyExc_KeyError, key);
		else
			PyErr_SetString(PyExc_ValueError, "value not in list");
		return NULL;
	}
	if (r == ERANGE) {
		PyErr_SetString(PyExc_IndexError, "list index out of range");
		return NULL;
	}
	if (r == ESTALE) {
		PyErr_SetString(PyExc_RuntimeError, "container changed size during iteration");
		return NULL;
	}
	return mpy_error(r);
}

int mpy_factory_new(PyTypeObject *tp, PyObject *args, PyObject *kw, mpy_create_fn fn,
                       PyObject **self, PyObject **rest_args, PyObject **rest_kw)
{
	PyObject *segment = NULL, *mode_o = NULL, *name_o = NULL;
	const char *name = NULL;
	int mode;
	*rest_kw = kw ? PyDict_Copy(kw) : PyDict_New();
	if (!*rest_kw)
		return -1;
	/* segment/name/mode are ours; every other keyword is content (dict(a=1)). */
	segment = PyDict_GetItemString(*rest_kw, "segment");
	name_o = PyDict_GetItemString(*rest_kw, "name");
	mode_o = PyDict_GetItemString(*rest_kw, "mode");
	Py_XINCREF(segment);
	Py_XINCREF(name_o);
	Py_XINCREF(mode_o);
	PyDict_DelItemString(*rest_kw, "segment");
	PyDict_DelItemString(*rest_kw, "name");
	PyDict_DelItemString(*rest_kw, "mode");
	PyErr_Clear();
	int r = -1;
	if (name_o && name_o != Py_None && !(name = PyUnicode_AsUTF8(name_o)))
		goto out;
	if (mpy_parse_mode(mode_o, &mode) < 0)
		goto out;
	*self = mpy_create(tp, segment, name, mode, fn, NULL);
	*rest_args = args;
	r = *self ? 0 : -1;
out:
	Py_XDECREF(segment);
	Py_XDECREF(name_o);
	Py_XDECREF(mode_o);
	if (r < 0)
		Py_CLEAR(*rest_kw);
	return r;
}

