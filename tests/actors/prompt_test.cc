// Prompts and program extraction (actors/prompt.h): the documented rules on worked cases.
#include "actors/prompt.h"

#include <catch2/catch.hpp>

namespace crucible {
namespace {

TEST_CASE("ExtractProgram follows the documented rules", "[prompt]") {
  CHECK(ExtractProgram("print(1)\n") == "print(1)\n");
  CHECK(ExtractProgram("\n\nprint(1)  \n\n") == "print(1)\n");
  CHECK(ExtractProgram("  x = 1\nprint(x)") == "  x = 1\nprint(x)\n");  // indentation kept
  CHECK(ExtractProgram("print(1)\n# Problem\nnext one") == "print(1)\n");
  CHECK(ExtractProgram("see:\n```python\nprint(2)\n```\ntrailing") == "print(2)\n");
  CHECK(ExtractProgram("```\nprint(3)") == "print(3)\n");  // an unterminated fence runs to the end
  CHECK(ExtractProgram("").empty());
  CHECK(ExtractProgram("\n  \n").empty());
  CHECK(ExtractProgram("# Problem\nx").empty());
}

TEST_CASE("ProgramOffset is where the extracted program starts", "[prompt]") {
  for (const std::string completion :
       {"print(1)\n", "\n\nprint(1)\n", "see:\n```python\n\nprint(2)\n```\nmore", "```\nprint(3)", "x\n# Problem\ny"}) {
    INFO(completion);
    const size_t offset = ProgramOffset(completion);
    const std::string program = ExtractProgram(completion);
    REQUIRE(offset <= completion.size());
    // The program is written right after the offset (up to trailing whitespace), and the
    // prefix plus the program extracts to the same program: what refining relies on.
    CHECK(completion.compare(offset, program.size() - 1, program, 0, program.size() - 1) == 0);
    CHECK(ExtractProgram(completion.substr(0, offset) + program) == program);
    CHECK(ExtractProgram(completion.substr(0, offset) + program + "more()\n") == program + "more()\n");
  }
  CHECK(ProgramOffset("print(1)") == 0);
  CHECK(ProgramOffset("```python\nprint(1)") == 10);
}

TEST_CASE("RepairPrompt appends the failing program and its verdict", "[prompt]") {
  CHECK(RepairPrompt("# Problem\nadd\n# Python 3 solution\n", "print(a+b)\n\n", "WA", "") ==
        "# Problem\nadd\n# Python 3 solution\nprint(a+b)\n# Verdict: WA\n# Fixed solution\n");
  CHECK(RepairPrompt("P\n", "x = [][0]", "RE", "IndexError") == "P\nx = [][0]\n# Verdict: RE (IndexError)\n# Fixed solution\n");
  // A subtype stays on one line and short.
  const std::string long_subtype = "a\nb" + std::string(300, 'c');
  const std::string prompt = RepairPrompt("P\n", "x", "RE", long_subtype);
  CHECK(prompt.find("(a b") != std::string::npos);
  CHECK(prompt.size() < 260);
  // Its completion is extracted like any other: the repaired program ends at the next problem.
  CHECK(ExtractProgram("print(a + b)\n# Problem\n") == "print(a + b)\n");
}

TEST_CASE("BuildPrompt fills the placeholders and ValidatePromptTemplate refuses unknown ones", "[prompt]") {
  v1::Problem p;
  p.set_id("sum");
  p.set_statement("Add.");
  v1::TestCase* t = p.add_public_tests();
  t->set_input("1 2\n");
  t->set_output("3\n");
  absl::StatusOr<std::string> prompt = BuildPrompt("{id}: {statement} {{x}} {example_input}{example_output}{language}", p, "python3");
  REQUIRE(prompt.ok());
  CHECK(*prompt == "sum: Add. {x} 1 2\n3\npython3");
  CHECK(ValidatePromptTemplate("{statement}").ok());
  CHECK_FALSE(ValidatePromptTemplate("{statment}").ok());
}

}  // namespace
}  // namespace crucible
