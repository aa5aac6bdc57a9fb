// ccroute core: the routing engine of DESIGN.md §4, with no Python in sight.
//
// The rules are those of the reference model (src/ccroute/reference.py); this engine
// indexes them so that a decision never scans all agents or all waiting calls:
// waiting calls are grouped in queues by what admits them, ready agents in profiles
// (same site, same skill levels), and each queue knows which profiles it admits.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "btree.hpp"
#include "codec.hpp"
#include "error.hpp"
#include "journal.hpp"
#include "pool.hpp"
#include "timers.hpp"

namespace ccroute {

using AgentRef = std::uint32_t;  // dense, in the order agents were added
using CallRef = std::uint32_t;   // a live call's handle; reused after the call leaves
using SkillRef = std::uint16_t;
inline constexpr std::int32_t kNone = -1;
inline constexpr int kMaxLevel = 10;
inline constexpr int kMaxSites = 64;  // a queue's admitted sites are a 64-bit mask
// Limits from the narrow fields of a call's record (Router::Call): checked where the values
// come in (Config, add_agent, check_call, restore), so that nothing is silently cut.
inline constexpr int kMaxSteps = 0x7FFF;                      // steps of a plan (a call's step: 16 bits)
inline constexpr std::uint32_t kMaxAgents = 0x7FFFFFFF;       // agents ever added (a preferred agent: 31 bits)
inline constexpr std::int64_t kMaxRepeats = 0xFFFFFFFF;       // a caller's repeats (32 bits, unsigned)

// Removed: taken out by remove_agent; its number is not reused, its id may be by a new agent.
enum class AgentState : std::uint8_t { Offline, Ready, Reserved, Busy, Wrapup, NotReady, Removed };
enum class CallState : std::uint8_t { Waiting, Offered, Connected };

// What an error message names. The core knows its entities by dense numbers; whoever embeds
// it knows them by ids and names, and can say so through a Namer (see Router::set_namer).
enum class Entity : std::uint8_t { Agent, Call, Plan, Site, Region, Skill };
using Namer = std::function<std::string(Entity, std::uint32_t)>;
inline constexpr CallRef kNoCall = 0xFFFFFFFFu;  // a call the embedder does not know

struct Weights {
  double proficiency = 1.0, distance = -1.0, breadth = 0.0, idle = 0.0;
};
struct SkillLevel {
  SkillRef skill;
  std::uint8_t level;
};
struct StepConfig {
  double after = 0.0;
  std::vector<SkillLevel> require;
  int language_level = 0;
  int max_distance = kNone;
  Weights weights;
};
struct PlanConfig {
  std::string name;
  std::vector<StepConfig> steps;
  double base_priority = 0, value_weight = 0, repeat_weight = 0, aging = 1, sl_threshold = 20,
         sl_target = 0.85, wrapup = 0;
};
struct Config {
  int n_sites = 0;
  int n_regions = 0;
  std::vector<int> distance;  // [region][site], row-major, defaults already filled in
  std::vector<PlanConfig> plans;
  std::optional<double> offer_timeout;
  int n_skills = 0;
  std::vector<std::string> skill_names;  // optional: the names of the n_skills skills, for snapshots
};
// Shared by the core's source files: names of states in messages, refusing a bad value.
const char* state_name(AgentState state);
const char* state_name(CallState state);
[[noreturn]] void fail(ErrorKind kind, const std::string& message);
// Refuses a number that is not finite or is below `minimum`. The check is inline (every
// arrival makes three), the refusal out of line.
[[noreturn]] void refuse_number(const char* what, double x, double minimum);
inline void check_finite(const char* what, double x, double minimum = -INFINITY) {
  if (!std::isfinite(x) || x < minimum) refuse_number(what, x, minimum);
}

// Doubles as unsigned integers in the same order (-0.0 as 0.0; never NaN: times and
// priorities are finite). The router's trees and the simulator's event heap hold these as
// keys: a comparison of integers, without the branches and NaN checks that doubles cost.
inline std::uint64_t ordered_bits(double x) {
  std::uint64_t bits;
  x += 0.0;  // -0.0 becomes 0.0, which it equals
  std::memcpy(&bits, &x, sizeof bits);
  return bits >> 63 ? ~bits : bits | (std::uint64_t{1} << 63);
}
inline double from_ordered_bits(std::uint64_t key) {
  const std::uint64_t bits = key >> 63 ? key & ~(std::uint64_t{1} << 63) : ~key;
  double x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// A fingerprint of a configuration: snapshots and journals carry their router's, so that
// one taken under another configuration is refused.
std::string fingerprint(const Config& config);
// A configuration as bytes (snapshot.cpp), which its fingerprint digests.
void encode_config(std::string& out, const Config& config);

struct CallSpec {
  int plan = 0;
  int region = kNone;
  int language = kNone;
  double value = 0, priority = 0;
  std::int64_t repeats = 0;
  std::int64_t preferred_agent = kNone;
  double preferred_wait = 0;
};
struct Offer {
  CallRef call;
  AgentRef agent;
  double time;
};
struct CallView {  // what a wallboard shows of a live call
  CallRef call;
  int plan;
  CallState state;
  double since;    // when it entered its state
  int step;        // kNone while it waits for its preferred agent
  double arrival;
  std::int64_t agent;  // holder of its offer or connection, kNone while waiting
};
struct AgentView {  // what a wallboard shows of an agent
  AgentRef agent;
  int site;
  AgentState state;
  double since;           // when it entered its state
  CallRef call;           // the call it holds, kNoCall if none
};
// Explanations (csrc/explain.cpp): the terms of a decision, as the rules of DESIGN.md §4 add them.
struct PriorityTerms {  // §4.1: total = base + value + repeats + extra + aging, summed in that order
  double base = 0, value = 0, repeats = 0, extra = 0, aging = 0, total = 0;
};
struct ScoreTerms {  // §4.2: total = proficiency + distance + breadth + idle, summed in that order
  double proficiency = 0, distance = 0, breadth = 0, idle = 0, total = 0;
};
struct AgentScore {
  AgentRef agent;
  double ready_since;
  ScoreTerms score;
};
// A requirement of a call's step that no ready agent meets. `skill`: the skill (Skill,
// Language) or the caller's region (Distance); `level`: the level or the distance limit.
enum class Requirement : std::uint8_t { Skill, Language, Distance, PreferredAgent, AllAtOnce, AnyReadyAgent };
struct Unmet {
  Requirement requirement;
  std::int32_t skill;
  std::int32_t level;
};
struct Explanation {
  CallView call;
  std::optional<double> next_step_at;  // when its wait reaches the next step (or its preferred agent's time ends)
  PriorityTerms priority;
  std::uint32_t rank = 0;              // 1 = next among the waiting calls it competes with; 0 unless waiting
  std::uint32_t competing = 0;         // waiting calls that some agent admitted for it would also take
  std::vector<AgentScore> agents;      // the best ready agents its step admits, best first
  std::vector<Unmet> unmet;            // when none: what no ready agent meets
};
// A decision as the decision log records it (offer-time terms).
struct Decision {
  CallRef call;
  AgentRef agent;
  double time;
  int plan;
  int step;             // kNone: the preferred agent's turn
  bool agent_chosen;    // rule 2 (an agent for the call) rather than rule 1 (a call for the agent)
  double wait;          // since the call arrived
  PriorityTerms priority;
  ScoreTerms score;
};

// Weight of the newest observation in the recent averages of handle and answer times
// (exponentially weighted: about the last 20 calls count).
inline constexpr double kRecentWeight = 0.05;

// The recent average after one more observation (the first one sets it).
inline void recent(std::optional<double>& average, double x) {
  average = average ? *average + kRecentWeight * (x - *average) : x;
}

struct PlanStats {
  std::int64_t arrived = 0, answered = 0, abandoned = 0, answered_within = 0;
  double wait_sum = 0.0;
  std::optional<double> handle_time;  // recent average talk + wrap-up of its answered calls
  std::optional<double> answer_time;  // recent average offer → accept (ring time) of its answered calls
  std::int64_t waiting = 0;
  std::optional<double> oldest_wait;
};

// The heap a router holds, by part, in bytes (Router::memory_use, csrc/memory.cpp): counted
// from its containers' capacities and nodes, with the allocator's overhead modelled, not
// measured. An estimate to set beside the process's resident memory, which is the truth.
struct MemoryUse {
  std::size_t calls = 0;     // call records (live and free slots) and the free list
  std::size_t queues = 0;    // the queues of waiting calls: their ordered entries, the queue index
  std::size_t agents = 0;    // agent records, their ids and not-ready reasons
  std::size_t profiles = 0;  // profiles, their ready lists, the profile index
  std::size_t timers = 0;    // pending timers (step escalations, offer time-outs, ends of wrap-up)
  std::size_t other = 0;     // the configuration, statistics, names, decision log, the Router itself
  std::size_t total() const { return calls + queues + agents + profiles + timers + other; }
};

// A site's running tallies: calls answered and ended by its agents, the site being the
// agent's at the accept and at the hang-up (an agent may move: set_skills, reconfigure).
struct SiteTally {
  std::int64_t answered = 0;
  std::int64_t answered_within = 0;  // accept − arrival ≤ the call's plan's service-level threshold
  double wait_sum = 0.0;             // Σ (accept − arrival) over the calls answered
  std::int64_t handled = 0;          // connections ended (hang-ups)
  double handle_sum = 0.0;           // Σ (hang-up − accept + wrap-up seconds) over the calls handled
  SiteTally& operator+=(const SiteTally& o) {  // two sites merged by a reconfiguration
    answered += o.answered;
    answered_within += o.answered_within;
    wait_sum += o.wait_sum;
    handled += o.handled;
    handle_sum += o.handle_sum;
    return *this;
  }
};
// What a multi-site wallboard shows of a site: its tallies and its agents by state.
struct SiteStats {
  SiteTally tally;
  std::int64_t agents[static_cast<int>(AgentState::Removed) + 1] = {};  // by AgentState (Removed: always 0)
};

class Router {
 public:
  explicit Router(Config config);
  // Not reassignable: the ordered sets' nodes live in pool_, which a move assignment would
  // replace (and free) before the old sets hand their nodes back to it.
  Router& operator=(Router&&) = delete;
  // Error messages name entities through `namer` ("agent 'a1'"); by default by number ("agent #0").
  void set_namer(Namer namer) { namer_ = std::move(namer); }
  // `name` and `key` are the embedder's names for the skill and the agent (its id, encoded as
  // it likes): kept for snapshots and the journal, never used to decide.
  SkillRef add_skill(std::string_view name = {});
  AgentRef add_agent(int site, const std::vector<SkillLevel>& skills, std::optional<double> wrapup,
                     std::string_view key = {});

  // Each operation appends the offers it caused to `out` (those of timers first). A bad
  // argument throws before anything changes; an impossible transition throws after the
  // timers due by `now` fired, leaving their offers in `out`.
  // `key`: the embedder's id of the call, for the journal (the core does not keep it).
  CallRef arrive(const CallSpec& call, double now, std::vector<Offer>& out, std::string_view key = {});
  // The handle the next arrive gives its call (the last one freed, else a new one): the
  // binding files the call's id under it before the arrival, in one probe of its id map.
  CallRef next_call_ref() const {
    return free_calls_.empty() ? static_cast<CallRef>(calls_.size()) : free_calls_.back();
  }
  void check_call(const CallSpec& call) const;  // what arrive refuses, before anything changes
  void ready(AgentRef agent, double now, std::vector<Offer>& out);
  void not_ready(AgentRef agent, double now, const std::string& reason, std::vector<Offer>& out);
  void logout(AgentRef agent, double now, std::vector<Offer>& out);
  // Accept and reject name the agent answering: only the holder of the call's current offer
  // may (a late answer after a time-out re-offered the call, or after the caller left, is
  // refused). `call` may be kNoCall or a handle no longer live: refused the same way.
  void accept(CallRef call, AgentRef agent, double now, std::vector<Offer>& out);
  void reject(CallRef call, AgentRef agent, double now, std::vector<Offer>& out);
  void abandon(CallRef call, double now, std::vector<Offer>& out);
  void hangup(CallRef call, double now, std::vector<Offer>& out);
  void advance(double now, std::vector<Offer>& out);

  // Live changes (csrc/live.cpp): what supervisors do during the day, without a restart.
  // An agent's skills (all of them: a replacement) and/or site. A ready agent is then routed
  // as if it had just become ready (rule 1), keeping its idle time; one holding a call keeps it.
  void set_skills(AgentRef agent, std::optional<int> site, const std::optional<std::vector<SkillLevel>>& skills,
                  double now, std::vector<Offer>& out);
  // Takes an agent out for good; refused while it holds a call.
  void remove_agent(AgentRef agent, double now, std::vector<Offer>& out);
  // Moves a waiting call to another plan (an IVR transfer): it keeps its arrival and order, and
  // its step is the one its wait has reached in the new plan. Its arrival is counted there.
  void transfer(CallRef call, int plan, double now, std::vector<Offer>& out);
  // Changes a waiting or offered call's customer value and/or extra priority.
  void reprioritize(CallRef call, std::optional<double> value, std::optional<double> priority, double now,
                    std::vector<Offer>& out);
  // Replaces the configuration. `plans`, `sites`, `regions` map the old numbers to the new
  // (kNone: gone); a live call whose plan or region is gone, or an agent whose site is gone,
  // refuses the change before anything changes. Waiting calls then re-enter under their new
  // plans in rule 1's order (highest priority now first), each taking an agent if one fits.
  // `document`: the embedder's form of the new configuration, kept for the journal.
  void reconfigure(Config config, const std::vector<int>& plans, const std::vector<int>& sites,
                   const std::vector<int>& regions, double now, std::vector<Offer>& out, std::string_view document = {});
  const std::string& config_document() const { return config_document_; }  // of the last reconfigure
  // Skills held by an agent (not removed) or spoken by a live call: those a new configuration must keep.
  std::vector<SkillRef> skills_in_use() const;

  // When the earliest pending timer falls due (cancelled ones are dropped on the way), if any.
  // Inline, with the search out of line: the simulator asks before every event, the router
  // before every operation, and most often there is no timer at all.
  std::optional<double> next_due() const {
    if (timers_.empty()) return std::nullopt;
    const Timer* front = live_timer_front();
    return front ? std::optional<double>(front->due) : std::nullopt;
  }
  AgentState agent_state(AgentRef agent) const;
  const std::string* agent_reason(AgentRef agent) const;  // nullptr unless not ready
  // Inline, with the refusal out of line: the simulator asks before every answer.
  CallState call_state(CallRef call) const {
    if (!call_live(call)) refuse_call(call);
    return calls_[call].state;
  }
  bool call_live(CallRef call) const { return call < calls_.size() && calls_[call].live; }
  CallView call_view(CallRef call) const;
  AgentView agent_view(AgentRef agent) const;
  void call_views(std::vector<CallView>& out) const;   // every live call, in arrival order
  void agent_views(std::vector<AgentView>& out) const; // every agent not removed, in the order added
  std::size_t n_agents() const { return agents_.size(); }
  const Config& config() const { return config_; }
  std::vector<PlanStats> stats(double now) const;
  // Per site, in site order (csrc/site_stats.cpp). The agent counts come from a scan of the
  // agents, O(agents + sites): a read-out for wallboards, never on the decision path.
  std::vector<SiteStats> site_stats() const;
  double last_time() const { return now_; }
  // Refuses a time that is not a finite number or is before the last operation's.
  void check_time(double now) const {
    if (!std::isfinite(now) || now < now_) refuse_time(now);
  }

  const std::string& agent_key(AgentRef agent) const { return agents_.at(agent).key; }
  const std::string& skill_name(SkillRef skill) const { return skill_names_.at(skill); }

  // Snapshots (csrc/snapshot.cpp): the whole state as bytes, versioned and checksummed, tagged
  // with the configuration it was taken under (by default a fingerprint of the Config; an
  // embedder may set its own, e.g. of the configuration it was built from). `call_keys[ref]`
  // are the embedder's ids of the live calls (may be empty: the C API uses handles). Restore
  // works on a router just built from the same configuration; on an error (Restore) the
  // router must be discarded. Handles of live calls, and those reused next, stay the same.
  void set_config_tag(std::string tag) { config_tag_ = std::move(tag); }
  const std::string& config_tag() const { return config_tag_; }
  std::string snapshot(const std::vector<std::string>& call_keys) const;
  void restore(std::string_view blob, std::vector<std::string>& call_keys);

  // The journal (csrc/journal.hpp): from now on every operation that changes the router is
  // appended to `path` as it returns. A new file is created (an existing one is refused: it
  // holds a history to recover from), unless `end` > 0 continues a journal just replayed.
  void start_journal(const std::string& path, Sync sync, std::uint64_t end = 0);
  void stop_journal() { journal_.reset(); }
  void sync_journal() {
    if (journal_) journal_->sync();
  }
  bool journaling() const { return journal_ != nullptr; }
  // Applies a journal's records, from record `from`, that this router has not seen (those
  // before its event count are in the snapshot it was restored from); call_keys as for
  // restore. Stops at a reconfiguration, whose configuration is the embedder's document:
  // returns its index (the embedder applies it with reconfigure, then calls again from the
  // next record), or the number of records when done. Throws Error(Restore) if the journal is
  // of another configuration, misses events, or a record does not replay.
  std::size_t replay(const JournalContents& journal, std::vector<std::string>& call_keys, std::size_t from = 0);
  // Operations that changed the router since it was built: the journal's event numbers.
  std::uint64_t events() const { return events_; }

  // Why a waiting or offered call stands where it does: its step, priority terms, rank, and the
  // best `n_agents` ready agents its step admits with their score terms, or what no ready
  // agent meets. Reads the state only (O(waiting calls + ready agents)): never on the decision path.
  Explanation explain(CallRef call, double now, std::size_t n_agents) const;
  // How long a caller joining now would wait (README, "Expected wait"); nullopt before any handle
  // time is known when no admitted agent is ready, or when no agent its plan admits is staffed.
  std::optional<double> expected_wait(const CallSpec& call, double now) const;
  // The decision log: while on, every offer's terms are appended to `decisions()`, which the
  // embedder drains (clear_decisions). Off by default; off, it costs a branch per offer.
  void log_decisions(bool on) {
    log_decisions_ = on;
    decisions_.clear();
  }
  const std::vector<Decision>& decisions() const { return decisions_; }
  void clear_decisions() { decisions_.clear(); }

  // Debug aid for tests and sanitizer builds: throws std::logic_error on a broken invariant.
  void check_invariants() const;
  // What the router's heap holds, by part: an estimate (see MemoryUse). O(queues + profiles + agents).
  MemoryUse memory_use() const;

 private:
  static constexpr int kPreferred = -1;  // phase of a call waiting for its preferred agent

  // A ready agent in its profile, longest idle first: (ready_since, agent) ascending.
  struct ReadyEntry {
    std::uint64_t since_key;  // ordered_bits(ready_since)
    AgentRef agent;
    double since() const { return from_ordered_bits(since_key); }
    bool operator<(const ReadyEntry& o) const {  // without branches: a search in a tree node cannot predict them
      return (since_key < o.since_key) | ((since_key == o.since_key) & (agent < o.agent));
    }
  };
  using ReadySet = BTreeSet<ReadyEntry>;
  struct Profile {  // agents alike in site and skill levels: alike in every score term but idle
    int site;
    std::vector<std::uint8_t> levels;
    int breadth;
    int members = 0;                                    // agents (not removed) of this profile
    std::vector<int> queues;                            // queues admitting this profile
    ReadySet ready;                                     // (ready_since, agent), longest idle first
    int level(int skill) const { return skill < static_cast<int>(levels.size()) ? levels[skill] : 0; }
  };
  struct Agent {
    std::string key;
    int profile;
    std::optional<double> wrapup;
    AgentState state = AgentState::Offline;
    std::string reason;
    double ready_since = 0.0;
    double since = 0.0;       // when it entered its state
    CallRef call = kNoCall;   // the call it holds while reserved or busy
    std::uint64_t timer = 0;  // creation number of its pending timer (end of wrap-up), 0 = none; due: pending_timers
    std::vector<int> preferred_queues;
  };
  // A waiting call in its queue, best first: higher rank, then earlier arrival, then earlier
  // creation. Arrival needs no place in the key: calls arrive in creation order (an arrival
  // is at the router's time, which never goes back; transfer and reconfigure keep both;
  // restore refuses a snapshot whose calls break it), so among calls of one rank the earlier
  // created arrived no later, and creation order alone ranks them as (arrival, creation) does.
  // 24 bytes rather than 32: more entries to a tree node, fewer nodes and cache lines to a
  // search. Unique by `order`; `call` is no part of the order (entry() rebuilds the key of a
  // queued call from the call, which is how it leaves its queue).
  struct QueueEntry {
    std::uint64_t rank_key;  // ~ordered_bits(rank): the higher rank first
    std::uint64_t order;
    CallRef call;
    bool operator<(const QueueEntry& o) const {  // (rank, order) as one number: a compare without branches
      using Wide = unsigned __int128;
      return (Wide{rank_key} << 64 | order) < (Wide{o.rank_key} << 64 | o.order);
    }
  };
  static_assert(sizeof(void*) != 8 || sizeof(QueueEntry) == 24, "a queue entry is 24 bytes");
  using QueueSet = BTreeSet<QueueEntry>;
  // A call's record: 96 bytes on 64-bit builds (README, "Memory"), most of a waiting call's
  // memory. It keeps of its CallSpec what the rules read after the arrival, narrowed to the
  // ranges check_call admits (preferred_wait only sets preferred_until); its timer's due time
  // is kept by the timers only (pending_timers).
  struct Call {  // what a step escalation reads first, together
    double arrival = 0.0;
    double standing = 0.0;    // priority without the aging term, see standing_priority()
    double since = 0.0;       // when it entered its state
    std::uint64_t order = 0;
    std::uint64_t timer = 0;  // next phase while waiting, offer time-out while offered
    double value = 0.0, priority = 0.0;  // as in its CallSpec; changed by reprioritize
    double preferred_until = -INFINITY;  // end of its preferred agent's turn; -inf: none
    int queue = kNone;
    AgentRef agent = 0;
    int plan = 0;  // as in its CallSpec; changed by transfer and reconfigure
    int region = kNone;
    int language = kNone;
    std::int32_t preferred_agent = kNone;  // agents are numbered below kMaxAgents
    std::uint32_t repeats = 0;             // at most kMaxRepeats
    std::int16_t phase = 0;                // a plan has at most kMaxSteps steps
    CallState state = CallState::Waiting;
    bool live = false;
    bool has_preferred_turn() const { return preferred_until != -INFINITY; }
    // A new record for a spec that check_call accepted: every value fits.
    static Call of(const CallSpec& spec) {
      Call call;
      call.plan = spec.plan;
      call.region = spec.region;
      call.language = spec.language;
      call.value = spec.value;
      call.priority = spec.priority;
      call.repeats = static_cast<std::uint32_t>(spec.repeats);
      call.preferred_agent = static_cast<std::int32_t>(spec.preferred_agent);
      return call;
    }
  };
  static_assert(sizeof(void*) != 8 || sizeof(Call) <= 96,
                "a Call record is 96 bytes (README, Memory): a new field needs room found elsewhere");
  struct QueueKey {
    int plan, phase, language;
    std::uint64_t sites_or_agent;
    bool operator==(const QueueKey& o) const {
      return plan == o.plan && phase == o.phase && language == o.language && sites_or_agent == o.sites_or_agent;
    }
  };
  struct QueueKeyHash {
    std::size_t operator()(const QueueKey& k) const;
  };
  struct Queue {  // waiting calls of one plan that the same agents admit
    QueueKey key;
    std::vector<int> profiles;  // profiles it admits (empty for a preferred-agent queue)
    int ready_profiles = 0;     // of those, the ones with a ready agent: rule 2 looks no further when none
    QueueSet calls;
  };
  // What rule 1 reads of a queue's best call, kept apart from the queue in one dense array:
  // an agent becoming ready looks at the heads of all the queues admitting it.
  struct QueueHead {
    static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
    double standing, arrival, aging;
    std::uint64_t order = kEmpty;  // kEmpty: the queue is empty
  };
  struct Candidate {
    double score;
    double ready_since;
    AgentRef agent;
  };

  void restore_state(std::string_view blob, std::vector<std::string>& call_keys);
  std::vector<std::uint8_t> levels_of(int site, const std::vector<SkillLevel>& skills) const;
  int profile_of(int site, std::vector<std::uint8_t> levels);
  void rebuild_indexes();
  // validation
  std::string name(Entity entity, std::uint32_t ref) const;
  Agent& agent_at(AgentRef ref);
  Call& call_at(CallRef ref);
  Call& offered_to(CallRef ref, AgentRef agent);
  // Refuses an impossible transition. The message is built only then: these checks sit on
  // every accept and hang-up, where building strings would cost more than the decision.
  template <class Message>
  void require(bool allowed, Message&& what) {
    if (!allowed) refuse(what());
  }
  // An impossible transition, after the timers due by now fired: that much happened, and
  // the journal says so (as an advance to now).
  [[noreturn]] void refuse(const std::string& message);
  // Counts an operation that changed the router and, when journaling, appends its record.
  template <class Fields>
  void record(JournalOp op, double now, Fields&& fields) {
    if (journal_) {  // encoded in place, in the journal's mapped file (record_ if too big for its room)
      RecordWriter w(journal_->room_begin(), journal_->room_end(), record_);
      const bool numbered = events_ != journal_->next_event();
      w.u8(static_cast<std::uint8_t>(static_cast<std::uint8_t>(op) | (numbered ? kNumberedEvent : 0)));
      if (numbered) w.varint(events_);
      w.f64(now);
      fields(w);
      journal_->finish(w);
      journal_->set_next_event(events_ + 1);
    }
    ++events_;
  }
  // Skills travel by number, each named (a SkillName record) before the first record of the
  // journal that uses it, so that a journal does not depend on the order in which a router
  // numbered them; unnamed ones (the C API's) by number alone. Called before record().
  void journal_skill(SkillRef skill) {
    if (journal_ && journal_->first_use(skill) && !skill_names_[skill].empty()) name_skill(skill);
  }
  void name_skill(SkillRef skill);
  static void write_skill(RecordWriter& w, SkillRef skill) { w.varint(skill); }
  // An agent's skills: a count, then each skill's number and level (room checked once for
  // the list: an agent may hold every skill of the configuration).
  static void write_skills(RecordWriter& w, const std::vector<SkillLevel>& skills) {
    w.varint(skills.size());
    w.room(skills.size() * (kMaxSkillVarint + 1));
    for (const SkillLevel& held : skills) {
      write_skill(w, held.skill);
      w.u8(held.level);
    }
  }
  static constexpr std::size_t kMaxSkillVarint = 3;  // bytes of a 16-bit skill number as a varint
  // A skill a record names, by the journal's names for the writer's numbers (`names`) or
  // by number.
  SkillRef read_skill(codec::Reader& r, const std::unordered_map<std::uint64_t, std::string_view>& names);
  // time
  void begin(double now, std::vector<Offer>& out);
  void fire_timers(double now);
  // A timer's owner's record, asked for ahead of its firing (a prefetch: nothing waits for it).
  void fetch_owner(const Timer& timer) const {
    const char* owner = timer.for_agent ? reinterpret_cast<const char*>(&agents_[timer.ref])
                                        : reinterpret_cast<const char*>(&calls_[timer.ref]);
    __builtin_prefetch(owner);
    __builtin_prefetch(owner + (timer.for_agent ? sizeof(Agent) : sizeof(Call)) - 1);
  }
  const Timer* live_timer_front() const;  // the earliest timer not cancelled (dropping those before it), or null
  [[noreturn]] void refuse_time(double now) const;
  // Refusals of a handle that names no live call, of an agent not in the router, of an answer
  // by an agent that holds no offer of the call: out of line, so that the checks inline.
  [[noreturn]] void refuse_call(CallRef call) const;
  [[noreturn]] void refuse_agent(AgentRef agent) const;
  [[noreturn]] void refuse_offer(CallRef call, AgentRef agent);
  std::uint64_t start_timer(double due, bool for_agent, std::uint32_t ref, int lane);
  // Lanes of timers (timers.hpp) that are created in the order they fall due: offer time-outs;
  // ends of wrap-up by the plan's wrap-up time; a call reaching a step by the step's delay
  // class (see lay_out_steps). Laid out by lay_out_steps.
  int offer_lane() const { return 0; }
  int wrapup_lane(int plan) const { return wrapup_lanes_[plan]; }
  int step_lane(int plan, int step) const { return steps_[step_index(plan, step)].lane; }  // a call reaching `step`
  int step_index(int plan, int step) const { return plans_[plan].first_step + step; }
  // The dense tables below, from the configuration.
  void lay_out_steps();
  // Sites within `max_distance` of `region` (kNone: any site).
  std::uint64_t sites_within(int region, int max_distance) const;
  // Lays out the lanes for the configuration and refills them from the agents' and calls' timers.
  void rebuild_timers();
  // Whether a timer is its owner's current one (a cancelled one is left in the timers).
  bool held(const Timer& timer) const {
    return timer.seq == (timer.for_agent ? agents_[timer.ref].timer : calls_[timer.ref].timer);
  }
  // The timers their owners hold, in no order: their due times are kept there only.
  std::vector<Timer> pending_timers() const;
  // the rules
  void enqueue(CallRef call, double t);  // a call not in a queue
  void reach_next_phase(CallRef call, double t);  // a queued call whose next phase's timer fired
  int start_waiting(Call& call, double t, std::optional<Candidate>& best);  // the two above share these
  void time_next_phase(Call& call, CallRef ref);
  void make_ready(AgentRef agent, double t);
  // An agent joins or leaves its profile's ready list (the one place that changes it).
  void list_ready(AgentRef agent);
  void unlist_ready(AgentRef agent);
  void offer(CallRef call, AgentRef agent, double t, bool agent_chosen);
  void unoffer(CallRef call, double t, const char* reason);
  void leave_queue(Call& call);
  // A call joins queue `q`, or leaves its queue: the one place that changes a queue's calls.
  // With a `place`: where its entry `key` goes or is, already found (QueueSet::locate); a call
  // erased so is not its queue's best (that one leaves by queue_erase(call), without a search).
  void queue_insert(int q, Call& call, CallRef ref);
  void queue_insert(int q, Call& call, const QueueEntry& key, const QueueSet::Place& place);
  void queue_erase(Call& call);
  void queue_erase(Call& call, const QueueSet::Place& place);
  void refresh_head(int q);
  void release(CallRef call);
  int phase_at(const Call& call, double t) const;
  std::optional<double> next_phase_start(const Call& call) const;
  QueueKey key_for(const Call& call) const;
  int queue_for(const Call& call);
  int queue_of(const QueueKey& key);     // the queue of calls with this key, made on first use
  void index_queues(std::size_t slots);  // rebuilds queue_slots_ with this many slots
  bool admits(const QueueKey& key, const Profile& profile) const;
  int distance(int region, int site) const;
  double standing_priority(const Call& call) const;
  double priority(const Call& call, double t) const;
  double priority(const QueueEntry& entry, int queue, double t) const;
  static double aged(double standing, double aging, double arrival, double t) { return standing + aging * (t - arrival); }
  QueueEntry entry(const Call& call, CallRef ref) const {
    return {~ordered_bits(priority_rank(call)), call.order, ref};
  }
  double priority_rank(const Call& call) const;
  std::optional<Candidate> best_agent(const Call& call, const Queue& queue, double t) const;
  std::optional<Candidate> best_in_profile(const Call& call, const Profile& profile, double t) const;
  double score(const Call& call, const Profile& profile, double ready_since, double t) const {
    return score_terms(call, profile, ready_since, t).total;
  }
  ScoreTerms score_terms(const Call& call, const Profile& profile, double ready_since, double t) const;
  PriorityTerms priority_terms(const Call& call, double t) const;
  bool competes(int queue, int other) const;

  Config config_;
  std::unique_ptr<NodePool> pool_ = std::make_unique<NodePool>();  // before the sets drawing on it
  std::vector<Profile> profiles_;
  std::vector<Agent> agents_;
  std::vector<Call> calls_;
  std::vector<CallRef> free_calls_;
  std::vector<Queue> queues_;
  std::vector<QueueHead> heads_;  // per queue
  std::map<std::pair<int, std::vector<std::uint8_t>>, int> profile_index_;
  mutable Timers timers_;
  // What the rules read of a plan and a plan step on every escalation (steps by step_index):
  // dense, unlike the PlanConfigs and StepConfigs with their names and vectors.
  struct StepInfo {
    double after;
    int language_level, max_distance;
    int lane;  // of the timers of calls reaching this step (none for a first step)
  };
  struct PlanInfo {
    double aging;
    int first_step;  // step_index of its first step
    int n_steps;
  };
  std::vector<PlanInfo> plans_;
  std::vector<StepInfo> steps_;
  std::vector<int> wrapup_lanes_;  // per plan
  int n_lanes_ = 1;
  // Per region, its distance tiers ascending, each with the sites at that distance or nearer:
  // tiers_[tier_start_[r] .. tier_start_[r + 1]).
  struct Tier {
    int distance;
    std::uint64_t sites;
  };
  std::vector<Tier> tiers_;
  std::vector<int> tier_start_;
  // Queues by key: open addressing, linear probing (a queue is never removed but by reconfigure).
  struct QueueSlot {
    QueueKey key;
    int queue = kNone;  // kNone: free
  };
  std::vector<QueueSlot> queue_slots_ = std::vector<QueueSlot>(16);  // a power of two in size, at most half full
  std::vector<int> step_queues_;  // by step_index: the queue of a step without language or distance limit, once made
  std::vector<PlanStats> tallies_;
  std::vector<SiteTally> site_tallies_;  // by site
  std::vector<Offer>* out_ = nullptr;
  Namer namer_;
  std::vector<std::string> skill_names_;
  std::string config_tag_;
  std::string config_document_;
  std::unique_ptr<Journal> journal_;
  std::string record_;  // a journal record too big for the room left in the mapping, reused
  std::uint64_t events_ = 0;
  bool log_decisions_ = false;
  std::vector<Decision> decisions_;
  double now_;
  std::uint64_t calls_created_ = 0;
  std::uint64_t timers_created_ = 0;
};

}  // namespace ccroute
