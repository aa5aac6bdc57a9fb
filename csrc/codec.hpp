// Binary encoding shared by snapshots and the journal: little-endian fixed-width fields,
// length-prefixed byte strings, and checksums the reference model computes alike (it reads
// and writes these formats too): zlib's CRC-32 for snapshots (Python's zlib.crc32), CRC-32C
// for the journal's records (ccroute.journal.crc32c).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "error.hpp"

namespace ccroute::codec {

std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc = 0);
// CRC-32C (Castagnoli), the journal's checksum: one instruction per 8 bytes on x86-64 with
// SSE4.2 (checked at run time), tables elsewhere.
std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc = 0);
std::uint32_t crc32c_portable(const void* data, std::size_t size, std::uint32_t crc = 0);  // the tables' way

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u8(std::uint8_t x) { raw(&x, sizeof x); }
  void u16(std::uint16_t x) { raw(&x, sizeof x); }
  void u32(std::uint32_t x) { raw(&x, sizeof x); }
  void u64(std::uint64_t x) { raw(&x, sizeof x); }
  void i32(std::int32_t x) { raw(&x, sizeof x); }
  void i64(std::int64_t x) { raw(&x, sizeof x); }
  void f64(double x) { raw(&x, sizeof x); }
  void bytes(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    if (!s.empty()) out_.append(s.data(), s.size());  // an empty view's data() may be null
  }

 private:
  static_assert(sizeof(double) == 8, "IEEE doubles");
  // Little-endian hosts only (x86-64, AArch64): the bytes in memory are the format.
  void raw(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string& out_;
};

// Reads what a Writer wrote; any read past the end, or a field out of its domain, throws
// Error(Restore) naming what was being read, so corrupt input never reads out of bounds.
class Reader {
 public:
  Reader(std::string_view data, const char* what) : p_(data.data()), end_(data.data() + data.size()), what_(what) {}
  std::uint8_t u8() { return get<std::uint8_t>(); }
  std::uint16_t u16() { return get<std::uint16_t>(); }
  std::uint32_t u32() { return get<std::uint32_t>(); }
  std::uint64_t u64() { return get<std::uint64_t>(); }
  std::int32_t i32() { return get<std::int32_t>(); }
  std::int64_t i64() { return get<std::int64_t>(); }
  double f64() { return get<double>(); }
  std::string_view bytes() { return take(u32()); }
  std::uint32_t count(std::size_t min_item_size) { return bounded(u32(), min_item_size); }  // see bounded()
  // The journal's records (format 3) write integers as varints (LEB128: 7 bits a byte, the
  // lowest first, the high bit set on every byte but the last), signed ones zigzag-mapped
  // (0, -1, 1, -2, ... as 0, 1, 2, 3, ...), and byte strings with a varint length.
  std::uint64_t varint() {
    std::uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      need(1);
      const auto byte = static_cast<std::uint8_t>(*p_++);
      x |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) {
        if (shift == 63 && byte > 1) break;  // bits beyond the 64th
        return x;
      }
    }
    fail("a number out of range");
  }
  std::uint32_t varint32() {
    const std::uint64_t x = varint();
    if (x > UINT32_MAX) fail("a number out of range");
    return static_cast<std::uint32_t>(x);
  }
  std::int64_t zigzag() {
    const std::uint64_t x = varint();
    return static_cast<std::int64_t>(x >> 1) ^ -static_cast<std::int64_t>(x & 1);
  }
  std::int32_t zigzag32() {
    const std::int64_t x = zigzag();
    if (x < INT32_MIN || x > INT32_MAX) fail("a number out of range");
    return static_cast<std::int32_t>(x);
  }
  std::string_view varint_bytes() { return take(varint()); }
  std::uint32_t varint_count(std::size_t min_item_size) { return bounded(varint32(), min_item_size); }  // as count()
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  bool done() const { return p_ == end_; }
  [[noreturn]] void fail(const std::string& why) const {
    throw Error(ErrorKind::Restore, std::string(what_) + ": " + why);
  }

 private:
  template <class T>
  T get() {
    need(sizeof(T));
    T x;
    std::memcpy(&x, p_, sizeof(T));
    p_ += sizeof(T);
    return x;
  }
  void need(std::size_t n) const {
    if (n > remaining()) fail("truncated");
  }
  std::string_view take(std::uint64_t n) {  // the next n bytes
    need(static_cast<std::size_t>(n));
    std::string_view s(p_, static_cast<std::size_t>(n));
    p_ += n;
    return s;
  }
  // A count of items of at least `min_item_size` bytes each: bounded by what is left, so a
  // corrupt count cannot make the reader reserve gigabytes.
  std::uint32_t bounded(std::uint32_t n, std::size_t min_item_size) const {
    if (min_item_size && n > remaining() / min_item_size) fail("a count larger than the data");
    return n;
  }
  const char* p_;
  const char* end_;
  const char* what_;
};

}  // namespace ccroute::codec
