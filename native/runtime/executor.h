// In-flight batching. The executor owns a queue of requests; each step packs, in this order,
//   1. one decode token of every running request that has finished its prompt,
//   2. the next prompt chunk of running requests still in prefill (chunked prefill),
//   3. the first prompt chunk of waiting requests, admitted in arrival order while a batch slot
//      (max_batch_size) and KV blocks for their whole prompt are free (the admission policy may hold them back:
//      dynamic and static batching admit only into an empty batch),
// up to max_num_tokens tokens, runs the plan once, then samples for every sequence whose last token was in the
// step. KV blocks are taken as a sequence grows. When a running request needs a block and none is free, the most
// recently admitted request not yet in the step is preempted: its blocks are returned and it goes back to the
// front of the queue with its tokens (prompt + generated so far), which are recomputed as a prompt when it is
// admitted again (its RNG is untouched, so its output does not change). Admission looks up the prompt's leading
// full blocks in the engine's prefix cache (kv_block_pool.h) and computes only the rest; every block a request
// fills is published there. llmc_generate runs one request through this same class.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine.h"
#include "request.h"
#include "sampler.h"

namespace llmc::runtime {

struct RequestOutcome {
  int32_t num_output = 0;
  int32_t logits_rows = 0;
  int32_t stop_reason = LLMC_STOP_NONE;
  double prefill_ms = 0;  // admission -> first token sampled
  double decode_ms = 0;   // first token -> finish
};

class Executor {
 public:
  Executor(llmc_engine& engine, const llmc_executor_options& opts);
  explicit Executor(llmc_engine& engine) : Executor(engine, default_options()) {}
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  static llmc_executor_options default_options();

  // Validates and queues a request (the parameters are copied). Throws Error: INVALID_ARGUMENT, LIMIT, IO.
  int64_t add(const llmc_request_params& params, bool keep_outcome = false);
  // Marks a request cancelled (finished by the next step). False when it is not queued or running.
  bool cancel(int64_t id);

  // Runs one packed step and appends one event per request that got a token or finished. Throws Error; an
  // LLMC_ERR_LIMIT when requests wait for KV blocks that only other executors on this engine can free.
  void step(std::vector<llmc_step_event>& events);

  // Requests queued or running.
  int32_t num_active() const { return static_cast<int32_t>(waiting_.size() + running_.size()); }
  llmc_executor_stats stats() const;

  // The outcome of a finished request added with keep_outcome (once).
  bool take_outcome(int64_t id, RequestOutcome* out);

 private:
  enum class SlotOutcome { mid_prompt, sampled, prefill_only, io_error };
  // One sequence's share of a step.
  struct Slot {
    Request* r;
    int32_t start;       // index of its first token in r->tokens
    int32_t count;       // tokens fed
    int32_t first_row;   // index of its first token in the step
    int32_t first_logit_row;
    int32_t num_logit_rows;
    SlotOutcome outcome;
    int32_t token;       // sampled id when outcome == sampled
    float logprob;       // of token, when r->logprobs
    std::vector<int32_t> top_ids;
    std::vector<float> top_logprobs;
  };

  void schedule();
  bool admission_open() const;
  bool try_admit(Request* r);
  bool grow_blocks(Request* r, int32_t positions);
  Request* preemption_victim(const Request* except);
  void preempt(Request* r);
  void requeue_preempted();
  void add_slot(Request* r, int32_t count);
  int32_t fit_logit_rows(const Request* r, int32_t count) const;
  void publish_full_blocks(Request* r);
  void finish(Request* r, int32_t reason, int32_t token, std::vector<llmc_step_event>& events);
  void finish_cancelled(std::vector<llmc_step_event>& events);
  void consume_logits(Slot& s, const float* logits);
  void consume_ids(Slot& s, const int32_t* ids);  // greedy steps whose backend returned argmax ids
  void compute_logprobs(Slot& s, const float* row);
  bool step_is_greedy_only() const;
  void emit_slot(const Slot& s, std::vector<llmc_step_event>& events);
  void drop_finished();
  bool cancelled(const Request& r) const;

  llmc_engine& engine_;
  const Plan& plan_;
  llmc_executor_options opts_;
  Sampler sampler_;
  int64_t next_id_ = 1;
  std::deque<std::unique_ptr<Request>> waiting_;
  std::vector<std::unique_ptr<Request>> running_;  // admitted, in admission order
  std::unordered_map<int64_t, RequestOutcome> outcomes_;
  std::string io_error_;  // first logits-file error of the current step
  int64_t num_preemptions_ = 0, num_steps_ = 0, prompt_computed_ = 0, prompt_cached_ = 0;

  // The step being built (StepBatch arrays).
  std::vector<Slot> slots_;
  int32_t budget_ = 0;
  std::vector<int32_t> token_ids_, positions_, seq_of_token_, block_tables_, logit_rows_;
  int32_t max_blocks_per_seq_ = 0;
  int32_t logit_cap_ = 0;  // max_logit_rows: logit rows one step may ask for
  std::vector<float> lp_work_;  // [vocab] for logprobs
};

}  // namespace llmc::runtime
