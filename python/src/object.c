/* Segment wrappers and the common part of every object wrapper: creation in
 * a segment, references, pickling (segment name + offset), deallocation. */
#include <errno.h>
#include <string.h>

#include "_mpsync.h"
#include <structmember.h>

/* ---- Segment ---- */

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

const char *mpy_segment_name(SegmentObject *seg)
{
	return PyUnicode_AsUTF8(seg->name);
}

static int segment_check(SegmentObject *self)
{
	if (!self->seg) {
		PyErr_SetString(PyExc_ValueError, "the segment is closed");
		return -1;
	}
	return 0;
}

static PyObject *segment_close(SegmentObject *self, PyObject *unused)
{
	(void)unused;
	/* Objects still wrapped keep the mapping: closing is for the last user. */
	if (self->seg && Py_REFCNT(self) <= 2) {
		mps_segment_close(self->seg);
		self->seg = NULL;
	}
	Py_RETURN_NONE;
}

static PyObject *segment_object_at(SegmentObject *self, PyObject *args)
{
	unsigned long long off;
	PyObject *extra = Py_None;
	if (!PyArg_ParseTuple(args, "K|O:_object_at", &off, &extra) || segment_check(self) < 0)
		return NULL;
	if (off >= mps_segment_size(self->seg) || off % 8) {
		PyErr_SetString(PyExc_ValueError, "no object at this offset");
		return NULL;
	}
	void *obj = (char *)mps_segment_base(self->seg) + off;
	PyTypeObject *tp = mpy_type_of_kind(mps_object_kind(obj));
	if (!tp) {
		PyErr_Format(PyExc_ValueError, "no live object at offset %llu of segment %U "
		             "(its creator released it)", off, self->name);
		return NULL;
	}
	if (tp == &Mpy_ConditionType && !PyObject_TypeCheck(extra, &Mpy_LockType) &&
	    !PyObject_TypeCheck(extra, &Mpy_RLockType)) {
		PyErr_SetString(PyExc_ValueError, "a Condition is rebuilt with its lock");
		return NULL;
	}
	PyObject *w = mpy_wrap(tp, self, obj, 1);
	if (w && extra != Py_None) {
		Py_INCREF(extra);
		((MpsObject *)w)->extra = extra;
	}
	return w;
}

struct collect { PyObject *list; SegmentObject *seg; };

static int collect_one(const char *name, enum mps_kind kind, void *object, void *arg)
{
	struct collect *c = arg;
	(void)object;
	PyObject *t = Py_BuildValue("(ss)", name, mps_kind_name(kind));
	if (!t || PyList_Append(c->list, t) < 0) {
		Py_XDECREF(t);
		return 1;
	}
	Py_DECREF(t);
	return 0;
}

static PyObject *segment_names(SegmentObject *self, PyObject *unused)
{
	(void)unused;
	if (segment_check(self) < 0)
		return NULL;
	struct collect c = { PyList_New(0), self };
	if (!c.list)
		return NULL;
	mps_segment_foreach(self->seg, collect_one, &c);
	if (PyErr_Occurred()) {
		Py_DECREF(c.list);
		return NULL;
	}
	return c.list;
}

static PyObject *segment_find(SegmentObject *self, PyObject *arg)
{
	const char *name = PyUnicode_AsUTF8(arg);
	void *obj;
	enum mps_kind kind;
	if (!name || segment_check(self) < 0)
		return NULL;
	int r = mps_segment_find(self->seg, name, &obj, &kind);
	if (r == ENOENT) {
		PyErr_SetObject(PyExc_KeyError, arg);
		return NULL;
	}
	if (r)
		return mpy_error(r);
	return mpy_wrap(mpy_type_of_kind(kind), self, obj, 1);
}

static PyObject *segment_remove(SegmentObject *self, PyObject *arg)
{
	const char *name = PyUnicode_AsUTF8(arg);
	if (!name || segment_check(self) < 0)
		return NULL;
	int r = mps_segment_remove(self->seg, name);
	if (r == ENOENT) {
		PyErr_SetObject(PyExc_KeyError, arg);
		return NULL;
	}
	return r ? mpy_error(r) : Py_NewRef(Py_None);
}

static PyObject *segment_get_free(SegmentObject *self, void *c)
{
	(void)c;
	if (segment_check(self) < 0)
		return NULL;
	return PyLong_FromSize_t(mps_segment_free_bytes(self->seg));
}

static PyObject *segment_get_size(SegmentObject *self, void *c)
{
	(void)c;
	if (segment_check(self) < 0)
		return NULL;
	return PyLong_FromSize_t(mps_segment_size(self->seg));
}

static PyObject *segment_get_closed(SegmentObject *self, void *c)
{
	(void)c;
	return PyBool_FromLong(self->seg == NULL);
}

static PyObject *segment_repr(SegmentObject *self)
{
	return PyUnicode_FromFormat("<mpsync.Segment %R%s>", self->name,
	                            self->seg ? "" : " closed");
}

static PyMethodDef segment_methods[] = {
	{"close", (PyCFunction)segment_close, METH_NOARGS,
	 "Unmap the segment when no object of it is in use here."},
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
	{"closed", (getter)segment_get_closed, NULL, NULL, NULL},
	{NULL, NULL, NULL, NULL, NULL}
};

PyTypeObject Mpy_SegmentType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mpsync.Segment",
	.tp_basicsize = sizeof(SegmentObject),
	.tp_dealloc = (destructor)segment_dealloc,
	.tp_repr = (reprfunc)segment_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Segment(name, size=1 MiB, mode='open_or_create'): a named mpsync segment.",
	.tp_weaklistoffset = offsetof(SegmentObject, weakreflist),
	.tp_methods = segment_methods,
	.tp_members = segment_members,
	.tp_getset = segment_getset,
	.tp_new = segment_new,
};

/* ---- the common wrapper ---- */

static PyTypeObject *const kind_types[MPS_KIND_COUNT] = {
	[MPS_KIND_LOCK] = &Mpy_LockType,
	[MPS_KIND_RLOCK] = &Mpy_RLockType,
	[MPS_KIND_SEMAPHORE] = &Mpy_SemaphoreType,
	[MPS_KIND_BOUNDED_SEMAPHORE] = &Mpy_BoundedSemaphoreType,
	[MPS_KIND_EVENT] = &Mpy_EventType,
	[MPS_KIND_CONDITION] = &Mpy_ConditionType,
	[MPS_KIND_BARRIER] = &Mpy_BarrierType,
	[MPS_KIND_VALUE] = &Mpy_ValueType,
	[MPS_KIND_ARRAY] = &Mpy_ArrayType,
	[MPS_KIND_QUEUE] = &Mpy_QueueType,
	[MPS_KIND_JOINABLE_QUEUE] = &Mpy_JoinableQueueType,
	[MPS_KIND_DICT] = &Mpy_DictType,
	[MPS_KIND_LIST] = &Mpy_ListType,
	[MPS_KIND_NAMESPACE] = &Mpy_NamespaceType,
};

PyTypeObject *mpy_type_of_kind(enum mps_kind kind)
{
	return (unsigned)kind < MPS_KIND_COUNT ? kind_types[kind] : NULL;
}

enum mps_kind mpy_kind_of_type(PyTypeObject *tp)
{
	for (int k = 1; k < MPS_KIND_COUNT; k++)
		if (kind_types[k] && PyType_IsSubtype(tp, kind_types[k]))
			return (enum mps_kind)k;
	return MPS_KIND_NONE;
}

PyObject *mpy_wrap(PyTypeObject *tp, SegmentObject *seg, void *obj, int retain)
{
	if (!tp) {
		PyErr_SetString(PyExc_TypeError, "not an mpsync object");
		return NULL;
	}
	MpsObject *self = (MpsObject *)tp->tp_alloc(tp, 0);
	if (!self) {
		if (!retain)
			mps_object_release(obj);
		return NULL;
	}
	if (retain)
		mps_object_retain(obj);
	Py_INCREF(seg);
	self->segment = seg;
	self->obj = obj;
	return (PyObject *)self;
}

SegmentObject *mpy_target_segment(PyObject *seg, int grow)
{
	if (seg && seg != Py_None) {
		if (!PyObject_TypeCheck(seg, &Mpy_SegmentType)) {
			PyErr_SetString(PyExc_TypeError, "segment must be an mpsync.Segment");
			return NULL;
		}
		if (segment_check((SegmentObject *)seg) < 0)
			return NULL;
		return (SegmentObject *)Py_NewRef(seg);
	}
	if (!Mpy_AutoSegment) {
		PyErr_SetString(PyExc_RuntimeError, "mpsync: no automatic segment provider");
		return NULL;
	}
	PyObject *r = PyObject_CallOneArg(Mpy_AutoSegment, grow ? Py_True : Py_False);
	if (r && !PyObject_TypeCheck(r, &Mpy_SegmentType)) {
		Py_DECREF(r);
		PyErr_SetString(PyExc_TypeError, "the automatic segment provider gave no Segment");
		return NULL;
	}
	return (SegmentObject *)r;
}

PyObject *mpy_create(PyTypeObject *tp, PyObject *segment, const char *name, int mode,
                     mpy_create_fn fn, void *arg)
{
	int auto_seg = !segment || segment == Py_None;
	SegmentObject *seg = mpy_target_segment(segment, 0);
	if (!seg)
		return NULL;
	void *obj = NULL;
	int r = fn(seg->seg, name, (enum mps_open_mode)mode, arg, &obj);
	if (r == ENOSPC && auto_seg) {
		/* The automatic segment is full: unnamed objects go to a new one. */
		Py_DECREF(seg);
		if (!(seg = mpy_target_segment(NULL, 1)))
			return NULL;
		r = fn(seg->seg, name, (enum mps_open_mode)mode, arg, &obj);
	}
	if (r) {
		if (r == EPROTOTYPE)
			PyErr_Format(PyExc_TypeError, "%s exists in segment %U as another kind",
			             name, seg->name);
		else
			mpy_error(r);
		Py_DECREF(seg);
		return NULL;
	}
	/* An unnamed object's reference is ours; a named one is the name's. */
	PyObject *w = mpy_wrap(tp, seg, obj, name != NULL);
	Py_DECREF(seg);
	return w;
}

int mpy_object_traverse(PyObject *self, visitproc visit, void *arg)
{
	MpsObject *o = (MpsObject *)self;
	Py_VISIT(o->extra);
	Py_VISIT(Py_TYPE(self));
	return 0;
}

int mpy_object_clear(PyObject *self)
{
	Py_CLEAR(((MpsObject *)self)->extra);
	return 0;
}

void mpy_object_dealloc(PyObject *self)
{
	MpsObject *o = (MpsObject *)self;
	PyTypeObject *tp = Py_TYPE(self);
	PyObject_GC_UnTrack(self);
	if (o->weakreflist)
		PyObject_ClearWeakRefs(self);
	Py_CLEAR(o->extra);
	if (o->obj && o->segment && o->segment->seg)
		mps_object_release(o->obj);
	Py_CLEAR(o->segment);
	tp->tp_free(self);
	if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE)
		Py_DECREF(tp);
}

/* Pickles as (segment name, payload offset, extra): unpickling attaches the
 * segment by name (or reuses this process's mapping) and takes a reference. */
PyObject *mpy_object_reduce(PyObject *self, PyObject *unused)
{
	(void)unused;
	MpsObject *o = (MpsObject *)self;
	PyObject *mod = PyImport_ImportModule("mpsync");
	if (!mod)
		return NULL;
	PyObject *rebuild = PyObject_GetAttrString(mod, "_rebuild");
	Py_DECREF(mod);
	if (!rebuild)
		return NULL;
	size_t off = (size_t)((char *)o->obj - (char *)mps_segment_base(o->segment->seg));
	/* A Namespace's extra is its own __dict__ ('_' names): not shared. */
	PyObject *extra = o->extra && !PyObject_TypeCheck(self, &Mpy_NamespaceType) ? o->extra
	                                                                           : Py_None;
	return Py_BuildValue("N(OnO)", rebuild, o->segment->name, (Py_ssize_t)off, extra);
}

static PyObject *object_get_segment(PyObject *self, void *c)
{
	(void)c;
	return Py_NewRef((PyObject *)((MpsObject *)self)->segment);
}

static PyObject *object_get_offset(PyObject *self, void *c)
{
	(void)c;
	MpsObject *o = (MpsObject *)self;
	return PyLong_FromSize_t((size_t)((char *)o->obj - (char *)mps_segment_base(o->segment->seg)));
}

PyGetSetDef mpy_object_getset[] = {
	{"_segment", object_get_segment, NULL, "the Segment holding this object", NULL},
	{"_offset", object_get_offset, NULL, "offset of this object in its segment", NULL},
	{NULL, NULL, NULL, NULL, NULL}
};
