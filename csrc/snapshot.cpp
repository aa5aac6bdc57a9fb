// Snapshots: the router's whole state as bytes, and back (format version 2; version 1,
// which has no site tallies, is still read: they restore as zero).
//
// The format is logical, not a memory image: agents, calls, timers and tallies as the rules
// see them, from which restore rebuilds the indexes. So it survives changes to the indexes,
// and the reference model writes and reads the same bytes (src/ccroute/snapshot.py is the
// other implementation and documents the layout field by field).
#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "codec.hpp"
#include "router.hpp"

namespace ccroute {
namespace {

constexpr char kMagic[8] = {'C', 'C', 'R', 'S', 'N', 'A', 'P', '\0'};
constexpr std::uint32_t kVersion = 2;
constexpr std::uint32_t kOldestVersion = 1;  // before the site tallies
constexpr std::size_t kHeaderSize = 24;  // magic, version, CRC-32 of the payload, payload size

void write_config(codec::Writer& w, const Config& c) {
  w.u32(static_cast<std::uint32_t>(c.n_sites));
  w.u32(static_cast<std::uint32_t>(c.n_regions));
  for (int d : c.distance) w.i32(d);
  w.u8(c.offer_timeout.has_value());
  w.f64(c.offer_timeout.value_or(0.0));
  w.u32(static_cast<std::uint32_t>(c.n_skills));
  w.u32(static_cast<std::uint32_t>(c.skill_names.size()));
  for (const std::string& name : c.skill_names) w.bytes(name);
  w.u32(static_cast<std::uint32_t>(c.plans.size()));
  for (const PlanConfig& p : c.plans) {
    w.bytes(p.name);
    for (double x : {p.base_priority, p.value_weight, p.repeat_weight, p.aging, p.sl_threshold, p.sl_target, p.wrapup})
      w.f64(x);
    w.u32(static_cast<std::uint32_t>(p.steps.size()));
    for (const StepConfig& s : p.steps) {
      w.f64(s.after);
      w.u32(static_cast<std::uint32_t>(s.require.size()));
      for (const SkillLevel& need : s.require) {
        w.u16(need.skill);
        w.u8(need.level);
      }
      w.i32(s.language_level);
      w.i32(s.max_distance);
      for (double x : {s.weights.proficiency, s.weights.distance, s.weights.breadth, s.weights.idle}) w.f64(x);
    }
  }
}

}  // namespace

void encode_config(std::string& out, const Config& config) {
  codec::Writer w(out);
  write_config(w, config);
}

std::string fingerprint(const Config& config) {
  std::string encoded;
  encode_config(encoded, config);
  std::string tag;
  codec::Writer(tag).u64(static_cast<std::uint64_t>(encoded.size()) << 32 | codec::crc32(encoded.data(), encoded.size()));
  return tag;
}

std::string Router::snapshot(const std::vector<std::string>& call_keys) const {
  std::string blob(kHeaderSize, '\0');
  codec::Writer w(blob);
  w.bytes(config_tag_);
  w.f64(now_);
  w.u64(calls_created_);
  w.u64(timers_created_);
  w.u64(events_);
  w.u32(static_cast<std::uint32_t>(skill_names_.size()));
  for (const std::string& name : skill_names_) w.bytes(name);
  std::vector<double> agent_due(agents_.size()), call_due(calls_.size());  // kept by the timers only
  for (const Timer& t : pending_timers()) (t.for_agent ? agent_due : call_due)[t.ref] = t.due;
  w.u32(static_cast<std::uint32_t>(agents_.size()));
  for (AgentRef ref = 0; ref < agents_.size(); ++ref) {
    const Agent& a = agents_[ref];
    const Profile& profile = profiles_[a.profile];
    w.bytes(a.key);
    w.u32(static_cast<std::uint32_t>(profile.site));
    w.u32(static_cast<std::uint32_t>(profile.breadth));
    for (std::size_t skill = 0; skill < profile.levels.size(); ++skill)
      if (profile.levels[skill]) {
        w.u16(static_cast<std::uint16_t>(skill));
        w.u8(profile.levels[skill]);
      }
    w.u8(a.wrapup.has_value());
    w.f64(a.wrapup.value_or(0.0));
    w.u8(static_cast<std::uint8_t>(a.state));
    w.bytes(a.state == AgentState::NotReady ? std::string_view(a.reason) : std::string_view());
    w.f64(a.ready_since);
    w.f64(a.since);
    w.u64(a.timer);
    w.f64(a.timer ? agent_due[ref] : 0.0);
  }
  w.u32(static_cast<std::uint32_t>(tallies_.size()));
  for (const PlanStats& t : tallies_) {
    w.i64(t.arrived);
    w.i64(t.answered);
    w.i64(t.abandoned);
    w.i64(t.answered_within);
    w.f64(t.wait_sum);
    for (const std::optional<double>* average : {&t.handle_time, &t.answer_time}) {
      w.u8(average->has_value());
      w.f64(average->value_or(0.0));
    }
  }
  w.u32(static_cast<std::uint32_t>(site_tallies_.size()));
  for (const SiteTally& t : site_tallies_) {
    w.i64(t.answered);
    w.i64(t.answered_within);
    w.f64(t.wait_sum);
    w.i64(t.handled);
    w.f64(t.handle_sum);
  }
  std::vector<std::pair<std::uint64_t, CallRef>> live;  // written in arrival order
  for (CallRef ref = 0; ref < calls_.size(); ++ref)
    if (calls_[ref].live) live.emplace_back(calls_[ref].order, ref);
  std::sort(live.begin(), live.end());
  w.u32(static_cast<std::uint32_t>(live.size()));
  for (const auto& [order, ref] : live) {
    const Call& c = calls_[ref];
    w.u32(ref);
    w.u64(order);
    w.bytes(ref < call_keys.size() ? std::string_view(call_keys[ref]) : std::string_view());
    w.u32(static_cast<std::uint32_t>(c.plan));
    w.i32(c.region);
    w.i32(c.language);
    w.f64(c.value);
    w.f64(c.priority);
    w.i64(c.repeats);
    w.i64(c.preferred_agent);
    w.f64(c.has_preferred_turn() ? c.preferred_until - c.arrival : 0.0);  // as the reference model: the wait is not kept
    w.u8(c.has_preferred_turn());
    w.f64(c.has_preferred_turn() ? c.preferred_until : 0.0);
    w.f64(c.arrival);
    w.f64(c.since);
    w.u8(static_cast<std::uint8_t>(c.state));
    w.i32(c.phase);
    w.u32(c.state == CallState::Waiting ? 0 : c.agent);
    w.u64(c.timer);
    w.f64(c.timer ? call_due[ref] : 0.0);
  }
  w.u32(static_cast<std::uint32_t>(free_calls_.size()));
  for (CallRef ref : free_calls_) w.u32(ref);

  const std::size_t payload = blob.size() - kHeaderSize;
  std::string header;
  codec::Writer h(header);
  header.append(kMagic, sizeof kMagic);
  h.u32(kVersion);
  h.u32(codec::crc32(blob.data() + kHeaderSize, payload));
  h.u64(payload);
  blob.replace(0, kHeaderSize, header);
  return blob;
}

void Router::restore(std::string_view blob, std::vector<std::string>& call_keys) {
  if (!agents_.empty() || !calls_.empty() || calls_created_ != 0 || std::isfinite(now_))
    throw Error(ErrorKind::Restore, "restore needs a router just built from its configuration");
  try {
    restore_state(blob, call_keys);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::Restore) throw;
    throw Error(ErrorKind::Restore, std::string("snapshot: a value out of its domain (") + e.what() + ")");
  }
}

void Router::restore_state(std::string_view blob, std::vector<std::string>& call_keys) {
  codec::Reader header(blob, "snapshot");
  if (blob.empty()) header.fail("empty");
  if (blob.size() < kHeaderSize || std::memcmp(blob.data(), kMagic, sizeof kMagic) != 0)
    header.fail("not a ccroute snapshot");
  header.u64();  // the magic
  const std::uint32_t version = header.u32();
  if (version < kOldestVersion || version > kVersion)
    header.fail("format version " + std::to_string(version) + ", this ccroute reads versions " +
                std::to_string(kOldestVersion) + " to " + std::to_string(kVersion));
  const std::uint32_t crc = header.u32();
  const std::uint64_t size = header.u64();
  if (size != header.remaining()) header.fail(size > header.remaining() ? "truncated" : "trailing bytes after the payload");
  const std::string_view payload = blob.substr(kHeaderSize);
  if (codec::crc32(payload.data(), payload.size()) != crc) header.fail("checksum mismatch (corrupted)");

  codec::Reader r(payload, "snapshot");
  if (r.bytes() != config_tag_) r.fail("taken under another configuration");
  const double now = r.f64();
  const std::uint64_t calls_created = r.u64();
  const std::uint64_t timers_created = r.u64();
  const std::uint64_t events = r.u64();
  if (std::isnan(now) || now == INFINITY) r.fail("bad time");
  auto finite = [&](double x, const char* what) {
    if (!std::isfinite(x)) r.fail(std::string("non-finite ") + what);
    return x;
  };
  // A timer is kept by the timers only: rebuild_timers lays them out in lanes at the end.
  auto timer = [&](std::uint64_t seq, double due, std::uint32_t owner, bool for_agent) {
    if (seq > timers_created || (seq && !(std::isfinite(due) && due >= now))) r.fail("a timer out of its range");
    if (seq) timers_.push(Timer{due, seq, owner, for_agent}, Timers::kNoLane);
  };

  // Skills: by name where named, else by number (a router built through the C API).
  std::vector<SkillRef> skill_map;
  for (std::uint32_t i = 0, n = r.count(4); i < n; ++i) {
    const std::string_view name = r.bytes();
    auto named = name.empty() ? skill_names_.end() : std::find(skill_names_.begin(), skill_names_.end(), name);
    if (named != skill_names_.end()) skill_map.push_back(static_cast<SkillRef>(named - skill_names_.begin()));
    else if (name.empty() && i < skill_names_.size() && skill_names_[i].empty()) skill_map.push_back(static_cast<SkillRef>(i));
    else skill_map.push_back(add_skill(name));
  }

  for (std::uint32_t i = 0, n = r.count(40); i < n; ++i) {
    const std::string_view key = r.bytes();
    const std::uint32_t site = r.u32();
    std::vector<SkillLevel> levels(r.count(3));
    for (SkillLevel& held : levels) {
      const std::uint16_t skill = r.u16();
      if (skill >= skill_map.size()) r.fail("unknown skill");
      held = {skill_map[skill], r.u8()};
    }
    const bool has_wrapup = r.u8();
    const double wrapup = r.f64();
    if (site >= static_cast<std::uint32_t>(config_.n_sites)) r.fail("unknown site");
    const AgentRef ref = add_agent(static_cast<int>(site), levels, has_wrapup ? std::optional<double>(wrapup) : std::nullopt, key);
    Agent& a = agents_[ref];
    const std::uint8_t state = r.u8();
    if (state > static_cast<std::uint8_t>(AgentState::Removed)) r.fail("bad agent state");
    a.state = static_cast<AgentState>(state);
    if (a.state == AgentState::Removed) profiles_[a.profile].members -= 1;
    a.reason = r.bytes();
    a.ready_since = finite(r.f64(), "ready time");
    a.since = finite(r.f64(), "time");
    a.timer = r.u64();
    timer(a.timer, r.f64(), ref, true);
    if (a.timer && a.state != AgentState::Wrapup) r.fail("a timer on an agent not in wrap-up");
  }

  if (r.u32() != tallies_.size()) r.fail("another number of plans");
  for (PlanStats& t : tallies_) {
    t.arrived = r.i64();
    t.answered = r.i64();
    t.abandoned = r.i64();
    t.answered_within = r.i64();
    t.wait_sum = r.f64();
    for (std::optional<double>* average : {&t.handle_time, &t.answer_time}) {
      const bool known = r.u8();
      const double value = r.f64();
      if (known && !(std::isfinite(value) && value >= 0)) r.fail("a recent average out of range");
      *average = known ? std::optional<double>(value) : std::nullopt;
    }
  }
  if (version >= 2) {
    if (r.u32() != site_tallies_.size()) r.fail("another number of sites");
    for (SiteTally& t : site_tallies_) {
      t.answered = r.i64();
      t.answered_within = r.i64();
      t.wait_sum = r.f64();
      t.handled = r.i64();
      t.handle_sum = r.f64();
      if (t.answered < 0 || t.answered_within < 0 || t.answered_within > t.answered || t.handled < 0 ||
          !(std::isfinite(t.wait_sum) && t.wait_sum >= 0) || !(std::isfinite(t.handle_sum) && t.handle_sum >= 0))
        r.fail("a site's statistics out of range");
    }
  }

  std::unordered_set<std::uint64_t> orders;
  std::vector<std::pair<std::uint64_t, double>> arrivals;  // (creation order, arrival) of each live call
  for (std::uint32_t i = 0, n = r.count(100); i < n; ++i) {
    const CallRef ref = r.u32();
    if (ref >= n + r.remaining() / 4) r.fail("a call handle out of range");  // beyond what a free list could hold
    if (ref >= calls_.size()) calls_.resize(ref + 1);
    if (ref >= call_keys.size()) call_keys.resize(ref + 1);
    Call& c = calls_[ref];
    if (c.live) r.fail("a call handle twice");
    const std::uint64_t order = r.u64();
    if (order >= calls_created || !orders.insert(order).second) r.fail("a call's creation order out of range");
    call_keys[ref] = r.bytes();
    CallSpec s;  // read as wide as written, checked, then narrowed into the record
    s.plan = static_cast<int>(r.u32());
    s.region = r.i32();
    s.language = r.i32();
    s.value = finite(r.f64(), "value");
    s.priority = finite(r.f64(), "priority");
    s.repeats = r.i64();
    s.preferred_agent = r.i64();
    s.preferred_wait = finite(r.f64(), "preferred wait");
    const bool has_until = r.u8();
    const double until = r.f64();
    const double arrival = finite(r.f64(), "arrival");
    const double since = finite(r.f64(), "time");
    const std::uint8_t state = r.u8();
    const std::int32_t phase = r.i32();
    const AgentRef agent = r.u32();
    const std::uint64_t timer_seq = r.u64();
    timer(timer_seq, r.f64(), ref, false);
    if (s.plan < 0 || s.plan >= static_cast<int>(config_.plans.size())) r.fail("unknown plan");
    if (s.region < kNone || s.region >= config_.n_regions) r.fail("unknown region");
    if (s.language < kNone || s.language >= static_cast<int>(skill_map.size())) r.fail("unknown language");
    if (s.language != kNone) s.language = skill_map[s.language];
    // A preferred turn ends after the arrival by a finite wait, which a snapshot writes as the difference.
    const bool turn_ok = !has_until || (until >= arrival && std::isfinite(until - arrival));
    if (s.repeats < 0 || s.repeats > kMaxRepeats || s.preferred_wait < 0 || arrival > now || !turn_ok)
      r.fail("a call's numbers out of their range");
    if (s.preferred_agent < kNone || s.preferred_agent >= static_cast<std::int64_t>(agents_.size()))
      r.fail("unknown preferred agent");
    if (state > static_cast<std::uint8_t>(CallState::Connected)) r.fail("bad call state");
    const int steps = static_cast<int>(config_.plans[s.plan].steps.size());
    if (phase < kPreferred || phase >= steps || (phase == kPreferred && (!has_until || s.preferred_agent == kNone)))
      r.fail("bad step");
    arrivals.emplace_back(order, arrival);
    c = Call::of(s);
    c.live = true;
    c.order = order;
    c.arrival = arrival;
    c.since = since;
    c.agent = agent;
    c.timer = timer_seq;
    c.state = static_cast<CallState>(state);
    c.phase = static_cast<std::int16_t>(phase);
    if (has_until) c.preferred_until = finite(until, "preferred wait");
    c.standing = standing_priority(c);
    if (c.state == CallState::Waiting) {
      c.agent = 0;
      queue_insert(queue_for(c), c, ref);
    } else {
      if (c.agent >= agents_.size() || agents_[c.agent].call != kNoCall) r.fail("a call held by an unknown or busy agent");
      agents_[c.agent].call = ref;
    }
  }
  for (std::uint32_t i = 0, n = r.count(4); i < n; ++i) {
    const CallRef ref = r.u32();
    if (ref >= orders.size() + n) r.fail("a free call handle out of range");
    if (ref >= calls_.size()) calls_.resize(ref + 1);
    if (calls_[ref].live) r.fail("a free call handle in use");
    free_calls_.push_back(ref);
  }
  if (free_calls_.size() + orders.size() != calls_.size() ||
      std::unordered_set<CallRef>(free_calls_.begin(), free_calls_.end()).size() != free_calls_.size())
    r.fail("call handles do not add up");
  // Calls arrive in creation order, which a queue's order relies on (Router::QueueEntry).
  std::sort(arrivals.begin(), arrivals.end());
  for (std::size_t i = 1; i < arrivals.size(); ++i)
    if (arrivals[i].second < arrivals[i - 1].second) r.fail("a call arrived before one created earlier");
  if (!r.done()) r.fail("trailing bytes");
  // Nothing is lost (DESIGN.md §4.6): each plan's tallies account for its live calls.
  std::vector<std::int64_t> unanswered(tallies_.size(), 0);
  for (const Call& c : calls_)
    if (c.live && c.state != CallState::Connected) unanswered[c.plan] += 1;
  for (std::size_t p = 0; p < tallies_.size(); ++p) {
    const PlanStats& t = tallies_[p];
    std::int64_t decided = 0, accounted = 0;
    if (t.answered < 0 || t.abandoned < 0 || t.answered_within < 0 || t.answered_within > t.answered ||
        !(std::isfinite(t.wait_sum) && t.wait_sum >= 0) || __builtin_add_overflow(t.answered, t.abandoned, &decided) ||
        __builtin_add_overflow(decided, unanswered[p], &accounted) || t.arrived != accounted)
      r.fail("a plan's statistics do not add up");
  }
  call_keys.resize(calls_.size());  // one per handle, free ones included

  now_ = now;
  calls_created_ = calls_created;
  timers_created_ = timers_created;
  events_ = events;
  for (AgentRef ref = 0; ref < agents_.size(); ++ref) {
    Agent& a = agents_[ref];
    if (a.state == AgentState::Ready) list_ready(ref);
  }
  rebuild_timers();
  try {
    check_invariants();
  } catch (const std::logic_error& e) {
    r.fail(std::string("inconsistent state (") + e.what() + ")");
  }
}

}  // namespace ccroute
