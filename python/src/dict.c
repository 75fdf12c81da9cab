/* dict over mps_dict_t: SyncManager's DictProxy methods (values: var.c). */
#include <errno.h>
#include <string.h>

#include "_mpsync.h"

static int dict_create(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                       void *arg, void **out)
{
	(void)arg;
	return mps_segment_dict(seg, name, mode, (mps_dict_t **)out);
}

static int dict_set_o(PyObject *self, PyObject *key, PyObject *value)
{
	mps_var_t k = mps_none(), v = mps_none();
	PyObject *kk, *kv;
	if (mpy_to_var(key, mpy_seg_of(self), 1, &k, &kk) < 0)
		return -1;
	if (!value) {
		int r;
		Py_BEGIN_ALLOW_THREADS
		r = mps_dict_del(MPY_OBJ(self), &k);
		Py_END_ALLOW_THREADS
		Py_XDECREF(kk);
		if (r) {
			mpy_fail(r, key);
			return -1;
		}
		return 0;
	}
	if (mpy_to_var(value, mpy_seg_of(self), 0, &v, &kv) < 0) {
		Py_XDECREF(kk);
		return -1;
	}
	int r;
	Py_BEGIN_ALLOW_THREADS
	r = mps_dict_set(MPY_OBJ(self), &k, &v);
	Py_END_ALLOW_THREADS
	Py_XDECREF(kk);
	Py_XDECREF(kv);
	if (r) {
		mpy_fail(r, key);
		return -1;
	}
	return 0;
}

static PyObject *dict_update(PyObject *self, PyObject *args, PyObject *kw);

static PyObject *dict_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
	PyObject *self, *rest_args, *rest_kw;
	if (mpy_factory_new(tp, args, kw, dict_create, &self, &rest_args, &rest_kw) < 0)
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
	size_t n;
	Py_BEGIN_ALLOW_THREADS
	n = mps_dict_len(MPY_OBJ(self));
	Py_END_ALLOW_THREADS
	return (Py_ssize_t)n;
}

/* get/pop: the value under key; ENOENT is returned as such (no exception). */
static PyObject *dict_read(PyObject *self, PyObject *key, int pop, int *missing)
{
	mps_var_t k = mps_none(), v = mps_none();
	PyObject *kk, *r = NULL;
	struct mpy_outs o;
	*missing = 0;
	if (mpy_to_var(key, mpy_seg_of(self), 1, &k, &kk) < 0)
		return NULL;
	mpy_outs_init(&o);
	for (;;) {
		int e;
		Py_BEGIN_ALLOW_THREADS
		e = pop ? mps_dict_pop(MPY_OBJ(self), &k, &v, o.out[0])
		        : mps_dict_get(MPY_OBJ(self), &k, &v, o.out[0]);
		Py_END_ALLOW_THREADS
		if (e == EMSGSIZE && mpy_outs_fit(&o, &v, NULL) == 0)
			continue;
		if (e == ENOENT)
			*missing = 1;
		else if (e == 0)
			r = mpy_from_var(&v, mpy_seg_of(self));
		else if (e != EMSGSIZE)
			mpy_fail(e, key);
		break;
	}
	mpy_outs_free(&o);
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
	if (mpy_to_var(key, mpy_seg_of(self), 1, &k, &kk) < 0)
		return -1;
	int r;
	Py_BEGIN_ALLOW_THREADS
	r = mps_dict_contains(MPY_OBJ(self), &k);
	Py_END_ALLOW_THREADS
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
	mps_var_t k = mps_none(), d = mps_none(), v = mps_none();
	struct mpy_outs o;
	if (!PyArg_ParseTuple(args, "O|O:setdefault", &key, &dflt))
		return NULL;
	if (mpy_to_var(key, mpy_seg_of(self), 1, &k, &kk) < 0)
		return NULL;
	if (mpy_to_var(dflt, mpy_seg_of(self), 0, &d, &kd) < 0) {
		Py_XDECREF(kk);
		return NULL;
	}
	mpy_outs_init(&o);
	for (;;) {
		int e;
		Py_BEGIN_ALLOW_THREADS
		e = mps_dict_setdefault(MPY_OBJ(self), &k, &d, &v, o.out[0]);
		Py_END_ALLOW_THREADS
		if (e == EMSGSIZE && mpy_outs_fit(&o, &v, NULL) == 0)
			continue;
		r = e == 0 ? mpy_from_var(&v, mpy_seg_of(self)) : e == EMSGSIZE ? NULL : mpy_fail(e, key);
		break;
	}
	mpy_outs_free(&o);
	Py_XDECREF(kk);
	Py_XDECREF(kd);
	return r;
}

static PyObject *dict_popitem(PyObject *self, PyObject *unused)
{
	(void)unused;
	mps_var_t k = mps_none(), v = mps_none();
	struct mpy_outs o;
	PyObject *r = NULL;
	mpy_outs_init(&o);
	for (;;) {
		int e;
		Py_BEGIN_ALLOW_THREADS
		e = mps_dict_popitem(MPY_OBJ(self), &k, o.out[0], &v, o.out[1]);
		Py_END_ALLOW_THREADS
		if (e == EMSGSIZE && mpy_outs_fit(&o, &k, &v) == 0)
			continue;
		if (e == ENOENT)
			PyErr_SetString(PyExc_KeyError, "popitem(): dictionary is empty");
		else if (e == 0)
			r = Py_BuildValue("(NN)", mpy_from_var(&k, mpy_seg_of(self)), mpy_from_var(&v, mpy_seg_of(self)));
		else if (e != EMSGSIZE)
			mpy_fail(e, NULL);
		break;
	}
	mpy_outs_free(&o);
	return r;
}

/* A snapshot of the items, in insertion order: what = 0 keys, 1 values,
 * 2 (key, value) pairs. A dict resized meanwhile is read again. */
static PyObject *dict_snapshot(PyObject *self, int what)
{
	for (int tries = 0; tries < 100; tries++) {
		mps_dict_iter_t it;
		mps_var_t k = mps_none(), v = mps_none();
		struct mpy_outs o;
		int e;
		PyObject *list = PyList_New(0);
		if (!list)
			return NULL;
		mpy_outs_init(&o);
		Py_BEGIN_ALLOW_THREADS
		mps_dict_iter_begin(MPY_OBJ(self), &it, false);
		Py_END_ALLOW_THREADS
		for (;;) {
			Py_BEGIN_ALLOW_THREADS
			e = mps_dict_iter_next(&it, &k, o.out[0], &v, o.out[1]);
			Py_END_ALLOW_THREADS
			if (e == ENOENT)
				break;
			if (e == EMSGSIZE) {
				if (mpy_outs_fit(&o, &k, &v) < 0)
					break;
				continue;
			}
			if (e)
				break;
			PyObject *x = what == 0 ? mpy_from_var(&k, mpy_seg_of(self))
			            : what == 1 ? mpy_from_var(&v, mpy_seg_of(self))
			            : Py_BuildValue("(NN)", mpy_from_var(&k, mpy_seg_of(self)),
			                            mpy_from_var(&v, mpy_seg_of(self)));
			if (!x || PyList_Append(list, x) < 0) {
				Py_XDECREF(x);
				e = -1;
				break;
			}
			Py_DECREF(x);
		}
		mpy_outs_free(&o);
		if (e == ENOENT)
			return list;
		Py_DECREF(list);
		if (e != ESTALE)
			return e == -1 || PyErr_Occurred() ? NULL : mpy_fail(e, NULL);
	}
	return mpy_fail(ESTALE, NULL);
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
	    mpy_seg_of(other)->seg == mpy_seg_of(self)->seg) {
		int r;
		Py_BEGIN_ALLOW_THREADS
		r = mps_dict_update(MPY_OBJ(self), MPY_OBJ(other));
		Py_END_ALLOW_THREADS
		if (r)
			return mpy_fail(r, NULL);
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
	int r;
	Py_BEGIN_ALLOW_THREADS
	r = mps_dict_clear(MPY_OBJ(self));
	Py_END_ALLOW_THREADS
	return r ? mpy_fail(r, NULL) : Py_NewRef(Py_None);
}

static PyObject *dict_repr(PyObject *self)
{
	int busy = mpy_repr_enter(MPY_OBJ(self));
	if (busy)
		return busy < 0 ? NULL : PyUnicode_FromString("<mpsync.Dict {...}>");
	PyObject *d = dict_copy(self, NULL);
	PyObject *r = d ? PyUnicode_FromFormat("<mpsync.Dict %R>", d) : NULL;
	Py_XDECREF(d);
	mpy_repr_leave(MPY_OBJ(self));
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

