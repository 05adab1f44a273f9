// Safetensors, the Hugging Face weight format: an 8-byte little-endian header length, a
// JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then raw
// little-endian buffers. Reading memory-maps the file: tensors are views of the mapping
// until copied to another device or dtype. Sharded checkpoints
// (model.safetensors.index.json with a weight_map) read as one.
#ifndef CRUCIBLE_COMMON_MODEL_SAFETENSORS_H_
#define CRUCIBLE_COMMON_MODEL_SAFETENSORS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/torch.h"

namespace crucible::model {

class SafetensorsFile {
 public:
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  ~SafetensorsFile();

  const std::vector<std::string>& names() const { return names_; }
  bool Contains(const std::string& name) const { return entries_.count(name) != 0; }
  // A CPU tensor viewing the mapped file (valid while any tensor of this file lives).
  absl::StatusOr<torch::Tensor> Get(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  struct Entry {
    torch::ScalarType dtype;
    std::vector<int64_t> shape;
    size_t begin, end;
  };
  SafetensorsFile() = default;
  std::string path_;
  std::shared_ptr<void> mapping_;
  size_t data_offset_ = 0;
  size_t file_size_ = 0;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> names_;
  std::map<std::string, std::string> metadata_;
};

// All tensors of a checkpoint directory: model.safetensors, or the shards listed in
// model.safetensors.index.json (or a single given .safetensors file).
class TensorSource {
 public:
  static absl::StatusOr<TensorSource> Open(const std::string& path);
  std::vector<std::string> names() const;
  bool Contains(const std::string& name) const { return where_.count(name) != 0; }
  absl::StatusOr<torch::Tensor> Get(const std::string& name) const;

 private:
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;
};

// Writes tensors (any device; copied to CPU, contiguous) atomically to one file.
absl::Status WriteSafetensors(const std::string& path,
                              const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

// Writes shards of at most max_shard_bytes plus model.safetensors.index.json into dir (or a
// single model.safetensors when everything fits).
absl::Status WriteShardedSafetensors(const std::string& dir,
                                     const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                                     int64_t max_shard_bytes);

std::string DtypeName(torch::ScalarType dtype);  // "F32", "BF16", ...

}  // namespace crucible::model

#endif  // CRUCIBLE_COMMON_MODEL_SAFETENSORS_H_
