// Tokenizers. BpeTokenizer reads a Hugging Face tokenizer.json and encodes exactly as HF's
// `tokenizers` library does for the BPE family: added and special tokens, the normalizer
// chain (NFC, NFKC, Lowercase, Prepend, Replace, Strip), the pre-tokenizer chain (Split with
// its regex and behaviour, ByteLevel, Metaspace, Digits), byte-level and SentencePiece-style
// BPE (merges by rank, ignore_merges, byte fallback, unk), the post-processor's special
// tokens, and the decoder chain (ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace).
// Anything else in the file is refused with an error naming it, never silently ignored.
// ByteTokenizer maps bytes to ids 0..255 plus <bos>, <eos> and <pad>, for tiny models.
//
// Thread-safe: Encode and Decode may be called concurrently.
#ifndef CRUCIBLE_COMMON_TOKENIZER_H_
#define CRUCIBLE_COMMON_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace crucible {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // add_special_tokens: the post-processor's tokens (e.g. a leading <|begin_of_text|>).
  virtual std::vector<int32_t> Encode(absl::string_view text, bool add_special_tokens = false) const = 0;
  virtual std::string Decode(absl::Span<const int32_t> ids, bool skip_special_tokens = false) const = 0;

  virtual int32_t vocab_size() const = 0;  // one more than the largest id
  virtual std::optional<int32_t> TokenToId(absl::string_view token) const = 0;
  virtual std::optional<int32_t> bos_id() const = 0;
  virtual std::optional<int32_t> eos_id() const = 0;
  virtual std::optional<int32_t> pad_id() const = 0;
  virtual bool IsSpecial(int32_t id) const = 0;

  // tokenizer.json, or "bytes" for the ByteTokenizer.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& path_or_bytes);
};

class ByteTokenizer : public Tokenizer {
 public:
  static constexpr int32_t kBos = 256, kEos = 257, kPad = 258, kVocab = 259;
  std::vector<int32_t> Encode(absl::string_view text, bool add_special_tokens) const override;
  std::string Decode(absl::Span<const int32_t> ids, bool skip_special_tokens) const override;
  int32_t vocab_size() const override { return kVocab; }
  std::optional<int32_t> TokenToId(absl::string_view token) const override;
  std::optional<int32_t> bos_id() const override { return kBos; }
  std::optional<int32_t> eos_id() const override { return kEos; }
  std::optional<int32_t> pad_id() const override { return kPad; }
  bool IsSpecial(int32_t id) const override { return id >= 256; }
};

class BpeTokenizer : public Tokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> FromJson(absl::string_view json,
                                                                absl::string_view source_name);
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> FromFile(const std::string& path);
  ~BpeTokenizer() override;

  std::vector<int32_t> Encode(absl::string_view text, bool add_special_tokens) const override;
  std::string Decode(absl::Span<const int32_t> ids, bool skip_special_tokens) const override;
  int32_t vocab_size() const override;
  std::optional<int32_t> TokenToId(absl::string_view token) const override;
  std::optional<int32_t> bos_id() const override { return bos_id_; }
  std::optional<int32_t> eos_id() const override { return eos_id_; }
  std::optional<int32_t> pad_id() const override { return pad_id_; }
  bool IsSpecial(int32_t id) const override;

  struct Impl;

 private:
  BpeTokenizer();
  std::unique_ptr<Impl> impl_;
  std::optional<int32_t> bos_id_, eos_id_, pad_id_;
};

}  // namespace crucible

#endif  // CRUCIBLE_COMMON_TOKENIZER_H_
