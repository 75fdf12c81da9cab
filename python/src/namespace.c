/* Namespace over mps_namespace_t: SyncManager's NamespaceProxy (values:
 * var.c). Names starting with '_' stay on the Python object. */
#include <errno.h>
#include <string.h>

#include "_mpsync.h"

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
	if (mpy_factory_new(tp, args, kw, ns_create, &self, &rest_args, &rest_kw) < 0)
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
	mps_var_t v = mps_none();
	struct mpy_outs o;
	PyObject *r = NULL;
	mpy_outs_init(&o);
	for (;;) {
		int e;
		Py_BEGIN_ALLOW_THREADS
		e = mps_namespace_get(MPY_OBJ(self), name, &v, o.out[0]);
		Py_END_ALLOW_THREADS
		if (e == EMSGSIZE && mpy_outs_fit(&o, &v, NULL) == 0)
			continue;
		if (e == 0)
			r = mpy_from_var(&v, mpy_seg_of(self));
		else if (e == ENOENT || e == EINVAL)
			r = PyObject_GenericGetAttr(self, attr);   /* methods, or AttributeError */
		else if (e != EMSGSIZE)
			mpy_fail(e, NULL);
		break;
	}
	mpy_outs_free(&o);
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
		Py_BEGIN_ALLOW_THREADS
		e = mps_namespace_del(MPY_OBJ(self), name);
		Py_END_ALLOW_THREADS
		if (e == ENOENT) {
			PyErr_SetObject(PyExc_AttributeError, attr);
			return -1;
		}
	} else {
		mps_var_t v = mps_none();
		PyObject *keep;
		if (mpy_to_var(value, mpy_seg_of(self), 0, &v, &keep) < 0)
			return -1;
		Py_BEGIN_ALLOW_THREADS
		e = mps_namespace_set(MPY_OBJ(self), name, &v);
		Py_END_ALLOW_THREADS
		Py_XDECREF(keep);
	}
	return e ? (mpy_fail(e, NULL), -1) : 0;
}

static PyObject *ns_repr(PyObject *self)
{
	char stack[1024];
	size_t cap = sizeof stack;
	char *buf = stack;
	for (;;) {
		int e;
		Py_BEGIN_ALLOW_THREADS
		e = mps_namespace_repr(MPY_OBJ(self), buf, cap);
		Py_END_ALLOW_THREADS
		if (e == ERANGE && cap < (1u << 24)) {
			if (buf != stack)
				PyMem_Free(buf);
			cap *= 4;
			if (!(buf = PyMem_Malloc(cap)))
				return PyErr_NoMemory();
			continue;
		}
		PyObject *r = e ? mpy_fail(e, NULL) : PyUnicode_FromString(buf);
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
