// The copy-free Sampler (native/runtime/sampler.cpp) against the copy-based reference (sampler_reference.h):
// the same id for every row, parameter set and seed, and the same random numbers consumed (the next draw of both
// generators agrees). Rows: random logits with ties, -inf and NaN entries, all -inf, all NaN; vocabularies from 1
// to 32000; histories with repeats and ids outside the vocabulary.
//   native/build/sampler_test [--perf]   (--perf: microseconds per sample of both, vocab 32000 and 128256)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <random>
#include <vector>

#include "sampler.h"
#include "sampler_reference.h"

using llmc::runtime::Rng;
using llmc::runtime::Sampler;
using llmc::test::ReferenceSampler;

namespace {

std::vector<float> make_row(std::mt19937& g, int32_t vocab, int kind) {
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> row(vocab);
  for (auto& x : row) x = normal(g);
  switch (kind) {
    case 1:  // coarse values: many exact ties
      for (auto& x : row) x = std::round(x);
      break;
    case 2:  // some -inf (masked) and NaN entries
      for (auto& x : row) {
        const auto u = g() % 10;
        if (u == 0) x = -INFINITY;
        else if (u == 1) x = NAN;
      }
      break;
    case 3:
      for (auto& x : row) x = -INFINITY;
      break;
    case 4:
      for (auto& x : row) x = NAN;
      break;
    case 5:  // one dominant token (a nucleus of one) and a long flat tail
      for (auto& x : row) x *= 0.01f;
      row[g() % vocab] = 40.0f;
      break;
    default:
      break;
  }
  return row;
}

template <class S>
double us_per_sample(S& s, const std::vector<float>& row, const llmc_sampling_params& p, const std::vector<int32_t>& history) {
  Rng rng(p.seed);
  const int reps = 200;
  volatile int32_t sink = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) sink = sink + s.sample(row.data(), p, history, rng);
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / reps;
}

int perf() {
  std::mt19937 g(7);
  for (int32_t vocab : {32000, 128256})
  for (int shape = 0; shape < 2; ++shape) {
    // flat: normal(0, 3) logits, whose top-p 0.95 nucleus holds thousands of tokens; peaked: logit = -1.5 ln(rank)
    // at random ranks, a nucleus of tens of tokens, as a language model's next-token distribution usually is.
    std::vector<float> row = make_row(g, vocab, 0);
    if (shape == 1) {
      std::vector<int32_t> rank(vocab);
      for (int32_t i = 0; i < vocab; ++i) rank[i] = i + 1;
      std::shuffle(rank.begin(), rank.end(), g);
      for (int32_t i = 0; i < vocab; ++i) row[i] = -1.5f * std::log(static_cast<float>(rank[i]));
    }
    std::vector<int32_t> history(256);
    for (auto& h : history) h = static_cast<int32_t>(g() % vocab);
    Sampler fast(vocab);
    ReferenceSampler ref(vocab);
    const struct { const char* name; llmc_sampling_params p; } sets[] = {
        {"greedy", {0.0f, 0, 1.0f, 1.0f, 1}}, {"greedy + penalty 1.1", {0.0f, 0, 1.0f, 1.1f, 1}},
        {"t 0.8", {0.8f, 0, 1.0f, 1.0f, 1}}, {"t 0.8 top_k 40", {0.8f, 40, 1.0f, 1.0f, 1}},
        {"t 0.8 top_p 0.95", {0.8f, 0, 0.95f, 1.0f, 1}}, {"t 0.8 top_k 40 top_p 0.9 penalty 1.1", {0.8f, 40, 0.9f, 1.1f, 1}}};
    for (const auto& s : sets) {
      std::printf("vocab %6d %-6s %-38s sampler %8.1f us   reference %8.1f us\n", vocab, shape ? "peaked" : "flat", s.name, us_per_sample(fast, row, s.p, history),
                  us_per_sample(ref, row, s.p, history));
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--perf") == 0) return perf();
  std::mt19937 g(1234);
  const int32_t vocabs[] = {1, 2, 7, 100, 300, 5000, 32000};
  const float temps[] = {0.0f, 0.3f, 1.0f, 1.7f};
  const float top_ps[] = {1.0f, 0.95f, 0.5f, 1e-6f};
  const float penalties[] = {1.0f, 1.3f, 0.7f};
  long cases = 0, failed = 0;
  for (int32_t vocab : vocabs) {
    const int32_t top_ks[] = {0, 1, 5, 50, vocab - 1, vocab, vocab + 3};
    Sampler fast(vocab);
    ReferenceSampler ref(vocab);
    for (int kind = 0; kind < 6; ++kind) {
      const std::vector<float> row = make_row(g, vocab, kind);
      std::vector<int32_t> history;
      for (int i = 0; i < 12; ++i) history.push_back(static_cast<int32_t>(g() % (vocab + 2)) - 1);  // -1 and vocab too
      history.push_back(history[0]);
      for (float t : temps)
        for (int32_t k : top_ks)
          for (float tp : top_ps)
            for (float pen : penalties) {
              if (k < 0) continue;
              const uint64_t seed = g();
              const llmc_sampling_params p{t, k, tp, pen, seed};
              Rng ra(seed), rb(seed);
              const int32_t a = fast.sample(row.data(), p, history, ra);
              const int32_t b = ref.sample(row.data(), p, history, rb);
              const bool same_stream = ra.next() == rb.next();
              ++cases;
              if (a != b || !same_stream) {
                if (++failed <= 20) {
                  std::printf("FAIL vocab %d row kind %d t %g top_k %d top_p %g penalty %g: sampler %d, reference %d%s\n", vocab, kind,
                              t, k, tp, pen, a, b, same_stream ? "" : " (different random numbers drawn)");
                }
              }
            }
    }
  }
  std::printf("sampler_test: %ld cases, %ld failed\n", cases, failed);
  return failed == 0 ? 0 : 1;
}
