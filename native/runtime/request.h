// One generation request inside the executor: its own copy of the caller's parameters, its tokens (prompt, then
// generated), how far the KV cache has caught up, its block table, RNG, optional logits file and timings.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "llmc/llmc.h"
#include "rng.h"

namespace llmc::runtime {

using Clock = std::chrono::steady_clock;

// Appends float32 rows [*, vocab] (little-endian, as the host stores them) to a file.
class LogitsFile {
 public:
  LogitsFile() = default;
  ~LogitsFile();
  LogitsFile(const LogitsFile&) = delete;
  LogitsFile& operator=(const LogitsFile&) = delete;

  void open(const std::string& path);  // truncates; throws Error(LLMC_ERR_IO)
  bool is_open() const { return f_ != nullptr; }
  // Returns false (and remembers the error) when the write fails.
  bool write_rows(const float* rows, int64_t count, int64_t vocab);
  // Flushes and closes; returns "" or the first error message.
  std::string close();
  int32_t rows_written() const { return rows_; }

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
  std::string error_;
  int32_t rows_ = 0;
};

struct Request {
  int64_t id = 0;
  // Parameters.
  int32_t prompt_len = 0;
  int32_t max_new_tokens = 0;
  llmc_sampling_params sampling{};
  std::vector<int32_t> eos_ids;
  bool ignore_eos = false;
  llmc_token_callback on_token = nullptr;
  void* user = nullptr;
  bool keep_outcome = false;  // llmc_generate reads the timings after it finishes
  uint64_t cancel_epoch = 0;  // engine's epoch when added
  bool cancel_requested = false;  // llmc_executor_cancel
  bool logprobs = false;
  int32_t num_top_logprobs = 0;
  llmc_logprobs_callback on_logprobs = nullptr;
  bool use_prefix_cache = true;

  // State.
  std::vector<int32_t> tokens;   // prompt then generated ids
  int32_t num_computed = 0;      // leading tokens whose k/v are in the cache
  std::vector<int32_t> block_table;
  std::vector<uint64_t> block_hashes;  // chain hashes of the leading full blocks published or matched
  bool admitted = false;         // holds a batch slot and its KV blocks
  bool prefix_matched = false;   // looked up in the prefix cache since its last (re)admission attempt began
  bool in_step = false;          // scheduled in the step being built
  bool preempted_now = false;    // preempted while building this step
  int32_t cached_tokens = 0;     // prompt tokens found in the prefix cache at the last admission
  int32_t num_preemptions = 0;
  bool finished = false;
  int32_t stop_reason = LLMC_STOP_NONE;
  Rng rng;
  LogitsFile logits;
  Clock::time_point t_added, t_admitted, t_first_token, t_finished;
  bool ever_admitted = false;

  int32_t generated() const { return static_cast<int32_t>(tokens.size()) - prompt_len; }
  // Tokens the next step can feed: the prompt's unprocessed part, or the last generated token.
  int32_t pending() const { return static_cast<int32_t>(tokens.size()) - num_computed; }
  bool wants_all_logits() const { return logits.is_open(); }
};

}  // namespace llmc::runtime
