"""mpsync: multiprocessing's synchronization primitives and SyncManager
objects in shared memory, on futexes (the mpsync C library).

Drop-in names: Lock, RLock, Semaphore, BoundedSemaphore, Condition, Event,
Barrier (as multiprocessing's), Manager (SyncManager without a server).
Objects made without a name live in an automatic segment of the creating
process, removed from /dev/shm when that process exits; see docs/python.md.
"""
import os
import pickle
import threading
import weakref
from multiprocessing import util as _mp_util

from . import _mpsync
from ._mpsync import (Lock, RLock, Semaphore, BoundedSemaphore, Condition, Event,
                      Barrier, Value, Array, Queue, JoinableQueue, Dict, List, Namespace,
                      Segment, OwnerDiedWarning, ReleaseError, NotOwnerError,
                      BrokenBarrierError, unlink)

__all__ = ["Lock", "RLock", "Semaphore", "BoundedSemaphore", "Condition", "Event",
           "Barrier", "Value", "Array", "RawValue", "RawArray", "Queue", "JoinableQueue",
           "Dict", "List", "Namespace", "Segment", "Manager", "OwnerDiedWarning", "ReleaseError",
           "NotOwnerError", "BrokenBarrierError", "unlink", "AUTO_PREFIX"]

# Automatic segments are named AUTO_PREFIX + "<pid>-<n>-<random>", so that
# `mpsync list` shows whose they are and `mpsync rm` can remove what a
# crashed process left.
AUTO_PREFIX = "mpsync-auto-"
AUTO_SEGMENT_SIZE = 1 << 20

_segments = weakref.WeakValueDictionary()   # name -> Segment mapped here
_lock = threading.Lock()


def _after_fork_in_child():
    # Another thread may have held _lock at the fork: the child's copy
    # would stay locked forever.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


class _Auto:
    pid = None
    current = None
    names = []


def _unlink_auto(pid, names):
    if os.getpid() != pid:
        return          # a forked child: these belong to its parent
    for name in names:
        try:
            unlink(name)
        except FileNotFoundError:
            pass
    names.clear()


def _auto_segment(grow):
    """The segment of this process's unnamed objects (a new one when grow)."""
    with _lock:
        pid = os.getpid()
        if _Auto.pid != pid:              # first use, or first use after fork
            _Auto.pid, _Auto.current, _Auto.names = pid, None, []
            # exitpriority < 0: runs after multiprocessing joined the
            # children, which may still have to attach by name.
            _mp_util.Finalize(None, _unlink_auto, args=(pid, _Auto.names),
                              exitpriority=-100)
        if _Auto.current is None or grow:
            size = AUTO_SEGMENT_SIZE
            if _Auto.current is not None:
                size = max(size, 2 * _Auto.current.size)
            name = "%s%d-%d-%s" % (AUTO_PREFIX, pid, len(_Auto.names), os.urandom(4).hex())
            seg = Segment(name, size, mode="create")
            _Auto.names.append(name)
            _segments[name] = seg
            _Auto.current = seg
        return _Auto.current


_mpsync._set_auto_segment(_auto_segment)


def _segment(name):
    """This process's mapping of a segment, attaching it when needed."""
    with _lock:
        seg = _segments.get(name)
        if seg is None:
            seg = Segment(name, mode="open")
            _segments[name] = seg
        return seg


def _rebuild(segment_name, offset, serial, extra):
    """Unpickles an object: attach its segment, take the object at offset if
    it is still the one with that serial (ValueError if it was destroyed)."""
    return _segment(segment_name)._object_at(offset, serial, extra)


def RawValue(typecode_or_type, *args, **kw):
    """multiprocessing.RawValue: a Value without a lock."""
    return Value(typecode_or_type, *args, lock=False, **kw)


def RawArray(typecode_or_type, size_or_initializer, **kw):
    """multiprocessing.RawArray: an Array without a lock."""
    return Array(typecode_or_type, size_or_initializer, lock=False, **kw)


class Manager:
    """SyncManager without a server: every object lives in one named segment
    and is used in place by every process that has it.

    Manager(name=None, size=16 MiB) creates the segment (a generated name
    when None; FileExistsError if the name exists) and owns it: shutdown(),
    leaving its with-block, or the end of the creating process removes the
    name from /dev/shm. Manager.attach(name) opens an existing one from any
    process (an unrelated interpreter, a C program) and never removes it.

    Each method takes a keyword-only name=... that creates the object under
    that name in the segment (or returns the existing one), so another
    process finds it with manager[name]. Objects made without a name are
    reached through pickling, through Process arguments, or by being
    stored in a named container.
    """

    DEFAULT_SIZE = 16 << 20

    def __init__(self, name=None, size=DEFAULT_SIZE, *, _attach=False):
        if _attach:
            self._segment = _segment(name)
            self._owner = None
        else:
            if name is None:
                name = "mpsync-manager-%d-%s" % (os.getpid(), os.urandom(4).hex())
            self._segment = Segment(name, size, mode="create")
            with _lock:
                _segments[name] = self._segment
            self._owner = os.getpid()
            self._finalizer = _mp_util.Finalize(self, _unlink_owned,
                                                args=(self._owner, name),
                                                exitpriority=-100)
        self.name = self._segment.name

    @classmethod
    def attach(cls, name):
        """The manager of an existing segment, from any process."""
        return cls(name, _attach=True)

    # SyncManager's life cycle: nothing to start, no server to connect to.
    def start(self, initializer=None, initargs=()):
        if initializer is not None:
            initializer(*initargs)

    def connect(self):
        pass

    def join(self, timeout=None):
        pass

    def shutdown(self):
        """Remove the segment's name (owner only). Objects still used in
        this or other processes stay valid until they are dropped."""
        if self._owner is not None:
            self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()

    @property
    def address(self):
        return self.name

    @property
    def segment(self):
        return self._segment

    def __getitem__(self, name):
        return self._segment.find(name)

    def __contains__(self, name):
        try:
            self._segment.find(name)
        except KeyError:
            return False
        return True

    def __delitem__(self, name):
        self._segment.remove(name)

    def names(self):
        """[(name, kind), ...] of the named objects."""
        return self._segment.names()

    def __repr__(self):
        return "<mpsync.Manager %r>" % self.name

    def _make(self, cls, args, kw):
        return cls(*args, segment=self._segment, **kw)

    def Lock(self, *, name=None):
        return Lock(segment=self._segment, name=name)

    def RLock(self, *, name=None):
        return RLock(segment=self._segment, name=name)

    def Semaphore(self, value=1, *, name=None):
        return Semaphore(value, segment=self._segment, name=name)

    def BoundedSemaphore(self, value=1, *, name=None):
        return BoundedSemaphore(value, segment=self._segment, name=name)

    def Condition(self, lock=None, *, name=None):
        """A named Condition has its own RLock, named "<name>.lock"."""
        if lock is None:
            return Condition(segment=self._segment, name=name)
        return Condition(lock, name=name)

    def Event(self, *, name=None):
        return Event(segment=self._segment, name=name)

    def Barrier(self, parties, action=None, timeout=None, *, name=None):
        return Barrier(parties, action, timeout, segment=self._segment, name=name)

    def Queue(self, maxsize=0, *, name=None, capacity=256 * 1024):
        return Queue(maxsize, capacity=capacity, segment=self._segment, name=name)

    def JoinableQueue(self, maxsize=0, *, name=None, capacity=256 * 1024):
        return JoinableQueue(maxsize, capacity=capacity, segment=self._segment, name=name)

    def Value(self, typecode, value=None, lock=True, *, name=None):
        return Value(typecode, value, lock, segment=self._segment, name=name)

    def Array(self, typecode, sequence, lock=True, *, name=None):
        return Array(typecode, sequence, lock, segment=self._segment, name=name)

    def dict(self, *args, name=None, **kw):
        """SyncManager.dict(*args, **kw); the keyword name is the object's
        name in the segment (use dict({"name": ...}) for such a key)."""
        return Dict(*args, segment=self._segment, name=name, **kw)

    def list(self, sequence=(), *, name=None):
        return List(sequence, segment=self._segment, name=name)

    def Namespace(self, *, name=None, **kw):
        return Namespace(segment=self._segment, name=name, **kw)


def _unlink_owned(pid, name):
    if os.getpid() != pid:
        return
    try:
        unlink(name)
    except FileNotFoundError:
        pass
