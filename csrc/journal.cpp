#include "journal.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "codec.hpp"
#include "router.hpp"

namespace ccroute {
namespace {

constexpr char kMagic[8] = {'C', 'C', 'R', 'J', 'R', 'N', 'L', '\0'};
// 1: CRC-32 (zlib) checksums. 2: fixed-width fields, and every record's event number.
constexpr std::uint32_t kVersion = 3;
constexpr std::size_t kFirstMap = std::size_t{1} << 20;
constexpr std::size_t kMaxGrowth = std::size_t{64} << 20;
constexpr auto kBatchInterval = std::chrono::milliseconds(100);
// Room kept after the last record for the next one to be encoded in place (bigger ones are
// rare: a long key or name, a reconfiguration's document; they take the copying way).
constexpr std::size_t kRoom = std::size_t{64} << 10;
// Pages are made writable this far ahead of the last record, in one system call each time
// (rather than a page fault per fresh 4 KiB page on the operation that first writes it).
constexpr std::size_t kPrefault = std::size_t{512} << 10;

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif

std::size_t padded(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

[[noreturn]] void io_failure(const std::string& what, const std::string& path) {
  throw Error(ErrorKind::InvalidArgument, "journal " + path + ": " + what + ": " + std::strerror(errno));
}

std::string header_bytes(std::string_view tag, std::uint64_t first_event) {
  std::string rest;
  codec::Writer w(rest);
  w.u64(first_event);
  w.bytes(tag);
  rest.resize(padded(rest.size() + 16) - 16, '\0');
  std::string header(kMagic, sizeof kMagic);
  codec::Writer h(header);
  h.u32(kVersion);
  h.u32(codec::crc32c(rest.data(), rest.size()));
  return header + rest;
}

// A plausible record at `at`: a non-zero header whose payload lies within the data and
// matches its checksum.
bool record_at(std::string_view data, std::size_t at) {
  if (at + 8 > data.size()) return false;
  std::uint32_t size, crc;
  std::memcpy(&size, data.data() + at, 4);
  std::memcpy(&crc, data.data() + at + 4, 4);
  return size > 0 && size <= data.size() - at - 8 && codec::crc32c(data.data() + at + 8, size) == crc;
}

}  // namespace

// ------------------------------------------------------------------ writing

Journal::Journal(const std::string& path, Sync policy, std::string_view config_tag, std::uint64_t first_event,
                 std::uint64_t end)
    : path_(path), policy_(policy), next_event_(end == 0 ? first_event : UINT64_MAX) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) io_failure("cannot open", path);
  struct stat st {};
  if (end == 0 && ::fstat(fd_, &st) == 0 && st.st_size > 0) {
    ::close(fd_);
    throw Error(ErrorKind::InvalidArgument,
                "journal " + path + " exists and holds a history: recover from it, or remove it to start anew");
  }
  std::string header;
  if (end == 0) {
    header = header_bytes(config_tag, first_event);
    end = header.size();
  }
  try {
    grow(end + kFirstMap);
  } catch (...) {
    ::close(fd_);
    throw;
  }
  std::memcpy(map_, header.data(), header.size());
  std::memset(map_ + end, 0, capacity_ - end);  // a torn record after `end` must not look whole
  faulted_.store(capacity_);  // written by the memset
  size_.store(end);
  if (policy_ == Sync::Every) sync();
  if (policy_ == Sync::Batch) syncer_ = std::thread([this] { sync_loop(); });
}

Journal::~Journal() {
  if (syncer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mapping_);
      stopping_ = true;
    }
    stop_signal_.notify_one();
    syncer_.join();
  }
  if (policy_ != Sync::Never) ::msync(map_, size_.load(), MS_SYNC);
  ::munmap(map_, capacity_);
  if (::ftruncate(fd_, static_cast<off_t>(size_.load())) != 0) {
    // The zeros after the last record stay: readers stop at a zero record header anyway.
  }
  ::close(fd_);
}

void Journal::grow(std::size_t needed) {
  std::size_t capacity = std::max(capacity_, kFirstMap);
  while (capacity < needed) capacity += std::min(capacity, kMaxGrowth);
  std::lock_guard<std::mutex> lock(mapping_);
  // The blocks are allocated ahead (fallocate) rather than left a hole: making a page of an
  // allocated extent writable costs the kernel (ext4) 2-5 times less than a hole's (delayed
  // allocation), 2.5-5 against 6-12 µs per 4 KiB on this VM, once per ~40 records. A file
  // system that cannot allocate ahead gets a sparse extension.
  if (::fallocate(fd_, 0, 0, static_cast<off_t>(capacity)) != 0 &&
      ::ftruncate(fd_, static_cast<off_t>(capacity)) != 0)
    io_failure("cannot grow", path_);
  // mremap keeps the pages already mapped (and made writable ahead) where a new map would
  // fault each of them in again.
  void* map = map_ ? ::mremap(map_, capacity_, capacity, MREMAP_MAYMOVE)
                   : ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (map == MAP_FAILED) io_failure("cannot map", path_);
  map_ = static_cast<char*>(map);
  capacity_ = capacity;
}

void Journal::prefault(std::size_t upto) {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  upto = std::min(upto + page - 1 - (upto + page - 1) % page, capacity_);  // madvise works on whole pages
  const std::size_t from = faulted_.load(std::memory_order_relaxed);
  if (!can_prefault_ || upto <= from) return;
  // Only a speed-up: a kernel without MADV_POPULATE_WRITE faults the pages in as they are
  // written. It leaves their contents alone: the writer may be writing there meanwhile.
  if (::madvise(map_ + from, upto - from, MADV_POPULATE_WRITE) != 0) {
    can_prefault_ = false;
    return;
  }
  faulted_.store(upto, std::memory_order_relaxed);
}

void Journal::append(std::string_view payload) {
  const std::size_t at = size_.load(std::memory_order_relaxed);
  const std::size_t next = at + 8 + padded(payload.size());
  if (next + kRoom > capacity_) grow(next + kRoom);
  std::memcpy(map_ + at + 8, payload.data(), payload.size());
  commit(payload.size());
}

void Journal::commit(std::size_t payload_size) {
  const std::size_t at = size_.load(std::memory_order_relaxed);
  const std::size_t next = at + 8 + padded(payload_size);
  const std::uint64_t header = static_cast<std::uint64_t>(codec::crc32c(map_ + at + 8, payload_size)) << 32 |
                               static_cast<std::uint32_t>(payload_size);
  // Last, in one aligned 8-byte store: a reader sees the record whole or not at all.
  __atomic_store_n(reinterpret_cast<std::uint64_t*>(map_ + at), header, __ATOMIC_RELEASE);
  size_.store(next, std::memory_order_release);
  if (policy_ == Sync::Every) sync(at);
  if (next + kRoom > capacity_) grow(next + kRoom);  // room for the next record
  if (next + kPrefault / 2 > faulted_.load(std::memory_order_relaxed)) {
    if (policy_ != Sync::Batch)
      prefault(next + kPrefault);
    else if (!prefault_asked_.exchange(true))
      stop_signal_.notify_one();  // without the lock, which a sync may hold: at worst the next tick
  }
}

void Journal::sync(std::size_t from) {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  from -= from % page;  // msync wants a page boundary
  std::lock_guard<std::mutex> lock(mapping_);
  if (::msync(map_ + from, size_.load() - from, MS_SYNC) != 0) io_failure("cannot sync", path_);
}

void Journal::sync_loop() {
  using Clock = std::chrono::steady_clock;
  std::unique_lock<std::mutex> lock(mapping_);  // the map cannot move meanwhile: growing takes this lock
  std::size_t synced = 0;
  auto due = Clock::now() + kBatchInterval;
  for (;;) {
    stop_signal_.wait_until(lock, due, [this] { return stopping_ || prefault_asked_.load(); });
    if (stopping_) return;
    if (prefault_asked_.exchange(false)) prefault(size_.load(std::memory_order_acquire) + kPrefault);
    if (Clock::now() < due) continue;
    const std::size_t size = size_.load(std::memory_order_acquire);
    if (size != synced) {
      ::msync(map_, size, MS_SYNC);
      synced = size;
    }
    due = Clock::now() + kBatchInterval;
  }
}

// ------------------------------------------------------------------ reading

JournalContents read_journal(const std::string& path) {
  JournalContents j;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorKind::Restore, "journal " + path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) == 0) j.data.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < j.data.size()) {
    const ssize_t n = ::read(fd, j.data.data() + got, j.data.size() - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  j.data.resize(got);

  const std::string_view data = j.data;
  codec::Reader header(data, "journal");
  if (data.empty()) header.fail("empty");
  if (data.size() < 16 || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0) header.fail("not a ccroute journal");
  header.u64();
  const std::uint32_t version = header.u32();
  if (version != kVersion)
    header.fail("format version " + std::to_string(version) + ", this ccroute reads version " + std::to_string(kVersion));
  const std::uint32_t crc = header.u32();
  j.first_event = header.u64();
  j.config_tag = header.bytes();
  const std::size_t start = padded(data.size() - header.remaining());
  if (start > data.size() || codec::crc32c(data.data() + 16, start - 16) != crc) header.fail("damaged header");

  std::size_t at = start;
  std::uint64_t next_event = j.first_event;
  while (at + 8 <= data.size()) {
    std::uint32_t size;
    std::memcpy(&size, data.data() + at, 4);
    const bool whole = record_at(data, at);
    if (!whole) {
      // The end of the journal: a zero header (nothing more was acknowledged), or a record
      // torn by a crash while being written. Either must be the last thing in the file.
      for (std::size_t later = at + 8; later + 8 <= data.size(); later += 8)
        if (record_at(data, later))
          throw Error(ErrorKind::Restore, "journal " + path + ": damaged record at byte " + std::to_string(at) +
                                              " before valid ones (corrupted, not torn)");
      if (size != 0)
        j.warnings.push_back("journal " + path + ": a torn last record at byte " + std::to_string(at) +
                             " was dropped (the operation it held had not returned)");
      break;
    }
    codec::Reader r(data.substr(at + 8, size), "journal record");
    JournalRecord record{};
    const std::uint8_t op = r.u8();
    record.op = static_cast<JournalOp>(op & ~kNumberedEvent);
    record.event = op & kNumberedEvent ? r.varint() : next_event;
    const bool event = record.op != JournalOp::SkillName;  // a skill's name comes before the event using it
    if (event) record.now = r.f64();
    else if (op & kNumberedEvent) r.fail("a numbered skill name");
    record.fields = data.substr(at + 8 + size - r.remaining(), r.remaining());
    j.records.push_back(record);
    if (event) next_event = record.event + 1;
    at += 8 + padded(size);
  }
  if (at + 8 > data.size() && at < data.size() && std::any_of(data.begin() + at, data.end(), [](char c) { return c; }))
    j.warnings.push_back("journal " + path + ": a torn last record at byte " + std::to_string(at) + " was dropped");
  j.end = at;
  return j;
}

// ------------------------------------------------------------- the router's side

void Router::start_journal(const std::string& path, Sync sync, std::uint64_t end) {
  journal_.reset();  // a journal being replaced is closed (and synced) first
  journal_ = std::make_unique<Journal>(path, sync, config_tag_, events_, end);
}

void Router::name_skill(SkillRef skill) {
  RecordWriter w(journal_->room_begin(), journal_->room_end(), record_);
  w.u8(static_cast<std::uint8_t>(JournalOp::SkillName));
  w.varint(skill);
  w.bytes(skill_names_[skill]);
  journal_->finish(w);
}

SkillRef Router::read_skill(codec::Reader& r, const std::unordered_map<std::uint64_t, std::string_view>& names) {
  const std::uint64_t number = r.varint();
  const auto known = names.find(number);
  if (known == names.end()) {
    if (number >= skill_names_.size()) r.fail("unknown skill");
    return static_cast<SkillRef>(number);
  }
  const std::string_view name = known->second;
  auto named = std::find(skill_names_.begin(), skill_names_.end(), name);
  return named != skill_names_.end() ? static_cast<SkillRef>(named - skill_names_.begin()) : add_skill(name);
}

std::size_t Router::replay(const JournalContents& journal, std::vector<std::string>& call_keys, std::size_t from) {
  if (journal_) throw Error(ErrorKind::Restore, "journal: replay into a router that is journaling itself");
  // The journal's configuration is the one it began with; a snapshot taken after a
  // reconfiguration the journal holds is under the newer one.
  if (from == 0 && events_ <= journal.first_event && journal.config_tag != config_tag_)
    throw Error(ErrorKind::Restore, "journal: written under another configuration");
  std::unordered_map<std::uint64_t, CallRef> by_order;  // the journal names calls by creation order
  for (CallRef ref = 0; ref < calls_.size(); ++ref)
    if (calls_[ref].live) by_order.emplace(calls_[ref].order, ref);
  auto call = [&](codec::Reader& r) {
    auto found = by_order.find(r.varint());
    if (found == by_order.end()) r.fail("a call that is not in the router");
    return found->second;
  };
  // The writer's skill numbers, by name (its SkillName records; a replay resumed after a
  // reconfiguration starts afresh, as the writer named its skills anew).
  std::unordered_map<std::uint64_t, std::string_view> skills;
  std::vector<Offer> out;
  for (std::size_t i = from; i < journal.records.size(); ++i) {
    const JournalRecord& rec = journal.records[i];
    if (rec.op == JournalOp::SkillName) {  // read even before the snapshot's events: the records after may use it
      codec::Reader r(rec.fields, "journal record");
      const std::uint64_t number = r.varint();
      const std::string_view name = r.varint_bytes();
      if (name.empty()) r.fail("a skill name that is empty");
      skills[number] = name;
      continue;
    }
    if (rec.op == JournalOp::Reconfigure) skills.clear();
    if (rec.event < events_) continue;  // already in the snapshot this router was restored from
    if (rec.event > events_)
      throw Error(ErrorKind::Restore, "journal: events " + std::to_string(events_) + " to " +
                                          std::to_string(rec.event - 1) + " are missing (a snapshot taken after them is needed)");
    codec::Reader r(rec.fields, "journal record");
    try {
      out.clear();
      switch (rec.op) {
        case JournalOp::AddAgent: {
          const std::string_view key = r.varint_bytes();
          const std::uint32_t site = r.varint32();
          std::vector<SkillLevel> levels(r.varint_count(2));
          for (SkillLevel& held : levels) {
            held.skill = read_skill(r, skills);
            held.level = r.u8();
          }
          const bool has_wrapup = r.u8();
          const double wrapup = r.f64();
          add_agent(static_cast<int>(site), levels, has_wrapup ? std::optional<double>(wrapup) : std::nullopt, key);
          break;
        }
        case JournalOp::Ready: ready(r.varint32(), rec.now, out); break;
        case JournalOp::NotReady: {
          const AgentRef agent = r.varint32();
          not_ready(agent, rec.now, std::string(r.varint_bytes()), out);
          break;
        }
        case JournalOp::Logout: logout(r.varint32(), rec.now, out); break;
        case JournalOp::Arrive: {
          const std::string_view key = r.varint_bytes();
          CallSpec spec;
          spec.plan = static_cast<int>(r.varint32());
          spec.region = r.zigzag32();
          const std::uint8_t has = r.u8();
          if (has & ~(kHasLanguage | kHasValue | kHasPriority | kHasPreferredWait)) r.fail("unknown arrive fields");
          if (has & kHasLanguage) spec.language = read_skill(r, skills);
          if (has & kHasValue) spec.value = r.f64();
          if (has & kHasPriority) spec.priority = r.f64();
          spec.repeats = r.zigzag();
          spec.preferred_agent = r.zigzag();
          if (has & kHasPreferredWait) spec.preferred_wait = r.f64();
          const CallRef ref = arrive(spec, rec.now, out);
          by_order[calls_[ref].order] = ref;  // the journal names a call by its creation order from now on
          if (ref >= call_keys.size()) call_keys.resize(ref + 1);
          call_keys[ref] = key;
          break;
        }
        case JournalOp::Accept: {
          const CallRef ref = call(r);
          accept(ref, r.varint32(), rec.now, out);
          break;
        }
        case JournalOp::Reject: {
          const CallRef ref = call(r);
          reject(ref, r.varint32(), rec.now, out);
          break;
        }
        case JournalOp::Abandon:
        case JournalOp::Hangup: {
          const CallRef ref = call(r);
          auto leave = rec.op == JournalOp::Abandon ? &Router::abandon : &Router::hangup;
          (this->*leave)(ref, rec.now, out);
          by_order.erase(calls_[ref].order);
          call_keys[ref].clear();
          break;
        }
        case JournalOp::Advance: advance(rec.now, out); break;
        case JournalOp::SetSkills: {
          const AgentRef agent = r.varint32();
          const int site = r.zigzag32();
          std::vector<SkillLevel> levels(r.varint_count(2));
          for (SkillLevel& held : levels) {
            held.skill = read_skill(r, skills);
            held.level = r.u8();
          }
          set_skills(agent, site, levels, rec.now, out);
          break;
        }
        case JournalOp::RemoveAgent: remove_agent(r.varint32(), rec.now, out); break;
        case JournalOp::Transfer: {
          const CallRef ref = call(r);
          transfer(ref, static_cast<int>(r.varint32()), rec.now, out);
          break;
        }
        case JournalOp::Reprioritize: {
          const CallRef ref = call(r);
          const bool has_value = r.u8();
          const double value = r.f64();
          const bool has_priority = r.u8();
          const double priority = r.f64();
          reprioritize(ref, has_value ? std::optional<double>(value) : std::nullopt,
                       has_priority ? std::optional<double>(priority) : std::nullopt, rec.now, out);
          break;
        }
        case JournalOp::Reconfigure:  // the configuration is the embedder's document: its turn
          call_keys.resize(calls_.size());
          return i;
        default: r.fail("unknown operation " + std::to_string(static_cast<int>(rec.op)));
      }
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::Restore) throw;
      throw Error(ErrorKind::Restore, "journal: event " + std::to_string(rec.event) + " does not replay (" + e.what() + ")");
    }
  }
  call_keys.resize(calls_.size());
  return journal.records.size();
}

}  // namespace ccroute
