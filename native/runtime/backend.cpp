#include "backend.h"

#include "errors.h"

namespace llmc::runtime {

std::unique_ptr<Backend> create_backend(const std::string& name, const LoadedEngine& engine, int num_threads) {
  if (name.empty() || name == "cpu") return create_cpu_backend(engine, num_threads);
  if (name == "cuda") return create_cuda_backend(engine);
  fail(LLMC_ERR_INVALID_ARGUMENT, "unknown backend \"" + name + "\" (expected \"cpu\" or \"cuda\")");
}

}  // namespace llmc::runtime
