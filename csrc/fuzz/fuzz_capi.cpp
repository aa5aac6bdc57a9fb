// libFuzzer target over the C API (ccroute.h): the fuzzer's bytes are a program of C API calls.
//
// Each input builds a configuration from fuzzed counts, distances, plans, steps and weights
// (NaN, infinities, huge, negative and out-of-range values among them), builds a router from
// it, then runs fuzzed router calls: agents and calls by any handle, times that are NaN,
// infinite or go backwards, answers from the wrong agent, garbage queries, snapshots restored
// as taken or with fuzzed bytes. After every call it checks what ccroute.h promises:
//
//  * the status is a ccr_status; ccr_last_error() is a NUL-terminated message, empty after
//    success and naming something after an error;
//  * an error changed nothing: a twin router that is sent only the calls that succeeded is in
//    the same state (every agent and call, statistics, next timer, snapshot bytes) and made the
//    same offers. For CCR_INVALID_TRANSITION the twin is sent an advance to the same `now`,
//    since a refused transition is checked after the timers due by `now` fired;
//  * the core's invariants hold (Router::check_invariants) in both routers;
//  * a snapshot restores to a router in the same state, which then goes on as the original
//    (it replaces the original for the rest of the program); a snapshot with fuzzed bytes is
//    refused, or restores to a router whose invariants hold.
//
// Any broken promise aborts with a message, which libFuzzer reports as a crash with its input.
//
// This file compiles capi.cpp into itself to reach the core behind a ccr_router (its
// invariants and views): the C API has no debugging hook, and should not need one.
#include <fuzzer/FuzzedDataProvider.h>

#include <cfloat>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "../capi.cpp"
#include "../codec.hpp"

namespace {

[[noreturn]] void broken(const char* format, ...) {
  std::va_list args;
  va_start(args, format);
  std::fputs("fuzz_capi: promise broken: ", stderr);
  std::vfprintf(stderr, format, args);
  std::fputc('\n', stderr);
  va_end(args);
  std::abort();
}

#define EXPECT(cond, ...) \
  do {                    \
    if (!(cond)) broken(__VA_ARGS__); \
  } while (0)

// CCROUTE_FUZZ_TRACE=1 prints each call and its status: the story of a crashing input.
const bool tracing = std::getenv("CCROUTE_FUZZ_TRACE") != nullptr;

bool same(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }  // bit for bit

// What a C caller can observe of a router, plus what the core shows a wallboard.
struct Seen {
  std::vector<ccr_status> agent_status, call_status;
  std::vector<int> agent_states, call_states;
  std::vector<ccr_plan_stats> stats;
  std::vector<ccr_site_stats> site_stats;
  int has_due = 0;
  double due = 0;
  std::vector<ccroute::CallView> calls;
  std::vector<ccroute::AgentView> agents;
  std::vector<std::string> reasons;
  std::string snapshot;
};

void expect_message(const ccr_router* router, ccr_status status, const char* op) {
  const char* message = ccr_last_error(router);
  EXPECT(message != nullptr, "%s: ccr_last_error is NULL", op);
  const std::size_t length = std::strlen(message);  // ASan: must end within its buffer
  EXPECT((status == CCR_OK) == (length == 0), "%s: status %d with message '%s'", op, status, message);
}

Seen observe(ccr_router* router) {
  Seen seen;
  const ccroute::Router& core = router->core;
  const uint32_t n_agents = static_cast<uint32_t>(core.n_agents());
  for (uint32_t a = 0; a <= n_agents + 1; ++a) {  // one past the end must be refused
    ccr_agent_state state = CCR_AGENT_OFFLINE;
    const ccr_status s = ccr_agent_state_of(router, a, &state);
    EXPECT((s == CCR_OK) == (a < n_agents), "agent_state_of(%u) of %u agents: %d", a, n_agents, s);
    expect_message(router, s, "agent_state_of");
    seen.agent_status.push_back(s);
    seen.agent_states.push_back(s == CCR_OK ? static_cast<int>(state) : -1);
  }
  core.call_views(seen.calls);
  uint32_t handles = 0;
  for (const auto& v : seen.calls) handles = std::max(handles, v.call + 1);
  for (uint32_t c = 0; c <= handles + 1; ++c) {
    ccr_call_state state = CCR_CALL_WAITING;
    const ccr_status s = ccr_call_state_of(router, c, &state);
    expect_message(router, s, "call_state_of");
    seen.call_status.push_back(s);
    seen.call_states.push_back(s == CCR_OK ? static_cast<int>(state) : -1);
  }
  ccr_call_state ignored;
  EXPECT(ccr_call_state_of(router, 0xFFFFFFFFu, &ignored) == CCR_UNKNOWN_ID, "call_state_of(kNoCall)");
  core.agent_views(seen.agents);
  for (uint32_t a = 0; a < n_agents; ++a) {
    const std::string* reason = core.agent_reason(a);
    seen.reasons.push_back(reason ? "!" + *reason : "");
  }
  const double last = core.last_time();
  const double now = std::isfinite(last) ? last : 0.0;
  const std::size_t n_plans = core.config().plans.size();
  seen.stats.resize(n_plans);
  const ccr_status s = ccr_stats(router, now, seen.stats.data(), n_plans);
  EXPECT(s == CCR_OK, "stats at the last time %g: %d %s", now, s, ccr_last_error(router));
  // Nothing is lost (DESIGN.md §4.6): every call that arrived is waiting, offered, answered or abandoned.
  std::vector<int64_t> waiting(n_plans), offered(n_plans);
  for (const ccroute::CallView& v : seen.calls) {
    EXPECT(v.plan >= 0 && static_cast<std::size_t>(v.plan) < n_plans, "a call of plan %d", v.plan);
    waiting[v.plan] += v.state == ccroute::CallState::Waiting;
    offered[v.plan] += v.state == ccroute::CallState::Offered;
  }
  for (std::size_t p = 0; p < n_plans; ++p) {
    const ccr_plan_stats& t = seen.stats[p];
    EXPECT(t.waiting == waiting[p], "plan %zu: stats count %" PRId64 " waiting, %" PRId64 " calls wait", p, t.waiting,
           waiting[p]);
    EXPECT(t.arrived == t.waiting + offered[p] + t.answered + t.abandoned,
           "plan %zu loses calls: arrived %" PRId64 ", waiting %" PRId64 ", offered %" PRId64 ", answered %" PRId64
           ", abandoned %" PRId64,
           p, t.arrived, t.waiting, offered[p], t.answered, t.abandoned);
    EXPECT(t.answered_within >= 0 && t.answered_within <= t.answered, "plan %zu: answered within > answered", p);
  }
  seen.site_stats.resize(static_cast<std::size_t>(core.config().n_sites));
  EXPECT(ccr_stats_by_site(router, seen.site_stats.data(), seen.site_stats.size()) == CCR_OK, "site stats: %s",
         ccr_last_error(router));
  int64_t counted = 0;
  for (const ccr_site_stats& t : seen.site_stats) {
    counted += t.offline + t.ready + t.reserved + t.busy + t.wrapup + t.not_ready;
    EXPECT(t.answered_within >= 0 && t.answered_within <= t.answered && t.handled >= 0 && t.wait_sum >= 0 &&
               t.handle_sum >= 0,
           "site statistics out of range");
  }
  EXPECT(counted == static_cast<int64_t>(seen.agents.size()), "sites count %" PRId64 " agents, %zu are in",
         counted, seen.agents.size());
  seen.has_due = ccr_next_due(router, &seen.due);
  seen.snapshot = core.snapshot({});
  return seen;
}

void expect_same(const Seen& a, const Seen& b, const char* op) {
  EXPECT(a.agent_status == b.agent_status && a.agent_states == b.agent_states, "%s: agent states differ", op);
  EXPECT(a.call_status == b.call_status && a.call_states == b.call_states, "%s: call states differ", op);
  EXPECT(a.stats.size() == b.stats.size(), "%s: plan counts differ", op);
  for (std::size_t i = 0; i < a.stats.size(); ++i) {
    const ccr_plan_stats &x = a.stats[i], &y = b.stats[i];
    EXPECT(x.arrived == y.arrived && x.answered == y.answered && x.abandoned == y.abandoned &&
               x.answered_within == y.answered_within && x.waiting == y.waiting && same(x.wait_sum, y.wait_sum) &&
               same(x.oldest_wait, y.oldest_wait),
           "%s: stats of plan %zu differ", op, i);
  }
  EXPECT(a.site_stats.size() == b.site_stats.size(), "%s: site counts differ", op);
  for (std::size_t i = 0; i < a.site_stats.size(); ++i) {
    const ccr_site_stats &x = a.site_stats[i], &y = b.site_stats[i];
    EXPECT(x.offline == y.offline && x.ready == y.ready && x.reserved == y.reserved && x.busy == y.busy &&
               x.wrapup == y.wrapup && x.not_ready == y.not_ready && x.answered == y.answered &&
               x.answered_within == y.answered_within && same(x.wait_sum, y.wait_sum) && x.handled == y.handled &&
               same(x.handle_sum, y.handle_sum),
           "%s: stats of site %zu differ", op, i);
  }
  EXPECT(a.has_due == b.has_due && (!a.has_due || same(a.due, b.due)), "%s: next due differs", op);
  EXPECT(a.calls.size() == b.calls.size(), "%s: live calls differ", op);
  for (std::size_t i = 0; i < a.calls.size(); ++i) {
    const ccroute::CallView &x = a.calls[i], &y = b.calls[i];
    EXPECT(x.call == y.call && x.plan == y.plan && x.state == y.state && same(x.since, y.since) && x.step == y.step &&
               same(x.arrival, y.arrival) && x.agent == y.agent,
           "%s: call %u differs", op, x.call);
  }
  EXPECT(a.agents.size() == b.agents.size(), "%s: agents differ", op);
  for (std::size_t i = 0; i < a.agents.size(); ++i) {
    const ccroute::AgentView &x = a.agents[i], &y = b.agents[i];
    EXPECT(x.agent == y.agent && x.site == y.site && x.state == y.state && same(x.since, y.since) && x.call == y.call,
           "%s: agent %u differs", op, x.agent);
  }
  EXPECT(a.reasons == b.reasons, "%s: not-ready reasons differ", op);
  EXPECT(a.snapshot == b.snapshot, "%s: snapshots differ", op);
}

void check_invariants(const ccr_router* router, const char* op) {
  try {
    router->core.check_invariants();
  } catch (const std::exception& e) {
    broken("%s: %s", op, e.what());
  }
}

std::vector<ccr_offer> offers_of(const ccr_router* router) {
  std::size_t n = 0;
  const ccr_offer* offers = ccr_offers(router, &n);
  EXPECT(n == 0 || offers != nullptr, "ccr_offers: NULL with %zu offers", n);
  return std::vector<ccr_offer>(offers, offers + n);
}

bool same_offers(const std::vector<ccr_offer>& a, const std::vector<ccr_offer>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].call != b[i].call || a[i].agent != b[i].agent || !same(a[i].time, b[i].time)) return false;
  return true;
}

class Program {
 public:
  explicit Program(FuzzedDataProvider& in) : in_(in) {}

  ~Program() {
    ccr_router_free(primary_);
    ccr_router_free(twin_);
    ccr_config_free(config_);
  }

  void run() {
    if (!configure()) return;
    for (int ops = 0; ops < 300 && in_.remaining_bytes() > 0; ++ops) operate();
  }

 private:
  // ------------------------------------------------------------------ values

  bool rarely() { return in_.ConsumeIntegralInRange<int>(0, 15) == 0; }

  // A number for a weight, a value, a priority: mostly small dyadic, sometimes anything.
  double number() {
    static const double usual[] = {0.0, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 20.0, -0.5, -1.0, -2.0};
    if (!rarely()) return usual[in_.ConsumeIntegralInRange<std::size_t>(0, std::size(usual) - 1)];
    return garbage_number();
  }

  double garbage_number() {
    switch (in_.ConsumeIntegralInRange<int>(0, 10)) {
      case 0: return NAN;
      case 1: return INFINITY;
      case 2: return -INFINITY;
      case 3: return DBL_MAX;
      case 4: return -DBL_MAX;
      case 5: return DBL_MIN / 4;  // subnormal
      case 6: return -0.0;
      case 7: return 1e300;
      case 8: return -1e300;
      case 9: return 9007199254740993.0;  // 2^53 + 1 rounds: beyond exact integers
      default: return in_.ConsumeFloatingPoint<double>();
    }
  }

  // A count or index in [lo, hi], or now and then one outside it.
  // An empty range [lo, lo - 1] (no regions, say) gives only values outside it.
  int index(int lo, int hi) {
    if (hi >= lo && !rarely()) return in_.ConsumeIntegralInRange<int>(lo, hi);
    static const int odd[] = {-1, -2, INT32_MIN, INT32_MAX, 0, 65535, 65536};
    const int pick = in_.ConsumeIntegralInRange<int>(0, static_cast<int>(std::size(odd)));
    return pick < static_cast<int>(std::size(odd)) ? odd[pick] : hi + 1;
  }

  double last_time() const {
    const double t = primary_->core.last_time();
    return std::isfinite(t) ? t : 0.0;
  }

  // The `now` of an operation: mostly a little later than the last, sometimes not a time.
  double time() {
    static const double deltas[] = {0.0, 0.0, 0.25, 1.0, 2.5, 5.0, 12.5, 20.0, 30.0, 120.0};
    const double now = last_time();
    if (!rarely()) return now + deltas[in_.ConsumeIntegralInRange<std::size_t>(0, std::size(deltas) - 1)];
    switch (in_.ConsumeIntegralInRange<int>(0, 4)) {
      case 0: return now - 1.0;
      case 1: return std::nextafter(now, -INFINITY);  // the smallest step back
      case 2: return -now - 1.0;
      default: return garbage_number();
    }
  }

  uint32_t garbage_handle(uint32_t n) {
    static const uint32_t odd[] = {0xFFFFFFFFu, 0xFFFFFFFEu, 0x80000000u, 0x7FFFFFFFu};
    const int pick = in_.ConsumeIntegralInRange<int>(0, 5);
    if (pick < 4) return odd[pick];
    return pick == 4 ? n : in_.ConsumeIntegral<uint32_t>();
  }

  uint32_t agent() {
    const uint32_t n = static_cast<uint32_t>(primary_->core.n_agents());
    if (n && !rarely()) return in_.ConsumeIntegralInRange<uint32_t>(0, n - 1);
    return garbage_handle(n);
  }

  // A live call, preferably one in `state` (when >= 0), or a handle that is not live.
  uint32_t call(int state = -1) {
    std::vector<ccroute::CallView> calls;
    primary_->core.call_views(calls);
    std::vector<uint32_t> fitting;
    for (const auto& v : calls)
      if (state < 0 || static_cast<int>(v.state) == state) fitting.push_back(v.call);
    if (fitting.empty() || rarely()) {
      if (!calls.empty() && in_.ConsumeBool()) return calls[in_.ConsumeIntegralInRange<std::size_t>(0, calls.size() - 1)].call;
      return garbage_handle(static_cast<uint32_t>(calls.size()));
    }
    return fitting[in_.ConsumeIntegralInRange<std::size_t>(0, fitting.size() - 1)];
  }

  std::vector<ccr_skill_level> levels(int n_skills, std::size_t most) {
    std::vector<ccr_skill_level> out(in_.ConsumeIntegralInRange<std::size_t>(0, most));
    for (ccr_skill_level& held : out) {
      held.skill = rarely() ? in_.ConsumeIntegral<uint16_t>()
                            : static_cast<uint16_t>(in_.ConsumeIntegralInRange<int>(0, std::max(n_skills - 1, 0)));
      held.level = rarely() ? in_.ConsumeIntegral<uint8_t>() : in_.ConsumeIntegralInRange<uint8_t>(1, 10);
    }
    return out;
  }

  // ----------------------------------------------------------- configuration

  // A fuzzed configuration (nullptr if refused), with at least `min_skills` skills.
  ccr_config* build_config(int min_skills) {
    const int n_sites = index(1, 5);
    const int n_regions = std::min(index(0, 4), 4096);  // a table of n_regions × n_sites is the caller's to size
    const int n_skills = min_skills + in_.ConsumeIntegralInRange<int>(0, 5);  // index() may be odd, and would overflow
    ccr_config* config = nullptr;
    ccr_status s = ccr_config_new(n_sites, n_regions, n_skills, index(0, 3), &config);
    expect_message(nullptr, s, "config_new");
    if (s != CCR_OK) {
      EXPECT(config == nullptr, "config_new failed but returned a config");
      return nullptr;
    }
    for (int i = in_.ConsumeIntegralInRange<int>(0, 6); i > 0; --i) {
      const int region = index(0, n_regions - 1), site = index(0, n_sites - 1), tier = index(0, 3);
      s = ccr_config_set_distance(config, region, site, tier);
      const bool valid = region >= 0 && region < n_regions && site >= 0 && site < n_sites && tier >= 0;
      EXPECT((s == CCR_OK) == valid, "set_distance(%d, %d, %d): %d", region, site, tier, s);
    }
    if (in_.ConsumeBool()) {
      const double timeout = rarely() ? garbage_number() : 5.0 * in_.ConsumeIntegralInRange<int>(0, 4);
      s = ccr_config_set_offer_timeout(config, timeout);
      EXPECT((s == CCR_OK) == !std::isnan(timeout), "set_offer_timeout(%g): %d", timeout, s);
    }
    for (int p = in_.ConsumeIntegralInRange<int>(0, 3); p > 0; --p) add_plan(config, n_skills);
    return config;
  }

  // The counts the picks draw from: those of the router's configuration (a reconfiguration changes them).
  void learn_counts() {
    const ccroute::Config& c = primary_->core.config();
    n_sites_ = c.n_sites;
    n_regions_ = c.n_regions;
    n_skills_ = c.n_skills;
  }

  bool configure() {
    config_ = build_config(0);
    if (!config_) return false;
    const ccr_status s = ccr_router_new(config_, &primary_);
    expect_message(nullptr, s, "router_new");
    if (s != CCR_OK) {
      EXPECT(primary_ == nullptr, "router_new failed but returned a router");
      return false;
    }
    EXPECT(ccr_router_new(config_, &twin_) == CCR_OK, "a config that built one router did not build another");
    check_invariants(primary_, "router_new");
    learn_counts();
    return true;
  }

  void add_plan(ccr_config* config, int n_skills) {
    ccr_plan plan = ccr_default_plan();
    double* fields[] = {&plan.base_priority, &plan.value_weight, &plan.repeat_weight, &plan.aging,
                        &plan.sl_threshold, &plan.sl_target, &plan.wrapup};
    for (double* field : fields)
      if (in_.ConsumeBool()) *field = number();
    std::vector<ccr_step> steps(in_.ConsumeIntegralInRange<std::size_t>(0, 4));
    std::vector<std::vector<ccr_skill_level>> required(steps.size());
    double after = 0.0;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      ccr_step& step = steps[i];
      after += i == 0 ? 0.0 : 5.0 * in_.ConsumeIntegralInRange<int>(1, 4);
      step.after = rarely() ? garbage_number() : after;
      required[i] = levels(n_skills, 3);
      step.require = required[i].data();
      step.n_require = required[i].size();
      step.language_level = index(0, 10);
      step.max_distance = in_.ConsumeBool() ? CCR_NONE : index(0, 3);
      step.weights = ccr_default_weights();
      double* weights[] = {&step.weights.proficiency, &step.weights.distance, &step.weights.breadth,
                           &step.weights.idle};
      for (double* w : weights)
        if (in_.ConsumeBool()) *w = number();
    }
    static const char* names[] = {"card", "vip", "", "a very long plan name to be copied, not referenced"};
    std::string name = names[in_.ConsumeIntegralInRange<int>(0, 3)];
    int plan_out = -7;
    const ccr_status s = ccr_config_add_plan(config, name.c_str(), &plan, steps.data(), steps.size(), &plan_out);
    name.assign(name.size(), 'x');  // the config must have copied it
    expect_message(nullptr, s, "config_add_plan");
    EXPECT(s == CCR_OK, "config_add_plan: %d (the router checks the plan)", s);
    EXPECT(plan_out == static_cast<int>(config->core.plans.size()) - 1, "config_add_plan: plan number %d", plan_out);
  }

  // -------------------------------------------------------------- operations

  // Runs `call` on the primary router and checks the outcome against the twin (see the top).
  template <class Call>
  void step(const char* op, double now, Call&& call) {
    const ccr_status s = call(primary_);
    if (tracing) std::fprintf(stderr, "%s now=%.17g -> %d %s\n", op, now, s, ccr_last_error(primary_));
    EXPECT(s >= CCR_OK && s <= CCR_RESTORE_ERROR, "%s: status %d is no ccr_status", op, s);
    expect_message(primary_, s, op);
    const std::vector<ccr_offer> offers = offers_of(primary_);
    if (s == CCR_OK) {
      const ccr_status t = call(twin_);
      EXPECT(t == CCR_OK, "%s: succeeded on the router, failed (%d) on its twin: %s", op, t, ccr_last_error(twin_));
      EXPECT(same_offers(offers, offers_of(twin_)), "%s: offers differ from the twin's", op);
    } else if (s == CCR_INVALID_TRANSITION) {
      const ccr_status t = ccr_advance(twin_, now);
      EXPECT(t == CCR_OK, "%s refused as a transition at now=%g, which the twin cannot reach: %s", op, now,
             ccr_last_error(twin_));
      EXPECT(same_offers(offers, offers_of(twin_)), "%s refused: offers differ from the timers' of the twin", op);
    } else {
      EXPECT(offers.empty(), "%s: refused (%d: %s) with %zu offers", op, s, ccr_last_error(primary_), offers.size());
    }
    check_invariants(primary_, op);
    check_invariants(twin_, op);
    expect_same(observe(primary_), observe(twin_), op);
  }

  void operate() {
    switch (in_.ConsumeIntegralInRange<int>(0, 20)) {
      case 0: {
        const int site = index(0, n_sites_ - 1);
        const std::vector<ccr_skill_level> skills = levels(n_skills_, 4);
        const double wrapup = in_.ConsumeBool() ? -1.0 : number();
        const bool null_skills = rarely();
        uint32_t ids[2] = {0xDEADu, 0xBEEFu};
        int which = 0;
        step("add_agent", last_time(), [&](ccr_router* r) {
          return ccr_add_agent(r, site, null_skills ? nullptr : skills.data(), null_skills ? 1 : skills.size(), wrapup,
                               &ids[which++]);
        });
        EXPECT(which < 2 || ids[0] == ids[1], "add_agent: handles differ from the twin's");
        break;
      }
      case 1:
      case 2: {
        ccr_call spec = ccr_default_call();
        const int n_plans = static_cast<int>(config_->core.plans.size());
        spec.plan = index(0, n_plans - 1);
        spec.region = in_.ConsumeBool() ? CCR_NONE : index(0, n_regions_ - 1);
        spec.language = in_.ConsumeBool() ? CCR_NONE : index(0, n_skills_ - 1);
        spec.value = number();
        spec.priority = in_.ConsumeBool() ? 0.0 : number();
        spec.repeats = rarely() ? in_.ConsumeIntegral<int64_t>() : in_.ConsumeIntegralInRange<int64_t>(0, 3);
        if (in_.ConsumeBool()) {
          spec.preferred_agent = rarely() ? in_.ConsumeIntegral<int64_t>() : static_cast<int64_t>(agent());
          spec.preferred_wait = rarely() ? garbage_number() : 5.0 * in_.ConsumeIntegralInRange<int>(0, 4);
        }
        const bool null_spec = rarely();
        const double now = time();
        uint32_t ids[2] = {0xDEADu, 0xBEEFu};
        int which = 0;
        step("arrive", now, [&](ccr_router* r) { return ccr_arrive(r, null_spec ? nullptr : &spec, now, &ids[which++]); });
        EXPECT(which < 2 || ids[0] == ids[1], "arrive: handles differ from the twin's");
        break;
      }
      case 3:
      case 4: {
        const uint32_t a = agent();
        const double now = time();
        step("ready", now, [&](ccr_router* r) { return ccr_ready(r, a, now); });
        break;
      }
      case 5: {
        const uint32_t a = agent();
        const double now = time();
        const std::string reason = in_.ConsumeRandomLengthString(64);
        const bool null_reason = in_.ConsumeBool();
        step("not_ready", now, [&](ccr_router* r) { return ccr_not_ready(r, a, now, null_reason ? nullptr : reason.c_str()); });
        break;
      }
      case 6: {
        const uint32_t a = agent();
        const double now = time();
        step("logout", now, [&](ccr_router* r) { return ccr_logout(r, a, now); });
        break;
      }
      case 7:
      case 8: {  // accept or reject, mostly by the agent holding the offer
        const uint32_t c = call(static_cast<int>(ccroute::CallState::Offered));
        uint32_t a = agent();
        if (primary_->core.call_live(c) && in_.ConsumeIntegralInRange<int>(0, 3) > 0) {
          const auto view = primary_->core.call_view(c);
          if (view.agent >= 0) a = static_cast<uint32_t>(view.agent);
        }
        const double now = time();
        if (in_.ConsumeBool())
          step("accept", now, [&](ccr_router* r) { return ccr_accept(r, c, a, now); });
        else
          step("reject", now, [&](ccr_router* r) { return ccr_reject(r, c, a, now); });
        break;
      }
      case 9: {
        const uint32_t c = call(in_.ConsumeBool() ? static_cast<int>(ccroute::CallState::Waiting) : -1);
        const double now = time();
        step("abandon", now, [&](ccr_router* r) { return ccr_abandon(r, c, now); });
        break;
      }
      case 10:
      case 11: {
        const uint32_t c = call(static_cast<int>(ccroute::CallState::Connected));
        const double now = time();
        step("hangup", now, [&](ccr_router* r) { return ccr_hangup(r, c, now); });
        break;
      }
      case 12: {
        double now = time();
        if (in_.ConsumeBool()) ccr_next_due(primary_, &now);  // exactly when the next timer is due
        step("advance", now, [&](ccr_router* r) { return ccr_advance(r, now); });
        break;
      }
      case 13: query(); break;
      case 14: snapshot_and_restore(); break;
      case 15: restore_fuzzed(); break;
      case 16: {  // live changes (ccroute.h): a supervisor at work
        const uint32_t a = agent();
        const int site = in_.ConsumeBool() ? CCR_NONE : index(0, n_sites_ - 1);
        const bool keep = in_.ConsumeBool();
        const std::vector<ccr_skill_level> skills = levels(n_skills_, 4);
        const double now = time();
        step("set_skills", now, [&](ccr_router* r) {
          return ccr_set_skills(r, a, site, keep ? nullptr : skills.data(), keep ? 0 : skills.size(), now);
        });
        break;
      }
      case 17: {
        const uint32_t a = agent();
        const double now = time();
        step("remove_agent", now, [&](ccr_router* r) { return ccr_remove_agent(r, a, now); });
        break;
      }
      case 18: {
        const uint32_t c = call(static_cast<int>(ccroute::CallState::Waiting));
        const int plan = index(0, static_cast<int>(primary_->core.config().plans.size()) - 1);
        const double now = time();
        step("transfer", now, [&](ccr_router* r) { return ccr_transfer(r, c, plan, now); });
        break;
      }
      case 19: {
        const uint32_t c = call();
        const double value = number(), priority = number();
        const bool set_value = in_.ConsumeBool(), set_priority = in_.ConsumeBool();
        const double now = time();
        step("reprioritize", now, [&](ccr_router* r) {
          return ccr_reprioritize(r, c, set_value ? &value : nullptr, set_priority ? &priority : nullptr, now);
        });
        break;
      }
      default: reconfigure(); break;
    }
  }

  // A new configuration, with maps from the old plans, sites and regions that may drop or
  // misnumber them: refused with nothing changed, or applied to both routers alike.
  void reconfigure() {
    const ccroute::Config& old = primary_->core.config();
    ccr_config* next = build_config(old.n_skills);
    if (!next) return;
    const int n_plans = static_cast<int>(next->core.plans.size());
    auto map = [&](int from, int to) {
      std::vector<int> m(static_cast<std::size_t>(from));
      for (std::size_t i = 0; i < m.size(); ++i)
        m[i] = in_.ConsumeIntegralInRange<int>(0, 7) == 0 ? CCR_NONE
                                                            : index(0, to - 1);  // sometimes out of range
      return m;
    };
    const std::vector<int> plans = map(static_cast<int>(old.plans.size()), n_plans);
    const std::vector<int> sites = map(old.n_sites, next->core.n_sites);
    const std::vector<int> regions = map(old.n_regions, next->core.n_regions);
    const bool null_maps = rarely();
    const double now = time();
    step("reconfigure", now, [&](ccr_router* r) {
      return ccr_reconfigure(r, next, null_maps ? nullptr : plans.data(), sites.data(), regions.data(), now);
    });
    if (primary_->core.config().plans.size() == next->core.plans.size() &&
        primary_->core.config_tag() == ccroute::fingerprint(next->core)) {  // applied: snapshots now need it
      ccr_config_free(config_);
      config_ = next;
      learn_counts();
    } else {
      ccr_config_free(next);
    }
  }

  // Queries with garbage arguments change nothing and do not disturb the last offers.
  void query() {
    const Seen before = observe(primary_);
    const std::vector<ccr_offer> offers = offers_of(primary_);
    const std::size_t n_plans = config_->core.plans.size();
    // Exactly as many entries as asked for, so that ASan sees a write past them.
    const std::size_t room = in_.ConsumeIntegralInRange<std::size_t>(0, n_plans + 1);
    std::unique_ptr<ccr_plan_stats[]> stats(new ccr_plan_stats[std::max<std::size_t>(room, 1)]);
    const double now = time();
    ccr_status s = ccr_stats(primary_, now, stats.get(), room);
    expect_message(primary_, s, "stats");
    const bool valid_time = std::isfinite(now) && now >= primary_->core.last_time();
    EXPECT(s != CCR_OK || (room >= n_plans && valid_time), "stats(room %zu, now %g): %d", room, now, s);
    ccr_agent_state as;
    s = ccr_agent_state_of(primary_, agent(), in_.ConsumeBool() ? &as : nullptr);
    expect_message(primary_, s, "agent_state_of");
    ccr_call_state cs;
    s = ccr_call_state_of(primary_, call(), &cs);
    expect_message(primary_, s, "call_state_of");
    EXPECT(ccr_stats(primary_, 0.0, nullptr, n_plans) == CCR_INVALID_ARGUMENT, "stats into NULL");
    const std::size_t n_sites = static_cast<std::size_t>(primary_->core.config().n_sites);
    const std::size_t site_room = in_.ConsumeIntegralInRange<std::size_t>(0, n_sites + 1);
    std::unique_ptr<ccr_site_stats[]> site_stats(new ccr_site_stats[std::max<std::size_t>(site_room, 1)]);
    s = ccr_stats_by_site(primary_, site_stats.get(), site_room);
    expect_message(primary_, s, "site_stats");
    EXPECT((s == CCR_OK) == (site_room >= n_sites), "site_stats(room %zu): %d", site_room, s);
    EXPECT(ccr_stats_by_site(primary_, nullptr, n_sites) == CCR_INVALID_ARGUMENT, "site stats into NULL");
    EXPECT(ccr_next_due(primary_, nullptr) == before.has_due, "next_due(NULL)");
    EXPECT(same_offers(offers, offers_of(primary_)), "a query changed the offers");
    expect_same(before, observe(primary_), "query");
  }

  // A snapshot restores to a router in the same state, which replaces the original: the rest
  // of the program checks that it goes on as the original would (the twin is not restored).
  void snapshot_and_restore() {
    const void* data = nullptr;
    std::size_t size = 0;
    ccr_status s = ccr_snapshot(primary_, &data, &size);
    EXPECT(s == CCR_OK, "snapshot: %d %s", s, ccr_last_error(primary_));
    const std::string blob(static_cast<const char*>(data), size);
    ccr_router* restored = nullptr;
    s = ccr_router_restore(config_, blob.data(), blob.size(), &restored);
    EXPECT(s == CCR_OK, "restore of a fresh snapshot: %d %s", s, ccr_last_error(nullptr));
    check_invariants(restored, "restore");
    const Seen before = observe(primary_);
    expect_same(before, observe(restored), "restore");
    ccr_router_free(primary_);
    primary_ = restored;
  }

  // A snapshot with fuzzed bytes is refused with a status, or restores to a consistent router.
  // The CRC is mostly recomputed, so that the fuzzer reaches the fields behind it.
  void restore_fuzzed() {
    const void* data = nullptr;
    std::size_t size = 0;
    EXPECT(ccr_snapshot(primary_, &data, &size) == CCR_OK, "snapshot");
    std::string blob(static_cast<const char*>(data), size);
    for (int edits = in_.ConsumeIntegralInRange<int>(1, 4); edits > 0 && !blob.empty(); --edits) {
      const std::size_t at = in_.ConsumeIntegralInRange<std::size_t>(0, blob.size() - 1);
      switch (in_.ConsumeIntegralInRange<int>(0, 3)) {
        case 0: blob[at] = static_cast<char>(in_.ConsumeIntegral<uint8_t>()); break;
        case 1: blob.resize(at); break;
        case 2: blob.insert(at, in_.ConsumeRandomLengthString(8)); break;
        default: {  // overwrite with a value of a field's width
          const uint64_t x = in_.ConsumeIntegral<uint64_t>();
          blob.replace(at, std::min<std::size_t>(8, blob.size() - at), reinterpret_cast<const char*>(&x),
                       std::min<std::size_t>(8, blob.size() - at));
        }
      }
    }
    constexpr std::size_t kHeader = 24;
    if (blob.size() >= kHeader && in_.ConsumeIntegralInRange<int>(0, 7) > 0) {
      const uint64_t payload = blob.size() - kHeader;
      const uint32_t crc = ccroute::codec::crc32(blob.data() + kHeader, payload);
      std::memcpy(&blob[12], &crc, 4);
      std::memcpy(&blob[16], &payload, 8);
    }
    ccr_router* restored = nullptr;
    const ccr_status s = ccr_router_restore(config_, blob.data(), blob.size(), &restored);
    expect_message(nullptr, s, "restore");
    if (s != CCR_OK) {
      EXPECT(s == CCR_RESTORE_ERROR, "restore of corrupt bytes: status %d (%s), not CCR_RESTORE_ERROR", s,
             ccr_last_error(nullptr));
      EXPECT(restored == nullptr, "restore failed but returned a router");
      return;
    }
    check_invariants(restored, "restore of edited bytes");
    observe(restored);
    const double due = restored->core.next_due().value_or(last_time());
    ccr_advance(restored, std::isfinite(due) ? due : last_time());
    check_invariants(restored, "advance after a restore of edited bytes");
    ccr_router_free(restored);
  }

  FuzzedDataProvider& in_;
  ccr_config* config_ = nullptr;
  ccr_router* primary_ = nullptr;
  ccr_router* twin_ = nullptr;
  int n_sites_ = 0, n_regions_ = 0, n_skills_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Program(in).run();
  return 0;
}
