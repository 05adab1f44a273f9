#include "common/model/runtime.h"

#include <dlfcn.h>
#include <malloc.h>
#include <sched.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/model/torch.h"

namespace crucible::model {
namespace {

int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  const int parsed = std::atoi(value);
  return parsed > 0 ? parsed : fallback;
}

int AvailableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

CpuRuntime Apply() {
  CpuRuntime r;
  // Every block from the heap, kept there when freed (see runtime.h).
  const char* tuning = std::getenv("CRUCIBLE_MALLOC_TUNING");
  if (tuning == nullptr || std::string(tuning) != "0") {
    r.allocator_tuned = ::mallopt(M_MMAP_MAX, 0) == 1 && ::mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
  }
  r.cpus = std::min(AvailableCpus(), EnvInt("CRUCIBLE_THREADS", AvailableCpus()));
  using SetThreads = void (*)(int);
  auto set_blas = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set_blas != nullptr) {
    r.blas_threads = EnvInt("CRUCIBLE_BLAS_THREADS", r.cpus);
    set_blas(r.blas_threads);
    r.intraop_threads = EnvInt("CRUCIBLE_INTRAOP_THREADS", 1);
  } else {
    r.intraop_threads = EnvInt("CRUCIBLE_INTRAOP_THREADS", r.cpus);
  }
  torch::set_num_threads(r.intraop_threads);
  return r;
}

}  // namespace

std::string CpuRuntime::Describe() const {
  return absl::StrCat(cpus, " CPUs: ", intraop_threads, " intra-op threads, ",
                      blas_threads > 0 ? absl::StrCat(blas_threads, " OpenBLAS threads") : "BLAS threads unmanaged",
                      allocator_tuned ? ", large blocks kept in the heap" : "");
}

const CpuRuntime& ConfigureCpuRuntime() {
  static const CpuRuntime runtime = Apply();
  return runtime;
}

}  // namespace crucible::model
