"""Builds the native extension; everything else is in pyproject.toml."""

from glob import glob

from Cython.Build import cythonize
from setuptools import Extension, setup

# -ffp-contract=off: no fused multiply-add, so scores round exactly as the reference model's.
# No -ffast-math, no -march=native: wheels must run anywhere and floats must match.
CORE_FLAGS = ["-std=c++17", "-O2", "-ffp-contract=off", "-fvisibility=hidden"]

core_sources = sorted(s for s in glob("csrc/*.cpp") if not s.endswith("capi.cpp"))

extensions = [
    Extension(
        "ccroute._core",
        sources=["src/ccroute/_core.pyx", *core_sources],
        include_dirs=["csrc", "src/ccroute"],
        language="c++",
        extra_compile_args=[*CORE_FLAGS, "-pthread"],
        extra_link_args=["-pthread"],  # the journal syncs from a background thread
    )
]

setup(ext_modules=cythonize(extensions, language_level=3, compiler_directives={"embedsignature": True}))
