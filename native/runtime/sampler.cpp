#include "sampler.h"

#include <algorithm>
#include <cmath>

#include "errors.h"

namespace llmc::runtime {

namespace {

// Candidate order: larger logit first, then lower id (so ties resolve like greedy). A total order: ids differ.
bool higher(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

}  // namespace

void validate_sampling(const llmc_sampling_params& p) {
  if (!(p.temperature >= 0.0f) || !std::isfinite(p.temperature)) {
    fail(LLMC_ERR_INVALID_ARGUMENT, "temperature must be a finite number >= 0 (0 = greedy), got " + std::to_string(p.temperature));
  }
  if (p.top_k < 0) fail(LLMC_ERR_INVALID_ARGUMENT, "top_k must be >= 0 (0 = off), got " + std::to_string(p.top_k));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) {
    fail(LLMC_ERR_INVALID_ARGUMENT, "top_p must be in (0, 1] (1 = off), got " + std::to_string(p.top_p));
  }
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty)) {
    fail(LLMC_ERR_INVALID_ARGUMENT, "repetition_penalty must be a finite number > 0 (1 = off), got " + std::to_string(p.repetition_penalty));
  }
}

Sampler::Sampler(int32_t vocab_size) : vocab_(vocab_size) {}

int32_t Sampler::sample(const float* logits, const llmc_sampling_params& p, const std::vector<int32_t>& history, Rng& rng) {
  logits_ = logits;
  pen_.clear();
  if (p.repetition_penalty != 1.0f) penalize(p.repetition_penalty, history);
  if (p.temperature == 0.0f) return argmax();
  return draw(p, rng);
}

// HF RepetitionPenaltyLogitsProcessor: each distinct id seen so far, once: logit > 0 ? logit / p : logit * p.
void Sampler::penalize(float penalty, const std::vector<int32_t>& history) {
  for (int32_t id : history) {
    if (id >= 0 && id < vocab_) pen_.emplace_back(id, 0.0f);
  }
  std::sort(pen_.begin(), pen_.end());
  pen_.erase(std::unique(pen_.begin(), pen_.end(), [](const auto& a, const auto& b) { return a.first == b.first; }), pen_.end());
  for (auto& [id, x] : pen_) {
    const float v = logits_[id];
    x = v > 0 ? v / penalty : v * penalty;
  }
}

template <class F>
void Sampler::for_each_logit(F&& f) const {
  int32_t i = 0;
  for (const auto& [id, x] : pen_) {  // the raw row between penalized ids, then the penalized id
    for (; i < id; ++i) f(i, logits_[i]);
    f(i++, x);
  }
  for (; i < vocab_; ++i) f(i, logits_[i]);
}

// Largest logit, lowest id on ties; NaN never wins. All-NaN rows give id 0.
int32_t Sampler::argmax() const {
  int32_t best = 0;
  float best_value = -INFINITY;
  bool found = false;
  for_each_logit([&](int32_t i, float x) {
    if (x > best_value || (!found && x == best_value)) {
      best = i;
      best_value = x;
      found = true;
    }
  });
  return best;
}

// Keeps c if it is among the m best seen so far: cand_ is a heap whose front is the worst kept.
__attribute__((noinline)) void Sampler::offer(const Cand& c, size_t m) {
  if (cand_.size() < m) {
    cand_.push_back(c);
    std::push_heap(cand_.begin(), cand_.end(), higher);
  } else if (higher(c, cand_.front())) {
    std::pop_heap(cand_.begin(), cand_.end(), higher);
    cand_.back() = c;
    std::push_heap(cand_.begin(), cand_.end(), higher);
  }
}

// cand_ = the m best finite temperature-scaled candidates in `higher` order.
void Sampler::best(size_t m, float inv_t) {
  cand_.clear();
  for_each_logit([&](int32_t i, float raw) {
    const float x = raw * inv_t;
    if (std::isfinite(x) && (cand_.size() < m || higher({x, i}, cand_.front()))) offer({x, i}, m);
  });
  std::sort_heap(cand_.begin(), cand_.end(), higher);
}

int32_t Sampler::draw(const llmc_sampling_params& p, Rng& rng) {
  // Temperature; only candidates with a finite scaled logit count (-inf / NaN have zero probability).
  const float inv_t = 1.0f / p.temperature;
  // One pass: how many candidates, the largest, and (with top-k) the k best (ties -> lower id, so top_k = 1 is
  // exactly greedy). top-k applies only when it leaves out a candidate.
  const size_t k = p.top_k > 0 && p.top_k < vocab_ ? static_cast<size_t>(p.top_k) : 0;  // >= vocab: never applies
  size_t n = 0;
  float max_logit = -INFINITY;
  cand_.clear();
  for_each_logit([&](int32_t i, float raw) {
    const float x = raw * inv_t;
    if (!std::isfinite(x)) return;
    ++n;
    max_logit = std::max(max_logit, x);
    if (k > 0 && (cand_.size() < k || higher({x, i}, cand_.front()))) offer({x, i}, k);  // the common case inline
  });
  if (n == 0) return argmax();
  const auto weight = [&](float x) { return std::exp(static_cast<double>(x) - max_logit); };
  bool sorted = false;  // the candidates are cand_[0, n), best first; else every finite one, in id order
  if (k > 0 && k < n) {
    std::sort_heap(cand_.begin(), cand_.end(), higher);
    n = k;
    sorted = true;
  }

  // Softmax sum over the candidates, in double, in candidate order.
  double z = 0;
  if (sorted) {
    for (size_t i = 0; i < n; ++i) z += weight(cand_[i].first);
  } else {
    for_each_logit([&](int32_t, float raw) {
      const float x = raw * inv_t;
      if (std::isfinite(x)) z += weight(x);
    });
  }

  // top-p: the smallest prefix (in `higher` order) whose probability reaches top_p, at least one token. The
  // nucleus lies inside the best m candidates once their mass reaches top_p, so only those are sorted. The best
  // 256 come from a heap over the row (a language model's nucleus is usually smaller); past that, from a list of
  // every finite candidate, partially sorted in place (re-scanning the row for each larger m costs more).
  if (p.top_p < 1.0f) {
    const double goal = static_cast<double>(p.top_p) * z;
    bool listed = sorted;  // cand_ holds every candidate (or the top-k), so a larger m sorts it in place
    for (size_t m = sorted ? n : std::min<size_t>(n, 256);; m = std::min(n, m * 4)) {
      if (!sorted && !listed && m <= 256) {
        best(m, inv_t);
      } else if (!sorted) {
        if (!listed) {
          cand_.clear();
          for_each_logit([&](int32_t i, float raw) {
            const float x = raw * inv_t;
            if (std::isfinite(x)) cand_.emplace_back(x, i);
          });
          listed = true;
        }
        std::partial_sort(cand_.begin(), cand_.begin() + m, cand_.end(), higher);
      }
      double mass = 0;
      size_t keep = 0;
      while (keep < m && mass < goal) mass += weight(cand_[keep++].first);
      if (mass >= goal || m == n) {
        n = std::max<size_t>(keep, 1);
        break;
      }
    }
    sorted = true;
    z = 0;
    for (size_t i = 0; i < n; ++i) z += weight(cand_[i].first);
  }

  // Draw: the first candidate whose cumulative weight passes u * z.
  const double target = rng.uniform() * z;
  double cum = 0;
  if (sorted) {
    for (size_t i = 0; i < n; ++i) {
      cum += weight(cand_[i].first);
      if (cum > target) return cand_[i].second;
    }
    return cand_[n - 1].second;  // rounding: u * z can reach the sum
  }
  int32_t pick = -1, last = -1;
  for_each_logit([&](int32_t i, float raw) {
    if (pick >= 0) return;
    const float x = raw * inv_t;
    if (!std::isfinite(x)) return;
    last = i;
    cum += weight(x);
    if (cum > target) pick = i;
  });
  return pick >= 0 ? pick : last;
}

}  // namespace llmc::runtime
