#include "sharded.h"

#include <cstdio>
#include <cstring>
#include <string>

#include "engine.h"
#include "errors.h"

namespace llmc::runtime {

namespace {

// The step header every rank receives first; kind 0 = stop.
struct StepHeader {
  int32_t kind = 0;  // 1 = step, 0 = stop
  int32_t num_tokens = 0;
  int32_t num_seqs = 0;
  int32_t max_blocks_per_seq = 0;
  int32_t num_logit_rows = 0;
  int32_t reserved = 0;
};

int64_t payload_ints(const StepHeader& h) {
  return 3LL * h.num_tokens + int64_t{h.num_seqs} * h.max_blocks_per_seq + h.num_logit_rows;
}

class Rank0Backend final : public Backend {
 public:
  Rank0Backend(std::unique_ptr<Backend> inner, Collectives& comm) : inner_(std::move(inner)), comm_ref_(comm) {}
  const char* name() const override { return inner_->name(); }
  int num_threads() const override { return inner_->num_threads(); }
  void allocate_kv_cache(int32_t num_blocks) override { inner_->allocate_kv_cache(num_blocks); }
  int32_t fit_kv_blocks(int32_t requested, bool explicit_budget) override { return inner_->fit_kv_blocks(requested, explicit_budget); }
  std::string info_json_fields() const override { return inner_->info_json_fields(); }
  void attach_collectives(Collectives* c) override { inner_->attach_collectives(c); }

  // A failed step leaves the followers mid-step: say why once and end the job (mpirun ends every rank).
  const float* run_step(const StepBatch& s) override {
    try {
      return broadcast_and_run(s);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      std::fflush(stderr);
      comm_ref_.abort_job(1);
    }
    return nullptr;  // not reached: abort_job ends the process
  }

 private:
  const float* broadcast_and_run(const StepBatch& s) {
    StepHeader h{1, s.num_tokens, s.num_seqs, s.max_blocks_per_seq, s.num_logit_rows, 0};
    payload_.resize(static_cast<size_t>(payload_ints(h)));
    int32_t* p = payload_.data();
    auto put = [&p](const int32_t* src, int64_t n) {
      if (n > 0) std::memcpy(p, src, static_cast<size_t>(n) * sizeof(int32_t));
      p += n;
    };
    put(s.token_ids, s.num_tokens);
    put(s.positions, s.num_tokens);
    put(s.seq_of_token, s.num_tokens);
    put(s.block_tables, int64_t{s.num_seqs} * s.max_blocks_per_seq);
    put(s.logit_rows, s.num_logit_rows);
    comm_ref_.broadcast(&h, sizeof h, false, "the step broadcast");
    comm_ref_.broadcast(payload_.data(), static_cast<int64_t>(payload_.size() * sizeof(int32_t)), false, "the step broadcast");
    return inner_->run_step(s);
  }

  std::unique_ptr<Backend> inner_;
  Collectives& comm_ref_;
  std::vector<int32_t> payload_;
};

}  // namespace

std::unique_ptr<Backend> wrap_rank0_backend(std::unique_ptr<Backend> inner, Collectives& comm) {
  return std::make_unique<Rank0Backend>(std::move(inner), comm);
}

void follow_steps(llmc_engine& e) {
  Collectives& comm = *e.comm;
  if (comm.rank() == 0) fail(LLMC_ERR_INVALID_ARGUMENT, "rank 0 leads the steps; only the other ranks follow");
  std::vector<int32_t> payload;
  for (;;) {
    StepHeader h;
    comm.broadcast(&h, sizeof h, true, "the next step");  // rank 0 may be idle (a server between requests)
    if (h.kind == 0) return;
    const Limits& lim = e.plan().limits;
    if (h.kind != 1 || h.num_tokens < 1 || h.num_tokens > lim.max_num_tokens || h.num_seqs < 1 || h.num_seqs > lim.max_batch_size ||
        h.max_blocks_per_seq < 0 || h.num_logit_rows < 0 || h.num_logit_rows > h.num_tokens) {
      fail(LLMC_ERR_INTERNAL, "rank " + std::to_string(comm.rank()) + ": malformed step from rank 0");
    }
    payload.resize(static_cast<size_t>(payload_ints(h)));
    comm.broadcast(payload.data(), static_cast<int64_t>(payload.size() * sizeof(int32_t)), false, "the step broadcast");
    const int32_t* p = payload.data();
    StepBatch s;
    s.num_tokens = h.num_tokens;
    s.token_ids = p;
    s.positions = p + h.num_tokens;
    s.seq_of_token = p + 2 * h.num_tokens;
    s.num_seqs = h.num_seqs;
    s.block_tables = p + 3 * h.num_tokens;
    s.max_blocks_per_seq = h.max_blocks_per_seq;
    s.logit_rows = s.block_tables + int64_t{h.num_seqs} * h.max_blocks_per_seq;
    s.num_logit_rows = h.num_logit_rows;
    e.backend->run_step(s);
  }
}

void stop_followers(llmc_engine& e) {
  if (!e.comm || e.comm->rank() != 0 || e.followers_stopped) return;
  e.followers_stopped = true;
  StepHeader h;  // kind 0
  e.comm->broadcast(&h, sizeof h, false, "the stop message");
}

int32_t agree_kv_blocks(Collectives& comm, int32_t blocks) {
  comm.broadcast(&blocks, sizeof blocks, false, "the KV block count");
  return blocks;
}

}  // namespace llmc::runtime
