// ccroute core: the routing engine of DESIGN.md §4, with no Python in sight.
//
// The rules are those of the reference model (src/ccroute/reference.py); this engine
// indexes them so that a decision never scans all agents or all waiting calls:
// waiting calls are grouped in queues by what admits them, ready agents in profiles
// (same site, same skill levels), and each queue knows which profiles it admits.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace ccroute {

using AgentRef = std::uint32_t;  // dense, in the order agents were added
using CallRef = std::uint32_t;   // a live call's handle; reused after the call leaves
using SkillRef = std::uint16_t;
inline constexpr std::int32_t kNone = -1;
inline constexpr int kMaxLevel = 10;
inline constexpr int kMaxSites = 64;  // a queue's admitted sites are a 64-bit mask

enum class ErrorKind { Config, UnknownId, DuplicateId, InvalidArgument, TimeOrder, InvalidTransition };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

enum class AgentState : std::uint8_t { Offline, Ready, Reserved, Busy, Wrapup, NotReady };
enum class CallState : std::uint8_t { Waiting, Offered, Connected };

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
};
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
struct PlanStats {
  std::int64_t arrived = 0, answered = 0, abandoned = 0, answered_within = 0;
  double wait_sum = 0.0;
  std::int64_t waiting = 0;
  std::optional<double> oldest_wait;
};

class Router {
 public:
  explicit Router(Config config);
  SkillRef add_skill();
  AgentRef add_agent(int site, const std::vector<SkillLevel>& skills, std::optional<double> wrapup);

  // Each operation appends the offers it caused to `out` (those of timers first). A bad
  // argument throws before anything changes; an impossible transition throws after the
  // timers due by `now` fired, leaving their offers in `out`.
  CallRef arrive(const CallSpec& call, double now, std::vector<Offer>& out);
  void ready(AgentRef agent, double now, std::vector<Offer>& out);
  void not_ready(AgentRef agent, double now, const std::string& reason, std::vector<Offer>& out);
  void logout(AgentRef agent, double now, std::vector<Offer>& out);
  void accept(CallRef call, double now, std::vector<Offer>& out);
  void reject(CallRef call, double now, std::vector<Offer>& out);
  void abandon(CallRef call, double now, std::vector<Offer>& out);
  void hangup(CallRef call, double now, std::vector<Offer>& out);
  void advance(double now, std::vector<Offer>& out);

  std::optional<double> next_due() const;
  AgentState agent_state(AgentRef agent) const;
  const std::string* agent_reason(AgentRef agent) const;  // nullptr unless not ready
  CallState call_state(CallRef call) const;
  bool call_live(CallRef call) const;
  std::size_t n_agents() const { return agents_.size(); }
  const Config& config() const { return config_; }
  std::vector<PlanStats> stats(double now) const;
  double last_time() const { return now_; }

  // Debug aid for tests and sanitizer builds: throws std::logic_error on a broken invariant.
  void check_invariants() const;

 private:
  static constexpr int kPreferred = -1;  // phase of a call waiting for its preferred agent

  struct Profile {  // agents alike in site and skill levels: alike in every score term but idle
    int site;
    std::vector<std::uint8_t> levels;
    int breadth;
    std::vector<int> queues;                            // queues admitting this profile
    std::set<std::pair<double, AgentRef>> ready;        // (ready_since, agent), longest idle first
    int level(int skill) const { return skill < static_cast<int>(levels.size()) ? levels[skill] : 0; }
  };
  struct Agent {
    int profile;
    std::optional<double> wrapup;
    AgentState state = AgentState::Offline;
    std::string reason;
    double ready_since = 0.0;
    std::uint64_t timer = 0;  // creation number of its pending timer (end of wrap-up), 0 = none
    std::vector<int> preferred_queues;
  };
  struct Call {
    CallSpec spec;
    std::optional<double> preferred_until;
    double arrival = 0.0;
    std::uint64_t order = 0;
    CallState state = CallState::Waiting;
    bool live = false;
    int phase = 0;
    AgentRef agent = 0;
    int queue = kNone;
    double standing = 0.0;    // priority without the aging term, see standing_priority()
    double rank = 0.0;        // static part of the priority, see priority_rank()
    std::uint64_t timer = 0;  // next phase while waiting, offer time-out while offered
  };
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
  struct QueueEntry {  // best first: higher rank, then earlier arrival, then earlier creation
    double rank, arrival;
    std::uint64_t order;
    CallRef call;
    double standing;  // the call's priority but for aging: comparing queue heads needs no call lookup
    bool operator<(const QueueEntry& o) const {
      if (rank != o.rank) return rank > o.rank;
      if (arrival != o.arrival) return arrival < o.arrival;
      return order < o.order;
    }
  };
  struct Queue {  // waiting calls of one plan that the same agents admit
    QueueKey key;
    std::vector<int> profiles;  // profiles it admits (empty for a preferred-agent queue)
    std::set<QueueEntry> calls;
  };
  struct Timer {
    double due;
    std::uint64_t seq;
    bool for_agent;
    std::uint32_t ref;
    bool operator>(const Timer& o) const { return due != o.due ? due > o.due : seq > o.seq; }
  };
  struct Candidate {
    double score;
    double ready_since;
    AgentRef agent;
  };

  // validation
  void check_time(double now) const;
  Agent& agent_at(AgentRef ref);
  Call& call_at(CallRef ref);
  // Refuses an impossible transition. The message is built only then: these checks sit on
  // every accept and hang-up, where building strings would cost more than the decision.
  template <class Message>
  void require(bool allowed, Message&& what) const {
    if (!allowed) throw Error(ErrorKind::InvalidTransition, what());
  }
  // time
  void begin(double now, std::vector<Offer>& out);
  void fire_timers(double now);
  std::uint64_t start_timer(double due, bool for_agent, std::uint32_t ref);
  // the rules
  void enqueue(CallRef call, double t);
  void make_ready(AgentRef agent, double t);
  void offer(CallRef call, AgentRef agent, double t);
  void unoffer(CallRef call, double t, const char* reason);
  void leave_queue(Call& call);
  void release(CallRef call);
  int phase_at(const Call& call, double t) const;
  std::optional<double> next_phase_start(const Call& call) const;
  int queue_for(const Call& call);
  bool admits(const QueueKey& key, const Profile& profile) const;
  int distance(int region, int site) const;
  double standing_priority(const Call& call) const;
  double priority(const Call& call, double t) const;
  double priority(const QueueEntry& head, int queue, double t) const;
  static QueueEntry entry(const Call& call, CallRef ref) { return {call.rank, call.arrival, call.order, ref, call.standing}; }
  double priority_rank(const Call& call) const;
  std::optional<Candidate> best_agent(const Call& call, const Queue& queue, double t) const;
  std::optional<Candidate> best_in_profile(const Call& call, const Profile& profile, double t) const;
  double score(const Call& call, const Profile& profile, double ready_since, double t) const;

  Config config_;
  std::vector<Profile> profiles_;
  std::vector<Agent> agents_;
  std::vector<Call> calls_;
  std::vector<CallRef> free_calls_;
  std::vector<Queue> queues_;
  std::unordered_map<QueueKey, int, QueueKeyHash> queue_index_;
  std::map<std::pair<int, std::vector<std::uint8_t>>, int> profile_index_;
  mutable std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  std::vector<PlanStats> tallies_;
  std::vector<Offer>* out_ = nullptr;
  double now_;
  std::uint64_t calls_created_ = 0;
  std::uint64_t timers_created_ = 0;
};

}  // namespace ccroute
