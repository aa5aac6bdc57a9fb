// C++ tests of the core, run by ctest. The full rule suite and the equivalence with the
// reference model run from Python (tests/); these check the core on its own, as a C++
// integrator embeds it, including its invariants after every step.
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "codec.hpp"
#include "router.hpp"
#include "timers.hpp"

using namespace ccroute;


// Skills: 0 vip, 1 lang:yue, 2 card. Sites: 0 shanghai, 1 nanning. Region 0: guangdong.
static Config bank(std::optional<double> offer_timeout = std::nullopt) {
  Config c;
  c.n_sites = 2;
  c.n_regions = 1;
  c.distance = {1, 0};
  c.n_skills = 3;
  c.offer_timeout = offer_timeout;
  PlanConfig vip;
  vip.name = "vip";
  vip.base_priority = 100;
  vip.value_weight = 10;
  vip.wrapup = 5;
  StepConfig local;
  local.require = {{0, 5}};
  local.language_level = 5;
  local.max_distance = 0;
  local.weights = Weights{2.0, -1.0, 0.0, 0.0};
  StepConfig anywhere;
  anywhere.after = 15;
  anywhere.require = {{0, 1}};
  vip.steps = {local, anywhere};
  PlanConfig card;
  card.name = "card";
  StepConfig any_card;
  any_card.require = {{2, 1}};
  card.steps = {any_card};
  c.plans = {vip, card};
  return c;
}

static CallSpec vip_call(double value = 0.0) {
  CallSpec s;
  s.plan = 0;
  s.region = 0;
  s.language = 1;
  s.value = value;
  return s;
}

static CallSpec card_call() {
  CallSpec s;
  s.plan = 1;
  return s;
}

static bool throws(ErrorKind kind, const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind() == kind;
  }
  return false;
}

static void cantonese_vip_goes_to_the_local_speaker() {
  Router r(bank());
  std::vector<Offer> out;
  AgentRef shanghai = r.add_agent(0, {{0, 9}, {1, 9}}, std::nullopt);
  AgentRef nanning = r.add_agent(1, {{0, 6}, {1, 9}}, std::nullopt);
  r.ready(shanghai, 0, out);
  r.ready(nanning, 0, out);
  CallRef c = r.arrive(vip_call(), 1.0, out);
  CHECK(out.size() == 1 && out[0].call == c && out[0].agent == nanning && out[0].time == 1.0);
  CHECK(r.agent_state(nanning) == AgentState::Reserved);
  r.check_invariants();
}

static void escalation_offer_carries_the_due_time() {
  Router r(bank());
  std::vector<Offer> out;
  AgentRef shanghai = r.add_agent(0, {{0, 9}, {1, 9}}, std::nullopt);
  r.ready(shanghai, 0, out);
  r.arrive(vip_call(), 2.0, out);
  CHECK(out.empty());
  CHECK(r.next_due() && *r.next_due() == 17.0);
  r.advance(30.0, out);
  CHECK(out.size() == 1 && out[0].agent == shanghai && out[0].time == 17.0);
  r.check_invariants();
}

static void call_surplus_picks_the_highest_priority() {
  Router r(bank());
  std::vector<Offer> out;
  AgentRef a = r.add_agent(0, {{0, 9}, {1, 9}, {2, 5}}, std::nullopt);
  r.arrive(card_call(), 0.0, out);
  CallSpec no_region = vip_call(1.0);
  no_region.region = kNone;  // at distance 0 from every site
  CallRef vip = r.arrive(no_region, 10.0, out);
  r.ready(a, 11.0, out);
  CHECK(out.size() == 1 && out[0].call == vip);
  r.check_invariants();
}

static void rejected_call_keeps_its_place() {
  Router r(bank());
  std::vector<Offer> out;
  AgentRef a1 = r.add_agent(0, {{2, 5}}, std::nullopt);
  AgentRef a2 = r.add_agent(0, {{2, 5}}, std::nullopt);
  r.ready(a1, 0, out);
  CallRef older = r.arrive(card_call(), 1.0, out);
  r.arrive(card_call(), 2.0, out);
  out.clear();
  r.reject(older, a1, 3.0, out);
  CHECK(out.empty());
  CHECK(r.agent_state(a1) == AgentState::NotReady && *r.agent_reason(a1) == "rejected");
  r.ready(a2, 4.0, out);
  CHECK(out.size() == 1 && out[0].call == older && out[0].agent == a2);
  r.check_invariants();
}

static void wrapup_then_the_next_call_at_its_end() {
  Router r(bank());
  std::vector<Offer> out;
  AgentRef a = r.add_agent(1, {{0, 6}, {1, 9}}, std::nullopt);
  r.ready(a, 0, out);
  CallRef c1 = r.arrive(vip_call(), 1.0, out);
  r.accept(c1, a, 2.0, out);
  CallRef c2 = r.arrive(vip_call(), 50.0, out);
  r.hangup(c1, 100.0, out);
  CHECK(r.agent_state(a) == AgentState::Wrapup);
  out.clear();
  r.advance(200.0, out);
  CHECK(out.size() == 1 && out[0].call == c2 && out[0].time == 105.0);
  auto stats = r.stats(200.0);
  CHECK(stats[0].arrived == 2 && stats[0].answered == 1 && stats[0].wait_sum == 1.0);
  r.check_invariants();
}

static void offer_timeout_goes_to_the_next_agent() {
  Router r(bank(8.0));
  std::vector<Offer> out;
  AgentRef a1 = r.add_agent(0, {{2, 5}}, std::nullopt);
  AgentRef a2 = r.add_agent(0, {{2, 5}}, std::nullopt);
  r.ready(a1, 0, out);
  CallRef c = r.arrive(card_call(), 1.0, out);
  r.ready(a2, 2.0, out);
  out.clear();
  r.advance(10.0, out);
  CHECK(out.size() == 1 && out[0].call == c && out[0].agent == a2 && out[0].time == 9.0);
  CHECK(*r.agent_reason(a1) == "no answer");
  // a1 answers late: refused, and a2 still holds the offer
  std::string message;
  try {
    r.accept(c, a1, 10.0, out);
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(message == "agent #0 holds no offer of call #0: the call is offered to agent #1");
  r.set_namer([](Entity entity, std::uint32_t ref) {
    return std::string(entity == Entity::Agent ? "'a" : "'c") + std::to_string(ref + 1) + "'";
  });
  CHECK(throws(ErrorKind::InvalidTransition, [&] { r.reject(c, a1, 10.0, out); }));
  try {
    r.reject(c, a1, 10.0, out);
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(message == "agent 'a1' holds no offer of call 'c1': the call is offered to agent 'a2'");
  CHECK(r.call_view(c).agent == a2 && r.agent_view(a2).call == c && r.agent_view(a1).call == kNoCall);
  r.accept(c, a2, 11.0, out);
  CHECK(r.call_view(c).state == CallState::Connected && r.call_view(c).since == 11.0);
  r.check_invariants();
}

static void bad_input_changes_nothing() {
  Router r(bank());
  std::vector<Offer> out;
  AgentRef a = r.add_agent(0, {{2, 5}}, std::nullopt);
  r.ready(a, 5.0, out);
  CallRef c = r.arrive(card_call(), 6.0, out);
  CHECK(throws(ErrorKind::TimeOrder, [&] { r.advance(1.0, out); }));
  CHECK(throws(ErrorKind::InvalidArgument, [&] { r.add_agent(0, {{2, 11}}, std::nullopt); }));
  CHECK(throws(ErrorKind::UnknownId, [&] { r.add_agent(7, {}, std::nullopt); }));
  CHECK(throws(ErrorKind::InvalidTransition, [&] { r.hangup(c, 7.0, out); }));
  CHECK(throws(ErrorKind::UnknownId, [&] { r.accept(c, 99, 7.0, out); }));
  CHECK(throws(ErrorKind::InvalidTransition, [&] { r.accept(99, a, 7.0, out); }));
  CallSpec nan_value = card_call();
  nan_value.value = 0.0 / 0.0;
  CHECK(throws(ErrorKind::InvalidArgument, [&] { r.arrive(nan_value, 7.0, out); }));
  // A call's record keeps its repeats in 32 bits: one more is refused, by its value, not cut.
  CallSpec many_repeats = card_call();
  many_repeats.repeats = kMaxRepeats + 1;
  try {
    r.check_call(many_repeats);
    CHECK(false);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::InvalidArgument && std::string(e.what()).find("4294967296") != std::string::npos);
  }
  many_repeats.repeats = kMaxRepeats;
  r.check_call(many_repeats);
  CHECK(r.n_agents() == 1 && r.call_state(c) == CallState::Offered && r.agent_state(a) == AgentState::Reserved);
  Config broken = bank();
  broken.plans[0].steps[1].after = 0.0;
  CHECK(throws(ErrorKind::Config, [&] { Router bad(broken); }));
  Config long_plan = bank();  // a call's step is kept in 16 bits
  long_plan.plans[1].steps.resize(kMaxSteps + 1);
  for (int i = 0; i <= kMaxSteps; ++i) long_plan.plans[1].steps[i].after = i;
  CHECK(throws(ErrorKind::Config, [&] { Router bad(long_plan); }));
  long_plan.plans[1].steps.pop_back();
  Router longest(long_plan);
  r.check_invariants();
}

// Router::memory_use counts what the router holds: it grows with the waiting calls, the ready
// agents and the agents' ids, and a call slot freed is reused rather than counted again.
static void memory_use_follows_the_state() {
  Router r(bank());
  std::vector<Offer> out;
  CallRef first = r.arrive(card_call(), 1.0, out);  // makes the card queue
  r.abandon(first, 1.0, out);
  const MemoryUse empty = r.memory_use();
  constexpr int n = 1000;
  std::vector<CallRef> waiting;
  for (int i = 0; i < n; ++i) waiting.push_back(r.arrive(card_call(), 2.0, out));
  const MemoryUse full = r.memory_use();
  CHECK(out.empty());
  // Each waiting call is a record and an entry of its queue (rank, creation order, handle).
  CHECK(full.calls >= empty.calls + (n - 1) * sizeof(CallSpec));
  CHECK(full.queues >= empty.queues + n * (2 * sizeof(std::uint64_t) + sizeof(CallRef)));
  // (other holds the node pool's spare room, which grows by whole chunks)
  CHECK(full.agents == empty.agents && full.profiles == empty.profiles);
  CHECK(full.timers == empty.timers);  // one-step plan: a waiting card call has no timer
  for (CallRef c : waiting) r.abandon(c, 3.0, out);
  const MemoryUse left = r.memory_use();
  CHECK(left.queues == empty.queues);  // the queue's entries are gone
  CHECK(left.calls > full.calls);      // the slots stay, and the free list names them
  for (int i = 0; i < n; ++i) r.arrive(card_call(), 4.0, out);
  const MemoryUse again = r.memory_use();  // the same calls again: in the same slots
  CHECK(again.calls == left.calls && again.queues == full.queues);

  // A two-step plan arms a timer per waiting call: at least its handle is kept.
  for (int i = 0; i < n; ++i) r.arrive(vip_call(), 5.0, out);
  CHECK(r.memory_use().timers >= empty.timers + n * sizeof(CallRef));

  // Agents: a record each, ids past the string's in-place capacity on the heap, a ready-list
  // entry while ready.
  const MemoryUse before_agents = r.memory_use();
  const std::string long_id(100, 'a');
  std::vector<AgentRef> agents;
  for (int i = 0; i < n; ++i) agents.push_back(r.add_agent(1, {{0, 1}}, std::nullopt, long_id + std::to_string(i)));
  const MemoryUse with_agents = r.memory_use();
  CHECK(with_agents.agents >= before_agents.agents + n * (long_id.size() + sizeof(double)));
  for (AgentRef a : agents) r.ready(a, 6.0, out);  // site 1, vip 1: no waiting call admits them
  CHECK(out.empty());
  const MemoryUse ready = r.memory_use();
  CHECK(ready.profiles >= with_agents.profiles + n * sizeof(double));
  for (AgentRef a : agents) r.not_ready(a, 7.0, "", out);
  CHECK(r.memory_use().profiles == with_agents.profiles);
  r.check_invariants();
}

// Timers fire in (due, creation) order whatever lane they were given: a push that would
// unsort its lane (an earlier due than the lane's last) goes to the heap instead. Enough of
// them that each lane fills, empties and reuses several of its blocks; for_each sees each held.
static void timers_pop_in_due_then_creation_order() {
  std::mt19937_64 rng(7);
  Timers timers;
  timers.reset(5);
  std::vector<Timer> pushed;
  double now = 0.0;
  for (std::uint64_t seq = 1; seq <= 10000; ++seq) {
    now += static_cast<double>(rng() % 3);  // repeated due times test the tie on creation
    const int lane = static_cast<int>(rng() % 6) - 1;  // kNoLane or one of the 5 lanes
    const double due = rng() % 4 == 0 ? now - static_cast<double>(rng() % 50) : now + static_cast<double>(lane + 1) * 10;
    const Timer timer{due, seq, static_cast<std::uint32_t>(seq), false};
    timers.push(timer, lane);
    pushed.push_back(timer);
    if (rng() % 3 == 0) {  // pops interleaved with pushes
      auto earliest = std::min_element(pushed.begin(), pushed.end());
      CHECK(!timers.empty() && timers.top().seq == earliest->seq);
      timers.pop();
      pushed.erase(earliest);
    }
  }
  CHECK(timers.size() == pushed.size());
  std::vector<std::uint64_t> held, expected_held;
  timers.for_each([&](const Timer& t) { held.push_back(t.seq); });
  for (const Timer& t : pushed) expected_held.push_back(t.seq);
  std::sort(held.begin(), held.end());
  std::sort(expected_held.begin(), expected_held.end());
  CHECK(held == expected_held);
  std::sort(pushed.begin(), pushed.end());
  for (const Timer& expected : pushed) {
    CHECK(!timers.empty() && timers.top().seq == expected.seq && timers.top().due == expected.due);
    timers.pop();
  }
  CHECK(timers.empty());
}

// Two timers with one creation number (a restored snapshot may hold such): both fire, the
// earlier first, whichever was pushed last.
static void timers_sharing_a_creation_number_both_fire() {
  Timers timers;
  timers.reset(1);
  timers.push(Timer{5.0, 7, 0, true}, Timers::kNoLane);
  timers.push(Timer{9.0, 7, 1, true}, Timers::kNoLane);
  CHECK(!timers.empty() && timers.top().due == 5.0 && timers.top().ref == 0);
  timers.pop();
  CHECK(!timers.empty() && timers.top().due == 9.0 && timers.top().ref == 1);
  timers.pop();
  CHECK(timers.empty());
}

// The journal's checksum is CRC-32C: its check value, and the same by instruction (where the
// CPU has it) as by tables, at every length and alignment a record may have.
static void journal_checksum_is_crc32c() {
  CHECK(codec::crc32c("123456789", 9) == 0xE3069283u);
  CHECK(codec::crc32c_portable("123456789", 9) == 0xE3069283u);
  std::mt19937 rng(7);
  std::string data(600, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  bool same = true;
  for (std::size_t at = 0; at < 8; ++at)
    for (std::size_t size = 0; size + at <= data.size(); size += 1 + size / 16)
      same = same && codec::crc32c(data.data() + at, size) == codec::crc32c_portable(data.data() + at, size);
  CHECK(same);
}

// Records encoded in place in the journal's mapping, and one too big for the room ahead
// (encoded in the spill string), read back whole and replay into the same router.
static void journal_records_replay_whole() {
  const std::string path = "/tmp/ccroute-test-journal-" + std::to_string(::getpid());
  std::remove(path.c_str());
  Router r(bank());
  r.start_journal(path, Sync::Never);
  std::vector<Offer> out;
  const SkillRef yue = r.add_skill("lang:yue");  // a named skill is named in the journal
  const AgentRef a = r.add_agent(1, {{0, 5}, {yue, 9}}, std::nullopt, "\x01" "a1");
  r.ready(a, 0.0, out);
  CallSpec spec = vip_call(2.0);
  spec.language = yue;
  const std::string long_key = "\x01" + std::string(200000, 'k');  // past the 64 KiB room ahead
  const CallRef offered = r.arrive(spec, 1.0, out, long_key);
  const CallRef waiting = r.arrive(card_call(), 2.0, out, std::string("\x02" "\7\0\0\0\0\0\0\0", 9));
  r.accept(offered, a, 3.0, out);
  std::vector<std::string> keys(std::max(offered, waiting) + 1);
  keys[offered] = long_key;
  keys[waiting] = std::string("\x02" "\7\0\0\0\0\0\0\0", 9);
  r.stop_journal();
  const JournalContents journal = read_journal(path);
  std::remove(path.c_str());
  CHECK(journal.warnings.empty());
  const auto is_event = [](const JournalRecord& rec) { return rec.op != JournalOp::SkillName; };
  CHECK(static_cast<std::uint64_t>(std::count_if(journal.records.begin(), journal.records.end(), is_event)) ==
        r.events());
  // yue, used by the agent and the call, is named once, before the agent's record.
  const auto names_yue = [](const JournalRecord& rec) {
    return rec.op == JournalOp::SkillName && rec.fields.find("lang:yue") != std::string_view::npos;
  };
  CHECK(std::count_if(journal.records.begin(), journal.records.end(), names_yue) == 1);
  Router twin(bank());
  std::vector<std::string> twin_keys;
  CHECK(twin.replay(journal, twin_keys) == journal.records.size());
  CHECK(twin_keys == keys);
  CHECK(twin.snapshot(twin_keys) == r.snapshot(keys));
}

// An agent may hold every skill: its record's skill list, longer than the slack a record
// keeps between two room checks, is written whole, after a key in the spill string and in
// place past the 64 KiB room ahead, and replays.
static void journal_writes_long_skill_lists() {
  const std::string path = "/tmp/ccroute-test-journal-skills-" + std::to_string(::getpid());
  std::remove(path.c_str());
  Router r(bank());
  r.start_journal(path, Sync::Never);
  std::vector<SkillLevel> all;
  for (int i = 0; i < 30000; ++i) all.push_back({r.add_skill("s" + std::to_string(i)), 1});  // numbers of 1-3 bytes
  const std::string key = "\x01" + std::string(100000, 'a');  // spilled: the list follows it there
  const AgentRef a = r.add_agent(1, all, std::nullopt, key);
  for (SkillLevel& held : all) held.level = 7;
  std::vector<Offer> out;
  r.set_skills(a, std::nullopt, all, 0.0, out);  // no string before the list: in place, then spilled by its size
  r.stop_journal();
  const JournalContents journal = read_journal(path);
  std::remove(path.c_str());
  CHECK(journal.warnings.empty());
  Router twin(bank());
  std::vector<std::string> no_calls, twin_keys;  // the keys of calls: none here
  CHECK(twin.replay(journal, twin_keys) == journal.records.size());
  CHECK(twin.snapshot(twin_keys) == r.snapshot(no_calls));
}

int main() {
  journal_checksum_is_crc32c();
  journal_records_replay_whole();
  journal_writes_long_skill_lists();
  timers_pop_in_due_then_creation_order();
  timers_sharing_a_creation_number_both_fire();
  cantonese_vip_goes_to_the_local_speaker();
  escalation_offer_carries_the_due_time();
  call_surplus_picks_the_highest_priority();
  rejected_call_keeps_its_place();
  wrapup_then_the_next_call_at_its_end();
  offer_timeout_goes_to_the_next_agent();
  bad_input_changes_nothing();
  memory_use_follows_the_state();
  return check_report("core");
}
