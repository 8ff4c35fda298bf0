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

// Works on the logits row in place (read only): no [vocab] copy and no [vocab] candidate list. The repetition
// penalty is a short sorted list of (id, penalized logit) merged into each pass over the row; top-k keeps a heap
// of k candidates; top-p selects the best m (256, then x4) by a heap, as the nucleus usually holds few tokens;
// plain temperature sampling takes two passes (the softmax sum, then the draw). The picks, and the random numbers
// drawn, are exactly those of the copy-based reference (native/tests/sampler_reference.h, sampler_test.cpp).
class Sampler {
 public:
  explicit Sampler(int32_t vocab_size);

  // logits: [vocab] raw model output (not modified). history: prompt + generated ids, for the repetition penalty.
  int32_t sample(const float* logits, const llmc_sampling_params& p, const std::vector<int32_t>& history, Rng& rng);

 private:
  using Cand = std::pair<float, int32_t>;  // (temperature-scaled logit, id)
  void penalize(float penalty, const std::vector<int32_t>& history);
  template <class F>
  void for_each_logit(F&& f) const;  // f(id, penalized logit) for every id in order
  int32_t argmax() const;
  int32_t draw(const llmc_sampling_params& p, Rng& rng);
  void offer(const Cand& c, size_t m);
  void best(size_t m, float inv_t);  // cand_ = the m best finite candidates, best first

  int32_t vocab_;
  const float* logits_ = nullptr;                  // [vocab] the row being sampled
  std::vector<std::pair<int32_t, float>> pen_;     // distinct history ids, ascending, with their penalized logit
  std::vector<Cand> cand_;                         // at most max(top_k, nucleus search size) candidates
};

}  // namespace llmc::runtime
