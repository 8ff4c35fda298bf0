// C API: llmc_generate (one request through the executor), llmc_score, and the in-flight batching executor.
#include <algorithm>
#include <cmath>
#include <deque>

#include "engine.h"
#include "errors.h"
#include "executor.h"

using llmc::runtime::Executor;
using llmc::runtime::fail;
using llmc::runtime::guard;

// Events a step produced beyond the caller's capacity wait here for the next llmc_executor_step call.
struct llmc_executor {
  llmc_executor(llmc_engine& e, const llmc_executor_options& o) : ex(e, o) {}
  Executor ex;
  std::deque<llmc_step_event> outbox;
};

namespace {

void check_engine(const llmc_engine* engine, const char* fn) {
  if (engine == nullptr) fail(LLMC_ERR_INVALID_ARGUMENT, std::string(fn) + ": engine is NULL");
}

// Natural log of sum(exp(row)) in double, max-shifted.
double log_sum_exp(const float* row, int64_t n) {
  float m = -INFINITY;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, row[i]);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(row[i]) - m);
  return m + std::log(s);
}

}  // namespace

extern "C" {

int llmc_generate(llmc_engine* engine, const llmc_request_params* params, llmc_generate_result* result) {
  return guard([&] {
    check_engine(engine, "llmc_generate");
    if (params == nullptr || result == nullptr) fail(LLMC_ERR_INVALID_ARGUMENT, "llmc_generate: params and result must not be NULL");
    if (params->max_new_tokens > 0 && result->output_ids == nullptr) {
      fail(LLMC_ERR_INVALID_ARGUMENT, "llmc_generate: result->output_ids must hold max_new_tokens ids");
    }
    result->num_output = 0;
    result->logits_rows = 0;
    result->stop_reason = LLMC_STOP_NONE;
    result->prefill_ms = result->decode_ms = 0;

    Executor ex(*engine);
    const int64_t id = ex.add(*params, /*keep_outcome=*/true);
    std::vector<llmc_step_event> events;
    llmc::runtime::RequestOutcome outcome;
    while (!ex.take_outcome(id, &outcome)) {
      events.clear();
      ex.step(events);
      for (const llmc_step_event& e : events) {
        if (e.token_id >= 0 && result->num_output < params->max_new_tokens) result->output_ids[result->num_output++] = e.token_id;
      }
    }
    result->logits_rows = outcome.logits_rows;
    result->stop_reason = outcome.stop_reason;
    result->prefill_ms = outcome.prefill_ms;
    result->decode_ms = outcome.decode_ms;
  });
}

int llmc_score(llmc_engine* engine, const int32_t* tokens, int32_t n, double* nll_sum, int32_t* num_scored) {
  return guard([&] {
    check_engine(engine, "llmc_score");
    if (nll_sum == nullptr || num_scored == nullptr) fail(LLMC_ERR_INVALID_ARGUMENT, "llmc_score: outputs must not be NULL");
    *nll_sum = 0;
    *num_scored = 0;
    const llmc::runtime::Plan& plan = engine->plan();
    if (n < 1 || tokens == nullptr) fail(LLMC_ERR_INVALID_ARGUMENT, "llmc_score: needs at least 1 token");
    if (n > plan.limits.max_seq_len) {
      fail(LLMC_ERR_LIMIT, "llmc_score: " + std::to_string(n) + " tokens exceed the engine's max_seq_len " +
                               std::to_string(plan.limits.max_seq_len) + "; score shorter windows or rebuild with --max-seq-len " +
                               std::to_string(n));
    }
    const int32_t vocab = plan.model.vocab_size;
    for (int32_t i = 0; i < n; ++i) {
      if (tokens[i] < 0 || tokens[i] >= vocab) {
        fail(LLMC_ERR_INVALID_ARGUMENT, "token " + std::to_string(i) + " has id " + std::to_string(tokens[i]) +
                                            ", outside the vocabulary [0, " + std::to_string(vocab) + ")");
      }
    }
    if (n == 1) return;

    // One sequence: blocks for n - 1 positions (the last token is only a target), released on every exit path.
    llmc::runtime::KvBlockPool& pool = *engine->kv_pool;
    struct Blocks {
      llmc::runtime::KvBlockPool& pool;
      std::vector<int32_t> table;
      ~Blocks() { pool.release(&table); }
    } blocks{pool, {}};
    const int32_t need = pool.blocks_for_tokens(n - 1);
    if (!pool.allocate(need, &blocks.table)) {
      fail(LLMC_ERR_LIMIT, "llmc_score: needs " + std::to_string(need) + " KV-cache blocks, " + std::to_string(pool.free_blocks()) +
                               " free of " + std::to_string(pool.num_blocks()));
    }
    const int32_t max_blocks = pool.blocks_for_tokens(plan.limits.max_seq_len);
    std::vector<int32_t> table(static_cast<size_t>(max_blocks), 0);
    std::copy(blocks.table.begin(), blocks.table.end(), table.begin());

    // Prefill tokens[0, n-1) in chunks of max_num_tokens; row t predicts tokens[t + 1].
    std::vector<int32_t> positions, seq, rows;
    double nll = 0;
    // Every token's logits: chunks of at most max_logit_rows tokens.
    const int32_t chunk = llmc::runtime::max_logit_rows(plan.limits);
    for (int32_t start = 0; start < n - 1; start += chunk) {
      const int32_t count = std::min(chunk, n - 1 - start);
      positions.resize(count);
      seq.assign(count, 0);
      rows.resize(count);
      for (int32_t i = 0; i < count; ++i) {
        positions[i] = start + i;
        rows[i] = i;  // every token's logits
      }
      llmc::runtime::StepBatch b;
      b.num_tokens = count;
      b.token_ids = tokens + start;
      b.positions = positions.data();
      b.seq_of_token = seq.data();
      b.num_seqs = 1;
      b.block_tables = table.data();
      b.max_blocks_per_seq = max_blocks;
      b.logit_rows = rows.data();
      b.num_logit_rows = count;
      std::lock_guard<std::mutex> lock(engine->step_mutex);
      const float* logits = engine->backend->run_step(b);
      for (int32_t i = 0; i < count; ++i) {
        const float* row = logits + int64_t{i} * vocab;
        nll += log_sum_exp(row, vocab) - row[tokens[start + i + 1]];
      }
    }
    *nll_sum = nll;
    *num_scored = n - 1;
  });
}

int llmc_executor_create(llmc_engine* engine, llmc_executor** out) {
  return guard([&] {
    if (out == nullptr) fail(LLMC_ERR_INVALID_ARGUMENT, "llmc_executor_create: out is NULL");
    *out = nullptr;
    check_engine(engine, "llmc_executor_create");
    *out = new llmc_executor(*engine, Executor::default_options());
  });
}

int llmc_executor_create_with_options(llmc_engine* engine, const llmc_executor_options* opts, llmc_executor** out) {
  return guard([&] {
    if (out == nullptr) fail(LLMC_ERR_INVALID_ARGUMENT, "llmc_executor_create_with_options: out is NULL");
    *out = nullptr;
    check_engine(engine, "llmc_executor_create_with_options");
    *out = new llmc_executor(*engine, opts != nullptr ? *opts : Executor::default_options());
  });
}

int llmc_executor_cancel(llmc_executor* ex, int64_t request_id) {
  return guard([&] {
    if (ex == nullptr) fail(LLMC_ERR_INVALID_ARGUMENT, "llmc_executor_cancel: executor is NULL");
    ex->ex.cancel(request_id);
  });
}

int llmc_executor_get_stats(llmc_executor* ex, llmc_executor_stats* out) {
  return guard([&] {
    if (ex == nullptr || out == nullptr) fail(LLMC_ERR_INVALID_ARGUMENT, "llmc_executor_get_stats: executor and out must not be NULL");
    *out = ex->ex.stats();
  });
}

void llmc_executor_free(llmc_executor* ex) { delete ex; }

int llmc_executor_add(llmc_executor* ex, const llmc_request_params* params, int64_t* request_id) {
  return guard([&] {
    if (ex == nullptr || params == nullptr) fail(LLMC_ERR_INVALID_ARGUMENT, "llmc_executor_add: executor and params must not be NULL");
    const int64_t id = ex->ex.add(*params);
    if (request_id != nullptr) *request_id = id;
  });
}

int llmc_executor_step(llmc_executor* ex, llmc_step_event* events, int32_t capacity, int32_t* num_events,
                       int32_t* num_active) {
  if (num_events != nullptr) *num_events = 0;
  return guard([&] {
    if (ex == nullptr) fail(LLMC_ERR_INVALID_ARGUMENT, "llmc_executor_step: executor is NULL");
    if (capacity < 0 || (capacity > 0 && events == nullptr)) {
      fail(LLMC_ERR_INVALID_ARGUMENT, "llmc_executor_step: events must hold capacity entries");
    }
    // Deliver what an earlier call could not before running another step, so events stay in order.
    struct Deliver {
      llmc_executor* ex;
      llmc_step_event* events;
      int32_t capacity;
      int32_t* num_events;
      int32_t* num_active;
      ~Deliver() {
        int32_t n = 0;
        while (n < capacity && !ex->outbox.empty()) {
          events[n++] = ex->outbox.front();
          ex->outbox.pop_front();
        }
        if (num_events != nullptr) *num_events = n;
        // Requests still queued or running, plus finished ones whose final event is not delivered yet.
        int32_t undelivered_finishes = 0;
        for (const llmc_step_event& e : ex->outbox) undelivered_finishes += e.finished ? 1 : 0;
        if (num_active != nullptr) *num_active = ex->ex.num_active() + undelivered_finishes;
      }
    } deliver{ex, events, capacity, num_events, num_active};
    if (!ex->outbox.empty()) return;
    std::vector<llmc_step_event> produced;
    struct Keep {  // events of a step that failed half-way are still delivered
      std::vector<llmc_step_event>& produced;
      std::deque<llmc_step_event>& outbox;
      ~Keep() { outbox.insert(outbox.end(), produced.begin(), produced.end()); }
    } keep{produced, ex->outbox};
    ex->ex.step(produced);
  });
}

}  // extern "C"
