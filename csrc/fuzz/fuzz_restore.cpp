// libFuzzer target: bytes that claim to be a router's history never crash the router.
//
// The first byte chooses what the rest is read as:
//   even  a snapshot, restored through the C API (ccr_router_restore);
//   odd   a journal, read (read_journal) and replayed (Router::replay) into a new router.
// The second byte's low bit says whether the checksums are recomputed first, so that the
// fuzzer gets past them to the fields behind (a real damaged file would fail its CRC).
//
// What must hold: the restore or replay either succeeds or throws/returns the restore error,
// never another status, exception, crash, leak or sanitizer report; a router that results
// keeps its invariants, its snapshot restores to the same bytes, and it goes on routing
// (the next timers fire, every agent is offered ready) with its invariants intact.
//
// Seeds (csrc/fuzz/corpus/restore) are snapshots and journals of a scripted day of the
// configuration below; rewrite them with CCROUTE_FUZZ_WRITE_SEEDS=DIR ./fuzz_restore. The
// *-v1 snapshots are of format version 1 (no site tallies), kept so that reading it stays fuzzed.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

#include "../capi.cpp"
#include "../codec.hpp"
#include "../journal.hpp"

namespace {

[[noreturn]] void broken(const std::string& what) {
  std::fprintf(stderr, "fuzz_restore: promise broken: %s\n", what.c_str());
  std::abort();
}

// Two sites, a region, three skills; a card plan that widens after 10 s and a VIP plan;
// offers time out. The same for the seeds and every input, so that the tags match.
ccroute::Config centre() {
  ccroute::Config c;
  c.n_sites = 2;
  c.n_regions = 1;
  c.n_skills = 3;
  c.distance = {0, 1};
  c.offer_timeout = 15.0;
  ccroute::PlanConfig card;
  card.name = "card";
  card.wrapup = 2.0;
  ccroute::StepConfig first, wider;
  first.require = {{0, 3}};
  first.language_level = 2;
  wider.after = 10.0;
  wider.require = {{0, 1}};
  card.steps = {first, wider};
  ccroute::PlanConfig vip;
  vip.name = "vip";
  vip.base_priority = 50.0;
  ccroute::StepConfig only;
  only.require = {{1, 1}};
  only.max_distance = 0;
  vip.steps = {only};
  c.plans = {card, vip};
  return c;
}

void check(const ccroute::Router& router, const char* when) {
  try {
    router.check_invariants();
  } catch (const std::exception& e) {
    broken(std::string(when) + ": " + e.what());
  }
}

// A router that came out of a restore or a replay: consistent, stable, and still routing.
void exercise(ccroute::Router& router) {
  check(router, "after restoring");
  const std::string blob = router.snapshot({});
  ccroute::Router again(centre());
  std::vector<std::string> keys;
  try {
    again.restore(blob, keys);
  } catch (const std::exception& e) {
    broken(std::string("a restored router's snapshot does not restore: ") + e.what());
  }
  if (again.snapshot({}) != blob) broken("a restored router's snapshot restores to other bytes");
  std::vector<ccroute::Offer> out;
  for (int i = 0; i < 8; ++i) {  // let its timers fire
    const auto due = router.next_due();
    if (!due || !std::isfinite(*due) || *due < router.last_time()) break;
    router.advance(*due, out);
    check(router, "advancing a restored router");
  }
  const double now = std::isfinite(router.last_time()) ? router.last_time() : 0.0;
  for (ccroute::AgentRef a = 0; a < router.n_agents(); ++a) {
    try {
      router.ready(a, now, out);
    } catch (const ccroute::Error& e) {
      const bool removed = router.agent_state(a) == ccroute::AgentState::Removed;  // known no more
      if (e.kind() != (removed ? ccroute::ErrorKind::UnknownId : ccroute::ErrorKind::InvalidTransition))
        broken(std::string("ready: ") + e.what());
    }
    check(router, "a restored router's agent becoming ready");
  }
}

std::size_t padded(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

void repair_snapshot(std::string& blob) {
  constexpr std::size_t kHeader = 24;
  if (blob.size() < kHeader) return;
  const uint64_t payload = blob.size() - kHeader;
  const uint32_t crc = ccroute::codec::crc32(blob.data() + kHeader, payload);
  std::memcpy(&blob[12], &crc, 4);
  std::memcpy(&blob[16], &payload, 8);
}

// The journal's layout (csrc/journal.hpp): header CRC over bytes 16..start, then records of
// u32 size, u32 CRC-32C, payload, padding.
void repair_journal(std::string& data) {
  if (data.size() < 28) return;
  uint32_t tag_size;
  std::memcpy(&tag_size, &data[24], 4);
  const std::size_t start = padded(28 + static_cast<std::size_t>(tag_size));
  if (start > data.size()) return;
  const uint32_t crc = ccroute::codec::crc32c(data.data() + 16, start - 16);
  std::memcpy(&data[12], &crc, 4);
  for (std::size_t at = start; at + 8 <= data.size();) {
    uint32_t size;
    std::memcpy(&size, &data[at], 4);
    if (size == 0 || size > data.size() - at - 8) break;
    const uint32_t record_crc = ccroute::codec::crc32c(data.data() + at + 8, size);
    std::memcpy(&data[at + 4], &record_crc, 4);
    at += 8 + padded(size);
  }
}

void restore_snapshot(std::string blob, bool repair) {
  if (repair) repair_snapshot(blob);
  ccr_config config{centre()};
  ccr_router* router = nullptr;
  const ccr_status s = ccr_router_restore(&config, blob.data(), blob.size(), &router);
  const char* message = ccr_last_error(nullptr);
  if (s != CCR_OK) {
    if (s != CCR_RESTORE_ERROR) broken("restore: status " + std::to_string(s) + ": " + message);
    if (router) broken("restore failed but returned a router");
    if (!*message) broken("restore failed without a message");
    return;
  }
  exercise(router->core);
  ccr_router_free(router);
}

// The journal goes through a file, as Router.recover reads it.
const std::string& journal_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/ccroute-fuzz-journal-" + std::to_string(::getpid());
  }();
  return path;
}

void replay_journal(std::string data, bool repair) {
  if (repair) repair_journal(data);
  {
    std::ofstream file(journal_path(), std::ios::binary | std::ios::trunc);
    file.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  ccroute::Router router(centre());
  std::vector<std::string> keys;
  try {
    const ccroute::JournalContents contents = ccroute::read_journal(journal_path());
    router.replay(contents, keys);  // stops before a reconfiguration: that needs the embedder's document
  } catch (const ccroute::Error& e) {
    if (e.kind() != ccroute::ErrorKind::Restore) broken(std::string("journal: not a restore error: ") + e.what());
    return;
  } catch (const std::exception& e) {
    broken(std::string("journal: ") + e.what());
  }
  exercise(router);
}

// ---------------------------------------------------------------------- seeds

void write(const std::string& dir, const std::string& name, char mode, const std::string& bytes) {
  std::ofstream file(dir + "/" + name, std::ios::binary | std::ios::trunc);
  const char head[2] = {mode, 1};  // checksums recomputed: a mutation is read past them
  file.write(head, 2);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string slurp(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

// A scripted morning: agents log in, calls arrive, are offered, answered, rejected, time out,
// escalate, end; a snapshot midway and at the end, and the journal of it all.
void write_seeds(const std::string& dir) {
  const std::string path = dir + "/.journal";
  std::remove(path.c_str());
  ccroute::Router r(centre());
  r.start_journal(path, ccroute::Sync::Never);
  std::vector<ccroute::Offer> out;
  const ccroute::AgentRef a0 = r.add_agent(0, {{0, 5}, {2, 4}}, std::nullopt);
  const ccroute::AgentRef a1 = r.add_agent(1, {{0, 2}, {1, 6}}, 1.0);
  const ccroute::AgentRef a2 = r.add_agent(0, {{1, 3}}, std::nullopt);
  r.ready(a0, 0.0, out);
  ccroute::CallSpec card;
  card.region = 0;
  card.language = 2;
  card.value = 2.0;
  const ccroute::CallRef c0 = r.arrive(card, 1.0, out);
  r.accept(c0, a0, 2.0, out);
  ccroute::CallSpec vip;
  vip.plan = 1;
  vip.region = 0;
  vip.repeats = 2;
  const ccroute::CallRef c1 = r.arrive(vip, 3.0, out);
  r.ready(a1, 4.0, out);
  const ccroute::CallRef c2 = r.arrive(card, 5.0, out);
  r.ready(a2, 6.0, out);
  write(dir, "snapshot-midway", 0, r.snapshot({}));
  r.not_ready(a1, 7.0, "lunch", out);
  r.advance(20.0, out);  // c2 widens to any card agent; offers time out
  r.hangup(c0, 30.0, out);
  r.advance(40.0, out);
  for (const ccroute::CallView& v : [&] {
         std::vector<ccroute::CallView> views;
         r.call_views(views);
         return views;
       }())
    if (v.state == ccroute::CallState::Offered) r.reject(v.call, static_cast<ccroute::AgentRef>(v.agent), 41.0, out);
  r.abandon(c1, 42.0, out);
  (void)c2;
  r.sync_journal();
  write(dir, "snapshot-end", 0, r.snapshot({}));
  r.stop_journal();
  write(dir, "journal", 1, slurp(path));
  std::remove(path.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("CCROUTE_FUZZ_WRITE_SEEDS")) {
    try {
      write_seeds(dir);
    } catch (const std::exception& e) {
      broken(std::string("writing the seeds: ") + e.what());
    }
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 2, size - 2);
  if (data[0] % 2 == 0)
    restore_snapshot(bytes, data[1] & 1);
  else
    replay_journal(bytes, data[1] & 1);
  return 0;
}
