// A training report for one run directory that needs nothing but a browser or an image
// viewer: report.html (self-contained: the data as a JSON blob, plots drawn by inline
// JavaScript into inline SVG, a summary table; no network) and report.png (the same panels
// rasterised here with an embedded 5x7 font; no image library, zlib only).
//
// Four panels, x = learner step: reward mean, pass rate and KL from metrics.jsonl, and
// held-out pass@1 (and pass@5 where any point has it) from eval_curve.jsonl. A point whose
// value is absent, null, not a number, not finite or beyond 1e150 in magnitude is skipped,
// and a panel left without points says "no data"; neither is an error. Points are plotted
// in file order: a learner restarted from a checkpoint may repeat steps, and the report
// shows what was logged rather than deduplicating. Everything embedded is escaped, so
// titles and summaries may hold any text.
#ifndef CRUCIBLE_CLI_RUN_REPORT_H_
#define CRUCIBLE_CLI_RUN_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace crucible::cli {

struct HeldoutPoint {
  int64_t step = 0;
  double pass_at_1 = 0;
  std::optional<double> pass_at_5;
  std::string label;  // "base", "step 120", "final"
};

struct RunReportInput {
  std::string title;                  // the run id
  std::vector<nlohmann::json> steps;  // metrics.jsonl lines, one object per learner step
  std::vector<HeldoutPoint> heldout;  // held-out evaluations over steps; may be empty
  nlohmann::json summary;             // key/values shown as a table; may be null
};

// Reads run_dir/metrics.jsonl (a last line without its newline that does not parse is a
// write in progress and is skipped), run_dir/eval_curve.jsonl (lines {"step": N, "label":
// "...", "pass@1": x, "pass@5": y}) and run_dir/eval.json (an object, the summary). Each
// file may be missing. The title is run_dir/run_id, else the directory's name. A malformed
// line is an error naming the file and line.
absl::StatusOr<RunReportInput> ReadRunReportInput(const std::string& run_dir);

std::string RenderReportHtml(const RunReportInput& input);

// The PNG file's bytes (RGB, 8 bits per channel). INVALID_ARGUMENT for a size outside
// [320, 8192] x [240, 8192].
absl::StatusOr<std::string> RenderReportPng(const RunReportInput& input, int width = 1200,
                                            int height = 800);

// Writes run_dir/report.html and run_dir/report.png, each atomically.
absl::Status WriteRunReport(const std::string& run_dir);

}  // namespace crucible::cli

#endif  // CRUCIBLE_CLI_RUN_REPORT_H_
