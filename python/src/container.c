/* dict, list and Namespace over mps_dict_t / mps_list_t / mps_namespace_t:
 * SyncManager's DictProxy, ListProxy and NamespaceProxy methods.
 *
 * Values: None, int (64-bit), float, str and bytes are stored as the
 * library's typed values, so a C program reads them as they are; objects
 * of the same segment (dict, list, Queue, Value, locks...) are stored by
 * reference, so nesting shares them as Python 3.6+ proxies do. Anything
 * else (bool, a larger int, tuple, a plain list or dict, instances, a
 * Condition, an object of another segment) is pickled and stored as bytes
 * starting with PICKLE_MAGIC; bytes that happen to start with it are
 * pickled too, so a read never mistakes one for the other. Keys are values
 * too (never references): equal when type and bytes are equal. */
#include <errno.h>
#include <string.h>

#include "_mpsync.h"

#define PICKLE_MAGIC "\0mpsync\x01"   /* 8 bytes: what a C program sees first */
#define MAGIC_LEN 8
#define STACK_OUT 512

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
static int to_var(PyObject *o, SegmentObject *seg, int is_key, mps_var_t *v, PyObject **keep)
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
		if (!s)
			return -1;
		mps_var_t t = {MPS_STR, 0, 0, s, (size_t)n, NULL};
		*v = t;
		return 0;
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
	if (!(*keep = pickled(o)))
		return -1;
	return as_bytes_var(*keep, v);
}

static PyObject *from_var(const mps_var_t *v, SegmentObject *seg)
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
		return mpy_wrap(mpy_type_of_kind(mps_object_kind(v->ref)), seg, v->ref, 0);
	}
	return mpy_error(EINVAL);
}

/* Output buffers for reads: a stack one, then the size the library asks. */
struct outs {
	char stack[2][STACK_OUT];
	char *heap[2];
	mps_out_t out[2];
};

static void outs_init(struct outs *o)
{
	for (int i = 0; i < 2; i++) {
		o->heap[i] = NULL;
		o->out[i].buf = o->stack[i];
		o->out[i].cap = STACK_OUT;
	}
}

static int outs_grow(struct outs *o, int i, size_t need)
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

static int outs_fit(struct outs *o, const mps_var_t *a, const mps_var_t *b)
{
	const mps_var_t *v[2] = {a, b};
	for (int i = 0; i < 2; i++)
		if (v[i] && (v[i]->type == MPS_BYTES || v[i]->type == MPS_STR) &&
		    v[i]->len >= o->out[i].cap && outs_grow(o, i, v[i]->len) < 0)
			return -1;
	return 0;
}

static void outs_free(struct outs *o)
{
	PyMem_Free(o->heap[0]);
	PyMem_Free(o->heap[1]);
}

static SegmentObject *seg_of(PyObject *self)
{
	return ((MpsObject *)self)->segment;
}

/* Results: ENOENT -> KeyError(key) (or the given exception), ERANGE ->
 * IndexError, ENOSPC -> MemoryError-like OSError from mpy_error. */
static PyObject *fail(int r, PyObject *key)
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

static int factory_new(PyTypeObject *tp, PyObject *args, PyObject *kw, mpy_create_fn fn,
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

/* ---- dict ---- */

static int dict_create(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                       void *arg, void **out)
{
	(void)arg;
	return mps_segment_dict(seg, name, mode, (mps_dict_t **)out);
}

static int dict_set_o(PyObject *self, PyObject *key, PyObject *value)
{
	mps_var_t k, v;
	PyObject *kk, *kv;
	if (to_var(key, seg_of(self), 1, &k, &kk) < 0)
		return -1;
	if (!value) {
		int r = mps_dict_del(MPY_OBJ(self), &k);
		Py_XDECREF(kk);
		if (r) {
			fail(r, key);
			return -1;
		}
		return 0;
	}
	if (to_var(value, seg_of(self), 0, &v, &kv) < 0) {
		Py_XDECREF(kk);
		return -1;
	}
	int r = mps_dict_set(MPY_OBJ(self), &k, &v);
	Py_XDECREF(kk);
	Py_XDECREF(kv);
	if (r) {
		fail(r, key);
		return -1;
	}
	return 0;
}

static PyObject *dict_update(PyObject *self, PyObject *args, PyObject *kw);

static PyObject *dict_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
	PyObject *self, *rest_args, *rest_kw;
	if (factory_new(tp, args, kw, dict_create, &self, &rest_args, &rest_kw) < 0)
		return NULL;
	PyObject *r = PyTuple_GET_SIZE(rest_args) || PyDict_GET_SIZE(rest_kw)
	            ? dict_update(self, rest_args, rest_kw) : Py_NewRef(Py_None);
	Py_DECREF(rest_kw);
	if (!r) {
		Py_DECREF(self);
		return NULL;
	}
	Py_DECREF(r);
	return self;
}

static Py_ssize_t dict_length(PyObject *self)
{
	return (Py_ssize_t)mps_dict_len(MPY_OBJ(self));
}

/* get/pop: the value under key; ENOENT is returned as such (no exception). */
static PyObject *dict_read(PyObject *self, PyObject *key, int pop, int *missing)
{
	mps_var_t k, v;
	PyObject *kk, *r = NULL;
	struct outs o;
	*missing = 0;
	if (to_var(key, seg_of(self), 1, &k, &kk) < 0)
		return NULL;
	outs_init(&o);
	for (;;) {
		int e = pop ? mps_dict_pop(MPY_OBJ(self), &k, &v, o.out[0])
		            : mps_dict_get(MPY_OBJ(self), &k, &v, o.out[0]);
		if (e == EMSGSIZE && outs_fit(&o, &v, NULL) == 0)
			continue;
		if (e == ENOENT)
			*missing = 1;
		else if (e == 0)
			r = from_var(&v, seg_of(self));
		else if (e != EMSGSIZE)
			fail(e, key);
		break;
	}
	outs_free(&o);
	Py_XDECREF(kk);
	return r;
}

static PyObject *dict_subscript(PyObject *self, PyObject *key)
{
	int missing;
	PyObject *r = dict_read(self, key, 0, &missing);
	if (missing)
		PyErr_SetObject(PyExc_KeyError, key);
	return r;
}

static int dict_contains(PyObject *self, PyObject *key)
{
	mps_var_t k;
	PyObject *kk;
	if (to_var(key, seg_of(self), 1, &k, &kk) < 0)
		return -1;
	int r = mps_dict_contains(MPY_OBJ(self), &k);
	Py_XDECREF(kk);
	return r;
}

static PyObject *dict_get(PyObject *self, PyObject *args)
{
	PyObject *key, *dflt = Py_None;
	int missing;
	if (!PyArg_ParseTuple(args, "O|O:get", &key, &dflt))
		return NULL;
	PyObject *r = dict_read(self, key, 0, &missing);
	return missing ? Py_NewRef(dflt) : r;
}

static PyObject *dict_pop(PyObject *self, PyObject *args)
{
	PyObject *key, *dflt = NULL;
	int missing;
	if (!PyArg_ParseTuple(args, "O|O:pop", &key, &dflt))
		return NULL;
	PyObject *r = dict_read(self, key, 1, &missing);
	if (!missing)
		return r;
	if (dflt)
		return Py_NewRef(dflt);
	PyErr_SetObject(PyExc_KeyError, key);
	return NULL;
}

static PyObject *dict_setdefault(PyObject *self, PyObject *args)
{
	PyObject *key, *dflt = Py_None, *kk, *kd, *r = NULL;
	mps_var_t k, d, v;
	struct outs o;
	if (!PyArg_ParseTuple(args, "O|O:setdefault", &key, &dflt))
		return NULL;
	if (to_var(key, seg_of(self), 1, &k, &kk) < 0)
		return NULL;
	if (to_var(dflt, seg_of(self), 0, &d, &kd) < 0) {
		Py_XDECREF(kk);
		return NULL;
	}
	outs_init(&o);
	for (;;) {
		int e = mps_dict_setdefault(MPY_OBJ(self), &k, &d, &v, o.out[0]);
		if (e == EMSGSIZE && outs_fit(&o, &v, NULL) == 0)
			continue;
		r = e == 0 ? from_var(&v, seg_of(self)) : e == EMSGSIZE ? NULL : fail(e, key);
		break;
	}
	outs_free(&o);
	Py_XDECREF(kk);
	Py_XDECREF(kd);
	return r;
}

static PyObject *dict_popitem(PyObject *self, PyObject *unused)
{
	(void)unused;
	mps_var_t k, v;
	struct outs o;
	PyObject *r = NULL;
	outs_init(&o);
	for (;;) {
		int e = mps_dict_popitem(MPY_OBJ(self), &k, o.out[0], &v, o.out[1]);
		if (e == EMSGSIZE && outs_fit(&o, &k, &v) == 0)
			continue;
		if (e == ENOENT)
			PyErr_SetString(PyExc_KeyError, "popitem(): dictionary is empty");
		else if (e == 0)
			r = Py_BuildValue("(NN)", from_var(&k, seg_of(self)), from_var(&v, seg_of(self)));
		else if (e != EMSGSIZE)
			fail(e, NULL);
		break;
	}
	outs_free(&o);
	return r;
}

/* A snapshot of the items, in insertion order: what = 0 keys, 1 values,
 * 2 (key, value) pairs. A dict resized meanwhile is read again. */
static PyObject *dict_snapshot(PyObject *self, int what)
{
	for (int tries = 0; tries < 100; tries++) {
		mps_dict_iter_t it;
		mps_var_t k, v;
		struct outs o;
		int e;
		PyObject *list = PyList_New(0);
		if (!list)
			return NULL;
		outs_init(&o);
		mps_dict_iter_begin(MPY_OBJ(self), &it, false);
		while ((e = mps_dict_iter_next(&it, &k, o.out[0], &v, o.out[1])) != ENOENT) {
			if (e == EMSGSIZE) {
				if (outs_fit(&o, &k, &v) < 0)
					break;
				continue;
			}
			if (e)
				break;
			PyObject *x = what == 0 ? from_var(&k, seg_of(self))
			            : what == 1 ? from_var(&v, seg_of(self))
			            : Py_BuildValue("(NN)", from_var(&k, seg_of(self)),
			                            from_var(&v, seg_of(self)));
			if (!x || PyList_Append(list, x) < 0) {
				Py_XDECREF(x);
				e = -1;
				break;
			}
			Py_DECREF(x);
		}
		outs_free(&o);
		if (e == ENOENT)
			return list;
		Py_DECREF(list);
		if (e != ESTALE)
			return e == -1 || PyErr_Occurred() ? NULL : fail(e, NULL);
	}
	return fail(ESTALE, NULL);
}

static PyObject *dict_keys(PyObject *self, PyObject *u) { (void)u; return dict_snapshot(self, 0); }
static PyObject *dict_values(PyObject *self, PyObject *u) { (void)u; return dict_snapshot(self, 1); }
static PyObject *dict_items(PyObject *self, PyObject *u) { (void)u; return dict_snapshot(self, 2); }

static PyObject *dict_iter(PyObject *self)
{
	PyObject *keys = dict_snapshot(self, 0);
	if (!keys)
		return NULL;
	PyObject *it = PyObject_GetIter(keys);
	Py_DECREF(keys);
	return it;
}

/* _getvalue() and copy(): a plain dict, as DictProxy's copy() returns. */
static PyObject *dict_copy(PyObject *self, PyObject *unused)
{
	(void)unused;
	PyObject *items = dict_snapshot(self, 2), *d = items ? PyDict_New() : NULL;
	for (Py_ssize_t i = 0; d && i < PyList_GET_SIZE(items); i++) {
		PyObject *kv = PyList_GET_ITEM(items, i);
		if (PyDict_SetItem(d, PyTuple_GET_ITEM(kv, 0), PyTuple_GET_ITEM(kv, 1)) < 0)
			Py_CLEAR(d);
	}
	Py_XDECREF(items);
	return d;
}

static PyObject *dict_update(PyObject *self, PyObject *args, PyObject *kw)
{
	PyObject *other = NULL;
	if (!PyArg_ParseTuple(args, "|O:update", &other))
		return NULL;
	if (other && PyObject_TypeCheck(other, &Mpy_DictType) &&
	    seg_of(other)->seg == seg_of(self)->seg) {
		int r = mps_dict_update(MPY_OBJ(self), MPY_OBJ(other));
		if (r)
			return fail(r, NULL);
		other = NULL;
	}
	if (other) {
		PyObject *tmp = PyDict_New();   /* dict(other) semantics, then in order */
		if (!tmp)
			return NULL;
		if ((PyDict_Check(other) || PyObject_HasAttrString(other, "keys")
		         ? PyDict_Update(tmp, other) : PyDict_MergeFromSeq2(tmp, other, 1)) < 0) {
			Py_DECREF(tmp);
			return NULL;
		}
		PyObject *k, *v;
		Py_ssize_t pos = 0;
		while (PyDict_Next(tmp, &pos, &k, &v))
			if (dict_set_o(self, k, v) < 0) {
				Py_DECREF(tmp);
				return NULL;
			}
		Py_DECREF(tmp);
	}
	if (kw) {
		PyObject *k, *v;
		Py_ssize_t pos = 0;
		while (PyDict_Next(kw, &pos, &k, &v))
			if (dict_set_o(self, k, v) < 0)
				return NULL;
	}
	Py_RETURN_NONE;
}

static PyObject *dict_clear(PyObject *self, PyObject *unused)
{
	(void)unused;
	int r = mps_dict_clear(MPY_OBJ(self));
	return r ? fail(r, NULL) : Py_NewRef(Py_None);
}

static PyObject *dict_repr(PyObject *self)
{
	PyObject *d = dict_copy(self, NULL);
	if (!d)
		return NULL;
	PyObject *r = PyUnicode_FromFormat("<mpsync.Dict %R>", d);
	Py_DECREF(d);
	return r;
}

static PyMethodDef dict_methods[] = {
	{"get", (PyCFunction)dict_get, METH_VARARGS, NULL},
	{"pop", (PyCFunction)dict_pop, METH_VARARGS, NULL},
	{"popitem", (PyCFunction)dict_popitem, METH_NOARGS, NULL},
	{"setdefault", (PyCFunction)dict_setdefault, METH_VARARGS, NULL},
	{"keys", (PyCFunction)dict_keys, METH_NOARGS, "A list of the keys (as DictProxy)."},
	{"values", (PyCFunction)dict_values, METH_NOARGS, NULL},
	{"items", (PyCFunction)dict_items, METH_NOARGS, NULL},
	{"copy", (PyCFunction)dict_copy, METH_NOARGS, "A plain dict copy."},
	{"_getvalue", (PyCFunction)dict_copy, METH_NOARGS, NULL},
	{"update", (PyCFunction)(void (*)(void))dict_update, METH_VARARGS | METH_KEYWORDS, NULL},
	{"clear", (PyCFunction)dict_clear, METH_NOARGS, NULL},
	{"__reduce__", mpy_object_reduce, METH_NOARGS, NULL},
	{NULL, NULL, 0, NULL}
};

static PyMappingMethods dict_as_mapping = {
	.mp_length = dict_length,
	.mp_subscript = dict_subscript,
	.mp_ass_subscript = dict_set_o,
};

static PySequenceMethods dict_as_sequence = {
	.sq_contains = dict_contains,
};

PyTypeObject Mpy_DictType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mpsync.Dict",
	MPY_OBJECT_TYPE_FIELDS,
	.tp_repr = dict_repr,
	.tp_as_mapping = &dict_as_mapping,
	.tp_as_sequence = &dict_as_sequence,
	.tp_iter = dict_iter,
	.tp_doc = "Dict(*args, **kw): a dict in shared memory (SyncManager.dict).",
	.tp_methods = dict_methods,
	.tp_new = dict_new,
};

/* ---- list ---- */

static int list_create(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                       void *arg, void **out)
{
	(void)arg;
	return mps_segment_list(seg, name, mode, (mps_list_t **)out);
}

static PyObject *list_extend(PyObject *self, PyObject *iterable);

static PyObject *list_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
	PyObject *self, *rest_args, *rest_kw, *init = NULL;
	if (factory_new(tp, args, kw, list_create, &self, &rest_args, &rest_kw) < 0)
		return NULL;
	int bad = PyDict_GET_SIZE(rest_kw) || !PyArg_ParseTuple(rest_args, "|O:list", &init);
	Py_DECREF(rest_kw);
	if (bad) {
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_TypeError, "list() takes no keyword arguments");
		Py_DECREF(self);
		return NULL;
	}
	if (init) {
		PyObject *r = list_extend(self, init);
		if (!r) {
			Py_DECREF(self);
			return NULL;
		}
		Py_DECREF(r);
	}
	return self;
}

static Py_ssize_t list_length(PyObject *self)
{
	return (Py_ssize_t)mps_list_len(MPY_OBJ(self));
}

static PyObject *list_read(PyObject *self, Py_ssize_t i, int pop)
{
	mps_var_t v;
	struct outs o;
	PyObject *r = NULL;
	outs_init(&o);
	for (;;) {
		int e = pop ? mps_list_pop(MPY_OBJ(self), i, &v, o.out[0])
		            : mps_list_get(MPY_OBJ(self), i, &v, o.out[0]);
		if (e == EMSGSIZE && outs_fit(&o, &v, NULL) == 0)
			continue;
		if (e == 0)
			r = from_var(&v, seg_of(self));
		else if (e == ERANGE)
			PyErr_SetString(PyExc_IndexError, pop ? (list_length(self) ? "pop index out of range"
			                                                           : "pop from empty list")
			                                      : "list index out of range");
		else if (e != EMSGSIZE)
			fail(e, NULL);
		break;
	}
	outs_free(&o);
	return r;
}

static PyObject *list_snapshot(PyObject *self)
{
	Py_ssize_t n = list_length(self);
	PyObject *out = PyList_New(0);
	for (Py_ssize_t i = 0; out && i < n; i++) {
		PyObject *x = list_read(self, i, 0);
		if (!x && PyErr_ExceptionMatches(PyExc_IndexError)) {   /* shrank meanwhile */
			PyErr_Clear();
			break;
		}
		if (!x || PyList_Append(out, x) < 0)
			Py_CLEAR(out);
		Py_XDECREF(x);
	}
	return out;
}

static PyObject *list_subscript(PyObject *self, PyObject *key)
{
	if (PySlice_Check(key)) {
		PyObject *all = list_snapshot(self);
		PyObject *r = all ? PyObject_GetItem(all, key) : NULL;
		Py_XDECREF(all);
		return r;
	}
	Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
	if (i == -1 && PyErr_Occurred())
		return NULL;
	return list_read(self, i, 0);
}

static PyObject *list_item(PyObject *self, Py_ssize_t i)
{
	return list_read(self, i, 0);
}

static int list_ass_subscript(PyObject *self, PyObject *key, PyObject *value)
{
	if (PySlice_Check(key)) {
		PyErr_SetString(PyExc_TypeError, "mpsync.List does not support slice assignment");
		return -1;
	}
	Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
	if (i == -1 && PyErr_Occurred())
		return -1;
	int e;
	if (!value)
		e = mps_list_del(MPY_OBJ(self), i);
	else {
		mps_var_t v;
		PyObject *keep;
		if (to_var(value, seg_of(self), 0, &v, &keep) < 0)
			return -1;
		e = mps_list_set(MPY_OBJ(self), i, &v);
		Py_XDECREF(keep);
	}
	if (e == ERANGE) {
		PyErr_SetString(PyExc_IndexError, "list assignment index out of range");
		return -1;
	}
	return e ? (fail(e, NULL), -1) : 0;
}

typedef int (*var_op)(mps_list_t *, const mps_var_t *);

static PyObject *list_var_op(PyObject *self, PyObject *value, var_op op, int result_none)
{
	mps_var_t v;
	PyObject *keep;
	if (to_var(value, seg_of(self), 0, &v, &keep) < 0)
		return NULL;
	int e = op(MPY_OBJ(self), &v);
	Py_XDECREF(keep);
	if (e)
		return fail(e, NULL);
	return result_none ? Py_NewRef(Py_None) : NULL;
}

static PyObject *list_append(PyObject *self, PyObject *value)
{
	return list_var_op(self, value, mps_list_append, 1);
}

static PyObject *list_remove(PyObject *self, PyObject *value)
{
	mps_var_t v;
	PyObject *keep;
	if (to_var(value, seg_of(self), 0, &v, &keep) < 0)
		return NULL;
	int e = mps_list_remove(MPY_OBJ(self), &v);
	Py_XDECREF(keep);
	if (e == ENOENT) {
		PyErr_SetString(PyExc_ValueError, "list.remove(x): x not in list");
		return NULL;
	}
	return e ? fail(e, NULL) : Py_NewRef(Py_None);
}

static int list_contains(PyObject *self, PyObject *value)
{
	mps_var_t v;
	PyObject *keep;
	if (to_var(value, seg_of(self), 0, &v, &keep) < 0)
		return -1;
	int r = mps_list_contains(MPY_OBJ(self), &v);
	Py_XDECREF(keep);
	return r;
}

static PyObject *list_index(PyObject *self, PyObject *value)
{
	mps_var_t v;
	PyObject *keep;
	size_t i;
	if (to_var(value, seg_of(self), 0, &v, &keep) < 0)
		return NULL;
	int e = mps_list_index(MPY_OBJ(self), &v, &i);
	Py_XDECREF(keep);
	if (e == ENOENT)
		return PyErr_Format(PyExc_ValueError, "%R is not in list", value);
	return e ? fail(e, NULL) : PyLong_FromSize_t(i);
}

static PyObject *list_count(PyObject *self, PyObject *value)
{
	mps_var_t v;
	PyObject *keep;
	if (to_var(value, seg_of(self), 0, &v, &keep) < 0)
		return NULL;
	size_t n = mps_list_count(MPY_OBJ(self), &v);
	Py_XDECREF(keep);
	return PyLong_FromSize_t(n);
}

static PyObject *list_insert(PyObject *self, PyObject *args)
{
	Py_ssize_t i;
	PyObject *value, *keep;
	mps_var_t v;
	if (!PyArg_ParseTuple(args, "nO:insert", &i, &value) ||
	    to_var(value, seg_of(self), 0, &v, &keep) < 0)
		return NULL;
	int e = mps_list_insert(MPY_OBJ(self), i, &v);
	Py_XDECREF(keep);
	return e ? fail(e, NULL) : Py_NewRef(Py_None);
}

static PyObject *list_pop(PyObject *self, PyObject *args)
{
	Py_ssize_t i = -1;
	if (!PyArg_ParseTuple(args, "|n:pop", &i))
		return NULL;
	return list_read(self, i, 1);
}

/* extend: every value converted first, then one library call (atomic). */
static PyObject *list_extend(PyObject *self, PyObject *iterable)
{
	if (PyObject_TypeCheck(iterable, &Mpy_ListType) &&
	    seg_of(iterable)->seg == seg_of(self)->seg) {
		int e = mps_list_extend_list(MPY_OBJ(self), MPY_OBJ(iterable));
		return e ? fail(e, NULL) : Py_NewRef(Py_None);
	}
	PyObject *seq = PySequence_List(iterable);
	if (!seq)
		return NULL;
	Py_ssize_t n = PyList_GET_SIZE(seq);
	mps_var_t *vars = PyMem_Calloc((size_t)n + 1, sizeof *vars);
	PyObject **keep = PyMem_Calloc((size_t)n + 1, sizeof *keep);
	PyObject *r = NULL;
	Py_ssize_t done = 0;
	if (!vars || !keep)
		PyErr_NoMemory();
	else {
		for (; done < n; done++)
			if (to_var(PyList_GET_ITEM(seq, done), seg_of(self), 0, &vars[done],
			           &keep[done]) < 0)
				break;
		if (done == n) {
			int e = mps_list_extend(MPY_OBJ(self), vars, (size_t)n);
			r = e ? fail(e, NULL) : Py_NewRef(Py_None);
		}
	}
	for (Py_ssize_t i = 0; keep && i < done; i++)
		Py_XDECREF(keep[i]);
	PyMem_Free(vars);
	PyMem_Free(keep);
	Py_DECREF(seq);
	return r;
}

static PyObject *list_inplace_concat(PyObject *self, PyObject *other)
{
	PyObject *r = list_extend(self, other);
	if (!r)
		return NULL;
	Py_DECREF(r);
	return Py_NewRef(self);
}

static PyObject *list_inplace_repeat(PyObject *self, Py_ssize_t n)
{
	int e = mps_list_repeat(MPY_OBJ(self), n < 0 ? 0 : (size_t)n);
	return e ? fail(e, NULL) : Py_NewRef(self);
}

static PyObject *list_concat(PyObject *self, PyObject *other)
{
	PyObject *all = list_snapshot(self);
	PyObject *r = all ? PySequence_Concat(all, other) : NULL;
	Py_XDECREF(all);
	return r;
}

static PyObject *list_repeat(PyObject *self, Py_ssize_t n)
{
	PyObject *all = list_snapshot(self);
	PyObject *r = all ? PySequence_Repeat(all, n) : NULL;
	Py_XDECREF(all);
	return r;
}

static PyObject *list_reverse(PyObject *self, PyObject *unused)
{
	(void)unused;
	int e = mps_list_reverse(MPY_OBJ(self));
	return e ? fail(e, NULL) : Py_NewRef(Py_None);
}

/* sort(key=None, reverse=False): the library sorts numbers or strings in
 * place; a key function (or values it cannot order) sorts a copy here and
 * writes it back, which is not atomic against other writers. */
static PyObject *list_sort(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"key", "reverse", NULL};
	PyObject *key = Py_None;
	int reverse = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|$Op:sort", kwlist, &key, &reverse))
		return NULL;
	if (key == Py_None && mps_list_sort(MPY_OBJ(self), reverse) == 0)
		Py_RETURN_NONE;
	PyObject *all = list_snapshot(self);
	if (!all)
		return NULL;
	PyObject *sort = PyObject_GetAttrString(all, "sort");
	PyObject *kwargs = Py_BuildValue("{s:O,s:O}", "key", key, "reverse",
	                                 reverse ? Py_True : Py_False);
	PyObject *empty = PyTuple_New(0);
	PyObject *r = sort && kwargs && empty ? PyObject_Call(sort, empty, kwargs) : NULL;
	Py_XDECREF(sort);
	Py_XDECREF(kwargs);
	Py_XDECREF(empty);
	if (r) {
		Py_DECREF(r);
		int e = mps_list_clear(MPY_OBJ(self));
		r = e ? fail(e, NULL) : list_extend(self, all);
	}
	Py_DECREF(all);
	return r;
}

static PyObject *list_clear(PyObject *self, PyObject *unused)
{
	(void)unused;
	int e = mps_list_clear(MPY_OBJ(self));
	return e ? fail(e, NULL) : Py_NewRef(Py_None);
}

static PyObject *list_iter(PyObject *self)
{
	PyObject *all = list_snapshot(self);
	PyObject *it = all ? PyObject_GetIter(all) : NULL;
	Py_XDECREF(all);
	return it;
}

static PyObject *list_reversed(PyObject *self, PyObject *unused)
{
	(void)unused;
	PyObject *all = list_snapshot(self);
	if (!all || PyList_Reverse(all) < 0) {
		Py_XDECREF(all);
		return NULL;
	}
	PyObject *it = PyObject_GetIter(all);
	Py_DECREF(all);
	return it;
}

static PyObject *list_getvalue(PyObject *self, PyObject *unused)
{
	(void)unused;
	return list_snapshot(self);
}

static PyObject *list_repr(PyObject *self)
{
	PyObject *all = list_snapshot(self);
	if (!all)
		return NULL;
	PyObject *r = PyUnicode_FromFormat("<mpsync.List %R>", all);
	Py_DECREF(all);
	return r;
}

static PyMethodDef list_methods[] = {
	{"append", (PyCFunction)list_append, METH_O, NULL},
	{"extend", (PyCFunction)list_extend, METH_O, NULL},
	{"insert", (PyCFunction)list_insert, METH_VARARGS, NULL},
	{"pop", (PyCFunction)list_pop, METH_VARARGS, NULL},
	{"remove", (PyCFunction)list_remove, METH_O, NULL},
	{"index", (PyCFunction)list_index, METH_O, NULL},
	{"count", (PyCFunction)list_count, METH_O, NULL},
	{"reverse", (PyCFunction)list_reverse, METH_NOARGS, NULL},
	{"sort", (PyCFunction)(void (*)(void))list_sort, METH_VARARGS | METH_KEYWORDS, NULL},
	{"clear", (PyCFunction)list_clear, METH_NOARGS, NULL},
	{"copy", (PyCFunction)list_getvalue, METH_NOARGS, "A plain list copy."},
	{"_getvalue", (PyCFunction)list_getvalue, METH_NOARGS, NULL},
	{"__reversed__", (PyCFunction)list_reversed, METH_NOARGS, NULL},
	{"__reduce__", mpy_object_reduce, METH_NOARGS, NULL},
	{NULL, NULL, 0, NULL}
};

static PySequenceMethods list_as_sequence = {
	.sq_length = list_length,
	.sq_concat = list_concat,
	.sq_repeat = list_repeat,
	.sq_item = list_item,
	.sq_contains = list_contains,
	.sq_inplace_concat = list_inplace_concat,
	.sq_inplace_repeat = list_inplace_repeat,
};

static PyMappingMethods list_as_mapping = {
	.mp_length = list_length,
	.mp_subscript = list_subscript,
	.mp_ass_subscript = list_ass_subscript,
};

PyTypeObject Mpy_ListType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mpsync.List",
	MPY_OBJECT_TYPE_FIELDS,
	.tp_repr = list_repr,
	.tp_as_sequence = &list_as_sequence,
	.tp_as_mapping = &list_as_mapping,
	.tp_iter = list_iter,
	.tp_doc = "List(iterable=()): a list in shared memory (SyncManager.list).",
	.tp_methods = list_methods,
	.tp_new = list_new,
};

/* ---- Namespace ---- */

static int ns_create(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                     void *arg, void **out)
{
	(void)arg;
	return mps_segment_namespace(seg, name, mode, (mps_namespace_t **)out);
}

static int ns_setattro(PyObject *self, PyObject *attr, PyObject *value);

static PyObject *ns_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
	PyObject *self, *rest_args, *rest_kw;
	if (factory_new(tp, args, kw, ns_create, &self, &rest_args, &rest_kw) < 0)
		return NULL;
	int bad = PyTuple_GET_SIZE(rest_args) != 0;
	PyObject *k, *v;
	Py_ssize_t pos = 0;
	while (!bad && PyDict_Next(rest_kw, &pos, &k, &v))
		bad = ns_setattro(self, k, v) < 0;
	Py_DECREF(rest_kw);
	if (bad) {
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_TypeError, "Namespace() takes keyword arguments only");
		Py_DECREF(self);
		return NULL;
	}
	return self;
}

static int private_name(PyObject *attr)
{
	return PyUnicode_Check(attr) && PyUnicode_GET_LENGTH(attr) > 0 &&
	       PyUnicode_READ_CHAR(attr, 0) == '_';
}

static PyObject *ns_getattro(PyObject *self, PyObject *attr)
{
	if (private_name(attr))
		return PyObject_GenericGetAttr(self, attr);
	const char *name = PyUnicode_AsUTF8(attr);
	if (!name)
		return NULL;
	mps_var_t v;
	struct outs o;
	PyObject *r = NULL;
	outs_init(&o);
	for (;;) {
		int e = mps_namespace_get(MPY_OBJ(self), name, &v, o.out[0]);
		if (e == EMSGSIZE && outs_fit(&o, &v, NULL) == 0)
			continue;
		if (e == 0)
			r = from_var(&v, seg_of(self));
		else if (e == ENOENT || e == EINVAL)
			r = PyObject_GenericGetAttr(self, attr);   /* methods, or AttributeError */
		else if (e != EMSGSIZE)
			fail(e, NULL);
		break;
	}
	outs_free(&o);
	return r;
}

static int ns_setattro(PyObject *self, PyObject *attr, PyObject *value)
{
	if (private_name(attr))
		return PyObject_GenericSetAttr(self, attr, value);
	const char *name = PyUnicode_AsUTF8(attr);
	if (!name)
		return -1;
	int e;
	if (!value) {
		e = mps_namespace_del(MPY_OBJ(self), name);
		if (e == ENOENT) {
			PyErr_SetObject(PyExc_AttributeError, attr);
			return -1;
		}
	} else {
		mps_var_t v;
		PyObject *keep;
		if (to_var(value, seg_of(self), 0, &v, &keep) < 0)
			return -1;
		e = mps_namespace_set(MPY_OBJ(self), name, &v);
		Py_XDECREF(keep);
	}
	return e ? (fail(e, NULL), -1) : 0;
}

static PyObject *ns_repr(PyObject *self)
{
	char stack[1024];
	size_t cap = sizeof stack;
	char *buf = stack;
	for (;;) {
		int e = mps_namespace_repr(MPY_OBJ(self), buf, cap);
		if (e == ERANGE && cap < (1u << 24)) {
			if (buf != stack)
				PyMem_Free(buf);
			cap *= 4;
			if (!(buf = PyMem_Malloc(cap)))
				return PyErr_NoMemory();
			continue;
		}
		PyObject *r = e ? fail(e, NULL) : PyUnicode_FromString(buf);
		if (buf != stack)
			PyMem_Free(buf);
		return r;
	}
}

static PyMethodDef ns_methods[] = {
	{"__reduce__", mpy_object_reduce, METH_NOARGS, NULL},
	{NULL, NULL, 0, NULL}
};

PyTypeObject Mpy_NamespaceType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mpsync.Namespace",
	MPY_OBJECT_TYPE_FIELDS,
	.tp_dictoffset = offsetof(MpsObject, extra),   /* '_' names stay on this object */
	.tp_repr = ns_repr,
	.tp_getattro = ns_getattro,
	.tp_setattro = ns_setattro,
	.tp_doc = "Namespace(**kw): attributes in shared memory (SyncManager.Namespace); "
	          "names starting with '_' stay on this process's object.",
	.tp_methods = ns_methods,
	.tp_new = ns_new,
};
