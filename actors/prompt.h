// Prompts and programs: what the policy is shown for a problem, and what of its completion
// is judged.
//
// A prompt template is text with placeholders, filled from the problem:
//   {statement}       the problem statement
//   {example_input}   the first public test's input ("" when there is none)
//   {example_output}  the first public test's expected output ("" when there is none)
//   {starter_code}    code the program should start from (HumanEval's prompt, APPS's
//                     starter code; "" when the problem has none)
//   {id}              the problem id
//   {language}        the program's language (python3, cpp17)
// "{{" and "}}" stand for literal braces; any other {name} is an error when the template
// is checked (ValidatePromptTemplate), so a typo never reaches a run.
//
// Extracting the program from a completion (ExtractProgram), in order:
//   1. if the completion holds a fenced block (``` or ```python / ```cpp ...), the first
//      block's body (an unterminated fence runs to the end);
//   2. otherwise the completion up to the first line that starts a new prompt section
//      ("# Problem" at the start of a line, as the default template writes), or the end;
// then trailing whitespace is trimmed. A completion with nothing left is no program: the
// actor does not send it to a judge and gives it the compile-error verdict and reward
// (as CodeRL treats a sample that yields no code). So does a program holding a NUL byte,
// which no compiler or interpreter accepts as source.
//
// A repair prompt (RepairPrompt; CodeRL's program repair, the input D + W^fail + u + c) is
// the problem's prompt, then the failing program, then the test outcome and a new section:
//   <prompt><program>\n# Verdict: <verdict>[ (<subtype>)]\n# Fixed solution\n
// where the program ends in exactly one newline, <verdict> is the judge's code on the public
// tests (WA, RE, CE, TLE, ...) and <subtype> the error's kind (IndexError, SyntaxError, ...),
// on one line and at most 200 bytes. A repair model is trained to complete it with the
// reference program (`crucible data repair-pairs`); its completion is extracted like any
// other.
#ifndef CRUCIBLE_ACTORS_PROMPT_H_
#define CRUCIBLE_ACTORS_PROMPT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crucible/v1/problem.pb.h"

namespace crucible {

absl::Status ValidatePromptTemplate(const std::string& prompt_template);
absl::StatusOr<std::string> BuildPrompt(const std::string& prompt_template, const v1::Problem& problem,
                                        const std::string& language);
std::string ExtractProgram(const std::string& completion);
// Where ExtractProgram's program starts in `completion` (after a fence line and leading blank
// lines): completion.substr(0, ProgramOffset(completion)) + ExtractProgram(completion) is a
// prefix of the completion up to trailing whitespace, and extracts to the same program.
size_t ProgramOffset(const std::string& completion);
std::string RepairPrompt(const std::string& prompt, const std::string& program, const std::string& verdict,
                         const std::string& subtype);

}  // namespace crucible

#endif  // CRUCIBLE_ACTORS_PROMPT_H_
