// Explanations: why a call stands where it does. Read-only, off the decision path; they
// restate the terms the rules add (router.cpp), never decide anything themselves.
#include <algorithm>

#include "router.hpp"

namespace ccroute {

PriorityTerms Router::priority_terms(const Call& call, double t) const {
  const PlanConfig& plan = config_.plans[call.plan];
  PriorityTerms p;
  p.base = plan.base_priority;
  p.value = plan.value_weight * call.value;
  p.repeats = plan.repeat_weight * static_cast<double>(call.repeats);
  p.extra = call.priority;
  p.aging = plan.aging * (t - call.arrival);
  p.total = priority(call, t);  // the very sum the rules compare
  return p;
}

// Two waiting calls compete when some agent (ready or not, not removed) would be admitted for both.
bool Router::competes(int a, int b) const {
  const Queue& qa = queues_[a];
  const Queue& qb = queues_[b];
  auto preferred = [&](const Queue& q) { return static_cast<AgentRef>(q.key.sites_or_agent); };
  auto admits_profile = [&](const Queue& q, int profile) {
    return std::find(q.profiles.begin(), q.profiles.end(), profile) != q.profiles.end();
  };
  const bool pa = qa.key.phase == kPreferred, pb = qb.key.phase == kPreferred;
  if ((pa && agents_[preferred(qa)].state == AgentState::Removed) ||
      (pb && agents_[preferred(qb)].state == AgentState::Removed))
    return false;
  if (pa && pb) return preferred(qa) == preferred(qb);
  if (pa) return admits_profile(qb, agents_[preferred(qa)].profile);
  if (pb) return admits_profile(qa, agents_[preferred(qb)].profile);
  for (int p : qa.profiles)
    if (profiles_[p].members > 0 && admits_profile(qb, p)) return true;
  return false;
}

Explanation Router::explain(CallRef ref, double now, std::size_t n_agents) const {
  check_time(now);
  Explanation e;
  e.call = call_view(ref);
  const Call& call = calls_[ref];
  e.next_step_at = next_phase_start(call);
  e.priority = priority_terms(call, now);
  if (call.state == CallState::Waiting) {  // rule 1's order among the calls it competes with
    const int own = call.queue;
    e.rank = 1;
    for (std::size_t q = 0; q < queues_.size(); ++q) {
      if (queues_[q].calls.empty() || !competes(own, static_cast<int>(q))) continue;
      for (const QueueEntry& other : queues_[q].calls) {
        if (other.call == ref) continue;
        e.competing += 1;
        const double p = priority(other, static_cast<int>(q), now);
        const double arrival = calls_[other.call].arrival;
        if (p > e.priority.total ||
            (p == e.priority.total && (arrival < call.arrival || (arrival == call.arrival && other.order < call.order))))
          e.rank += 1;
      }
    }
  }

  // Rule 2's candidates: the ready agents the call's step admits, best first.
  if (n_agents == 0) return e;
  if (call.phase == kPreferred) {
    const AgentRef preferred = static_cast<AgentRef>(call.preferred_agent);
    if (agents_[preferred].state == AgentState::Ready)
      e.agents.push_back(AgentScore{preferred, agents_[preferred].ready_since, ScoreTerms{}});
    else
      e.unmet.push_back(Unmet{Requirement::PreferredAgent, static_cast<std::int32_t>(preferred), 0});
    return e;
  }
  const QueueKey key = key_for(call);  // an offered call has left its queue: its step's admission all the same
  for (const Profile& profile : profiles_)
    if (!profile.ready.empty() && admits(key, profile))
      for (const ReadyEntry& ready : profile.ready)
        e.agents.push_back(AgentScore{ready.agent, ready.since(), score_terms(call, profile, ready.since(), now)});
  auto better = [](const AgentScore& a, const AgentScore& b) {
    if (a.score.total != b.score.total) return a.score.total > b.score.total;
    return a.ready_since != b.ready_since ? a.ready_since < b.ready_since : a.agent < b.agent;
  };
  const std::size_t shown = std::min(n_agents, e.agents.size());
  std::partial_sort(e.agents.begin(), e.agents.begin() + static_cast<std::ptrdiff_t>(shown), e.agents.end(), better);
  e.agents.resize(shown);
  if (!e.agents.empty()) return e;

  // None admitted: which of the step's requirements no ready agent meets on its own.
  const StepConfig& step = config_.plans[call.plan].steps[call.phase];
  std::vector<const Profile*> ready;
  for (const Profile& profile : profiles_)
    if (!profile.ready.empty()) ready.push_back(&profile);
  if (ready.empty()) {
    e.unmet.push_back(Unmet{Requirement::AnyReadyAgent, kNone, 0});
    return e;
  }
  auto nobody = [&](auto meets) { return std::none_of(ready.begin(), ready.end(), [&](const Profile* p) { return meets(*p); }); };
  for (const SkillLevel& need : step.require)
    if (nobody([&](const Profile& p) { return p.level(need.skill) >= need.level; }))
      e.unmet.push_back(Unmet{Requirement::Skill, need.skill, need.level});
  if (step.language_level > 0 && call.language != kNone &&
      nobody([&](const Profile& p) { return p.level(call.language) >= step.language_level; }))
    e.unmet.push_back(Unmet{Requirement::Language, call.language, step.language_level});
  if (step.max_distance != kNone &&
      nobody([&](const Profile& p) { return distance(call.region, p.site) <= step.max_distance; }))
    e.unmet.push_back(Unmet{Requirement::Distance, call.region, step.max_distance});
  if (e.unmet.empty()) e.unmet.push_back(Unmet{Requirement::AllAtOnce, kNone, 0});
  return e;
}

// README, "Expected wait". At each step of its plan a caller waits at least until the step starts; if
// no agent the step admits is ready, it waits for the calls ahead of it (at least its
// priority) that those agents would also take, served at one handle time per staffed agent.
// The first step that would serve it does, and then the offer rings for the answer time.
std::optional<double> Router::expected_wait(const CallSpec& spec, double now) const {
  check_call(spec);
  check_time(now);
  Call caller = Call::of(spec);
  caller.arrival = now;
  caller.standing = standing_priority(caller);
  const double own = priority(caller, now);
  const PlanStats& tally = tallies_[spec.plan];
  const PlanConfig& plan = config_.plans[spec.plan];
  auto staffed = [](AgentState s) {
    return s == AgentState::Ready || s == AgentState::Reserved || s == AgentState::Busy || s == AgentState::Wrapup;
  };
  std::vector<int> on_duty(profiles_.size(), 0);
  for (const Agent& a : agents_)
    if (staffed(a.state)) on_duty[a.profile] += 1;

  std::optional<double> best;
  std::vector<char> in_pool(profiles_.size());
  for (int k = 0; k < static_cast<int>(plan.steps.size()); ++k) {
    caller.phase = static_cast<std::int16_t>(k);
    const QueueKey key = key_for(caller);
    int pool = 0;
    bool ready = false;
    for (std::size_t p = 0; p < profiles_.size(); ++p) {
      in_pool[p] = on_duty[p] > 0 && admits(key, profiles_[p]);
      if (!in_pool[p]) continue;
      pool += on_duty[p];
      ready |= !profiles_[p].ready.empty();
    }
    double wait;
    if (ready) {
      wait = plan.steps[k].after;
    } else if (pool > 0 && tally.handle_time) {
      std::int64_t ahead = 0;
      for (std::size_t q = 0; q < queues_.size(); ++q) {
        const Queue& queue = queues_[q];
        if (queue.calls.empty()) continue;
        bool takes = false;
        if (queue.key.phase == kPreferred) {
          const Agent& preferred = agents_[static_cast<AgentRef>(queue.key.sites_or_agent)];
          takes = staffed(preferred.state) && in_pool[preferred.profile];
        } else {
          for (int p : queue.profiles) takes |= static_cast<bool>(in_pool[p]);
        }
        if (!takes) continue;
        for (const QueueEntry& entry : queue.calls) ahead += priority(entry, static_cast<int>(q), now) >= own;
      }
      wait = std::max(plan.steps[k].after, static_cast<double>(ahead + 1) * *tally.handle_time / pool);
    } else {
      continue;
    }
    best = best ? std::min(*best, wait) : wait;
  }
  if (best) *best += tally.answer_time.value_or(0.0);
  return best;
}

}  // namespace ccroute
