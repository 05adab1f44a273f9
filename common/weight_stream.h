// The adapter weight stream's codec, shared by the learner (publisher) and the actors
// (subscribers); torch-free. A version (WeightsVersion) is every tensor in its wire dtype,
// little-endian, concatenated in manifest order. EncodeVersion turns one into the
// WeightsUpdate sequence of proto/crucible/v1/weights.proto (manifest, chunks that tile
// the bytes in order, commit with the CRC-32C over all of them) one message at a time;
// WeightsAssembler takes that sequence back and hands out a version only when it is
// whole, its layout is consistent and its checksum matches. The assembler never returns
// part of a version: anything out of order or inconsistent is refused with an error and
// the partial version is dropped, and the assembler waits for the next manifest. A new
// manifest in the middle of a version silently replaces it (the sender moved on to a
// newer one). Nothing here does I/O or threads; one assembler serves one stream.
#ifndef CRUCIBLE_COMMON_WEIGHT_STREAM_H_
#define CRUCIBLE_COMMON_WEIGHT_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crucible/v1/weights.pb.h"

namespace crucible {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as in iSCSI and ext4. Chainable:
// Crc32c(b, nb, Crc32c(a, na)) is the CRC of a followed by b; Crc32c("123456789", 9) is
// 0xE3069283. Uses the SSE4.2 crc32 instruction when the CPU has it.
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);

namespace internal {
// The two implementations behind Crc32c, exposed so tests can check them against each
// other. Crc32cHardware may be called only when Crc32cHardwareAvailable().
uint32_t Crc32cPortable(const void* data, size_t n, uint32_t crc);
uint32_t Crc32cHardware(const void* data, size_t n, uint32_t crc);
bool Crc32cHardwareAvailable();
}  // namespace internal

// bfloat16: the top 16 bits of an IEEE float32. Narrowing rounds to nearest, ties to even
// (so values too large for bf16 become infinity); a NaN stays a NaN of the same sign.
uint16_t FloatToBf16(float value);
float Bf16ToFloat(uint16_t value);
void FloatToBf16(const float* in, size_t n, uint16_t* out);
void Bf16ToFloat(const uint16_t* in, size_t n, float* out);

// IEEE binary16 widening (exact), for F16 tensors in a manifest.
float F16ToFloat(uint16_t value);

// Bytes per element of a wire dtype; 0 for DTYPE_UNSPECIFIED and unknown values.
int64_t DTypeSize(v1::DType dtype);

// A read-only mapping of a whole file, unmapped with the last reference: a version read
// from a shared file without copying it.
class MappedBytes {
 public:
  // Maps `size` bytes of `fd` (which may be closed afterwards), populated up front.
  static absl::StatusOr<std::shared_ptr<const MappedBytes>> Map(int fd, size_t size);
  // Sizes the file `fd` (opened read-write) to `size` bytes, reserving its space (a full
  // tmpfs is RESOURCE_EXHAUSTED here, not a SIGBUS later), maps it shared, lets `fill`
  // write the bytes (null when size is 0), then makes the mapping read-only.
  static absl::StatusOr<std::shared_ptr<const MappedBytes>> Fill(
      int fd, size_t size, const std::function<void(char*)>& fill);
  ~MappedBytes();
  MappedBytes(const MappedBytes&) = delete;
  MappedBytes& operator=(const MappedBytes&) = delete;
  absl::string_view view() const { return {static_cast<const char*>(address_), size_}; }

 private:
  MappedBytes(void* address, size_t size) : address_(address), size_(size) {}
  void* const address_;
  const size_t size_;
};

struct WeightsVersion {
  std::string run_id;
  int64_t version = -1;
  int64_t learner_step = 0;
  v1::PeftConfig peft;
  std::vector<v1::TensorSpec> tensors;  // offset_bytes/size_bytes tile [0, data().size())
  std::string bytes;                    // every tensor in its wire dtype, in `tensors` order,
                                        // unless `mapped` holds them
  std::shared_ptr<const MappedBytes> mapped;  // the bytes of a shared file (then `bytes` is empty)
  int64_t published_unix_ms = 0;        // when MakeVersion built it
  // The CRC-32C of data(), when known: MakeVersion, MakeSharedVersion and the assembler
  // set it (whoever changes the bytes afterwards must reset it), and EncodeVersion and
  // WriteSharedWeightsFile then use it instead of reading every byte again.
  std::optional<uint32_t> crc32c;

  // The version's bytes, wherever they are held.
  absl::string_view data() const {
    return mapped != nullptr ? mapped->view() : absl::string_view(bytes);
  }
};

// A version from float32 tensors (`data` is every tensor concatenated, in `names` order),
// narrowed to `wire_dtype` (F32 or BF16). Fails on an empty run id, a negative version,
// names and shapes of different lengths, an empty or repeated name, a negative dimension,
// or another dtype. `data` may be null only when every tensor is empty.
absl::StatusOr<WeightsVersion> MakeVersion(std::string run_id, int64_t version,
                                           int64_t learner_step, v1::PeftConfig peft,
                                           const std::vector<std::string>& names,
                                           const std::vector<std::vector<int64_t>>& shapes,
                                           const float* data, v1::DType wire_dtype);

// Every tensor widened to float32, concatenated in order. Fails when the layout is
// inconsistent (see ValidateLayout) or a dtype is unknown.
absl::StatusOr<std::vector<float>> DecodeFloat32(const WeightsVersion& version);
// The element count DecodeFloat32 returns, after the same layout check.
absl::StatusOr<size_t> Float32Elements(const WeightsVersion& version);
// Tensors [first, first + count) widened to float32 into `out` (their element counts in
// order), for callers that decode into buffers they keep (an actor's adapter tensors):
// no allocation. Call after a layout check (Float32Elements or ValidateLayout).
absl::Status DecodeTensorFloat32(const WeightsVersion& version, size_t first, size_t count,
                                 float* out);

// OK when `tensors` tile [0, total_bytes) in order (each starts where the previous ended),
// every dtype is known, every dimension is non-negative, every size_bytes equals numel
// times the dtype size, and names are non-empty and distinct. The message names the
// offending tensor.
absl::Status ValidateLayout(const std::vector<v1::TensorSpec>& tensors, int64_t total_bytes);

// The manifest that opens the version's stream.
v1::WeightsManifest ManifestOf(const WeightsVersion& version);

// Versions between processes of one host may travel as a file in /dev/shm instead of
// chunks on the stream (WeightsManifest.shared_file): one write by the publisher and one
// read per subscriber, instead of gRPC framing and copies per chunk.
inline constexpr char kSharedWeightsPrefix[] = "/dev/shm/crucible-weights-";

// This process's view of /dev/shm: the boot id and the directory's device and inode.
// Processes with equal tokens see the same files there. "" when there is no /dev/shm.
std::string SharedMemoryToken();

// A version's bytes written to a file under kSharedWeightsPrefix (created exclusively,
// mode 0644), with their CRC-32C.
struct SharedWeightsFile {
  std::string path;
  uint32_t crc32c = 0;
};
absl::StatusOr<SharedWeightsFile> WriteSharedWeightsFile(const WeightsVersion& version,
                                                         const std::string& path);

// MakeVersion with the bytes narrowed straight into a new file at `path` (created
// exclusively, mode 0644), which the version then maps: one pass writes the bytes and
// sums their checksum, and nothing is copied to share them. UNAVAILABLE, or
// RESOURCE_EXHAUSTED when there is no space left, if the file cannot be made; nothing is
// left at `path` then. Otherwise the caller removes the file (the mapping outlives that).
absl::StatusOr<WeightsVersion> MakeSharedVersion(const std::string& path, std::string run_id,
                                                 int64_t version, int64_t learner_step,
                                                 v1::PeftConfig peft,
                                                 const std::vector<std::string>& names,
                                                 const std::vector<std::vector<int64_t>>& shapes,
                                                 const float* data, v1::DType wire_dtype);

// Calls `emit` with the manifest, then chunks of at most `chunk_bytes` bytes in order, then
// the commit; each message is built only when it is emitted (one at a time, reused). With
// `shared`, the manifest names its file and the commit carries its CRC, and no chunks are
// sent. Returns CANCELLED as soon as `emit` returns false, INVALID_ARGUMENT when
// chunk_bytes is not positive or the version's layout is inconsistent.
absl::Status EncodeVersion(const WeightsVersion& version, int64_t chunk_bytes,
                           const std::function<bool(const v1::WeightsUpdate&)>& emit,
                           const SharedWeightsFile* shared = nullptr);

// Rebuilds versions from one stream of WeightsUpdate messages.
class WeightsAssembler {
 public:
  // Manifests announcing more than max_total_bytes are refused before any allocation.
  explicit WeightsAssembler(int64_t max_total_bytes = int64_t{16} << 30);

  // Feeds the next message. Returns the version when `update` is the commit that completes
  // a verified one, null while a version is in progress (or after a manifest replaced a
  // partial one), and an error for a message it refuses, after which it waits for the
  // next manifest: DATA_LOSS for a checksum mismatch, INVALID_ARGUMENT for a bad manifest
  // (a shared file outside kSharedWeightsPrefix among them) or a message with no body,
  // FAILED_PRECONDITION for a chunk or commit out of sequence (no manifest, another
  // version number, a gap or overlap, bytes past the end, a commit before the last byte,
  // a chunk for a shared version), UNAVAILABLE for a shared file that cannot be read (gone,
  // or another user's) and DATA_LOSS for one of the wrong size.
  absl::StatusOr<std::shared_ptr<const WeightsVersion>> Feed(const v1::WeightsUpdate& update);

  // Drops any partial version.
  void Reset();

  bool in_progress() const { return in_progress_; }
  int64_t bytes_received() const { return received_; }
  // Partial versions dropped because a newer manifest arrived.
  int64_t partials_replaced() const { return partials_replaced_; }
  // Versions completed from a shared file, and the bytes read from them.
  int64_t shared_versions() const { return shared_versions_; }
  int64_t shared_bytes() const { return shared_bytes_; }

 private:
  absl::Status OnManifest(const v1::WeightsUpdate& update);
  absl::Status OnChunk(const v1::WeightsUpdate& update);
  absl::StatusOr<std::shared_ptr<const WeightsVersion>> OnCommit(const v1::WeightsUpdate& update);
  absl::Status MapSharedFile();

  const int64_t max_total_bytes_;
  bool in_progress_ = false;
  v1::WeightsManifest manifest_;
  std::string bytes_;
  std::shared_ptr<const MappedBytes> mapped_;  // a shared version's file, once read
  int64_t received_ = 0;
  uint32_t crc_ = 0;
  int64_t partials_replaced_ = 0;
  int64_t shared_versions_ = 0;
  int64_t shared_bytes_ = 0;
};

}  // namespace crucible

#endif  // CRUCIBLE_COMMON_WEIGHT_STREAM_H_
