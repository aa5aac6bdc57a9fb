"""Per-call cost of the binding: ours (Cython) against pybind11, on the same core call.

`advance(now)` with nothing due is the cheapest operation of the core (a time check and a
look at the timer heap), so its cost through Python is almost all binding. The pybind11
module is compiled on the fly from pybind_router.cpp (skipped, with the reason, if that
cannot be done here).

    pytest bench/binding --benchmark-group-by=func
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from ccroute import Config, Plan
from ccroute._core import Router

HERE = Path(__file__).parent
CSRC = HERE.parent.parent / "csrc"
CORE_SOURCES = sorted(str(s) for s in CSRC.glob("*.cpp") if s.name != "capi.cpp")  # as setup.py's


@pytest.fixture(scope="module")
def pybind_router(tmp_path_factory):
    try:
        import pybind11
    except ImportError:
        pytest.skip("pybind11 is not installed: pip install pybind11")
    out = tmp_path_factory.mktemp("pybind") / f"pybind_router{sysconfig.get_config_var('EXT_SUFFIX')}"
    command = ["c++", "-O2", "-std=c++17", "-shared", "-fPIC", "-ffp-contract=off",
               f"-I{pybind11.get_include()}", f"-I{sysconfig.get_paths()['include']}", f"-I{CSRC}",
               str(HERE / "pybind_router.cpp"), *CORE_SOURCES, "-pthread", "-o", str(out)]
    built = subprocess.run(command, capture_output=True, text=True)
    if built.returncode:
        pytest.skip(f"could not build the pybind11 module: {built.stderr[-500:]}")
    sys.path.insert(0, str(out.parent))
    import pybind_router
    return pybind_router.Router()


CALLS = 10_000


def many_advances(router):
    advance = router.advance
    for _ in range(CALLS):
        advance(1.0)


def test_cython_binding(benchmark):
    benchmark.extra_info["ops"] = CALLS
    benchmark(many_advances, Router(Config(sites=["s"], plans=[Plan("p")])))


def test_pybind11_binding(benchmark, pybind_router):
    benchmark.extra_info["ops"] = CALLS
    benchmark(many_advances, pybind_router)
