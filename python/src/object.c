/* The common part of every object wrapper: creation in a segment (moving
 * to a new automatic segment when the current one is full), references,
 * pickling (segment name + offset), deallocation. */
#include <errno.h>
#include <string.h>

#include "_mpsync.h"

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

/* Reference counts change under the segment guard, which another process
 * may hold (or have died holding): waited for without the GIL, as every
 * container call is. A count reaching 0 also tears the object down here. */
void mpy_object_release(void *obj)
{
	Py_BEGIN_ALLOW_THREADS
	mps_object_release(obj);
	Py_END_ALLOW_THREADS
}

PyObject *mpy_wrap(PyTypeObject *tp, SegmentObject *seg, void *obj, int retain)
{
	if (!tp) {
		PyErr_SetString(PyExc_TypeError, "not an mpsync object");
		if (!retain)
			mpy_object_release(obj);
		return NULL;
	}
	if (retain) {
		int r;
		Py_BEGIN_ALLOW_THREADS
		r = mps_object_retain(obj);
		Py_END_ALLOW_THREADS
		if (r == ESTALE) {     /* its count had reached 0: being destroyed */
			PyErr_SetString(PyExc_ValueError, "no live object there: its last reference "
			                "was dropped");
			return NULL;
		}
		if (r)
			return mpy_error(r);
	}
	MpsObject *self = (MpsObject *)tp->tp_alloc(tp, 0);
	if (!self) {
		mpy_object_release(obj);
		return NULL;
	}
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
	int r;
	/* fn allocates under the segment guard: no GIL while it may wait. */
	Py_BEGIN_ALLOW_THREADS
	r = fn(seg->seg, name, (enum mps_open_mode)mode, arg, &obj);
	Py_END_ALLOW_THREADS
	if (r == ENOSPC && auto_seg) {
		/* The automatic segment is full: unnamed objects go to a new one. */
		Py_DECREF(seg);
		if (!(seg = mpy_target_segment(NULL, 1)))
			return NULL;
		Py_BEGIN_ALLOW_THREADS
		r = fn(seg->seg, name, (enum mps_open_mode)mode, arg, &obj);
		Py_END_ALLOW_THREADS
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
	if (Py_TYPE(self)->tp_flags & Py_TPFLAGS_HEAPTYPE)   /* a Python subclass */
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
	if (o->obj && o->segment)
		mpy_object_release(o->obj);
	Py_CLEAR(o->segment);
	tp->tp_free(self);
	if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE)
		Py_DECREF(tp);
}

/* Pickles as (segment name, payload offset, serial, extra): unpickling
 * attaches the segment by name (or reuses this process's mapping) and takes
 * a reference to that object, if it still lives (mps_segment_retain_at). */
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
	return Py_BuildValue("N(OnKO)", rebuild, o->segment->name, (Py_ssize_t)off,
	                     (unsigned long long)mps_object_serial(o->obj), extra);
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

void mpy_getset_join(PyGetSetDef *table)
{
	while (table->name)
		table++;
	for (PyGetSetDef *g = mpy_object_getset; g->name; g++)
		*table++ = *g;
}
