// The journal: every operation that changed a router, appended to a file as it returns, so
// that a router killed at any moment can be rebuilt (Router::replay) from its last snapshot
// and the journal. The reference model reads and writes the same format
// (src/ccroute/journal.py documents it).
//
// File: a header (magic "CCRJRNL\0", u32 version, u32 CRC-32C of the rest of the header,
// u64 number of the first event, bytes config tag, zero padding to 8 bytes), then records,
// each at an 8-byte boundary: u32 payload size, u32 CRC-32C of the payload, the payload, zero
// padding to 8 bytes. A payload is u8 operation, [varint event number, when the operation has
// kNumberedEvent set: else the previous record's + 1, the header's for the first], f64 time,
// and the operation's fields (Router::record calls in router.cpp and live.cpp; mostly
// varints, see codec::Reader::varint); or, not an event, a SkillName record naming a skill
// number before its first use (Router::journal_skill). Version 3 (112 -> 40 bytes for a
// typical arrive: what a record costs is mostly its bytes, fresh lines and pages of the
// mapping); versions 1 and 2 are refused, named.
//
// Writing goes through a shared memory map of the file: a record is in the kernel's page cache
// as soon as the operation returns, so a process that dies (SIGKILL, a crash) loses nothing it
// acknowledged, whatever the sync policy. The payload is written first (encoded in place) and the 8-byte record
// header stored last, in one aligned store: a record is either whole or absent (zero header).
// The sync policy only says when the pages reach the disk (power loss, kernel crash):
//   Every  msync after each record (durable when the operation returns; slow)
//   Batch  a background thread msyncs every 100 ms (group commit; nothing on the hot path),
//          and makes the pages ahead of the last record writable before they are needed
//   Never  the kernel's own writeback (sync="none" in Python)
#pragma once

#include <algorithm>
#include <atomic>
#include <cassert>
#include <memory>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace ccroute {

enum class Sync : std::uint8_t { Every, Batch, Never };  // Never: the kernel's own writeback

enum class JournalOp : std::uint8_t {
  AddAgent = 1, Ready, NotReady, Logout, Arrive, Accept, Reject, Abandon, Hangup, Advance,
  SetSkills, RemoveAgent, Transfer, Reprioritize, Reconfigure,
  SkillName,  // not an event: what the writer's skill number means in the records after it
};
// In a record's operation byte: the event number follows. Only the first record a writer
// appends to a journal it continues (after a recovery) needs it; the others are numbered by
// their place (a record is 8 bytes fewer, and the arrive record is on the hot path).
constexpr std::uint8_t kNumberedEvent = 0x80;
// The arrive record's flags: which of the call's optional fields follow (the others are
// none, or +0.0: most calls leave most of them alone).
enum ArriveField : std::uint8_t { kHasLanguage = 1, kHasValue = 2, kHasPriority = 4, kHasPreferredWait = 8 };

// Encodes a record's payload in place, in the journal's mapped file, or, should the room
// there not suffice (a long id or name, a reconfiguration's document), in a spill string.
// Fixed-size fields are plain stores, unchecked: each variable-size field (a string, or a
// list through room()) checks that kSlack bytes stay free after it, and a record writes at
// most kSlack bytes of other fields between two checks (asserted in debug builds). So a
// record costs a comparison per string, not one per field. Little-endian hosts only (x86-64, AArch64): the bytes in memory are
// the format, as in codec::Writer (which appends to a string: snapshots, the journal header).
class RecordWriter {
 public:
  static constexpr std::size_t kSlack = 256;
  // [begin, end) holds at least kSlack bytes.
  RecordWriter(char* begin, char* end, std::string& spill) : begin_(begin), p_(begin), end_(end), spill_(&spill) {}
  void u8(std::uint8_t x) { fixed(&x, sizeof x); }
  void f64(double x) { fixed(&x, sizeof x); }  // the other integers are varints
  // Integers as varints, byte strings with a varint length (codec::Reader::varint).
  void varint(std::uint64_t x) {
    char* const from = p_;
    for (; x >= 0x80; x >>= 7) *p_++ = static_cast<char>(x | 0x80);
    *p_++ = static_cast<char>(x);
    unchecked(static_cast<std::size_t>(p_ - from));
  }
  void zigzag(std::int64_t x) { varint(static_cast<std::uint64_t>(x) << 1 ^ static_cast<std::uint64_t>(x >> 63)); }
  void bytes(std::string_view s) {
    varint(s.size());
    room(s.size());
    if (!s.empty()) std::memcpy(p_, s.data(), s.size());  // an empty view's data() may be null
    p_ += s.size();
#ifndef NDEBUG
    budget_ = kSlack;
#endif
  }
  // Before a list of fixed-size fields (an agent's skills): room for its `n` bytes, after
  // which the slack holds again, as after a string.
  void room(std::size_t n) {
    if (n + kSlack > static_cast<std::size_t>(end_ - p_)) spill(n);
#ifndef NDEBUG
    budget_ = static_cast<std::ptrdiff_t>(n + kSlack);
#endif
  }
  bool spilled() const { return begin_ == spill_->data(); }
  std::size_t size() const { return static_cast<std::size_t>(p_ - begin_); }
  std::string_view payload() const { return {begin_, size()}; }

 private:
  static_assert(sizeof(double) == 8, "IEEE doubles");
  void fixed(const void* x, std::size_t n) {
    std::memcpy(p_, x, n);
    p_ += n;
    unchecked(n);
  }
  void unchecked([[maybe_unused]] std::size_t n) {
#ifndef NDEBUG
    budget_ -= static_cast<std::ptrdiff_t>(n);
    assert(budget_ >= 0 && "a record's fixed-size fields between two room checks outgrew the slack");
#endif
  }
  // On into the spill string (what was written moves there), with room for `more` bytes and the slack.
  void spill(std::size_t more) {
    const std::size_t written = size();
    if (!spilled()) spill_->assign(begin_, written);
    spill_->resize(std::max(2 * spill_->size(), written + more + kSlack));
    begin_ = spill_->data();
    p_ = begin_ + written;
    end_ = begin_ + spill_->size();
  }
  char* begin_;
  char* p_;
  char* end_;
  std::string* spill_;
#ifndef NDEBUG
  std::ptrdiff_t budget_ = kSlack;  // bytes the fields may still write before the next room check
#endif
};

class Journal {
 public:
  // Appends to `path`: a new file (header written) when `end` is 0, else an existing journal
  // whose valid records end at byte `end` (anything after, a torn record, is overwritten).
  Journal(const std::string& path, Sync policy, std::string_view config_tag, std::uint64_t first_event,
          std::uint64_t end = 0);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // A record is written in place: its payload encoded straight into the mapped file, from
  // room_begin() (never past room_end(), at least RecordWriter::kSlack bytes further), then
  // committed; one that does not fit, whole (append).
  char* room_begin() const { return map_ + size_.load(std::memory_order_relaxed) + 8; }
  char* room_end() const { return map_ + capacity_; }
  void commit(std::size_t payload_size);
  void append(std::string_view payload);
  void finish(const RecordWriter& w) {  // the record `w` encoded, whichever way it went
    if (w.spilled())
      append(w.payload());
    else
      commit(w.size());
  }
  // Whether `skill` is used for the first time in this journal (since it was opened or the
  // names were forgotten, as a reconfiguration may renumber skills): then its name is written.
  bool first_use(std::uint32_t skill) {
    if (skill >= named_skills_.size()) named_skills_.resize(skill + 1, false);
    if (named_skills_[skill]) return false;
    named_skills_[skill] = true;
    return true;
  }
  void forget_skill_names() { named_skills_.clear(); }
  // The event number the next record has without saying it (kNumberedEvent): one more than
  // the last record's; unknown (never equal) before the first record of a continued journal.
  std::uint64_t next_event() const { return next_event_; }
  void set_next_event(std::uint64_t event) { next_event_ = event; }
  void sync(std::size_t from = 0);  // the records (from byte `from`) reach the disk before this returns
  const std::string& path() const { return path_; }

 private:
  void grow(std::size_t needed);
  void prefault(std::size_t upto);
  void sync_loop();

  std::string path_;
  Sync policy_;
  int fd_ = -1;
  char* map_ = nullptr;
  std::size_t capacity_ = 0;
  std::atomic<std::size_t> size_{0};
  std::uint64_t next_event_;
  std::vector<bool> named_skills_;
  // Pages before faulted_ are mapped writable (no page fault on writing there). Made so by the
  // batch syncing thread when asked (off the operations' path), else by the writer itself.
  std::atomic<std::size_t> faulted_{0};
  std::atomic<bool> prefault_asked_{false};
  bool can_prefault_ = true;
  std::mutex mapping_;  // held while the map moves, or is synced or prefaulted from the background thread
  std::condition_variable stop_signal_;
  bool stopping_ = false;
  std::thread syncer_;
};

struct JournalRecord {
  std::uint64_t event;
  JournalOp op;
  double now;
  std::string_view fields;  // into JournalContents::data
};

struct JournalContents {
  std::string data;
  std::string config_tag;
  std::uint64_t first_event = 0;
  std::vector<JournalRecord> records;
  std::uint64_t end = 0;               // bytes of valid header and records
  std::vector<std::string> warnings;   // a torn last record, dropped
};

// Reads a journal. A torn last record is dropped with a warning; a damaged record followed
// by valid ones, or a damaged header, throws Error(Restore): it is never misread.
JournalContents read_journal(const std::string& path);

}  // namespace ccroute
