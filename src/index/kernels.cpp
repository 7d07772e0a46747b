// Run-time kernel dispatch: the CPU is probed once (__builtin_cpu_supports also checks that
// the OS saves the AVX/AVX-512 register state) and the best table is cached for the process.
#include "kernels.hpp"

#include <cpuid.h>

#include <cstdlib>
#include <string_view>

namespace engram::detail {
namespace {

// g++ knows the "f16c" feature string of __builtin_cpu_supports; clang 14 does not, so under
// clang (e.g. clang-tidy) the bit is read from CPUID leaf 1 (ECX bit 29). Only consulted after
// the AVX2 check, which already covers the OS saving the AVX register state.
bool cpu_supports_f16c() noexcept {
#if defined(__clang__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
#else
  return __builtin_cpu_supports("f16c");
#endif
}

}  // namespace

bool kernel_level_supported(KernelLevel level) noexcept {
  __builtin_cpu_init();
  switch (level) {
    case KernelLevel::kScalar:
      return true;
    case KernelLevel::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_supports_f16c();
    case KernelLevel::kAvx512:
      return kernel_level_supported(KernelLevel::kAvx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    case KernelLevel::kAvx512Vnni:
      return kernel_level_supported(KernelLevel::kAvx512) && __builtin_cpu_supports("avx512vnni");
  }
  return false;
}

const KernelTable* kernel_table(KernelLevel level) noexcept {
  if (!kernel_level_supported(level)) return nullptr;
  switch (level) {
    case KernelLevel::kScalar:
      return &kKernelsScalar;
    case KernelLevel::kAvx2:
      return &kKernelsAvx2;
    case KernelLevel::kAvx512:
      return &kKernelsAvx512;
    case KernelLevel::kAvx512Vnni:
      return &kKernelsAvx512Vnni;
  }
  return nullptr;
}

const char* to_string(KernelLevel level) noexcept {
  switch (level) {
    case KernelLevel::kScalar:
      return "scalar";
    case KernelLevel::kAvx2:
      return "avx2";
    case KernelLevel::kAvx512:
      return "avx512";
    case KernelLevel::kAvx512Vnni:
      return "avx512vnni";
  }
  return "?";
}

namespace {

const KernelTable& choose() noexcept {
  int cap = kKernelLevelCount - 1;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once, by the function-local static in kernels()
  if (const char* env = std::getenv("ENGRAM_KERNELS")) {
    for (int i = 0; i < kKernelLevelCount; ++i)
      if (std::string_view(env) == to_string(static_cast<KernelLevel>(i))) cap = i;
  }
  for (int i = cap; i > 0; --i)
    if (const KernelTable* t = kernel_table(static_cast<KernelLevel>(i))) return *t;
  return kKernelsScalar;
}

}  // namespace

const KernelTable& kernels() noexcept {
  static const KernelTable& table = choose();
  return table;
}

}  // namespace engram::detail
