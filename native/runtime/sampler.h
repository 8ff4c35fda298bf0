// Next-token selection from one row of logits, in HuggingFace's order: repetition penalty -> (greedy argmax when
// temperature == 0) -> temperature -> top-k -> top-p -> draw with the request's Rng.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "llmc/llmc.h"
#include "rng.h"

namespace llmc::runtime {

// Throws Error(LLMC_ERR_INVALID_ARGUMENT) for parameters outside llmc.h's ranges.
void validate_sampling(const llmc_sampling_params& p);

class Sampler {
 public:
  explicit Sampler(int32_t vocab_size);

  // logits: [vocab] raw model output (not modified). history: prompt + generated ids, for the repetition penalty.
  int32_t sample(const float* logits, const llmc_sampling_params& p, const std::vector<int32_t>& history, Rng& rng);

 private:
  void apply_repetition_penalty(float penalty, const std::vector<int32_t>& history);
  int32_t argmax() const;
  int32_t draw(const llmc_sampling_params& p, Rng& rng);

  int32_t vocab_;
  std::vector<float> work_;                        // [vocab] penalized, then temperature-scaled logits
  std::vector<uint8_t> seen_;                      // [vocab] marks for unique history ids
  std::vector<std::pair<float, int32_t>> cand_;    // (scaled logit, id) candidates
};

}  // namespace llmc::runtime
