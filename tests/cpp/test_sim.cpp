// C++ checks of the simulator: reproducible, conserving, and a sane M/M/c queue. The
// statistical validation against Erlang C and A runs from Python (tests/test_sim.py).
#include <cmath>
#include <cstdio>

#include "check.h"
#include "sim.hpp"

using namespace ccroute;
using namespace ccroute::sim;


// One queue, `agents` agents all day, Poisson calls at `rate`, exponential handling.
static Scenario mmc(int agents, double rate, double aht, double patience, double no_answer = 0) {
  Scenario s;
  s.routing.n_sites = 1;
  s.routing.n_skills = 1;
  if (no_answer > 0) s.routing.offer_timeout = 10.0;
  PlanConfig plan;
  plan.name = "card";
  StepConfig step;
  step.require = {{0, 1}};
  plan.steps = {step};
  s.routing.plans = {plan};
  s.interval = 3600;
  s.n_intervals = 4;
  Demand d;
  d.rates.assign(4, rate);
  d.segments = {Segment{}};
  d.handle_mean = aht;
  d.patience_mean = patience;
  s.demand = {d};
  AgentGroup g;
  g.skills = {{0, 5}};
  g.count = agents;
  g.shifts = {{0.0, 4 * 3600.0}};
  g.no_answer = no_answer;
  s.groups = {g};
  return s;
}

static void same_seed_same_day() {
  const Scenario s = mmc(10, 0.05, 180, 60, 0.1);
  const Result a = simulate(s, 7), b = simulate(s, 7), c = simulate(s, 8);
  CHECK(a.arrival == b.arrival && a.wait.size() == b.wait.size());
  bool same = a.arrival.size() == b.arrival.size();
  for (std::size_t i = 0; same && i < a.wait.size(); ++i)
    same = a.wait[i] == b.wait[i] && a.agent[i] == b.agent[i] && a.outcome[i] == b.outcome[i];
  CHECK(same);
  CHECK(a.arrival != c.arrival);
}

static void every_call_is_accounted_for() {
  const Result r = simulate(mmc(8, 0.05, 180, 120, 0.05), 3);
  std::size_t answered = 0, abandoned = 0, in_system = 0;
  for (std::size_t i = 0; i < r.outcome.size(); ++i) {
    const auto o = static_cast<Outcome>(r.outcome[i]);
    answered += o == Outcome::Answered;
    abandoned += o == Outcome::Abandoned;
    in_system += o == Outcome::InSystem;
    CHECK(r.wait[i] >= 0);
    CHECK((o == Outcome::Answered) == (r.agent[i] >= 0));
  }
  CHECK(answered + abandoned + in_system == r.arrival.size());
  CHECK(r.arrival.size() > 500);  // 0.05/s over 4 h: about 720
  CHECK(abandoned > 0 && answered > abandoned);
}

static void busy_time_matches_talk_time() {
  const Result r = simulate(mmc(20, 0.05, 180, 0), 5);  // light load, nobody abandons
  double talk = 0, busy = 0;
  for (std::size_t i = 0; i < r.outcome.size(); ++i)
    if (static_cast<Outcome>(r.outcome[i]) == Outcome::Answered)
      talk += std::min(r.handle[i], 4 * 3600.0 - r.arrival[i] - r.wait[i]);
  for (double b : r.busy) busy += b;
  CHECK(std::fabs(talk - busy) < 1e-6 * talk);
}

static void bad_scenarios_are_refused() {
  Scenario s = mmc(5, 0.05, 180, 60, 0.1);
  s.routing.offer_timeout.reset();
  bool refused = false;
  try {
    simulate(s, 1);
  } catch (const Error& e) {
    refused = e.kind() == ErrorKind::Config;
  }
  CHECK(refused);
}

// A large block freed is handed out again to a request of about its size (its pages are
// already the process's); small ones and much larger requests get blocks of their own.
static void large_blocks_are_reused() {
  if (!CCROUTE_NODE_POOL) return;  // under AddressSanitizer every block is fresh, so that a use after free shows
  void* a = take_block(600 * 1024);
  give_block(a, 600 * 1024);
  void* b = take_block(590 * 1024);  // the same size class
  CHECK(b == a);
  void* c = take_block(2 * 600 * 1024);
  CHECK(c != b);
  give_block(c, 2 * 600 * 1024);
  give_block(b, 590 * 1024);
  Column<double> column(100000);  // 800 kB through the allocator, default-initialised
  column[99999] = 1.5;
  CHECK(column.size() == 100000 && column[99999] == 1.5);
}

int main() {
  large_blocks_are_reused();
  same_seed_same_day();
  every_call_is_accounted_for();
  busy_time_matches_talk_time();
  bad_scenarios_are_refused();
  return check_report("simulator");
}
