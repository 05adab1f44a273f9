// Error messages for JSON input that name where and what: "file.jsonl:12: tests[3].output:
// expected a string, got an integer". Shared by every reader of the project's JSON formats.
#ifndef CRUCIBLE_COMMON_JSON_ERRORS_H_
#define CRUCIBLE_COMMON_JSON_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace crucible {

// "null", "an object", "an array", "a string", "a boolean", "an integer", "a number".
absl::string_view JsonTypeName(const nlohmann::json& value);

// INVALID_ARGUMENT "<where>: <field>: <what>".
absl::Status JsonFieldError(absl::string_view where, absl::string_view field, absl::string_view what);

// INVALID_ARGUMENT "<where>: <field>: expected <expected>, got <type of got>".
absl::Status JsonTypeError(absl::string_view where, absl::string_view field, absl::string_view expected,
                           const nlohmann::json& got);

}  // namespace crucible

#endif  // CRUCIBLE_COMMON_JSON_ERRORS_H_
