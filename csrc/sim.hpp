// ccroute simulator: a discrete-event model of a contact centre's day, routed by the very
// Router of router.hpp (not a copy of its rules). Python configures a run and reads the
// arrays it returns; no Python runs per event.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <optional>
#include <utility>
#include <vector>

#include "router.hpp"

namespace ccroute::sim {

// Memory for the large arrays a run fills (its per-call columns, its callers' records), kept
// for the next run when the arrays are freed instead of going back to the system: a block
// fresh from the system faults on every page at its first write, which cost a tenth of a
// run of the M/M/c benchmark (bench/peers) when every run got fresh pages. Blocks of at least
// kReusedMin bytes are kept, the latest first, up to kReusedMax bytes in all (per process,
// shared by threads); smaller ones come from and go to operator new.
inline constexpr std::size_t kReusedMin = std::size_t{64} << 10;
inline constexpr std::size_t kReusedMax = std::size_t{64} << 20;  // a bank day's columns and callers: ~25 MB
void* take_block(std::size_t bytes);
void give_block(void* block, std::size_t bytes);

template <class T>
struct Reused {  // an allocator drawing on the blocks above; its elements are left uninitialised
  using value_type = T;
  Reused() = default;
  template <class U>
  Reused(const Reused<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(take_block(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) { give_block(p, n * sizeof(T)); }
  // resize() default-initialises: a column is grown before its values are written, and
  // zeroing it first would be a second pass over its memory.
  template <class U>
  void construct(U* p) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  friend bool operator==(const Reused&, const Reused&) { return true; }
  friend bool operator!=(const Reused&, const Reused&) { return false; }
};
template <class T>
using Column = std::vector<T, Reused<T>>;

// Seeded generator: xoshiro256** (Blackman & Vigna), seeded through splitmix64. Both are
// fully specified, so a seed gives the same stream on every machine and compiler, which
// std::*_distribution does not promise.
class Random {
 public:
  Random(std::uint64_t seed, std::uint64_t stream);
  std::uint64_t next();
  double uniform();                     // [0, 1), 53 bits
  double exponential(double mean);
  static double exponential(double u, double mean);  // from a uniform() drawn earlier
  struct LogNormal {  // of a given mean and coefficient of variation: log X ~ N(mu, sigma²)
    LogNormal(double mean, double cv);
    double mu, sigma;
  };
  double lognormal(const LogNormal& shape);
  std::size_t pick(const std::vector<double>& cumulative) {  // index by cumulative weights
    if (cumulative.size() == 1) {  // the draw is still made, so the stream does not depend on the weights' count
      next();
      return 0;
    }
    return pick_among(cumulative);
  }

 private:
  std::size_t pick_among(const std::vector<double>& cumulative);  // of two or more
  std::uint64_t s_[4];
};

struct Segment {  // one kind of caller of a plan: where from, which language, what value
  double weight = 1.0;
  int region = kNone;
  int language = kNone;
  double value_low = 0.0, value_high = 0.0;  // uniform between
};

struct Demand {  // the calls of one plan
  std::vector<double> rates;  // calls per second, one per interval
  std::vector<Segment> segments;
  double repeat_share = 0.0;     // P(repeats >= k+1 | repeats >= k)
  double handle_mean = 180.0;
  double handle_cv = 1.0;
  bool lognormal = false;        // handle times lognormal (mean, cv) instead of exponential
  double patience_mean = 0.0;    // exponential; <= 0 or infinite: never abandons
  double preferred_share = 0.0;  // share of callers with a case owner (preferred agent)
  double preferred_wait = 0.0;
};

struct Shift {
  double start, end;
};

struct AgentGroup {  // `count` agents alike in site, skills and shifts
  int site = 0;
  std::vector<SkillLevel> skills;
  int count = 0;
  std::vector<Shift> shifts;
  std::optional<double> wrapup;  // overrides the plans' wrap-up
  double no_answer = 0.0;        // probability an offer rings unanswered
};

struct Scenario {
  Config routing;
  double interval = 1800.0;
  int n_intervals = 48;
  std::vector<Demand> demand;  // one per plan of `routing`, same order
  std::vector<AgentGroup> groups;
  double answer_delay = 0.0;      // ring time before an agent answers
  double no_answer_pause = 30.0;  // after a missed offer the agent is not ready this long
  bool record_events = false;     // log every router call, for replay checks
  bool predict_waits = false;     // ask the router each caller's expected wait as it arrives
};

enum class Outcome : std::int8_t { InSystem = 0, Answered = 1, Abandoned = 2 };
enum class Op : std::int8_t { Ready, Logout, Arrive, Accept, Reject, Abandon, Hangup, Advance };

struct Result {
  // per call, in arrival order
  Column<double> arrival, wait, handle, value;
  Column<std::int32_t> plan, region, language, repeats, preferred_agent, agent;
  Column<std::int8_t> outcome;
  // per call, when predict_waits: Router::expected_wait just before it arrived (NaN: none)
  Column<double> predicted_wait;
  // per call, where it was answered: the agent's site (-1: not answered), whether that site
  // is at distance 0 from the caller's region (home), whether the agent holds the caller's
  // language (in_language); 0 for a call not answered or without a region or language
  Column<std::int32_t> site;
  Column<std::uint8_t> home, in_language;
  // per [interval][site]: agent-seconds talking or in wrap-up, and logged in (a call in
  // hand at the end of a shift keeps its agent logged in until it ends)
  Column<double> busy, logged_in;
  // the router calls made, when recorded: op, time, call (or -1), agent (or -1)
  Column<std::int8_t> op;
  Column<double> op_time;
  Column<std::int32_t> op_call, op_agent;
  // and the offers each returned: index of the call in op_*, then the offer
  Column<std::int32_t> offer_op, offer_call, offer_agent;
  Column<double> offer_time;
  std::uint64_t events = 0;  // simulator events plus router timers fired
  std::int32_t n_agents = 0;
  Column<std::int32_t> agent_group;
};

// Runs the scenario from 0 to n_intervals * interval. Throws ccroute::Error on a bad
// scenario. `progress`, if given, is called now and then with the share of the day done.
Result simulate(const Scenario& scenario, std::uint64_t seed,
                const std::function<void(double)>& progress = nullptr);

}  // namespace ccroute::sim
