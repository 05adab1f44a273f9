#include "common/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <queue>
#include <unordered_map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace crucible {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------
// UTF-8.

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not one. When invalid,
// *maximal is the length of the maximal subpart (bytes that could begin a valid sequence),
// which one U+FFFD replaces, as Rust's String::from_utf8_lossy does.
size_t ValidUtf8At(absl::string_view s, size_t i, size_t* maximal) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  *maximal = 1;
  if (c < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (size_t k = 1; k <= need; ++k) {
    if (i + k >= s.size()) return 0;
    unsigned char x = b(i + k);
    const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (x < l || x > h) return 0;
    *maximal = k + 1;
  }
  return need + 1;
}

std::string Utf8Lossy(absl::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    size_t maximal = 1;
    size_t n = ValidUtf8At(bytes, i, &maximal);
    if (n > 0) {
      out.append(bytes.data() + i, n);
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");
      i += maximal;
    }
  }
  return out;
}

// Code points of valid UTF-8 (callers pass valid text).
std::vector<std::string> Utf8Chars(absl::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t maximal = 1;
    size_t n = ValidUtf8At(s, i, &maximal);
    if (n == 0) n = 1;
    out.emplace_back(s.substr(i, n));
    i += n;
  }
  return out;
}

// GPT-2's reversible map from bytes to printable code points.
struct ByteLevelTables {
  std::array<std::string, 256> byte_to_char;
  absl::flat_hash_map<uint32_t, uint8_t> char_to_byte;
  ByteLevelTables() {
    std::vector<int> bs;
    for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
    std::vector<int> cs = bs;
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      if (std::find(bs.begin(), bs.end(), b) == bs.end()) {
        bs.push_back(b);
        cs.push_back(256 + n++);
      }
    }
    for (size_t k = 0; k < bs.size(); ++k) {
      std::string c;
      AppendUtf8(static_cast<uint32_t>(cs[k]), &c);
      byte_to_char[bs[k]] = c;
      char_to_byte[static_cast<uint32_t>(cs[k])] = static_cast<uint8_t>(bs[k]);
    }
  }
};

const ByteLevelTables& ByteLevel() {
  static const ByteLevelTables* tables = new ByteLevelTables();
  return *tables;
}

uint32_t DecodeCodePoint(absl::string_view c) {
  const auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(c[k])); };
  if (c.empty()) return 0;
  if (b(0) < 0x80) return b(0);
  if ((b(0) & 0xE0) == 0xC0 && c.size() >= 2) return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
  if ((b(0) & 0xF0) == 0xE0 && c.size() >= 3) {
    return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
  }
  if (c.size() >= 4) {
    return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
  }
  return 0;
}

bool IsUnicodeWhitespace(uint32_t cp) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: return true;
    default: return cp == '\t' || cp == '\n' || cp == '\v' || cp == '\f' || cp == '\r' || cp == 0x85;
  }
}

// ---------------------------------------------------------------------------------------
// Patterns: a PCRE2 regex with Unicode properties, or a literal string.

class Pattern {
 public:
  static absl::StatusOr<Pattern> Regex(const std::string& source) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &error, &offset, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof(message));
      return absl::InvalidArgumentError(absl::StrCat("regex \"", source, "\" at offset ", offset,
                                                     ": ", reinterpret_cast<char*>(message)));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    Pattern p;
    p.code_ = std::shared_ptr<pcre2_code>(code, pcre2_code_free);
    return p;
  }
  static Pattern Literal(std::string text) {
    Pattern p;
    p.literal_ = std::move(text);
    return p;
  }

  // Non-empty, non-overlapping matches, left to right: (start, end) byte offsets.
  std::vector<std::pair<size_t, size_t>> FindAll(absl::string_view text) const {
    std::vector<std::pair<size_t, size_t>> out;
    if (!code_) {
      if (literal_.empty()) return out;
      size_t pos = 0;
      while ((pos = text.find(literal_, pos)) != absl::string_view::npos) {
        out.emplace_back(pos, pos + literal_.size());
        pos += literal_.size();
      }
      return out;
    }
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code_.get(), nullptr);
    size_t start = 0;
    while (start <= text.size()) {
      int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), start,
                           PCRE2_NO_UTF_CHECK, md, nullptr);
      if (rc < 0) break;
      PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      size_t s = ov[0], e = ov[1];
      if (e == s) {
        // An empty match: step over one character.
        size_t maximal = 1;
        size_t n = s < text.size() ? ValidUtf8At(text, s, &maximal) : 1;
        start = s + (n == 0 ? 1 : n);
        continue;
      }
      out.emplace_back(s, e);
      start = e;
    }
    pcre2_match_data_free(md);
    return out;
  }

  std::string ReplaceAll(absl::string_view text, absl::string_view with) const {
    std::string out;
    size_t prev = 0;
    for (auto [s, e] : FindAll(text)) {
      absl::StrAppend(&out, text.substr(prev, s - prev), with);
      prev = e;
    }
    absl::StrAppend(&out, text.substr(prev));
    return out;
  }

 private:
  std::shared_ptr<pcre2_code> code_;
  std::string literal_;
};

absl::StatusOr<Pattern> ParsePattern(const json& spec, absl::string_view where) {
  if (spec.is_object() && spec.contains("Regex") && spec["Regex"].is_string()) {
    return Pattern::Regex(spec["Regex"].get<std::string>());
  }
  if (spec.is_object() && spec.contains("String") && spec["String"].is_string()) {
    return Pattern::Literal(spec["String"].get<std::string>());
  }
  return absl::InvalidArgumentError(absl::StrCat(where, ": pattern must be {\"Regex\": ...} or {\"String\": ...}"));
}

// ---------------------------------------------------------------------------------------
// Normalizers: text -> text.

using Normalizer = std::function<std::string(std::string)>;

std::string Nfc(const std::string& s, bool compat) {
  utf8proc_uint8_t* out = nullptr;
  int options = UTF8PROC_STABLE | UTF8PROC_COMPOSE | (compat ? UTF8PROC_COMPAT : 0);
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                    static_cast<utf8proc_ssize_t>(s.size()), &out,
                                    static_cast<utf8proc_option_t>(options));
  if (n < 0) return s;
  std::string result(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  std::free(out);
  return result;
}

std::string Lowercase(const std::string& s) {
  std::string out;
  for (const std::string& c : Utf8Chars(s)) {
    AppendUtf8(static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(DecodeCodePoint(c)))), &out);
  }
  return out;
}

absl::StatusOr<Normalizer> ParseNormalizer(const json& spec) {
  if (spec.is_null()) return Normalizer();
  const std::string type = spec.value("type", "");
  if (type == "Sequence") {
    std::vector<Normalizer> steps;
    for (const json& s : spec.value("normalizers", json::array())) {
      CRUCIBLE_ASSIGN_OR_RETURN(Normalizer n, ParseNormalizer(s));
      if (n) steps.push_back(std::move(n));
    }
    if (steps.empty()) return Normalizer();
    return Normalizer([steps](std::string s) {
      for (const Normalizer& n : steps) s = n(std::move(s));
      return s;
    });
  }
  if (type == "NFC") return Normalizer([](std::string s) { return Nfc(s, false); });
  if (type == "NFKC") return Normalizer([](std::string s) { return Nfc(s, true); });
  if (type == "Lowercase") return Normalizer([](std::string s) { return Lowercase(s); });
  if (type == "Prepend") {
    std::string prefix = spec.value("prepend", "");
    return Normalizer([prefix](std::string s) { return s.empty() ? s : prefix + s; });
  }
  if (type == "Replace") {
    CRUCIBLE_ASSIGN_OR_RETURN(Pattern p, ParsePattern(spec["pattern"], "normalizer Replace"));
    std::string content = spec.value("content", "");
    return Normalizer([p, content](std::string s) { return p.ReplaceAll(s, content); });
  }
  if (type == "Strip") {
    bool left = spec.value("strip_left", true), right = spec.value("strip_right", true);
    return Normalizer([left, right](std::string s) {
      std::vector<std::string> chars = Utf8Chars(s);
      size_t b = 0, e = chars.size();
      while (left && b < e && IsUnicodeWhitespace(DecodeCodePoint(chars[b]))) ++b;
      while (right && e > b && IsUnicodeWhitespace(DecodeCodePoint(chars[e - 1]))) --e;
      std::string out;
      for (size_t k = b; k < e; ++k) out += chars[k];
      return out;
    });
  }
  return absl::InvalidArgumentError(absl::StrCat("normalizer \"", type, "\" is not supported"));
}

// ---------------------------------------------------------------------------------------
// Pre-tokenizers: pieces -> pieces.

using Pieces = std::vector<std::string>;
using PreTokenizer = std::function<Pieces(Pieces)>;

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

absl::StatusOr<Behavior> ParseBehavior(const std::string& name) {
  if (name == "Removed") return Behavior::kRemoved;
  if (name == "Isolated") return Behavior::kIsolated;
  if (name == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return Behavior::kMergedWithNext;
  if (name == "Contiguous") return Behavior::kContiguous;
  return absl::InvalidArgumentError(absl::StrCat("split behavior \"", name, "\" is not supported"));
}

// HF's NormalizedString::split: the text as (piece, is_delimiter) spans.
Pieces SplitPiece(const std::string& text, const std::vector<std::pair<size_t, size_t>>& matches,
                  Behavior behavior, bool invert) {
  std::vector<std::pair<std::string, bool>> spans;
  size_t prev = 0;
  for (auto [s, e] : matches) {
    if (prev < s) spans.emplace_back(text.substr(prev, s - prev), invert);
    spans.emplace_back(text.substr(s, e - s), !invert);
    prev = e;
  }
  if (prev < text.size()) spans.emplace_back(text.substr(prev), invert);
  Pieces out;
  switch (behavior) {
    case Behavior::kRemoved:
      for (auto& [p, delim] : spans) {
        if (!delim) out.push_back(p);
      }
      break;
    case Behavior::kIsolated:
      for (auto& [p, delim] : spans) out.push_back(p);
      break;
    case Behavior::kContiguous: {
      bool last_delim = false;
      for (auto& [p, delim] : spans) {
        if (delim && last_delim && !out.empty()) {
          out.back() += p;
        } else {
          out.push_back(p);
        }
        last_delim = delim;
      }
      break;
    }
    case Behavior::kMergedWithPrevious: {
      bool last_delim = false;
      for (auto& [p, delim] : spans) {
        if (delim && !last_delim && !out.empty()) {
          out.back() += p;
        } else {
          out.push_back(p);
        }
        last_delim = delim;
      }
      break;
    }
    case Behavior::kMergedWithNext: {
      bool pending = false;
      for (auto& [p, delim] : spans) {
        if (pending && !out.empty()) {
          out.back() += p;
        } else {
          out.push_back(p);
        }
        pending = delim;
      }
      break;
    }
  }
  out.erase(std::remove_if(out.begin(), out.end(), [](const std::string& s) { return s.empty(); }), out.end());
  return out;
}

PreTokenizer SplitBy(Pattern pattern, Behavior behavior, bool invert) {
  return [pattern, behavior, invert](Pieces in) {
    Pieces out;
    for (const std::string& piece : in) {
      Pieces parts = SplitPiece(piece, pattern.FindAll(piece), behavior, invert);
      out.insert(out.end(), parts.begin(), parts.end());
    }
    return out;
  };
}

constexpr char kGpt2Regex[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

absl::StatusOr<PreTokenizer> ParsePreTokenizer(const json& spec) {
  if (spec.is_null()) return PreTokenizer();
  const std::string type = spec.value("type", "");
  if (type == "Sequence") {
    std::vector<PreTokenizer> steps;
    for (const json& s : spec.value("pretokenizers", json::array())) {
      CRUCIBLE_ASSIGN_OR_RETURN(PreTokenizer p, ParsePreTokenizer(s));
      if (p) steps.push_back(std::move(p));
    }
    return PreTokenizer([steps](Pieces pieces) {
      for (const PreTokenizer& p : steps) pieces = p(std::move(pieces));
      return pieces;
    });
  }
  if (type == "Split") {
    CRUCIBLE_ASSIGN_OR_RETURN(Pattern p, ParsePattern(spec["pattern"], "pre_tokenizer Split"));
    CRUCIBLE_ASSIGN_OR_RETURN(Behavior b, ParseBehavior(spec.value("behavior", "Isolated")));
    return SplitBy(std::move(p), b, spec.value("invert", false));
  }
  if (type == "ByteLevel") {
    const bool prefix = spec.value("add_prefix_space", false);
    const bool use_regex = spec.value("use_regex", true);
    std::optional<Pattern> regex;
    if (use_regex) {
      CRUCIBLE_ASSIGN_OR_RETURN(Pattern p, Pattern::Regex(kGpt2Regex));
      regex = p;
    }
    return PreTokenizer([prefix, regex](Pieces pieces) {
      Pieces out;
      for (std::string& piece : pieces) {
        if (prefix && !absl::StartsWith(piece, " ")) piece = " " + piece;
        Pieces parts = regex ? SplitPiece(piece, regex->FindAll(piece), Behavior::kIsolated, false)
                             : Pieces{piece};
        for (const std::string& part : parts) {
          std::string mapped;
          for (unsigned char c : part) mapped += ByteLevel().byte_to_char[c];
          out.push_back(std::move(mapped));
        }
      }
      return out;
    });
  }
  if (type == "Metaspace") {
    const std::string replacement = spec.value("replacement", "\xE2\x96\x81");
    std::string scheme = spec.value("prepend_scheme", "");
    if (scheme.empty()) scheme = spec.value("add_prefix_space", true) ? "always" : "never";
    const bool split = spec.value("split", true);
    return PreTokenizer([replacement, scheme, split](Pieces pieces) {
      Pieces out;
      for (size_t i = 0; i < pieces.size(); ++i) {
        std::string s = Pattern::Literal(" ").ReplaceAll(pieces[i], replacement);
        if ((scheme == "always" || (scheme == "first" && i == 0)) && !absl::StartsWith(s, replacement)) {
          s = replacement + s;
        }
        if (!split) {
          out.push_back(s);
          continue;
        }
        Pieces parts = SplitPiece(s, Pattern::Literal(replacement).FindAll(s), Behavior::kMergedWithNext, false);
        out.insert(out.end(), parts.begin(), parts.end());
      }
      return out;
    });
  }
  if (type == "Digits") {
    const bool individual = spec.value("individual_digits", false);
    auto pattern = Pattern::Regex(individual ? "\\p{N}" : "\\p{N}+");
    if (!pattern.ok()) return pattern.status();
    return SplitBy(*pattern, individual ? Behavior::kIsolated : Behavior::kContiguous, false);
  }
  return absl::InvalidArgumentError(absl::StrCat("pre_tokenizer \"", type, "\" is not supported"));
}

// ---------------------------------------------------------------------------------------
// Decoders: tokens -> tokens (joined at the end).

using Decoder = std::function<std::vector<std::string>(std::vector<std::string>)>;

bool ParseByteToken(absl::string_view t, uint8_t* byte) {
  if (t.size() != 6 || !absl::StartsWith(t, "<0x") || t.back() != '>') return false;
  int value = 0;
  for (char c : t.substr(3, 2)) {
    value <<= 4;
    if (c >= '0' && c <= '9') value |= c - '0';
    else if (c >= 'A' && c <= 'F') value |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') value |= c - 'a' + 10;
    else return false;
  }
  *byte = static_cast<uint8_t>(value);
  return true;
}

absl::StatusOr<Decoder> ParseDecoder(const json& spec) {
  if (spec.is_null()) return Decoder();
  const std::string type = spec.value("type", "");
  if (type == "Sequence") {
    std::vector<Decoder> steps;
    for (const json& s : spec.value("decoders", json::array())) {
      CRUCIBLE_ASSIGN_OR_RETURN(Decoder d, ParseDecoder(s));
      if (d) steps.push_back(std::move(d));
    }
    return Decoder([steps](std::vector<std::string> tokens) {
      for (const Decoder& d : steps) tokens = d(std::move(tokens));
      return tokens;
    });
  }
  if (type == "ByteLevel") {
    return Decoder([](std::vector<std::string> tokens) {
      std::string bytes;
      for (const std::string& t : tokens) {
        std::string mapped;
        bool all = true;
        for (const std::string& c : Utf8Chars(t)) {
          auto it = ByteLevel().char_to_byte.find(DecodeCodePoint(c));
          if (it == ByteLevel().char_to_byte.end()) {
            all = false;
            break;
          }
          mapped.push_back(static_cast<char>(it->second));
        }
        bytes += all ? mapped : t;
      }
      return std::vector<std::string>{Utf8Lossy(bytes)};
    });
  }
  if (type == "ByteFallback") {
    return Decoder([](std::vector<std::string> tokens) {
      std::vector<std::string> out;
      std::string pending;
      size_t pending_count = 0;
      auto flush = [&]() {
        if (pending_count == 0) return;
        std::string valid = Utf8Lossy(pending);
        if (valid == pending) {
          out.push_back(pending);
        } else {
          for (size_t k = 0; k < pending_count; ++k) out.push_back("\xEF\xBF\xBD");
        }
        pending.clear();
        pending_count = 0;
      };
      for (const std::string& t : tokens) {
        uint8_t byte;
        if (ParseByteToken(t, &byte)) {
          pending.push_back(static_cast<char>(byte));
          ++pending_count;
        } else {
          flush();
          out.push_back(t);
        }
      }
      flush();
      return out;
    });
  }
  if (type == "Fuse") {
    return Decoder([](std::vector<std::string> tokens) {
      std::string all;
      for (const std::string& t : tokens) all += t;
      return std::vector<std::string>{all};
    });
  }
  if (type == "Replace") {
    CRUCIBLE_ASSIGN_OR_RETURN(Pattern p, ParsePattern(spec["pattern"], "decoder Replace"));
    std::string content = spec.value("content", "");
    return Decoder([p, content](std::vector<std::string> tokens) {
      for (std::string& t : tokens) t = p.ReplaceAll(t, content);
      return tokens;
    });
  }
  if (type == "Strip") {
    const std::string content = spec.value("content", " ");
    const int start = spec.value("start", 0), stop = spec.value("stop", 0);
    return Decoder([content, start, stop](std::vector<std::string> tokens) {
      for (std::string& t : tokens) {
        for (int k = 0; k < start && absl::StartsWith(t, content); ++k) t.erase(0, content.size());
        for (int k = 0; k < stop && absl::EndsWith(t, content); ++k) t.resize(t.size() - content.size());
      }
      return tokens;
    });
  }
  if (type == "Metaspace") {
    const std::string replacement = spec.value("replacement", "\xE2\x96\x81");
    std::string scheme = spec.value("prepend_scheme", "");
    if (scheme.empty()) scheme = spec.value("add_prefix_space", true) ? "always" : "never";
    return Decoder([replacement, scheme](std::vector<std::string> tokens) {
      for (size_t i = 0; i < tokens.size(); ++i) {
        tokens[i] = Pattern::Literal(replacement).ReplaceAll(tokens[i], " ");
        if (i == 0 && scheme != "never" && absl::StartsWith(tokens[i], " ")) tokens[i].erase(0, 1);
      }
      return tokens;
    });
  }
  return absl::InvalidArgumentError(absl::StrCat("decoder \"", type, "\" is not supported"));
}

// ---------------------------------------------------------------------------------------
// Added tokens: a trie for leftmost-longest matching.

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
};

class AddedTokenMatcher {
 public:
  void Add(const AddedToken* token) {
    if (token->content.empty()) return;
    int node = 0;
    for (unsigned char c : token->content) {
      auto it = nodes_[node].next.find(c);
      if (it == nodes_[node].next.end()) {
        nodes_[node].next[c] = static_cast<int>(nodes_.size());
        node = static_cast<int>(nodes_.size());
        nodes_.emplace_back();
      } else {
        node = it->second;
      }
    }
    nodes_[node].token = token;
  }
  bool empty() const { return nodes_.size() == 1; }

  // Splits text into (segment, token or nullptr) following HF's AddedVocabulary rules.
  std::vector<std::pair<std::string, const AddedToken*>> Split(const std::string& text) const {
    std::vector<std::pair<std::string, const AddedToken*>> out;
    if (empty()) {
      out.emplace_back(text, nullptr);
      return out;
    }
    size_t prev = 0, i = 0;
    while (i < text.size()) {
      const AddedToken* best = nullptr;
      size_t best_end = 0;
      int node = 0;
      for (size_t k = i; k < text.size(); ++k) {
        auto it = nodes_[node].next.find(static_cast<unsigned char>(text[k]));
        if (it == nodes_[node].next.end()) break;
        node = it->second;
        if (nodes_[node].token != nullptr) {
          best = nodes_[node].token;
          best_end = k + 1;
        }
      }
      if (best != nullptr && best->single_word && !AtWordBoundary(text, i, best_end)) best = nullptr;
      if (best == nullptr) {
        ++i;
        continue;
      }
      size_t start = i, end = best_end;
      if (best->lstrip) {
        while (start > prev && IsAsciiSpace(text[start - 1])) --start;
      }
      if (best->rstrip) {
        while (end < text.size() && IsAsciiSpace(text[end])) ++end;
      }
      if (start > prev) out.emplace_back(text.substr(prev, start - prev), nullptr);
      out.emplace_back(text.substr(start, end - start), best);
      prev = end;
      i = end;
    }
    if (prev < text.size()) out.emplace_back(text.substr(prev), nullptr);
    return out;
  }

 private:
  static bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  static bool IsWordChar(absl::string_view text, size_t pos) {
    unsigned char c = static_cast<unsigned char>(text[pos]);
    return c >= 0x80 || std::isalnum(c) || c == '_';
  }
  static bool AtWordBoundary(absl::string_view text, size_t start, size_t end) {
    return (start == 0 || !IsWordChar(text, start - 1)) && (end == text.size() || !IsWordChar(text, end));
  }
  struct Node {
    std::map<unsigned char, int> next;
    const AddedToken* token = nullptr;
  };
  std::vector<Node> nodes_ = std::vector<Node>(1);
};

}  // namespace

// ---------------------------------------------------------------------------------------

struct BpeTokenizer::Impl {
  absl::flat_hash_map<std::string, int32_t> vocab;
  std::vector<std::string> id_to_token;
  // (left id, right id) -> (rank, merged id)
  absl::flat_hash_map<uint64_t, std::pair<int32_t, int32_t>> merges;
  bool byte_fallback = false;
  bool ignore_merges = false;
  bool fuse_unk = false;
  std::optional<int32_t> unk_id;
  std::vector<AddedToken> added;
  absl::flat_hash_map<int32_t, size_t> added_by_id;
  AddedTokenMatcher raw_matcher, normalized_matcher;
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  Decoder decoder;
  std::vector<int32_t> prefix_ids, suffix_ids;  // post-processor, single sequence

  mutable std::mutex cache_mu;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

  static uint64_t PairKey(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  void EncodeWord(const std::string& word, std::vector<int32_t>* out) const {
    {
      std::lock_guard<std::mutex> lock(cache_mu);
      auto it = cache.find(word);
      if (it != cache.end()) {
        out->insert(out->end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<int32_t> ids = Bpe(word);
    out->insert(out->end(), ids.begin(), ids.end());
    std::lock_guard<std::mutex> lock(cache_mu);
    if (cache.size() > 100000) cache.clear();
    cache.emplace(word, std::move(ids));
  }

  std::vector<int32_t> Bpe(const std::string& word) const {
    if (ignore_merges) {
      auto it = vocab.find(word);
      if (it != vocab.end()) return {it->second};
    }
    struct Symbol {
      int32_t id;
      int prev, next;
      bool alive;
    };
    std::vector<Symbol> symbols;
    bool last_unk = false;
    for (const std::string& c : Utf8Chars(word)) {
      auto it = vocab.find(c);
      if (it != vocab.end()) {
        symbols.push_back({it->second, -1, -1, true});
        last_unk = false;
        continue;
      }
      if (byte_fallback) {
        bool all = true;
        std::vector<int32_t> bytes;
        for (unsigned char b : c) {
          auto bt = vocab.find(absl::StrFormat("<0x%02X>", b));
          if (bt == vocab.end()) {
            all = false;
            break;
          }
          bytes.push_back(bt->second);
        }
        if (all) {
          for (int32_t b : bytes) symbols.push_back({b, -1, -1, true});
          last_unk = false;
          continue;
        }
      }
      if (unk_id.has_value()) {
        if (!(fuse_unk && last_unk)) symbols.push_back({*unk_id, -1, -1, true});
        last_unk = true;
      }
    }
    for (size_t k = 0; k < symbols.size(); ++k) {
      symbols[k].prev = static_cast<int>(k) - 1;
      symbols[k].next = k + 1 < symbols.size() ? static_cast<int>(k + 1) : -1;
    }
    struct Merge {
      int32_t rank;
      int pos;
      int32_t new_id;
      bool operator<(const Merge& o) const {
        return rank != o.rank ? rank > o.rank : pos > o.pos;  // min-heap on (rank, pos)
      }
    };
    std::priority_queue<Merge> queue;
    auto push = [&](int pos) {
      int next = symbols[pos].next;
      if (next < 0) return;
      auto it = merges.find(PairKey(symbols[pos].id, symbols[next].id));
      if (it != merges.end()) queue.push({it->second.first, pos, it->second.second});
    };
    for (size_t k = 0; k + 1 < symbols.size(); ++k) push(static_cast<int>(k));
    while (!queue.empty()) {
      Merge top = queue.top();
      queue.pop();
      Symbol& left = symbols[top.pos];
      if (!left.alive || left.next < 0) continue;
      Symbol& right = symbols[left.next];
      auto it = merges.find(PairKey(left.id, right.id));
      if (it == merges.end() || it->second.second != top.new_id) continue;  // stale
      left.id = top.new_id;
      right.alive = false;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = top.pos;
      if (left.prev >= 0) push(left.prev);
      push(top.pos);
    }
    std::vector<int32_t> ids;
    for (const Symbol& s : symbols) {
      if (s.alive) ids.push_back(s.id);
    }
    return ids;
  }

  void EncodeSegment(const std::string& text, std::vector<int32_t>* out) const {
    Pieces pieces{text};
    if (pre_tokenizer) pieces = pre_tokenizer(std::move(pieces));
    for (const std::string& piece : pieces) EncodeWord(piece, out);
  }
};

BpeTokenizer::BpeTokenizer() : impl_(std::make_unique<Impl>()) {}
BpeTokenizer::~BpeTokenizer() = default;

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::FromFile(const std::string& path) {
  CRUCIBLE_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  CRUCIBLE_ASSIGN_OR_RETURN(std::unique_ptr<BpeTokenizer> tokenizer, FromJson(text, path));
  // Special-token roles live in tokenizer_config.json beside the file, when it exists.
  std::string dir = path.substr(0, path.find_last_of('/') + 1);
  absl::StatusOr<std::string> config_text = ReadFile(dir + "tokenizer_config.json");
  if (config_text.ok()) {
    json config = json::parse(*config_text, nullptr, false);
    auto role = [&](const char* key) -> std::optional<int32_t> {
      if (!config.is_object() || !config.contains(key)) return std::nullopt;
      const json& v = config[key];
      std::string content = v.is_string() ? v.get<std::string>()
                            : v.is_object() ? v.value("content", "") : "";
      if (content.empty()) return std::nullopt;
      return tokenizer->TokenToId(content);
    };
    if (auto id = role("bos_token")) tokenizer->bos_id_ = id;
    if (auto id = role("eos_token")) tokenizer->eos_id_ = id;
    if (auto id = role("pad_token")) tokenizer->pad_id_ = id;
  }
  return tokenizer;
}

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::FromJson(absl::string_view text,
                                                                      absl::string_view source) {
  json root = json::parse(text.begin(), text.end(), nullptr, false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a JSON object"));
  }
  std::unique_ptr<BpeTokenizer> tok(new BpeTokenizer());
  Impl& impl = *tok->impl_;
  auto fail = [&](const absl::Status& s) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", s.message()));
  };
  const json& model = root.value("model", json::object());
  if (model.value("type", "") != "BPE") {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": model.type \"", model.value("type", ""), "\" is not supported (BPE only)"));
  }
  auto nonempty = [&](const char* key) {
    const json v = model.value(key, json());
    return !v.is_null() && !(v.is_string() && v.get<std::string>().empty());
  };
  if (nonempty("continuing_subword_prefix") || nonempty("end_of_word_suffix")) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": model.continuing_subword_prefix/end_of_word_suffix are not supported"));
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": model.vocab missing"));
  }
  int32_t max_id = -1;
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
    int32_t id = it.value().get<int32_t>();
    impl.vocab[it.key()] = id;
    max_id = std::max(max_id, id);
  }
  for (const json& a : root.value("added_tokens", json::array())) {
    max_id = std::max(max_id, a.value("id", 0));
  }
  impl.id_to_token.resize(static_cast<size_t>(max_id + 1));
  for (const auto& [token, id] : impl.vocab) impl.id_to_token[id] = token;
  impl.byte_fallback = model.value("byte_fallback", false);
  impl.ignore_merges = model.value("ignore_merges", false);
  impl.fuse_unk = model.value("fuse_unk", false);
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    auto it = impl.vocab.find(model["unk_token"].get<std::string>());
    if (it != impl.vocab.end()) impl.unk_id = it->second;
  }
  int32_t rank = 0;
  for (const json& m : model.value("merges", json::array())) {
    std::string left, right;
    if (m.is_string()) {
      std::string s = m.get<std::string>();
      size_t space = s.find(' ', 1);
      if (space == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": merge \"", s, "\" has no space"));
      }
      left = s.substr(0, space);
      right = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      return absl::InvalidArgumentError(absl::StrCat(source, ": malformed merge at rank ", rank));
    }
    auto l = impl.vocab.find(left), r = impl.vocab.find(right), merged = impl.vocab.find(left + right);
    if (l == impl.vocab.end() || r == impl.vocab.end() || merged == impl.vocab.end()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": merge \"", left, " ", right,
                                                     "\" uses a token missing from the vocabulary"));
    }
    impl.merges.emplace(Impl::PairKey(l->second, r->second), std::make_pair(rank++, merged->second));
  }
  for (const json& a : root.value("added_tokens", json::array())) {
    AddedToken t;
    t.id = a.value("id", 0);
    t.content = a.value("content", "");
    t.special = a.value("special", false);
    t.single_word = a.value("single_word", false);
    t.lstrip = a.value("lstrip", false);
    t.rstrip = a.value("rstrip", false);
    t.normalized = a.value("normalized", !t.special);
    impl.added.push_back(std::move(t));
  }
  for (size_t k = 0; k < impl.added.size(); ++k) {
    const AddedToken& t = impl.added[k];
    impl.added_by_id[t.id] = k;
    impl.id_to_token[t.id] = t.content;
    (t.normalized ? impl.normalized_matcher : impl.raw_matcher).Add(&impl.added[k]);
  }
  auto normalizer = ParseNormalizer(root.value("normalizer", json()));
  if (!normalizer.ok()) return fail(normalizer.status());
  impl.normalizer = *std::move(normalizer);
  auto pre = ParsePreTokenizer(root.value("pre_tokenizer", json()));
  if (!pre.ok()) return fail(pre.status());
  impl.pre_tokenizer = *std::move(pre);
  auto decoder = ParseDecoder(root.value("decoder", json()));
  if (!decoder.ok()) return fail(decoder.status());
  impl.decoder = *std::move(decoder);

  // Post-processor: the special tokens around a single sequence.
  std::function<absl::Status(const json&)> post = [&](const json& p) -> absl::Status {
    if (p.is_null()) return absl::OkStatus();
    const std::string type = p.value("type", "");
    if (type == "ByteLevel") return absl::OkStatus();
    if (type == "Sequence") {
      for (const json& s : p.value("processors", json::array())) CRUCIBLE_RETURN_IF_ERROR(post(s));
      return absl::OkStatus();
    }
    if (type == "TemplateProcessing") {
      const json& specials = p.value("special_tokens", json::object());
      bool after = false;
      for (const json& piece : p.value("single", json::array())) {
        if (piece.contains("Sequence")) {
          after = true;
          continue;
        }
        if (!piece.contains("SpecialToken")) continue;
        std::string name = piece["SpecialToken"].value("id", "");
        if (!specials.contains(name)) {
          return absl::InvalidArgumentError(absl::StrCat("post_processor: unknown special token \"", name, "\""));
        }
        for (const json& id : specials[name].value("ids", json::array())) {
          (after ? impl.suffix_ids : impl.prefix_ids).push_back(id.get<int32_t>());
        }
      }
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(absl::StrCat("post_processor \"", type, "\" is not supported"));
  };
  if (absl::Status s = post(root.value("post_processor", json())); !s.ok()) return fail(s);
  if (!impl.prefix_ids.empty()) tok->bos_id_ = impl.prefix_ids.front();
  return tok;
}

std::vector<int32_t> BpeTokenizer::Encode(absl::string_view text, bool add_special_tokens) const {
  const Impl& impl = *impl_;
  std::vector<int32_t> ids;
  if (add_special_tokens) ids = impl.prefix_ids;
  for (auto& [segment, token] : impl.raw_matcher.Split(std::string(text))) {
    if (token != nullptr) {
      ids.push_back(token->id);
      continue;
    }
    std::string normalized = impl.normalizer ? impl.normalizer(segment) : segment;
    for (auto& [part, added] : impl.normalized_matcher.Split(normalized)) {
      if (added != nullptr) {
        ids.push_back(added->id);
      } else {
        impl.EncodeSegment(part, &ids);
      }
    }
  }
  if (add_special_tokens) ids.insert(ids.end(), impl.suffix_ids.begin(), impl.suffix_ids.end());
  return ids;
}

std::string BpeTokenizer::Decode(absl::Span<const int32_t> ids, bool skip_special_tokens) const {
  const Impl& impl = *impl_;
  std::vector<std::string> tokens;
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= impl.id_to_token.size()) continue;
    if (skip_special_tokens && IsSpecial(id)) continue;
    tokens.push_back(impl.id_to_token[id]);
  }
  if (impl.decoder) tokens = impl.decoder(std::move(tokens));
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

int32_t BpeTokenizer::vocab_size() const { return static_cast<int32_t>(impl_->id_to_token.size()); }

std::optional<int32_t> BpeTokenizer::TokenToId(absl::string_view token) const {
  for (const AddedToken& t : impl_->added) {
    if (t.content == token) return t.id;
  }
  auto it = impl_->vocab.find(std::string(token));
  if (it == impl_->vocab.end()) return std::nullopt;
  return it->second;
}

bool BpeTokenizer::IsSpecial(int32_t id) const {
  auto it = impl_->added_by_id.find(id);
  return it != impl_->added_by_id.end() && impl_->added[it->second].special;
}

// ---------------------------------------------------------------------------------------

std::vector<int32_t> ByteTokenizer::Encode(absl::string_view text, bool add_special_tokens) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() + 1);
  if (add_special_tokens) ids.push_back(kBos);
  for (unsigned char c : text) ids.push_back(c);
  return ids;
}

std::string ByteTokenizer::Decode(absl::Span<const int32_t> ids, bool skip_special_tokens) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (id >= 0 && id < 256) {
      bytes.push_back(static_cast<char>(id));
    } else if (!skip_special_tokens && id >= 256 && id < kVocab) {
      bytes += id == kBos ? "<bos>" : id == kEos ? "<eos>" : "<pad>";
    }
  }
  return Utf8Lossy(bytes);
}

std::optional<int32_t> ByteTokenizer::TokenToId(absl::string_view token) const {
  if (token == "<bos>") return kBos;
  if (token == "<eos>") return kEos;
  if (token == "<pad>") return kPad;
  if (token.size() == 1) return static_cast<unsigned char>(token[0]);
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& path_or_bytes) {
  if (path_or_bytes == "bytes") return std::unique_ptr<Tokenizer>(new ByteTokenizer());
  CRUCIBLE_ASSIGN_OR_RETURN(std::unique_ptr<BpeTokenizer> bpe, BpeTokenizer::FromFile(path_or_bytes));
  return std::unique_ptr<Tokenizer>(std::move(bpe));
}

}  // namespace crucible
