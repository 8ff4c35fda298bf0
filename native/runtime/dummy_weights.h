// Dummy weights at load: an engine built with `llmc build --dummy-weights` stores no weight bytes, only each
// weight's generator settings (plan value "dummy"). fill_dummy_weights() generates them into anonymous memory
// owned by the LoadedEngine (in the weight's dtype, with the formula of dummy_rng.h) and points each weight at
// its values, so backends see ordinary weights. Multi-threaded: a 7B f16 model (13.5 GB) fills in seconds.
#pragma once
#include <cstdint>

#include "engine_loader.h"

namespace llmc::runtime {

// Generates every dummy weight of `e` that has no data yet. num_threads <= 0: all cores. Throws Error(LLMC_ERR_LIMIT)
// when the memory cannot be mapped.
void fill_dummy_weights(LoadedEngine& e, int num_threads);

// Element values [begin, end) of one dummy weight, written in its dtype to `out` (element `begin` first).
void generate_dummy(const WeightInfo& w, int64_t begin, int64_t end, void* out);

}  // namespace llmc::runtime
