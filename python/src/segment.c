/* Segment: a handle on one mpsync segment mapped in this process. Every
 * object wrapper holds a reference to its Segment, so the mapping lasts as
 * long as any object of it is in use here. */
#include <errno.h>
#include <string.h>

#include "_mpsync.h"
#include <structmember.h>

int mpy_parse_mode(PyObject *mode, int *out)
{
	const char *s = mode && mode != Py_None ? PyUnicode_AsUTF8(mode) : "open_or_create";
	if (!s)
		return -1;
	if (!strcmp(s, "open_or_create"))
		*out = MPS_OPEN_OR_CREATE;
	else if (!strcmp(s, "create"))
		*out = MPS_CREATE_ONLY;
	else if (!strcmp(s, "open"))
		*out = MPS_OPEN_ONLY;
	else {
		PyErr_Format(PyExc_ValueError,
		             "mode must be 'open_or_create', 'create' or 'open', not %R", mode);
		return -1;
	}
	return 0;
}

/* What the segment-specific codes mean (segment.h), for the OSError. */
static const char *segment_why(int r)
{
	switch (r) {
	case EPROTO:
		return "not an mpsync segment, or one of another layout version";
	case EBADMSG:
		return "the segment's header is corrupt";
	case EAGAIN:
		return "the segment is still being initialised by its creator";
	case ENOTRECOVERABLE:
		return "the segment's creator died before initialising it (mpsync rm removes it)";
	case EXDEV:
		return "the segment was created in another PID namespace";
	default:
		return NULL;
	}
}

static PyObject *segment_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"name", "size", "mode", NULL};
	const char *name;
	Py_ssize_t size = 1 << 20;
	PyObject *mode_o = NULL;
	int mode, r;
	mps_segment_t *seg = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|nU:Segment", kwlist, &name, &size, &mode_o))
		return NULL;
	if (mpy_parse_mode(mode_o, &mode) < 0)
		return NULL;
	if (size < 0) {
		PyErr_SetString(PyExc_ValueError, "size must not be negative");
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	if (mode == MPS_CREATE_ONLY)
		r = mps_segment_create(name, (size_t)size, &seg);
	else if (mode == MPS_OPEN_ONLY)
		r = mps_segment_open(name, &seg);
	else
		r = mps_segment_open_or_create(name, (size_t)size, &seg);
	Py_END_ALLOW_THREADS
	if (r == EINVAL)
		return PyErr_Format(PyExc_ValueError, "segment '%s': a name is 1 to %d bytes with no "
		                    "'/' after a leading one, and a new segment needs at least %d "
		                    "bytes", name, MPS_SEG_NAME_MAX,
		                    MPS_SEG_MIN_SIZE);
	if (r && segment_why(r))
		return mpy_os_error(r, segment_why(r), name);
	if (r)
		return mpy_error(r);
	SegmentObject *self = (SegmentObject *)tp->tp_alloc(tp, 0);
	if (!self) {
		mps_segment_close(seg);
		return NULL;
	}
	self->seg = seg;
	self->name = PyUnicode_FromString(name[0] == '/' ? name + 1 : name);
	if (!self->name) {
		Py_DECREF(self);
		return NULL;
	}
	return (PyObject *)self;
}

static void segment_dealloc(SegmentObject *self)
{
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	if (self->seg)
		mps_segment_close(self->seg);
	Py_XDECREF(self->name);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Unpickling: the object a pickle names, by offset and serial, looked up
 * and retained in one step (mps_segment_retain_at), so an object destroyed
 * since, or a later one made in its block, is refused. */
static PyObject *segment_object_at(SegmentObject *self, PyObject *args)
{
	unsigned long long off, serial;
	PyObject *extra = Py_None;
	if (!PyArg_ParseTuple(args, "KK|O:_object_at", &off, &serial, &extra))
		return NULL;
	void *obj = NULL;
	enum mps_kind kind = MPS_KIND_NONE;
	int r;
	Py_BEGIN_ALLOW_THREADS
	r = mps_segment_retain_at(self->seg, off, serial, &obj, &kind);
	Py_END_ALLOW_THREADS
	if (r == ENOENT || r == EINVAL) {
		PyErr_Format(PyExc_ValueError, "no live object at offset %llu of segment %U "
		             "(its last reference was dropped)", off, self->name);
		return NULL;
	}
	if (r)
		return mpy_error(r);
	PyTypeObject *tp = mpy_type_of_kind(kind);
	if (tp == &Mpy_ConditionType && !PyObject_TypeCheck(extra, &Mpy_LockType) &&
	    !PyObject_TypeCheck(extra, &Mpy_RLockType)) {
		mpy_object_release(obj);
		PyErr_SetString(PyExc_ValueError, "a Condition is rebuilt with its lock");
		return NULL;
	}
	PyObject *w = mpy_wrap(tp, self, obj, 0);
	if (w && extra != Py_None) {
		Py_INCREF(extra);
		((MpsObject *)w)->extra = extra;
	}
	return w;
}

/* The names are collected without the GIL (the listing takes the segment
 * guard, which another process may hold) into C memory, then made Python
 * objects. */
struct name_kind { char name[MPS_OBJ_NAME_MAX + 1]; enum mps_kind kind; };
struct collect { struct name_kind *at; size_t n, cap; int nomem; };

static int collect_one(const char *name, enum mps_kind kind, void *object, void *arg)
{
	struct collect *c = arg;
	(void)object;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct name_kind *at = PyMem_RawRealloc(c->at, cap * sizeof *at);
		if (!at) {
			c->nomem = 1;
			return 1;
		}
		c->at = at;
		c->cap = cap;
	}
	snprintf(c->at[c->n].name, sizeof c->at[c->n].name, "%s", name);
	c->at[c->n++].kind = kind;
	return 0;
}

static PyObject *segment_names(SegmentObject *self, PyObject *unused)
{
	(void)unused;
	struct collect c = { NULL, 0, 0, 0 };
	int r;
	Py_BEGIN_ALLOW_THREADS
	r = mps_segment_foreach(self->seg, collect_one, &c);
	Py_END_ALLOW_THREADS
	PyObject *list = r || c.nomem ? NULL : PyList_New((Py_ssize_t)c.n);
	for (size_t i = 0; list && i < c.n; i++) {
		PyObject *t = Py_BuildValue("(ss)", c.at[i].name, mps_kind_name(c.at[i].kind));
		if (!t)
			Py_CLEAR(list);
		else
			PyList_SET_ITEM(list, (Py_ssize_t)i, t);
	}
	PyMem_RawFree(c.at);
	if (!list && !PyErr_Occurred())
		return r ? mpy_error(r) : PyErr_NoMemory();
	return list;
}

static PyObject *segment_find(SegmentObject *self, PyObject *arg)
{
	const char *name = PyUnicode_AsUTF8(arg);
	void *obj;
	enum mps_kind kind;
	if (!name)
		return NULL;
	int r;
	/* Looked up and retained in one step: another process may drop the
	 * name and its last reference between a lookup and a retain. */
	Py_BEGIN_ALLOW_THREADS
	r = mps_segment_get(self->seg, name, &obj, &kind);
	Py_END_ALLOW_THREADS
	if (r == ENOENT) {
		PyErr_SetObject(PyExc_KeyError, arg);
		return NULL;
	}
	if (r)
		return mpy_error(r);
	PyObject *w = mpy_wrap(mpy_type_of_kind(kind), self, obj, 0);
	if (w && kind == MPS_KIND_CONDITION) {
		/* Its lock, named after it by the Condition constructor. */
		PyObject *lock_name = PyUnicode_FromFormat("%U.lock", arg);
		PyObject *lock = lock_name ? segment_find(self, lock_name) : NULL;
		Py_XDECREF(lock_name);
		if (lock && !PyObject_TypeCheck(lock, &Mpy_LockType) &&
		    !PyObject_TypeCheck(lock, &Mpy_RLockType))
			Py_CLEAR(lock);
		if (!lock) {
			PyErr_Clear();
			PyErr_Format(PyExc_TypeError, "Condition %U has no lock named %U.lock in "
			             "this segment", arg, arg);
			Py_CLEAR(w);
		} else
			((MpsObject *)w)->extra = lock;
	}
	return w;
}

static PyObject *segment_remove(SegmentObject *self, PyObject *arg)
{
	const char *name = PyUnicode_AsUTF8(arg);
	if (!name)
		return NULL;
	int r;
	Py_BEGIN_ALLOW_THREADS
	r = mps_segment_remove(self->seg, name);
	Py_END_ALLOW_THREADS
	if (r == ENOENT) {
		PyErr_SetObject(PyExc_KeyError, arg);
		return NULL;
	}
	return r ? mpy_error(r) : Py_NewRef(Py_None);
}

static PyObject *segment_get_free(SegmentObject *self, void *c)
{
	(void)c;
	return PyLong_FromSize_t(mps_segment_free_bytes(self->seg));
}

static PyObject *segment_get_size(SegmentObject *self, void *c)
{
	(void)c;
	return PyLong_FromSize_t(mps_segment_size(self->seg));
}

static PyObject *segment_repr(SegmentObject *self)
{
	return PyUnicode_FromFormat("<mpsync.Segment %R>", self->name);
}

static PyMethodDef segment_methods[] = {
	{"_object_at", (PyCFunction)segment_object_at, METH_VARARGS,
	 "The object at a payload offset (unpickling)."},
	{"names", (PyCFunction)segment_names, METH_NOARGS, "[(name, kind), ...]"},
	{"find", (PyCFunction)segment_find, METH_O, "The object with this name; KeyError."},
	{"remove", (PyCFunction)segment_remove, METH_O, "Drop a name; KeyError."},
	{NULL, NULL, 0, NULL}
};

static PyMemberDef segment_members[] = {
	{"name", T_OBJECT, offsetof(SegmentObject, name), READONLY, "segment name"},
	{NULL, 0, 0, 0, NULL}
};

static PyGetSetDef segment_getset[] = {
	{"size", (getter)segment_get_size, NULL, "bytes", NULL},
	{"free_bytes", (getter)segment_get_free, NULL, "free heap bytes", NULL},
	{NULL, NULL, NULL, NULL, NULL}
};

PyTypeObject Mpy_SegmentType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mpsync.Segment",
	.tp_basicsize = sizeof(SegmentObject),
	.tp_dealloc = (destructor)segment_dealloc,
	.tp_repr = (reprfunc)segment_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Segment(name, size=1 MiB, mode='open_or_create'): a named mpsync segment, "
	          "mapped until the last object of it in this process is gone.",
	.tp_weaklistoffset = offsetof(SegmentObject, weakreflist),
	.tp_methods = segment_methods,
	.tp_members = segment_members,
	.tp_getset = segment_getset,
	.tp_new = segment_new,
};

