// What an agent and a waiting call cost in memory, in the C++ core.
//
//   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j
//   build/bench_memory [AGENTS [CALLS]]          (default 100000 1000000)
//
// The centre of bench_decisions (centre.hpp). Stages: the router built; AGENTS agents added
// (ids of 12 characters) and made ready; the same agents not ready (on other work, as in a
// call surplus); CALLS calls arrived evenly over a minute, all waiting (no agent is ready),
// so that a quarter are at step 0, 5/12 at step 1 and a third at step 2. After each stage it
// reads the process's resident memory (/proc/self/statm), the heap malloc has handed out
// (mallinfo2) and the router's own estimate (Router::memory_use); bytes per agent and per
// waiting call are the differences across a stage divided by its count. Specs are drawn one
// at a time, so that nothing but the router grows between two readings.
#include <sys/resource.h>
#include <unistd.h>

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "centre.hpp"

using namespace ccroute;
using namespace ccroute::bench;

namespace {

struct Reading {
  const char* stage;
  double rss = 0, peak = 0, heap = -1;  // bytes; heap -1 where mallinfo2 is missing
  MemoryUse use;
};

Reading read_memory(const char* stage, const Router* router) {
  Reading r{stage, 0, 0, -1, router ? router->memory_use() : MemoryUse{}};
  long pages_total = 0, pages_resident = 0;
  std::ifstream("/proc/self/statm") >> pages_total >> pages_resident;
  r.rss = static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  r.peak = usage.ru_maxrss * 1024.0;  // kilobytes on Linux
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  const struct mallinfo2 info = mallinfo2();
  r.heap = static_cast<double>(info.uordblks + info.hblkhd);  // in use: small blocks + mmapped ones
#endif
  return r;
}

constexpr double kMB = 1024.0 * 1024.0;

void print_reading(const Reading& r) {
  std::printf("%-30s %10.1f %10.1f %10.1f %10.1f\n", r.stage, r.rss / kMB, r.peak / kMB,
              r.heap < 0 ? 0.0 : r.heap / kMB, r.use.total() / kMB);
}

// Bytes per unit across a stage: resident, malloc's heap in use, the router's estimate by part.
void print_per_unit(const char* what, const Reading& before, const Reading& after, double n) {
  auto per = [n](double a, double b) { return (b - a) / n; };
  const MemoryUse &a = before.use, &b = after.use;
  std::printf("%-28s %7.0f %7.0f %9.0f   calls %4.0f queues %4.0f agents %4.0f profiles %3.0f timers %3.0f other %2.0f\n",
              what, per(before.rss, after.rss), before.heap < 0 ? 0.0 : per(before.heap, after.heap),
              per(a.total(), b.total()), per(a.calls, b.calls), per(a.queues, b.queues), per(a.agents, b.agents),
              per(a.profiles, b.profiles), per(a.timers, b.timers), per(a.other, b.other));
}

}  // namespace

int main(int argc, char** argv) {
  const int n_agents = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int n_calls = argc > 2 ? std::atoi(argv[2]) : 1000000;
  if (n_agents < 1 || n_calls < 1) {
    std::fprintf(stderr, "usage: bench_memory [AGENTS [CALLS]], both >= 1\n");
    return 2;
  }
  std::mt19937_64 rng(5);
  const std::vector<AgentSpec> templates = agent_templates(rng);
  std::vector<Offer> out;
  std::vector<Reading> readings;

  readings.push_back(read_memory("start", nullptr));
  Router router(centre_config());
  readings.push_back(read_memory("router built", &router));

  char key[24];
  for (int i = 0; i < n_agents; ++i) {
    const AgentSpec a = draw_agent(templates, rng);
    std::snprintf(key, sizeof key, "agent-%06d", i);
    router.add_agent(a.site, a.skills, std::nullopt, key);
  }
  for (int i = 0; i < n_agents; ++i) router.ready(static_cast<AgentRef>(i), 0.001 * i, out);
  double now = 0.001 * n_agents;
  readings.push_back(read_memory("agents added, ready", &router));
  for (int i = 0; i < n_agents; ++i) router.not_ready(static_cast<AgentRef>(i), now, "busy", out);
  readings.push_back(read_memory("agents not ready", &router));

  const double start = now;
  for (int i = 0; i < n_calls; ++i) router.arrive(draw_call(rng), start + (i + 1) * kSpan / n_calls, out);
  now = start + kSpan;
  router.advance(now, out);
  if (!out.empty()) {
    std::fprintf(stderr, "an offer was made: the calls must all wait\n");
    return 1;
  }
  readings.push_back(read_memory("calls waiting", &router));

  std::printf("ccroute core: %d agents, %d waiting calls (MB)\n\n", n_agents, n_calls);
  std::printf("%-30s %10s %10s %10s %10s\n", "after", "resident", "peak", "heap", "estimate");
  for (const Reading& r : readings) print_reading(r);
  std::printf("\nbytes per unit: resident, malloc's heap in use, the router's estimate (memory_use) and its parts\n\n");
  std::printf("%-28s %7s %7s %9s\n", "", "RSS", "heap", "estimate");
  print_per_unit("agent (ready)", readings[1], readings[2], n_agents);
  print_per_unit("agent (not ready)", readings[1], readings[3], n_agents);
  print_per_unit("waiting call", readings[3], readings[4], n_calls);
  return 0;
}
