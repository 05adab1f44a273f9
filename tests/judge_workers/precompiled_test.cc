// Precompiled headers: built once into the cache, in the sandbox, read by compiles through
// /precompiled, never changing a verdict, refused from an untrusted directory, and a
// build in progress cancelled when the judge stops.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "common/verdict_json.h"
#include "tests/support/test_support.h"

namespace crucible {
namespace {

using testing::MakeProblem;
using testing::MakeProgram;
using testing::SharedSandbox;

struct Cache {
  Cache() {
    auto made = ScopedTempDir::Create(TempRoot(), "precompiled-test");
    REQUIRE(made.ok());
    dir = std::move(*made);
    ::chmod(dir.path().c_str(), 0755);
  }
  std::string path() const { return dir.path() + "/cache"; }
  ScopedTempDir dir;
};

std::unique_ptr<Judge> MakeJudge(const std::string& cache_dir) {
  JudgeConfig config;
  config.precompiled_dir = cache_dir;
  auto judge = Judge::Create(config, SharedSandbox(), LanguageRegistry::Default(CRUCIBLE_PYTHON_EXECUTABLE));
  REQUIRE(judge.ok());
  return std::move(*judge);
}

v1::Verdict JudgeWith(Judge& judge, const std::string& source, const v1::Problem& problem) {
  auto verdict = judge.Evaluate(problem, MakeProgram("cpp17", source), v1::JudgeOptions(), 0);
  if (!verdict.ok()) FAIL(verdict.status().ToString());
  INFO(VerdictToJson(*verdict).substr(0, 3000));
  return *std::move(verdict);
}

std::string Unique() { return absl::StrCat("// ", absl::ToUnixNanos(absl::Now()), "\n"); }

TEST_CASE("precompiled headers are built once into the cache and do not change verdicts",
          "[judge][precompiled]") {
  Cache cache;
  std::string language_dir;
  {
    std::unique_ptr<Judge> judge = MakeJudge(cache.path());
    REQUIRE(judge->precompiled_headers() != nullptr);
    PrecompiledHeaders::Counts counts;
    REQUIRE(judge->precompiled_headers()->WaitUntilBuilt(absl::Minutes(5), &counts));
    CHECK(counts.built == 2);
    CHECK(counts.failed == 0);
    language_dir = judge->precompiled_headers()->DirFor("cpp17");
    CHECK(judge->precompiled_headers()->DirFor("python3").empty());
    for (const char* header : {"/bits/stdc++.h.gch", "/iostream.gch"}) {
      struct stat st;
      REQUIRE(::stat((language_dir + header).c_str(), &st) == 0);
      CHECK(st.st_uid == ::geteuid());
      CHECK((st.st_mode & 0777) == 0644);
      CHECK(st.st_size > (1 << 20));
    }
    // Nothing of the builds is left beside the language's directory and its lock.
    CHECK(testing::ListDir(cache.path()).size() == 2);
    CHECK(testing::ListDir(language_dir).size() == 2);  // bits/, iostream.gch

    v1::Problem sum = MakeProblem("sum", {{"1 2\n", "3\n"}, {"5 -7\n", "-2\n"}});
    const std::string stdcpp =
        "#include <bits/stdc++.h>\nusing namespace std;\n"
        "int main(){long long a,b;cin>>a>>b;vector<long long> v{a,b};"
        "cout<<accumulate(v.begin(),v.end(),0LL)<<\"\\n\";}\n";
    CHECK(JudgeWith(*judge, stdcpp + Unique(), sum).verdict() == v1::OK);
    const std::string iostream =
        "#include <iostream>\nint main(){long long a,b;std::cin>>a>>b;std::cout<<a+b<<\"\\n\";}\n";
    CHECK(JudgeWith(*judge, iostream + Unique(), sum).verdict() == v1::OK);
    // Not the first include: the header is read as usual.
    CHECK(JudgeWith(*judge, "#include <cstdio>\n" + stdcpp + Unique(), sum).verdict() == v1::OK);
    // A macro the header depends on, defined first: the compiler must not use the
    // precompiled file (built without it). Under _GLIBCXX_DEBUG the out-of-range index
    // aborts; with the precompiled vector it would read past the end and pass.
    const std::string debug =
        "#define _GLIBCXX_DEBUG 1\n#include <bits/stdc++.h>\nusing namespace std;\n"
        "int main(){long long a,b;cin>>a>>b;vector<long long> v{a,b};"
        "cout<<v[0]+v[1]+v[v.size()]*0<<\"\\n\";}\n";
    v1::Verdict checked = JudgeWith(*judge, debug + Unique(), sum);
    CHECK(checked.verdict() == v1::RE);
    // A compile error is reported as usual.
    CHECK(JudgeWith(*judge, "#include <bits/stdc++.h>\nint main(){ undefined_name; }\n", sum).verdict() ==
          v1::CE);
  }
  // A second judge finds both in the cache and builds nothing.
  std::unique_ptr<Judge> again = MakeJudge(cache.path());
  PrecompiledHeaders::Counts counts;
  REQUIRE(again->precompiled_headers()->WaitUntilBuilt(absl::Seconds(1), &counts));
  CHECK(counts.reused == 2);
  CHECK(counts.built == 0);
  CHECK(again->precompiled_headers()->DirFor("cpp17") == language_dir);
}

TEST_CASE("compiles read the precompiled file from /precompiled", "[judge][precompiled]") {
  Cache cache;
  std::unique_ptr<Judge> judge = MakeJudge(cache.path());
  REQUIRE(judge->precompiled_headers()->WaitUntilBuilt(absl::Minutes(5)));
  const std::string dir = judge->precompiled_headers()->DirFor("cpp17");
  // Replace the cached iostream with one that also defines a marker, built with the
  // language's own precompile command on the host: only a compile that reads the cached
  // file sees the marker.
  const Language* cpp = judge->languages().Find("cpp17");
  REQUIRE(cpp != nullptr);
  const std::string src = cache.dir.path() + "/iostream";
  REQUIRE(WriteFile(src, "#include <iostream>\n#define CRUCIBLE_FROM_PRECOMPILED 1\n").ok());
  std::vector<std::string> argv;
  for (const std::string& arg : cpp->precompile_argv) {
    argv.push_back(arg == "{source}" ? src : arg == "{output}" ? dir + "/iostream.gch.new" : arg);
  }
  auto built = RunProcess(argv, "", std::chrono::seconds(120));
  REQUIRE(built.ok());
  REQUIRE(built->exit_code == 0);
  REQUIRE(::chmod((dir + "/iostream.gch.new").c_str(), 0644) == 0);
  REQUIRE(::rename((dir + "/iostream.gch.new").c_str(), (dir + "/iostream.gch").c_str()) == 0);
  v1::Problem marker = MakeProblem("marker", {{"", "precompiled\n"}});
  const std::string source =
      "#include <iostream>\nint main(){\n#ifdef CRUCIBLE_FROM_PRECOMPILED\n"
      "std::cout<<\"precompiled\\n\";\n#else\nstd::cout<<\"parsed\\n\";\n#endif\n}\n";
  CHECK(JudgeWith(*judge, source + Unique(), marker).verdict() == v1::OK);
}

TEST_CASE("a cache directory others can write is refused", "[judge][precompiled]") {
  Cache cache;
  REQUIRE(MakeDirs(cache.path()).ok());
  REQUIRE(::chmod(cache.path().c_str(), 0777) == 0);
  auto refused = PrecompiledHeaders::Start(cache.path(), LanguageRegistry::Default(CRUCIBLE_PYTHON_EXECUTABLE),
                                           SharedSandbox());
  CHECK(absl::IsFailedPrecondition(refused.status()));
  CHECK(absl::StrContains(refused.status().message(), "writable by others"));
  // The judge still judges, parsing every header.
  std::unique_ptr<Judge> judge = MakeJudge(cache.path());
  CHECK(judge->precompiled_headers() == nullptr);
  v1::Problem sum = MakeProblem("sum", {{"1 2\n", "3\n"}});
  CHECK(JudgeWith(*judge, "#include <iostream>\nint main(){int a,b;std::cin>>a>>b;std::cout<<a+b<<\"\\n\";}\n" +
                              Unique(), sum)
            .verdict() == v1::OK);
  CHECK(absl::IsInvalidArgument(PrecompiledHeaders::Start("relative", LanguageRegistry(), SharedSandbox())
                                    .status()));
}

TEST_CASE("a judge stopped mid-build cancels it and leaves nothing", "[judge][precompiled]") {
  Cache cache;
  const auto start = std::chrono::steady_clock::now();
  {
    std::unique_ptr<Judge> judge = MakeJudge(cache.path());
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    PrecompiledHeaders::Counts counts;
    CHECK_FALSE(judge->precompiled_headers()->WaitUntilBuilt(absl::ZeroDuration(), &counts));
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));
  // Only the language's directory and its lock remain: no build directory, and no
  // partial file in the directory compiles see.
  std::vector<std::string> left = testing::ListDir(cache.path());
  INFO(left.size());
  REQUIRE(left.size() == 2);
  for (const std::string& name : left) {
    if (absl::EndsWith(name, ".lock")) continue;
    CHECK(testing::ListDir(cache.path() + "/" + name).empty());
  }
  if (::geteuid() == 0) {
    auto [uid, gid] = SharedSandbox()->OutsideIds(PrecompiledHeaders::kSlot);
    for (int i = 0; i < 200 && !testing::ProcessesWithUids(uid, 1).empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(testing::ProcessesWithUids(uid, 1).empty());
  }
}

}  // namespace
}  // namespace crucible
