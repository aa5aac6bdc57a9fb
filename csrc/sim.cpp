#include "sim.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <mutex>
#include <string>

namespace ccroute::sim {

// ------------------------------------------------------------------ reused blocks

namespace {
// Sizes are rounded up to an eighth of their power of two (at most 12.5 % more), so that a
// column of about the same length as last run's finds last run's block.
std::size_t block_size(std::size_t bytes) {
  const int shift = std::max(0, 64 - __builtin_clzll(bytes - 1) - 3);
  return (((bytes - 1) >> shift) + 1) << shift;
}

struct Kept {
  static constexpr std::size_t kBlocks = 64;  // blocks kept at most: room reserved once, so giving one back never allocates
  Kept() { blocks.reserve(kBlocks); }
  std::mutex lock;
  std::vector<std::pair<std::size_t, void*>> blocks;  // (size, block), the latest last
  std::size_t bytes = 0;
};
Kept& kept() {
  static Kept* instance = new Kept;  // never destroyed: a column may outlive static destruction
  return *instance;
}
}  // namespace

void* take_block(std::size_t bytes) {
  if (!CCROUTE_NODE_POOL || bytes < kReusedMin) return ::operator new(bytes);
  const std::size_t size = block_size(bytes);
  {
    Kept& k = kept();
    const std::lock_guard<std::mutex> hold(k.lock);
    for (auto it = k.blocks.rbegin(); it != k.blocks.rend(); ++it)
      if (it->first == size) {
        void* block = it->second;
        k.blocks.erase(std::next(it).base());
        k.bytes -= size;
        return block;
      }
  }
  return ::operator new(size);
}

void give_block(void* block, std::size_t bytes) {
  if (!CCROUTE_NODE_POOL || bytes < kReusedMin) return ::operator delete(block);
  const std::size_t size = block_size(bytes);
  if (size > kReusedMax) return ::operator delete(block);
  Kept& k = kept();
  const std::lock_guard<std::mutex> hold(k.lock);
  std::size_t oldest = 0;  // dropped to make room
  while (oldest < k.blocks.size() && (k.bytes + size > kReusedMax || k.blocks.size() - oldest == Kept::kBlocks)) {
    ::operator delete(k.blocks[oldest].second);
    k.bytes -= k.blocks[oldest++].first;
  }
  k.blocks.erase(k.blocks.begin(), k.blocks.begin() + static_cast<std::ptrdiff_t>(oldest));
  k.blocks.emplace_back(size, block);  // within the room reserved
  k.bytes += size;
}

// ------------------------------------------------------------------ random numbers

namespace {
std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
constexpr double kPi = 3.14159265358979323846;
}  // namespace

Random::Random(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
  for (auto& s : s_) s = splitmix64(x);
}

std::uint64_t Random::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0], s_[3] ^= s_[1], s_[1] ^= s_[2], s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Random::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Random::exponential(double mean) { return exponential(uniform(), mean); }

// -mean·ln(1 − u): 1 − u is exact for a uniform() (a multiple of 2^-53 below 1), and log
// takes well under half the time of log1p(−u), whose value it is; the two round apart in
// the last bit for ~7 % of draws.
double Random::exponential(double u, double mean) { return -mean * std::log(1.0 - u); }

Random::LogNormal::LogNormal(double mean, double cv) {
  const double sigma2 = std::log1p(cv * cv);
  mu = std::log(mean) - sigma2 / 2;
  sigma = std::sqrt(sigma2);
}

double Random::lognormal(const LogNormal& shape) {
  const double u1 = 1.0 - uniform(), u2 = uniform();  // u1 in (0, 1]: log is finite
  const double normal = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
  return std::exp(shape.mu + shape.sigma * normal);
}

std::size_t Random::pick_among(const std::vector<double>& cumulative) {
  const double u = uniform() * cumulative.back();
  const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
  return std::min<std::size_t>(it - cumulative.begin(), cumulative.size() - 1);
}

// ------------------------------------------------------------------ the day

namespace {

[[noreturn]] void bad(const std::string& message) { throw Error(ErrorKind::Config, message); }

void check(const Scenario& s) {
  const auto plans = s.routing.plans.size();
  if (!(s.interval > 0) || !std::isfinite(s.interval)) bad("interval must be > 0 seconds");
  if (s.n_intervals < 1) bad("a scenario needs at least one interval");
  if (s.demand.size() != plans) bad("one demand per plan is needed");
  for (std::size_t p = 0; p < plans; ++p) {
    const Demand& d = s.demand[p];
    const std::string plan = "plan " + s.routing.plans[p].name + ": ";
    if (d.rates.size() != static_cast<std::size_t>(s.n_intervals)) bad(plan + "one arrival rate per interval is needed");
    for (double r : d.rates)
      if (!(r >= 0) || !std::isfinite(r)) bad(plan + "arrival rates must be finite and >= 0");
    if (d.segments.empty()) bad(plan + "at least one caller segment is needed");
    for (const Segment& g : d.segments) {
      if (!(g.weight > 0)) bad(plan + "segment weights must be > 0");
      if (g.region < kNone || g.region >= s.routing.n_regions) bad(plan + "unknown region #" + std::to_string(g.region));
      if (g.language < kNone || g.language >= s.routing.n_skills) bad(plan + "unknown language #" + std::to_string(g.language));
      if (!(g.value_low <= g.value_high)) bad(plan + "value range is empty");
    }
    if (!(d.handle_mean > 0) || !std::isfinite(d.handle_mean)) bad(plan + "mean handle time must be > 0");
    if (!(d.handle_cv > 0) || !std::isfinite(d.handle_cv)) bad(plan + "handle time CV must be > 0");
    if (!(d.repeat_share >= 0 && d.repeat_share < 1)) bad(plan + "repeat share must be in [0, 1)");
    if (!(d.preferred_share >= 0 && d.preferred_share <= 1)) bad(plan + "preferred share must be in [0, 1]");
    if (!(d.preferred_wait >= 0)) bad(plan + "preferred wait must be >= 0");
  }
  for (const AgentGroup& g : s.groups) {
    if (g.count < 0) bad("agent counts must be >= 0");
    if (!(g.no_answer >= 0 && g.no_answer <= 1)) bad("no-answer probability must be in [0, 1]");
    if (g.no_answer > 0 && !s.routing.offer_timeout) bad("unanswered offers need an offer_timeout");
    for (const Shift& shift : g.shifts)
      if (!(shift.start < shift.end)) bad("a shift must end after it starts");
  }
  if (!(s.answer_delay >= 0) || !(s.no_answer_pause >= 0)) bad("answer delay and no-answer pause must be >= 0");
}

enum class Kind : std::uint8_t { Arrival, Login, Logout, Answer, Hangup, Abandon, Back };

// An event's time and the order it was scheduled in, as one unsigned number that sorts as
// (time, seq) does: the time's ordered_bits above the sequence number. A heap's sift
// compares these with two instructions and no branch, where doubles took a dozen.
using Due = unsigned __int128;
Due due_of(double time, std::uint64_t seq) { return Due{ordered_bits(time)} << 64 | seq; }
double time_of(Due due) { return from_ordered_bits(static_cast<std::uint64_t>(due >> 64)); }

struct Event {
  Due due;  // (time, seq): ties are taken in the order scheduled
  Kind kind;
  std::uint32_t subject;  // plan, agent or call (simulator index)
  std::uint32_t token;    // Answer: the offer it answers
  double time() const { return time_of(due); }
  bool before(const Event& o) const { return due < o.due; }
};

// The pending events, earliest first by (time, seq), a total order, so that the events come
// out in the same order as from any other priority queue. Two sources: the shifts' logins
// and logouts, all known before the day starts, sorted once and read in order; and a 4-ary
// min-heap of the events scheduled as the day goes (arrivals, answers, hang-ups...), whose
// pop is deferred: most events schedule another at once (an arrival the next arrival, a
// hang-up the call that takes the freed agent), and dropping that one into the root's hole
// costs one sift instead of the two of a pop and a push. Four children a node rather than
// two: a sift goes half as deep, and a level's three comparisons do not wait on each other
// where a binary heap's levels each waited on the last (more instructions, less time: the
// M/M/c of bench/peers ran ~1.5 % faster). The plan ends with a sentinel that no event comes
// before, the heap with kArity - 1 of them, so that a sift reads a node's children unchecked.
class Agenda {
 public:
  Agenda() : heap_(kArity - 1, never()), planned_(1, never()) {}
  // An event known before the day starts; all of them before the first top().
  void plan(const Event& e) { planned_.insert(planned_.end() - 1, e); }
  void close_plan() {
    std::sort(planned_.begin(), planned_.end() - 1, [](const Event& a, const Event& b) { return a.before(b); });
  }
  const Event& top() {  // the earliest event, or a sentinel at +inf if there is none
    if (hole_) settle();
    const Event& planned = planned_[next_planned_];
    from_plan_ = planned.before(heap_[0]);
    return from_plan_ ? planned : heap_[0];
  }
  void pop() {  // of the event top() returned
    if (from_plan_)
      ++next_planned_;
    else
      hole_ = true;
  }
  void push(const Event& e) {
    if (hole_) {
      hole_ = false;
      sift_down(e);
      return;
    }
    heap_.push_back(never());
    std::size_t i = n_++;
    while (i > 0) {
      const std::size_t parent = (i - 1) / kArity;
      if (!e.before(heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = e;
  }

 private:
  static constexpr std::size_t kArity = 4;
  static Event never() { return {due_of(INFINITY, ~std::uint64_t{0}), Kind::Arrival, 0, 0}; }
  void settle() {  // fill the root's hole with the last event
    hole_ = false;
    const Event last = heap_[--n_];
    heap_.pop_back();
    heap_[n_] = never();
    if (n_ > 0) sift_down(last);
  }
  void sift_down(const Event& e) {  // places e from the root down
    std::size_t i = 0;
    for (std::size_t child = 1; child < n_; child = kArity * i + 1) {  // the earliest of four, then e
      const std::size_t a = child + heap_[child + 1].before(heap_[child]);
      const std::size_t b = child + 2 + heap_[child + 3].before(heap_[child + 2]);
      child = heap_[b].before(heap_[a]) ? b : a;
      if (!heap_[child].before(e)) break;
      heap_[i] = heap_[child];
      i = child;
    }
    heap_[i] = e;
  }

  std::vector<Event> heap_;     // n_ events, then kArity - 1 sentinels
  std::size_t n_ = 0;
  bool hole_ = false;           // heap_[0] is an event already popped
  std::vector<Event> planned_;  // sorted, then the sentinel
  std::size_t next_planned_ = 0;
  bool from_plan_ = false;      // whether top() returned planned_[next_planned_]
};

struct Caller {
  CallRef ref = 0;
  bool live = false;
  std::uint32_t offers = 0;  // offers made so far; an Answer is for the latest only
  std::int32_t agent = -1;   // offered to or connected with
  double answered_at = 0;
};

struct Staff {
  std::int32_t group;
  std::int32_t call = -1;  // reserved for or talking to
  bool leaving = false;    // the shift ended during a call: log out after it
  double login = 0;        // when the agent last logged in
  double wrap_until = 0;   // end of the wrap-up counted as busy at hang-up
};

class Day {
 public:
  Day(const Scenario& s, std::uint64_t seed) : s_(s), router_(s.routing), staff_rng_(seed, 0) {
    horizon_ = s.interval * s.n_intervals;
    r_.busy.assign(static_cast<std::size_t>(s.n_intervals) * s.routing.n_sites, 0.0);
    r_.logged_in = r_.busy;
    for (const AgentGroup& g : s.groups) some_miss_ = some_miss_ || g.no_answer > 0;
    reserve_calls();
    for (std::size_t p = 0; p < s.demand.size(); ++p) {
      std::vector<double> cumulative;
      double total = 0;
      for (const Segment& g : s.demand[p].segments) cumulative.push_back(total += g.weight);
      segment_weights_.push_back(std::move(cumulative));
      handle_shapes_.emplace_back(s.demand[p].handle_mean, s.demand[p].handle_cv);
      callers_ahead_.emplace_back(seed, static_cast<std::uint32_t>(p));
      schedule_next_arrival(static_cast<std::uint32_t>(p));
    }
    add_staff();
    events_.close_plan();
  }

  Result run(const std::function<void(double)>& progress) {
    std::uint64_t reported = 0;
    while (true) {
      const auto due = router_.next_due();
      const Event e = events_.top();  // a sentinel at +inf when none is left
      const double t = e.time();
      if (due && *due < t && *due <= horizon_) {
        ++r_.events;
        call_router(Op::Advance, *due, -1, -1, [&] { router_.advance(*due, out_); });
        answer_pending(*due);
        continue;
      }
      if (t > horizon_) break;
      events_.pop();
      ++r_.events;
      handle(e, t);
      answer_pending(t);
      if (progress && r_.events - reported >= (1u << 16)) {
        reported = r_.events;
        progress(t / horizon_);
      }
    }
    finish();
    if (progress) progress(1.0);
    return std::move(r_);
  }

 private:
  void schedule(double time, Kind kind, std::uint32_t subject, std::uint32_t token = 0) {
    if (time > horizon_) return;  // would never be handled
    events_.push({due_of(time, ++scheduled_), kind, subject, token});
  }
  void schedule_shift(double time, Kind kind, AgentRef agent) {
    if (time > horizon_) return;
    events_.plan({due_of(time, ++scheduled_), kind, agent, 0});
  }

  // The per-call columns are sized ahead, to room for the calls the day is likely to bring
  // (their expected number plus a margin of five standard deviations), and written by index:
  // one check of the room per call rather than one per column, and no copy as they grow.
  void reserve_calls() {
    constexpr double kMaxReserved = 1 << 22;  // beyond, let the columns grow as needed
    double expected = 0;
    for (const Demand& d : s_.demand)
      for (double rate : d.rates) expected += rate * s_.interval;
    const auto n = static_cast<std::size_t>(std::min(expected + 5 * std::sqrt(expected) + 16, kMaxReserved));
    size_columns(n);
    if (s_.predict_waits) r_.predicted_wait.reserve(n);
    callers_.reserve(n);
    by_ref_.reserve(n);
  }
  template <class F>
  void for_each_call_column(F&& f) {
    f(r_.arrival), f(r_.wait), f(r_.handle), f(r_.value);
    f(r_.plan), f(r_.region), f(r_.language), f(r_.repeats), f(r_.preferred_agent), f(r_.agent);
    f(r_.outcome);
  }
  void size_columns(std::size_t n) {  // Column's resize leaves the new room unwritten
    for_each_call_column([n](auto& column) { column.resize(n); });
    room_ = n;
  }

  // Poisson arrivals with a rate constant within each interval: draw an exponential gap
  // at the current rate; if it crosses into the next interval, start afresh there
  // (memorylessness makes this exact). The time of the plan's next caller, or none
  // before the end of the day.
  std::optional<double> next_arrival(std::uint32_t plan, double from, Random& rng) const {
    const auto& rates = s_.demand[plan].rates;
    double t = from;
    while (true) {
      const auto k = static_cast<std::size_t>(t / s_.interval);
      if (k >= rates.size()) return std::nullopt;
      const double end = (k + 1) * s_.interval;
      if (rates[k] > 0) {
        const double candidate = t + rng.exponential(1.0 / rates[k]);
        if (candidate < end) return candidate;
      }
      t = end;
    }
  }

  // A caller as drawn from its plan's stream: a fixed number of draws per caller, in this
  // order, so that the same seed gives the same callers (times, attributes, handle times,
  // patience) under any routing.
  struct Drawn {
    double arrival, value, handle;
    double patience_draw;  // made a patience only if this plan's callers abandon
    double owner_draw;
    std::uint32_t segment;
    std::int32_t repeats;
    bool owned;
  };

  // The callers of a plan depend on its stream alone, so they are drawn a batch ahead, in
  // a loop of their own, where their draws (two logarithms each) overlap; in the event
  // loop each waited on the one before. They are scheduled one at a time as before, each
  // as the one before arrives, so their events keep their sequence numbers.
  struct Ahead {
    static constexpr std::uint32_t kBatch = 64;
    Ahead(std::uint64_t seed, std::uint32_t plan) : rng(seed, 1 + plan) {}
    Random rng;               // the plan's stream
    std::uint32_t drawn = 0;  // callers in batch
    std::uint32_t next = 0;   // index in batch of the plan's next caller
    double last = 0.0;        // arrival time of the last caller drawn
    bool done = false;        // no caller left before the end of the day
    std::array<Drawn, kBatch> batch;
  };

  void draw_ahead(std::uint32_t plan) {
    Ahead& a = callers_ahead_[plan];
    const Demand& d = s_.demand[plan];
    Random rng = a.rng;  // a copy, kept in registers
    double last = a.last;
    std::uint32_t n = 0;
    for (; n < Ahead::kBatch; ++n) {
      const std::optional<double> t = next_arrival(plan, last, rng);
      if (!t) {
        a.done = true;
        break;
      }
      Drawn& c = a.batch[n];
      c.arrival = last = *t;
      c.segment = static_cast<std::uint32_t>(rng.pick(segment_weights_[plan]));
      const Segment& g = d.segments[c.segment];
      c.value = g.value_low + (g.value_high - g.value_low) * rng.uniform();
      std::int32_t repeats = 0;
      while (repeats < 9 && rng.uniform() < d.repeat_share) ++repeats;  // geometric, capped
      c.repeats = repeats;
      c.handle = d.lognormal ? rng.lognormal(handle_shapes_[plan]) : rng.exponential(d.handle_mean);
      c.patience_draw = rng.uniform();
      c.owned = rng.uniform() < d.preferred_share;
      c.owner_draw = rng.uniform();
    }
    a.rng = rng;
    a.last = last;
    a.drawn = n;
    a.next = 0;
  }

  void schedule_next_arrival(std::uint32_t plan) {
    Ahead& a = callers_ahead_[plan];
    if (a.next == a.drawn) {
      if (a.done) return;
      draw_ahead(plan);
      if (a.drawn == 0) return;
    }
    schedule(a.batch[a.next].arrival, Kind::Arrival, plan);
  }

  void add_staff() {
    for (std::size_t g = 0; g < s_.groups.size(); ++g) {
      const AgentGroup& group = s_.groups[g];
      for (int i = 0; i < group.count; ++i) {
        const AgentRef a = router_.add_agent(group.site, group.skills, group.wrapup);
        staff_.push_back({static_cast<std::int32_t>(g), -1, false, 0.0});
        r_.agent_group.push_back(static_cast<std::int32_t>(g));
        for (const Shift& shift : group.shifts) {
          schedule_shift(std::max(shift.start, 0.0), Kind::Login, a);
          schedule_shift(shift.end, Kind::Logout, a);
        }
      }
    }
    r_.n_agents = static_cast<std::int32_t>(staff_.size());
    for (std::size_t p = 0; p < s_.routing.plans.size(); ++p) {  // who may own a case of this plan
      std::vector<std::uint32_t> owners;
      for (std::size_t a = 0; a < staff_.size(); ++a)
        if (holds(s_.groups[staff_[a].group].skills, s_.routing.plans[p].steps.front().require)) owners.push_back(a);
      case_owners_.push_back(std::move(owners));
    }
  }

  static bool holds(const std::vector<SkillLevel>& skills, const std::vector<SkillLevel>& need) {
    return std::all_of(need.begin(), need.end(), [&](const SkillLevel& n) {
      return std::any_of(skills.begin(), skills.end(),
                         [&](const SkillLevel& h) { return h.skill == n.skill && h.level >= n.level; });
    });
  }

  // Every router call goes through here: it is logged (if asked) and its offers acted on.
  template <class Call>
  void call_router(Op op, double t, std::int32_t call, std::int32_t agent, Call&& body) {
    out_.clear();
    body();
    if (s_.record_events) {
      r_.op.push_back(static_cast<std::int8_t>(op));
      r_.op_time.push_back(t);
      r_.op_call.push_back(call);
      r_.op_agent.push_back(agent);
    }
    for (const Offer& o : out_) offered(o);
  }

  void offered(const Offer& o) {
    const std::int32_t call = by_ref_[o.call];
    Caller& c = callers_[call];
    if (c.agent >= 0 && staff_[c.agent].call == call) staff_[c.agent].call = -1;  // timed out there
    c.agent = static_cast<std::int32_t>(o.agent);
    staff_[o.agent].call = call;
    ++c.offers;
    if (s_.record_events) {
      r_.offer_op.push_back(static_cast<std::int32_t>(r_.op.size()) - 1);
      r_.offer_call.push_back(call);
      r_.offer_agent.push_back(static_cast<std::int32_t>(o.agent));
      r_.offer_time.push_back(o.time);
    }
    if (some_miss_ && staff_rng_.uniform() < s_.groups[staff_[o.agent].group].no_answer) {
      // The router's offer time-out re-offers the call and sets the agent not ready.
      schedule(o.time + *s_.routing.offer_timeout + s_.no_answer_pause, Kind::Back, o.agent);
    } else if (s_.answer_delay > 0) {
      schedule(o.time + s_.answer_delay, Kind::Answer, static_cast<std::uint32_t>(call), c.offers);
    } else {  // answered on the spot: right after the router call that offered it
      answer_now_.push_back({static_cast<std::uint32_t>(call), c.offers});
    }
  }

  void answer_pending(double t) {
    for (std::size_t i = 0; i < answer_now_.size(); ++i) answer(answer_now_[i].first, answer_now_[i].second, t);
    answer_now_.clear();
  }

  void handle(const Event& e, double t) {
    switch (e.kind) {
      case Kind::Arrival: return arrive(e.subject, t);
      case Kind::Login:
        if (router_.agent_state(e.subject) == AgentState::Offline) {
          call_router(Op::Ready, t, -1, e.subject, [&] { router_.ready(e.subject, t, out_); });
          staff_[e.subject].login = t;
        }
        staff_[e.subject].leaving = false;
        return;
      case Kind::Logout: return leave(e.subject, t);
      case Kind::Back:
        if (router_.agent_state(e.subject) == AgentState::NotReady)
          call_router(Op::Ready, t, -1, e.subject, [&] { router_.ready(e.subject, t, out_); });
        return;
      case Kind::Answer: return answer(e.subject, e.token, t);
      case Kind::Hangup: return hangup(e.subject, t);
      case Kind::Abandon: return abandon(e.subject, t);
    }
  }

  void arrive(std::uint32_t plan, double t) {
    Ahead& ahead = callers_ahead_[plan];
    const Drawn& drawn = ahead.batch[ahead.next++];  // arriving at t
    const Demand& d = s_.demand[plan];
    const Segment& g = d.segments[drawn.segment];
    const double value = drawn.value, handle = drawn.handle;
    const std::int32_t repeats = drawn.repeats;

    CallSpec spec;
    spec.plan = static_cast<int>(plan);
    spec.region = g.region;
    spec.language = g.language;
    spec.value = value;
    spec.repeats = repeats;
    const auto& owners = case_owners_[plan];
    if (drawn.owned && !owners.empty()) {
      spec.preferred_agent = owners[std::min<std::size_t>(drawn.owner_draw * owners.size(), owners.size() - 1)];
      spec.preferred_wait = d.preferred_wait;
    }
    if (s_.predict_waits) {  // what an IVR would announce: for the caller, not its case owner
      CallSpec caller = spec;
      caller.preferred_agent = kNone;
      caller.preferred_wait = 0;
      r_.predicted_wait.push_back(router_.expected_wait(caller, t).value_or(NAN));
    }
    const auto call = static_cast<std::int32_t>(callers_.size());
    callers_.emplace_back();
    if (static_cast<std::size_t>(call) == room_) size_columns(2 * room_ + 1024);
    r_.arrival[call] = t;
    r_.plan[call] = static_cast<std::int32_t>(plan);
    r_.region[call] = g.region;
    r_.language[call] = g.language;
    r_.value[call] = value;
    r_.repeats[call] = repeats;
    r_.preferred_agent[call] = static_cast<std::int32_t>(spec.preferred_agent);
    r_.handle[call] = handle;
    r_.wait[call] = NAN;
    r_.agent[call] = -1;
    r_.outcome[call] = static_cast<std::int8_t>(Outcome::InSystem);

    call_router(Op::Arrive, t, call, -1, [&] {
      const CallRef ref = router_.arrive(spec, t, out_);
      if (ref >= by_ref_.size()) by_ref_.resize(ref + 1, -1);
      by_ref_[ref] = call;
      callers_[call].ref = ref;
      callers_[call].live = true;
    });
    if (d.patience_mean > 0 && std::isfinite(d.patience_mean))
      schedule(t + Random::exponential(drawn.patience_draw, 1.0) * d.patience_mean, Kind::Abandon,
               static_cast<std::uint32_t>(call));
    schedule_next_arrival(plan);  // after the use of drawn, which the next batch overwrites
  }

  void answer(std::uint32_t call, std::uint32_t token, double t) {
    Caller& c = callers_[call];
    if (!c.live || c.offers != token || router_.call_state(c.ref) != CallState::Offered) return;  // moved on
    call_router(Op::Accept, t, call, c.agent, [&] { router_.accept(c.ref, static_cast<AgentRef>(c.agent), t, out_); });
    c.answered_at = t;
    r_.wait[call] = t - r_.arrival[call];
    r_.agent[call] = c.agent;
    r_.outcome[call] = static_cast<std::int8_t>(Outcome::Answered);
    schedule(t + r_.handle[call], Kind::Hangup, call);
  }

  void hangup(std::uint32_t call, double t) {
    Caller& c = callers_[call];
    const auto agent = static_cast<AgentRef>(c.agent);
    call_router(Op::Hangup, t, call, c.agent, [&] { router_.hangup(c.ref, t, out_); });
    c.live = false;
    Staff& who = staff_[agent];
    if (who.call == static_cast<std::int32_t>(call)) who.call = -1;
    const std::optional<double>& own = s_.groups[who.group].wrapup;
    const double wrap = own ? *own : s_.routing.plans[r_.plan[call]].wrapup;
    who.wrap_until = who.leaving ? t : t + wrap;
    add_span(r_.busy, agent, c.answered_at, who.wrap_until);
    if (who.leaving) leave(agent, t);
  }

  void abandon(std::uint32_t call, double t) {
    Caller& c = callers_[call];
    if (!c.live || router_.call_state(c.ref) == CallState::Connected) return;
    const std::int32_t agent = router_.call_state(c.ref) == CallState::Offered ? c.agent : -1;
    if (agent >= 0) staff_[agent].call = -1;
    call_router(Op::Abandon, t, call, agent, [&] { router_.abandon(c.ref, t, out_); });
    c.live = false;
    r_.wait[call] = t - r_.arrival[call];
    r_.outcome[call] = static_cast<std::int8_t>(Outcome::Abandoned);
  }

  // End of a shift: log out now, or after the call in hand.
  void leave(AgentRef agent, double t) {
    Staff& who = staff_[agent];
    switch (router_.agent_state(agent)) {
      case AgentState::Offline: return;
      case AgentState::Busy: who.leaving = true; return;
      case AgentState::Wrapup:  // the shift's end cuts the wrap-up short: it was counted whole
        add_span(r_.busy, agent, t, who.wrap_until, -1.0);
        break;
      case AgentState::Reserved: {  // decline the ringing call: it keeps its place
        const std::int32_t call = who.call;
        who.call = -1;
        call_router(Op::Reject, t, call, static_cast<std::int32_t>(agent),
                    [&] { router_.reject(callers_[call].ref, agent, t, out_); });
        break;
      }
      default: break;
    }
    who.leaving = false;
    if (router_.agent_state(agent) != AgentState::Offline) {
      call_router(Op::Logout, t, -1, static_cast<std::int32_t>(agent), [&] { router_.logout(agent, t, out_); });
      add_span(r_.logged_in, agent, who.login, t);
    }
  }

  void add_span(Column<double>& per_interval_site, AgentRef agent, double from, double to, double sign = 1.0) {
    const int site = s_.groups[staff_[agent].group].site;
    to = std::min(to, horizon_);
    for (double t = from; t < to;) {
      const auto k = static_cast<std::size_t>(t / s_.interval);
      const double end = std::min(to, (k + 1) * s_.interval);
      per_interval_site[k * s_.routing.n_sites + site] += sign * (end - t);
      t = end;
    }
  }

  void finish() {  // calls and agents still there at the horizon: count their time so far
    for_each_call_column([n = callers_.size()](auto& column) { column.resize(n); });
    where_answered();
    for (AgentRef a = 0; a < staff_.size(); ++a)
      if (router_.agent_state(a) != AgentState::Offline) add_span(r_.logged_in, a, staff_[a].login, horizon_);
    for (std::size_t call = 0; call < callers_.size(); ++call)
      if (callers_[call].live && r_.outcome[call] == static_cast<std::int8_t>(Outcome::Answered))
        add_span(r_.busy, static_cast<AgentRef>(callers_[call].agent), callers_[call].answered_at, horizon_);
      else if (callers_[call].live)
        r_.wait[call] = horizon_ - r_.arrival[call];
  }

  void where_answered() {
    const std::size_t n = callers_.size();
    r_.site.resize(n), r_.home.resize(n), r_.in_language.resize(n);
    for (std::size_t call = 0; call < n; ++call) {
      const std::int32_t agent = r_.agent[call];
      if (agent < 0) {
        r_.site[call] = -1, r_.home[call] = 0, r_.in_language[call] = 0;
        continue;
      }
      const AgentGroup& group = s_.groups[staff_[agent].group];
      const int region = r_.region[call], language = r_.language[call];
      r_.site[call] = group.site;
      r_.home[call] = region != kNone && s_.routing.distance[region * s_.routing.n_sites + group.site] == 0;
      r_.in_language[call] = language != kNone && std::any_of(group.skills.begin(), group.skills.end(), [&](const SkillLevel& held) {
                               return held.skill == language;
                             });
    }
  }

  const Scenario& s_;
  Router router_;
  Random staff_rng_;  // draws only whether an offer is missed
  bool some_miss_ = false;  // whether any group misses offers: if none, staff_rng_ is not needed
  std::vector<Ahead> callers_ahead_;  // per plan: its stream and its callers drawn ahead
  std::vector<std::vector<double>> segment_weights_;
  std::vector<Random::LogNormal> handle_shapes_;  // per plan, used if its handle times are lognormal
  std::vector<std::vector<std::uint32_t>> case_owners_;
  Agenda events_;
  std::uint64_t scheduled_ = 0;
  std::vector<Staff> staff_;
  Column<Caller> callers_;
  std::vector<std::int32_t> by_ref_;
  std::vector<Offer> out_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> answer_now_;  // (call, offer) to accept at once
  std::size_t room_ = 0;  // calls the per-call columns have room for
  double horizon_;
  Result r_;
};

}  // namespace

Result simulate(const Scenario& scenario, std::uint64_t seed, const std::function<void(double)>& progress) {
  check(scenario);
  Day day(scenario, seed);
  return day.run(progress);
}

}  // namespace ccroute::sim
