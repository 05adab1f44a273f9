#include "common/weight_stream.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <unordered_set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <nmmintrin.h>
#endif

namespace crucible {

// The wire format is little-endian; the conversions below copy host words as they are.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "weight_stream assumes little-endian");

namespace {

// ---- CRC-32C ----------------------------------------------------------------------

constexpr uint32_t kCrc32cPoly = 0x82F63B78u;  // Castagnoli, reflected

struct Crc32cTables {
  uint32_t t[8][256];
};

// t[0] is the byte-at-a-time table; t[k][b] is the CRC of byte b followed by k zero bytes,
// which lets slice-by-8 fold eight input bytes with eight independent lookups.
constexpr Crc32cTables MakeCrc32cTables() {
  Crc32cTables tables{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? (c >> 1) ^ kCrc32cPoly : c >> 1;
    tables.t[0][i] = c;
  }
  for (int s = 1; s < 8; ++s) {
    for (uint32_t i = 0; i < 256; ++i) {
      const uint32_t prev = tables.t[s - 1][i];
      tables.t[s][i] = (prev >> 8) ^ tables.t[0][prev & 0xFF];
    }
  }
  return tables;
}

constexpr Crc32cTables kCrc32cTables = MakeCrc32cTables();

// ---- manifests ----------------------------------------------------------------------

template <typename Tensors>
absl::Status ValidateTensors(const Tensors& tensors, int64_t total_bytes) {
  if (total_bytes < 0)
    return absl::InvalidArgumentError(absl::StrFormat("total_bytes %d < 0", total_bytes));
  std::unordered_set<std::string> names;
  int64_t expected_offset = 0;
  int index = 0;
  for (const v1::TensorSpec& t : tensors) {
    const std::string where = absl::StrFormat("tensor %d (\"%s\")", index++, t.name());
    if (t.name().empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": empty name"));
    if (!names.insert(t.name()).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": name repeated"));
    }
    const int64_t element_bytes = DTypeSize(t.dtype());
    if (element_bytes == 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: unknown dtype %d", where, static_cast<int>(t.dtype())));
    }
    int64_t numel = 1;
    for (int64_t dim : t.shape()) {
      if (dim < 0)
        return absl::InvalidArgumentError(absl::StrFormat("%s: dimension %d < 0", where, dim));
      if (__builtin_mul_overflow(numel, dim, &numel)) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": shape overflows int64"));
      }
    }
    int64_t size_bytes = 0;
    if (__builtin_mul_overflow(numel, element_bytes, &size_bytes)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": size overflows int64"));
    }
    if (t.size_bytes() != size_bytes) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: size_bytes %d, expected %d (%d elements of %d bytes)", where,
                          t.size_bytes(), size_bytes, numel, element_bytes));
    }
    if (t.offset_bytes() != expected_offset) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: offset_bytes %d, expected %d (tensors tile the bytes in order)",
                          where, t.offset_bytes(), expected_offset));
    }
    if (__builtin_add_overflow(expected_offset, size_bytes, &expected_offset) ||
        expected_offset > total_bytes) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: ends past total_bytes %d", where, total_bytes));
    }
  }
  if (expected_offset != total_bytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("tensors cover %d bytes, total_bytes is %d", expected_offset, total_bytes));
  }
  return absl::OkStatus();
}

absl::Status ValidateIdentity(const std::string& run_id, int64_t version) {
  if (run_id.empty()) return absl::InvalidArgumentError("run_id: empty");
  if (version < 0) return absl::InvalidArgumentError(absl::StrFormat("version %d < 0", version));
  return absl::OkStatus();
}

}  // namespace

// ---- CRC-32C ----------------------------------------------------------------------

namespace internal {

uint32_t Crc32cPortable(const void* data, size_t n, uint32_t crc) {
  const auto& t = kCrc32cTables.t;
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = ~crc;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    const uint32_t lo = static_cast<uint32_t>(word) ^ c;
    const uint32_t hi = static_cast<uint32_t>(word >> 32);
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
        t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = t[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
  return ~c;
}

#if defined(__x86_64__)

}  // namespace internal

namespace {

// Appending `len` zero bytes to a raw (not inverted) CRC register is a linear map over
// GF(2); ZeroShift holds it as four byte tables, so that applying it costs four lookups.
// Built from the one-zero-bit map by squaring, as zlib's crc32_combine does.
struct ZeroShift {
  uint32_t t[4][256];
  uint32_t operator()(uint32_t c) const {
    return t[0][c & 0xFF] ^ t[1][(c >> 8) & 0xFF] ^ t[2][(c >> 16) & 0xFF] ^ t[3][c >> 24];
  }
};

uint32_t Gf2Apply(const uint32_t* matrix, uint32_t vector) {
  uint32_t sum = 0;
  for (int i = 0; vector != 0; ++i, vector >>= 1) {
    if ((vector & 1) != 0) sum ^= matrix[i];
  }
  return sum;
}

// out = a after b (out may not alias either).
void Gf2Compose(const uint32_t* a, const uint32_t* b, uint32_t* out) {
  for (int i = 0; i < 32; ++i) out[i] = Gf2Apply(a, b[i]);
}

ZeroShift MakeZeroShift(size_t len) {
  uint32_t bit[32], two[32], four[32], base[32], result[32], scratch[32];
  bit[0] = kCrc32cPoly;  // column i: the image of register bit i after one zero bit
  for (int i = 1; i < 32; ++i) bit[i] = 1u << (i - 1);
  Gf2Compose(bit, bit, two);
  Gf2Compose(two, two, four);
  Gf2Compose(four, four, base);  // one zero byte
  for (int i = 0; i < 32; ++i) result[i] = 1u << i;
  for (; len > 0; len >>= 1) {
    if ((len & 1) != 0) {
      Gf2Compose(base, result, scratch);
      std::memcpy(result, scratch, sizeof(result));
    }
    Gf2Compose(base, base, scratch);
    std::memcpy(base, scratch, sizeof(base));
  }
  ZeroShift shift;
  for (int k = 0; k < 4; ++k) {
    for (uint32_t b = 0; b < 256; ++b) shift.t[k][b] = Gf2Apply(result, b << (8 * k));
  }
  return shift;
}

// The instruction's latency is three times its throughput, so one dependency chain runs
// at a third of the speed the unit allows. Blocks of three lanes are summed in parallel
// and joined with the zero shifts: CRC(a b c) = shift_2L(CRC(a)) ^ shift_L(CRC(b)) ^ CRC(c)
// for raw registers (b and c started at zero). Lanes of 8 KiB (a block of 24 KiB stays in
// the L1 cache), then of 256 bytes for what is left.
constexpr size_t kLongLane = 8192;
constexpr size_t kShortLane = 256;

__attribute__((target("sse4.2"))) uint64_t Crc32cLanes(const unsigned char*& p, size_t& n,
                                                       uint64_t c, size_t lane,
                                                       const ZeroShift& shift) {
  while (n >= 3 * lane) {
    uint64_t c1 = 0, c2 = 0;
    for (size_t i = 0; i < lane; i += 8) {
      uint64_t w0, w1, w2;
      std::memcpy(&w0, p + i, 8);
      std::memcpy(&w1, p + lane + i, 8);
      std::memcpy(&w2, p + 2 * lane + i, 8);
      c = _mm_crc32_u64(c, w0);
      c1 = _mm_crc32_u64(c1, w1);
      c2 = _mm_crc32_u64(c2, w2);
    }
    c = shift(shift(static_cast<uint32_t>(c)) ^ static_cast<uint32_t>(c1)) ^
        static_cast<uint32_t>(c2);
    p += 3 * lane;
    n -= 3 * lane;
  }
  return c;
}

}  // namespace

namespace internal {

__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(const void* data, size_t n,
                                                          uint32_t crc) {
  static const ZeroShift* const long_shift = new ZeroShift(MakeZeroShift(kLongLane));
  static const ZeroShift* const short_shift = new ZeroShift(MakeZeroShift(kShortLane));
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = ~crc;
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    c = _mm_crc32_u8(c, *p++);
    --n;
  }
  uint64_t c64 = c;
  c64 = Crc32cLanes(p, n, c64, kLongLane, *long_shift);
  c64 = Crc32cLanes(p, n, c64, kShortLane, *short_shift);
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c64 = _mm_crc32_u64(c64, word);
    p += 8;
    n -= 8;
  }
  c = static_cast<uint32_t>(c64);
  while (n-- > 0) c = _mm_crc32_u8(c, *p++);
  return ~c;
}

bool Crc32cHardwareAvailable() {
  static const bool available = __builtin_cpu_supports("sse4.2");
  return available;
}

#else

uint32_t Crc32cHardware(const void* data, size_t n, uint32_t crc) {
  return Crc32cPortable(data, n, crc);
}

bool Crc32cHardwareAvailable() { return false; }

#endif

}  // namespace internal

uint32_t Crc32c(const void* data, size_t n, uint32_t crc) {
  return internal::Crc32cHardwareAvailable() ? internal::Crc32cHardware(data, n, crc)
                                             : internal::Crc32cPortable(data, n, crc);
}

// ---- 16-bit floats ------------------------------------------------------------------

uint16_t FloatToBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {
    // Truncating a NaN whose payload sits in the low bits would make it infinity; setting
    // the quiet bit keeps it a NaN.
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  }
  // Adding 0x7FFF plus the lowest kept bit rounds to nearest with ties to even; a carry
  // out of the mantissa moves the exponent up, to infinity past the largest finite value.
  const uint32_t lsb = (bits >> 16) & 1u;
  return static_cast<uint16_t>((bits + 0x7FFFu + lsb) >> 16);
}

float Bf16ToFloat(uint16_t value) {
  const uint32_t bits = static_cast<uint32_t>(value) << 16;
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

// The array forms are the scalar rules written without branches or per-element calls,
// so that the compiler vectorizes them (a 30 M-element adapter: ~15 ms instead of ~100),
// with an AVX2 clone chosen at load time where the CPU has it (x86-64's baseline SSE2 has
// no 32 -> 16-bit pack).
#if defined(__x86_64__)
#define CRUCIBLE_VECTOR_CLONES __attribute__((optimize("O3"), target_clones("avx2", "default")))
#else
#define CRUCIBLE_VECTOR_CLONES __attribute__((optimize("O3")))
#endif

CRUCIBLE_VECTOR_CLONES void FloatToBf16(const float* in, size_t n, uint16_t* out) {
  const uint32_t* bits = reinterpret_cast<const uint32_t*>(in);
  for (size_t i = 0; i < n; ++i) {
    const uint32_t b = bits[i];
    const uint32_t rounded = (b + 0x7FFFu + ((b >> 16) & 1u)) >> 16;
    const uint32_t nan = (b >> 16) | 0x0040u;
    out[i] = static_cast<uint16_t>((b & 0x7FFFFFFFu) > 0x7F800000u ? nan : rounded);
  }
}

CRUCIBLE_VECTOR_CLONES void Bf16ToFloat(const uint16_t* in, size_t n, float* out) {
  uint32_t* bits = reinterpret_cast<uint32_t*>(out);
  for (size_t i = 0; i < n; ++i) bits[i] = static_cast<uint32_t>(in[i]) << 16;
}

namespace {

// Decoding a version far larger than the caches: stores that bypass them (the destination
// is not read back until the model uses it) spare the read of every destination line
// before it is written, a third of the traffic (30 M bf16 elements: ~15 ms instead of ~21).
constexpr size_t kStreamingDecodeBytes = size_t{8} << 20;

#if defined(__x86_64__)

bool StreamingStoresAvailable() {
  static const bool available = __builtin_cpu_supports("avx2");
  return available;
}

// `n` elements of 2 (bf16) or 4 (f32) bytes from `src` to float32 at `out`.
__attribute__((target("avx2"))) void DecodeStreaming(const char* src, size_t element, size_t n,
                                                     float* out) {
  const auto scalar = [&](size_t i) {
    if (element == 4) {
      std::memcpy(out + i, src + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      out[i] = Bf16ToFloat(h);
    }
  };
  size_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(out + i) & 31) != 0; ++i) scalar(i);
  for (; i + 8 <= n; i += 8) {
    __m256i words;
    if (element == 4) {
      words = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 4 * i));
    } else {
      const __m128i halves = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i));
      words = _mm256_slli_epi32(_mm256_cvtepu16_epi32(halves), 16);
    }
    _mm256_stream_si256(reinterpret_cast<__m256i*>(out + i), words);
  }
  _mm_sfence();
  for (; i < n; ++i) scalar(i);
}

#else

bool StreamingStoresAvailable() { return false; }
void DecodeStreaming(const char*, size_t, size_t, float*) {}

#endif

}  // namespace

float F16ToFloat(uint16_t value) {
  const uint32_t sign = static_cast<uint32_t>(value & 0x8000u) << 16;
  const uint32_t exponent = (value >> 10) & 0x1Fu;
  const uint32_t mantissa = value & 0x3FFu;
  uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {
      // Subnormal: mantissa * 2^-24, exact in float32.
      const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
      return sign != 0 ? -magnitude : magnitude;
    }
  } else if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13);
  }
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

int64_t DTypeSize(v1::DType dtype) {
  switch (dtype) {
    case v1::F32:
      return 4;
    case v1::BF16:
    case v1::F16:
      return 2;
    default:
      return 0;
  }
}

// ---- versions -------------------------------------------------------------------------

// Grows a buffer of many megabytes backed by transparent huge pages where the kernel
// offers them on request: faulting in a fresh 60 MB buffer page by page costs ~40 ms on a
// VM (~3 us per 4 KiB fault), one 2 MiB fault per huge page a small fraction of that.
void ReserveLarge(std::string* buffer, size_t n) {
  constexpr size_t kHuge = size_t{2} << 20;
  if (buffer->capacity() >= n) return;
  buffer->reserve(n);
  if (n < 4 * kHuge) return;
  const uintptr_t base = reinterpret_cast<uintptr_t>(buffer->data());
  const uintptr_t begin = (base + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (base + n) & ~(kHuge - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

void ResizeLarge(std::string* buffer, size_t n) {
  ReserveLarge(buffer, n);
  buffer->resize(n);
}

absl::Status ValidateLayout(const std::vector<v1::TensorSpec>& tensors, int64_t total_bytes) {
  return ValidateTensors(tensors, total_bytes);
}

namespace {

// MakeVersion's checks and layout: everything of the version but its bytes. Returns how
// many elements `data` holds.
absl::StatusOr<size_t> LayOut(std::string run_id, int64_t version, int64_t learner_step,
                              v1::PeftConfig peft, const std::vector<std::string>& names,
                              const std::vector<std::vector<int64_t>>& shapes, const float* data,
                              v1::DType wire_dtype, WeightsVersion& out) {
  absl::Status identity = ValidateIdentity(run_id, version);
  if (!identity.ok()) return identity;
  if (names.size() != shapes.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%d names but %d shapes", names.size(), shapes.size()));
  }
  if (wire_dtype != v1::F32 && wire_dtype != v1::BF16) {
    return absl::InvalidArgumentError(
        absl::StrFormat("wire dtype %s: expected F32 or BF16", v1::DType_Name(wire_dtype)));
  }
  const int64_t element_bytes = DTypeSize(wire_dtype);
  out.run_id = std::move(run_id);
  out.version = version;
  out.learner_step = learner_step;
  out.peft = std::move(peft);
  int64_t total_numel = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    v1::TensorSpec spec;
    spec.set_name(names[i]);
    spec.set_dtype(wire_dtype);
    int64_t numel = 1;
    for (int64_t dim : shapes[i]) {
      spec.add_shape(dim);
      // Negative dimensions are reported by ValidateLayout below, with the tensor's name.
      if (dim >= 0 && __builtin_mul_overflow(numel, dim, &numel)) {
        return absl::InvalidArgumentError(
            absl::StrFormat("tensor %d (\"%s\"): shape overflows int64", i, names[i]));
      }
    }
    if (numel < 0) numel = 0;
    if (numel > (std::numeric_limits<int64_t>::max() / element_bytes) - total_numel) {
      return absl::InvalidArgumentError(
          absl::StrFormat("tensor %d (\"%s\"): the version's size overflows int64", i, names[i]));
    }
    spec.set_offset_bytes(total_numel * element_bytes);
    spec.set_size_bytes(numel * element_bytes);
    total_numel += numel;
    out.tensors.push_back(std::move(spec));
  }
  absl::Status layout = ValidateTensors(out.tensors, total_numel * element_bytes);
  if (!layout.ok()) return layout;
  if (data == nullptr && total_numel > 0) {
    return absl::InvalidArgumentError(absl::StrFormat("data: null for %d elements", total_numel));
  }
  return static_cast<size_t>(total_numel);
}

// Writes `n` float32 values to `out` in the wire dtype and returns the CRC-32C of what it
// wrote: block by block, each summed while it is still in the L1 cache, so that the
// checksum costs no second pass over the version.
uint32_t EncodeFloat32(const float* in, size_t n, v1::DType wire_dtype, char* out) {
  constexpr size_t kBlock = 12288;  // elements: 24 KiB of bf16, 48 KiB of f32
  const size_t element = static_cast<size_t>(DTypeSize(wire_dtype));
  uint32_t crc = 0;
  for (size_t i = 0; i < n; i += kBlock) {
    const size_t m = std::min(kBlock, n - i);
    char* block = out + i * element;
    if (wire_dtype == v1::F32) {
      std::memcpy(block, in + i, m * 4);
    } else {
      // `out` is malloc'd or page-aligned, hence aligned for uint16_t.
      FloatToBf16(in + i, m, reinterpret_cast<uint16_t*>(block));
    }
    crc = Crc32c(block, m * element, crc);
  }
  return crc;
}

}  // namespace

absl::StatusOr<WeightsVersion> MakeVersion(std::string run_id, int64_t version,
                                           int64_t learner_step, v1::PeftConfig peft,
                                           const std::vector<std::string>& names,
                                           const std::vector<std::vector<int64_t>>& shapes,
                                           const float* data, v1::DType wire_dtype) {
  WeightsVersion out;
  CRUCIBLE_ASSIGN_OR_RETURN(const size_t n, LayOut(std::move(run_id), version, learner_step,
                                                   std::move(peft), names, shapes, data,
                                                   wire_dtype, out));
  ResizeLarge(&out.bytes, n * static_cast<size_t>(DTypeSize(wire_dtype)));
  out.crc32c = EncodeFloat32(data, n, wire_dtype, out.bytes.data());
  out.published_unix_ms = absl::ToUnixMillis(absl::Now());
  return out;
}

absl::StatusOr<WeightsVersion> MakeSharedVersion(const std::string& path, std::string run_id,
                                                 int64_t version, int64_t learner_step,
                                                 v1::PeftConfig peft,
                                                 const std::vector<std::string>& names,
                                                 const std::vector<std::vector<int64_t>>& shapes,
                                                 const float* data, v1::DType wire_dtype) {
  WeightsVersion out;
  CRUCIBLE_ASSIGN_OR_RETURN(const size_t n, LayOut(std::move(run_id), version, learner_step,
                                                   std::move(peft), names, shapes, data,
                                                   wire_dtype, out));
  const size_t size = n * static_cast<size_t>(DTypeSize(wire_dtype));
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("create ", path, ": ", std::strerror(errno)));
  absl::StatusOr<std::shared_ptr<const MappedBytes>> mapped = MappedBytes::Fill(fd, size, [&](char* bytes) {
    out.crc32c = EncodeFloat32(data, n, wire_dtype, bytes);
  });
  ::close(fd);
  if (!mapped.ok()) {
    ::unlink(path.c_str());
    return absl::UnavailableError(absl::StrCat(path, ": ", mapped.status().message()));
  }
  out.mapped = *std::move(mapped);
  out.published_unix_ms = absl::ToUnixMillis(absl::Now());
  return out;
}

absl::StatusOr<std::vector<float>> DecodeFloat32(const WeightsVersion& version) {
  CRUCIBLE_ASSIGN_OR_RETURN(size_t total, Float32Elements(version));
  std::vector<float> out(total);
  CRUCIBLE_RETURN_IF_ERROR(DecodeTensorFloat32(version, 0, version.tensors.size(), out.data()));
  return out;
}

absl::StatusOr<size_t> Float32Elements(const WeightsVersion& version) {
  absl::Status layout =
      ValidateTensors(version.tensors, static_cast<int64_t>(version.data().size()));
  if (!layout.ok()) return layout;
  size_t total = 0;
  for (const v1::TensorSpec& t : version.tensors) {
    total += static_cast<size_t>(t.size_bytes() / DTypeSize(t.dtype()));
  }
  return total;
}

absl::Status DecodeTensorFloat32(const WeightsVersion& version, size_t first, size_t count,
                                 float* out) {
  if (first > version.tensors.size() || count > version.tensors.size() - first) {
    return absl::OutOfRangeError(absl::StrFormat("tensors [%d, %d) of %d", first, first + count,
                                                 version.tensors.size()));
  }
  const absl::string_view bytes = version.data();
  const bool streaming = bytes.size() >= kStreamingDecodeBytes && StreamingStoresAvailable();
  for (size_t k = first; k < first + count; ++k) {
    const v1::TensorSpec& t = version.tensors[k];
    const size_t element = static_cast<size_t>(DTypeSize(t.dtype()));
    if (element == 0 || t.offset_bytes() < 0 || t.size_bytes() < 0 ||
        static_cast<uint64_t>(t.offset_bytes()) + static_cast<uint64_t>(t.size_bytes()) >
            bytes.size()) {
      return absl::InvalidArgumentError(absl::StrFormat("tensor \"%s\" lies outside the version", t.name()));
    }
    const char* src = bytes.data() + t.offset_bytes();
    const size_t numel = static_cast<size_t>(t.size_bytes()) / element;
    if (numel == 0) continue;
    if (streaming && t.dtype() != v1::F16) {
      DecodeStreaming(src, element, numel, out);
    } else if (t.dtype() == v1::F32) {
      std::memcpy(out, src, numel * 4);
    } else if (t.dtype() == v1::BF16 && reinterpret_cast<uintptr_t>(src) % 2 == 0) {
      Bf16ToFloat(reinterpret_cast<const uint16_t*>(src), numel, out);
    } else {
      for (size_t i = 0; i < numel; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        out[i] = t.dtype() == v1::BF16 ? Bf16ToFloat(h) : F16ToFloat(h);
      }
    }
    out += numel;
  }
  return absl::OkStatus();
}

v1::WeightsManifest ManifestOf(const WeightsVersion& version) {
  v1::WeightsManifest manifest;
  manifest.set_run_id(version.run_id);
  manifest.set_version(version.version);
  for (const v1::TensorSpec& t : version.tensors) *manifest.add_tensors() = t;
  manifest.set_total_bytes(static_cast<int64_t>(version.data().size()));
  *manifest.mutable_peft() = version.peft;
  manifest.set_learner_step(version.learner_step);
  manifest.set_published_unix_ms(version.published_unix_ms);
  return manifest;
}

std::string SharedMemoryToken() {
  struct stat st;
  if (::stat("/dev/shm", &st) != 0 || !S_ISDIR(st.st_mode)) return "";
  std::string boot_id;
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::getline(in, boot_id);
  return absl::StrCat(boot_id, ":", st.st_dev, ":", st.st_ino);
}

absl::StatusOr<SharedWeightsFile> WriteSharedWeightsFile(const WeightsVersion& version,
                                                         const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("create ", path, ": ", std::strerror(errno)));
  const absl::string_view bytes = version.data();
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return absl::UnavailableError(absl::StrCat("write ", path, ": ", std::strerror(err)));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  ::close(fd);
  return SharedWeightsFile{path, version.crc32c.has_value() ? *version.crc32c
                                                            : Crc32c(bytes.data(), bytes.size())};
}

absl::Status EncodeVersion(const WeightsVersion& version, int64_t chunk_bytes,
                           const std::function<bool(const v1::WeightsUpdate&)>& emit,
                           const SharedWeightsFile* shared) {
  if (chunk_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("chunk_bytes %d: must be positive", chunk_bytes));
  }
  absl::Status valid = ValidateIdentity(version.run_id, version.version);
  if (valid.ok()) {
    valid = ValidateTensors(version.tensors, static_cast<int64_t>(version.data().size()));
  }
  if (!valid.ok()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "version %d of run \"%s\": %s", version.version, version.run_id, valid.message()));
  }
  const auto cancelled = [&] {
    return absl::CancelledError(
        absl::StrFormat("sending version %d was abandoned by the receiver", version.version));
  };
  v1::WeightsUpdate update;
  update.set_version(version.version);
  *update.mutable_manifest() = ManifestOf(version);
  if (shared != nullptr) {
    update.mutable_manifest()->set_shared_file(shared->path);
    if (!emit(update)) return cancelled();
    update.mutable_commit()->set_crc32c(shared->crc32c);
    if (!emit(update)) return cancelled();
    return absl::OkStatus();
  }
  if (!emit(update)) return cancelled();

  uint32_t crc = 0;
  const absl::string_view bytes = version.data();
  const size_t total = bytes.size();
  size_t offset = 0;
  while (offset < total) {
    const size_t n = std::min(static_cast<size_t>(chunk_bytes), total - offset);
    const char* p = bytes.data() + offset;
    v1::WeightsChunk* chunk = update.mutable_chunk();  // clears the manifest on first use
    chunk->set_offset_bytes(static_cast<int64_t>(offset));
    chunk->set_data(p, n);
    if (!version.crc32c.has_value()) crc = Crc32c(p, n, crc);
    if (!emit(update)) return cancelled();
    offset += n;
  }
  update.mutable_commit()->set_crc32c(version.crc32c.value_or(crc));
  if (!emit(update)) return cancelled();
  return absl::OkStatus();
}

// ---- WeightsAssembler -----------------------------------------------------------------

WeightsAssembler::WeightsAssembler(int64_t max_total_bytes) : max_total_bytes_(max_total_bytes) {}

void WeightsAssembler::Reset() {
  in_progress_ = false;
  manifest_.Clear();
  bytes_.clear();
  bytes_.shrink_to_fit();
  mapped_.reset();
  received_ = 0;
  crc_ = 0;
}

absl::StatusOr<std::shared_ptr<const WeightsVersion>> WeightsAssembler::Feed(
    const v1::WeightsUpdate& update) {
  absl::Status status;
  switch (update.body_case()) {
    case v1::WeightsUpdate::kManifest:
      if (in_progress_) {
        ++partials_replaced_;
        Reset();
      }
      status = OnManifest(update);
      break;
    case v1::WeightsUpdate::kChunk:
      status = OnChunk(update);
      break;
    case v1::WeightsUpdate::kCommit: {
      auto complete = OnCommit(update);
      if (!complete.ok()) Reset();
      return complete;
    }
    default:
      status = absl::InvalidArgumentError(
          absl::StrFormat("update for version %d has no body", update.version()));
      break;
  }
  if (!status.ok()) {
    Reset();
    return status;
  }
  return std::shared_ptr<const WeightsVersion>();
}

absl::Status WeightsAssembler::OnManifest(const v1::WeightsUpdate& update) {
  const v1::WeightsManifest& m = update.manifest();
  const auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrFormat("manifest of version %d of run \"%s\": %s", m.version(), m.run_id(), why));
  };
  if (update.version() != m.version()) {
    return refuse(absl::StrFormat("WeightsUpdate.version is %d", update.version()));
  }
  absl::Status identity = ValidateIdentity(m.run_id(), m.version());
  if (!identity.ok()) return refuse(identity.message());
  if (m.total_bytes() > max_total_bytes_) {
    return refuse(absl::StrFormat("total_bytes %d exceeds the limit of %d", m.total_bytes(),
                                  max_total_bytes_));
  }
  absl::Status layout = ValidateTensors(m.tensors(), m.total_bytes());
  if (!layout.ok()) return refuse(layout.message());
  if (!m.shared_file().empty()) {
    absl::string_view name = m.shared_file();
    if (!absl::ConsumePrefix(&name, kSharedWeightsPrefix) || name.empty() ||
        absl::StrContains(name, '/') || name == "." || name == "..") {
      return refuse(absl::StrCat("shared file \"", m.shared_file(), "\" is not under ",
                                 kSharedWeightsPrefix));
    }
  }
  manifest_ = m;
  bytes_.clear();
  mapped_.reset();
  if (m.shared_file().empty()) ReserveLarge(&bytes_, static_cast<size_t>(m.total_bytes()));
  received_ = 0;
  crc_ = 0;
  in_progress_ = true;
  return absl::OkStatus();
}

absl::Status WeightsAssembler::OnChunk(const v1::WeightsUpdate& update) {
  const v1::WeightsChunk& chunk = update.chunk();
  if (!in_progress_) {
    return absl::FailedPreconditionError(
        absl::StrFormat("chunk of version %d at offset %d without a manifest", update.version(),
                        chunk.offset_bytes()));
  }
  if (update.version() != manifest_.version()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "chunk of version %d in the middle of version %d", update.version(), manifest_.version()));
  }
  if (chunk.offset_bytes() != received_) {
    return absl::FailedPreconditionError(
        absl::StrFormat("chunk of version %d at offset %d, expected offset %d", update.version(),
                        chunk.offset_bytes(), received_));
  }
  if (!manifest_.shared_file().empty()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "chunk of version %d, whose bytes are in a shared file", update.version()));
  }
  const int64_t n = static_cast<int64_t>(chunk.data().size());
  if (n > manifest_.total_bytes() - received_) {
    return absl::FailedPreconditionError(
        absl::StrFormat("chunk of version %d at offset %d: %d bytes run past total_bytes %d",
                        update.version(), chunk.offset_bytes(), n, manifest_.total_bytes()));
  }
  bytes_.append(chunk.data());
  crc_ = Crc32c(chunk.data().data(), chunk.data().size(), crc_);
  received_ += n;
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const MappedBytes>> MappedBytes::Map(int fd, size_t size) {
  if (size == 0) return std::shared_ptr<const MappedBytes>(new MappedBytes(nullptr, 0));
  void* address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (address == MAP_FAILED) return absl::UnavailableError(absl::StrCat("mmap: ", std::strerror(errno)));
  return std::shared_ptr<const MappedBytes>(new MappedBytes(address, size));
}

absl::StatusOr<std::shared_ptr<const MappedBytes>> MappedBytes::Fill(
    int fd, size_t size, const std::function<void(char*)>& fill) {
  // The space is reserved first: on a tmpfs that fills up, writing through the mapping
  // would be a SIGBUS, while fallocate says ENOSPC.
  if (size == 0) {
    fill(nullptr);
    return std::shared_ptr<const MappedBytes>(new MappedBytes(nullptr, 0));
  }
  if (const int err = ::posix_fallocate(fd, 0, static_cast<off_t>(size)); err != 0) {
    return absl::ResourceExhaustedError(absl::StrCat("fallocate ", size, " bytes: ", std::strerror(err)));
  }
  void* address = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (address == MAP_FAILED) return absl::UnavailableError(absl::StrCat("mmap: ", std::strerror(errno)));
  std::shared_ptr<const MappedBytes> mapped(new MappedBytes(address, size));
  fill(static_cast<char*>(address));
  if (::mprotect(address, size, PROT_READ) != 0) {
    return absl::InternalError(absl::StrCat("mprotect: ", std::strerror(errno)));
  }
  return mapped;
}

MappedBytes::~MappedBytes() {
  if (address_ != nullptr) ::munmap(address_, size_);
}

absl::Status WeightsAssembler::MapSharedFile() {
  const std::string& path = manifest_.shared_file();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrFormat("version %d: shared file %s: %s",
                                                  manifest_.version(), path, std::strerror(errno)));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != manifest_.total_bytes()) {
    return absl::DataLossError(absl::StrFormat("version %d: shared file %s holds %d bytes, not %d",
                                               manifest_.version(), path,
                                               static_cast<int64_t>(st.st_size), manifest_.total_bytes()));
  }
  // Mapped, not copied: the publisher never changes a file once written, and the mapping
  // keeps its pages after the publisher removes it.
  absl::StatusOr<std::shared_ptr<const MappedBytes>> mapped =
      MappedBytes::Map(fd, static_cast<size_t>(manifest_.total_bytes()));
  if (!mapped.ok()) {
    return absl::UnavailableError(absl::StrFormat("version %d: shared file %s: %s", manifest_.version(),
                                                  path, mapped.status().message()));
  }
  mapped_ = *std::move(mapped);
  const absl::string_view view = mapped_->view();
  crc_ = Crc32c(view.data(), view.size());
  received_ = manifest_.total_bytes();
  ++shared_versions_;
  shared_bytes_ += received_;
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const WeightsVersion>> WeightsAssembler::OnCommit(
    const v1::WeightsUpdate& update) {
  if (!in_progress_) {
    return absl::FailedPreconditionError(
        absl::StrFormat("commit of version %d without a manifest", update.version()));
  }
  if (update.version() != manifest_.version()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "commit of version %d in the middle of version %d", update.version(), manifest_.version()));
  }
  if (!manifest_.shared_file().empty()) {
    CRUCIBLE_RETURN_IF_ERROR(MapSharedFile());
  }
  if (received_ != manifest_.total_bytes()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("commit of version %d after %d of its %d bytes", update.version(),
                        received_, manifest_.total_bytes()));
  }
  if (crc_ != update.commit().crc32c()) {
    return absl::DataLossError(absl::StrFormat(
        "version %d of run \"%s\": CRC-32C of the bytes is %08x, the commit says %08x",
        manifest_.version(), manifest_.run_id(), crc_, update.commit().crc32c()));
  }
  auto version = std::make_shared<WeightsVersion>();
  version->run_id = manifest_.run_id();
  version->version = manifest_.version();
  version->learner_step = manifest_.learner_step();
  version->peft = manifest_.peft();
  version->tensors.assign(manifest_.tensors().begin(), manifest_.tensors().end());
  version->bytes = std::move(bytes_);
  version->mapped = std::move(mapped_);
  version->crc32c = crc_;
  version->published_unix_ms = manifest_.published_unix_ms();
  Reset();
  return std::shared_ptr<const WeightsVersion>(std::move(version));
}

}  // namespace crucible
