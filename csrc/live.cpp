// Live changes: what supervisors do during the day, without a restart. Each is checked in
// full before anything changes, then applied through the same rules as any other event.
#include <algorithm>
#include <cmath>

#include "router.hpp"

namespace ccroute {

void Router::set_skills(AgentRef ref, std::optional<int> site, const std::optional<std::vector<SkillLevel>>& skills,
                        double now, std::vector<Offer>& out) {
  Agent& agent = agent_at(ref);
  const Profile& old = profiles_[agent.profile];
  std::vector<SkillLevel> held;
  if (skills) {
    held = *skills;
  } else {
    for (std::size_t s = 0; s < old.levels.size(); ++s)
      if (old.levels[s]) held.push_back({static_cast<SkillRef>(s), old.levels[s]});
  }
  const int new_site = site.value_or(old.site);
  std::vector<std::uint8_t> levels = levels_of(new_site, held);
  begin(now, out);
  const bool ready = agent.state == AgentState::Ready;
  if (ready) unlist_ready(ref);
  profiles_[agent.profile].members -= 1;
  agent.profile = profile_of(new_site, std::move(levels));
  profiles_[agent.profile].members += 1;
  if (ready) {  // routed as if it had just become ready, keeping its idle time and state's start
    const double since = agent.since;
    make_ready(ref, now);
    if (agent.state == AgentState::Ready) agent.since = since;
  }
  for (const SkillLevel& h : held) journal_skill(h.skill);
  record(JournalOp::SetSkills, now, [&](RecordWriter& w) {
    w.varint(ref);
    w.zigzag(new_site);
    write_skills(w, held);
  });
}

void Router::remove_agent(AgentRef ref, double now, std::vector<Offer>& out) {
  Agent& agent = agent_at(ref);
  begin(now, out);
  require(agent.state != AgentState::Reserved && agent.state != AgentState::Busy, [&] {
    return "agent " + name(Entity::Agent, ref) + " is " + state_name(agent.state) + " with call " +
           name(Entity::Call, agent.call) + "; remove it once the call has ended";
  });
  if (agent.state == AgentState::Ready) unlist_ready(ref);
  agent.timer = 0;
  profiles_[agent.profile].members -= 1;
  agent.state = AgentState::Removed;
  agent.since = now;
  agent.reason.clear();
  record(JournalOp::RemoveAgent, now, [&](RecordWriter& w) { w.varint(ref); });
}

void Router::transfer(CallRef ref, int plan, double now, std::vector<Offer>& out) {
  Call& call = call_at(ref);
  if (plan < 0 || plan >= static_cast<int>(config_.plans.size()))
    fail(ErrorKind::UnknownId, "unknown plan #" + std::to_string(plan));
  begin(now, out);
  require(call.state == CallState::Waiting, [&] {
    return "call " + name(Entity::Call, ref) + " is " + state_name(call.state) + "; only a waiting call is transferred";
  });
  leave_queue(call);
  tallies_[call.plan].arrived -= 1;  // a transferred call counts for the plan it is in
  tallies_[plan].arrived += 1;
  call.plan = plan;
  call.standing = standing_priority(call);
  const std::uint64_t order = call.order;
  enqueue(ref, now);
  record(JournalOp::Transfer, now, [&](RecordWriter& w) {
    w.varint(order);
    w.varint(static_cast<std::uint32_t>(plan));
  });
}

void Router::reprioritize(CallRef ref, std::optional<double> value, std::optional<double> priority, double now,
                          std::vector<Offer>& out) {
  Call& call = call_at(ref);
  if (value) check_finite("value", *value);
  if (priority) check_finite("priority", *priority);
  begin(now, out);
  require(call.state != CallState::Connected,
          [&] { return "call " + name(Entity::Call, ref) + " is connected; its priority no longer matters"; });
  const bool queued = call.queue != kNone;
  if (queued) queue_erase(call);
  call.value = value.value_or(call.value);
  call.priority = priority.value_or(call.priority);
  call.standing = standing_priority(call);
  if (queued) queue_insert(call.queue, call, ref);  // same queue, same timer: only its place moves
  record(JournalOp::Reprioritize, now, [&](RecordWriter& w) {
    w.varint(call.order);
    w.u8(value.has_value());
    w.f64(value.value_or(0.0));
    w.u8(priority.has_value());
    w.f64(priority.value_or(0.0));
  });
}

std::vector<SkillRef> Router::skills_in_use() const {
  std::vector<bool> used(skill_names_.size(), false);
  for (const Agent& agent : agents_)
    if (agent.state != AgentState::Removed) {
      const Profile& p = profiles_[agent.profile];
      for (std::size_t s = 0; s < p.levels.size(); ++s) used[s] = used[s] || p.levels[s] > 0;
    }
  for (const Call& call : calls_)
    if (call.live && call.language != kNone) used[call.language] = true;
  std::vector<SkillRef> skills;
  for (std::size_t s = 0; s < used.size(); ++s)
    if (used[s]) skills.push_back(static_cast<SkillRef>(s));
  return skills;
}

void Router::reconfigure(Config config, const std::vector<int>& plans, const std::vector<int>& sites,
                         const std::vector<int>& regions, double now, std::vector<Offer>& out,
                         std::string_view document) {
  Router checked(config);  // validates the configuration as a router would
  auto bad = [](const std::string& message) { throw Error(ErrorKind::Config, message); };
  if (plans.size() != config_.plans.size() || sites.size() != static_cast<std::size_t>(config_.n_sites) ||
      regions.size() != static_cast<std::size_t>(config_.n_regions))
    bad("reconfigure: the maps must have one entry per old plan, site and region");
  auto mapped = [](const std::vector<int>& map, int to_size) {
    return std::all_of(map.begin(), map.end(), [&](int x) { return x >= kNone && x < to_size; });
  };
  if (!mapped(plans, static_cast<int>(config.plans.size())) || !mapped(sites, config.n_sites) ||
      !mapped(regions, config.n_regions))
    bad("reconfigure: a map points outside the new configuration");
  std::vector<int> old_plan_of(config.plans.size(), kNone);  // each new plan takes the tallies of one old plan at most
  for (std::size_t p = 0; p < plans.size(); ++p) {
    if (plans[p] == kNone) continue;
    if (old_plan_of[plans[p]] != kNone)
      bad("reconfigure: plans " + name(Entity::Plan, static_cast<std::uint32_t>(old_plan_of[plans[p]])) + " and " + name(Entity::Plan, static_cast<std::uint32_t>(p)) +
          " both map to new plan #" + std::to_string(plans[p]));
    old_plan_of[plans[p]] = static_cast<int>(p);
  }
  if (config.n_skills < config_.n_skills) bad("reconfigure: skills cannot be forgotten (agents may hold them)");
  for (CallRef ref = 0; ref < calls_.size(); ++ref) {
    const Call& call = calls_[ref];
    if (!call.live) continue;
    if (plans[call.plan] == kNone)
      bad("plan " + name(Entity::Plan, call.plan) + " of call " + name(Entity::Call, ref) +
          " is not in the new configuration");
    if (call.region != kNone && regions[call.region] == kNone)
      bad("region " + name(Entity::Region, call.region) + " of call " + name(Entity::Call, ref) +
          " is not in the new configuration");
  }
  for (AgentRef ref = 0; ref < agents_.size(); ++ref)
    if (agents_[ref].state != AgentState::Removed && sites[profiles_[agents_[ref].profile].site] == kNone)
      bad("site " + name(Entity::Site, profiles_[agents_[ref].profile].site) + " of agent " + name(Entity::Agent, ref) +
          " is not in the new configuration");
  begin(now, out);  // the timers due by now fire under the old plans

  std::vector<PlanStats> tallies(config.plans.size());
  for (std::size_t p = 0; p < plans.size(); ++p)
    if (plans[p] != kNone) tallies[plans[p]] = tallies_[p];
  std::vector<SiteTally> site_tallies(config.n_sites);  // a site gone takes its tallies; sites merged add theirs
  for (std::size_t s = 0; s < sites.size(); ++s)
    if (sites[s] != kNone) site_tallies[sites[s]] += site_tallies_[s];
  for (std::size_t s = skill_names_.size(); s < config.skill_names.size(); ++s) skill_names_.push_back(config.skill_names[s]);
  skill_names_.resize(config.n_skills);
  std::vector<std::pair<int, std::vector<std::uint8_t>>> agent_profiles;  // (site, levels) under the new numbering
  for (const Agent& agent : agents_) {
    const Profile& p = profiles_[agent.profile];
    agent_profiles.emplace_back(std::max(sites[p.site], 0), p.levels);  // a removed agent's site may be gone
  }
  config_ = std::move(config);
  lay_out_steps();
  tallies_ = std::move(tallies);
  site_tallies_ = std::move(site_tallies);
  config_tag_ = fingerprint(config_);
  config_document_ = document;
  profiles_.clear();
  profile_index_.clear();
  queues_.clear();
  heads_.clear();
  index_queues(16);
  for (AgentRef ref = 0; ref < agents_.size(); ++ref) {
    Agent& agent = agents_[ref];
    agent.preferred_queues.clear();
    agent.profile = profile_of(agent_profiles[ref].first, std::move(agent_profiles[ref].second));
    if (agent.state != AgentState::Removed) profiles_[agent.profile].members += 1;
    if (agent.state == AgentState::Ready) list_ready(ref);
  }
  std::vector<CallRef> waiting;
  for (CallRef ref = 0; ref < calls_.size(); ++ref) {
    Call& call = calls_[ref];
    if (!call.live) continue;
    call.plan = plans[call.plan];
    if (call.region != kNone) call.region = regions[call.region];
    call.standing = standing_priority(call);
      call.queue = kNone;
    const int last_step = static_cast<int>(config_.plans[call.plan].steps.size()) - 1;
    if (call.state == CallState::Waiting) {
      waiting.push_back(ref);
      call.timer = 0;  // its steps are those of its new plan: enqueue starts its timer again
    } else {
      call.phase = static_cast<std::int16_t>(std::min<int>(call.phase, last_step));  // an offered call keeps its step while it rings
    }
  }
  rebuild_timers();  // the lanes are laid out for the new plans' steps
  // Rule 1's order: the most urgent call first takes the agent that fits it best.
  std::sort(waiting.begin(), waiting.end(), [&](CallRef a, CallRef b) {
    const Call& x = calls_[a];
    const Call& y = calls_[b];
    const double px = priority(x, now), py = priority(y, now);
    if (px != py) return px > py;
    return x.arrival != y.arrival ? x.arrival < y.arrival : x.order < y.order;
  });
  for (CallRef ref : waiting) enqueue(ref, now);
  record(JournalOp::Reconfigure, now, [&](RecordWriter& w) { w.bytes(config_document_); });
  if (journal_) journal_->forget_skill_names();  // the skills may be numbered anew
}

}  // namespace ccroute
