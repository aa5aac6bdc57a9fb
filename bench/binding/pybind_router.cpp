// The same core operations bound with pybind11, only to measure the binding's per-call
// cost against ours (Cython) in the same run: bench/binding/test_binding_overhead.py.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "router.hpp"

namespace py = pybind11;

struct PybindRouter {
  ccroute::Router core;
  std::vector<ccroute::Offer> out;
  explicit PybindRouter(ccroute::Config c) : core(std::move(c)) {}
  py::list advance(double now) {
    core.advance(now, out);
    py::list offers;
    for (const auto& o : out) offers.append(py::make_tuple(o.call, o.agent, o.time));
    out.clear();
    return offers;
  }
};

PYBIND11_MODULE(pybind_router, m) {
  py::class_<PybindRouter>(m, "Router")
      .def(py::init([]() {
        ccroute::Config c;
        c.n_sites = 1;
        c.plans.resize(1);
        c.plans[0].name = "p";
        c.plans[0].steps.resize(1);
        return new PybindRouter(c);
      }))
      .def("advance", &PybindRouter::advance, py::arg("now"));
}
