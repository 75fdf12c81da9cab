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
                      Barrier, Segment, OwnerDiedWarning, ReleaseError, NotOwnerError,
                      BrokenBarrierError, unlink)

__all__ = ["Lock", "RLock", "Semaphore", "BoundedSemaphore", "Condition", "Event",
           "Barrier", "Segment", "Manager", "OwnerDiedWarning", "ReleaseError",
           "NotOwnerError", "BrokenBarrierError", "unlink", "AUTO_PREFIX"]

# Automatic segments are named AUTO_PREFIX + "<pid>-<n>-<random>", so that
# `mpsync list` shows whose they are and `mpsync rm` can remove what a
# crashed process left.
AUTO_PREFIX = "mpsync-auto-"
AUTO_SEGMENT_SIZE = 1 << 20

_segments = weakref.WeakValueDictionary()   # name -> Segment mapped here
_lock = threading.Lock()


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
        if seg is None or seg.closed:
            seg = Segment(name, mode="open")
            _segments[name] = seg
        return seg


def _rebuild(segment_name, offset, extra):
    """Unpickles an object: attach its segment, wrap the object at offset."""
    return _segment(segment_name)._object_at(offset, extra)
