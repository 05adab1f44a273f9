// The run report: report.png is a valid PNG (every chunk's CRC checks, IDAT inflates to the
// scanlines) showing each series in the colour report.html declares for it; report.html
// carries its data as JSON that parses back and escapes hostile text; the run directory
// reader skips a line still being written and names the file and line of a bad one; and,
// where chromium is installed, the page's JavaScript really draws one polyline vertex per
// data point.
#include "cli/run_report.h"

#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <regex>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "tests/support/skip.h"

namespace crucible::cli {
namespace {

using nlohmann::json;

// Seven steps. Step 3 lacks reward_mean and step 5's is null, so reward has five points;
// pass_rate has all seven; kl has five (null at step 2, absent at step 6).
std::vector<json> SevenSteps() {
  std::vector<json> steps;
  for (int step = 1; step <= 7; ++step) {
    json line = {{"step", step},
                 {"reward_mean", 0.1 * step},
                 {"pass_rate", 0.05 * step},
                 {"kl", 0.001 * step}};
    if (step == 3) line.erase("reward_mean");
    if (step == 5) line["reward_mean"] = nullptr;
    if (step == 2) line["kl"] = nullptr;
    if (step == 6) line.erase("kl");
    steps.push_back(line);
  }
  return steps;
}

// Three held-out points, two of them with pass@5.
std::vector<HeldoutPoint> ThreeHeldout() {
  return {{0, 0.10, 0.30, "base"}, {4, 0.20, std::nullopt, "step 4"}, {7, 0.25, 0.50, "final"}};
}

RunReportInput FullInput() {
  return {"run-1", SevenSteps(), ThreeHeldout(), json{{"pass@1", 0.25}, {"problems", 164}}};
}

// ---------------------------------------------------------------------------------------
// A PNG reader for the encoder's own output: RGB, 8 bits, no interlace.

uint32_t BigEndian32(const std::string& bytes, size_t at) {
  REQUIRE(at + 4 <= bytes.size());
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[at + i]);
  return v;
}

struct DecodedPng {
  uint32_t width = 0, height = 0;
  std::map<std::tuple<int, int, int>, int> colours;  // pixel counts by RGB
};

DecodedPng DecodePng(const std::string& png) {
  REQUIRE(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  DecodedPng out;
  std::string idat;
  std::vector<std::string> types;
  for (size_t at = 8; at < png.size();) {
    const uint32_t length = BigEndian32(png, at);
    REQUIRE(at + 12 + length <= png.size());
    const std::string type = png.substr(at + 4, 4);
    const std::string data = png.substr(at + 8, length);
    const std::string body = type + data;
    const uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(body.data()),
                            static_cast<uInt>(body.size()));
    INFO("chunk " << type);
    CHECK(BigEndian32(png, at + 8 + length) == crc);
    if (type == "IHDR") {
      REQUIRE(length == 13);
      out.width = BigEndian32(data, 0);
      out.height = BigEndian32(data, 4);
      CHECK(data.substr(8) == std::string("\x08\x02\x00\x00\x00", 5));  // RGB, 8 bits
    }
    if (type == "IDAT") idat += data;
    types.push_back(type);
    at += 12 + length;
  }
  REQUIRE(types.size() >= 3);
  CHECK(types.front() == "IHDR");
  CHECK(types.back() == "IEND");

  const size_t row_bytes = 1 + 3 * static_cast<size_t>(out.width);
  std::string raw(out.height * row_bytes, '\0');
  uLongf raw_size = raw.size();
  REQUIRE(uncompress(reinterpret_cast<Bytef*>(raw.data()), &raw_size,
                     reinterpret_cast<const Bytef*>(idat.data()), idat.size()) == Z_OK);
  REQUIRE(raw_size == out.height * row_bytes);
  for (size_t y = 0; y < out.height; ++y) {
    const uint8_t* row = reinterpret_cast<const uint8_t*>(raw.data()) + y * row_bytes;
    REQUIRE(row[0] == 0);  // filter type 0
    for (size_t x = 0; x < out.width; ++x) {
      ++out.colours[{row[1 + 3 * x], row[2 + 3 * x], row[3 + 3 * x]}];
    }
  }
  return out;
}

int NonWhite(const DecodedPng& png) {
  int n = 0;
  for (const auto& [rgb, count] : png.colours) {
    if (rgb != std::make_tuple(255, 255, 255)) n += count;
  }
  return n;
}

// ---------------------------------------------------------------------------------------
// The HTML's data blob.

json BlobOf(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"report-data\">";
  const size_t begin = html.find(open);
  REQUIRE(begin != std::string::npos);
  const size_t end = html.find("</script>", begin);
  REQUIRE(end != std::string::npos);
  return json::parse(html.substr(begin + open.size(), end - begin - open.size()));
}

// name -> (colour "#rrggbb", points) for every series of every panel.
std::map<std::string, std::pair<std::string, size_t>> SeriesOf(const json& blob) {
  std::map<std::string, std::pair<std::string, size_t>> out;
  for (const json& panel : blob.at("panels")) {
    for (const json& s : panel.at("series")) {
      out[s.at("name")] = {s.at("colour"), s.at("points").size()};
    }
  }
  return out;
}

std::tuple<int, int, int> ParseColour(const std::string& css) {
  REQUIRE(css.size() == 7);
  const int v = std::stoi(css.substr(1), nullptr, 16);
  return {(v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff};
}

// ---------------------------------------------------------------------------------------
// PNG.

TEST_CASE("report: the PNG is valid and shows every series in its colour", "[report]") {
  const RunReportInput input = FullInput();
  absl::StatusOr<std::string> png = RenderReportPng(input, 1000, 700);
  INFO(png.status().ToString());
  REQUIRE(png.ok());
  const DecodedPng decoded = DecodePng(*png);
  CHECK(decoded.width == 1000);
  CHECK(decoded.height == 700);
  CHECK(NonWhite(decoded) > 1000);

  const auto series = SeriesOf(BlobOf(RenderReportHtml(input)));
  REQUIRE(series.size() == 5);
  for (const auto& [name, colour_and_points] : series) {
    INFO(name << " " << colour_and_points.first);
    // Far more than the legend's label alone (at most 100 pixels at this size): the line and
    // its marks.
    const auto it = decoded.colours.find(ParseColour(colour_and_points.first));
    REQUIRE(it != decoded.colours.end());
    CHECK(it->second > 300);
  }
}

TEST_CASE("report: a PNG with no data still renders, without any series' colour", "[report]") {
  const auto series = SeriesOf(BlobOf(RenderReportHtml(FullInput())));
  absl::StatusOr<std::string> png = RenderReportPng(RunReportInput{"empty", {}, {}, nullptr});
  INFO(png.status().ToString());
  REQUIRE(png.ok());
  const DecodedPng decoded = DecodePng(*png);
  CHECK(decoded.width == 1200);
  CHECK(decoded.height == 800);
  CHECK(NonWhite(decoded) > 100);  // the title, the frames and "no data"
  for (const auto& [name, colour_and_points] : series) {
    INFO(name);
    CHECK(decoded.colours.count(ParseColour(colour_and_points.first)) == 0);
  }
}

TEST_CASE("report: values too large or not finite are skipped, not drawn", "[report]") {
  RunReportInput input = FullInput();
  input.steps.push_back({{"step", 8}, {"reward_mean", 1e300}, {"pass_rate", -1e300}});
  input.steps.push_back({{"step", 1e300}, {"kl", 0.5}});
  input.heldout.push_back({9, std::nan(""), std::numeric_limits<double>::infinity(), "bad"});
  const auto series = SeriesOf(BlobOf(RenderReportHtml(input)));
  CHECK(series.at("reward_mean").second == 5);
  CHECK(series.at("pass_rate").second == 7);
  CHECK(series.at("kl").second == 5);
  CHECK(series.at("heldout_pass_at_1").second == 3);
  CHECK(series.at("heldout_pass_at_5").second == 2);
  absl::StatusOr<std::string> png = RenderReportPng(input);
  REQUIRE(png.ok());
  CHECK(DecodePng(*png).width == 1200);
}

TEST_CASE("report: RenderReportPng refuses a size it cannot lay out", "[report]") {
  CHECK(RenderReportPng(FullInput(), 10, 10).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(RenderReportPng(FullInput(), 100000, 800).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------
// HTML.

TEST_CASE("report: the HTML's data blob parses back to the input's points", "[report]") {
  const RunReportInput input = FullInput();
  const json blob = BlobOf(RenderReportHtml(input));
  CHECK(blob.at("title") == "run-1");
  CHECK(blob.at("summary") == input.summary);
  const auto series = SeriesOf(blob);
  CHECK(series.at("reward_mean").second == 5);
  CHECK(series.at("pass_rate").second == 7);
  CHECK(series.at("kl").second == 5);
  CHECK(series.at("heldout_pass_at_1").second == 3);
  CHECK(series.at("heldout_pass_at_5").second == 2);
  // Step 4's reward: the third point, after steps 1 and 2.
  const json& reward = blob.at("panels").at(0).at("series").at(0);
  CHECK(reward.at("points").at(2) == json::array({4, 0.4}));
  const json& heldout = blob.at("panels").at(3).at("series").at(1);
  CHECK(heldout.at("point_labels") == json::array({"base", "final"}));
}

TEST_CASE("report: hostile text in the title and summary stays text", "[report]") {
  const std::string hostile = "</script><script>alert(1)</script> \"quoted\" & 'single' <b>";
  RunReportInput input = FullInput();
  input.title = hostile;
  input.summary = {{"note", hostile}, {hostile, 1}};
  const std::string html = RenderReportHtml(input);
  const json blob = BlobOf(html);
  CHECK(blob.at("title") == hostile);
  CHECK(blob.at("summary") == input.summary);

  // Exactly the page's two scripts close.
  CHECK(std::vector<std::string>(absl::StrSplit(html, "</script>")).size() == 3);
  CHECK_FALSE(absl::StrContains(html, "alert(1)</script>"));
  CHECK_FALSE(absl::StrContains(html, "<script>alert"));
  CHECK_FALSE(absl::StrContains(html, "<b>"));
  CHECK_FALSE(absl::StrContains(html, "\"quoted\""));
  CHECK_FALSE(absl::StrContains(html, "& 'single'"));
  // The title (twice) and the summary's value and key, HTML-escaped.
  const std::string escaped =
      "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot; &amp; "
      "&#39;single&#39; &lt;b&gt;";
  CHECK(std::vector<std::string>(absl::StrSplit(html, escaped)).size() == 5);
  // In the data blob, JSON escapes with nothing markup-like left.
  CHECK(absl::StrContains(html, "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)"));
  CHECK(absl::StrContains(html, "\\\"quoted\\\" \\u0026 'single'"));
}

// ---------------------------------------------------------------------------------------
// Reading a run directory.

ScopedTempDir TempDir() {
  absl::StatusOr<ScopedTempDir> dir = ScopedTempDir::Create(TempRoot(), "run_report_test_");
  REQUIRE(dir.ok());
  return std::move(*dir);
}

void Write(const std::string& path, const std::string& text) {
  REQUIRE(WriteFile(path, text).ok());
}

TEST_CASE("report: a run directory with none of the files reads as empty", "[report]") {
  ScopedTempDir dir = TempDir();
  absl::StatusOr<RunReportInput> input = ReadRunReportInput(dir.path());
  INFO(input.status().ToString());
  REQUIRE(input.ok());
  CHECK(input->steps.empty());
  CHECK(input->heldout.empty());
  CHECK(input->summary.is_null());
  CHECK(absl::StartsWith(input->title, "run_report_test_"));  // the directory's name
}

TEST_CASE("report: the run directory's files are read, a line being written skipped", "[report]") {
  ScopedTempDir dir = TempDir();
  Write(dir.path() + "/run_id", "run-42\n");
  Write(dir.path() + "/metrics.jsonl",
        "{\"step\": 1, \"reward_mean\": 0.5}\n\n{\"step\": 2, \"reward_mean\": null}\n"
        "{\"step\": 3, \"rew");
  Write(dir.path() + "/eval_curve.jsonl",
        "{\"step\": 0, \"label\": \"base\", \"pass@1\": 0.1, \"pass@5\": 0.3}\n"
        "{\"step\": 3, \"pass@1\": 0.2, \"pass@5\": null}\n");
  Write(dir.path() + "/eval.json", "{\"pass@1\": 0.2, \"samples\": 10}");
  absl::StatusOr<RunReportInput> input = ReadRunReportInput(dir.path());
  INFO(input.status().ToString());
  REQUIRE(input.ok());
  CHECK(input->title == "run-42");
  REQUIRE(input->steps.size() == 2);
  CHECK(input->steps[1].at("step") == 2);
  REQUIRE(input->heldout.size() == 2);
  CHECK(input->heldout[0].label == "base");
  CHECK(input->heldout[0].pass_at_5 == 0.3);
  CHECK(input->heldout[1].step == 3);
  CHECK(input->heldout[1].label == "step 3");
  CHECK_FALSE(input->heldout[1].pass_at_5.has_value());
  CHECK(input->summary == json{{"pass@1", 0.2}, {"samples", 10}});
}

std::string ReadError(const std::string& file, const std::string& text) {
  ScopedTempDir dir = TempDir();
  Write(dir.path() + "/" + file, text);
  absl::StatusOr<RunReportInput> input = ReadRunReportInput(dir.path());
  REQUIRE_FALSE(input.ok());
  CHECK(input.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(input.status().message());
}

TEST_CASE("report: a bad line is an error naming the file and line", "[report]") {
  const std::string middle =
      ReadError("metrics.jsonl", "{\"step\": 1}\n{\"step\": 2,,}\n{\"step\": 3}\n");
  CHECK_THAT(middle, Catch::Contains("metrics.jsonl:2: invalid JSON"));
  // A bad last line that has its newline was written whole: an error, not skipped.
  CHECK_THAT(ReadError("metrics.jsonl", "{\"step\": 1}\n{\"step\n"),
             Catch::Contains("metrics.jsonl:2: invalid JSON"));
  CHECK_THAT(ReadError("metrics.jsonl", "[1, 2]\n"),
             Catch::Contains("metrics.jsonl:1: expected a JSON object, got an array"));
  CHECK_THAT(ReadError("eval_curve.jsonl", "{\"step\": 1, \"pass@1\": 0.5}\n{\"step\": 2}\n"),
             Catch::Contains("eval_curve.jsonl:2: pass@1: missing"));
  CHECK_THAT(ReadError("eval_curve.jsonl", "{\"step\": \"two\", \"pass@1\": 0.5}\n"),
             Catch::Contains("eval_curve.jsonl:1: step: expected an integer, got a string"));
  CHECK_THAT(ReadError("eval.json", "{\"pass@1\": "), Catch::Contains("eval.json: invalid JSON"));
}

TEST_CASE("report: WriteRunReport writes report.html and report.png", "[report]") {
  ScopedTempDir dir = TempDir();
  Write(dir.path() + "/metrics.jsonl", "{\"step\": 1, \"reward_mean\": 0.5}\n");
  REQUIRE(WriteRunReport(dir.path()).ok());
  absl::StatusOr<std::string> html = ReadFile(dir.path() + "/report.html");
  absl::StatusOr<std::string> png = ReadFile(dir.path() + "/report.png");
  REQUIRE(html.ok());
  REQUIRE(png.ok());
  CHECK(SeriesOf(BlobOf(*html)).at("reward_mean").second == 1);
  CHECK(DecodePng(*png).width == 1200);
}

// ---------------------------------------------------------------------------------------
// The page in a real browser. These come last in the file: a skip ends the test process
// (tests/support/skip.h).

// chromium's path on PATH; skips the test when it is not installed.
std::string Chromium() {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "", ':')) {
    const std::string candidate = absl::StrCat(dir, "/chromium");
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  testing::Skip("chromium is not on PATH (Debian package chromium; scripts/setup.sh installs it)");
}

// run_dir/report.html's DOM after its scripts ran. A profile directory of its own keeps the
// browser away from $HOME; root needs --no-sandbox.
std::string DumpDom(const std::string& chromium, const std::string& run_dir) {
  absl::StatusOr<ProcessResult> run =
      RunProcess({chromium, "--headless", "--no-sandbox", "--disable-gpu",
                  "--user-data-dir=" + run_dir + "/chromium-profile", "--dump-dom",
                  "file://" + run_dir + "/report.html"},
                 "", std::chrono::seconds(60));
  REQUIRE(run.ok());
  INFO("chromium stderr: " << run->stderr_data);
  REQUIRE_FALSE(run->timed_out);
  REQUIRE(run->exit_code == 0);
  return run->stdout_data;
}

// data-series -> the number of vertices in its polyline's points attribute.
std::map<std::string, size_t> PolylineVertices(const std::string& dom) {
  std::map<std::string, size_t> out;
  const std::regex polyline("<polyline[^>]*>");
  const std::regex series("data-series=\"([^\"]*)\"");
  const std::regex points("points=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), polyline);
       it != std::sregex_iterator(); ++it) {
    const std::string tag = it->str();
    std::smatch name, vertices;
    REQUIRE(std::regex_search(tag, name, series));
    REQUIRE(std::regex_search(tag, vertices, points));
    const std::vector<std::string> pairs =
        absl::StrSplit(vertices[1].str(), ' ', absl::SkipEmpty());
    out[name[1]] = pairs.size();
  }
  return out;
}

TEST_CASE("report: headless chromium draws one polyline vertex per data point",
          "[report][chromium]") {
  const std::string chromium = Chromium();
  ScopedTempDir dir = TempDir();
  std::string metrics;
  for (const json& line : SevenSteps()) absl::StrAppend(&metrics, line.dump(), "\n");
  Write(dir.path() + "/metrics.jsonl", metrics);
  Write(dir.path() + "/eval_curve.jsonl",
        "{\"step\": 0, \"label\": \"base\", \"pass@1\": 0.1, \"pass@5\": 0.3}\n"
        "{\"step\": 4, \"pass@1\": 0.2}\n"
        "{\"step\": 7, \"label\": \"final\", \"pass@1\": 0.25, \"pass@5\": 0.5}\n");
  REQUIRE(WriteRunReport(dir.path()).ok());
  absl::StatusOr<std::string> html = ReadFile(dir.path() + "/report.html");
  REQUIRE(html.ok());
  CHECK_FALSE(absl::StrContains(*html, "<polyline"));  // only the script draws them

  const std::map<std::string, size_t> expected = {{"reward_mean", 5},
                                                  {"pass_rate", 7},
                                                  {"kl", 5},
                                                  {"heldout_pass_at_1", 3},
                                                  {"heldout_pass_at_5", 2}};
  CHECK(PolylineVertices(DumpDom(chromium, dir.path())) == expected);
}

TEST_CASE("report: headless chromium shows \"no data\" in each empty panel", "[report][chromium]") {
  const std::string chromium = Chromium();
  ScopedTempDir dir = TempDir();
  Write(dir.path() + "/metrics.jsonl", "{\"step\": 1, \"reward_mean\": 0.5, \"kl\": null}\n");
  REQUIRE(WriteRunReport(dir.path()).ok());
  const std::string dom = DumpDom(chromium, dir.path());
  CHECK(PolylineVertices(dom) == std::map<std::string, size_t>{{"reward_mean", 1}});
  // Pass rate, KL and held-out have no points.
  const std::regex no_data("<text[^>]*class=\"no-data\"[^>]*>no data</text>");
  CHECK(std::distance(std::sregex_iterator(dom.begin(), dom.end(), no_data),
                      std::sregex_iterator()) == 3);
}

}  // namespace
}  // namespace crucible::cli
