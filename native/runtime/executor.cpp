#include "executor.h"

#include <algorithm>

#include "errors.h"

namespace llmc::runtime {

namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// KV positions a request can ever write: its prompt and every generated token but the last (never fed back).
int64_t kv_positions_needed(int32_t prompt_len, int32_t max_new_tokens) {
  return std::max<int64_t>(prompt_len, int64_t{prompt_len} + max_new_tokens - 1);
}

}  // namespace

Executor::Executor(llmc_engine& engine) : engine_(engine), plan_(engine.plan()), sampler_(engine.plan().model.vocab_size) {
  max_blocks_per_seq_ = engine_.kv_pool->blocks_for_tokens(plan_.limits.max_seq_len);
}

Executor::~Executor() {
  for (auto& r : running_) engine_.kv_pool->release(&r->block_table);
}

bool Executor::cancelled(const Request& r) const {
  return engine_.cancel_epoch.load(std::memory_order_relaxed) != r.cancel_epoch;
}

// ---- Adding requests ------------------------------------------------------------------------------------------

int64_t Executor::add(const llmc_request_params& p, bool keep_outcome) {
  const Limits& lim = plan_.limits;
  const int32_t vocab = plan_.model.vocab_size;
  if (p.prompt_len < 1 || p.prompt == nullptr) {
    fail(LLMC_ERR_INVALID_ARGUMENT, "the prompt must have at least 1 token (got " + std::to_string(p.prompt_len) + ")");
  }
  if (p.max_new_tokens < 0) fail(LLMC_ERR_INVALID_ARGUMENT, "max_new_tokens must be >= 0, got " + std::to_string(p.max_new_tokens));
  if (int64_t{p.prompt_len} + p.max_new_tokens > lim.max_seq_len) {
    fail(LLMC_ERR_LIMIT, "prompt of " + std::to_string(p.prompt_len) + " tokens + " + std::to_string(p.max_new_tokens) +
                             " new tokens exceeds the engine's max_seq_len " + std::to_string(lim.max_seq_len) +
                             "; rebuild with --max-seq-len " + std::to_string(int64_t{p.prompt_len} + p.max_new_tokens) +
                             " or lower --max-new-tokens");
  }
  for (int32_t i = 0; i < p.prompt_len; ++i) {
    if (p.prompt[i] < 0 || p.prompt[i] >= vocab) {
      fail(LLMC_ERR_INVALID_ARGUMENT, "prompt token " + std::to_string(i) + " has id " + std::to_string(p.prompt[i]) +
                                          ", outside the vocabulary [0, " + std::to_string(vocab) + ")");
    }
  }
  if (p.num_eos_ids < 0 || (p.num_eos_ids > 0 && p.eos_ids == nullptr)) {
    fail(LLMC_ERR_INVALID_ARGUMENT, "eos_ids must point to num_eos_ids (" + std::to_string(p.num_eos_ids) + ") ids");
  }
  validate_sampling(p.sampling);
  const int32_t blocks = engine_.kv_pool->blocks_for_tokens(kv_positions_needed(p.prompt_len, p.max_new_tokens));
  if (blocks > engine_.kv_pool->num_blocks()) {
    fail(LLMC_ERR_LIMIT, "prompt of " + std::to_string(p.prompt_len) + " tokens + " + std::to_string(p.max_new_tokens) +
                             " new tokens needs " + std::to_string(blocks) + " KV-cache blocks but the cache has " +
                             std::to_string(engine_.kv_pool->num_blocks()) + "; load the engine with a larger kv_cache_bytes");
  }

  auto r = std::make_unique<Request>();
  r->id = next_id_++;
  r->prompt_len = p.prompt_len;
  r->max_new_tokens = p.max_new_tokens;
  r->sampling = p.sampling;
  if (p.num_eos_ids > 0) r->eos_ids.assign(p.eos_ids, p.eos_ids + p.num_eos_ids);
  r->ignore_eos = p.ignore_eos != 0;
  r->on_token = p.on_token;
  r->user = p.user;
  r->keep_outcome = keep_outcome;
  r->cancel_epoch = engine_.cancel_epoch.load(std::memory_order_relaxed);
  r->tokens.reserve(static_cast<size_t>(p.prompt_len) + static_cast<size_t>(p.max_new_tokens));
  r->tokens.assign(p.prompt, p.prompt + p.prompt_len);
  r->rng = Rng(p.sampling.seed);
  if (p.logits_path != nullptr && p.logits_path[0] != '\0') r->logits.open(p.logits_path);
  int64_t id = r->id;
  waiting_.push_back(std::move(r));
  return id;
}

bool Executor::take_outcome(int64_t id, RequestOutcome* out) {
  auto it = outcomes_.find(id);
  if (it == outcomes_.end()) return false;
  *out = it->second;
  outcomes_.erase(it);
  return true;
}

// ---- Scheduling -----------------------------------------------------------------------------------------------

void Executor::add_slot(Request* r, int32_t count) {
  Slot s{};
  s.r = r;
  s.outcome = SlotOutcome::mid_prompt;
  s.token = -1;
  s.start = r->num_computed;
  s.count = count;
  s.first_row = static_cast<int32_t>(token_ids_.size());
  s.first_logit_row = static_cast<int32_t>(logit_rows_.size());
  const int32_t seq = static_cast<int32_t>(slots_.size());
  for (int32_t i = 0; i < count; ++i) {
    token_ids_.push_back(r->tokens[s.start + i]);
    positions_.push_back(s.start + i);
    seq_of_token_.push_back(seq);
  }
  // Logit rows: every fed token's when the request writes a logits file (row = what the next token is drawn
  // from), else only the last token's, and only when it completes the sequence so far (then we sample).
  const bool reaches_end = s.start + count == static_cast<int32_t>(r->tokens.size());
  if (r->wants_all_logits()) {
    for (int32_t i = 0; i < count; ++i) logit_rows_.push_back(s.first_row + i);
  } else if (reaches_end) {
    logit_rows_.push_back(s.first_row + count - 1);
  }
  s.num_logit_rows = static_cast<int32_t>(logit_rows_.size()) - s.first_logit_row;
  // Block table row [max_blocks_per_seq]; unused entries point at block 0 (never read: positions bound reads).
  for (int32_t b = 0; b < max_blocks_per_seq_; ++b) {
    block_tables_.push_back(b < static_cast<int32_t>(r->block_table.size()) ? r->block_table[b] : 0);
  }
  budget_ -= count;
  slots_.push_back(s);
}

void Executor::schedule() {
  slots_.clear();
  token_ids_.clear();
  positions_.clear();
  seq_of_token_.clear();
  block_tables_.clear();
  logit_rows_.clear();
  budget_ = plan_.limits.max_num_tokens;

  // 1. Decode tokens.
  for (auto& r : running_) {
    if (budget_ > 0 && r->num_computed >= r->prompt_len && r->pending() > 0) add_slot(r.get(), 1);
  }
  // 2. Prompt chunks of admitted requests.
  for (auto& r : running_) {
    if (budget_ > 0 && r->num_computed < r->prompt_len) add_slot(r.get(), std::min(r->pending(), budget_));
  }
  // 3. Admit waiting requests in arrival order (the first that does not fit blocks the rest: no overtaking).
  while (budget_ > 0 && !waiting_.empty() && static_cast<int32_t>(running_.size()) < plan_.limits.max_batch_size) {
    Request* r = waiting_.front().get();
    const int32_t blocks = engine_.kv_pool->blocks_for_tokens(kv_positions_needed(r->prompt_len, r->max_new_tokens));
    if (!engine_.kv_pool->allocate(blocks, &r->block_table)) break;
    r->admitted = true;
    r->t_admitted = Clock::now();
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
    add_slot(r, std::min(r->pending(), budget_));
  }
}

// ---- Finishing ------------------------------------------------------------------------------------------------

void Executor::finish(Request* r, int32_t reason, int32_t token, std::vector<llmc_step_event>& events) {
  r->finished = true;
  r->stop_reason = reason;
  r->t_finished = Clock::now();
  engine_.kv_pool->release(&r->block_table);
  std::string err = r->logits.close();
  if (!err.empty() && io_error_.empty()) io_error_ = err;
  if (r->keep_outcome) {
    RequestOutcome o;
    o.num_output = r->generated();
    o.logits_rows = r->logits.rows_written();
    o.stop_reason = reason;
    if (!r->admitted) {
      o.prefill_ms = o.decode_ms = 0;
    } else if (r->generated() > 0) {
      o.prefill_ms = ms_between(r->t_admitted, r->t_first_token);
      o.decode_ms = ms_between(r->t_first_token, r->t_finished);
    } else {
      o.prefill_ms = ms_between(r->t_admitted, r->t_finished);
    }
    outcomes_[r->id] = o;
  }
  events.push_back(llmc_step_event{r->id, token, 1, reason});
}

void Executor::finish_cancelled(std::vector<llmc_step_event>& events) {
  for (auto& r : running_) {
    if (!r->finished && cancelled(*r)) finish(r.get(), LLMC_STOP_CANCELLED, -1, events);
  }
  for (auto& r : waiting_) {
    if (!r->finished && cancelled(*r)) finish(r.get(), LLMC_STOP_CANCELLED, -1, events);
  }
  drop_finished();
}

void Executor::drop_finished() {
  running_.erase(std::remove_if(running_.begin(), running_.end(), [](const auto& r) { return r->finished; }), running_.end());
  waiting_.erase(std::remove_if(waiting_.begin(), waiting_.end(), [](const auto& r) { return r->finished; }), waiting_.end());
}

// ---- One step -------------------------------------------------------------------------------------------------

// Under the step lock (the logits are only valid until the next step): write logits rows, advance the cache
// position, sample. Callbacks and events come after the lock is released (emit_slot).
void Executor::consume_logits(Slot& s, const float* logits) {
  Request* r = s.r;
  const int64_t vocab = plan_.model.vocab_size;
  const float* rows = logits + int64_t{s.first_logit_row} * vocab;
  if (r->wants_all_logits() && !r->logits.write_rows(rows, s.num_logit_rows, vocab)) {
    s.outcome = SlotOutcome::io_error;
    return;
  }
  r->num_computed = s.start + s.count;
  if (r->pending() > 0) {
    s.outcome = SlotOutcome::mid_prompt;
  } else if (r->generated() >= r->max_new_tokens) {
    s.outcome = SlotOutcome::prefill_only;  // max_new_tokens == 0: the prefill only wrote logits
  } else {
    const float* last = rows + int64_t{s.num_logit_rows - 1} * vocab;
    s.token = sampler_.sample(last, r->sampling, r->tokens, r->rng);
    s.outcome = SlotOutcome::sampled;
  }
}

// The same bookkeeping as consume_logits for a step run with Backend::run_step_argmax: ids[row] is the greedy token
// of each logit row (the argmax Sampler::sample would pick with temperature 0 and no repetition penalty).
void Executor::consume_ids(Slot& s, const int32_t* ids) {
  Request* r = s.r;
  r->num_computed = s.start + s.count;
  if (r->pending() > 0) {
    s.outcome = SlotOutcome::mid_prompt;
  } else if (r->generated() >= r->max_new_tokens) {
    s.outcome = SlotOutcome::prefill_only;
  } else {
    s.token = ids[s.first_logit_row + s.num_logit_rows - 1];
    s.outcome = SlotOutcome::sampled;
  }
}

// Every request in the step samples greedily without a repetition penalty and writes no logits file: the backend
// may return argmax ids instead of logits.
bool Executor::step_is_greedy_only() const {
  for (const Slot& s : slots_) {
    const Request& r = *s.r;
    if (r.wants_all_logits() || r.sampling.temperature != 0.0f || r.sampling.repetition_penalty != 1.0f) return false;
  }
  return true;
}

void Executor::emit_slot(const Slot& s, std::vector<llmc_step_event>& events) {
  Request* r = s.r;
  switch (s.outcome) {
    case SlotOutcome::mid_prompt: return;
    case SlotOutcome::io_error: finish(r, LLMC_STOP_NONE, -1, events); return;  // reported when the step returns
    case SlotOutcome::prefill_only: finish(r, LLMC_STOP_LENGTH, -1, events); return;
    case SlotOutcome::sampled: break;
  }
  const int32_t token = s.token;
  r->tokens.push_back(token);
  const int32_t index = r->generated() - 1;
  if (index == 0) r->t_first_token = Clock::now();
  const bool stop_requested = r->on_token != nullptr && r->on_token(r->user, token, index) != 0;

  int32_t reason = LLMC_STOP_NONE;
  if (!r->ignore_eos && std::find(r->eos_ids.begin(), r->eos_ids.end(), token) != r->eos_ids.end()) reason = LLMC_STOP_EOS;
  else if (stop_requested) reason = LLMC_STOP_CALLBACK;
  else if (r->generated() >= r->max_new_tokens) reason = LLMC_STOP_LENGTH;
  else if (cancelled(*r)) reason = LLMC_STOP_CANCELLED;
  if (reason != LLMC_STOP_NONE) {
    finish(r, reason, token, events);
  } else {
    events.push_back(llmc_step_event{r->id, token, 0, LLMC_STOP_NONE});
  }
}

void Executor::step(std::vector<llmc_step_event>& events) {
  io_error_.clear();
  finish_cancelled(events);

  // Requests with nothing to compute (max_new_tokens == 0 and no logits file) finish without a step.
  for (auto& r : waiting_) {
    if (r->max_new_tokens == 0 && !r->wants_all_logits()) finish(r.get(), LLMC_STOP_LENGTH, -1, events);
  }
  drop_finished();

  schedule();
  if (slots_.empty()) {
    if (!waiting_.empty() && running_.empty()) {
      const Request& r = *waiting_.front();
      fail(LLMC_ERR_LIMIT, "request " + std::to_string(r.id) + " waits for " +
                               std::to_string(engine_.kv_pool->blocks_for_tokens(kv_positions_needed(r.prompt_len, r.max_new_tokens))) +
                               " KV-cache blocks but only " + std::to_string(engine_.kv_pool->free_blocks()) +
                               " are free (the rest belong to other requests on this engine)");
    }
    return;
  }

  StepBatch b;
  b.num_tokens = static_cast<int32_t>(token_ids_.size());
  b.token_ids = token_ids_.data();
  b.positions = positions_.data();
  b.seq_of_token = seq_of_token_.data();
  b.num_seqs = static_cast<int32_t>(slots_.size());
  b.block_tables = block_tables_.data();
  b.max_blocks_per_seq = max_blocks_per_seq_;
  b.logit_rows = logit_rows_.data();
  b.num_logit_rows = static_cast<int32_t>(logit_rows_.size());
  {
    std::lock_guard<std::mutex> lock(engine_.step_mutex);
    const int32_t* ids = step_is_greedy_only() ? engine_.backend->run_step_argmax(b) : nullptr;
    if (ids != nullptr) {
      for (Slot& s : slots_) consume_ids(s, ids);
    } else {
      const float* logits = engine_.backend->run_step(b);
      for (Slot& s : slots_) consume_logits(s, logits);
    }
  }
  for (const Slot& s : slots_) emit_slot(s, events);
  drop_finished();
  if (!io_error_.empty()) fail(LLMC_ERR_IO, io_error_);
}

}  // namespace llmc::runtime
