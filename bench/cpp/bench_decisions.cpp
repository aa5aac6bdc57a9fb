// The cost of one routing decision in the C++ core, with no Python in the way.
//
//   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j
//   build/bench_decisions
//
// A centre of the shape of bench/centre.py (centre.hpp), built from a fixed seed. Each scenario
// times batches of K decisions and undoes them untimed between batches, so every batch
// starts from the same state; the median batch is reported as ns per decision. The
// sizes repeat the Python suite's: the decision cost must not grow with the centre.
//
//   build/bench_decisions [--rounds N] [SCENARIO [SIZE]]   one scenario, or one size of it
//
// Under valgrind (bench/cpp/callgrind.py) only the timed batches are counted: they run inside
// ccroute_measured_batch, which callgrind's --toggle-collect names.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "centre.hpp"

using namespace ccroute;
using namespace ccroute::bench;
using Clock = std::chrono::steady_clock;

namespace {

// n_agents ready (one ms apart), no call waiting.
void agent_surplus(Centre& c, int n_agents, std::mt19937_64& rng) {
  std::vector<Offer> out;
  add_agents(c, n_agents, rng);
  for (AgentRef a : c.agents) c.router.ready(a, c.now += 0.001, out);
}

// n_calls waiting, arrived evenly over kSpan seconds; n_agents logged in, none ready.
// Seasoned: the same calls have come, escalated through every step and left once before, as
// in a router that has run for a while, so that the queues of every step exist (a router
// makes a queue the first time a key is seen, and keeps it).
void call_surplus(Centre& c, int n_calls, int n_agents, std::mt19937_64& rng, bool seasoned = false) {
  std::vector<Offer> out;
  add_agents(c, n_agents, rng);
  for (AgentRef a : c.agents) c.router.not_ready(a, 0.0, "busy", out);
  const auto specs = calls(n_calls, rng);
  if (seasoned) {
    std::vector<CallRef> earlier;
    for (int i = 0; i < n_calls; ++i) earlier.push_back(c.router.arrive(specs[i], (i + 1) * kSpan / n_calls, out));
    c.start = 2 * kSpan;  // past the last step of every earlier call
    c.router.advance(c.start, out);
    for (CallRef r : earlier) c.router.abandon(r, c.start, out);
  }
  for (int i = 0; i < n_calls; ++i) c.router.arrive(specs[i], c.start + (i + 1) * kSpan / n_calls, out);
  c.now = c.start + kSpan;
  c.router.advance(c.now, out);
}

}  // namespace

// Not inlined and not mangled, so that callgrind can count exactly the decisions of the
// measured batches (the warm-up batch, which also builds queues and profiles, runs apart).
extern "C" [[gnu::noinline]] void ccroute_measured_batch(const std::function<void()>& batch) { batch(); }
extern "C" [[gnu::noinline]] void ccroute_warmup_batch(const std::function<void()>& batch) { batch(); }

namespace {

template <class Timed, class Undo>
double median_ns_per_op(int k, int rounds, Timed timed, Undo undo) {
  const std::function<void()> batch = timed;
  std::vector<double> samples;
  for (int round = 0; round < rounds + 1; ++round) {  // the first round warms up
    const auto start = Clock::now();
    (round == 0 ? ccroute_warmup_batch : ccroute_measured_batch)(batch);
    const auto stop = Clock::now();
    undo();
    if (round > 0) samples.push_back(std::chrono::duration<double, std::nano>(stop - start).count() / k);
  }
  std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
  return samples[samples.size() / 2];
}

int kRounds = 21;  // --rounds

// K arrivals each offered at once; undone by accept + hang-up (zero wrap-up: ready again).
double arrive_match(int n_agents, int k) {
  std::mt19937_64 rng(1);
  Centre c;
  agent_surplus(c, n_agents, rng);
  const auto specs = calls(k, rng);
  std::vector<CallRef> refs(k);
  std::vector<Offer> out;
  return median_ns_per_op(
      k, kRounds,
      [&] {
        out.clear();
        c.now += 1.0;
        for (int i = 0; i < k; ++i) refs[i] = c.router.arrive(specs[i], c.now, out);
      },
      [&] {
        std::vector<Offer> ignored;
        std::vector<std::int64_t> offered(k, kNone);  // the agent each call was offered to
        for (const Offer& o : out)
          for (int i = 0; i < k; ++i)
            if (refs[i] == o.call) offered[i] = o.agent;
        for (int i = 0; i < k; ++i) {
          if (offered[i] != kNone) {
            c.router.accept(refs[i], static_cast<AgentRef>(offered[i]), c.now, ignored);
            c.router.hangup(refs[i], c.now, ignored);
          } else {
            c.router.abandon(refs[i], c.now, ignored);
          }
        }
      });
}

// K arrivals that find no ready agent and wait; undone by abandoning them.
double arrive_enqueue(int n_calls, int k) {
  std::mt19937_64 rng(2);
  Centre c;
  call_surplus(c, n_calls, 5000, rng);
  const auto specs = calls(k, rng);
  std::vector<CallRef> refs(k);
  std::vector<Offer> out;
  return median_ns_per_op(
      k, kRounds, [&] { for (int i = 0; i < k; ++i) refs[i] = c.router.arrive(specs[i], c.now, out); },
      [&] { for (CallRef r : refs) c.router.abandon(r, c.now, out); });
}

// K agents become ready and each picks a waiting call; undone by rejecting the offers
// (the call keeps its place, the agent goes not-ready).
double ready_pick(int n_calls, int k) {
  std::mt19937_64 rng(3);
  Centre c;
  call_surplus(c, n_calls, 5000, rng);
  std::vector<AgentRef> sample(c.agents.begin(), c.agents.begin() + k);
  std::vector<Offer> out;
  return median_ns_per_op(
      k, kRounds,
      [&] {
        out.clear();
        for (AgentRef a : sample) c.router.ready(a, c.now, out);
      },
      [&] {
        std::vector<Offer> ignored;  // agents that found no call first, or a rejected call would go to them
        for (AgentRef a : sample)
          if (c.router.agent_state(a) == AgentState::Ready) c.router.not_ready(a, c.now, "busy", ignored);
        for (const Offer& o : out) c.router.reject(o.call, o.agent, c.now, ignored);
      });
}

// K advances of half an arrival gap each: about one step escalation per advance.
double advance_escalate(int n_calls, int k) {
  std::mt19937_64 rng(4);
  auto c = std::make_unique<Centre>();
  call_surplus(*c, n_calls, 5000, rng, true);
  const double delta = kSpan / n_calls / 2;
  std::vector<Offer> out;
  return median_ns_per_op(
      k, kRounds,
      [&] {
        for (int i = 0; i < k; ++i) c->router.advance(c->now += delta, out);
      },
      [&] {
        if (c->now + k * delta > c->start + kSpan + 15.0) {  // past the escalation window: rebuild
          c = std::make_unique<Centre>();
          std::mt19937_64 again(4);
          call_surplus(*c, n_calls, 5000, again, true);
        }
      });
}

}  // namespace

int main(int argc, char** argv) {
  static constexpr int k = 1000;
  const char* only = nullptr;  // scenario
  int only_size = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
      kRounds = std::atoi(argv[++i]);
    } else if (!only) {
      only = argv[i];
    } else {
      only_size = std::atoi(argv[i]);
    }
  }
  if (kRounds < 1) {
    std::fprintf(stderr, "--rounds must be >= 1\n");
    return 2;
  }
  struct Scenario {
    const char* name;
    const char* unit;
    std::vector<int> sizes;
    int (*batch)(int size);  // decisions per batch
    double (*run)(int size, int batch);
  };
  const Scenario scenarios[] = {
      {"arrive_match", "agents", {500, 5000, 20000}, [](int n) { return std::min(k, n / 10); }, arrive_match},
      {"arrive_enqueue", "calls", {1000, 10000, 100000}, [](int) { return k; }, arrive_enqueue},
      {"ready_pick", "calls", {1000, 10000, 100000}, [](int n) { return std::min(k, n / 10); }, ready_pick},
      {"advance_escalate", "calls", {1000, 10000, 100000}, [](int n) { return std::min(k, n / 4); }, advance_escalate},
  };
  std::printf("ccroute core: median ns per decision (batches of up to %d, %d rounds after a warm-up)\n\n", k, kRounds);
  std::printf("%-18s %-14s %6s %10s\n", "decision", "size", "batch", "ns");
  bool ran = false;
  for (const Scenario& s : scenarios) {
    if (only && std::strcmp(only, s.name) != 0) continue;
    for (int n : s.sizes) {
      if (only_size && n != only_size) continue;
      std::printf("%-18s %6d %-6s %6d %10.0f\n", s.name, n, s.unit, s.batch(n), s.run(n, s.batch(n)));
      std::fflush(stdout);
      ran = true;
    }
  }
  if (!ran) {
    std::fprintf(stderr, "no such scenario or size\n");
    return 2;
  }
  return 0;
}
