/* list over mps_list_t: SyncManager's ListProxy methods (values: var.c). */
#include <errno.h>
#include <string.h>

#include "_mpsync.h"

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
	if (mpy_factory_new(tp, args, kw, list_create, &self, &rest_args, &rest_kw) < 0)
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
	size_t n;
	Py_BEGIN_ALLOW_THREADS
	n = mps_list_len(MPY_OBJ(self));
	Py_END_ALLOW_THREADS
	return (Py_ssize_t)n;
}

static PyObject *list_read(PyObject *self, Py_ssize_t i, int pop)
{
	mps_var_t v = mps_none();
	struct mpy_outs o;
	PyObject *r = NULL;
	mpy_outs_init(&o);
	for (;;) {
		int e;
		Py_BEGIN_ALLOW_THREADS
		e = pop ? mps_list_pop(MPY_OBJ(self), i, &v, o.out[0])
		        : mps_list_get(MPY_OBJ(self), i, &v, o.out[0]);
		Py_END_ALLOW_THREADS
		if (e == EMSGSIZE && mpy_outs_fit(&o, &v, NULL) == 0)
			continue;
		if (e == 0)
			r = mpy_from_var(&v, mpy_seg_of(self));
		else if (e == ERANGE)
			PyErr_SetString(PyExc_IndexError, pop ? (list_length(self) ? "pop index out of range"
			                                                           : "pop from empty list")
			                                      : "list index out of range");
		else if (e != EMSGSIZE)
			mpy_fail(e, NULL);
		break;
	}
	mpy_outs_free(&o);
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
	if (!value) {
		Py_BEGIN_ALLOW_THREADS
		e = mps_list_del(MPY_OBJ(self), i);
		Py_END_ALLOW_THREADS
	} else {
		mps_var_t v = mps_none();
		PyObject *keep;
		if (mpy_to_var(value, mpy_seg_of(self), 0, &v, &keep) < 0)
			return -1;
		Py_BEGIN_ALLOW_THREADS
		e = mps_list_set(MPY_OBJ(self), i, &v);
		Py_END_ALLOW_THREADS
		Py_XDECREF(keep);
	}
	if (e == ERANGE) {
		PyErr_SetString(PyExc_IndexError, "list assignment index out of range");
		return -1;
	}
	return e ? (mpy_fail(e, NULL), -1) : 0;
}

static PyObject *list_append(PyObject *self, PyObject *value)
{
	mps_var_t v = mps_none();
	PyObject *keep;
	if (mpy_to_var(value, mpy_seg_of(self), 0, &v, &keep) < 0)
		return NULL;
	int e;
	Py_BEGIN_ALLOW_THREADS
	e = mps_list_append(MPY_OBJ(self), &v);
	Py_END_ALLOW_THREADS
	Py_XDECREF(keep);
	return e ? mpy_fail(e, NULL) : Py_NewRef(Py_None);
}

static PyObject *list_remove(PyObject *self, PyObject *value)
{
	mps_var_t v = mps_none();
	PyObject *keep;
	if (mpy_to_var(value, mpy_seg_of(self), 0, &v, &keep) < 0)
		return NULL;
	int e;
	Py_BEGIN_ALLOW_THREADS
	e = mps_list_remove(MPY_OBJ(self), &v);
	Py_END_ALLOW_THREADS
	Py_XDECREF(keep);
	if (e == ENOENT) {
		PyErr_SetString(PyExc_ValueError, "list.remove(x): x not in list");
		return NULL;
	}
	return e ? mpy_fail(e, NULL) : Py_NewRef(Py_None);
}

static int list_contains(PyObject *self, PyObject *value)
{
	mps_var_t v = mps_none();
	PyObject *keep;
	if (mpy_to_var(value, mpy_seg_of(self), 0, &v, &keep) < 0)
		return -1;
	int r;
	Py_BEGIN_ALLOW_THREADS
	r = mps_list_contains(MPY_OBJ(self), &v);
	Py_END_ALLOW_THREADS
	Py_XDECREF(keep);
	return r;
}

static PyObject *list_index(PyObject *self, PyObject *value)
{
	mps_var_t v = mps_none();
	PyObject *keep;
	size_t i;
	if (mpy_to_var(value, mpy_seg_of(self), 0, &v, &keep) < 0)
		return NULL;
	int e;
	Py_BEGIN_ALLOW_THREADS
	e = mps_list_index(MPY_OBJ(self), &v, &i);
	Py_END_ALLOW_THREADS
	Py_XDECREF(keep);
	if (e == ENOENT)
		return PyErr_Format(PyExc_ValueError, "%R is not in list", value);
	return e ? mpy_fail(e, NULL) : PyLong_FromSize_t(i);
}

static PyObject *list_count(PyObject *self, PyObject *value)
{
	mps_var_t v = mps_none();
	PyObject *keep;
	if (mpy_to_var(value, mpy_seg_of(self), 0, &v, &keep) < 0)
		return NULL;
	size_t n;
	Py_BEGIN_ALLOW_THREADS
	n = mps_list_count(MPY_OBJ(self), &v);
	Py_END_ALLOW_THREADS
	Py_XDECREF(keep);
	return PyLong_FromSize_t(n);
}

static PyObject *list_insert(PyObject *self, PyObject *args)
{
	Py_ssize_t i;
	PyObject *value, *keep;
	mps_var_t v = mps_none();
	if (!PyArg_ParseTuple(args, "nO:insert", &i, &value) ||
	    mpy_to_var(value, mpy_seg_of(self), 0, &v, &keep) < 0)
		return NULL;
	int e;
	Py_BEGIN_ALLOW_THREADS
	e = mps_list_insert(MPY_OBJ(self), i, &v);
	Py_END_ALLOW_THREADS
	Py_XDECREF(keep);
	return e ? mpy_fail(e, NULL) : Py_NewRef(Py_None);
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
	    mpy_seg_of(iterable)->seg == mpy_seg_of(self)->seg) {
		int e;
		Py_BEGIN_ALLOW_THREADS
		e = mps_list_extend_list(MPY_OBJ(self), MPY_OBJ(iterable));
		Py_END_ALLOW_THREADS
		return e ? mpy_fail(e, NULL) : Py_NewRef(Py_None);
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
			if (mpy_to_var(PyList_GET_ITEM(seq, done), mpy_seg_of(self), 0, &vars[done],
			           &keep[done]) < 0)
				break;
		if (done == n) {
			int e;
			Py_BEGIN_ALLOW_THREADS
			e = mps_list_extend(MPY_OBJ(self), vars, (size_t)n);
			Py_END_ALLOW_THREADS
			r = e ? mpy_fail(e, NULL) : Py_NewRef(Py_None);
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
	int e;
	Py_BEGIN_ALLOW_THREADS
	e = mps_list_repeat(MPY_OBJ(self), n < 0 ? 0 : (size_t)n);
	Py_END_ALLOW_THREADS
	return e ? mpy_fail(e, NULL) : Py_NewRef(self);
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
	int e;
	Py_BEGIN_ALLOW_THREADS
	e = mps_list_reverse(MPY_OBJ(self));
	Py_END_ALLOW_THREADS
	return e ? mpy_fail(e, NULL) : Py_NewRef(Py_None);
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
	if (key == Py_None) {
		int e;
		Py_BEGIN_ALLOW_THREADS
		e = mps_list_sort(MPY_OBJ(self), reverse);
		Py_END_ALLOW_THREADS
		if (e == 0)
			Py_RETURN_NONE;
	}
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
		int e;
		Py_BEGIN_ALLOW_THREADS
		e = mps_list_clear(MPY_OBJ(self));
		Py_END_ALLOW_THREADS
		r = e ? mpy_fail(e, NULL) : list_extend(self, all);
	}
	Py_DECREF(all);
	return r;
}

static PyObject *list_clear(PyObject *self, PyObject *unused)
{
	(void)unused;
	int e;
	Py_BEGIN_ALLOW_THREADS
	e = mps_list_clear(MPY_OBJ(self));
	Py_END_ALLOW_THREADS
	return e ? mpy_fail(e, NULL) : Py_NewRef(Py_None);
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
	int busy = mpy_repr_enter(MPY_OBJ(self));
	if (busy)
		return busy < 0 ? NULL : PyUnicode_FromString("<mpsync.List [...]>");
	PyObject *all = list_snapshot(self);
	PyObject *r = all ? PyUnicode_FromFormat("<mpsync.List %R>", all) : NULL;
	Py_XDECREF(all);
	mpy_repr_leave(MPY_OBJ(self));
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

