"""Benchmark fixtures: the two routers under test and a cache of prepared centre states.

Run with ``pytest bench/ --benchmark-json=bench/results.json`` and summarise with
``python bench/report.py bench/results.json``. Nothing here asserts a timing: the suite
only measures (the targets are in the README and in bench/report.py's output).
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from typing import Any, Callable, Optional

import pytest

import ccroute
from ccroute import ReferenceRouter

try:
    import ccroute._core  # noqa: F401  (the native extension)
    # The public class (a thin Python subclass of ccroute._core.Router) is what users call.
    NativeRouter: Optional[type] = ccroute.Router if ccroute.IMPLEMENTATION == "native" else ccroute._core.Router
    NATIVE_MISSING: Optional[str] = None
except ImportError as error:
    NativeRouter = None
    NATIVE_MISSING = f"native extension ccroute._core does not import ({error}); build it with " \
                     f"`pip install -e . --no-build-isolation`"
    if os.environ.get("CCROUTE_REQUIRE_NATIVE"):
        raise


@dataclass(frozen=True)
class Impl:
    """One implementation under test, with how hard to push it per round."""

    name: str
    cls: type
    ops: int      # K: operations per timed round
    rounds: int
    warmup: int


# The reference model scans every agent and call on each decision (milliseconds at this
# size), so it does fewer operations per round; ns/op is comparable all the same.
SETTINGS = {"native": (1000, 20, 2), "reference": (20, 5, 1)}


def _impl(name: str) -> Impl:
    cls = NativeRouter if name == "native" else ReferenceRouter
    if cls is None:
        print(f"\nskipping native benchmarks: {NATIVE_MISSING}")
        pytest.skip(NATIVE_MISSING)
    return Impl(name, cls, *SETTINGS[name])


@pytest.fixture(params=["native", "reference"])
def impl(request: pytest.FixtureRequest) -> Impl:
    """Each implementation in turn (native skipped, with the reason, when not built)."""
    return _impl(request.param)


@pytest.fixture
def native() -> Impl:
    return _impl("native")


class StateCache:
    """Centre states are expensive to build for the reference model: build each once.

    A built state lives for the session, so it is moved out of the garbage collector's
    sight (``gc.freeze``): otherwise a full collection triggered inside a timed round
    would walk the reference model's tens of thousands of objects and show up as a
    multi-millisecond outlier of whichever benchmark happens to be running.
    """

    def __init__(self) -> None:
        self._states: dict[Any, Any] = {}

    def get(self, key: Any, build: Callable[[], Any]) -> Any:
        if key not in self._states:
            self._states[key] = build()
            gc.collect()
            gc.freeze()
        return self._states[key]

    def drop(self, key: Any) -> None:
        self._states.pop(key, None)


@pytest.fixture(scope="session")
def states() -> StateCache:
    return StateCache()
