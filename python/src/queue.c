/* Queue and JoinableQueue over mps_queue_t: multiprocessing.Queue's and the
 * manager Queue's methods. Items are pickled (highest protocol) into the
 * queue's ring in shared memory: no feeder thread, no pipe; a put is
 * visible to every getter when it returns. A get first copies into a
 * stack buffer and, for a larger item, into one of the size the queue
 * reports (the item stays queued until it fits). */
#include <errno.h>
#include <string.h>

#include "_mpsync.h"

#define QUEUE_DEFAULT_CAPACITY (256 * 1024)
#define GET_STACK 4096

struct queue_args { unsigned maxsize; size_t capacity; int joinable; };

static int queue_create(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                        void *arg, void **out)
{
	struct queue_args *a = arg;
	if (a->joinable)
		return mps_segment_joinable_queue(seg, name, mode, a->maxsize, a->capacity,
		                                  (mps_queue_t **)out);
	return mps_segment_queue(seg, name, mode, a->maxsize, a->capacity, (mps_queue_t **)out);
}

static PyObject *queue_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"maxsize", "capacity", MPY_PLACEMENT_KW, NULL};
	PyObject *segment = NULL, *mode_o = NULL;
	const char *name = NULL;
	long long maxsize = 0;
	Py_ssize_t capacity = QUEUE_DEFAULT_CAPACITY;
	int mode;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|L$nOzO:Queue", kwlist, &maxsize, &capacity,
	                                 &segment, &name, &mode_o) ||
	    mpy_parse_mode(mode_o, &mode) < 0)
		return NULL;
	if (capacity <= 0 || maxsize > UINT32_MAX) {
		PyErr_SetString(PyExc_ValueError, "capacity must be > 0, maxsize < 2**32");
		return NULL;
	}
	struct queue_args a = { maxsize <= 0 ? 0 : (unsigned)maxsize, (size_t)capacity,
	                        PyType_IsSubtype(tp, &Mpy_JoinableQueueType) };
	return mpy_create(tp, segment, name, mode, queue_create, &a);
}

struct put_call { const char *data; size_t len; };

static int put_block(void *obj, double timeout, void *arg)
{
	struct put_call *p = arg;
	return mps_queue_put(obj, p->data, p->len, timeout);
}

static PyObject *queue_put_t(MpsObject *self, PyObject *item, double timeout)
{
	PyObject *data = PyObject_CallFunctionObjArgs(Mpy_Dumps, item, Mpy_Protocol, NULL);
	if (!data)
		return NULL;
	struct put_call p = { PyBytes_AS_STRING(data), (size_t)PyBytes_GET_SIZE(data) };
	int r;
	Py_BEGIN_ALLOW_THREADS
	r = mps_queue_put(self->obj, p.data, p.len, 0);
	Py_END_ALLOW_THREADS
	if (r == ETIMEDOUT && timeout > 0)
		r = mpy_block(put_block, self->obj, timeout, &p);
	Py_DECREF(data);
	switch (r) {
	case 0:
		Py_RETURN_NONE;
	case -1:
		return NULL;
	case ETIMEDOUT:
		PyErr_SetNone(Mpy_QueueFull);
		return NULL;
	case EMSGSIZE:
		return PyErr_Format(PyExc_ValueError, "a pickled item of %zu bytes does not fit "
		                    "this queue (largest item: %zu bytes; see capacity=)", p.len,
		                    mps_queue_max_item(self->obj));
	case ESHUTDOWN:
		PyErr_SetString(PyExc_ValueError, "Queue is shut down");
		return NULL;
	default:
		return mpy_error(r);
	}
}

static PyObject *queue_put(MpsObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
	double timeout = MPS_FOREVER;
	if (nargs < 1) {
		PyErr_SetString(PyExc_TypeError, "put() needs an item");
		return NULL;
	}
	if ((nargs > 1 || kwnames) && mpy_parse_acquire(args + 1, nargs - 1, kwnames, &timeout) < 0)
		return NULL;
	return queue_put_t(self, args[0], timeout);
}

static PyObject *queue_put_nowait(MpsObject *self, PyObject *item)
{
	return queue_put_t(self, item, 0);
}

struct get_call { char *buf; size_t cap, len; };

static int get_block(void *obj, double timeout, void *arg)
{
	struct get_call *g = arg;
	return mps_queue_get(obj, g->buf, g->cap, &g->len, timeout);
}

static PyObject *queue_get_t(MpsObject *self, double timeout)
{
	char stack[GET_STACK];
	struct get_call g = { stack, sizeof stack, 0 };
	PyObject *big = NULL, *item = NULL;
	for (;;) {
		int r;
		Py_BEGIN_ALLOW_THREADS
		r = mps_queue_get(self->obj, g.buf, g.cap, &g.len, 0);
		Py_END_ALLOW_THREADS
		if (r == ETIMEDOUT && timeout > 0)
			r = mpy_block(get_block, self->obj, timeout, &g);
		if (r == EMSGSIZE) {          /* a larger item: a buffer of its size */
			Py_XDECREF(big);
			if (!(big = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)g.len)))
				return NULL;
			g.buf = PyBytes_AS_STRING(big);
			g.cap = g.len;
			continue;
		}
		if (r == 0) {
			PyObject *mv = PyMemoryView_FromMemory(g.buf, (Py_ssize_t)g.len, PyBUF_READ);
			item = mv ? PyObject_CallOneArg(Mpy_Loads, mv) : NULL;
			Py_XDECREF(mv);
		} else if (r == ETIMEDOUT)
			PyErr_SetNone(Mpy_QueueEmpty);
		else if (r == ESHUTDOWN)
			PyErr_SetString(PyExc_ValueError, "Queue is shut down");
		else if (r != -1)
			mpy_error(r);
		Py_XDECREF(big);
		return item;
	}
}

static PyObject *queue_get(MpsObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
	double timeout = MPS_FOREVER;
	if ((nargs || kwnames) && mpy_parse_acquire(args, nargs, kwnames, &timeout) < 0)
		return NULL;
	return queue_get_t(self, timeout);
}

static PyObject *queue_get_nowait(MpsObject *self, PyObject *unused)
{
	(void)unused;
	return queue_get_t(self, 0);
}

static PyObject *queue_qsize(MpsObject *self, PyObject *unused)
{
	(void)unused;
	size_t n;
	Py_BEGIN_ALLOW_THREADS
	n = mps_queue_qsize(self->obj);
	Py_END_ALLOW_THREADS
	return PyLong_FromSize_t(n);
}

static PyObject *queue_empty(MpsObject *self, PyObject *unused)
{
	(void)unused;
	bool empty;
	Py_BEGIN_ALLOW_THREADS
	empty = mps_queue_empty(self->obj);
	Py_END_ALLOW_THREADS
	return PyBool_FromLong(empty);
}

static PyObject *queue_full(MpsObject *self, PyObject *unused)
{
	(void)unused;
	bool full;
	Py_BEGIN_ALLOW_THREADS
	full = mps_queue_full(self->obj);
	Py_END_ALLOW_THREADS
	return PyBool_FromLong(full);
}

/* multiprocessing.Queue's feeder-thread methods: there is no feeder. */
static PyObject *queue_noop(MpsObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	Py_RETURN_NONE;
}

static PyObject *queue_task_done(MpsObject *self, PyObject *unused)
{
	(void)unused;
	int r;
	Py_BEGIN_ALLOW_THREADS
	r = mps_queue_task_done(self->obj);
	Py_END_ALLOW_THREADS
	if (r == EOVERFLOW) {
		PyErr_SetString(PyExc_ValueError, "task_done() called too many times");
		return NULL;
	}
	return r ? mpy_error(r) : Py_NewRef(Py_None);
}

static int join_block(void *obj, double timeout, void *arg)
{
	(void)arg;
	return mps_queue_join(obj, timeout);
}

static PyObject *queue_join(MpsObject *self, PyObject *unused)
{
	(void)unused;
	int r = mpy_block(join_block, self->obj, MPS_FOREVER, NULL);
	if (r == -1)
		return NULL;
	return r ? mpy_error(r) : Py_NewRef(Py_None);
}

static PyObject *queue_repr(MpsObject *self)
{
	size_t n;
	Py_BEGIN_ALLOW_THREADS
	n = mps_queue_qsize(self->obj);
	Py_END_ALLOW_THREADS
	return PyUnicode_FromFormat("<%s maxsize=%u qsize=%zu>", Py_TYPE(self)->tp_name,
	                            mps_queue_maxsize(self->obj), n);
}

#define QUEUE_METHODS \
	{"put", FAST(queue_put), FASTKW, "put(obj, block=True, timeout=None); queue.Full"}, \
	{"get", FAST(queue_get), FASTKW, "get(block=True, timeout=None); queue.Empty"}, \
	{"put_nowait", (PyCFunction)queue_put_nowait, METH_O, NULL}, \
	{"get_nowait", (PyCFunction)queue_get_nowait, METH_NOARGS, NULL}, \
	{"qsize", (PyCFunction)queue_qsize, METH_NOARGS, NULL}, \
	{"empty", (PyCFunction)queue_empty, METH_NOARGS, NULL}, \
	{"full", (PyCFunction)queue_full, METH_NOARGS, NULL}, \
	{"close", (PyCFunction)queue_noop, METH_NOARGS, "No feeder thread: nothing to do."}, \
	{"join_thread", (PyCFunction)queue_noop, METH_NOARGS, NULL}, \
	{"cancel_join_thread", (PyCFunction)queue_noop, METH_NOARGS, NULL}, \
	{"__reduce__", mpy_object_reduce, METH_NOARGS, NULL}

static PyMethodDef queue_methods[] = {
	QUEUE_METHODS,
	{NULL, NULL, 0, NULL}
};

static PyMethodDef joinable_methods[] = {
	QUEUE_METHODS,
	{"task_done", (PyCFunction)queue_task_done, METH_NOARGS, NULL},
	{"join", (PyCFunction)queue_join, METH_NOARGS, NULL},
	{NULL, NULL, 0, NULL}
};

PyTypeObject Mpy_QueueType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mpsync.Queue",
	MPY_OBJECT_TYPE_FIELDS,
	.tp_repr = (reprfunc)queue_repr,
	.tp_doc = "Queue(maxsize=0, *, capacity=256 KiB): multiprocessing.Queue in shared "
	          "memory; capacity bounds the bytes of pickled items it holds.",
	.tp_methods = queue_methods,
	.tp_new = queue_new,
};

PyTypeObject Mpy_JoinableQueueType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mpsync.JoinableQueue",
	MPY_OBJECT_TYPE_FIELDS,
	.tp_repr = (reprfunc)queue_repr,
	.tp_doc = "JoinableQueue(maxsize=0, *, capacity=256 KiB): multiprocessing.JoinableQueue.",
	.tp_methods = joinable_methods,
	.tp_new = queue_new,
};
