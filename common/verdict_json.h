// Verdict names and the verdict JSON of DESIGN.md ("Public formats"), as the judge's
// one-shot CLI prints it. Field names are stable; fields may be added, none renamed.
#ifndef CRUCIBLE_COMMON_VERDICT_JSON_H_
#define CRUCIBLE_COMMON_VERDICT_JSON_H_

#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "crucible/v1/judge.pb.h"

namespace crucible {

absl::string_view VerdictName(v1::VerdictCode code);  // "OK", "WA", ...
std::optional<v1::VerdictCode> ParseVerdictName(absl::string_view name);

// One line of JSON, no trailing newline.
std::string VerdictToJson(const v1::Verdict& verdict);

}  // namespace crucible

#endif  // CRUCIBLE_COMMON_VERDICT_JSON_H_
