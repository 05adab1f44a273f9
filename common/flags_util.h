// Command-line conveniences shared by the binaries' mains (libraries never read flags).
#ifndef CRUCIBLE_COMMON_FLAGS_UTIL_H_
#define CRUCIBLE_COMMON_FLAGS_UTIL_H_

#include <string>
#include <vector>

namespace crucible {

// Rewrites "--problem-id=x" as "--problem_id=x" so documented dashed spellings reach
// abseil's flag parser, whose names are identifiers. Arguments after "--" are untouched.
std::vector<std::string> NormalizeDashedFlags(int argc, char** argv);

// argv-style view over strings for parsers that want char**; valid while `args` lives.
std::vector<char*> ArgvPointers(std::vector<std::string>& args);

}  // namespace crucible

#endif  // CRUCIBLE_COMMON_FLAGS_UTIL_H_
