#include "router.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace ccroute {
namespace {

// Shortest round-trip form, as Python's repr prints it, so messages name the value exactly.
std::string num(double x) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}


void check_config(const Config& c) {
  auto bad = [](const std::string& m) { fail(ErrorKind::Config, m); };
  if (c.n_sites < 1 || c.n_sites > kMaxSites) bad("n_sites must be 1.." + std::to_string(kMaxSites));
  if (c.n_regions < 0 || c.distance.size() != static_cast<std::size_t>(c.n_regions) * c.n_sites)
    bad("distance table must have n_regions * n_sites entries");
  for (int d : c.distance)
    if (d < 0) bad("distance tiers must be >= 0, got " + std::to_string(d));
  if (c.plans.empty()) bad("a config needs at least one plan");
  // Skills are numbered by SkillRef (16 bits): more could not be named, and would size
  // every agent's levels by the count (n_skills = INT_MAX allocated 64 GB).
  if (c.n_skills < 0 || c.n_skills > std::numeric_limits<SkillRef>::max())
    bad("n_skills must be 0.." + std::to_string(std::numeric_limits<SkillRef>::max()) + ", got " +
        std::to_string(c.n_skills));
  if ((!c.skill_names.empty() && c.skill_names.size() != static_cast<std::size_t>(c.n_skills)))
    bad("skill_names must be empty or name all n_skills skills");
  if (c.offer_timeout && !(std::isfinite(*c.offer_timeout) && *c.offer_timeout > 0))
    bad("offer_timeout must be > 0, got " + num(*c.offer_timeout));
  for (const PlanConfig& p : c.plans) {
    const std::string plan = "plan '" + p.name + "': ";
    for (double x : {p.base_priority, p.value_weight, p.repeat_weight, p.aging, p.sl_threshold, p.wrapup})
      if (!std::isfinite(x)) bad(plan + "numbers must be finite, got " + num(x));
    if (p.sl_threshold < 0 || p.wrapup < 0) bad(plan + "sl_threshold and wrapup must be >= 0");
    if (p.steps.empty() || p.steps[0].after != 0.0) bad(plan + "the first step must start after 0 s");
    if (p.steps.size() > static_cast<std::size_t>(kMaxSteps))
      bad(plan + "at most " + std::to_string(kMaxSteps) + " steps, got " + std::to_string(p.steps.size()));
    for (std::size_t i = 0; i < p.steps.size(); ++i) {
      const StepConfig& s = p.steps[i];
      if (i > 0 && !(s.after > p.steps[i - 1].after && std::isfinite(s.after)))
        bad(plan + "step times must increase, got " + num(s.after));
      for (const SkillLevel& need : s.require)
        if (need.skill >= c.n_skills || need.level < 1 || need.level > kMaxLevel)
          bad(plan + "bad required skill #" + std::to_string(need.skill) + " at level " + std::to_string(need.level));
      if (s.language_level < 0 || s.language_level > kMaxLevel)
        bad(plan + "language_level must be 0..10, got " + std::to_string(s.language_level));
      if (s.max_distance < kNone) bad(plan + "max_distance must be >= 0 or none");
      const Weights& w = s.weights;
      for (double x : {w.proficiency, w.distance, w.breadth, w.idle})
        if (!std::isfinite(x)) bad(plan + "weights must be finite, got " + num(x));
    }
  }
}

}  // namespace

const char* state_name(AgentState s) {
  static const char* names[] = {"offline", "ready", "reserved", "busy", "wrapup", "not_ready", "removed"};
  return names[static_cast<int>(s)];
}

const char* state_name(CallState s) {
  static const char* names[] = {"waiting", "offered", "connected"};
  return names[static_cast<int>(s)];
}

void fail(ErrorKind kind, const std::string& message) { throw Error(kind, message); }

void refuse_number(const char* what, double x, double minimum) {
  fail(ErrorKind::InvalidArgument, std::string(what) + " must be a finite number" +
                                       (minimum == -INFINITY ? "" : " >= " + num(minimum)) + ", got " + num(x));
}

std::size_t Router::QueueKeyHash::operator()(const QueueKey& k) const {
  std::uint64_t h = static_cast<std::uint32_t>(k.plan);
  h = h * 0x9E3779B97F4A7C15ull ^ static_cast<std::uint32_t>(k.phase);
  h = h * 0x9E3779B97F4A7C15ull ^ static_cast<std::uint32_t>(k.language);
  h = h * 0x9E3779B97F4A7C15ull ^ k.sites_or_agent;
  return static_cast<std::size_t>(h ^ (h >> 29));
}

Router::Router(Config config) : config_(std::move(config)), now_(-INFINITY) {
  check_config(config_);
  tallies_.resize(config_.plans.size());
  site_tallies_.resize(config_.n_sites);
  skill_names_ = config_.skill_names;
  skill_names_.resize(config_.n_skills);
  config_tag_ = fingerprint(config_);
  lay_out_steps();
  rebuild_timers();
}

SkillRef Router::add_skill(std::string_view name) {
  if (config_.n_skills >= std::numeric_limits<SkillRef>::max()) fail(ErrorKind::InvalidArgument, "too many skills");
  skill_names_.emplace_back(name);
  return static_cast<SkillRef>(config_.n_skills++);
}

// ------------------------------------------------------------------- agents

std::vector<std::uint8_t> Router::levels_of(int site, const std::vector<SkillLevel>& skills) const {
  if (site < 0 || site >= config_.n_sites) fail(ErrorKind::UnknownId, "unknown site #" + std::to_string(site));
  std::vector<std::uint8_t> levels(config_.n_skills, 0);
  for (const SkillLevel& held : skills) {
    if (held.skill >= config_.n_skills) fail(ErrorKind::UnknownId, "unknown skill #" + std::to_string(held.skill));
    if (held.level < 1 || held.level > kMaxLevel)
      fail(ErrorKind::InvalidArgument, "level of skill " + name(Entity::Skill, held.skill) +
                                           " must be an integer 1–10, got " + std::to_string(held.level));
    if (levels[held.skill] != 0)
      fail(ErrorKind::InvalidArgument, "skill " + name(Entity::Skill, held.skill) + " is listed twice");
    levels[held.skill] = held.level;
  }
  while (!levels.empty() && levels.back() == 0) levels.pop_back();  // one profile however many skills exist
  return levels;
}

// The profile of agents at `site` with these levels, made (and linked to the queues admitting
// it) on first use.
int Router::profile_of(int site, std::vector<std::uint8_t> levels) {
  auto [it, is_new] = profile_index_.try_emplace({site, levels}, static_cast<int>(profiles_.size()));
  if (is_new) {
    Profile profile{site, std::move(levels), 0, 0, {}, ReadySet(pool_.get())};
    profile.breadth =
        static_cast<int>(std::count_if(profile.levels.begin(), profile.levels.end(), [](auto l) { return l > 0; }));
    const int id = it->second;
    for (std::size_t q = 0; q < queues_.size(); ++q)
      if (queues_[q].key.phase != kPreferred && admits(queues_[q].key, profile)) {
        profile.queues.push_back(static_cast<int>(q));
        queues_[q].profiles.push_back(id);
      }
    profiles_.push_back(std::move(profile));
  }
  return it->second;
}

AgentRef Router::add_agent(int site, const std::vector<SkillLevel>& skills, std::optional<double> wrapup,
                           std::string_view key) {
  std::vector<std::uint8_t> levels = levels_of(site, skills);
  if (wrapup) check_finite("wrapup", *wrapup, 0.0);
  if (agents_.size() >= kMaxAgents) fail(ErrorKind::InvalidArgument, "too many agents");
  const int profile = profile_of(site, std::move(levels));
  Agent agent;
  agent.key = key;
  agent.profile = profile;
  profiles_[profile].members += 1;
  agent.wrapup = wrapup;
  agents_.push_back(std::move(agent));
  for (const SkillLevel& held : skills) journal_skill(held.skill);
  record(JournalOp::AddAgent, now_, [&](RecordWriter& w) {
    w.bytes(key);
    w.varint(static_cast<std::uint32_t>(site));
    write_skills(w, skills);
    w.u8(wrapup.has_value());
    w.f64(wrapup.value_or(0.0));
  });
  return static_cast<AgentRef>(agents_.size() - 1);
}

void Router::ready(AgentRef ref, double now, std::vector<Offer>& out) {
  Agent& agent = agent_at(ref);
  begin(now, out);
  require(agent.state == AgentState::Offline || agent.state == AgentState::NotReady ||
              agent.state == AgentState::Wrapup,
          [&] { return "agent " + name(Entity::Agent, ref) + " is " + state_name(agent.state); });
  agent.timer = 0;
  agent.ready_since = now;
  make_ready(ref, now);
  record(JournalOp::Ready, now, [&](RecordWriter& w) { w.varint(ref); });
}

void Router::not_ready(AgentRef ref, double now, const std::string& reason, std::vector<Offer>& out) {
  Agent& agent = agent_at(ref);
  begin(now, out);
  require(agent.state != AgentState::Reserved && agent.state != AgentState::Busy,
          [&] { return "agent " + name(Entity::Agent, ref) + " is " + state_name(agent.state); });
  if (agent.state == AgentState::Ready) unlist_ready(ref);
  agent.timer = 0;
  agent.state = AgentState::NotReady;
  agent.since = now;
  agent.reason = reason;
  record(JournalOp::NotReady, now, [&](RecordWriter& w) {
    w.varint(ref);
    w.bytes(reason);
  });
}

void Router::logout(AgentRef ref, double now, std::vector<Offer>& out) {
  Agent& agent = agent_at(ref);
  begin(now, out);
  require(agent.state == AgentState::Ready || agent.state == AgentState::NotReady ||
              agent.state == AgentState::Wrapup,
          [&] { return "agent " + name(Entity::Agent, ref) + " is " + state_name(agent.state); });
  if (agent.state == AgentState::Ready) unlist_ready(ref);
  agent.timer = 0;
  agent.state = AgentState::Offline;
  agent.since = now;
  record(JournalOp::Logout, now, [&](RecordWriter& w) { w.varint(ref); });
}

// -------------------------------------------------------------------- calls

void Router::check_call(const CallSpec& spec) const {
  if (spec.plan < 0 || spec.plan >= static_cast<int>(config_.plans.size()))
    fail(ErrorKind::UnknownId, "unknown plan #" + std::to_string(spec.plan));
  if (spec.region != kNone && (spec.region < 0 || spec.region >= config_.n_regions))
    fail(ErrorKind::UnknownId, "unknown region #" + std::to_string(spec.region));
  if (spec.language != kNone && (spec.language < 0 || spec.language >= config_.n_skills))
    fail(ErrorKind::UnknownId, "unknown skill #" + std::to_string(spec.language));
  check_finite("value", spec.value);
  check_finite("priority", spec.priority);
  if (spec.repeats < 0 || spec.repeats > kMaxRepeats)
    fail(ErrorKind::InvalidArgument,
         "repeats must be an integer 0–" + std::to_string(kMaxRepeats) + ", got " + std::to_string(spec.repeats));
  if (spec.preferred_agent != kNone &&
      (spec.preferred_agent < 0 || spec.preferred_agent >= static_cast<std::int64_t>(agents_.size()) ||
       agents_[spec.preferred_agent].state == AgentState::Removed))
    fail(ErrorKind::UnknownId, "unknown preferred agent #" + std::to_string(spec.preferred_agent));
  check_finite("preferred_wait", spec.preferred_wait, 0.0);
}

CallRef Router::arrive(const CallSpec& spec, double now, std::vector<Offer>& out, std::string_view key) {
  check_call(spec);
  begin(now, out);

  const CallRef ref = next_call_ref();
  if (ref == calls_.size())
    calls_.emplace_back();
  else
    free_calls_.pop_back();
  Call& call = calls_[ref];
  call = Call::of(spec);
  call.live = true;
  call.arrival = now;
  call.since = now;
  call.order = calls_created_++;
  if (spec.preferred_agent != kNone && spec.preferred_wait > 0 &&
      agents_[spec.preferred_agent].state != AgentState::Offline)
    call.preferred_until = now + spec.preferred_wait;
  call.standing = standing_priority(call);
  tallies_[spec.plan].arrived += 1;
  enqueue(ref, now);
  if (spec.language != kNone) journal_skill(static_cast<SkillRef>(spec.language));
  record(JournalOp::Arrive, now, [&](RecordWriter& w) {  // the call's order is its place among arrivals
    w.bytes(key);
    w.varint(static_cast<std::uint32_t>(spec.plan));
    w.zigzag(spec.region);
    const auto given = [](double x) {  // not +0.0 (a -0.0 is kept as given)
      std::uint64_t bits;
      std::memcpy(&bits, &x, sizeof bits);
      return bits != 0;
    };
    w.u8(static_cast<std::uint8_t>((spec.language != kNone ? kHasLanguage : 0) | (given(spec.value) ? kHasValue : 0) |
                                   (given(spec.priority) ? kHasPriority : 0) |
                                   (given(spec.preferred_wait) ? kHasPreferredWait : 0)));
    if (spec.language != kNone) write_skill(w, static_cast<SkillRef>(spec.language));
    if (given(spec.value)) w.f64(spec.value);
    if (given(spec.priority)) w.f64(spec.priority);
    w.zigzag(spec.repeats);
    w.zigzag(spec.preferred_agent);
    if (given(spec.preferred_wait)) w.f64(spec.preferred_wait);
  });
  return ref;
}

void Router::accept(CallRef ref, AgentRef agent, double now, std::vector<Offer>& out) {
  agent_at(agent);
  begin(now, out);
  Call& call = offered_to(ref, agent);
  const double offered_at = call.since;
  call.state = CallState::Connected;
  call.since = now;
  call.timer = 0;
  Agent& holder = agents_[agent];
  holder.state = AgentState::Busy;
  holder.since = now;
  PlanStats& tally = tallies_[call.plan];
  const double wait = now - call.arrival;
  const bool within = wait <= config_.plans[call.plan].sl_threshold;
  recent(tally.answer_time, now - offered_at);
  tally.answered += 1;
  tally.wait_sum += wait;
  tally.answered_within += within;
  SiteTally& site = site_tallies_[profiles_[holder.profile].site];
  site.answered += 1;
  site.wait_sum += wait;
  site.answered_within += within;
  record(JournalOp::Accept, now, [&](RecordWriter& w) {
    w.varint(call.order);
    w.varint(agent);
  });
}

void Router::reject(CallRef ref, AgentRef agent, double now, std::vector<Offer>& out) {
  agent_at(agent);
  begin(now, out);
  const std::uint64_t order = offered_to(ref, agent).order;
  unoffer(ref, now, "rejected");
  record(JournalOp::Reject, now, [&](RecordWriter& w) {
    w.varint(order);
    w.varint(agent);
  });
}

void Router::abandon(CallRef ref, double now, std::vector<Offer>& out) {
  Call& call = call_at(ref);
  begin(now, out);
  require(call.state != CallState::Connected,
          [&] { return "call " + name(Entity::Call, ref) + " is connected; use hangup"; });
  const bool offered = call.state == CallState::Offered;
  const AgentRef agent = call.agent;
  if (!offered) leave_queue(call);
  tallies_[call.plan].abandoned += 1;
  const std::uint64_t order = call.order;
  release(ref);
  if (offered) make_ready(agent, now);  // keeps its ready_since: the agent got no work
  record(JournalOp::Abandon, now, [&](RecordWriter& w) { w.varint(order); });
}

void Router::hangup(CallRef ref, double now, std::vector<Offer>& out) {
  Call& call = call_at(ref);
  begin(now, out);
  require(call.state == CallState::Connected,
          [&] { return "call " + name(Entity::Call, ref) + " is " + state_name(call.state) + ", not connected"; });
  const AgentRef agent_ref = call.agent;
  const int plan = call.plan;
  const double plan_wrapup = config_.plans[plan].wrapup;
  const double connected_at = call.since;
  const std::uint64_t order = call.order;
  release(ref);
  Agent& agent = agents_[agent_ref];
  agent.call = kNoCall;
  const double wrapup = agent.wrapup ? *agent.wrapup : plan_wrapup;
  const double handle_time = (now - connected_at) + wrapup;
  recent(tallies_[plan].handle_time, handle_time);
  SiteTally& site = site_tallies_[profiles_[agent.profile].site];
  site.handled += 1;
  site.handle_sum += handle_time;
  if (wrapup > 0) {
    agent.state = AgentState::Wrapup;
    agent.since = now;
    agent.timer = start_timer(now + wrapup, true, agent_ref, wrapup_lane(plan));
  } else {
    agent.ready_since = now;
    make_ready(agent_ref, now);
  }
  record(JournalOp::Hangup, now, [&](RecordWriter& w) { w.varint(order); });
}

void Router::advance(double now, std::vector<Offer>& out) {
  begin(now, out);
  record(JournalOp::Advance, now, [](RecordWriter&) {});
}

void Router::refuse(const std::string& message) {
  record(JournalOp::Advance, now_, [](RecordWriter&) {});
  throw Error(ErrorKind::InvalidTransition, message);
}

// ------------------------------------------------------------------ queries

const Timer* Router::live_timer_front() const {
  while (!timers_.empty()) {
    const Timer& t = timers_.top();
    if (held(t)) return &t;
    timers_.pop();  // cancelled: its owner moved on
  }
  return nullptr;
}

AgentState Router::agent_state(AgentRef ref) const {
  if (ref >= agents_.size()) refuse_agent(ref);
  return agents_[ref].state;
}

const std::string* Router::agent_reason(AgentRef ref) const {
  return agent_state(ref) == AgentState::NotReady ? &agents_[ref].reason : nullptr;
}

CallView Router::call_view(CallRef ref) const {
  call_state(ref);  // refuses a handle that is not live
  const Call& call = calls_[ref];
  const bool held = call.state != CallState::Waiting;
  return CallView{ref,          call.plan, call.state,
                  call.since,   call.phase == kPreferred ? kNone : call.phase,
                  call.arrival, held ? static_cast<std::int64_t>(call.agent) : kNone};
}

AgentView Router::agent_view(AgentRef ref) const {
  agent_state(ref);  // refuses an unknown agent
  const Agent& agent = agents_[ref];
  return AgentView{ref, profiles_[agent.profile].site, agent.state, agent.since, agent.call};
}

void Router::call_views(std::vector<CallView>& out) const {
  std::vector<std::pair<std::uint64_t, CallRef>> live;
  for (CallRef ref = 0; ref < calls_.size(); ++ref)
    if (calls_[ref].live) live.emplace_back(calls_[ref].order, ref);
  std::sort(live.begin(), live.end());
  out.reserve(out.size() + live.size());
  for (const auto& [order, ref] : live) out.push_back(call_view(ref));
}

void Router::agent_views(std::vector<AgentView>& out) const {
  out.reserve(out.size() + agents_.size());
  for (AgentRef ref = 0; ref < agents_.size(); ++ref)
    if (agents_[ref].state != AgentState::Removed) out.push_back(agent_view(ref));
}

std::vector<PlanStats> Router::stats(double now) const {
  check_time(now);
  std::vector<PlanStats> result = tallies_;
  std::vector<double> earliest(result.size(), INFINITY);
  for (const Call& call : calls_)
    if (call.live && call.state == CallState::Waiting) {
      result[call.plan].waiting += 1;
      earliest[call.plan] = std::min(earliest[call.plan], call.arrival);
    }
  for (std::size_t p = 0; p < result.size(); ++p)
    if (result[p].waiting) result[p].oldest_wait = now - earliest[p];  // now - a falls as a rises
  return result;
}

// --------------------------------------------------------------- validation

void Router::refuse_time(double now) const {
  if (!std::isfinite(now)) fail(ErrorKind::InvalidArgument, "now must be a finite number, got " + num(now));
  fail(ErrorKind::TimeOrder, "time went backwards: now=" + num(now) + " is before " + num(now_));
}

void Router::refuse_call(CallRef ref) const { fail(ErrorKind::UnknownId, "unknown call #" + std::to_string(ref)); }

void Router::refuse_agent(AgentRef ref) const { fail(ErrorKind::UnknownId, "unknown agent #" + std::to_string(ref)); }

Router::Agent& Router::agent_at(AgentRef ref) {
  if (ref >= agents_.size() || agents_[ref].state == AgentState::Removed) refuse_agent(ref);
  return agents_[ref];
}

Router::Call& Router::call_at(CallRef ref) {
  if (!call_live(ref)) refuse_call(ref);
  return calls_[ref];
}

// Rule 3: only the agent holding the call's current offer may answer it.
Router::Call& Router::offered_to(CallRef ref, AgentRef agent) {
  if (!(call_live(ref) && calls_[ref].state == CallState::Offered && calls_[ref].agent == agent))
    refuse_offer(ref, agent);
  return calls_[ref];
}

void Router::refuse_offer(CallRef ref, AgentRef agent) {
  std::string why = "agent " + name(Entity::Agent, agent) + " holds no offer of call " + name(Entity::Call, ref) + ": ";
  if (!call_live(ref)) refuse(why + "the call is not in the router (abandoned, ended or never arrived)");
  const Call& call = calls_[ref];
  if (call.state == CallState::Waiting) refuse(why + "the call is waiting, offered to no agent");
  refuse(why + "the call is " + (call.state == CallState::Offered ? "offered to" : "connected to") + " agent " +
         name(Entity::Agent, call.agent));
}

std::string Router::name(Entity entity, std::uint32_t ref) const {
  if (namer_) return namer_(entity, ref);
  return "#" + std::to_string(ref);
}


// --------------------------------------------------------------------- time

void Router::begin(double now, std::vector<Offer>& out) {
  check_time(now);
  now_ = now;
  out_ = &out;
  // Most operations find no timer due, not even a cancelled one: then no call at all.
  if (!timers_.empty() && timers_.top().due <= now) fire_timers(now);
}

std::uint64_t Router::start_timer(double due, bool for_agent, std::uint32_t ref, int lane) {
  const std::uint64_t seq = ++timers_created_;
  timers_.push(Timer{due, seq, ref, for_agent}, lane);
  return seq;
}

// Timer lanes by delay class, so that lanes are few (every timer fired climbs the timers'
// tournament tree, as deep as log2 of the lanes) and a lane's pushes come in the order they
// fall due (timers.hpp). The timer of a call reaching step s (s > 0) is pushed when it enters
// step s - 1, at arrival + after[s - 1], and falls due at arrival + after[s]: for calls of any
// plans whose steps share that pair of delays, pushes come in arrival order and fall due in
// arrival order, so one lane serves them all. Ends of wrap-up share a lane when their plans'
// wrap-up times are equal. (A timer out of its lane's order goes to the heap: a lane is for
// speed only, the order is (due, creation) whatever the lane.)
void Router::lay_out_steps() {
  plans_.clear();
  steps_.clear();
  wrapup_lanes_.clear();
  n_lanes_ = 1;  // offer time-outs
  std::map<double, int> wrapup_class;
  std::map<std::pair<double, double>, int> step_class;
  for (const PlanConfig& plan : config_.plans) {
    wrapup_lanes_.push_back(wrapup_class.try_emplace(plan.wrapup + 0.0, n_lanes_).first->second);
    n_lanes_ = 1 + static_cast<int>(wrapup_class.size());
  }
  for (const PlanConfig& plan : config_.plans) {
    plans_.push_back(PlanInfo{plan.aging, static_cast<int>(steps_.size()), static_cast<int>(plan.steps.size())});
    for (std::size_t s = 0; s < plan.steps.size(); ++s) {
      const StepConfig& step = plan.steps[s];
      int lane = Timers::kNoLane;
      if (s > 0) {
        lane = step_class.try_emplace({plan.steps[s - 1].after, step.after}, n_lanes_).first->second;
        n_lanes_ = 1 + static_cast<int>(wrapup_class.size() + step_class.size());
      }
      steps_.push_back(StepInfo{step.after, step.language_level, step.max_distance, lane});
    }
  }
  step_queues_.assign(steps_.size(), kNone);
  tiers_.clear();
  tier_start_.assign(1, 0);
  for (int region = 0; region < config_.n_regions; ++region) {
    std::vector<int> by_distance(config_.n_sites);
    for (int site = 0; site < config_.n_sites; ++site) by_distance[site] = site;
    std::sort(by_distance.begin(), by_distance.end(),
              [&](int a, int b) { return distance(region, a) < distance(region, b); });
    for (int site : by_distance) {
      const int d = distance(region, site);
      if (tiers_.size() == static_cast<std::size_t>(tier_start_.back()) || tiers_.back().distance != d)
        tiers_.push_back(Tier{d, tiers_.size() == static_cast<std::size_t>(tier_start_.back()) ? 0 : tiers_.back().sites});
      tiers_.back().sites |= std::uint64_t{1} << site;
    }
    tier_start_.push_back(static_cast<int>(tiers_.size()));
  }
}

std::uint64_t Router::sites_within(int region, int max_distance) const {
  if (region == kNone) return ~std::uint64_t{0} >> (kMaxSites - config_.n_sites);  // distance 0 to every site
  std::uint64_t sites = 0;
  for (int i = tier_start_[region]; i < tier_start_[region + 1] && tiers_[i].distance <= max_distance; ++i)
    sites = tiers_[i].sites;
  return sites;
}

void Router::rebuild_timers() {
  std::vector<std::pair<Timer, int>> pending;  // with the lane each would have been pushed to
  for (const Timer& timer : pending_timers()) {
    if (timer.for_agent) {
      pending.push_back({timer, Timers::kNoLane});
      continue;
    }
    const Call& call = calls_[timer.ref];
    const bool next_step = call.phase != kPreferred &&
                           call.phase + 1 < plans_[call.plan].n_steps;
    const int lane = call.state == CallState::Offered ? offer_lane()
                     : next_step                      ? step_lane(call.plan, call.phase + 1)
                                                      : Timers::kNoLane;  // a preferred-agent wait
    pending.push_back({timer, lane});
  }
  std::sort(pending.begin(), pending.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  timers_.reset(static_cast<std::size_t>(n_lanes_));
  for (const auto& [timer, lane] : pending) timers_.push(timer, lane);
}

std::vector<Timer> Router::pending_timers() const {
  std::vector<Timer> pending;
  timers_.for_each([&](const Timer& timer) {
    if (held(timer)) pending.push_back(timer);
  });
  return pending;
}

void Router::fire_timers(double now) {
  while (!timers_.empty() && timers_.top().due <= now) {
    const Timer timer = timers_.top();
    if (const Timer* soon = timers_.pop()) fetch_owner(*soon);
    if (!held(timer)) continue;  // cancelled: its owner moved on
    if (timer.for_agent) {  // end of wrap-up
      Agent& agent = agents_[timer.ref];
      agent.timer = 0;
      agent.ready_since = timer.due;
      make_ready(timer.ref, timer.due);
    } else {
      Call& call = calls_[timer.ref];
      call.timer = 0;
      if (call.state == CallState::Offered) {
        unoffer(timer.ref, timer.due, "no answer");
      } else {  // the call reaches its next phase, leaving its queue for another
        reach_next_phase(timer.ref, timer.due);
      }
    }
  }
  // (The first timer not due is not asked whether it was cancelled: its owner's record, out of
  // cache among 100k waiting calls, would stall this operation. Its lane fetched it ahead.)
}

// -------------------------------------------------------------------- rules

// A call that waits from `t` on (arriving, back from an offer, reaching its next phase): its
// state and phase, the queue its phase puts it in (returned), and rule 2's agent for it, if any.
[[gnu::always_inline]] inline int Router::start_waiting(Call& call, double t, std::optional<Candidate>& best) {
  call.state = CallState::Waiting;
  call.timer = 0;  // a returning offer's time-out no longer applies
  call.phase = static_cast<std::int16_t>(phase_at(call, t));  // a plan has at most kMaxSteps steps
  const int q = queue_for(call);
  if (call.phase == kPreferred) {
    const AgentRef preferred = static_cast<AgentRef>(call.preferred_agent);
    if (agents_[preferred].state == AgentState::Ready) best = Candidate{0.0, 0.0, preferred};
  } else {
    best = best_agent(call, queues_[q], t);
  }
  return q;
}

// A queued call's timer: when it reaches its next phase, if it has one.
[[gnu::always_inline]] inline void Router::time_next_phase(Call& call, CallRef ref) {
  if (std::optional<double> start = next_phase_start(call))
    call.timer = start_timer(*start, false, ref, call.phase == kPreferred ? Timers::kNoLane : step_lane(call.plan, call.phase + 1));
}

void Router::enqueue(CallRef ref, double t) {
  Call& call = calls_[ref];
  std::optional<Candidate> best;
  const int q = start_waiting(call, t, best);
  if (best) {
    offer(ref, best->agent, t, true);
    return;
  }
  queue_insert(q, call, ref);
  time_next_phase(call, ref);
}

void Router::reach_next_phase(CallRef ref, double t) {
  Call& call = calls_[ref];
  const QueueEntry key = entry(call, ref);  // its place in any queue of its plan
  // The call leaves its queue only once its new place is found: among 100k waiting calls both
  // leaves are out of cache, and searched one after the other (locate asks for a leaf's lines
  // without waiting for them) they arrive together.
  const int from = call.queue;
  QueueSet::Place old_place;
  const bool from_head = heads_[from].order == call.order;  // leaves without a search
  if (!from_head) queues_[from].calls.locate(key, old_place);
  auto leave = [&] {  // as leave_queue, at the place found
    from_head ? queue_erase(call) : queue_erase(call, old_place);
    call.queue = kNone;
  };
  std::optional<Candidate> best;
  const int q = start_waiting(call, t, best);
  if (best) {
    leave();
    offer(ref, best->agent, t, true);
    return;
  }
  // (A phase has queues of its own; should the new queue be the old one all the same, the
  // place found before leaving would be stale: the call is filed again by a search.)
  QueueSet::Place place;
  if (q != from) queues_[q].calls.locate(key, place);
  leave();
  q != from ? queue_insert(q, call, key, place) : queue_insert(q, call, ref);
  time_next_phase(call, ref);
}

void Router::make_ready(AgentRef ref, double t) {
  Agent& agent = agents_[ref];
  agent.since = t;
  agent.call = kNoCall;
  agent.reason.clear();
  const Profile& profile = profiles_[agent.profile];
  // Rule 1: the waiting call with the highest priority(t) among the queues admitting the agent.
  const QueueHead* best = nullptr;
  int best_queue = kNone;
  double best_priority = 0.0;
  auto consider = [&](int q) {
    const QueueHead& top = heads_[q];
    if (top.order == QueueHead::kEmpty) return;
    const double p = aged(top.standing, top.aging, top.arrival, t);
    if (!best || p > best_priority ||
        (p == best_priority && (top.arrival < best->arrival || (top.arrival == best->arrival && top.order < best->order)))) {
      best = &top;
      best_queue = q;
      best_priority = p;
    }
  };
  for (int q : profile.queues) consider(q);
  for (int q : agent.preferred_queues) consider(q);
  if (best) {
    const CallRef call = queues_[best_queue].calls.begin()->call;
    leave_queue(calls_[call]);
    offer(call, ref, t, false);  // the agent is reserved without ever being listed ready
  } else {
    agent.state = AgentState::Ready;
    list_ready(ref);
  }
}

void Router::list_ready(AgentRef ref) {
  const Agent& agent = agents_[ref];
  Profile& profile = profiles_[agent.profile];
  if (profile.ready.empty())
    for (int q : profile.queues) queues_[q].ready_profiles += 1;
  profile.ready.insert({ordered_bits(agent.ready_since), ref});
}

void Router::unlist_ready(AgentRef ref) {
  const Agent& agent = agents_[ref];
  Profile& profile = profiles_[agent.profile];
  // (offer() unlists a ready agent; set_skills has unlisted the one it re-routes already)
  // The longest idle, offered a call most often, leaves without a search.
  const bool listed = !profile.ready.empty() && profile.ready.front().agent == ref ? (profile.ready.pop_front(), true)
                                                                                  : profile.ready.erase({ordered_bits(agent.ready_since), ref});
  if (listed && profile.ready.empty())
    for (int q : profile.queues) queues_[q].ready_profiles -= 1;
}

void Router::offer(CallRef ref, AgentRef agent_ref, double t, bool agent_chosen) {
  Call& call = calls_[ref];
  Agent& agent = agents_[agent_ref];
  if (log_decisions_) {  // before the agent leaves the ready list: its idle time counts
    const bool preferred = call.phase == kPreferred;
    decisions_.push_back(Decision{ref, agent_ref, t, call.plan, preferred ? kNone : call.phase, agent_chosen,
                                  t - call.arrival, priority_terms(call, t),
                                  preferred ? ScoreTerms{} : score_terms(call, profiles_[agent.profile], agent.ready_since, t)});
  }
  if (agent.state == AgentState::Ready) unlist_ready(agent_ref);
  call.state = CallState::Offered;
  call.since = t;
  call.agent = agent_ref;
  agent.state = AgentState::Reserved;
  agent.since = t;
  agent.call = ref;
  call.timer = config_.offer_timeout ? start_timer(t + *config_.offer_timeout, false, ref, offer_lane()) : 0;
  // Written field by field in place: an Offer built aside is copied in by wide loads of its
  // narrow stores, which wait for them (a store-forwarding stall, ~7 % of a simulated run).
  Offer& made = out_->emplace_back();
  made.call = ref;
  made.agent = agent_ref;
  made.time = t;
}

void Router::unoffer(CallRef ref, double t, const char* reason) {
  Agent& agent = agents_[calls_[ref].agent];
  agent.state = AgentState::NotReady;
  agent.since = t;
  agent.call = kNoCall;
  agent.reason = reason;
  calls_[ref].since = t;
  enqueue(ref, t);
}

void Router::leave_queue(Call& call) {
  if (call.queue == kNone) return;
  queue_erase(call);
  call.queue = kNone;
  call.timer = 0;
}

void Router::queue_insert(int q, Call& call, CallRef ref) {
  call.queue = q;
  QueueSet& calls = queues_[q].calls;
  const auto at = calls.insert(entry(call, ref)).first;  // (before begin() is read: == leaves the order open)
  if (at == calls.begin()) refresh_head(q);
}

void Router::queue_insert(int q, Call& call, const QueueEntry& key, const QueueSet::Place& place) {
  call.queue = q;
  QueueSet& calls = queues_[q].calls;
  const auto at = calls.insert(key, place).first;
  if (at == calls.begin()) refresh_head(q);
}

void Router::queue_erase(Call& call) {
  if (heads_[call.queue].order == call.order) {  // the best call, taken by an agent: no key to rebuild
    queues_[call.queue].calls.pop_front();
    refresh_head(call.queue);
  } else {
    queues_[call.queue].calls.erase(entry(call, kNoCall));  // by its key, which `call` is no part of
  }
}

void Router::queue_erase(Call& call, const QueueSet::Place& place) {  // not the best call (that one leaves without a search)
  queues_[call.queue].calls.erase(entry(call, kNoCall), place);
}

void Router::refresh_head(int q) {
  const QueueSet& calls = queues_[q].calls;
  QueueHead& head = heads_[q];
  if (calls.empty()) {
    head.order = QueueHead::kEmpty;
  } else {
    const Call& best = calls_[calls.front().call];
    head.standing = best.standing;
    head.arrival = best.arrival;
    head.order = best.order;
  }
}

void Router::release(CallRef ref) {
  Call& call = calls_[ref];
  call.live = false;
  call.timer = 0;
  free_calls_.push_back(ref);
}

int Router::phase_at(const Call& call, double t) const {
  if (t < call.preferred_until) return kPreferred;  // false when it has no preferred turn (-inf)
  const int first = plans_[call.plan].first_step;
  const int n = plans_[call.plan].n_steps;
  int phase = 0;
  for (int i = 1; i < n; ++i)
    if (call.arrival + steps_[first + i].after <= t) phase = i;
  return phase;
}

std::optional<double> Router::next_phase_start(const Call& call) const {
  if (call.phase == kPreferred) return call.preferred_until;  // it has one, or it would not be in that phase
  if (call.phase + 1 < plans_[call.plan].n_steps)
    return call.arrival + steps_[step_index(call.plan, call.phase + 1)].after;
  return std::nullopt;
}

Router::QueueKey Router::key_for(const Call& call) const {
  QueueKey key{call.plan, call.phase, kNone, ~std::uint64_t{0}};
  if (call.phase == kPreferred) {
    key.sites_or_agent = static_cast<std::uint64_t>(call.preferred_agent);
  } else {
    const StepInfo& step = steps_[step_index(call.plan, call.phase)];
    if (step.language_level > 0) key.language = call.language;
    if (step.max_distance != kNone) key.sites_or_agent = sites_within(call.region, step.max_distance);
  }
  return key;
}

int Router::queue_for(const Call& call) {
  if (call.phase == kPreferred) return queue_of(key_for(call));
  // A step that neither a language nor a distance limits has one queue: kept by step, so
  // that most calls find theirs without building and hashing a key.
  const int step = step_index(call.plan, call.phase);
  if (step_queues_[step] != kNone) return step_queues_[step];
  const int q = queue_of(key_for(call));
  if (steps_[step].language_level == 0 && steps_[step].max_distance == kNone) step_queues_[step] = q;
  return q;
}

int Router::queue_of(const QueueKey& key) {
  std::size_t mask = queue_slots_.size() - 1;
  std::size_t i = QueueKeyHash{}(key) & mask;
  for (; queue_slots_[i].queue != kNone; i = (i + 1) & mask)
    if (queue_slots_[i].key == key) return queue_slots_[i].queue;
  {
    const int id = static_cast<int>(queues_.size());
    Queue queue{key, {}, 0, QueueSet(pool_.get())};
    if (key.phase == kPreferred) {
      agents_[key.sites_or_agent].preferred_queues.push_back(id);
    } else {
      for (std::size_t p = 0; p < profiles_.size(); ++p)
        if (admits(key, profiles_[p])) {
          queue.profiles.push_back(static_cast<int>(p));
          queue.ready_profiles += !profiles_[p].ready.empty();
          profiles_[p].queues.push_back(id);
        }
    }
    queues_.push_back(std::move(queue));
    heads_.push_back(QueueHead{0.0, 0.0, config_.plans[key.plan].aging});
    queue_slots_[i] = QueueSlot{key, id};
    if (2 * queues_.size() > queue_slots_.size()) index_queues(2 * queue_slots_.size());
    return id;
  }
}

void Router::index_queues(std::size_t slots) {
  queue_slots_.assign(slots, QueueSlot{});
  step_queues_.assign(steps_.size(), kNone);
  const std::size_t mask = slots - 1;
  for (std::size_t q = 0; q < queues_.size(); ++q) {
    std::size_t i = QueueKeyHash{}(queues_[q].key) & mask;
    while (queue_slots_[i].queue != kNone) i = (i + 1) & mask;
    queue_slots_[i] = QueueSlot{queues_[q].key, static_cast<int>(q)};
  }
}

bool Router::admits(const QueueKey& key, const Profile& profile) const {
  const StepConfig& step = config_.plans[key.plan].steps[key.phase];
  for (const SkillLevel& need : step.require)
    if (profile.level(need.skill) < need.level) return false;
  if (key.language != kNone && profile.level(key.language) < step.language_level) return false;
  return (key.sites_or_agent >> profile.site) & 1;
}

int Router::distance(int region, int site) const {
  return region == kNone ? 0 : config_.distance[static_cast<std::size_t>(region) * config_.n_sites + site];
}

// The one statement of a call's priority (DESIGN.md §4.1), split so that its static part
// can be kept with the call; the sums associate exactly as in the reference model.
double Router::standing_priority(const Call& call) const {
  const PlanConfig& plan = config_.plans[call.plan];
  return plan.base_priority + plan.value_weight * call.value +
         plan.repeat_weight * static_cast<double>(call.repeats) + call.priority;
}

double Router::priority(const Call& call, double t) const {
  return aged(call.standing, plans_[call.plan].aging, call.arrival, t);
}

double Router::priority(const QueueEntry& entry, int queue, double t) const {
  const Call& call = calls_[entry.call];
  return aged(call.standing, plans_[queues_[queue].key.plan].aging, call.arrival, t);
}

// Within one queue every call shares the plan, so priority(t) differs from this rank by the
// same aging·t for all of them: the queue can stay ordered by it. (Exactly so whenever the
// arithmetic is exact; otherwise two calls within one rounding error may swap.)
double Router::priority_rank(const Call& call) const {
  return call.standing - plans_[call.plan].aging * call.arrival;
}

ScoreTerms Router::score_terms(const Call& call, const Profile& profile, double ready_since, double t) const {
  const StepConfig& step = config_.plans[call.plan].steps[call.phase];
  int proficiency = 0;
  bool language_counted = false;
  for (const SkillLevel& need : step.require) {
    proficiency += profile.level(need.skill);
    language_counted |= need.skill == call.language;
  }
  if (step.language_level > 0 && call.language != kNone && !language_counted)
    proficiency += profile.level(call.language);
  const Weights& w = step.weights;
  ScoreTerms s;
  s.proficiency = w.proficiency * static_cast<double>(proficiency);
  s.distance = w.distance * static_cast<double>(distance(call.region, profile.site));
  s.breadth = w.breadth * static_cast<double>(profile.breadth);
  s.idle = w.idle * (t - ready_since);
  s.total = s.proficiency + s.distance + s.breadth + s.idle;
  return s;
}

std::optional<Router::Candidate> Router::best_in_profile(const Call& call, const Profile& profile, double t) const {
  if (profile.ready.empty()) return std::nullopt;
  const double idle_weight = config_.plans[call.plan].steps[call.phase].weights.idle;
  if (idle_weight >= 0) {  // the longest idle scores highest and also wins the ties
    const ReadyEntry& first = profile.ready.front();
    const double since = first.since();
    return Candidate{score(call, profile, since, t), since, first.agent};
  }
  // Idle time counts against: the latest ready scores highest; among equal scores (the same
  // ready_since, or a rounding tie) the longest idle, then the first added, wins.
  const std::uint64_t latest = profile.ready.back().since_key;
  auto it = profile.ready.lower_bound({latest, 0});
  Candidate best{score(call, profile, it->since(), t), it->since(), it->agent};
  while (it != profile.ready.begin()) {
    --it;
    const double s = score(call, profile, it->since(), t);
    if (s != best.score) break;
    auto first_of_time = profile.ready.lower_bound({it->since_key, 0});
    best = Candidate{s, it->since(), first_of_time->agent};
    it = first_of_time;
  }
  return best;
}

std::optional<Router::Candidate> Router::best_agent(const Call& call, const Queue& queue, double t) const {
  // Rule 2: the best-scoring ready agent among the profiles the call's queue admits.
  std::optional<Candidate> best;
  if (queue.ready_profiles == 0) return best;
  if (queue.ready_profiles == 1 && config_.plans[call.plan].steps[call.phase].weights.idle >= 0) {
    // One profile to choose from, where the longest idle wins: its score has nothing to be
    // compared with (enqueue, the only caller, reads the agent only).
    for (int p : queue.profiles)
      if (!profiles_[p].ready.empty()) {
        const ReadyEntry& first = profiles_[p].ready.front();
        return Candidate{0.0, first.since(), first.agent};
      }
  }
  for (int p : queue.profiles) {
    if (profiles_[p].ready.empty()) continue;
    std::optional<Candidate> c = best_in_profile(call, profiles_[p], t);
    if (c && (!best || c->score > best->score ||
              (c->score == best->score && (c->ready_since < best->ready_since ||
                                           (c->ready_since == best->ready_since && c->agent < best->agent)))))
      best = c;
  }
  return best;
}

// ---------------------------------------------------------------- invariants

void Router::check_invariants() const {
  auto check = [](bool ok, const char* what) {
    if (!ok) throw std::logic_error(std::string("ccroute invariant broken: ") + what);
  };
  std::vector<int> holding(agents_.size(), 0);
  for (CallRef ref = 0; ref < calls_.size(); ++ref) {
    const Call& call = calls_[ref];
    if (!call.live) continue;
    const auto slot = call.queue != kNone ? queues_[call.queue].calls.find(entry(call, ref)) : QueueSet::const_iterator();
    const bool queued = call.queue != kNone && slot != queues_[call.queue].calls.end();
    check(!queued || slot->call == ref, "a queued call's entry names it");
    check(queued == (call.state == CallState::Waiting), "a call is queued iff it is waiting");
    if (call.state != CallState::Waiting) {
      holding[call.agent] += 1;
      const AgentState expected = call.state == CallState::Offered ? AgentState::Reserved : AgentState::Busy;
      check(agents_[call.agent].state == expected, "an offered call's agent is reserved, a connected one's busy");
    }
  }
  for (AgentRef ref = 0; ref < agents_.size(); ++ref) {
    const Agent& agent = agents_[ref];
    const bool holds = agent.state == AgentState::Reserved || agent.state == AgentState::Busy;
    check(holding[ref] == (holds ? 1 : 0), "an agent holds at most one call");
    check(holds ? agent.call != kNoCall && calls_[agent.call].agent == ref : agent.call == kNoCall,
          "an agent knows the call it holds");
    const bool listed = profiles_[agent.profile].ready.count({ordered_bits(agent.ready_since), ref}) > 0;
    check(listed == (agent.state == AgentState::Ready), "an agent is listed ready iff it is ready");
    if (agent.state == AgentState::Ready)
      for (int q : profiles_[agent.profile].queues) check(queues_[q].calls.empty(), "no waiting call admits a ready agent");
  }
  auto broken_tree = [](const char* what) { throw std::logic_error(std::string("ccroute invariant broken: ") + what); };
  for (const Queue& queue : queues_) queue.calls.check(broken_tree);
  for (const Profile& profile : profiles_) profile.ready.check(broken_tree);
  check(heads_.size() == queues_.size(), "a head per queue");
  for (std::size_t q = 0; q < queues_.size(); ++q) {
    const QueueSet& calls = queues_[q].calls;
    const QueueHead& head = heads_[q];
    check(calls.empty() ? head.order == QueueHead::kEmpty
                        : head.order == calls.front().order && head.standing == calls_[calls.front().call].standing &&
                              head.arrival == calls_[calls.front().call].arrival,
          "a queue's head is its best call");
    check(head.aging == config_.plans[queues_[q].key.plan].aging, "a queue's head ages as its plan");
  }
  for (const Queue& queue : queues_)
    check(queue.ready_profiles == static_cast<int>(std::count_if(queue.profiles.begin(), queue.profiles.end(),
                                                [&](int p) { return !profiles_[p].ready.empty(); })),
          "a queue counts its profiles with a ready agent");
}

}  // namespace ccroute
