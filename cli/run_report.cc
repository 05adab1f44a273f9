#include "cli/run_report.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/files.h"
#include "common/json_errors.h"
#include "common/status_macros.h"

namespace crucible::cli {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------
// The panels: what both renderings draw.

struct Rgb {
  uint8_t r, g, b;
};

struct Point {
  double x, y;
};

struct Series {
  std::string name;   // data-series in the HTML
  std::string label;  // the legend
  Rgb colour;
  std::vector<Point> points;
  std::vector<std::string> point_labels;  // held-out points only: "base", "final"
};

struct Panel {
  std::string title;
  bool unit_range;  // a rate: the y axis spans at least [0, 1]
  std::vector<Series> series;
};

constexpr Rgb kRewardColour{31, 119, 180};
constexpr Rgb kPassColour{44, 160, 44};
constexpr Rgb kKlColour{214, 39, 40};
constexpr Rgb kPassAt1Colour{148, 103, 189};
constexpr Rgb kPassAt5Colour{255, 127, 14};

// Beyond this magnitude a panel's range, or a fifth of it, could overflow a double and the
// axis arithmetic would produce NaN pixel positions; such points (and infinities, which a
// JSON parser may make of 1e999) are skipped like absent ones.
constexpr double kPlottableMax = 1e150;

bool Plottable(double v) { return std::isfinite(v) && std::abs(v) <= kPlottableMax; }

// Whether the point was kept.
bool AddPoint(Series& s, double x, double y) {
  if (!Plottable(x) || !Plottable(y)) return false;
  s.points.push_back({x, y});
  return true;
}

// The value at `key` when it is a number; absent, null and anything else are skipped.
std::optional<double> NumberAt(const json& line, const char* key) {
  if (!line.is_object()) return std::nullopt;
  auto it = line.find(key);
  if (it == line.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

Series MetricSeries(const std::vector<json>& steps, const char* key, std::string label,
                    Rgb colour) {
  Series s{key, std::move(label), colour, {}, {}};
  for (const json& line : steps) {
    std::optional<double> step = NumberAt(line, "step");
    std::optional<double> value = NumberAt(line, key);
    if (step && value) AddPoint(s, *step, *value);
  }
  return s;
}

Panel HeldoutPanel(const std::vector<HeldoutPoint>& heldout) {
  Series at1{"heldout_pass_at_1", "pass@1", kPassAt1Colour, {}, {}};
  Series at5{"heldout_pass_at_5", "pass@5", kPassAt5Colour, {}, {}};
  for (const HeldoutPoint& p : heldout) {
    const double x = static_cast<double>(p.step);
    if (AddPoint(at1, x, p.pass_at_1)) at1.point_labels.push_back(p.label);
    if (p.pass_at_5 && AddPoint(at5, x, *p.pass_at_5)) at5.point_labels.push_back(p.label);
  }
  Panel panel{"Held-out pass@k", true, {std::move(at1)}};
  if (!at5.points.empty()) panel.series.push_back(std::move(at5));
  return panel;
}

std::vector<Panel> BuildPanels(const RunReportInput& input) {
  std::vector<Panel> panels;
  panels.push_back(
      {"Reward mean", false, {MetricSeries(input.steps, "reward_mean", "reward", kRewardColour)}});
  panels.push_back(
      {"Pass rate", true, {MetricSeries(input.steps, "pass_rate", "pass rate", kPassColour)}});
  panels.push_back({"KL", false, {MetricSeries(input.steps, "kl", "kl", kKlColour)}});
  panels.push_back(HeldoutPanel(input.heldout));
  return panels;
}

bool HasData(const Panel& panel) {
  return std::any_of(panel.series.begin(), panel.series.end(),
                     [](const Series& s) { return !s.points.empty(); });
}

// A "nice" axis: 1, 2 or 5 times a power of ten between ticks (and at least min_step: steps
// are whole numbers), about five ticks, the ends on ticks. The page's JavaScript (niceAxis)
// computes the same axis, so both renderings agree.
struct Axis {
  double lo, hi, step;
  int decimals;  // enough to tell the ticks apart
};

Axis NiceAxis(double lo, double hi, double min_step) {
  if (hi - lo <= 1e-12 * std::max(1.0, std::abs(hi))) {
    const double pad = std::max(std::abs(lo) * 0.1, 0.5);
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / magnitude;
  const double step = std::max(min_step, (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * magnitude);
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  return {std::floor(lo / step + 1e-9) * step, std::ceil(hi / step - 1e-9) * step, step, decimals};
}

// Tick values as multiples of the step, so zero prints as "0" and not "-0.0".
std::vector<double> Ticks(const Axis& axis) {
  const int64_t first = std::llround(axis.lo / axis.step);
  const int64_t count = std::llround((axis.hi - axis.lo) / axis.step);
  std::vector<double> ticks;
  for (int64_t i = 0; i <= count; ++i) ticks.push_back(static_cast<double>(first + i) * axis.step);
  return ticks;
}

std::string TickLabel(double value, const Axis& axis) {
  return absl::StrFormat("%.*f", axis.decimals, value);
}

struct Axes {
  Axis x, y;
};

Axes AxesFor(const Panel& panel) {
  double x_lo = INFINITY, x_hi = -INFINITY;
  double y_lo = panel.unit_range ? 0.0 : INFINITY, y_hi = panel.unit_range ? 1.0 : -INFINITY;
  for (const Series& s : panel.series) {
    for (const Point& p : s.points) {
      x_lo = std::min(x_lo, p.x);
      x_hi = std::max(x_hi, p.x);
      y_lo = std::min(y_lo, p.y);
      y_hi = std::max(y_hi, p.y);
    }
  }
  return {NiceAxis(x_lo, x_hi, 1), NiceAxis(y_lo, y_hi, 0)};
}

// ---------------------------------------------------------------------------------------
// Reading a run directory.

absl::StatusOr<json> ParseObject(absl::string_view text, absl::string_view where) {
  json value;
  try {
    value = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": invalid JSON: ", e.what()));
  }
  if (!value.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expected a JSON object, got ", JsonTypeName(value)));
  }
  return value;
}

// The file's contents, or nullopt when it does not exist.
absl::StatusOr<std::optional<std::string>> ReadOptionalFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (absl::IsNotFound(text.status())) return std::nullopt;
  if (!text.ok()) return text.status();
  return std::optional<std::string>(std::move(*text));
}

struct JsonLine {
  std::string where;  // "<path>:<line number>"
  json object;
};

// One object per non-blank line. The writer appends whole lines, so a last line without its
// newline that does not parse is one being written: it is skipped, not an error.
absl::StatusOr<std::vector<JsonLine>> ReadJsonLines(const std::string& path) {
  CRUCIBLE_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadOptionalFile(path));
  std::vector<JsonLine> lines;
  if (!text) return lines;
  const std::vector<absl::string_view> raw_lines = absl::StrSplit(*text, '\n');
  for (size_t i = 0; i < raw_lines.size(); ++i) {
    const absl::string_view line = absl::StripAsciiWhitespace(raw_lines[i]);
    if (line.empty()) continue;
    const bool unterminated = i + 1 == raw_lines.size();
    if (unterminated && !json::accept(line.begin(), line.end())) break;
    std::string where = absl::StrCat(path, ":", i + 1);
    CRUCIBLE_ASSIGN_OR_RETURN(json object, ParseObject(line, where));
    lines.push_back({std::move(where), std::move(object)});
  }
  return lines;
}

absl::StatusOr<std::vector<json>> ReadMetrics(const std::string& path) {
  CRUCIBLE_ASSIGN_OR_RETURN(std::vector<JsonLine> lines, ReadJsonLines(path));
  std::vector<json> steps;
  for (JsonLine& line : lines) steps.push_back(std::move(line.object));
  return steps;
}

// The key's value, or nullptr when it is absent or null.
const json* Field(const json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

absl::StatusOr<HeldoutPoint> ParseHeldoutPoint(const json& line, const std::string& where) {
  const json* step = Field(line, "step");
  const json* pass_at_1 = Field(line, "pass@1");
  const json* pass_at_5 = Field(line, "pass@5");
  const json* label = Field(line, "label");
  if (step == nullptr) return JsonFieldError(where, "step", "missing");
  if (!step->is_number_integer()) return JsonTypeError(where, "step", "an integer", *step);
  if (pass_at_1 == nullptr) return JsonFieldError(where, "pass@1", "missing");
  if (!pass_at_1->is_number()) return JsonTypeError(where, "pass@1", "a number", *pass_at_1);
  if (pass_at_5 != nullptr && !pass_at_5->is_number()) {
    return JsonTypeError(where, "pass@5", "a number or null", *pass_at_5);
  }
  if (label != nullptr && !label->is_string()) {
    return JsonTypeError(where, "label", "a string", *label);
  }
  HeldoutPoint p;
  p.step = step->get<int64_t>();
  p.pass_at_1 = pass_at_1->get<double>();
  if (pass_at_5 != nullptr) p.pass_at_5 = pass_at_5->get<double>();
  p.label = label != nullptr ? label->get<std::string>() : absl::StrCat("step ", p.step);
  return p;
}

absl::StatusOr<std::vector<HeldoutPoint>> ReadHeldout(const std::string& path) {
  CRUCIBLE_ASSIGN_OR_RETURN(std::vector<JsonLine> lines, ReadJsonLines(path));
  std::vector<HeldoutPoint> points;
  for (const JsonLine& line : lines) {
    CRUCIBLE_ASSIGN_OR_RETURN(HeldoutPoint p, ParseHeldoutPoint(line.object, line.where));
    points.push_back(std::move(p));
  }
  return points;
}

absl::StatusOr<std::string> ReadTitle(const std::string& run_dir) {
  CRUCIBLE_ASSIGN_OR_RETURN(std::optional<std::string> id, ReadOptionalFile(run_dir + "/run_id"));
  if (id && !absl::StripAsciiWhitespace(*id).empty()) {
    return std::string(absl::StripAsciiWhitespace(*id));
  }
  absl::string_view dir = run_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  const size_t slash = dir.rfind('/');
  return std::string(slash == absl::string_view::npos ? dir : dir.substr(slash + 1));
}

// ---------------------------------------------------------------------------------------
// HTML.

// Invalid UTF-8 in a title or summary becomes U+FFFD instead of an exception.
std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string HtmlEscape(absl::string_view text) {
  return absl::StrReplaceAll(
      text, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"}});
}

std::string CssColour(Rgb c) { return absl::StrFormat("#%02x%02x%02x", c.r, c.g, c.b); }

json PanelsJson(const std::vector<Panel>& panels) {
  json out = json::array();
  for (const Panel& panel : panels) {
    json series = json::array();
    for (const Series& s : panel.series) {
      json points = json::array();
      for (const Point& p : s.points) points.push_back({p.x, p.y});
      series.push_back({{"name", s.name},
                        {"label", s.label},
                        {"colour", CssColour(s.colour)},
                        {"points", std::move(points)},
                        {"point_labels", s.point_labels}});
    }
    out.push_back(
        {{"title", panel.title}, {"unit_range", panel.unit_range}, {"series", std::move(series)}});
  }
  return out;
}

// JSON inside <script> ends at the first "</script". "<", ">" and "&" appear in JSON only
// inside strings, where \u003c, \u003e and \u0026 mean the same, so escaping them closes the
// way out and leaves no markup-like text in the page at all.
std::string ScriptSafeJson(const json& value) {
  return absl::StrReplaceAll(Dump(value), {{"<", "\\u003c"}, {">", "\\u003e"}, {"&", "\\u0026"}});
}

std::string SummaryTable(const json& summary) {
  if (summary.is_null()) return "<p>No summary (eval.json).</p>\n";
  std::string rows;
  auto add_row = [&rows](absl::string_view key, const json& value) {
    const std::string text = value.is_string() ? value.get<std::string>() : Dump(value);
    absl::StrAppend(&rows, "<tr><th>", HtmlEscape(key), "</th><td>", HtmlEscape(text),
                    "</td></tr>\n");
  };
  if (summary.is_object()) {
    for (const auto& [key, value] : summary.items()) add_row(key, value);
  } else {
    add_row("summary", summary);
  }
  return absl::StrCat("<table class=\"summary\">\n", rows, "</table>\n");
}

constexpr char kStyle[] = R"css(
body { font-family: sans-serif; margin: 1.5em; color: #141414; }
.panels { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; }
figcaption { font-weight: bold; margin-bottom: 0.3em; }
svg { background: #fff; border: 1px solid #ddd; }
svg text { font-size: 11px; fill: #3c3c3c; }
table.summary { border-collapse: collapse; margin-top: 1.5em; }
table.summary th, table.summary td { border: 1px solid #ccc; padding: 0.2em 0.6em;
  text-align: left; font-family: monospace; }
)css";

// Draws each panel of the data blob into its <svg id="panel-N">. Text goes in through
// textContent and attributes through setAttribute, never as markup.
constexpr char kScript[] = R"js(
(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const NS = 'http://www.w3.org/2000/svg';
  const W = 560, H = 320, LEFT = 64, RIGHT = 16, TOP = 24, BOTTOM = 36;

  function add(parent, name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const k of Object.keys(attrs)) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e);
    return e;
  }

  // The same axis as run_report.cc's NiceAxis.
  function niceAxis(lo, hi, minStep) {
    if (hi - lo <= 1e-12 * Math.max(1, Math.abs(hi))) {
      const pad = Math.max(Math.abs(lo) * 0.1, 0.5);
      lo -= pad;
      hi += pad;
    }
    const raw = (hi - lo) / 5;
    const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / magnitude;
    const step = Math.max(minStep, (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * magnitude);
    const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    lo = Math.floor(lo / step + 1e-9) * step;
    hi = Math.ceil(hi / step - 1e-9) * step;
    const first = Math.round(lo / step), count = Math.round((hi - lo) / step);
    const ticks = [];
    for (let i = 0; i <= count; i++) ticks.push((first + i) * step);
    return {lo: lo, hi: hi, decimals: decimals, ticks: ticks};
  }

  function axesFor(panel) {
    let xlo = Infinity, xhi = -Infinity;
    let ylo = panel.unit_range ? 0 : Infinity, yhi = panel.unit_range ? 1 : -Infinity;
    for (const s of panel.series) {
      for (const p of s.points) {
        xlo = Math.min(xlo, p[0]); xhi = Math.max(xhi, p[0]);
        ylo = Math.min(ylo, p[1]); yhi = Math.max(yhi, p[1]);
      }
    }
    return {x: niceAxis(xlo, xhi, 1), y: niceAxis(ylo, yhi, 0)};
  }

  function drawAxes(svg, ax, px, py) {
    for (const t of ax.y.ticks) {
      add(svg, 'line', {x1: LEFT, x2: W - RIGHT, y1: py(t), y2: py(t), stroke: '#e1e1e1'});
      add(svg, 'text', {x: LEFT - 6, y: py(t) + 4, 'text-anchor': 'end', class: 'tick'},
          t.toFixed(ax.y.decimals));
    }
    for (const t of ax.x.ticks) {
      add(svg, 'line', {x1: px(t), x2: px(t), y1: TOP, y2: H - BOTTOM, stroke: '#e1e1e1'});
      add(svg, 'text', {x: px(t), y: H - BOTTOM + 16, 'text-anchor': 'middle', class: 'tick'},
          t.toFixed(ax.x.decimals));
    }
    add(svg, 'rect', {x: LEFT, y: TOP, width: W - LEFT - RIGHT, height: H - TOP - BOTTOM,
                      fill: 'none', stroke: '#3c3c3c'});
    add(svg, 'text', {x: (LEFT + W - RIGHT) / 2, y: H - 4, 'text-anchor': 'middle'}, 'step');
  }

  function drawSeries(svg, s, px, py, legendIndex) {
    if (s.points.length === 0) return;
    const points = s.points.map(p => px(p[0]).toFixed(1) + ',' + py(p[1]).toFixed(1));
    add(svg, 'polyline', {class: 'series', 'data-series': s.name, points: points.join(' '),
                          fill: 'none', stroke: s.colour, 'stroke-width': 2});
    s.points.forEach(function (p, i) {
      if (i >= s.point_labels.length) return;
      const dot = add(svg, 'circle', {cx: px(p[0]), cy: py(p[1]), r: 3, fill: s.colour});
      add(dot, 'title', {}, s.point_labels[i] + ': ' + p[1]);
    });
    add(svg, 'text', {x: W - RIGHT - 4 - 70 * legendIndex, y: TOP - 8, 'text-anchor': 'end',
                      style: 'fill: ' + s.colour}, s.label);
  }

  data.panels.forEach(function (panel, i) {
    const svg = document.getElementById('panel-' + i);
    if (!panel.series.some(s => s.points.length > 0)) {
      add(svg, 'text', {x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'no-data'}, 'no data');
      return;
    }
    const ax = axesFor(panel);
    const px = x => LEFT + (x - ax.x.lo) / (ax.x.hi - ax.x.lo) * (W - LEFT - RIGHT);
    const py = y => H - BOTTOM - (y - ax.y.lo) / (ax.y.hi - ax.y.lo) * (H - TOP - BOTTOM);
    drawAxes(svg, ax, px, py);
    panel.series.forEach((s, k) => drawSeries(svg, s, px, py, panel.series.length - 1 - k));
  });
})();
)js";

// ---------------------------------------------------------------------------------------
// PNG: a canvas, a 5x7 font, and the encoder.

// Glyphs for ASCII 32..126, drawn for this file: seven rows each, the five low bits of a row
// its pixels, bit 4 the leftmost. Characters outside the range print as '?'.
constexpr int kGlyphWidth = 5;
constexpr int kGlyphHeight = 7;
constexpr int kGlyphAdvance = kGlyphWidth + 1;
constexpr uint8_t kFont[95][kGlyphHeight] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // space
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04},  // !
    {0x0A, 0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00},  // "
    {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A},  // #
    {0x04, 0x0F, 0x14, 0x0E, 0x05, 0x1E, 0x04},  // $
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03},  // %
    {0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D},  // &
    {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00},  // '
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02},  // (
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08},  // )
    {0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00},  // *
    {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00},  // +
    {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08},  // ,
    {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00},  // -
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C},  // .
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00},  // /
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E},  // 0
    {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},  // 1
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F},  // 2
    {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},  // 3
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02},  // 4
    {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},  // 5
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E},  // 6
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},  // 7
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E},  // 8
    {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},  // 9
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00},  // :
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08},  // ;
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02},  // <
    {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00},  // =
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08},  // >
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04},  // ?
    {0x0E, 0x11, 0x01, 0x0D, 0x15, 0x15, 0x0E},  // @
    {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},  // A
    {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E},  // B
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E},  // C
    {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C},  // D
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F},  // E
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10},  // F
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F},  // G
    {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},  // H
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},  // I
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C},  // J
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11},  // K
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F},  // L
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11},  // M
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11},  // N
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},  // O
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10},  // P
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D},  // Q
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11},  // R
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E},  // S
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},  // T
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},  // U
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04},  // V
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A},  // W
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11},  // X
    {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04},  // Y
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F},  // Z
    {0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E},  // [
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00},  // backslash
    {0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E},  // ]
    {0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00},  // ^
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F},  // _
    {0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00},  // `
    {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F},  // a
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E},  // b
    {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E},  // c
    {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F},  // d
    {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E},  // e
    {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08},  // f
    {0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E},  // g
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11},  // h
    {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E},  // i
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0C},  // j
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12},  // k
    {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},  // l
    {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11},  // m
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11},  // n
    {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E},  // o
    {0x00, 0x00, 0x1E, 0x11, 0x1E, 0x10, 0x10},  // p
    {0x00, 0x00, 0x0D, 0x13, 0x0F, 0x01, 0x01},  // q
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10},  // r
    {0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E},  // s
    {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06},  // t
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D},  // u
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04},  // v
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A},  // w
    {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11},  // x
    {0x00, 0x00, 0x11, 0x11, 0x0F, 0x01, 0x0E},  // y
    {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F},  // z
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02},  // {
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},  // |
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08},  // }
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00},  // ~
};

constexpr Rgb kInk{20, 20, 20};
constexpr Rgb kFrame{60, 60, 60};
constexpr Rgb kGrid{225, 225, 225};
constexpr Rgb kFaint{120, 120, 120};

class Canvas {
 public:
  Canvas(int width, int height)
      : width_(width), height_(height), rgb_(static_cast<size_t>(width) * height * 3, 255) {}

  int width() const { return width_; }
  int height() const { return height_; }

  void Set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
    uint8_t* p = &rgb_[(static_cast<size_t>(y) * width_ + x) * 3];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }

  // [x0, x1) x [y0, y1).
  void Fill(int x0, int y0, int x1, int y1, Rgb c) {
    for (int y = y0; y < y1; ++y) {
      for (int x = x0; x < x1; ++x) Set(x, y, c);
    }
  }

  // Bresenham, with a square pen `thickness` pixels wide.
  void Line(int x0, int y0, int x1, int y1, int thickness, Rgb c) {
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    const int half = thickness / 2;
    for (int err = dx + dy;;) {
      Fill(x0 - half, y0 - half, x0 - half + thickness, y0 - half + thickness, c);
      if (x0 == x1 && y0 == y1) return;
      const int e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  // `text` with its top-left corner at (x, y), each font pixel scale x scale.
  void Text(int x, int y, absl::string_view text, int scale, Rgb c) {
    for (char ch : text) {
      const int index = ch >= 32 && ch <= 126 ? ch - 32 : '?' - 32;
      for (int row = 0; row < kGlyphHeight; ++row) {
        for (int col = 0; col < kGlyphWidth; ++col) {
          if ((kFont[index][row] >> (kGlyphWidth - 1 - col)) & 1) {
            Fill(x + col * scale, y + row * scale, x + (col + 1) * scale, y + (row + 1) * scale, c);
          }
        }
      }
      x += kGlyphAdvance * scale;
    }
  }

  static int TextWidth(absl::string_view text, int scale) {
    return text.empty() ? 0 : (static_cast<int>(text.size()) * kGlyphAdvance - 1) * scale;
  }

  // The rows as PNG wants them: each prefixed with its filter type, 0 (none).
  std::string Scanlines() const {
    const size_t row_bytes = static_cast<size_t>(width_) * 3;
    std::string out;
    out.reserve(height_ * (row_bytes + 1));
    for (int y = 0; y < height_; ++y) {
      out.push_back('\0');
      out.append(reinterpret_cast<const char*>(&rgb_[y * row_bytes]), row_bytes);
    }
    return out;
  }

 private:
  int width_, height_;
  std::vector<uint8_t> rgb_;
};

struct Rect {
  int x, y, w, h;
};

// Maps data coordinates into a plot rectangle (y grows downwards on the canvas).
struct Mapping {
  Axes axes;
  Rect plot;
  int X(double x) const {
    return plot.x +
           static_cast<int>(std::lround((x - axes.x.lo) / (axes.x.hi - axes.x.lo) * (plot.w - 1)));
  }
  int Y(double y) const {
    return plot.y + plot.h - 1 -
           static_cast<int>(std::lround((y - axes.y.lo) / (axes.y.hi - axes.y.lo) * (plot.h - 1)));
  }
};

void DrawGridAndTicks(Canvas& canvas, const Mapping& m, int scale) {
  const Rect& p = m.plot;
  const int text_h = kGlyphHeight * scale;
  for (double t : Ticks(m.axes.y)) {
    const std::string label = TickLabel(t, m.axes.y);
    canvas.Fill(p.x, m.Y(t), p.x + p.w, m.Y(t) + 1, kGrid);
    canvas.Fill(p.x - 3 * scale, m.Y(t), p.x, m.Y(t) + 1, kFrame);
    canvas.Text(p.x - 5 * scale - Canvas::TextWidth(label, scale), m.Y(t) - text_h / 2, label,
                scale, kFrame);
  }
  for (double t : Ticks(m.axes.x)) {
    const std::string label = TickLabel(t, m.axes.x);
    canvas.Fill(m.X(t), p.y, m.X(t) + 1, p.y + p.h, kGrid);
    canvas.Fill(m.X(t), p.y + p.h, m.X(t) + 1, p.y + p.h + 3 * scale, kFrame);
    canvas.Text(m.X(t) - Canvas::TextWidth(label, scale) / 2, p.y + p.h + 5 * scale, label, scale,
                kFrame);
  }
}

void DrawFrame(Canvas& canvas, const Rect& p) {
  canvas.Fill(p.x, p.y, p.x + p.w, p.y + 1, kFrame);
  canvas.Fill(p.x, p.y + p.h - 1, p.x + p.w, p.y + p.h, kFrame);
  canvas.Fill(p.x, p.y, p.x + 1, p.y + p.h, kFrame);
  canvas.Fill(p.x + p.w - 1, p.y, p.x + p.w, p.y + p.h, kFrame);
}

// Sparse series (held-out evaluations, a short run) get a mark at every point, or a single
// point would not show at all.
constexpr size_t kMarkedPointsMax = 40;

void DrawSeries(Canvas& canvas, const Mapping& m, const Series& s, int scale) {
  for (size_t i = 1; i < s.points.size(); ++i) {
    canvas.Line(m.X(s.points[i - 1].x), m.Y(s.points[i - 1].y), m.X(s.points[i].x),
                m.Y(s.points[i].y), scale, s.colour);
  }
  if (s.points.size() > kMarkedPointsMax) return;
  const int r = 2 * scale;
  for (const Point& p : s.points) {
    canvas.Fill(m.X(p.x) - r, m.Y(p.y) - r, m.X(p.x) + r + 1, m.Y(p.y) + r + 1, s.colour);
  }
}

// The title on the left of the panel's top row, the legend (each label in its series'
// colour, for the series that have points) on the right.
void DrawHeading(Canvas& canvas, const Panel& panel, const Rect& r, int scale) {
  canvas.Text(r.x, r.y, panel.title, scale, kInk);
  int right = r.x + r.w;
  for (auto it = panel.series.rbegin(); it != panel.series.rend(); ++it) {
    if (it->points.empty()) continue;
    right -= Canvas::TextWidth(it->label, scale);
    canvas.Text(right, r.y, it->label, scale, it->colour);
    right -= 3 * kGlyphAdvance * scale;
  }
}

int WidestTickLabel(const Axis& axis, int scale) {
  int widest = 0;
  for (double t : Ticks(axis)) {
    widest = std::max(widest, Canvas::TextWidth(TickLabel(t, axis), scale));
  }
  return widest;
}

void DrawPanel(Canvas& canvas, const Panel& panel, const Rect& r, int scale) {
  const int pad = 6 * scale;
  const int text_h = kGlyphHeight * scale;
  const Rect inner{r.x + pad, r.y + pad, r.w - 2 * pad, r.h - 2 * pad};
  DrawHeading(canvas, panel, inner, scale);
  if (!HasData(panel)) {
    const Rect plot{inner.x, inner.y + text_h + pad, inner.w, inner.h - text_h - pad};
    DrawFrame(canvas, plot);
    canvas.Text(plot.x + (plot.w - Canvas::TextWidth("no data", scale)) / 2,
                plot.y + (plot.h - text_h) / 2, "no data", scale, kFaint);
    return;
  }
  const Axes axes = AxesFor(panel);
  const int left = WidestTickLabel(axes.y, scale) + 6 * scale;
  const int below = text_h + 6 * scale;
  const Rect plot{inner.x + left, inner.y + text_h + pad, inner.w - left - pad,
                  inner.h - text_h - pad - below};
  const Mapping m{axes, plot};
  DrawGridAndTicks(canvas, m, scale);
  DrawFrame(canvas, plot);
  for (const Series& s : panel.series) DrawSeries(canvas, m, s, scale);
}

// The run's title across the top, the panels in a 2 x 2 grid below it.
void DrawReport(Canvas& canvas, const RunReportInput& input) {
  const int scale = std::max(1, std::min(canvas.width() / 600, canvas.height() / 400));
  const int pad = 6 * scale;
  const int header = kGlyphHeight * (scale + 1) + 2 * pad;
  canvas.Text(pad, pad, input.title, scale + 1, kInk);
  const std::vector<Panel> panels = BuildPanels(input);
  const int cell_w = canvas.width() / 2;
  const int cell_h = (canvas.height() - header) / 2;
  for (size_t i = 0; i < panels.size(); ++i) {
    const Rect cell{static_cast<int>(i % 2) * cell_w, header + static_cast<int>(i / 2) * cell_h,
                    cell_w, cell_h};
    DrawPanel(canvas, panels[i], cell, scale);
  }
}

void AppendBigEndian32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

// length, type, data, CRC-32 of type and data.
void AppendChunk(std::string* png, absl::string_view type, absl::string_view data) {
  AppendBigEndian32(png, static_cast<uint32_t>(data.size()));
  const std::string body = absl::StrCat(type, data);
  png->append(body);
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(body.data()),
                          static_cast<uInt>(body.size()));
  AppendBigEndian32(png, static_cast<uint32_t>(crc));
}

absl::StatusOr<std::string> EncodePng(const Canvas& canvas) {
  const std::string raw = canvas.Scanlines();
  uLongf compressed_size = compressBound(raw.size());
  std::string compressed(compressed_size, '\0');
  const int rc =
      compress2(reinterpret_cast<Bytef*>(compressed.data()), &compressed_size,
                reinterpret_cast<const Bytef*>(raw.data()), raw.size(), Z_DEFAULT_COMPRESSION);
  if (rc != Z_OK) return absl::InternalError(absl::StrCat("zlib compress2 failed: ", rc));
  compressed.resize(compressed_size);

  std::string ihdr;
  AppendBigEndian32(&ihdr, static_cast<uint32_t>(canvas.width()));
  AppendBigEndian32(&ihdr, static_cast<uint32_t>(canvas.height()));
  // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering (each row's type is 0),
  // no interlace.
  ihdr.append({8, 2, 0, 0, 0});
  std::string png = "\x89PNG\r\n\x1a\n";
  AppendChunk(&png, "IHDR", ihdr);
  AppendChunk(&png, "IDAT", compressed);
  AppendChunk(&png, "IEND", "");
  return png;
}

}  // namespace

absl::StatusOr<RunReportInput> ReadRunReportInput(const std::string& run_dir) {
  RunReportInput input;
  CRUCIBLE_ASSIGN_OR_RETURN(input.title, ReadTitle(run_dir));
  CRUCIBLE_ASSIGN_OR_RETURN(input.steps, ReadMetrics(run_dir + "/metrics.jsonl"));
  CRUCIBLE_ASSIGN_OR_RETURN(input.heldout, ReadHeldout(run_dir + "/eval_curve.jsonl"));
  const std::string eval_path = run_dir + "/eval.json";
  CRUCIBLE_ASSIGN_OR_RETURN(std::optional<std::string> eval, ReadOptionalFile(eval_path));
  if (eval) {
    CRUCIBLE_ASSIGN_OR_RETURN(input.summary, ParseObject(*eval, eval_path));
  }
  return input;
}

std::string RenderReportHtml(const RunReportInput& input) {
  const std::vector<Panel> panels = BuildPanels(input);
  const json data = {
      {"title", input.title}, {"panels", PanelsJson(panels)}, {"summary", input.summary}};
  const std::string title = HtmlEscape(input.title);
  std::string figures;
  for (size_t i = 0; i < panels.size(); ++i) {
    absl::StrAppend(&figures, "<figure><figcaption>", HtmlEscape(panels[i].title),
                    "</figcaption><svg id=\"panel-", i,
                    "\" viewBox=\"0 0 560 320\" width=\"560\" height=\"320\" role=\"img\"></svg>"
                    "</figure>\n");
  }
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", title,
      " - training report</title>\n<style>", kStyle, "</style>\n</head>\n<body>\n<h1>", title,
      "</h1>\n<div class=\"panels\">\n", figures, "</div>\n<h2>Summary</h2>\n",
      SummaryTable(input.summary), "<script type=\"application/json\" id=\"report-data\">",
      ScriptSafeJson(data), "</script>\n<script>", kScript, "</script>\n</body>\n</html>\n");
}

absl::StatusOr<std::string> RenderReportPng(const RunReportInput& input, int width, int height) {
  if (width < 320 || width > 8192 || height < 240 || height > 8192) {
    return absl::InvalidArgumentError(absl::StrCat("report image size ", width, "x", height,
                                                   ": expected [320, 8192] x [240, 8192]"));
  }
  Canvas canvas(width, height);
  DrawReport(canvas, input);
  return EncodePng(canvas);
}

absl::Status WriteRunReport(const std::string& run_dir) {
  CRUCIBLE_ASSIGN_OR_RETURN(RunReportInput input, ReadRunReportInput(run_dir));
  CRUCIBLE_ASSIGN_OR_RETURN(std::string png, RenderReportPng(input));
  CRUCIBLE_RETURN_IF_ERROR(WriteFileAtomic(run_dir + "/report.html", RenderReportHtml(input)));
  return WriteFileAtomic(run_dir + "/report.png", png);
}

}  // namespace crucible::cli
