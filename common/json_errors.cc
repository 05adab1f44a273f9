#include "common/json_errors.h"

#include "absl/strings/str_cat.h"

namespace crucible {

using nlohmann::json;

absl::string_view JsonTypeName(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

absl::Status JsonFieldError(absl::string_view where, absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", field, ": ", what));
}

absl::Status JsonTypeError(absl::string_view where, absl::string_view field, absl::string_view expected,
                           const json& got) {
  return JsonFieldError(where, field, absl::StrCat("expected ", expected, ", got ", JsonTypeName(got)));
}

}  // namespace crucible
