// The C API of ccroute.h: converts C structs to the core's and exceptions to status codes.
// No rule lives here.
#include "ccroute.h"

#include <cmath>
#include <cstddef>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "router.hpp"

#ifndef CCROUTE_VERSION
#define CCROUTE_VERSION "unknown"
#endif

struct ccr_config {
  ccroute::Config core;
};

struct ccr_router {
  explicit ccr_router(ccroute::Config config) : core(std::move(config)) {}
  ccroute::Router core;
  std::vector<ccroute::Offer> offers;
  std::string snapshot;       // the bytes of the last ccr_snapshot
  mutable std::string error;  // also set by the read-only queries that fail
};

namespace {

// The message of the last failed call that had no router to keep it (building a config or a
// router, restoring one): ccr_last_error(NULL) reads it.
thread_local std::string no_router_error;

ccr_status status_of(ccroute::ErrorKind kind) {
  switch (kind) {
    case ccroute::ErrorKind::Config: return CCR_CONFIG_ERROR;
    case ccroute::ErrorKind::UnknownId: return CCR_UNKNOWN_ID;
    case ccroute::ErrorKind::DuplicateId: return CCR_DUPLICATE_ID;
    case ccroute::ErrorKind::InvalidArgument: return CCR_INVALID_ARGUMENT;
    case ccroute::ErrorKind::TimeOrder: return CCR_TIME_ORDER;
    case ccroute::ErrorKind::InvalidTransition: return CCR_INVALID_TRANSITION;
    case ccroute::ErrorKind::Restore: return CCR_RESTORE_ERROR;
  }
  return CCR_INTERNAL_ERROR;
}

// Runs `body`, turning any exception into a status and, when there is one, a message.
template <class Body>
ccr_status guarded(std::string* error, Body&& body) noexcept {
  try {
    body();
    if (error) error->clear();
    return CCR_OK;
  } catch (const ccroute::Error& e) {
    if (error) *error = e.what();
    return status_of(e.kind());
  } catch (const std::bad_alloc&) {
    if (error) *error = "out of memory";
    return CCR_NO_MEMORY;
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return CCR_INTERNAL_ERROR;
  }
}

// Refuses an argument found bad before the core is reached: like the core's refusals, with a
// message, so that ccr_last_error() names the bad value after every error status.
ccr_status refuse(std::string* error, ccr_status status, const std::string& message) noexcept {
  try {
    if (error) *error = message;
  } catch (...) {  // no memory for the message: the status still says what went wrong
  }
  return status;
}

// Inside mutate(): a NULL argument is refused there, so that the last call's offers are dropped too.
[[noreturn]] void bad_argument(const char* message) { throw ccroute::Error(ccroute::ErrorKind::InvalidArgument, message); }

// A mutating call: the previous offers are dropped, the new ones kept even on an error.
template <class Body>
ccr_status mutate(ccr_router* router, Body&& body) noexcept {
  if (!router) return CCR_INVALID_ARGUMENT;
  router->offers.clear();
  return guarded(&router->error, [&] { body(router->core, router->offers); });
}

std::vector<ccroute::SkillLevel> skill_levels(const ccr_skill_level* levels, size_t n) {
  std::vector<ccroute::SkillLevel> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back({levels[i].skill, levels[i].level});
  return out;
}

ccroute::CallSpec spec_of(const ccr_call& call) {
  ccroute::CallSpec spec;
  spec.plan = call.plan;
  spec.region = call.region;
  spec.language = call.language;
  spec.value = call.value;
  spec.priority = call.priority;
  spec.repeats = call.repeats;
  spec.preferred_agent = call.preferred_agent;
  spec.preferred_wait = call.preferred_wait;
  return spec;
}

}  // namespace

extern "C" {

const char* ccr_version(void) { return CCROUTE_VERSION; }

ccr_weights ccr_default_weights(void) {
  const ccroute::Weights w;
  return {w.proficiency, w.distance, w.breadth, w.idle};
}

ccr_plan ccr_default_plan(void) {
  const ccroute::PlanConfig p;
  return {p.base_priority, p.value_weight, p.repeat_weight, p.aging, p.sl_threshold, p.sl_target, p.wrapup};
}

ccr_call ccr_default_call(void) {
  const ccroute::CallSpec c;
  return {c.plan, c.region, c.language, c.value, c.priority, c.repeats, c.preferred_agent, c.preferred_wait};
}

ccr_status ccr_config_new(int n_sites, int n_regions, int n_skills, int default_distance, ccr_config** out) {
  if (!out) return refuse(&no_router_error, CCR_INVALID_ARGUMENT, "out is NULL");
  *out = nullptr;
  if (n_sites < 1 || n_sites > ccroute::kMaxSites || n_regions < 0 || n_skills < 0 || default_distance < 0)
    return refuse(&no_router_error, CCR_CONFIG_ERROR,
                  "n_sites must be 1.." + std::to_string(ccroute::kMaxSites) +
                      ", n_regions, n_skills and default_distance >= 0; got " + std::to_string(n_sites) + ", " +
                      std::to_string(n_regions) + ", " + std::to_string(n_skills) + ", " +
                      std::to_string(default_distance));
  return guarded(&no_router_error, [&] {
    auto* config = new ccr_config;
    config->core.n_sites = n_sites;
    config->core.n_regions = n_regions;
    config->core.n_skills = n_skills;
    config->core.distance.assign(static_cast<size_t>(n_regions) * n_sites, default_distance);
    *out = config;
  });
}

void ccr_config_free(ccr_config* config) { delete config; }

ccr_status ccr_config_set_distance(ccr_config* config, int region, int site, int tier) {
  if (!config) return refuse(&no_router_error, CCR_INVALID_ARGUMENT, "config is NULL");
  if (region < 0 || region >= config->core.n_regions || site < 0 || site >= config->core.n_sites)
    return refuse(&no_router_error, CCR_UNKNOWN_ID,
                  "unknown region #" + std::to_string(region) + " or site #" + std::to_string(site));
  if (tier < 0)
    return refuse(&no_router_error, CCR_CONFIG_ERROR, "distance tiers must be >= 0, got " + std::to_string(tier));
  config->core.distance[static_cast<size_t>(region) * config->core.n_sites + site] = tier;
  return CCR_OK;
}

ccr_status ccr_config_set_offer_timeout(ccr_config* config, double seconds) {
  if (!config || std::isnan(seconds))
    return refuse(&no_router_error, CCR_INVALID_ARGUMENT, config ? "offer_timeout is NaN" : "config is NULL");
  config->core.offer_timeout = seconds > 0 ? std::optional<double>(seconds) : std::nullopt;
  return CCR_OK;
}

ccr_status ccr_config_add_plan(ccr_config* config, const char* name, const ccr_plan* plan, const ccr_step* steps,
                               size_t n_steps, int* plan_out) {
  if (!config || !name || !plan || (!steps && n_steps))
    return refuse(&no_router_error, CCR_INVALID_ARGUMENT, "config, name, plan or steps is NULL");
  return guarded(&no_router_error, [&] {
    ccroute::PlanConfig p;
    p.name = name;
    p.base_priority = plan->base_priority;
    p.value_weight = plan->value_weight;
    p.repeat_weight = plan->repeat_weight;
    p.aging = plan->aging;
    p.sl_threshold = plan->sl_threshold;
    p.sl_target = plan->sl_target;
    p.wrapup = plan->wrapup;
    for (size_t i = 0; i < n_steps; ++i) {
      const ccr_step& s = steps[i];
      ccroute::StepConfig step;
      step.after = s.after;
      step.require = skill_levels(s.require, s.n_require);
      step.language_level = s.language_level;
      step.max_distance = s.max_distance;
      step.weights = {s.weights.proficiency, s.weights.distance, s.weights.breadth, s.weights.idle};
      p.steps.push_back(std::move(step));
    }
    config->core.plans.push_back(std::move(p));
    if (plan_out) *plan_out = static_cast<int>(config->core.plans.size()) - 1;
  });
}

ccr_status ccr_router_new(const ccr_config* config, ccr_router** out) {
  if (!config || !out) return refuse(&no_router_error, CCR_INVALID_ARGUMENT, "config or out is NULL");
  *out = nullptr;
  // The core validates the whole configuration (steps, weights, levels) when it is built.
  return guarded(&no_router_error, [&] { *out = new ccr_router(config->core); });
}

void ccr_router_free(ccr_router* router) { delete router; }

ccr_status ccr_snapshot(ccr_router* router, const void** data, size_t* size) {
  if (!router) return CCR_INVALID_ARGUMENT;
  if (!data || !size) return refuse(&router->error, CCR_INVALID_ARGUMENT, "data or size is NULL");
  return guarded(&router->error, [&] {
    router->snapshot = router->core.snapshot({});
    *data = router->snapshot.data();
    *size = router->snapshot.size();
  });
}

ccr_status ccr_router_restore(const ccr_config* config, const void* data, size_t size, ccr_router** out) {
  if (!config || !out || (!data && size))
    return refuse(&no_router_error, CCR_INVALID_ARGUMENT, "config, out or data is NULL");
  *out = nullptr;
  return guarded(&no_router_error, [&] {
    auto router = std::make_unique<ccr_router>(config->core);
    std::vector<std::string> no_keys;
    router->core.restore(std::string_view(static_cast<const char*>(data), size), no_keys);
    *out = router.release();
  });
}

const char* ccr_last_error(const ccr_router* router) {
  return router ? router->error.c_str() : no_router_error.c_str();
}

ccr_status ccr_add_agent(ccr_router* router, int site, const ccr_skill_level* skills, size_t n_skills, double wrapup,
                         uint32_t* agent_out) {
  return mutate(router, [&](ccroute::Router& core, auto&) {
    if (!skills && n_skills) bad_argument("skills is NULL");
    const auto own_wrapup = wrapup < 0 ? std::nullopt : std::optional<double>(wrapup);
    const ccroute::AgentRef agent = core.add_agent(site, skill_levels(skills, n_skills), own_wrapup);
    if (agent_out) *agent_out = agent;
  });
}

ccr_status ccr_arrive(ccr_router* router, const ccr_call* call, double now, uint32_t* call_out) {
  return mutate(router, [&](ccroute::Router& core, auto& offers) {
    if (!call) bad_argument("call is NULL");
    const ccroute::CallRef ref = core.arrive(spec_of(*call), now, offers);
    if (call_out) *call_out = ref;
  });
}

ccr_status ccr_ready(ccr_router* router, uint32_t agent, double now) {
  return mutate(router, [&](ccroute::Router& core, auto& offers) { core.ready(agent, now, offers); });
}

ccr_status ccr_not_ready(ccr_router* router, uint32_t agent, double now, const char* reason) {
  return mutate(router, [&](ccroute::Router& core, auto& offers) {
    core.not_ready(agent, now, reason ? reason : "", offers);
  });
}

ccr_status ccr_logout(ccr_router* router, uint32_t agent, double now) {
  return mutate(router, [&](ccroute::Router& core, auto& offers) { core.logout(agent, now, offers); });
}

ccr_status ccr_accept(ccr_router* router, uint32_t call, uint32_t agent, double now) {
  return mutate(router, [&](ccroute::Router& core, auto& offers) { core.accept(call, agent, now, offers); });
}

ccr_status ccr_reject(ccr_router* router, uint32_t call, uint32_t agent, double now) {
  return mutate(router, [&](ccroute::Router& core, auto& offers) { core.reject(call, agent, now, offers); });
}

ccr_status ccr_abandon(ccr_router* router, uint32_t call, double now) {
  return mutate(router, [&](ccroute::Router& core, auto& offers) { core.abandon(call, now, offers); });
}

ccr_status ccr_hangup(ccr_router* router, uint32_t call, double now) {
  return mutate(router, [&](ccroute::Router& core, auto& offers) { core.hangup(call, now, offers); });
}

ccr_status ccr_advance(ccr_router* router, double now) {
  return mutate(router, [&](ccroute::Router& core, auto& offers) { core.advance(now, offers); });
}

ccr_status ccr_set_skills(ccr_router* router, uint32_t agent, int site, const ccr_skill_level* skills, size_t n_skills,
                          double now) {
  return mutate(router, [&](ccroute::Router& core, auto& offers) {
    if (!skills && n_skills) bad_argument("skills is NULL");
    const auto new_site = site == CCR_NONE ? std::nullopt : std::optional<int>(site);
    const auto levels = skills ? std::optional(skill_levels(skills, n_skills)) : std::nullopt;
    core.set_skills(agent, new_site, levels, now, offers);
  });
}

ccr_status ccr_remove_agent(ccr_router* router, uint32_t agent, double now) {
  return mutate(router, [&](ccroute::Router& core, auto& offers) { core.remove_agent(agent, now, offers); });
}

ccr_status ccr_transfer(ccr_router* router, uint32_t call, int plan, double now) {
  return mutate(router, [&](ccroute::Router& core, auto& offers) { core.transfer(call, plan, now, offers); });
}

ccr_status ccr_reprioritize(ccr_router* router, uint32_t call, const double* value, const double* priority,
                            double now) {
  return mutate(router, [&](ccroute::Router& core, auto& offers) {
    core.reprioritize(call, value ? std::optional(*value) : std::nullopt,
                      priority ? std::optional(*priority) : std::nullopt, now, offers);
  });
}

ccr_status ccr_reconfigure(ccr_router* router, const ccr_config* config, const int* plan_map, const int* site_map,
                           const int* region_map, double now) {
  return mutate(router, [&](ccroute::Router& core, auto& offers) {
    if (!config) bad_argument("config is NULL");
    const ccroute::Config& old = core.config();
    auto map = [](const int* entries, std::size_t n, const char* what) {
      if (!entries && n) bad_argument(what);
      return std::vector<int>(entries, entries + n);
    };
    core.reconfigure(config->core, map(plan_map, old.plans.size(), "plan_map is NULL"),
                     map(site_map, static_cast<std::size_t>(old.n_sites), "site_map is NULL"),
                     map(region_map, static_cast<std::size_t>(old.n_regions), "region_map is NULL"), now, offers);
  });
}

const ccr_offer* ccr_offers(const ccr_router* router, size_t* n_offers) {
  static_assert(sizeof(ccr_offer) == sizeof(ccroute::Offer), "ccr_offer mirrors ccroute::Offer");
  static_assert(offsetof(ccr_offer, time) == offsetof(ccroute::Offer, time), "ccr_offer mirrors ccroute::Offer");
  if (n_offers) *n_offers = router ? router->offers.size() : 0;
  return router ? reinterpret_cast<const ccr_offer*>(router->offers.data()) : nullptr;
}

int ccr_next_due(const ccr_router* router, double* due) {
  if (!router) return 0;
  const auto next = router->core.next_due();
  if (next && due) *due = *next;
  return next ? 1 : 0;
}

ccr_status ccr_agent_state_of(const ccr_router* router, uint32_t agent, ccr_agent_state* out) {
  if (!router) return CCR_INVALID_ARGUMENT;
  if (!out) return refuse(&router->error, CCR_INVALID_ARGUMENT, "out is NULL");
  return guarded(&router->error, [&] { *out = static_cast<ccr_agent_state>(router->core.agent_state(agent)); });
}

ccr_status ccr_call_state_of(const ccr_router* router, uint32_t call, ccr_call_state* out) {
  if (!router) return CCR_INVALID_ARGUMENT;
  if (!out) return refuse(&router->error, CCR_INVALID_ARGUMENT, "out is NULL");
  return guarded(&router->error, [&] { *out = static_cast<ccr_call_state>(router->core.call_state(call)); });
}

ccr_status ccr_stats(const ccr_router* router, double now, ccr_plan_stats* out, size_t n_plans) {
  if (!router) return CCR_INVALID_ARGUMENT;
  if (!out) return refuse(&router->error, CCR_INVALID_ARGUMENT, "out is NULL");
  return guarded(&router->error, [&] {
    const auto stats = router->core.stats(now);
    if (n_plans < stats.size())
      throw ccroute::Error(ccroute::ErrorKind::InvalidArgument,
                           "room for " + std::to_string(n_plans) + " plans, the config has " +
                               std::to_string(stats.size()));
    for (size_t i = 0; i < stats.size(); ++i)
      out[i] = {stats[i].arrived,  stats[i].answered, stats[i].abandoned,
                stats[i].answered_within, stats[i].waiting, stats[i].wait_sum,
                stats[i].oldest_wait.value_or(-1.0), stats[i].handle_time.value_or(-1.0),
                stats[i].answer_time.value_or(-1.0)};
  });
}

ccr_status ccr_stats_by_site(const ccr_router* router, ccr_site_stats* out, size_t n_sites) {
  if (!router) return CCR_INVALID_ARGUMENT;
  if (!out) return refuse(&router->error, CCR_INVALID_ARGUMENT, "out is NULL");
  return guarded(&router->error, [&] {
    const auto stats = router->core.site_stats();
    if (n_sites < stats.size())
      throw ccroute::Error(ccroute::ErrorKind::InvalidArgument,
                           "room for " + std::to_string(n_sites) + " sites, the config has " +
                               std::to_string(stats.size()));
    using ccroute::AgentState;
    for (size_t i = 0; i < stats.size(); ++i) {
      const auto& s = stats[i];
      auto agents = [&](AgentState state) { return s.agents[static_cast<int>(state)]; };
      out[i] = {agents(AgentState::Offline), agents(AgentState::Ready), agents(AgentState::Reserved),
                agents(AgentState::Busy), agents(AgentState::Wrapup), agents(AgentState::NotReady),
                s.tally.answered, s.tally.answered_within, s.tally.wait_sum, s.tally.handled,
                s.tally.handle_sum};
    }
  });
}

ccr_status ccr_expected_wait(const ccr_router* router, const ccr_call* call, double now, double* wait) {
  if (!router) return CCR_INVALID_ARGUMENT;
  if (!call) return refuse(&router->error, CCR_INVALID_ARGUMENT, "call is NULL");
  if (!wait) return refuse(&router->error, CCR_INVALID_ARGUMENT, "wait is NULL");
  return guarded(&router->error, [&] { *wait = router->core.expected_wait(spec_of(*call), now).value_or(-1.0); });
}

}  // extern "C"
