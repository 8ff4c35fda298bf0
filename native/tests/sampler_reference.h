// The sampler as it was first written: copies the [vocab] logits, applies the penalty in the copy, and builds a
// [vocab] candidate list. Slow but plain; native/tests/sampler_test.cpp checks that the copy-free Sampler
// (native/runtime/sampler.cpp) picks exactly the same ids and draws the same random numbers.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "llmc/llmc.h"
#include "rng.h"

namespace llmc::test {

using runtime::Rng;

class ReferenceSampler {
 public:
  explicit ReferenceSampler(int32_t vocab_size) : vocab_(vocab_size), work_(vocab_size), seen_(vocab_size, 0) {}
  int32_t sample(const float* logits, const llmc_sampling_params& p, const std::vector<int32_t>& history, Rng& rng);

 private:
  static bool higher(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  }
  void apply_repetition_penalty(float penalty, const std::vector<int32_t>& history);
  int32_t argmax() const;
  int32_t draw(const llmc_sampling_params& p, Rng& rng);

  int32_t vocab_;
  std::vector<float> work_;
  std::vector<uint8_t> seen_;
  std::vector<std::pair<float, int32_t>> cand_;
};

inline int32_t ReferenceSampler::sample(const float* logits, const llmc_sampling_params& p, const std::vector<int32_t>& history, Rng& rng) {
  std::memcpy(work_.data(), logits, sizeof(float) * static_cast<size_t>(vocab_));
  if (p.repetition_penalty != 1.0f) apply_repetition_penalty(p.repetition_penalty, history);
  if (p.temperature == 0.0f) return argmax();
  return draw(p, rng);
}

// HF RepetitionPenaltyLogitsProcessor: each distinct id seen so far, once: logit > 0 ? logit / p : logit * p.
inline void ReferenceSampler::apply_repetition_penalty(float penalty, const std::vector<int32_t>& history) {
  for (int32_t id : history) {
    if (id < 0 || id >= vocab_ || seen_[id]) continue;
    seen_[id] = 1;
    float& x = work_[id];
    x = x > 0 ? x / penalty : x * penalty;
  }
  for (int32_t id : history) {
    if (id >= 0 && id < vocab_) seen_[id] = 0;
  }
}

// Largest logit, lowest id on ties; NaN never wins. All-NaN rows give id 0.
inline int32_t ReferenceSampler::argmax() const {
  int32_t best = 0;
  float best_value = -INFINITY;
  bool found = false;
  for (int32_t i = 0; i < vocab_; ++i) {
    float x = work_[i];
    if (x > best_value || (!found && x == best_value)) {
      best = i;
      best_value = x;
      found = true;
    }
  }
  return best;
}

inline int32_t ReferenceSampler::draw(const llmc_sampling_params& p, Rng& rng) {
  // Temperature, keeping only candidates with a finite logit (-inf / NaN have zero probability).
  cand_.clear();
  const float inv_t = 1.0f / p.temperature;
  for (int32_t i = 0; i < vocab_; ++i) {
    float x = work_[i] * inv_t;
    if (std::isfinite(x)) cand_.emplace_back(x, i);
  }
  if (cand_.empty()) return argmax();
  size_t n = cand_.size();
  bool sorted_prefix = false;  // cand_[0, n) sorted by `higher`

  // top-k: the k best (ties -> lower id, so top_k = 1 is exactly greedy).
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < n) {
    std::partial_sort(cand_.begin(), cand_.begin() + p.top_k, cand_.end(), higher);
    n = static_cast<size_t>(p.top_k);
    sorted_prefix = true;
  }

  // Softmax over the n candidates, in double.
  float max_logit = -INFINITY;
  for (size_t i = 0; i < n; ++i) max_logit = std::max(max_logit, cand_[i].first);
  double z = 0;
  for (size_t i = 0; i < n; ++i) z += std::exp(static_cast<double>(cand_[i].first) - max_logit);

  // top-p: the smallest prefix (in `higher` order) whose probability reaches top_p, at least one token. The
  // nucleus lies inside the best m candidates once their mass reaches top_p, so only those are sorted.
  if (p.top_p < 1.0f) {
    size_t m = sorted_prefix ? n : std::min<size_t>(n, 256);
    for (;;) {
      if (!sorted_prefix) std::partial_sort(cand_.begin(), cand_.begin() + m, cand_.begin() + n, higher);
      double mass = 0;
      size_t keep = 0;
      while (keep < m && mass < static_cast<double>(p.top_p) * z) {
        mass += std::exp(static_cast<double>(cand_[keep].first) - max_logit);
        ++keep;
      }
      if (mass >= static_cast<double>(p.top_p) * z || m == n) {
        n = std::max<size_t>(keep, 1);
        break;
      }
      m = std::min(n, m * 4);
    }
    z = 0;
    for (size_t i = 0; i < n; ++i) z += std::exp(static_cast<double>(cand_[i].first) - max_logit);
  }

  // Draw: the first candidate whose cumulative weight passes u * z.
  const double target = rng.uniform() * z;
  double cum = 0;
  for (size_t i = 0; i < n; ++i) {
    cum += std::exp(static_cast<double>(cand_[i].first) - max_logit);
    if (cum > target) return cand_[i].second;
  }
  return cand_[n - 1].second;  // rounding: u * z can reach the sum
}

}  // namespace llmc::test
