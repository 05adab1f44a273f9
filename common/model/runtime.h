// Process-wide CPU settings for torch-linked processes (actors, learner, tools), applied
// once at start-up. Measured on a 2-core VM with Debian's LibTorch 1.13 and OpenBLAS
// (bench/generation_bench):
//   - threads: LibTorch's OpenMP workers spin after every parallel region while OpenBLAS's
//     own threads want the same cores for the next GEMM; with both at N threads a decode
//     step of the small model ran 2.4x slower than with OpenMP at one thread. The default
//     is therefore BLAS threads = the CPUs this process may run on (sched_getaffinity, so
//     Slurm/cgroup cpusets are respected) and one intra-op thread; when the BLAS is not
//     OpenBLAS, intra-op threads get the CPUs instead. CRUCIBLE_THREADS caps the CPU
//     count; CRUCIBLE_INTRAOP_THREADS and CRUCIBLE_BLAS_THREADS override each side.
//   - allocator: glibc serves large blocks with mmap and returns them on free, so every
//     activation of a forward pass page-faults afresh (10-25 us a page here). Raising the
//     mmap threshold to its maximum (32 MiB) helps only below that size (prefill 2.5x,
//     decoding 1.5x faster); batch-64 activations are larger still. So no block is
//     mmapped at all (M_MMAP_MAX = 0) and the heap is trimmed only when more than 1 GiB
//     at its top is free: freed activations are reused like a caching allocator's, at
//     the cost of keeping the process's high-water mark. Batch-64 prefill of the small
//     model went from 5.8 s to 3.7 s. CRUCIBLE_MALLOC_TUNING=0 leaves glibc's defaults.
#ifndef CRUCIBLE_COMMON_MODEL_RUNTIME_H_
#define CRUCIBLE_COMMON_MODEL_RUNTIME_H_

#include <string>

namespace crucible::model {

struct CpuRuntime {
  int cpus = 1;              // CPUs available to the process (after CRUCIBLE_THREADS)
  int intraop_threads = 1;   // torch::set_num_threads
  int blas_threads = 0;      // openblas_set_num_threads; 0 when the BLAS is not OpenBLAS
  bool allocator_tuned = false;
  std::string Describe() const;
};

// Idempotent: the first call applies the settings, later calls return them.
const CpuRuntime& ConfigureCpuRuntime();

}  // namespace crucible::model

#endif  // CRUCIBLE_COMMON_MODEL_RUNTIME_H_
