// The decisions of CodeRL's critic sampling (`crucible eval --search critic`, cli/eval.h),
// free of torch so they are tested on their own: which prefix of a program seeds program
// refining, which failing programs go to program repairing, and the report that compares
// the metrics with and without the search.
#ifndef CRUCIBLE_CLI_CRITIC_SAMPLING_H_
#define CRUCIBLE_CLI_CRITIC_SAMPLING_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/eval_report.h"
#include "nlohmann/json.hpp"

namespace crucible::cli {

// Program refining's seed (CodeRL section 3.3.4): `pass[t]` is the critic's probability that
// the program passes given its tokens up to and including t. The seed is the tokens up to
// and including t_max, the first token of highest value; if a token of that prefix is more
// likely failing than passing (pass < 0.5, or not a number), the seed is cut before the
// first such token. `pass` is the critic read as CodeRL's binary phi_test (learner::
// CriticTokenTestPassProbabilities): p(passed) against p(failed test). Returns the seed's length in
// tokens (0 when the first token already fails, or `pass` is empty).
size_t RefineSeedLength(const std::vector<double>& pass);

// Only public-test results steer the search; the hidden verdicts are measured, never read.
//
// Program refining's sources: the samples with a program that passed the public tests
// (vacuously so for a problem without public tests).
std::vector<const EvalSample*> RefineSources(const std::vector<const EvalSample*>& samples);

// Program repairing's candidates, for a problem none of whose samples passed its public
// tests: the indices into `samples` of the top `m` by critic_score, best first (ties go to
// the lower sample index). Chosen only among samples with a program, a finite critic_score
// and a public verdict (extra.public_verdict) other than SE (the judge failed, so it says
// nothing about the program).
std::vector<size_t> RepairCandidates(const std::vector<const EvalSample*>& samples, int m);

// Which program source fills slot j of n when `sources` seeds are each stacked n/sources
// times ("upsampling" to the same total): j % sources.
inline size_t SlotSource(size_t slot, size_t sources) { return slot % sources; }

// How each problem's final samples came about.
enum class SearchPath { kUnchanged, kRefined, kRepaired, kRepairedThenRefined };
const char* SearchPathName(SearchPath path);

// report.json's "critic_sampling" (ReportMarkdown renders it):
//   {"without": GROUP of the first round, "with": GROUP of the final samples (eval_report.h's
//    GROUP), "problems": {"refined", "repaired", "repaired_then_refined", "unchanged"},
//    "programs_generated": {"sample", "refine", "repair", "repair_refine"},
//    "repair": bool, "repair_top_m": M, "repair_skipped_too_long": count}
nlohmann::json CriticSamplingReport(const std::vector<EvalSample>& first_round,
                                    const std::vector<EvalSample>& final_samples,
                                    const std::map<std::string, SearchPath>& paths,
                                    const std::map<std::string, int64_t>& generated, bool repair, int top_m,
                                    int64_t repair_skipped_too_long, const ReportOptions& options);

}  // namespace crucible::cli

#endif  // CRUCIBLE_CLI_CRITIC_SAMPLING_H_
