// A Python callable as the core's std::function<void(double)> (the simulator's progress).
// The simulator runs without the GIL; the callback takes it for the call. If the callable
// raises, PythonRaised unwinds the simulation and the Python error propagates.
#pragma once
#include <Python.h>

#include <functional>

#include "_errors.hpp"

static inline std::function<void(double)> python_callback(PyObject* callable) {
    if (callable == Py_None) return nullptr;
    return [callable](double share) {
        PyGILState_STATE gil = PyGILState_Ensure();
        PyObject* result = PyObject_CallFunction(callable, "d", share);
        Py_XDECREF(result);
        PyGILState_Release(gil);
        if (result == nullptr) throw PythonRaised{};
    };
}
