"""mpsync's primitives under multiprocessing's rules where they differ from
threading's (lock_tests covers the shared part), pickling round trips, and
a holder that dies."""
import os
import pickle
import threading
import time
import unittest
import warnings

import mpsync


class TimeoutRules(unittest.TestCase):
    """acquire(block=True, timeout=None): None blocks, negative acts as 0,
    block=False polls once whatever the timeout."""

    def check(self, make, take):
        obj = make()
        take(obj)
        t0 = time.monotonic()
        self.assertFalse(obj.acquire(True, -5))
        self.assertFalse(obj.acquire(timeout=-1))
        self.assertFalse(obj.acquire(False, 10))
        self.assertFalse(obj.acquire(block=False))
        self.assertFalse(obj.acquire(blocking=False))
        self.assertLess(time.monotonic() - t0, 5)
        t0 = time.monotonic()
        self.assertFalse(obj.acquire(timeout=0.2))
        self.assertGreaterEqual(time.monotonic() - t0, 0.12)
        self.assertRaises(ValueError, obj.acquire, True, float("nan"))
        self.assertRaises(TypeError, obj.acquire, True, 1, 2)

    def test_lock(self):
        self.check(mpsync.Lock, lambda l: l.acquire())

    def test_semaphore(self):
        self.check(lambda: mpsync.Semaphore(0), lambda s: None)

    def test_rlock_other_thread(self):
        r = mpsync.RLock()
        r.acquire()
        out = []
        t = threading.Thread(target=lambda: out.append((r.acquire(timeout=-1),
                                                         r.acquire(False, 5))))
        t.start()
        t.join()
        self.assertEqual(out, [(False, False)])

    def test_rlock_at_the_address_of_a_dropped_held_one(self):
        # A held RLock dropped: its block is reused by the next RLock, at the
        # same address, which the thread's held record still names. The new
        # one must really be taken (its word read, not just the record):
        # another thread may not get it.
        for _ in range(3):
            old = mpsync.RLock()
            old.acquire()
            del old
            r = mpsync.RLock()
            self.assertTrue(r.acquire(False))
            self.assertEqual(r._recursion_count(), 1)
            out = []
            t = threading.Thread(target=lambda: out.append(r.acquire(False)))
            t.start()
            t.join()
            self.assertEqual(out, [False])
            r.release()
            self.assertFalse(r._is_owned())

    def test_event_and_condition_negative(self):
        e = mpsync.Event()
        self.assertFalse(e.wait(-1))
        self.assertFalse(e.wait(0))
        c = mpsync.Condition()
        with c:
            self.assertFalse(c.wait(-1))
            self.assertFalse(c.wait_for(lambda: False, timeout=-1))
            self.assertEqual(c.wait_for(lambda: 7, timeout=0), 7)


class Errors(unittest.TestCase):
    def test_lock_release_unlocked_is_valueerror(self):
        l = mpsync.Lock()
        with self.assertRaises(ValueError):
            l.release()
        self.assertTrue(issubclass(mpsync.ReleaseError, RuntimeError))

    def test_rlock_release_by_non_owner_is_assertionerror(self):
        r = mpsync.RLock()
        self.assertRaises(AssertionError, r.release)
        r.acquire()
        err = []
        t = threading.Thread(target=lambda: self._catch(r.release, err))
        t.start()
        t.join()
        self.assertIsInstance(err[0], AssertionError)
        r.release()

    def _catch(self, fn, out):
        try:
            fn()
        except BaseException as e:   # noqa: B902 - the test inspects it
            out.append(e)

    def test_bounded_semaphore(self):
        s = mpsync.BoundedSemaphore(2)
        self.assertRaises(ValueError, s.release)
        s.acquire()
        s.release()
        self.assertEqual(s.get_value(), 2)
        self.assertRaises(ValueError, mpsync.Semaphore, -1)

    def test_semaphore_release_n(self):
        s = mpsync.Semaphore(0)
        s.release(3)
        self.assertEqual(s.get_value(), 3)
        self.assertRaises(ValueError, s.release, 0)
        # Beyond any semaphore's range: an error, not n modulo 2**32 (2**32 + 1
        # used to add 1).
        self.assertRaises(OverflowError, s.release, 2**32 + 1)
        self.assertEqual(s.get_value(), 3)
        b = mpsync.BoundedSemaphore(1)
        b.acquire()
        self.assertRaises(ValueError, b.release, 2**32 + 1)
        self.assertEqual(b.get_value(), 0)

    def test_condition_notify_any_n(self):
        c = mpsync.Condition()
        with c:
            c.notify(2**64)                 # threading accepts any n
            c.notify(-2**64)

    def test_barrier(self):
        self.assertIs(mpsync.BrokenBarrierError, threading.BrokenBarrierError)
        self.assertRaises(ValueError, mpsync.Barrier, 0)
        self.assertRaises(TypeError, mpsync.Barrier, 2, action=5)
        b = mpsync.Barrier(2, timeout=0.1)
        self.assertEqual(b.parties, 2)
        with self.assertRaises(threading.BrokenBarrierError):
            b.wait()
        self.assertTrue(b.broken)
        b.reset()
        self.assertFalse(b.broken)

    def test_barrier_action_exception(self):
        def boom():
            raise KeyError("action")
        b = mpsync.Barrier(1, action=boom)
        with self.assertRaises(KeyError):
            b.wait()
        self.assertTrue(b.broken)

    def test_condition_needs_mpsync_lock(self):
        self.assertRaises(TypeError, mpsync.Condition, threading.RLock())
        c = mpsync.Condition(mpsync.Lock())
        self.assertRaises(RuntimeError, c.notify)
        self.assertRaises(RuntimeError, c.notify_all)
        self.assertRaises(RuntimeError, c.wait, 0)

    def test_condition_notify_n(self):
        c = mpsync.Condition()
        woken = []
        ready = threading.Semaphore(0)

        def waiter():
            with c:
                ready.release()
                if c.wait(10):
                    woken.append(1)
        ts = [threading.Thread(target=waiter) for _ in range(5)]
        for t in ts:
            t.start()
        for _ in ts:
            ready.acquire()
        # every waiter is inside wait() once it can no longer hold the lock
        while True:
            with c:
                if repr(c).endswith(", 5)>"):
                    break
            time.sleep(0.001)
        with c:
            c.notify(2)
            # exactly two left the waiting set; three are still waiting
            self.assertTrue(repr(c).endswith(", 3)>"), repr(c))
        deadline = time.monotonic() + 30
        while len(woken) < 2 and time.monotonic() < deadline:
            time.sleep(0.001)
        self.assertEqual(len(woken), 2)
        with c:
            c.notify_all()
        for t in ts:
            t.join()
        self.assertEqual(len(woken), 5)


class Pickling(unittest.TestCase):
    def test_a_dropped_object_is_not_revived_as_its_successor(self):
        # The pickle names one object: once it is destroyed, a new object
        # made in the same block (same kind, same offset) is another one,
        # and loading the old pickle must say so, not hand out the new one.
        for make in (mpsync.Lock, mpsync.Event, lambda: mpsync.Value("i", 1)):
            with self.subTest(make=make):
                old = make()
                data, offset = pickle.dumps(old), old._offset
                del old
                new = make()
                self.assertEqual(new._offset, offset)   # the case of this test
                with self.assertRaisesRegex(ValueError, "no live object"):
                    pickle.loads(data)
                self.assertEqual(pickle.loads(pickle.dumps(new))._offset, offset)

    def test_round_trip_shares_state(self):
        for make in (mpsync.Lock, mpsync.RLock, mpsync.Semaphore, mpsync.BoundedSemaphore,
                     mpsync.Event, mpsync.Condition, lambda: mpsync.Barrier(2)):
            obj = make()
            copy = pickle.loads(pickle.dumps(obj))
            self.assertIs(type(copy), type(obj))
            self.assertEqual(copy._offset, obj._offset)
            self.assertEqual(copy._segment.name, obj._segment.name)

    def test_lock_state_visible_through_copy(self):
        l = mpsync.Lock()
        c = pickle.loads(pickle.dumps(l))
        l.acquire()
        self.assertFalse(c.acquire(False))
        c.release()
        self.assertTrue(l.acquire(False))

    def test_condition_keeps_its_lock(self):
        lock = mpsync.Lock()
        orig = mpsync.Condition(lock)      # the pickle names it: keep it alive
        c = pickle.loads(pickle.dumps(orig))
        self.assertEqual(c._lock._offset, lock._offset)
        with c:
            self.assertTrue(lock.locked())

    def test_barrier_keeps_action(self):
        orig = mpsync.Barrier(1, action=_action, timeout=3)
        b = pickle.loads(pickle.dumps(orig))
        _calls.clear()
        b.wait()
        self.assertEqual(_calls, [1])

    def test_named_object_in_segment(self):
        name = "mpsync-test-named-%d" % os.getpid()
        seg = mpsync.Segment(name, 1 << 16, mode="create")
        try:
            e = mpsync.Event(segment=seg, name="ready")
            same = mpsync.Event(segment=seg, name="ready", mode="open")
            e.set()
            self.assertTrue(same.is_set())
            self.assertEqual(seg.names(), [("ready", "Event")])
            self.assertRaises(FileExistsError, mpsync.Event, segment=seg, name="ready",
                              mode="create")
            self.assertRaises(TypeError, mpsync.Lock, segment=seg, name="ready")
            self.assertRaises(FileNotFoundError, mpsync.Lock, segment=seg, name="x",
                              mode="open")
            self.assertIsInstance(seg.find("ready"), mpsync.Event)
        finally:
            mpsync.unlink(name)

    def test_released_object_is_not_rebuilt(self):
        l = mpsync.Lock()
        data = pickle.dumps(l)
        del l
        with self.assertRaises(ValueError):
            pickle.loads(data)


_calls = []


def _action():
    _calls.append(1)


class OwnerDied(unittest.TestCase):
    def check(self, make):
        lock = make()
        pid = os.fork()
        if pid == 0:
            lock.acquire()
            os._exit(0)              # dies holding it
        os.waitpid(pid, 0)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            self.assertTrue(lock.acquire(timeout=10))
        self.assertTrue(any(issubclass(x.category, mpsync.OwnerDiedWarning) for x in w))
        lock.release()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            self.assertTrue(lock.acquire(timeout=1))   # no warning the second time
        lock.release()

    def test_lock(self):
        self.check(mpsync.Lock)

    def test_rlock(self):
        self.check(mpsync.RLock)

    def test_warning_as_error_leaves_lock_free(self):
        lock = mpsync.Lock()
        pid = os.fork()
        if pid == 0:
            lock.acquire()
            os._exit(0)
        os.waitpid(pid, 0)
        with warnings.catch_warnings():
            warnings.simplefilter("error", mpsync.OwnerDiedWarning)
            self.assertRaises(mpsync.OwnerDiedWarning, lock.acquire)
        self.assertFalse(lock.locked())


def _switches(native_id):
    """Context switches of one thread of this process so far."""
    total = 0
    with open(f"/proc/self/task/{native_id}/status") as f:
        for line in f:
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


class QuietWaiting(unittest.TestCase):
    """Threads other than the main thread sleep until woken: no slices of
    their own (Python runs handlers in the main thread only), and the
    library's waiters do not poll, except one watcher per lock."""

    WAITERS = 20

    def _check(self, make_wait):
        started = threading.Barrier(self.WAITERS + 1)
        ids = []
        threads = []
        for _ in range(self.WAITERS):
            wait = make_wait()
            def run(wait=wait):
                ids.append(threading.get_native_id())
                started.wait()
                wait()
            threads.append(threading.Thread(target=run))
        for t in threads:
            t.start()
        started.wait()
        time.sleep(0.3)            # every waiter has gone to sleep
        before = {i: _switches(i) for i in ids}
        time.sleep(1.5)
        noisy = [i for i in ids if _switches(i) - before[i] > 5]
        return threads, noisy

    def test_lock(self):
        lock = mpsync.Lock()
        lock.acquire()
        def take_and_give_back():
            self.assertTrue(lock.acquire(timeout=30))
            lock.release()
        threads, noisy = self._check(lambda: take_and_give_back)
        lock.release()
        for t in threads:
            t.join()
        self.assertLessEqual(len(noisy), 1, f"{len(noisy)} of {self.WAITERS} waiters woke "
                             "more than 5 times in 1.5 s")

    def test_semaphore(self):
        sem = mpsync.Semaphore(0)
        threads, noisy = self._check(lambda: (lambda: sem.acquire(timeout=30)))
        sem.release(self.WAITERS)
        for t in threads:
            t.join()
        self.assertEqual(noisy, [])

    def test_event(self):
        ev = mpsync.Event()
        threads, noisy = self._check(lambda: (lambda: ev.wait(30)))
        ev.set()
        for t in threads:
            t.join()
        self.assertEqual(noisy, [])


if __name__ == "__main__":
    unittest.main()
