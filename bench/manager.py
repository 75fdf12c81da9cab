#!/usr/bin/env python3
"""The Python side of mpsync-bench's "manager" rows.

mpsync-bench runs this script with the system python3 and reads its stdout:
one JSON object per line, nothing else on stdout.

  {"python": "3.11.7", "start_method": "fork", "executable": "..."}
  {"row": "queue", "impl": "SyncManager", "n": 4100, "reps": [123456.7, ...]}
  {"row": "dict", "impl": "SyncManager", "error": "..."}     (a row that failed)

With --rows python (any of pylock, pyqueue, pydict, pyvalue), it measures
the Python package mpsync against multiprocessing and SyncManager in this
same process, one row per implementation:
  pylock   l.acquire(); l.release(): mpsync.Lock, multiprocessing.Lock,
           SyncManager().Lock() (two round trips)
  pyqueue  as queue: mpsync.Queue, multiprocessing.Queue, SyncManager().Queue()
  pydict   as dict: mpsync.Manager().dict(), SyncManager().dict()
  pyvalue  with v.get_lock(): v.value += 1 for mpsync.Value and
           multiprocessing.Value; SyncManager().Value('i'): v.value += 1
mpsync is imported from the build tree (<build>/python, beside this
script's directory) when it is not installed.

reps holds one value per repetition: nanoseconds per operation, where an
operation is the same as in the C rows:
  queue  one put + one get of a 64-byte item, producer and consumer in two
         processes (the consumer is this process, the producer a forked child)
  dict   d[k] = i then d[k], k cycling over --keys int keys
  value  v.value += 1: Manager().Value('i') through its proxy (a get and a
         set), multiprocessing.Value('i') under its get_lock()

Runs are sized by time (--rep-seconds each), not by count: a SyncManager
operation is a round trip to the manager's server process (tens to hundreds
of microseconds). Every row has a warm-up first.
"""
import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from multiprocessing.managers import SyncManager

PY_ROWS = ("pylock", "pyqueue", "pydict", "pyvalue")

ITEM = 64


def emit(obj):
    print(json.dumps(obj, separators=(",", ":")), flush=True)


def now():
    return time.perf_counter_ns()


# ---- queue: a forked producer puts n items, this process gets them ----

def producer(q, n, ready, go):
    item = b"x" * ITEM
    q.put(item)          # warm: connects a proxy, starts mp.Queue's feeder
    ready.set()
    go.wait()
    for _ in range(n):
        q.put(item)


def queue_once(ctx, q, n):
    """ns per item, from the go signal to the last get."""
    ready, go = ctx.Event(), ctx.Event()
    p = ctx.Process(target=producer, args=(q, n, ready, go))
    p.start()
    q.get()
    ready.wait()
    t0 = now()
    go.set()
    for _ in range(n):
        item = q.get()
    t1 = now()
    p.join()
    if p.exitcode != 0 or len(item) != ITEM:
        raise RuntimeError("producer failed (exit code %s)" % p.exitcode)
    return (t1 - t0) / n


def queue_size(per, seconds):
    return max(200, min(int(seconds * 1e9 / max(per, 1.0)), 2000000))


def queue_row(ctx, q, args):
    # Two warm-ups: the first (a process start, first pickles) overstates
    # the cost of an item; the second, a quarter run, sizes the runs.
    per = queue_once(ctx, q, 200)
    per = queue_once(ctx, q, queue_size(per, args.rep_seconds / 4))
    n = queue_size(per, args.rep_seconds)
    return n, [queue_once(ctx, q, n) for _ in range(args.reps)]


# ---- dict and value: one process, runs of chunks until the time is up ----

def timed(step, seconds, chunk=32):
    """ns per operation: step(start, count) runs count operations."""
    limit = int(seconds * 1e9)
    done = 0
    t0 = now()
    while True:
        step(done, chunk)
        done += chunk
        t = now()
        if t - t0 >= limit:
            return done, (t - t0) / done


def loop_row(step, args):
    timed(step, args.rep_seconds / 5)      # warm-up
    reps, total = [], 0
    for _ in range(args.reps):
        n, ns = timed(step, args.rep_seconds)
        total += n
        reps.append(ns)
    return total // args.reps, reps


def dict_step(d, keys):
    def step(start, count):
        for i in range(start, start + count):
            k = i % keys
            d[k] = i
            d[k]
    return step


def manager_value_step(v):
    def step(start, count):
        for _ in range(count):
            v.value += 1
    return step


def mp_value_step(v):
    def step(start, count):
        for _ in range(count):
            with v.get_lock():
                v.value += 1
    return step


def lock_step(lock):
    def step(start, count):
        for _ in range(count):
            lock.acquire()
            lock.release()
    return step


def import_mpsync():
    """mpsync installed, or the build tree's (<build>/python)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for path in (None, os.path.join(here, "..", "python")):
        if path:
            sys.path.insert(0, os.path.normpath(path))
        try:
            import mpsync
            return mpsync
        except ImportError:
            if path:
                sys.path.pop(0)
    return None


def python_rows(ctx, manager, rows, args):
    mpsync = import_mpsync()

    def need():
        if mpsync is None:
            raise RuntimeError("the mpsync module is not built (-DMPSYNC_BUILD_PYTHON=ON)")
        return mpsync

    mgr = mpsync.Manager(size=8 << 20) if mpsync else None
    try:
        if "pylock" in rows:
            run_row("pylock", "mpsync", lambda: loop_row(lock_step(need().Lock()), args))
            run_row("pylock", "multiprocessing", lambda: loop_row(lock_step(ctx.Lock()), args))
            run_row("pylock", "SyncManager", lambda: loop_row(lock_step(manager.Lock()), args))
        if "pyqueue" in rows:
            run_row("pyqueue", "mpsync", lambda: queue_row(ctx, need().Queue(), args))
            run_row("pyqueue", "multiprocessing", lambda: queue_row(ctx, ctx.Queue(), args))
            run_row("pyqueue", "SyncManager", lambda: queue_row(ctx, manager.Queue(), args))
        if "pydict" in rows:
            run_row("pydict", "mpsync",
                    lambda: loop_row(dict_step(need() and mgr.dict(), args.keys), args))
            run_row("pydict", "SyncManager",
                    lambda: loop_row(dict_step(manager.dict(), args.keys), args))
        if "pyvalue" in rows:
            run_row("pyvalue", "mpsync",
                    lambda: loop_row(mp_value_step(need().Value("i", 0)), args))
            run_row("pyvalue", "multiprocessing",
                    lambda: loop_row(mp_value_step(ctx.Value("i", 0)), args))
            run_row("pyvalue", "SyncManager",
                    lambda: loop_row(manager_value_step(manager.Value("i", 0)), args))
    finally:
        if mgr is not None:
            mgr.shutdown()


def run_row(row, impl, fn):
    try:
        n, reps = fn()
        emit({"row": row, "impl": impl, "n": n, "reps": [round(v, 1) for v in reps]})
    except Exception as e:  # one failing row must not hide the others
        emit({"row": row, "impl": impl, "error": "%s: %s" % (type(e).__name__, e)})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rep-seconds", type=float, default=0.2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rows", default="queue,dict,value")
    ap.add_argument("--keys", type=int, default=1000)
    args = ap.parse_args()
    rows = args.rows.split(",")
    if "python" in rows:
        rows += PY_ROWS
    method = "fork" if "fork" in mp.get_all_start_methods() else mp.get_start_method()
    ctx = mp.get_context(method)
    emit({"python": platform.python_version(), "start_method": method,
          "executable": sys.executable})
    manager = SyncManager(ctx=ctx)
    manager.start()
    try:
        if "queue" in rows:
            run_row("queue", "mp.Queue", lambda: queue_row(ctx, ctx.Queue(), args))
            run_row("queue", "SyncManager", lambda: queue_row(ctx, manager.Queue(), args))
        if "dict" in rows:
            run_row("dict", "SyncManager",
                    lambda: loop_row(dict_step(manager.dict(), args.keys), args))
        if "value" in rows:
            run_row("value", "SyncManager",
                    lambda: loop_row(manager_value_step(manager.Value("i", 0)), args))
            run_row("value", "mp.Value",
                    lambda: loop_row(mp_value_step(ctx.Value("i", 0)), args))
        if any(r in rows for r in PY_ROWS):
            python_rows(ctx, manager, rows, args)
    finally:
        manager.shutdown()


if __name__ == "__main__":
    main()
