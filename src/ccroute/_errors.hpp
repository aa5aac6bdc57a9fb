// Maps ccroute::Error (by kind) to the Python RoutingError subclasses; used by Cython's
// `except +raise_routing_error`. The classes are registered once at import.
#pragma once
#include <Python.h>

#include <new>
#include <stdexcept>

#include "router.hpp"

// Thrown through C++ when a Python callback raised: the Python error is already set.
struct PythonRaised {};

static PyObject* ccroute_error_classes[ccroute::kErrorKinds] = {};

static inline void register_error_class(int kind, PyObject* cls) {
    Py_XINCREF(cls);
    ccroute_error_classes[kind] = cls;
}

static inline void raise_routing_error() {
    try {
        throw;
    } catch (const ccroute::Error& e) {
        PyObject* cls = ccroute_error_classes[static_cast<int>(e.kind())];
        PyErr_SetString(cls ? cls : PyExc_RuntimeError, e.what());
    } catch (const PythonRaised&) {
    } catch (const std::bad_alloc&) {
        PyErr_NoMemory();
    } catch (const std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
    }
}
