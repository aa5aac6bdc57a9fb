// Python callables as the core's std::functions: the simulator's progress, a router's namer.
//
// The progress callable as the core's std::function<void(double)>.
// The simulator runs without the GIL; the callback takes it for the call. If the callable
// raises, PythonRaised unwinds the simulation and the Python error propagates.
#pragma once
#include <Python.h>

#include <cstdint>
#include <functional>
#include <string>

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

// The binding's Router as the core's Namer: error messages name agents and calls by the
// caller's ids, and sites, plans, regions and skills by their names (Router._name). The
// router is borrowed, not owned: it owns the core that holds this namer, so it outlives it
// (owning it would be a reference cycle the garbage collector cannot see through the core).
static inline ccroute::Namer python_namer(PyObject* router) {
    return [router](ccroute::Entity entity, std::uint32_t ref) {
        PyGILState_STATE gil = PyGILState_Ensure();
        std::string name = "#" + std::to_string(ref);
        PyObject* result = PyObject_CallMethod(router, "_name", "iI", static_cast<int>(entity), ref);
        Py_ssize_t size = 0;
        const char* text = result ? PyUnicode_AsUTF8AndSize(result, &size) : nullptr;
        if (text) name.assign(text, static_cast<std::size_t>(size));
        else PyErr_Clear();  // a message is being built for an error already: keep the number
        Py_XDECREF(result);
        PyGILState_Release(gil);
        return name;
    };
}
