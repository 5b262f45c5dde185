// Picks the kernel ISA once per process: the best the CPU supports, or a lower one named by
// $KVIK_ISA (so tests and benchmarks can compare ISAs on one machine); and whether the streaming
// kernels prefetch, by CPU vendor or $KVIK_PREFETCH.
#include <cstdlib>
#include <cstring>

#include "tensor/dot_kernels.h"

namespace kvik::kernels {
namespace {

Isa BestSupportedIsa() {
  if (CpuHasAvx512()) return Isa::kAvx512;
  if (CpuHasAvx2()) return Isa::kAvx2;
  return Isa::kScalar;
}

Isa ChooseIsa() {
  const Isa best = BestSupportedIsa();
  const char* requested = std::getenv("KVIK_ISA");
  if (requested == nullptr) return best;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    // A request above what the CPU has cannot be honoured; the best supported one runs instead.
    if (IsaName(isa) == requested)
      return static_cast<int>(isa) < static_cast<int>(best) ? isa : best;
  }
  return best;  // an unknown name changes nothing
}

Prefetch ChoosePrefetch() {
  const char* requested = std::getenv("KVIK_PREFETCH");
  if (requested != nullptr && std::strcmp(requested, "0") == 0) return Prefetch::kOff;
  if (requested != nullptr && std::strcmp(requested, "1") == 0) return Prefetch::kAhead;
  __builtin_cpu_init();
  // Measured on one Intel Xeon (a gain in every weight type) and one AMD Zen 4 (a loss):
  // stream_prefetch.h. Other vendors keep the hardware prefetchers alone.
  return __builtin_cpu_is("intel") ? Prefetch::kAhead : Prefetch::kOff;
}

}  // namespace

std::string_view IsaName(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    default:
      return "scalar";
  }
}

Isa SelectedIsa() {
  static const Isa isa = ChooseIsa();
  return isa;
}

Prefetch SelectedPrefetch() {
  static const Prefetch prefetch = ChoosePrefetch();
  return prefetch;
}

KernelSet KernelsFor(Isa isa, DType type, Prefetch prefetch) {
  if (isa == Isa::kAvx512) {
    if (KernelSet set = Avx512Kernels(type, prefetch); set.dot) return set;
  }
  if (isa == Isa::kAvx512 || isa == Isa::kAvx2) {
    if (KernelSet set = Avx2Kernels(type, prefetch); set.dot) return set;
  }
  return ScalarKernels(type);
}

}  // namespace kvik::kernels
