/* _mpsync: the C core of the mpsync Python package, a thin layer over the
 * mpsync library in the style of Modules/_multiprocessing/semaphore.c.
 *
 * Every Python object here wraps one object of an mpsync segment and holds
 * one reference on it (mps_object_retain/release) plus a reference to the
 * Segment wrapper that keeps the mapping alive. Blocking calls release the
 * GIL; a signal that arrives meanwhile makes them return EINTR, and the
 * wrapper runs the Python signal handlers before retrying with what is left
 * of the timeout, so Ctrl-C interrupts a blocked acquire at once. */
#ifndef MPSYNC_PY_H
#define MPSYNC_PY_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <mpsync.h>

typedef struct {
	PyObject_HEAD
	mps_segment_t *seg;
	PyObject *name;          /* str */
	PyObject *weakreflist;
} SegmentObject;

/* The common head of every wrapper of a segment object. */
typedef struct {
	PyObject_HEAD
	SegmentObject *segment;
	void *obj;               /* payload in this process's mapping */
	PyObject *weakreflist;
	PyObject *extra;         /* Condition: its lock; Barrier: its action */
} MpsObject;

extern PyTypeObject Mpy_SegmentType;
extern PyTypeObject Mpy_LockType, Mpy_RLockType, Mpy_SemaphoreType, Mpy_BoundedSemaphoreType;
extern PyTypeObject Mpy_EventType, Mpy_ConditionType, Mpy_BarrierType;
extern PyTypeObject Mpy_ValueType, Mpy_ArrayType, Mpy_QueueType, Mpy_JoinableQueueType;
extern PyTypeObject Mpy_DictType, Mpy_ListType, Mpy_NamespaceType;

/* Module state kept in globals: one interpreter. */
extern PyObject *Mpy_OwnerDiedWarning;
extern PyObject *Mpy_ReleaseError;      /* ValueError and RuntimeError */
extern PyObject *Mpy_NotOwnerError;     /* AssertionError and RuntimeError */
extern PyObject *Mpy_BrokenBarrierError;
extern PyObject *Mpy_QueueEmpty, *Mpy_QueueFull;
extern PyObject *Mpy_AutoSegment;       /* callable: (grow: bool) -> Segment */
extern PyObject *Mpy_Dumps, *Mpy_Loads, *Mpy_Protocol;   /* pickle */

/* Errors: sets the Python exception for a library code; returns NULL. */
PyObject *mpy_error(int code);
/* OSError(code, msg, filename): filename may be NULL. Returns NULL. */
PyObject *mpy_os_error(int code, const char *msg, const char *filename);
/* The raised exception as one object, and back (3.12's API, or Fetch). */
PyObject *mpy_take_exception(void);
void mpy_give_exception(PyObject *exc);
/* EOWNERDEAD: warns OwnerDiedWarning; -1 if the warning was made an error. */
int mpy_owner_died(void);

/* Timeouts. mp rules: block False polls once; timeout None blocks; a
 * negative timeout acts as 0. Returns -1 with an exception set. */
int mpy_timeout(PyObject *block, PyObject *timeout, double *out);
int mpy_timeout_only(PyObject *timeout, double *out);

/* Runs fn with the GIL released, interruptible; EINTR runs the signal
 * handlers and retries with the remaining time. Returns the library code,
 * or -1 with an exception set. */
typedef int (*mpy_blocking_fn)(void *obj, double timeout, void *arg);
int mpy_block(mpy_blocking_fn fn, void *obj, double timeout, void *arg);
/* The same, in slices of at most slice seconds (mpy_block: 0.1 s): fn must
 * treat a timed-out slice as nothing happened. INFINITY for a Barrier,
 * whose timeout breaks it, and a Condition, whose waiter would miss a
 * notify between two slices. */
int mpy_block_sliced(mpy_blocking_fn fn, void *obj, double timeout, void *arg, double slice);

/* Arguments. acquire(block=True, timeout=None), threading's "blocking"
 * accepted for block; one optional argument by position or keyword. */
int mpy_parse_acquire(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                      double *timeout);
int mpy_parse_one(const char *fname, const char *kwname, PyObject *const *args,
                  Py_ssize_t nargs, PyObject *kwnames, PyObject **out);
/* wait(timeout=None): the timeout by multiprocessing's rules. */
int mpy_parse_wait(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, double *timeout);
/* The result of an acquire: True; False on timeout; True with a warning
 * when the previous holder died (release undoes it if the warning raised). */
PyObject *mpy_acquired(int r, int (*release)(void *), void *obj);
/* Keyword-only placement arguments of every constructor: segment=None,
 * name=None, mode='open_or_create' (or 'create', 'open'). */
int mpy_parse_mode(PyObject *mode, int *out);
#define MPY_PLACEMENT_KW "segment", "name", "mode"

/* Py_ReprEnter/Py_ReprLeave keyed by the payload (a container holding
 * itself): 1 when obj's repr is already running in this thread. */
int mpy_repr_enter(void *obj);
void mpy_repr_leave(void *obj);

/* Wrapping: a new wrapper of type tp for payload obj of seg. retain: take
 * a new reference on the object (false when the caller's is handed over). */
PyObject *mpy_wrap(PyTypeObject *tp, SegmentObject *seg, void *obj, int retain);
void mpy_object_release(void *obj);
PyTypeObject *mpy_type_of_kind(enum mps_kind kind);
enum mps_kind mpy_kind_of_type(PyTypeObject *tp);
/* The segment an unnamed object goes to: the given one, or the process's
 * automatic one (grow: the current one is full). New reference. */
SegmentObject *mpy_target_segment(PyObject *seg, int grow);
void mpy_object_dealloc(PyObject *self);
int mpy_object_traverse(PyObject *self, visitproc visit, void *arg);
int mpy_object_clear(PyObject *self);
PyObject *mpy_object_reduce(PyObject *self, PyObject *unused);
extern PyGetSetDef mpy_object_getset[];   /* _segment, _offset */
/* Appends mpy_object_getset to a type's own table, which ends with room
 * for it (MPY_GETSET_ROOM null entries). Called once, at module init. */
void mpy_getset_join(PyGetSetDef *table);
#define MPY_GETSET_ROOM {NULL, NULL, NULL, NULL, NULL}, {NULL, NULL, NULL, NULL, NULL}, \
	{NULL, NULL, NULL, NULL, NULL}

/* Creation through a constructor function of the library: the object is
 * made unnamed in the target segment (or named when name is given), moving
 * to a fresh automatic segment when the current one is full. fn runs
 * without the GIL (it may wait for the segment guard): library calls only. */
typedef int (*mpy_create_fn)(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                             void *arg, void **out);
PyObject *mpy_create(PyTypeObject *tp, PyObject *segment, const char *name, int mode,
                     mpy_create_fn fn, void *arg);

/* Values stored in containers (var.c). to_var: keep receives an object
 * that must outlive the use of *v (or NULL); keys are never references. */
int mpy_to_var(PyObject *o, SegmentObject *seg, int is_key, mps_var_t *v, PyObject **keep);
PyObject *mpy_from_var(const mps_var_t *v, SegmentObject *seg);
#define STACK_OUT 512
/* Output buffers for reads: a stack one, then the size the library asks. */
struct mpy_outs {
	char stack[2][STACK_OUT];
	char *heap[2];
	mps_out_t out[2];
};
void mpy_outs_init(struct mpy_outs *o);
int mpy_outs_fit(struct mpy_outs *o, const mps_var_t *a, const mps_var_t *b);
void mpy_outs_free(struct mpy_outs *o);
SegmentObject *mpy_seg_of(PyObject *self);
/* A container result as a Python exception; key for KeyError (NULL: the
 * list's ValueError). Returns NULL. */
PyObject *mpy_fail(int r, PyObject *key);
/* Constructor of a container: segment/name/mode taken out of kw, the rest
 * (positional and keyword content) handed back in rest_args/rest_kw. */
int mpy_factory_new(PyTypeObject *tp, PyObject *args, PyObject *kw, mpy_create_fn fn,
                    PyObject **self, PyObject **rest_args, PyObject **rest_kw);
/* Value and Array (cells.c): elements by typecode, the lock argument, and
 * the synchronized wrapper's lock methods shared by both types. */
int mpy_pack(char tc, PyObject *o, void *buf);
PyObject *mpy_unpack(char tc, const void *buf);
int mpy_typecode_of(PyObject *o, char *out);
int mpy_sync_of(PyObject *lock, enum mps_sync *sync, void **lockp, PyObject **segment);
PyObject *mpy_cells_acquire(MpsObject *self, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames);
PyObject *mpy_cells_enter(MpsObject *self, PyObject *unused);
PyObject *mpy_cells_release(MpsObject *self, PyObject *unused);
PyObject *mpy_cells_exit(MpsObject *self, PyObject *args);
PyObject *mpy_cells_get_lock(MpsObject *self, PyObject *unused);
PyObject *mpy_cells_repr(PyObject *self, char tc, PyObject *contents);
/* Around a library call that takes the cell's lock (no Python API in
 * between): takes an RLock first, or releases the GIL for a given Lock.
 * hold returns -1 with an exception set. */
struct mpy_hold { int taken; PyThreadState *ts; };
int mpy_cells_hold(MpsObject *self, struct mpy_hold *h);
void mpy_cells_unhold(MpsObject *self, struct mpy_hold *h);
/* The synchronized wrapper's entries of both method tables. */
#define MPY_CELLS_METHODS \
	{"get_lock", (PyCFunction)mpy_cells_get_lock, METH_NOARGS, NULL}, \
	{"acquire", FAST(mpy_cells_acquire), FASTKW, NULL}, \
	{"release", (PyCFunction)mpy_cells_release, METH_NOARGS, NULL}, \
	{"__enter__", (PyCFunction)mpy_cells_enter, METH_NOARGS, NULL}, \
	{"__exit__", (PyCFunction)mpy_cells_exit, METH_VARARGS, NULL}, \
	{"__reduce__", mpy_object_reduce, METH_NOARGS, NULL}
PyObject *mpy_typecode_str(char tc);

#define MPY_OBJECT_TYPE_FIELDS \
	.tp_basicsize = sizeof(MpsObject), \
	.tp_dealloc = mpy_object_dealloc, \
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, \
	.tp_traverse = mpy_object_traverse, \
	.tp_clear = mpy_object_clear, \
	.tp_weaklistoffset = offsetof(MpsObject, weakreflist), \
	.tp_getset = mpy_object_getset

/* Types whose getters are joined at init (their own + the common ones). */
void mpy_value_type_init(void);
void mpy_array_type_init(void);
void mpy_barrier_type_init(void);

/* A METH_FASTCALL | METH_KEYWORDS entry of a method table. */
#define FASTKW METH_FASTCALL | METH_KEYWORDS
#define FAST(fn) (PyCFunction)(void (*)(void))(fn)

#define MPY_OBJ(self) (((MpsObject *)(self))->obj)
#endif
