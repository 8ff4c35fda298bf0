#include "executor.h"

#include <algorithm>
#include <cmath>

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

constexpr int32_t kMaxTopLogprobs = 20;

}  // namespace

llmc_executor_options Executor::default_options() {
  llmc_executor_options o{};
  o.admission = LLMC_ADMIT_INFLIGHT;
  o.prefix_caching = 1;
  return o;
}

Executor::Executor(llmc_engine& engine, const llmc_executor_options& opts)
    : engine_(engine), plan_(engine.plan()), opts_(opts), sampler_(engine.plan().model.vocab_size) {
  const Limits& lim = plan_.limits;
  if (opts_.admission < LLMC_ADMIT_INFLIGHT || opts_.admission > LLMC_ADMIT_STATIC) {
    fail(LLMC_ERR_INVALID_ARGUMENT, "executor admission must be 0 (inflight), 1 (dynamic) or 2 (static), got " + std::to_string(opts_.admission));
  }
  if (opts_.max_batch_size < 0 || opts_.max_num_tokens < 0 || opts_.static_batch_size < 0 || opts_.static_max_wait_ms < 0) {
    fail(LLMC_ERR_INVALID_ARGUMENT, "executor options must not be negative");
  }
  if (opts_.max_batch_size == 0 || opts_.max_batch_size > lim.max_batch_size) opts_.max_batch_size = lim.max_batch_size;
  if (opts_.max_num_tokens == 0 || opts_.max_num_tokens > lim.max_num_tokens) opts_.max_num_tokens = lim.max_num_tokens;
  if (opts_.static_batch_size == 0 || opts_.static_batch_size > opts_.max_batch_size) opts_.static_batch_size = opts_.max_batch_size;
  if (opts_.static_max_wait_ms == 0) opts_.static_max_wait_ms = 1000;
  max_blocks_per_seq_ = engine_.kv_pool->blocks_for_tokens(lim.max_seq_len);
  logit_cap_ = max_logit_rows(lim);
}

Executor::~Executor() {
  for (auto& r : running_) engine_.kv_pool->release(&r->block_table);
  for (auto& r : waiting_) engine_.kv_pool->release(&r->block_table);  // prefix blocks held while waiting
}

bool Executor::cancelled(const Request& r) const {
  return r.cancel_requested || engine_.cancel_epoch.load(std::memory_order_relaxed) != r.cancel_epoch;
}

llmc_executor_stats Executor::stats() const {
  const KvPoolStats p = engine_.kv_pool->stats();
  llmc_executor_stats s{};
  s.num_waiting = static_cast<int32_t>(waiting_.size());
  s.num_running = static_cast<int32_t>(running_.size());
  s.kv_blocks_total = p.num_blocks;
  s.kv_blocks_free = p.free_blocks;
  s.kv_blocks_cached = p.cached_blocks;
  s.prefix_blocks_queried = p.prefix_queried;
  s.prefix_blocks_hit = p.prefix_hits;
  s.num_preemptions = num_preemptions_;
  s.num_steps = num_steps_;
  s.prompt_tokens_computed = prompt_computed_;
  s.prompt_tokens_cached = prompt_cached_;
  return s;
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
  if (p.num_top_logprobs < 0 || p.num_top_logprobs > kMaxTopLogprobs) {
    fail(LLMC_ERR_INVALID_ARGUMENT, "num_top_logprobs must be in [0, " + std::to_string(kMaxTopLogprobs) + "], got " + std::to_string(p.num_top_logprobs));
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
  r->logprobs = p.logprobs != 0;
  r->num_top_logprobs = p.num_top_logprobs;
  r->on_logprobs = p.on_logprobs;
  r->keep_outcome = keep_outcome;
  r->cancel_epoch = engine_.cancel_epoch.load(std::memory_order_relaxed);
  r->tokens.reserve(static_cast<size_t>(p.prompt_len) + static_cast<size_t>(p.max_new_tokens));
  r->tokens.assign(p.prompt, p.prompt + p.prompt_len);
  r->rng = Rng(p.sampling.seed);
  r->t_added = Clock::now();
  if (p.logits_path != nullptr && p.logits_path[0] != '\0') r->logits.open(p.logits_path);
  // A logits file needs every prompt row, so nothing of the prompt may be skipped.
  r->use_prefix_cache = opts_.prefix_caching != 0 && p.no_prefix_cache == 0 && !r->wants_all_logits();
  int64_t id = r->id;
  waiting_.push_back(std::move(r));
  return id;
}

bool Executor::cancel(int64_t id) {
  for (auto& r : running_) {
    if (r->id == id) return r->cancel_requested = true;
  }
  for (auto& r : waiting_) {
    if (r->id == id) return r->cancel_requested = true;
  }
  return false;
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
  const bool decode = count == 1 && r->generated() > 0 && s.start + 1 == static_cast<int32_t>(r->tokens.size());
  if (!decode) prompt_computed_ += count;
  budget_ -= count;
  r->in_step = true;
  slots_.push_back(std::move(s));
}

// How many of r's next `count` tokens fit in this step's logit rows (max_logit_rows): a request writing a logits
// file needs a row per token; another needs one row when the chunk reaches its last token, else none (then it
// stops one token short and samples next step). 0 = not this step.
int32_t Executor::fit_logit_rows(const Request* r, int32_t count) const {
  const int32_t room = logit_cap_ - static_cast<int32_t>(logit_rows_.size());
  if (r->wants_all_logits()) return std::min(count, room);
  const bool reaches_end = r->num_computed + count == static_cast<int32_t>(r->tokens.size());
  if (!reaches_end || room >= 1) return count;
  return count - 1;
}

// The latest-admitted running request after `r` that is not in the step being built (the lowest priority).
Request* Executor::preemption_victim(const Request* r) {
  for (auto it = running_.rbegin(); it != running_.rend(); ++it) {
    Request* v = it->get();
    if (v == r) return nullptr;
    if (!v->in_step && !v->preempted_now && !v->finished) return v;
  }
  return nullptr;
}

void Executor::preempt(Request* v) {
  engine_.kv_pool->release(&v->block_table);  // its published blocks stay cached: recomputing may reuse them
  v->block_hashes.clear();
  v->num_computed = 0;
  v->admitted = false;
  v->prefix_matched = false;
  v->preempted_now = true;
  ++v->num_preemptions;
  ++num_preemptions_;
}

// Makes r's block table cover `positions` positions, preempting later-admitted requests while blocks are short.
bool Executor::grow_blocks(Request* r, int32_t positions) {
  KvBlockPool& pool = *engine_.kv_pool;
  const int32_t need = pool.blocks_for_tokens(positions) - static_cast<int32_t>(r->block_table.size());
  if (need <= 0) return true;
  while (!pool.allocate(need, &r->block_table)) {
    Request* v = preemption_victim(r);
    if (v == nullptr) return false;
    preempt(v);
  }
  return true;
}

// Preempted requests go back to the front of the queue, earliest-admitted first.
void Executor::requeue_preempted() {
  for (auto it = running_.rbegin(); it != running_.rend(); ++it) {
    if ((*it)->preempted_now) waiting_.push_front(std::move(*it));
  }
  running_.erase(std::remove(running_.begin(), running_.end(), nullptr), running_.end());
}

bool Executor::admission_open() const {
  if (opts_.admission == LLMC_ADMIT_INFLIGHT) return true;
  if (!running_.empty() || waiting_.empty()) return false;
  if (opts_.admission == LLMC_ADMIT_DYNAMIC) return true;
  return static_cast<int32_t>(waiting_.size()) >= opts_.static_batch_size ||
         ms_between(waiting_.front()->t_added, Clock::now()) >= opts_.static_max_wait_ms;
}

// Takes the cached prefix blocks of r's tokens (once per admission attempt) and fresh blocks for the rest of them.
bool Executor::try_admit(Request* r) {
  KvBlockPool& pool = *engine_.kv_pool;
  const int32_t n = static_cast<int32_t>(r->tokens.size());
  if (!r->prefix_matched) {
    r->prefix_matched = true;
    r->cached_tokens = 0;
    if (r->use_prefix_cache) {
      // At least the last token is computed: its logits give the next token.
      const int32_t found = pool.match_prefix(r->tokens.data(), n, (n - 1) / pool.block_size(), &r->block_table, &r->block_hashes);
      r->num_computed = found * pool.block_size();
      r->cached_tokens = r->num_computed;
    }
  }
  const int32_t need = pool.blocks_for_tokens(n) - static_cast<int32_t>(r->block_table.size());
  if (need > 0 && !pool.allocate(need, &r->block_table)) return false;  // keeps its cached blocks while it waits
  prompt_cached_ += r->cached_tokens;
  return true;
}

void Executor::schedule() {
  slots_.clear();
  token_ids_.clear();
  positions_.clear();
  seq_of_token_.clear();
  block_tables_.clear();
  logit_rows_.clear();
  budget_ = opts_.max_num_tokens;
  for (auto& r : running_) r->in_step = r->preempted_now = false;
  const bool open = admission_open();

  // 1. Decode tokens, in admission order; a request that cannot get a block preempts later ones, or itself.
  for (size_t i = 0; i < running_.size(); ++i) {
    Request* r = running_[i].get();
    if (budget_ <= 0 || r->preempted_now || r->num_computed == 0 || r->pending() != 1) continue;
    if (fit_logit_rows(r, 1) < 1) continue;
    if (!grow_blocks(r, r->num_computed + 1)) {
      preempt(r);
      continue;
    }
    add_slot(r, 1);
  }
  // 2. Prompt chunks (a prompt, or the tokens of a preempted request being recomputed).
  for (size_t i = 0; i < running_.size(); ++i) {
    Request* r = running_[i].get();
    if (budget_ <= 0 || r->preempted_now || r->in_step || r->pending() <= 0) continue;
    const int32_t count = fit_logit_rows(r, std::min(r->pending(), budget_));
    if (count <= 0) continue;
    if (!grow_blocks(r, r->num_computed + count)) continue;  // waits for blocks; earlier requests go first
    add_slot(r, count);
  }
  bool any_preempted = false;
  for (auto& r : running_) any_preempted = any_preempted || r->preempted_now;
  if (any_preempted) requeue_preempted();
  // 3. Admission in arrival order (the first that does not fit blocks the rest: no overtaking). Dynamic and static
  // batching admit a whole batch at once, even past this step's token budget (its prompts run in later steps).
  if (any_preempted || !open) return;
  const int32_t batch_cap = opts_.admission == LLMC_ADMIT_STATIC ? opts_.static_batch_size : opts_.max_batch_size;
  while (!waiting_.empty() && static_cast<int32_t>(running_.size()) < batch_cap &&
         (budget_ > 0 || opts_.admission != LLMC_ADMIT_INFLIGHT)) {
    Request* r = waiting_.front().get();
    if (!try_admit(r)) break;
    r->admitted = true;
    if (!r->ever_admitted) {
      r->ever_admitted = true;
      r->t_admitted = Clock::now();
    }
    r->in_step = r->preempted_now = false;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
    const int32_t count = budget_ > 0 ? fit_logit_rows(r, std::min(r->pending(), budget_)) : 0;
    if (count > 0) add_slot(r, count);
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
  llmc_step_event e{};
  e.request_id = r->id;
  e.token_id = token;
  e.finished = 1;
  e.stop_reason = reason;
  e.cached_tokens = r->cached_tokens;
  e.logits_rows = r->logits.rows_written();
  e.num_preemptions = r->num_preemptions;
  if (r->ever_admitted) {
    e.queue_ms = ms_between(r->t_added, r->t_admitted);
    if (r->generated() > 0) {
      e.prefill_ms = ms_between(r->t_admitted, r->t_first_token);
      e.decode_ms = ms_between(r->t_first_token, r->t_finished);
    } else {
      e.prefill_ms = ms_between(r->t_admitted, r->t_finished);
    }
  } else {
    e.queue_ms = ms_between(r->t_added, r->t_finished);
  }
  if (r->keep_outcome) {
    RequestOutcome o;
    o.num_output = r->generated();
    o.logits_rows = e.logits_rows;
    o.stop_reason = reason;
    o.prefill_ms = e.prefill_ms;
    o.decode_ms = e.decode_ms;
    outcomes_[r->id] = o;
  }
  events.push_back(e);
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

void Executor::publish_full_blocks(Request* r) {
  if (opts_.prefix_caching == 0) return;
  KvBlockPool& pool = *engine_.kv_pool;
  const int32_t bs = pool.block_size();
  const int32_t full = std::min<int32_t>(r->num_computed / bs, static_cast<int32_t>(r->block_table.size()));
  for (int32_t i = static_cast<int32_t>(r->block_hashes.size()); i < full; ++i) {
    const int32_t* t = r->tokens.data() + int64_t{i} * bs;
    const uint64_t h = KvBlockPool::chain_hash(i > 0 ? r->block_hashes[i - 1] : 0, t, bs);
    pool.publish(r->block_table[i], h, t);
    r->block_hashes.push_back(h);
  }
}

// log-softmax of the raw logits at the sampled token, and the most likely alternatives.
void Executor::compute_logprobs(Slot& s, const float* row) {
  const int32_t vocab = plan_.model.vocab_size;
  float m = -INFINITY;
  for (int32_t i = 0; i < vocab; ++i) m = std::max(m, row[i]);
  double z = 0;
  for (int32_t i = 0; i < vocab; ++i) z += std::exp(static_cast<double>(row[i]) - m);
  const double lse = m + std::log(z);
  s.logprob = static_cast<float>(row[s.token] - lse);
  const int32_t k = std::min(s.r->num_top_logprobs, vocab);
  if (k <= 0) return;
  std::vector<int32_t> ids(static_cast<size_t>(vocab));
  for (int32_t i = 0; i < vocab; ++i) ids[i] = i;
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) {
    return row[a] > row[b] || (row[a] == row[b] && a < b);
  });
  s.top_ids.assign(ids.begin(), ids.begin() + k);
  s.top_logprobs.resize(static_cast<size_t>(k));
  for (int32_t i = 0; i < k; ++i) s.top_logprobs[i] = static_cast<float>(row[s.top_ids[i]] - lse);
}

// Under the step lock (the logits are only valid until the next step): write logits rows, advance the cache
// position, sample. Callbacks and events come after the lock is released (emit_slot).
void Executor::consume_logits(Slot& s, const float* logits) {
  Request* r = s.r;
  const int64_t vocab = plan_.model.vocab_size;
  const float* rows = logits + int64_t{s.first_logit_row} * vocab;
  if (r->wants_all_logits()) {
    // Row t belongs to position t; a preempted request recomputes rows it already wrote: skip those.
    const int32_t skip = std::clamp(r->logits.rows_written() - s.start, 0, s.num_logit_rows);
    if (s.num_logit_rows > skip && !r->logits.write_rows(rows + int64_t{skip} * vocab, s.num_logit_rows - skip, vocab)) {
      s.outcome = SlotOutcome::io_error;
      return;
    }
  }
  r->num_computed = s.start + s.count;
  publish_full_blocks(r);
  if (r->pending() > 0) {
    s.outcome = SlotOutcome::mid_prompt;
  } else if (r->generated() >= r->max_new_tokens) {
    s.outcome = SlotOutcome::prefill_only;  // max_new_tokens == 0: the prefill only wrote logits
  } else {
    const float* last = rows + int64_t{s.num_logit_rows - 1} * vocab;
    s.token = sampler_.sample(last, r->sampling, r->tokens, r->rng);
    if (r->logprobs) compute_logprobs(s, last);
    s.outcome = SlotOutcome::sampled;
  }
}

// The same bookkeeping as consume_logits for a step run with Backend::run_step_argmax: ids[row] is the greedy token
// of each logit row (the argmax Sampler::sample would pick with temperature 0 and no repetition penalty).
void Executor::consume_ids(Slot& s, const int32_t* ids) {
  Request* r = s.r;
  r->num_computed = s.start + s.count;
  publish_full_blocks(r);
  if (r->pending() > 0) {
    s.outcome = SlotOutcome::mid_prompt;
  } else if (r->generated() >= r->max_new_tokens) {
    s.outcome = SlotOutcome::prefill_only;
  } else {
    s.token = ids[s.first_logit_row + s.num_logit_rows - 1];
    s.outcome = SlotOutcome::sampled;
  }
}

// Every request in the step samples greedily without a repetition penalty, wants no logprobs and writes no logits
// file: the backend may return argmax ids instead of logits.
bool Executor::step_is_greedy_only() const {
  for (const Slot& s : slots_) {
    const Request& r = *s.r;
    if (r.wants_all_logits() || r.logprobs || r.sampling.temperature != 0.0f || r.sampling.repetition_penalty != 1.0f) return false;
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
  if (r->logprobs && r->on_logprobs != nullptr) {
    r->on_logprobs(r->user, index, s.logprob, s.top_ids.data(), s.top_logprobs.data(), static_cast<int32_t>(s.top_ids.size()));
  }
  const bool stop_requested = r->on_token != nullptr && r->on_token(r->user, token, index) != 0;

  int32_t reason = LLMC_STOP_NONE;
  if (!r->ignore_eos && std::find(r->eos_ids.begin(), r->eos_ids.end(), token) != r->eos_ids.end()) reason = LLMC_STOP_EOS;
  else if (stop_requested) reason = LLMC_STOP_CALLBACK;
  else if (r->generated() >= r->max_new_tokens) reason = LLMC_STOP_LENGTH;
  else if (cancelled(*r)) reason = LLMC_STOP_CANCELLED;
  if (reason != LLMC_STOP_NONE) {
    finish(r, reason, token, events);
  } else {
    llmc_step_event e{};
    e.request_id = r->id;
    e.token_id = token;
    events.push_back(e);
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

  const bool open = admission_open();
  schedule();
  if (slots_.empty()) {
    if (open && !waiting_.empty() && running_.empty()) {
      const Request& r = *waiting_.front();
      fail(LLMC_ERR_LIMIT, "request " + std::to_string(r.id) + " waits for " +
                               std::to_string(engine_.kv_pool->blocks_for_tokens(static_cast<int64_t>(r.tokens.size()))) +
                               " KV-cache blocks but only " + std::to_string(engine_.kv_pool->free_blocks()) +
                               " are free (the rest belong to other requests on this engine)");
    }
    return;
  }
  ++num_steps_;

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
