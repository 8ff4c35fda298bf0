// C API: errors, engine lifetime, info, cancel, bandwidth (llmc.h). Every entry point catches everything.
#include <cmath>

#include "../cpu/kernels.h"
#include "../cpu/thread_pool.h"
#include <cstdio>

#include "engine.h"
#include "sharded.h"
#include "errors.h"

using llmc::runtime::fail;
using llmc::runtime::guard;

extern "C" {

const char* llmc_last_error(void) { return llmc::runtime::last_error(); }

int llmc_engine_load(const char* engine_dir, const llmc_load_options* opts, llmc_engine** out) {
  return guard([&] {
    if (out == nullptr) fail(LLMC_ERR_INVALID_ARGUMENT, "llmc_engine_load: out is NULL");
    *out = nullptr;
    if (engine_dir == nullptr || engine_dir[0] == '\0') fail(LLMC_ERR_INVALID_ARGUMENT, "llmc_engine_load: no engine directory given");
    *out = llmc::runtime::open_engine(engine_dir, opts).release();
  });
}

void llmc_engine_free(llmc_engine* engine) { delete engine; }

int llmc_engine_follow(llmc_engine* engine) {
  if (engine == nullptr || !engine->comm) {
    llmc::runtime::set_last_error("llmc_engine_follow: not a rank of a sharded engine");
    return LLMC_ERR_INVALID_ARGUMENT;
  }
  return llmc::runtime::guard([&] {
    try {
      llmc::runtime::follow_steps(*engine);
    } catch (const std::exception& e) {
      // The other ranks wait on this one: say why once and end the job instead of leaving them hanging.
      std::fprintf(stderr, "error: %s\n", e.what());
      std::fflush(stderr);
      engine->comm->abort_job(1);
    }
  });
}

const char* llmc_engine_info_json(llmc_engine* engine) {
  if (engine == nullptr) {
    llmc::runtime::set_last_error("llmc_engine_info_json: engine is NULL");
    return "{}";
  }
  return engine->info_json.c_str();
}

void llmc_engine_cancel(llmc_engine* engine) {
  if (engine != nullptr) engine->cancel_epoch.fetch_add(1, std::memory_order_relaxed);
}

// Returns GB/s, or 0 with llmc_last_error() set on bad arguments or failure.
double llmc_measure_memory_bandwidth(int32_t num_threads, double seconds) {
  double gbps = 0;
  int st = guard([&] {
    if (num_threads < 0) fail(LLMC_ERR_INVALID_ARGUMENT, "num_threads must be >= 0 (0 = all cores)");
    if (!(seconds > 0) || !std::isfinite(seconds) || seconds > 600) {
      fail(LLMC_ERR_INVALID_ARGUMENT, "seconds must be in (0, 600]");
    }
    llmc::cpu::ThreadPool pool(num_threads);
    gbps = llmc::cpu::measure_read_bandwidth(pool, seconds);
  });
  return st == LLMC_OK ? gbps : 0.0;
}

}  // extern "C"
