"""Every rule test runs against both routers: the native core and the reference model."""

from __future__ import annotations

import os

import pytest

from ccroute import ReferenceRouter

try:
    from ccroute._core import Router as NativeRouter
    NATIVE_MISSING = None
except ImportError as error:  # a source tree without the built extension
    NativeRouter = None
    NATIVE_MISSING = f"native extension not built ({error})"
    if os.environ.get("CCROUTE_REQUIRE_NATIVE"):
        raise

IMPLEMENTATIONS = {"reference": ReferenceRouter, "native": NativeRouter}
PAIRS = [("reference", "reference"), ("native", "native"), ("native", "reference"), ("reference", "native")]


@pytest.fixture(params=PAIRS, ids=lambda p: f"{p[0]}-to-{p[1]}")
def router_pair(request):
    """Two router classes: one that saves its state (snapshot, journal), one that takes it up."""
    if NativeRouter is None and "native" in request.param:
        pytest.skip(NATIVE_MISSING)
    return IMPLEMENTATIONS[request.param[0]], IMPLEMENTATIONS[request.param[1]]


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def Router(request):
    """The router class under test."""
    cls = IMPLEMENTATIONS[request.param]
    if cls is None:
        pytest.skip(NATIVE_MISSING)
    return cls


@pytest.fixture
def native():
    if NativeRouter is None:
        pytest.skip(NATIVE_MISSING)
    return NativeRouter
