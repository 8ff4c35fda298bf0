// llmc C API: the one boundary of the native runtime. The Node-API addon (native/node/) and the standalone
// runner (native/tools/llmc-run.cpp) are both thin clients of this header.
//
// Conventions: functions return 0 on success and a non-zero llmc_status on failure; llmc_last_error() then holds
// a one-line message that names the problem and, where there is one, the fix (thread-local, valid until the next
// call on the same thread). No function throws or aborts on bad input.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "llmc/engine_format.generated.h"  // LLMC_ENGINE_FORMAT_VERSION, header layout (schema/engine-format.json)

#ifdef __cplusplus
extern "C" {
#endif

#define LLMC_API_VERSION 1

typedef enum llmc_status {
  LLMC_OK = 0,
  LLMC_ERR_INVALID_ARGUMENT = 1,  // a parameter out of range (negative temperature, top_p > 1, ...)
  LLMC_ERR_IO = 2,                // a file is missing or unreadable
  LLMC_ERR_BAD_ENGINE = 3,        // corrupt engine, wrong magic, offsets outside the file
  LLMC_ERR_VERSION = 4,           // engine of another format version or op schema: rebuild it
  LLMC_ERR_UNSUPPORTED = 5,       // backend not available (no CUDA driver), op not implemented by the backend
  LLMC_ERR_LIMIT = 6,             // prompt longer than max_seq_len, KV cache full, ...
  LLMC_ERR_INTERNAL = 7,
} llmc_status;

typedef struct llmc_engine llmc_engine;
typedef struct llmc_executor llmc_executor;

const char* llmc_last_error(void);

// ---- Engine ------------------------------------------------------------------------------------------------
typedef struct llmc_load_options {
  const char* backend;      // "cpu" or "cuda"; NULL = the engine's target backend (config.json target.backend)
  int32_t num_threads;      // CPU threads; 0 = all cores
  int64_t kv_cache_bytes;   // KV cache budget; 0 = enough for max_batch_size sequences of max_seq_len
} llmc_load_options;

// Loads ENGINE_DIR/rank0.engine (mmap) after checking config.json. Refuses another format version or schema hash.
int llmc_engine_load(const char* engine_dir, const llmc_load_options* opts, llmc_engine** out);
void llmc_engine_free(llmc_engine* engine);
// JSON describing the loaded engine: model dims, limits, backend, simd ("amx" | "avx512_bf16" | "avx512" | "avx2" | "scalar"), threads,
// weights_bytes, decode_weight_bytes, arena_bytes (both activation arenas), logits_arena_bytes, max_logit_rows,
// kv_cache_bytes, kv_block_count; with the CUDA backend also device,
// compute_capability, kernels (what runs: SASS or JIT-compiled PTX), device_bandwidth_gb_s (a device-to-device
// copy, bytes read + written per second), cuda_graphs, cublaslt. Owned by the engine.
const char* llmc_engine_info_json(llmc_engine* engine);

// Sharded engines (docs/parallel.md): every process of `mpirun -np N` loads the engine (each maps its own
// rank<r>.engine; info_json has rank and world_size). Rank 0 generates as usual; every other rank calls
// llmc_engine_follow, which runs rank 0's steps and returns when rank 0 frees its engine. A failure or a peer that
// does not answer within LLMC_RANK_TIMEOUT_S (default 20 s) ends the whole job (MPI_Abort) after one line on stderr.
int llmc_engine_follow(llmc_engine* engine);

// ---- Generation --------------------------------------------------------------------------------------------
typedef struct llmc_sampling_params {
  float temperature;         // 0 = greedy (argmax). Must be >= 0.
  int32_t top_k;             // 0 = off. Must be >= 0.
  float top_p;               // 1 = off. Must be in (0, 1].
  float repetition_penalty;  // 1 = off. Must be > 0. HF semantics: logit > 0 ? logit / p : logit * p, over prompt + generated.
  uint64_t seed;             // seeds this request's RNG; the same seed gives the same tokens
} llmc_sampling_params;

// Called once per generated token, in order. Return non-zero to stop the request after this token.
typedef int (*llmc_token_callback)(void* user, int32_t token_id, int32_t index);
// Called just before on_token for the same token when the request asks for logprobs: log p(token) under the model's
// distribution (log-softmax of the raw logits, before penalty/temperature), and the num_top most likely tokens
// (ids and log-probabilities, most likely first). The arrays are valid only during the call.
typedef void (*llmc_logprobs_callback)(void* user, int32_t index, float logprob, const int32_t* top_ids,
                                       const float* top_logprobs, int32_t num_top);

typedef struct llmc_request_params {
  const int32_t* prompt;     // prompt token ids (at least 1)
  int32_t prompt_len;
  int32_t max_new_tokens;    // >= 0; prompt_len + max_new_tokens must be <= max_seq_len
  llmc_sampling_params sampling;
  const int32_t* eos_ids;    // stop when one of these is generated (it is included in the output), unless ignore_eos
  int32_t num_eos_ids;
  int32_t ignore_eos;
  // Optional: write float32 logits [rows, vocab] here, rows = prompt_len + generated - 1 (row t < prompt_len: after
  // prompt token t, from the prefill; row prompt_len-1+k: what generated token k was drawn from).
  const char* logits_path;
  llmc_token_callback on_token;  // optional
  void* user;
  // Optional (zero = off):
  int32_t logprobs;              // 1 = report each generated token's logprob through on_logprobs
  int32_t num_top_logprobs;      // 0..20 alternatives with each logprob
  llmc_logprobs_callback on_logprobs;
  int32_t no_prefix_cache;       // 1 = compute the whole prompt even when its leading KV blocks are cached
} llmc_request_params;

typedef enum llmc_stop_reason {
  LLMC_STOP_NONE = 0, LLMC_STOP_LENGTH = 1, LLMC_STOP_EOS = 2, LLMC_STOP_CALLBACK = 3, LLMC_STOP_CANCELLED = 4,
} llmc_stop_reason;

typedef struct llmc_generate_result {
  int32_t* output_ids;       // caller-provided buffer of capacity max_new_tokens; filled with the generated ids
  int32_t num_output;
  int32_t logits_rows;       // rows written to logits_path (0 when none)
  int32_t stop_reason;       // llmc_stop_reason
  double prefill_ms;         // time to first token (prefill + first sample)
  double decode_ms;          // time of all later steps
} llmc_generate_result;

// Generates for one request, on the calling thread, through the same packed executor as batched serving.
int llmc_generate(llmc_engine* engine, const llmc_request_params* params, llmc_generate_result* result);

// Asks every running request of this engine to stop after its current step (thread-safe; used for Ctrl-C and
// stop strings detected by the caller).
void llmc_engine_cancel(llmc_engine* engine);

// Negative log-likelihood of tokens[1..n) given their prefix, in one sequence (prefill only, chunked by
// max_num_tokens). Used by `llmc eval` for perplexity.
int llmc_score(llmc_engine* engine, const int32_t* tokens, int32_t n, double* nll_sum, int32_t* num_scored);

// ---- In-flight batching ------------------------------------------------------------------------------------
// The executor owns the request queue: each step packs the decode tokens of running requests with prefill chunks
// of waiting ones, up to max_num_tokens and max_batch_size, and frees a request's KV blocks when it finishes.
// KV blocks are taken as a sequence grows; when none is left a running request is preempted (its blocks freed,
// its tokens recomputed when it is admitted again) instead of failing. Leading full prompt blocks are shared
// with earlier requests of the same prefix (prefix caching). Scheduling: docs/serving.md.
int llmc_executor_create(llmc_engine* engine, llmc_executor** out);  // the default options below
void llmc_executor_free(llmc_executor* ex);
int llmc_executor_add(llmc_executor* ex, const llmc_request_params* params, int64_t* request_id);

typedef enum llmc_admission {
  LLMC_ADMIT_INFLIGHT = 0,  // every step admits waiting requests while a batch slot and KV blocks are free
  LLMC_ADMIT_DYNAMIC = 1,   // a batch is formed from whatever waits when nothing runs, and runs to completion
  LLMC_ADMIT_STATIC = 2,    // like dynamic, but waits for static_batch_size requests (or static_max_wait_ms)
} llmc_admission;

typedef struct llmc_executor_options {
  int32_t admission;          // llmc_admission
  int32_t max_batch_size;     // 0 = the engine's; at most the engine's
  int32_t max_num_tokens;     // tokens per step; 0 = the engine's; at most the engine's
  int32_t prefix_caching;     // 1 = share cached prompt blocks (the default of llmc_executor_create)
  int32_t static_batch_size;  // LLMC_ADMIT_STATIC: 0 = max_batch_size
  double static_max_wait_ms;  // LLMC_ADMIT_STATIC: admit a smaller batch once the oldest waited this long (0 = 1000)
} llmc_executor_options;
int llmc_executor_create_with_options(llmc_engine* engine, const llmc_executor_options* opts, llmc_executor** out);

// Marks a queued or running request cancelled: the next step finishes it (LLMC_STOP_CANCELLED) and frees its KV
// blocks. An unknown or finished id is not an error. Call it on the thread that steps the executor.
int llmc_executor_cancel(llmc_executor* ex, int64_t request_id);

typedef struct llmc_executor_stats {
  int32_t num_waiting;        // queued, incl. preempted ones
  int32_t num_running;        // admitted (holding KV blocks)
  int32_t kv_blocks_total;
  int32_t kv_blocks_free;     // allocatable, incl. cached blocks no sequence references
  int32_t kv_blocks_cached;   // published prefix blocks
  int32_t reserved;
  int64_t prefix_blocks_queried;  // full prompt blocks looked up in the prefix cache (engine-wide)
  int64_t prefix_blocks_hit;      // of those, reused
  int64_t num_preemptions;        // by this executor
  int64_t num_steps;
  int64_t prompt_tokens_computed; // prompt (and recomputed) tokens fed through the model
  int64_t prompt_tokens_cached;   // prompt tokens skipped thanks to the prefix cache
} llmc_executor_stats;
int llmc_executor_get_stats(llmc_executor* ex, llmc_executor_stats* out);

typedef struct llmc_step_event {
  int64_t request_id;
  int32_t token_id;          // -1 when the event only reports a finish
  int32_t finished;          // 1 when the request is done
  int32_t stop_reason;
  // Set on the finishing event:
  int32_t cached_tokens;     // prompt tokens served from the prefix cache (last admission)
  int32_t logits_rows;       // rows written to logits_path
  int32_t num_preemptions;   // times this request was preempted
  double queue_ms;           // add -> first admission
  double prefill_ms;         // first admission -> first token
  double decode_ms;          // first token -> finish
} llmc_step_event;

// Runs one packed step. Fills up to `capacity` events (one per request that produced a token or finished).
// *num_active is the number of requests still queued or running afterwards.
int llmc_executor_step(llmc_executor* ex, llmc_step_event* events, int32_t capacity, int32_t* num_events,
                       int32_t* num_active);

// ---- Measurement -------------------------------------------------------------------------------------------
// Peak read bandwidth of host memory in GB/s, measured with num_threads threads (0 = all cores) streaming a
// buffer much larger than the caches for about `seconds`.
double llmc_measure_memory_bandwidth(int32_t num_threads, double seconds);

// ---- CPU kernels and batched benchmarks (docs/cpu-kernels.md) -------------------------------------------------
// JSON: the code path each kind of CPU kernel took last in this process ({"linear_decode": "avx2", "linear_prefill":
// "amx bf16 tiles", ..., null where not run yet}) plus "simd" (the level in use), "cpu_simd" (the best the CPU
// has) and "cpu_features". Thread-local string, valid until the next call on this thread.
const char* llmc_cpu_kernel_paths_json(void);
// The same keys for what would run now with weights of dtype "f32" | "f16" | "bf16" (NULL on an unknown dtype).
const char* llmc_cpu_planned_kernel_paths_json(const char* weight_dtype);

typedef struct llmc_batch_bench_result {
  int32_t batch;
  int32_t decode_steps;      // steps in which all `batch` sequences decoded together
  double prefill_ms;         // from the first step until every sequence had its first token
  double decode_ms;          // total time of those decode steps
  double decode_tok_s;       // aggregate: batch * decode_steps / decode_ms
  double per_seq_tok_s;      // decode_tok_s / batch
} llmc_batch_bench_result;

// Runs `batch` sequences of prompt_len tokens each (the prompt with its ids shifted per sequence, so no two
// sequences are equal) through the executor, greedy, max_new_tokens = gen_len (>= 2), EOS ignored, and times the
// prefill and the decode steps separately. Fails with LLMC_ERR_LIMIT when batch exceeds the engine's
// max_batch_size or prompt_len + gen_len its max_seq_len.
int llmc_bench_batch(llmc_engine* engine, const int32_t* prompt, int32_t prompt_len, int32_t batch, int32_t gen_len,
                     llmc_batch_bench_result* out);

#ifdef __cplusplus
}
#endif
