"""mpsync.Manager: SyncManager's methods and the proxies' behaviour, objects
shared with other processes (spawned children, and an unrelated interpreter
that attaches by name), and the segment's removal."""
import errno
import multiprocessing as mp
import os
import pickle
import queue
import subprocess
import sys
import textwrap
import threading
import unittest

import mpsync


def shm_exists(name):
    return os.path.exists("/dev/shm/" + name)


class Proxies(unittest.TestCase):
    def setUp(self):
        self.m = mpsync.Manager(size=1 << 20)

    def tearDown(self):
        self.m.shutdown()

    def test_queue(self):
        q = self.m.Queue(2)
        q.put(1)
        q.put_nowait({"x": (1, 2)})
        self.assertTrue(q.full())
        self.assertRaises(queue.Full, q.put, 3, timeout=0.05)
        self.assertRaises(queue.Full, q.put_nowait, 3)
        self.assertEqual(q.qsize(), 2)
        self.assertEqual(q.get(), 1)
        self.assertEqual(q.get(timeout=1), {"x": (1, 2)})
        self.assertTrue(q.empty())
        self.assertRaises(queue.Empty, q.get, False)
        self.assertRaises(queue.Empty, q.get, timeout=0.05)
        self.assertRaises(queue.Empty, q.get_nowait)
        big = os.urandom(50000)              # larger than get's first buffer
        q.put(big)
        self.assertEqual(q.get(), big)

    def test_joinable_queue(self):
        q = self.m.JoinableQueue()
        for i in range(3):
            q.put(i)
        done = []

        def worker():
            for _ in range(3):
                done.append(q.get())
                q.task_done()
        t = threading.Thread(target=worker)
        t.start()
        q.join()
        t.join()
        self.assertEqual(done, [0, 1, 2])
        self.assertRaises(ValueError, q.task_done)

    def test_dict(self):
        d = self.m.dict({"a": 1}, b=2)
        d["c"] = "three"
        d[4] = 4.5
        d[b"k"] = None
        d["obj"] = {"plain": [1, 2]}          # not native: pickled copy
        self.assertEqual(len(d), 6)
        self.assertEqual(d["a"], 1)
        self.assertEqual(d["obj"], {"plain": [1, 2]})
        self.assertRaises(KeyError, d.__getitem__, "missing")
        self.assertIn("c", d)
        self.assertNotIn("zz", d)
        self.assertEqual(list(d), ["a", "b", "c", 4, b"k", "obj"])
        self.assertEqual(d.keys(), ["a", "b", "c", 4, b"k", "obj"])
        self.assertEqual(d.get("zz", 7), 7)
        self.assertEqual(d.pop("a"), 1)
        self.assertEqual(d.setdefault("n", 5), 5)
        self.assertEqual(d.popitem(), ("n", 5))
        d.update({"u": 1}, v=2)
        del d["u"]
        self.assertEqual(d.copy(), {"b": 2, "c": "three", 4: 4.5, b"k": None,
                                    "obj": {"plain": [1, 2]}, "v": 2})
        d.clear()
        self.assertEqual(len(d), 0)
        self.assertRaises(KeyError, d.popitem)

    def test_values_larger_than_the_first_read_buffer(self):
        d, l, ns = self.m.dict(), self.m.list(), self.m.Namespace()
        big_key, big_value = "k" * 1000, "v" * 5000
        d[big_key] = big_value
        d["b"] = b"x" * 3000
        self.assertEqual(d.items(), [(big_key, big_value), ("b", b"x" * 3000)])
        self.assertEqual(d.popitem(), ("b", b"x" * 3000))
        self.assertEqual(d.pop(big_key), big_value)
        l.append("y" * 9000)
        self.assertEqual(l[0], "y" * 9000)
        self.assertEqual(l.pop(), "y" * 9000)
        ns.a = ("z" * 7000,)                 # pickled, and large
        self.assertEqual(ns.a, ("z" * 7000,))

    def test_list(self):
        l = self.m.list([1, 2])
        l.append("x")
        l.extend([3.5, None])
        l += [b"y"]
        self.assertEqual(len(l), 6)
        self.assertEqual(l[0], 1)
        self.assertEqual(l[-1], b"y")
        self.assertEqual(l[1:3], [2, "x"])
        l[0] = 10
        del l[1]
        self.assertEqual(list(l), [10, "x", 3.5, None, b"y"])
        self.assertEqual(l.index("x"), 1)
        self.assertEqual(l.count(10), 1)
        l.insert(0, 0)
        self.assertEqual(l.pop(), b"y")
        l.remove(None)
        self.assertRaises(ValueError, l.remove, "nope")
        self.assertRaises(IndexError, l.__getitem__, 99)
        self.assertEqual(list(reversed(l)), [3.5, "x", 10, 0])
        self.assertEqual(l + [1], [0, 10, "x", 3.5, 1])
        n = self.m.list([3, 1, 2])
        n.sort()
        self.assertEqual(list(n), [1, 2, 3])
        n.sort(reverse=True)
        self.assertEqual(list(n), [3, 2, 1])

    def test_nesting_shares(self):
        d = self.m.dict()
        inner = self.m.list()
        d["inner"] = inner
        inner.append(1)
        d["inner"].append(2)                 # through the dict: the same list
        self.assertEqual(list(inner), [1, 2])
        sub = self.m.dict()
        d["sub"] = sub
        d["sub"]["k"] = "v"
        self.assertEqual(sub["k"], "v")
        del inner, sub
        self.assertEqual(list(d["inner"]), [1, 2])   # the dict keeps them alive

    def test_str_with_lone_surrogates(self):
        # No UTF-8 for them: stored pickled, as SyncManager's pickles carry
        # them (was UnicodeEncodeError).
        d, lst, ns = self.m.dict(), self.m.list(), self.m.Namespace()
        s = "a\ud800b"
        d[s] = s
        lst.append(s)
        ns.x = s
        self.assertEqual((d[s], lst[0], ns.x, list(d)), (s, s, s, [s]))

    def test_unhashable_key_is_refused(self):
        d = self.m.dict()
        for key in ([1], {}, self.m.dict().copy()):
            self.assertRaises(TypeError, d.__setitem__, key, 1)
        self.assertRaises(TypeError, d.get, [1])
        self.assertEqual(len(d), 0)

    def test_repr_of_a_container_that_holds_itself(self):
        lst, d = self.m.list([1]), self.m.dict(a=1)
        lst.append(lst)
        d["me"] = d
        self.assertEqual(repr(lst), "<mpsync.List [1, <mpsync.List [...]>]>")
        self.assertEqual(repr(d), "<mpsync.Dict {'a': 1, 'me': <mpsync.Dict {...}>}>")
        self.assertEqual(repr(lst), "<mpsync.List [1, <mpsync.List [...]>]>")   # left clean

    def test_namespace(self):
        ns = self.m.Namespace(a=1)
        ns.b = "two"
        self.assertEqual((ns.a, ns.b), (1, "two"))
        self.assertRaises(AttributeError, getattr, ns, "c")
        del ns.a
        self.assertRaises(AttributeError, getattr, ns, "a")
        ns._local = 5                        # '_' names stay on this object
        copy = pickle.loads(pickle.dumps(ns))
        self.assertEqual(copy.b, "two")
        self.assertFalse(hasattr(copy, "_local"))
        self.assertEqual(repr(ns), "Namespace(b='two')")

    def test_value_and_array(self):
        v = self.m.Value("i", 5)
        v.value += 1
        self.assertEqual(v.get(), 6)
        v.set(7)
        self.assertEqual(v.value, 7)
        with v.get_lock():
            v.value += 1
        self.assertEqual(v.value, 8)
        a = self.m.Array("d", [1.0, 2.0, 3.0])
        a[0] = 9
        self.assertEqual(a[:], [9.0, 2.0, 3.0])
        self.assertEqual(len(a), 3)
        self.assertRaises(OverflowError, self.m.Value, "b", 1000)

    def test_array_slice_assignment_as_ctypes(self):
        # Extended slices and bytes into a char array, as multiprocessing's
        # Array takes them (both used to raise).
        for lock in (True, False, self.m.Lock(), self.m.RLock()):
            a = self.m.Array("i", range(6), lock=lock)
            a[::2] = [9, 8, 7]
            a[5:0:-2] = [1, 2, 3]
            self.assertEqual(a[:], [9, 3, 8, 2, 7, 1])
            self.assertRaises(ValueError, a.__setitem__, slice(None, None, 2), [1])
        c = self.m.Array("c", b"abcd")
        c[0:2] = b"xy"
        c[1::2] = b"pq"
        self.assertEqual(c[:], b"xpcq")

    def test_primitives(self):
        for make in (self.m.Lock, self.m.RLock, self.m.Semaphore, self.m.BoundedSemaphore):
            o = make()
            self.assertTrue(o.acquire(timeout=1))
            o.release()
        c = self.m.Condition()
        with c:
            self.assertFalse(c.wait(0.01))
        e = self.m.Event()
        e.set()
        self.assertTrue(e.wait(0))
        b = self.m.Barrier(1)
        self.assertEqual(b.wait(), 0)
        self.assertEqual(self.m.Lock()._segment.name, self.m.name)

    def test_named_objects(self):
        q = self.m.Queue(name="jobs")
        self.assertIs(type(self.m["jobs"]), mpsync.Queue)
        q.put("hello")
        self.assertEqual(self.m["jobs"].get(), "hello")
        self.assertIn("jobs", self.m)
        self.assertIn(("jobs", "Queue"), self.m.names())
        self.assertRaises(TypeError, self.m.dict, name="jobs")
        del self.m["jobs"]
        self.assertNotIn("jobs", self.m)

    def test_named_condition_is_found_with_its_lock(self):
        c = self.m.Condition(name="ready")
        self.assertIn(("ready.lock", "RLock"), self.m.names())
        found = self.m["ready"]
        self.assertEqual(found._lock._offset, c._lock._offset)
        with found:
            self.assertTrue(c._is_owned())
            self.assertFalse(found.wait(0.01))
        self.assertRaises(ValueError, self.m.Condition, self.m.Lock(), name="other")


class Lifetime(unittest.TestCase):
    def test_dropped_objects_free_their_space(self):
        # Every wrapper holds one reference: when the last Python object
        # (and the last container slot) goes, the object's space is reused.
        import gc
        with mpsync.Manager(size=1 << 22) as m:
            before = m.segment.free_bytes
            for _ in range(50):
                d, l, inner = m.dict(a=1), m.list([1, "x"]), m.list()
                d["l"] = l
                l.append(inner)
                ns = m.Namespace(x=l)
                q = m.Queue()
                q.put(1)
                objs = [m.Value("i", 1), m.Array("d", 3), m.Condition(), m.Barrier(2),
                        m.Value("i", 0, lock=m.Lock()), d["l"][2]]
                objs.append(pickle.loads(pickle.dumps(objs[2])))
                del d, l, inner, ns, q, objs
            gc.collect()
            self.assertEqual(m.segment.free_bytes, before)

    def test_with_removes_the_segment(self):
        with mpsync.Manager(size=1 << 20) as m:
            name = m.name
            d = m.dict(a=1)
            self.assertTrue(shm_exists(name))
        self.assertFalse(shm_exists(name))
        self.assertEqual(d["a"], 1)          # still mapped here

    def test_attach_does_not_remove(self):
        with mpsync.Manager(size=1 << 20) as m:
            m.Event(name="e")
            other = mpsync.Manager.attach(m.name)
            self.assertIsInstance(other["e"], mpsync.Event)
            other.shutdown()
            self.assertTrue(shm_exists(m.name))

    def test_bad_segment_says_why(self):
        # Was "invalid argument or corrupt object".
        for kw in ({"name": "a/b"}, {"name": ""}, {"name": "pyr-small", "size": 10}):
            with self.assertRaisesRegex(ValueError, "a name is 1 to .* at least 65536 bytes"):
                mpsync.Manager(**kw)
        self.assertFalse(shm_exists("pyr-small"))

    def test_attaching_what_is_not_a_segment_says_why(self):
        # A zero-filled file reads as a creator that died before finishing;
        # was "[Errno 131] State not recoverable" with no name.
        path = "/dev/shm/pyr-not-a-segment-%d" % os.getpid()
        with open(path, "wb") as f:
            f.write(bytes(1 << 16))
        try:
            with self.assertRaisesRegex(OSError, "creator died before .*not-a-segment"):
                mpsync.Manager.attach(os.path.basename(path))
        finally:
            os.unlink(path)

    def test_full_segment_says_so(self):
        # Was "[Errno 28] No space left on device", which reads as the disk.
        with mpsync.Manager(size=65536) as m:
            d = m.dict()
            with self.assertRaisesRegex(OSError, "shared memory segment") as cm:
                d["x"] = "y" * 100000
            self.assertEqual(cm.exception.errno, errno.ENOSPC)
            self.assertEqual(len(d), 0)

    def test_named_manager_exists(self):
        name = "mpsync-test-mgr-%d" % os.getpid()
        with mpsync.Manager(name, size=1 << 20):
            self.assertRaises(FileExistsError, mpsync.Manager, name)
        self.assertRaises(FileNotFoundError, mpsync.Manager.attach, name)


class Pickling(unittest.TestCase):
    def test_round_trips(self):
        with mpsync.Manager(size=1 << 20) as m:
            objs = [m.Queue(), m.JoinableQueue(), m.Value("d", 1.5), m.Array("i", [1, 2]),
                    m.dict(a=1), m.list([1]), m.Namespace(x=1), m.Lock(), m.RLock(),
                    m.Semaphore(2), m.BoundedSemaphore(), m.Condition(), m.Event(),
                    m.Barrier(2)]
            for o in objs:
                c = pickle.loads(pickle.dumps(o))
                self.assertIs(type(c), type(o))
                self.assertEqual((c._segment.name, c._offset), (o._segment.name, o._offset))
            q, v, a, d, l, ns = (pickle.loads(pickle.dumps(o)) for o in objs[0:1] + objs[2:7])
            q.put("through the copy")
            self.assertEqual(objs[0].get(), "through the copy")
            self.assertEqual((v.value, a[:], d["a"], l[0], ns.x), (1.5, [1, 2], 1, 1, 1))

    def test_object_from_another_segment_is_pickled_into_a_container(self):
        with mpsync.Manager(size=1 << 20) as m1, mpsync.Manager(size=1 << 20) as m2:
            d, other = m1.dict(), m2.list([1])
            d["x"] = other                  # not a reference: another segment
            other.append(2)
            self.assertEqual(list(d["x"]), [1, 2])   # a pickle of the same list


def spawned_worker(q, d, lst, ns, v):
    item = q.get(timeout=30)
    d["seen"] = item
    lst.append(item * 2)
    ns.flag = True
    with v.get_lock():
        v.value += item


class BetweenProcesses(unittest.TestCase):
    def test_children(self):
        for method in ("fork", "spawn", "forkserver"):
            with self.subTest(method=method):
                self.children(method)

    def children(self, method):
        ctx = mp.get_context(method)
        with mpsync.Manager(size=1 << 20) as m:
            q, d, lst, ns, v = m.Queue(), m.dict(), m.list(), m.Namespace(), m.Value("i", 0)
            ps = [ctx.Process(target=spawned_worker, args=(q, d, lst, ns, v))
                  for _ in range(2)]
            for p in ps:
                p.start()
            q.put(3)
            q.put(4)
            for p in ps:
                p.join(60)
                self.assertEqual(p.exitcode, 0)
            self.assertEqual(sorted(lst), [6, 8])
            self.assertIn(d["seen"], (3, 4))
            self.assertTrue(ns.flag)
            self.assertEqual(v.value, 7)

    def test_unrelated_interpreter(self):
        child = textwrap.dedent("""
            import sys, mpsync
            m = mpsync.Manager.attach(sys.argv[1])
            jobs, results = m["jobs"], m["results"]
            while True:
                n = jobs.get(timeout=30)
                if n is None:
                    break
                results[n] = n * n
                jobs.task_done()
            m["log"].append("done")
            m["counter"].value += 1
            jobs.task_done()
        """)
        with mpsync.Manager(size=1 << 20) as m:
            jobs = m.JoinableQueue(name="jobs")
            results = m.dict(name="results")
            m.list(name="log")
            m.Value("i", 0, name="counter")
            p = subprocess.Popen([sys.executable, "-c", child, m.name])
            for i in range(10):
                jobs.put(i)
            jobs.put(None)
            jobs.join()
            self.assertEqual(p.wait(60), 0)
            self.assertEqual(results.copy(), {i: i * i for i in range(10)})
            self.assertEqual(list(m["log"]), ["done"])
            self.assertEqual(m["counter"].value, 1)


if __name__ == "__main__":
    unittest.main()
