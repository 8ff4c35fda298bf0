// On-device token selection: only the chosen ids leave the GPU (4 bytes per row instead of vocab * 4).
//
//   llmc_argmax  greedy: largest logit, lowest id on ties, NaN never wins (all-NaN -> 0), like the CPU sampler.
//   llmc_sample  per row: temperature -> top-k -> top-p -> draw, HuggingFace's order and the CPU sampler's rules:
//     x = logit / T over the finite values (none finite -> greedy on the raw logits);
//     top-k keeps the k best (ties -> lower id); top-p keeps the shortest prefix, in (x desc, id asc) order, whose
//     probability reaches top_p (at least one); then one uniform draw u from Philox4x32-10(seed, counter) picks the
//     first candidate whose cumulative weight passes u * Z, walking them in (x desc, id asc) order when top-k or
//     top-p applied, in id order otherwise (as the CPU sampler does). Softmax sums are in f64.
//     The k-th largest value and the nucleus boundary are found by bisection on the 32-bit order key of the values
//     (32 counting / mass passes over the row, which stays in L2); candidate sets of up to 1024 are gathered and
//     bitonic-sorted in shared memory, which makes the order (and so the draw) exact. A nucleus of more than 1024
//     tokens (a very flat distribution without top-k) keeps its whole boundary tie group and is walked in id order:
//     the same distribution up to that tie group.
//   grid: rows   block: kSampleThreads (1024)   scratch: [rows, vocab] f32
// The draw differs from the CPU sampler's (xoshiro256**) stream: the same seed reproduces on the same backend.
#include "common.cuh"
#include "philox.h"

namespace llmc_sampling {

using namespace llmc_dev;

constexpr int NT = kSampleThreads, NS = kSampleMaxSorted;

LLMC_DEVICE uint32_t order_key(float x) {
  const uint32_t u = __float_as_uint(x);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

LLMC_DEVICE bool better(float v1, int i1, float v2, int i2) { return v1 > v2 || (v1 == v2 && i1 < i2); }

// Block-wide argmax of row[0, n): the CPU sampler's greedy rule. Returns the id in every thread.
LLMC_DEVICE int block_argmax(const float* row, int n, float* fscr, int* iscr) {
  float bv = -INFINITY;
  int bi = 0x7fffffff;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const float x = row[i];
    if (better(x, i, bv, bi)) {
      bv = x;
      bi = i;
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(kFullMask, bv, o);
    const int oi = __shfl_xor_sync(kFullMask, bi, o);
    if (better(ov, oi, bv, bi)) {
      bv = ov;
      bi = oi;
    }
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) {
    fscr[warp] = bv;
    iscr[warp] = bi;
  }
  __syncthreads();
  bv = lane < nwarps ? fscr[lane] : -INFINITY;
  bi = lane < nwarps ? iscr[lane] : 0x7fffffff;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(kFullMask, bv, o);
    const int oi = __shfl_xor_sync(kFullMask, bi, o);
    if (better(ov, oi, bv, bi)) {
      bv = ov;
      bi = oi;
    }
  }
  return bi == 0x7fffffff ? 0 : bi;
}

struct Smem {
  float cand_v[NS];
  int cand_i[NS];
  double cand_w[NS];  // inclusive prefix sums of the sorted candidates' weights
  double dscr[32];
  float fscr[32];
  int iscr[33];
  int pick;
};

// Candidate test: finite after top-k cuts, order key >= thr.
LLMC_DEVICE bool is_cand(float x, uint32_t thr) { return x > -INFINITY && order_key(x) >= thr; }

LLMC_DEVICE int count_ge(const float* x, int n, uint32_t thr, int* iscr) {
  int c = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) c += is_cand(x[i], thr) ? 1 : 0;
  return block_sum_i(c, iscr);
}

LLMC_DEVICE double mass_ge(const float* x, int n, uint32_t thr, float mx, double* dscr) {
  double s = 0.0;
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    if (is_cand(x[i], thr)) s += exp(double(x[i]) - double(mx));
  return block_sum_d(s, dscr);
}

LLMC_DEVICE void sample_row(const SampleParams& p, Smem& sm) {
  const int row = blockIdx.x, V = p.vocab, tid = threadIdx.x;
  const SampleRow s = p.settings[row];
  const float* logits = p.logits + int64_t(row) * V;
  float* x = p.scratch + int64_t(row) * V;
  if (!(s.temperature > 0.0f)) {
    const int id = block_argmax(logits, V, sm.fscr, sm.iscr);
    if (tid == 0) p.ids[row] = id;
    return;
  }

  // 1. x = logit / T, finite values only (others -inf: never candidates).
  const float inv_t = 1.0f / s.temperature;
  float mx = -INFINITY;
  int nfin = 0;
  for (int i = tid; i < V; i += NT) {
    const float v = logits[i] * inv_t;
    const bool fin = isfinite(v);
    x[i] = fin ? v : -INFINITY;
    if (fin) {
      mx = fmaxf(mx, v);
      ++nfin;
    }
  }
  mx = block_max(mx, sm.fscr);
  nfin = block_sum_i(nfin, sm.iscr);
  if (nfin == 0) {
    const int id = block_argmax(logits, V, sm.fscr, sm.iscr);
    if (tid == 0) p.ids[row] = id;
    return;
  }

  // 2. top-k: thr = order key of the k-th largest value; surplus ties at thr dropped from the highest ids.
  uint32_t thr = 0;
  int n = nfin;
  if (s.top_k > 0 && s.top_k < nfin) {
    uint32_t t = 0;
    for (int b = 31; b >= 0; --b) {
      const uint32_t cand = t | (1u << b);
      if (count_ge(x, V, cand, sm.iscr) >= s.top_k) t = cand;
    }
    const int ge = count_ge(x, V, t, sm.iscr);
    if (ge > s.top_k) {
      const int gt = t == 0xffffffffu ? 0 : count_ge(x, V, t + 1, sm.iscr);
      const int keep_ties = s.top_k - gt;
      int seen = 0;
      for (int base = 0; base < V; base += NT) {
        const int i = base + tid;
        const bool tie = i < V && x[i] > -INFINITY && order_key(x[i]) == t;
        int total;
        const int before = block_exclusive_scan_i(tie ? 1 : 0, sm.iscr, &total);
        if (tie && seen + before >= keep_ties) x[i] = -INFINITY;
        seen += total;
      }
      __syncthreads();
    }
    thr = t;
    n = s.top_k;
  }

  // 3. top-p on large candidate sets: the largest order key whose tail mass still reaches top_p * Z.
  double z_top_p = -1.0;  // when narrowed: the candidates' full mass, which top_p is relative to
  if (s.top_p < 1.0f && n > NS) {
    const double z = mass_ge(x, V, thr, mx, sm.dscr);
    z_top_p = z;
    const double target = double(s.top_p) * z;
    uint32_t t = 0;
    for (int b = 31; b >= 0; --b) {
      const uint32_t cand = t | (1u << b);
      const uint32_t eff = cand > thr ? cand : thr;
      if (mass_ge(x, V, eff, mx, sm.dscr) >= target) t = cand;
    }
    if (t > thr) thr = t;
    n = count_ge(x, V, thr, sm.iscr);
  }

  const double u = llmc::philox::uniform(s.seed, s.counter);
  // The CPU sampler walks the candidates in (x desc, id asc) order once top-k or top-p has sorted them, and in id
  // order otherwise: the same here, so a draw u picks the same token.
  const bool sorted_walk = (s.top_k > 0 && s.top_k < nfin) || s.top_p < 1.0f;
  int id;
  if (sorted_walk && n <= NS) {
    // 4a. Gather the candidates in id order, sort by (x desc, id asc), prefix-sum the weights.
    int gathered = 0;
    for (int base = 0; base < V; base += NT) {
      const int i = base + tid;
      const bool c = i < V && is_cand(x[i], thr);
      int total;
      const int at = gathered + block_exclusive_scan_i(c ? 1 : 0, sm.iscr, &total);
      if (c && at < NS) {
        sm.cand_v[at] = x[i];
        sm.cand_i[at] = i;
      }
      gathered += total;
    }
    for (int j = gathered + tid; j < NS; j += NT) {
      sm.cand_v[j] = -INFINITY;
      sm.cand_i[j] = 0x7fffffff;
    }
    __syncthreads();
    for (int k = 2; k <= NS; k <<= 1) {
      for (int j = k >> 1; j > 0; j >>= 1) {
        for (int i = tid; i < NS; i += NT) {
          const int ixj = i ^ j;
          if (ixj > i) {
            const bool first_half = (i & k) == 0;
            const bool swap = first_half ? better(sm.cand_v[ixj], sm.cand_i[ixj], sm.cand_v[i], sm.cand_i[i])
                                         : better(sm.cand_v[i], sm.cand_i[i], sm.cand_v[ixj], sm.cand_i[ixj]);
            if (swap) {
              const float tv = sm.cand_v[i];
              sm.cand_v[i] = sm.cand_v[ixj];
              sm.cand_v[ixj] = tv;
              const int ti = sm.cand_i[i];
              sm.cand_i[i] = sm.cand_i[ixj];
              sm.cand_i[ixj] = ti;
            }
          }
        }
        __syncthreads();
      }
    }
    const double w = tid < gathered ? exp(double(sm.cand_v[tid]) - double(mx)) : 0.0;
    const double incl = block_inclusive_scan_d(w, sm.dscr);
    sm.cand_w[tid] = incl;
    __syncthreads();
    const double total = sm.cand_w[gathered - 1];
    int keep = gathered;
    if (s.top_p < 1.0f) {
      const double z = z_top_p >= 0.0 ? z_top_p : total;
      const bool in_nucleus = tid < gathered && (incl - w) < double(s.top_p) * z;
      keep = block_sum_i(in_nucleus ? 1 : 0, sm.iscr);
      if (keep < 1) keep = 1;
    }
    const double target = u * sm.cand_w[keep - 1];
    if (tid == 0) sm.pick = keep - 1;
    __syncthreads();
    if (tid < keep && sm.cand_w[tid] > target) atomicMin(&sm.pick, tid);
    __syncthreads();
    id = sm.cand_i[sm.pick];
  } else {
    // 4b. Walk the candidates in id order.
    const double z = mass_ge(x, V, thr, mx, sm.dscr);
    const double target = u * z;
    double run = 0.0;
    int last = -1;
    if (tid == 0) sm.pick = 0x7fffffff;
    for (int base = 0; base < V; base += NT) {
      const int i = base + tid;
      const bool c = i < V && is_cand(x[i], thr);
      const double w = c ? exp(double(x[i]) - double(mx)) : 0.0;
      const double incl = block_inclusive_scan_d(w, sm.dscr);
      if (c && run + incl > target) atomicMin(&sm.pick, i);
      if (c) last = i;
      run += block_sum_d(w, sm.dscr);
      __syncthreads();
      if (sm.pick != 0x7fffffff) break;
    }
    // Rounding can leave u * z past the last partial sum: take the last candidate.
    __syncthreads();
    if (sm.pick == 0x7fffffff) {
      if (tid == 0) sm.pick = -1;
      __syncthreads();
      if (last >= 0) atomicMax(&sm.pick, last);
      __syncthreads();
    }
    id = sm.pick;
  }
  if (tid == 0) p.ids[row] = id;
}


LLMC_KERNEL void __launch_bounds__(kSampleThreads) llmc_argmax(const llmc::kabi::ArgmaxParams p) {
  __shared__ float fscr[32];
  __shared__ int iscr[32];
  const int id = llmc_sampling::block_argmax(p.logits + int64_t(blockIdx.x) * p.vocab, p.vocab, fscr, iscr);
  if (threadIdx.x == 0) p.ids[blockIdx.x] = id;
}

LLMC_KERNEL void __launch_bounds__(kSampleThreads) llmc_sample(const llmc::kabi::SampleParams p) {
  __shared__ llmc_sampling::Smem sm;
  llmc_sampling::sample_row(p, sm);
}

}  // namespace llmc_sampling
