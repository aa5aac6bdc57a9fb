#include "codec.hpp"

#include <array>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CCROUTE_X86 1
#endif

namespace ccroute::codec {
namespace {

// Slice-by-8 tables of a reflected CRC-32 polynomial.
struct Tables {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  explicit Tables(std::uint32_t polynomial) {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? polynomial ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (std::uint32_t i = 0; i < 256; ++i)
      for (int k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
  }
};
const Tables zlib_tables(0xEDB88320u);        // zlib's CRC-32
const Tables castagnoli_tables(0x82F63B78u);  // CRC-32C (Castagnoli, iSCSI)

}  // namespace

namespace {

// The table way, any length (crc: the running value, complemented).
std::uint32_t crc_tables(const Tables& tables, const unsigned char* p, std::size_t size, std::uint32_t crc) {
  const auto& t = tables.t;
  for (; size >= 8; size -= 8, p += 8) {
    std::uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= crc;
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^ t[3][hi & 0xFF] ^
          t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
  }
  while (size--) crc = t[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return crc;
}

#ifdef CCROUTE_X86
// Carry-less multiplication (PCLMULQDQ), for CPUs that have it (checked at run time: the
// build targets any x86-64): 16 bytes folded per step, then a Barrett reduction to 32 bits
// (Intel, "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ", 2009; the constants
// are those of zlib's reflected polynomial, as in Chromium's and Linux's crc32 code). Whole
// 16-byte blocks only, at least one (crc: the running value, complemented).
__attribute__((target("pclmul,sse4.1"))) std::uint32_t crc32_clmul(const unsigned char* p, std::size_t blocks,
                                                                     std::uint32_t crc) {
  alignas(16) static const std::uint64_t k3k4[2] = {0x1751997d0, 0x0ccaa009e};
  alignas(16) static const std::uint64_t k5k0[2] = {0x163cd6124, 0};
  alignas(16) static const std::uint64_t poly[2] = {0x1db710641, 0x1f7011641};
  __m128i x1 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)),
                             _mm_cvtsi32_si128(static_cast<int>(crc)));
  __m128i x0 = _mm_load_si128(reinterpret_cast<const __m128i*>(k3k4));
  for (std::size_t i = 1; i < blocks; ++i) {
    const __m128i lo = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, lo), _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i)));
  }
  // 128 bits to 64.
  __m128i x2 = _mm_clmulepi64_si128(x1, x0, 0x10);
  const __m128i low32 = _mm_setr_epi32(~0, 0, ~0, 0);
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2);
  x0 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(k5k0));
  x2 = _mm_srli_si128(x1, 4);
  x1 = _mm_and_si128(x1, low32);
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(x1, x0, 0x00), x2);
  // Barrett reduction to 32 bits.
  x0 = _mm_load_si128(reinterpret_cast<const __m128i*>(poly));
  x2 = _mm_and_si128(x1, low32);
  x2 = _mm_clmulepi64_si128(x2, x0, 0x10);
  x2 = _mm_and_si128(x2, low32);
  x2 = _mm_clmulepi64_si128(x2, x0, 0x00);
  x1 = _mm_xor_si128(x1, x2);
  return static_cast<std::uint32_t>(_mm_extract_epi32(x1, 1));
}

const bool has_clmul = [] {
  __builtin_cpu_init();  // may run before the runtime's own initialisation of what it reports
  return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}();

// SSE4.2's crc32 instruction computes CRC-32C: 8 bytes per instruction (crc: the running
// value, complemented).
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(const unsigned char* p, std::size_t size,
                                                              std::uint32_t crc) {
  std::uint64_t c = crc;
  for (; size >= 8; size -= 8, p += 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
  }
  crc = static_cast<std::uint32_t>(c);
  if (size >= 4) {
    std::uint32_t word;
    std::memcpy(&word, p, 4);
    crc = _mm_crc32_u32(crc, word);
    p += 4;
    size -= 4;
  }
  while (size--) crc = _mm_crc32_u8(crc, *p++);
  return crc;
}

const bool has_sse42 = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}();
#endif

}  // namespace

std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
#ifdef CCROUTE_X86
  if (size >= 16 && has_clmul) {
    const std::size_t whole = size & ~std::size_t{15};
    crc = crc32_clmul(p, whole / 16, crc);
    p += whole;
    size -= whole;
  }
#endif
  return ~crc_tables(zlib_tables, p, size, crc);
}

std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc) {
#ifdef CCROUTE_X86
  if (has_sse42) return ~crc32c_sse42(static_cast<const unsigned char*>(data), size, ~crc);
#endif
  return crc32c_portable(data, size, crc);
}

std::uint32_t crc32c_portable(const void* data, std::size_t size, std::uint32_t crc) {
  return ~crc_tables(castagnoli_tables, static_cast<const unsigned char*>(data), size, ~crc);
}

}  // namespace ccroute::codec
