#!/bin/sh
# pip install --no-build-isolation ./python into a fresh venv, from the
# source tree alone, then import the installed package and use it.
# Usage: pip_install.sh SOURCE_ROOT PYTHON WORKDIR
set -eu
root=$1 python=$2 work=$3
rm -rf "$work"
"$python" -m venv "$work/venv"
cp -r "$root/python" "$work/python"            # an untouched copy: no build output
rm -rf "$work/python/build" "$work/python"/*.egg-info
MPSYNC_SOURCE_DIR=$root "$work/venv/bin/pip" install -q --no-build-isolation "$work/python"
cd "$work"
cat > smoke.py <<'PY'
import multiprocessing as mp, mpsync, os
if __name__ == "__main__":
  assert os.path.dirname(mpsync.__file__).startswith(os.path.realpath("venv")), mpsync.__file__
  lock, q = mpsync.Lock(), mpsync.Queue()
  p = mp.get_context("spawn").Process(target=q.put, args=("from a child",))
  p.start()
  assert q.get(timeout=30) == "from a child"
  p.join()
  with lock:
      assert not lock.acquire(False)
  print("installed mpsync works:", mpsync.__file__)
PY
"$work/venv/bin/python" smoke.py
