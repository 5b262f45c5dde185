// Picks the kernel ISA once per process: the best the CPU supports, or a lower one named by
// $KVIK_ISA (so tests and benchmarks can compare ISAs on one machine).
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

KernelSet KernelsFor(Isa isa, DType type) {
  if (isa == Isa::kAvx512) {
    if (KernelSet set = Avx512Kernels(type); set.dot) return set;
  }
  if (isa == Isa::kAvx512 || isa == Isa::kAvx2) {
    if (KernelSet set = Avx2Kernels(type); set.dot) return set;
  }
  return ScalarKernels(type);
}

}  // namespace kvik::kernels
