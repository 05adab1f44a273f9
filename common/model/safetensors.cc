#include "common/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace crucible::model {
namespace {

using nlohmann::json;

absl::StatusOr<torch::ScalarType> ParseDtype(const std::string& name) {
  if (name == "F32") return torch::kFloat32;
  if (name == "F16") return torch::kFloat16;
  if (name == "BF16") return torch::kBFloat16;
  if (name == "F64") return torch::kFloat64;
  if (name == "I64") return torch::kInt64;
  if (name == "I32") return torch::kInt32;
  if (name == "I16") return torch::kInt16;
  if (name == "I8") return torch::kInt8;
  if (name == "U8") return torch::kUInt8;
  if (name == "BOOL") return torch::kBool;
  return absl::InvalidArgumentError(absl::StrCat("unsupported dtype \"", name, "\""));
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

}  // namespace

std::string DtypeName(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat32: return "F32";
    case torch::kFloat16: return "F16";
    case torch::kBFloat16: return "BF16";
    case torch::kFloat64: return "F64";
    case torch::kInt64: return "I64";
    case torch::kInt32: return "I32";
    case torch::kInt16: return "I16";
    case torch::kInt8: return "I8";
    case torch::kUInt8: return "U8";
    case torch::kBool: return "BOOL";
    default: return "?";
  }
}

SafetensorsFile::~SafetensorsFile() = default;

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("open ", path));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoToStatus(err, absl::StrCat("stat ", path));
  }
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->file_size_ = static_cast<size_t>(st.st_size);
  if (file->file_size_ < 8) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": too short for a safetensors file"));
  }
  void* map = ::mmap(nullptr, file->file_size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return ErrnoToStatus(errno, absl::StrCat("mmap ", path));
  const size_t size = file->file_size_;
  file->mapping_ = std::shared_ptr<void>(map, [size](void* p) { ::munmap(p, size); });
  const char* base = static_cast<const char*>(map);
  uint64_t header_len = 0;
  std::memcpy(&header_len, base, 8);
  if (header_len > file->file_size_ - 8) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": header length ", header_len, " exceeds the file"));
  }
  file->data_offset_ = 8 + header_len;
  json header = json::parse(base + 8, base + 8 + header_len, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": header is not a JSON object"));
  }
  const size_t data_size = file->file_size_ - file->data_offset_;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (m.value().is_string()) file->metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const json& e = it.value();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets")) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensor \"", it.key(), "\": malformed entry"));
    }
    absl::StatusOr<torch::ScalarType> dtype = ParseDtype(e["dtype"].get<std::string>());
    if (!dtype.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensor \"", it.key(), "\": ", dtype.status().message()));
    }
    Entry entry{*dtype, e["shape"].get<std::vector<int64_t>>(), e["data_offsets"][0].get<size_t>(),
                e["data_offsets"][1].get<size_t>()};
    int64_t numel = 1;
    for (int64_t d : entry.shape) numel *= d;
    const size_t expected = static_cast<size_t>(numel) * torch::elementSize(entry.dtype);
    if (entry.end < entry.begin || entry.end > data_size || entry.end - entry.begin != expected) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensor \"", it.key(), "\": data_offsets [",
                                                     entry.begin, ", ", entry.end, ") do not hold ",
                                                     ShapeString(entry.shape), " of ", e["dtype"].get<std::string>()));
    }
    file->names_.push_back(it.key());
    file->entries_.emplace(it.key(), std::move(entry));
  }
  return file;
}

absl::StatusOr<torch::Tensor> SafetensorsFile::Get(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return absl::NotFoundError(absl::StrCat(path_, ": no tensor \"", name, "\""));
  const Entry& e = it->second;
  char* data = static_cast<char*>(mapping_.get()) + data_offset_ + e.begin;
  // The mapping is read-only: tensors are views that must not be written in place.
  std::shared_ptr<void> keep = mapping_;
  return torch::from_blob(data, e.shape, [keep](void*) mutable { keep.reset(); },
                          torch::TensorOptions().dtype(e.dtype));
}

absl::StatusOr<TensorSource> TensorSource::Open(const std::string& path) {
  TensorSource source;
  std::vector<std::string> files;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoToStatus(errno, absl::StrCat("stat ", path));
  if (S_ISDIR(st.st_mode)) {
    const std::string index = path + "/model.safetensors.index.json";
    if (::access(index.c_str(), F_OK) == 0) {
      CRUCIBLE_ASSIGN_OR_RETURN(std::string text, ReadFile(index));
      json j = json::parse(text, nullptr, false);
      if (j.is_discarded() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
        return absl::InvalidArgumentError(absl::StrCat(index, ": no weight_map"));
      }
      std::map<std::string, size_t> file_index;
      for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
        std::string shard = it.value().get<std::string>();
        if (file_index.emplace(shard, files.size()).second) files.push_back(path + "/" + shard);
      }
      for (const std::string& f : files) {
        CRUCIBLE_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(f));
        source.files_.push_back(std::move(file));
      }
      for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
        size_t k = file_index[it.value().get<std::string>()];
        if (!source.files_[k]->Contains(it.key())) {
          return absl::InvalidArgumentError(absl::StrCat(index, ": tensor \"", it.key(), "\" is mapped to ",
                                                         it.value().get<std::string>(), ", which lacks it"));
        }
        source.where_[it.key()] = k;
      }
      return source;
    }
    files.push_back(path + "/model.safetensors");
  } else {
    files.push_back(path);
  }
  CRUCIBLE_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(files[0]));
  for (const std::string& name : file->names()) source.where_[name] = 0;
  source.files_.push_back(std::move(file));
  return source;
}

std::vector<std::string> TensorSource::names() const {
  std::vector<std::string> out;
  for (const auto& [name, k] : where_) out.push_back(name);
  return out;
}

absl::StatusOr<torch::Tensor> TensorSource::Get(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) return absl::NotFoundError(absl::StrCat("no tensor \"", name, "\""));
  return files_[it->second]->Get(name);
}

absl::Status WriteSafetensors(const std::string& path,
                              const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> cpu;
  size_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", DtypeName(t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    cpu.push_back(std::move(t));
  }
  std::string header_text = header.dump();
  // The data starts 8-byte aligned, as in files written by the reference implementation.
  while ((header_text.size() + 8) % 8 != 0) header_text.push_back(' ');
  std::string out;
  out.reserve(8 + header_text.size() + offset);
  uint64_t len = header_text.size();
  out.append(reinterpret_cast<const char*>(&len), 8);
  out.append(header_text);
  for (const torch::Tensor& t : cpu) {
    out.append(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()) * t.element_size());
  }
  return WriteFileAtomic(path, out);
}

absl::Status WriteShardedSafetensors(const std::string& dir,
                                     const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                                     int64_t max_shard_bytes) {
  std::vector<std::vector<std::pair<std::string, torch::Tensor>>> shards(1);
  int64_t current = 0, total = 0;
  for (const auto& entry : tensors) {
    const int64_t bytes = entry.second.numel() * entry.second.element_size();
    if (current > 0 && current + bytes > max_shard_bytes) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(entry);
    current += bytes;
    total += bytes;
  }
  if (shards.size() == 1) return WriteSafetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}});
  json weight_map = json::object();
  for (size_t k = 0; k < shards.size(); ++k) {
    const std::string name = absl::StrFormat("model-%05d-of-%05d.safetensors", k + 1, shards.size());
    CRUCIBLE_RETURN_IF_ERROR(WriteSafetensors(dir + "/" + name, shards[k], {{"format", "pt"}}));
    for (const auto& [tensor, t] : shards[k]) weight_map[tensor] = name;
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  return WriteFileAtomic(dir + "/model.safetensors.index.json", index.dump(2));
}

}  // namespace crucible::model
