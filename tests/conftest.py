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
