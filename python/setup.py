"""Builds the mpsync extension: the module's C sources (python/src) and the
mpsync library's own sources (lib/), compiled in; no other dependency.

    python3 -m venv v && v/bin/pip install --no-build-isolation ./python

The library sources are found beside this directory (a clone of the
repository); MPSYNC_SOURCE_DIR names another checkout."""
import glob
import os

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("MPSYNC_SOURCE_DIR") or os.path.dirname(HERE)
if not os.path.exists(os.path.join(ROOT, "include", "mpsync.h")):
    raise SystemExit("mpsync: the library sources are not at %s "
                     "(set MPSYNC_SOURCE_DIR to the repository root)" % ROOT)

lib_sources = sorted(glob.glob(os.path.join(ROOT, "lib", "sync", "*.c")) +
                     glob.glob(os.path.join(ROOT, "lib", "segment", "*.c")))
module_sources = sorted(glob.glob(os.path.join(HERE, "src", "*.c")))

setup(
    name="mpsync",
    version="0.1.0",
    description="multiprocessing's primitives and SyncManager objects on futexes "
                "in shared memory",
    packages=["mpsync"],
    ext_modules=[Extension(
        "mpsync._mpsync",
        sources=[os.path.relpath(p, HERE) if p.startswith(HERE) else p
                 for p in module_sources + lib_sources],
        include_dirs=[os.path.join(ROOT, "include")],
        define_macros=[("_GNU_SOURCE", None)],
        extra_compile_args=["-std=c11", "-Wall", "-Wextra"],
        libraries=["m"],
    )],
    python_requires=">=3.10",
)
