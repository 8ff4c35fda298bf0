// Addon functions for the CPU kernel paths and the batched decode benchmark (native/node/cpu_bench.cpp).
#pragma once
#include <napi.h>

#include "engine_handle.h"

namespace llmc_node {

// cpuKernelPaths(): string (llmc_cpu_kernel_paths_json)
Napi::Value CpuKernelPaths(const Napi::CallbackInfo& info);
// plannedKernelPaths(dtype: 'f32' | 'f16' | 'bf16'): string (llmc_cpu_planned_kernel_paths_json)
Napi::Value PlannedKernelPaths(const Napi::CallbackInfo& info);
// AddonEngine.benchBatch(prompt, batch, genLen): Promise<{batch, decodeSteps, prefillMs, decodeMs, decodeTokS, perSeqTokS}>
Napi::Value BenchBatch(Napi::Env env, const EngineHandlePtr& handle, const Napi::CallbackInfo& info);

}  // namespace llmc_node
