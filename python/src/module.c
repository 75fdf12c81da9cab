/* The _mpsync module: types, exceptions, and the hook through which the
 * Python layer supplies the automatic segment of unnamed objects. */
#include <errno.h>
#include <limits.h>

#include "_mpsync.h"

PyObject *Mpy_OwnerDiedWarning;
PyObject *Mpy_ReleaseError;
PyObject *Mpy_NotOwnerError;
PyObject *Mpy_BrokenBarrierError;
PyObject *Mpy_QueueEmpty, *Mpy_QueueFull;
PyObject *Mpy_AutoSegment;
PyObject *Mpy_Dumps, *Mpy_Loads, *Mpy_Protocol;

static PyObject *set_auto_segment(PyObject *m, PyObject *fn)
{
	(void)m;
	if (!PyCallable_Check(fn)) {
		PyErr_SetString(PyExc_TypeError, "a callable is needed");
		return NULL;
	}
	Py_XSETREF(Mpy_AutoSegment, Py_NewRef(fn));
	Py_RETURN_NONE;
}

static PyObject *unlink_segment(PyObject *m, PyObject *arg)
{
	(void)m;
	const char *name = PyUnicode_AsUTF8(arg);
	if (!name)
		return NULL;
	int r = mps_segment_unlink(name);
	return r ? mpy_error(r) : Py_NewRef(Py_None);
}

static PyObject *strerror_(PyObject *m, PyObject *arg)
{
	(void)m;
	long code = PyLong_AsLong(arg);
	if (code == -1 && PyErr_Occurred())
		return NULL;
	if (code < INT_MIN || code > INT_MAX)
		return PyErr_Format(PyExc_OverflowError, "%ld is not a result code", code);
	return PyUnicode_FromString(mps_strerror((int)code));
}

static PyMethodDef module_methods[] = {
	{"_set_auto_segment", set_auto_segment, METH_O,
	 "Set the callable (grow: bool) -> Segment that holds unnamed objects."},
	{"unlink", unlink_segment, METH_O, "Remove a segment's name from /dev/shm."},
	{"strerror", strerror_, METH_O, "The library's name for a result code."},
	{NULL, NULL, 0, NULL}
};

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT, "_mpsync",
	"The C core of mpsync: multiprocessing's primitives and manager objects in "
	"shared memory, on futexes.", -1, module_methods, NULL, NULL, NULL, NULL
};

static PyObject *import_attr(const char *module, const char *name)
{
	PyObject *m = PyImport_ImportModule(module);
	if (!m)
		return NULL;
	PyObject *a = PyObject_GetAttrString(m, name);
	Py_DECREF(m);
	return a;
}

static int add_exceptions(PyObject *m)
{
	Mpy_OwnerDiedWarning = PyErr_NewExceptionWithDoc(
		"mpsync.OwnerDiedWarning",
		"The previous holder of a lock died holding it; the caller now holds it.",
		PyExc_RuntimeWarning, NULL);
	/* multiprocessing raises ValueError and AssertionError where threading
	 * raises RuntimeError: these errors are both. */
	PyObject *b1 = Py_BuildValue("(OO)", PyExc_ValueError, PyExc_RuntimeError);
	PyObject *b2 = Py_BuildValue("(OO)", PyExc_AssertionError, PyExc_RuntimeError);
	Mpy_ReleaseError = b1 ? PyErr_NewExceptionWithDoc(
		"mpsync.ReleaseError", "Released more often than acquired "
		"(a ValueError, as in multiprocessing, and a RuntimeError, as in threading).",
		b1, NULL) : NULL;
	Mpy_NotOwnerError = b2 ? PyErr_NewExceptionWithDoc(
		"mpsync.NotOwnerError", "An RLock released by a thread that does not own it "
		"(an AssertionError, as in multiprocessing, and a RuntimeError, as in threading).",
		b2, NULL) : NULL;
	Py_XDECREF(b1);
	Py_XDECREF(b2);
	Mpy_BrokenBarrierError = import_attr("threading", "BrokenBarrierError");
	Mpy_QueueEmpty = import_attr("queue", "Empty");
	Mpy_QueueFull = import_attr("queue", "Full");
	Mpy_Dumps = import_attr("pickle", "dumps");
	Mpy_Loads = import_attr("pickle", "loads");
	Mpy_Protocol = import_attr("pickle", "HIGHEST_PROTOCOL");
	if (!Mpy_OwnerDiedWarning || !Mpy_ReleaseError || !Mpy_NotOwnerError ||
	    !Mpy_BrokenBarrierError || !Mpy_QueueEmpty || !Mpy_QueueFull ||
	    !Mpy_Dumps || !Mpy_Loads || !Mpy_Protocol)
		return -1;
	if (PyModule_AddObjectRef(m, "OwnerDiedWarning", Mpy_OwnerDiedWarning) < 0 ||
	    PyModule_AddObjectRef(m, "ReleaseError", Mpy_ReleaseError) < 0 ||
	    PyModule_AddObjectRef(m, "NotOwnerError", Mpy_NotOwnerError) < 0 ||
	    PyModule_AddObjectRef(m, "BrokenBarrierError", Mpy_BrokenBarrierError) < 0)
		return -1;
	return 0;
}

static int add_types(PyObject *m)
{
	struct { const char *name; PyTypeObject *tp; } types[] = {
		{"Segment", &Mpy_SegmentType},
		{"Lock", &Mpy_LockType}, {"RLock", &Mpy_RLockType},
		{"Semaphore", &Mpy_SemaphoreType}, {"BoundedSemaphore", &Mpy_BoundedSemaphoreType},
		{"Event", &Mpy_EventType}, {"Condition", &Mpy_ConditionType},
		{"Barrier", &Mpy_BarrierType}, {"Value", &Mpy_ValueType}, {"Array", &Mpy_ArrayType},
		{"Queue", &Mpy_QueueType}, {"JoinableQueue", &Mpy_JoinableQueueType},
		{"Dict", &Mpy_DictType}, {"List", &Mpy_ListType}, {"Namespace", &Mpy_NamespaceType},
	};
	Mpy_BoundedSemaphoreType.tp_base = &Mpy_SemaphoreType;
	Mpy_JoinableQueueType.tp_base = &Mpy_QueueType;
	mpy_barrier_type_init();
	mpy_value_type_init();
	mpy_array_type_init();
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (PyType_Ready(types[i].tp) < 0 ||
		    PyModule_AddObjectRef(m, types[i].name, (PyObject *)types[i].tp) < 0)
			return -1;
	return 0;
}

PyMODINIT_FUNC PyInit__mpsync(void)
{
	PyObject *m = PyModule_Create(&module_def);
	if (!m)
		return NULL;
	if (add_exceptions(m) < 0 || add_types(m) < 0 ||
	    PyModule_AddIntConstant(m, "SEGMENT_MIN_SIZE", MPS_SEG_MIN_SIZE) < 0 ||
	    PyModule_AddIntConstant(m, "OBJECT_NAME_MAX", MPS_OBJ_NAME_MAX) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
