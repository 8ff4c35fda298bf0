#include "dummy_weights.h"

#include <algorithm>
#include <cmath>
#include <atomic>
#include <thread>
#include <vector>

#include "../cpu/dtype.h"
#include "../cpu/thread_pool.h"
#include "dummy_rng.h"
#include "errors.h"

namespace llmc::runtime {

namespace {

constexpr uint64_t kAlign = 64;
constexpr int64_t kChunk = int64_t{1} << 20;  // elements per work item: small enough to balance, big enough to stream

template <typename Store>
void generate(const DummyInit& d, int64_t begin, int64_t end, Store store) {
  const float k = dummy::scale_for_std(d.std);
  switch (d.kind) {
    case DummyInit::Kind::normal:
      for (int64_t i = begin; i < end; ++i) store(i - begin, float(dummy::centered_sum(dummy::splitmix64(d.seed, uint64_t(i)))) * k);
      break;
    case DummyInit::Kind::ones:
      for (int64_t i = begin; i < end; ++i) {
        const float noise = float(dummy::centered_sum(dummy::splitmix64(d.seed, uint64_t(i)))) * k;
        store(i - begin, 1.0f + noise);
      }
      break;
    case DummyInit::Kind::constant:
      for (int64_t i = begin; i < end; ++i) store(i - begin, d.value);
      break;
    case DummyInit::Kind::none:
      break;
  }
}

struct Item {
  const WeightInfo* w;
  uint8_t* base;  // the weight's storage
  int64_t begin, end;
};

}  // namespace

void generate_dummy(const WeightInfo& w, int64_t begin, int64_t end, void* out) {
  switch (w.dtype) {
    case DType::f32: {
      float* o = static_cast<float*>(out);
      generate(w.dummy, begin, end, [o](int64_t j, float x) { o[j] = x; });
      break;
    }
    case DType::f16: {
      uint16_t* o = static_cast<uint16_t*>(out);
      generate(w.dummy, begin, end, [o](int64_t j, float x) { o[j] = cpu::f32_to_f16(x); });
      break;
    }
    case DType::bf16: {
      uint16_t* o = static_cast<uint16_t*>(out);
      generate(w.dummy, begin, end, [o](int64_t j, float x) { o[j] = cpu::f32_to_bf16(x); });
      break;
    }
    // Quantized codes (llmc build --dummy-weights --quantize): the generated value rounded (half away from zero)
    // and clamped into the code: i8 [-127, 127], u4 8 + value in [0, 15] (two per byte), fp8 the nearest E4M3.
    case DType::i8: {
      int8_t* o = static_cast<int8_t*>(out);
      generate(w.dummy, begin, end, [o](int64_t j, float x) { o[j] = int8_t(std::clamp(std::round(x), -127.0f, 127.0f)); });
      break;
    }
    case DType::u4: {
      // begin is even (chunks are whole bytes), so element j of the chunk is nibble j & 1 of byte j / 2.
      uint8_t* o = static_cast<uint8_t*>(out);
      generate(w.dummy, begin, end, [o](int64_t j, float x) {
        const uint8_t v = uint8_t(std::clamp(8.0f + std::round(x), 0.0f, 15.0f));
        o[j / 2] = (j & 1) ? uint8_t((o[j / 2] & 0x0f) | (v << 4)) : uint8_t((o[j / 2] & 0xf0) | v);
      });
      break;
    }
    case DType::f8e4m3: {
      uint8_t* o = static_cast<uint8_t*>(out);
      generate(w.dummy, begin, end, [o](int64_t j, float x) { o[j] = cpu::f32_to_fp8e4m3(x); });
      break;
    }
    default:  // indices: the compiler never writes dummy settings for them
      fail(LLMC_ERR_BAD_ENGINE, std::string("a dummy weight of dtype ") + dtype_name(w.dtype) + " cannot be generated; rebuild the engine");
  }
}

void fill_dummy_weights(LoadedEngine& e, int num_threads) {
  // Lay the dummy weights out in one mapping, each 64-byte aligned like the data section.
  std::vector<std::pair<WeightInfo*, uint64_t>> placed;
  uint64_t total = 0;
  for (PlanValue& v : e.plan.values) {
    if (!v.is_weight() || !v.weight.is_dummy() || v.weight.data != nullptr) continue;
    total = (total + kAlign - 1) / kAlign * kAlign;
    placed.emplace_back(&v.weight, total);
    total += v.weight.nbytes;
  }
  if (placed.empty()) return;
  e.dummy_storage.allocate(total, "dummy weights (" + std::to_string(total) + " bytes)");
  uint8_t* base = reinterpret_cast<uint8_t*>(e.dummy_storage.floats());

  std::vector<Item> items;
  for (auto& [w, offset] : placed) {
    int64_t n = 1;
    for (int64_t d : w->shape) n *= d;
    for (int64_t b = 0; b < n; b += kChunk) items.push_back({w, base + offset, b, std::min(n, b + kChunk)});
    w->data = base + offset;
  }
  int threads = num_threads > 0 ? num_threads : cpu::default_thread_count();
  threads = int(std::min<size_t>(size_t(threads), items.size()));
  std::atomic<size_t> next{0};
  auto work = [&]() {
    for (size_t i = next++; i < items.size(); i = next++) {
      const Item& it = items[i];
      const uint64_t byte0 = it.w->dtype == DType::u4 ? uint64_t(it.begin) / 2 : uint64_t(it.begin) * cpu::dtype_size(it.w->dtype);
      generate_dummy(*it.w, it.begin, it.end, it.base + byte0);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
}

}  // namespace llmc::runtime
