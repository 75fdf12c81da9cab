"""CPython's own Lib/test/lock_tests.py classes against mpsync's primitives,
subclassed exactly as Lib/test/test_threading.py does for threading's.

The test package is the interpreter's own (Debian: libpython3.11-testsuite).
Tests that check threading-only rules or internals are skipped, each with
its reason; the same behaviour is checked against multiprocessing's rules
in test_primitives.py where it differs."""
import sys
import unittest

try:
    from test import lock_tests
except ImportError:                      # pragma: no cover
    lock_tests = None

import mpsync

if lock_tests is None:
    raise unittest.SkipTest("the interpreter's test package (Lib/test/lock_tests.py; "
                            "Debian: libpython3.11-testsuite) is not installed")

MP_TIMEOUT = ("multiprocessing's timeout rules, not threading's: timeout=None blocks, a "
              "negative timeout acts as 0 (threading: -1 blocks, other negatives raise "
              "ValueError, over TIMEOUT_MAX raise OverflowError); test_primitives covers them")


def skip(reason):
    return unittest.skip(reason)


class LockTests(lock_tests.LockTests):
    locktype = staticmethod(mpsync.Lock)

    test_timeout = skip(MP_TIMEOUT)(lock_tests.LockTests.test_timeout)


class RLockTests(lock_tests.RLockTests):
    locktype = staticmethod(mpsync.RLock)

    test_timeout = skip(MP_TIMEOUT)(lock_tests.RLockTests.test_timeout)


class EventTests(lock_tests.EventTests):
    eventtype = staticmethod(mpsync.Event)

    test_at_fork_reinit = skip(
        "threading.Event internals: it checks evt._cond, the Condition inside "
        "threading.Event; mpsync.Event is one futex word with no Condition, and a "
        "shared Event must not be reset by a fork")(lock_tests.EventTests.test_at_fork_reinit)


class ConditionAsRLockTests(lock_tests.RLockTests):
    # Condition uses an RLock by default and exports its API.
    locktype = staticmethod(mpsync.Condition)

    test_timeout = skip(MP_TIMEOUT)(lock_tests.RLockTests.test_timeout)


class ConditionTests(lock_tests.ConditionTests):
    condtype = staticmethod(mpsync.Condition)

    test_acquire = skip(
        "passes a threading.Lock, which no other process can see; mpsync.Condition "
        "takes an mpsync Lock or RLock (test_acquire_mpsync_lock runs the same steps "
        "with mpsync.Lock)")(lock_tests.ConditionTests.test_acquire)

    def test_acquire_mpsync_lock(self):
        # lock_tests.ConditionTests.test_acquire with the lock an mpsync.Lock.
        cond = self.condtype()
        cond.acquire()
        cond.acquire()
        cond.release()
        cond.release()
        lock = mpsync.Lock()
        cond = self.condtype(lock)
        cond.acquire()
        self.assertFalse(lock.acquire(False))
        cond.release()
        self.assertTrue(lock.acquire(False))
        self.assertFalse(cond.acquire(False))
        lock.release()
        with cond:
            self.assertFalse(lock.acquire(False))

    def test_threading_lock_refused(self):
        import threading
        self.assertRaises(TypeError, self.condtype, threading.Lock())


MP_NONBLOCKING = ("multiprocessing's rule: acquire(False, timeout=1.0) polls once and ignores "
                  "the timeout (threading raises ValueError); the rest of this test's steps "
                  "run in test_primitives.SemaphoreTests.test_acquire_timeout")


class SemaphoreTests(lock_tests.SemaphoreTests):
    semtype = staticmethod(mpsync.Semaphore)

    test_acquire_timeout = skip(MP_NONBLOCKING)(lock_tests.SemaphoreTests.test_acquire_timeout)


class BoundedSemaphoreTests(lock_tests.BoundedSemaphoreTests):
    semtype = staticmethod(mpsync.BoundedSemaphore)

    test_acquire_timeout = skip(MP_NONBLOCKING)(
        lock_tests.BoundedSemaphoreTests.test_acquire_timeout)


class BarrierTests(lock_tests.BarrierTests):
    barriertype = staticmethod(mpsync.Barrier)


if __name__ == "__main__":
    unittest.main()
