// Self test of the native runtime (native/runtime) on a synthetic engine written by synthetic_engine.h, so it runs
// without the TS compiler:
//   1. prefill logits equal a dense reference forward; KV-cache decode logits equal a full recompute of the prefix
//   2. requests batched through the executor (in flight, queued, with a tight KV budget) give the same tokens and
//      logits as each one alone through llmc_generate
//   3. bad engines are refused with the right status (magic, versions, schema hash, truncation, weight ranges, ...)
//   4. seeded sampling is reproducible and top_k = 1 equals greedy; stop reasons, limits, argument checks, score
// Usage: runtime_selftest [--keep] (keeps the temporary engine directory).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "../runtime/errors.h"
#include "../runtime/json.h"
#include "llmc/llmc.h"
#include "check.h"
#include "synthetic_engine.h"

namespace {


constexpr double kTol = 1e-4;
std::string g_dir;  // temporary directory for engines and logits files

std::vector<float> read_f32(const std::string& path) {
  std::vector<float> v;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return v;
  float buf[1024];
  size_t n;
  while ((n = std::fread(buf, 4, 1024, f)) > 0) v.insert(v.end(), buf, buf + n);
  std::fclose(f);
  return v;
}

double max_abs_diff(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = std::fabs(double(a[i]) - double(b[i]));
    if (!(d <= m)) m = std::isnan(d) ? INFINITY : d;
  }
  return m;
}

llmc_engine* load(const std::string& dir, int64_t kv_bytes = 0) {
  llmc_load_options o{};
  o.backend = "cpu";
  o.num_threads = 2;
  o.kv_cache_bytes = kv_bytes;
  llmc_engine* e = nullptr;
  int st = llmc_engine_load(dir.c_str(), &o, &e);
  if (st != LLMC_OK) std::printf("  load %s failed (%d): %s\n", dir.c_str(), st, llmc_last_error());
  return e;
}

llmc_sampling_params greedy() { return llmc_sampling_params{0.0f, 0, 1.0f, 1.0f, 0}; }

struct Run {
  int status = -1;
  std::vector<int32_t> ids;
  std::vector<float> logits;
  llmc_generate_result res{};
};

Run generate(llmc_engine* e, const std::vector<int32_t>& prompt, int max_new, llmc_sampling_params sp = greedy(),
             const std::string& logits_name = "", std::vector<int32_t> eos = {}, bool ignore_eos = true,
             llmc_token_callback cb = nullptr, void* user = nullptr) {
  Run r;
  llmc_request_params p{};
  p.prompt = prompt.data();
  p.prompt_len = int32_t(prompt.size());
  p.max_new_tokens = max_new;
  p.sampling = sp;
  p.eos_ids = eos.data();
  p.num_eos_ids = int32_t(eos.size());
  p.ignore_eos = ignore_eos;
  std::string path = logits_name.empty() ? "" : g_dir + "/" + logits_name;
  p.logits_path = path.empty() ? nullptr : path.c_str();
  p.on_token = cb;
  p.user = user;
  r.ids.resize(size_t(std::max(max_new, 1)));
  r.res.output_ids = r.ids.data();
  r.status = llmc_generate(e, &p, &r.res);
  if (r.status != LLMC_OK) std::printf("  generate failed (%d): %s\n", r.status, llmc_last_error());
  r.ids.resize(size_t(std::max(r.res.num_output, 0)));
  if (!path.empty()) r.logits = read_f32(path);
  return r;
}

std::vector<int32_t> random_prompt(uint64_t seed, int n, int vocab) {
  std::vector<int32_t> p(n);
  uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 7;
  for (int& t : p) t = int(synth::next_random(s) % uint64_t(vocab));
  return p;
}

// ---- 0. JSON parser ---------------------------------------------------------------------------------------------

void test_json() {
  std::printf("json parser\n");
  using llmc::json::parse;
  auto v = parse(R"({"a": [1, -2.5e3, true, null, "x\u00e9\ud83d\ude00\n"], "b": {"c": 9007199254740993}})");
  CHECK(v.is_object() && v.find("a")->as_array().size() == 5, "structure");
  CHECK(v.find("a")->as_array()[1].as_double() == -2500.0, "number");
  CHECK(v.find("a")->as_array()[4].as_string() == "x\xc3\xa9\xf0\x9f\x98\x80\n", "escapes");
  CHECK(v.find("b")->find("c")->is_integer() && v.find("b")->find("c")->as_int64() == 9007199254740993LL, "int64 exact");
  const char* bad[] = {"{\"a\": 1,}", "[1, 2", "{\"a\": 01}", "\"\\ud800\"", "{\"a\": 1} x", "{\"a\":1, \"a\":2}",
                       "NaN", "\"tab\there\"", "[1e999]", "{'a': 1}", "", "[.5]"};
  for (const char* b : bad) {
    bool threw = false;
    std::string msg;
    try {
      parse(b);
    } catch (const llmc::json::ParseError& e) {
      threw = true;
      msg = e.what();
    }
    CHECK(threw && msg.find("line 1, column") == 0, "refuses %s (%s)", b, msg.c_str());
  }
  // fuzz_manifest seed 1000 (2026-12-04): a backslash before a raw line break was quoted as is, so the error
  // (and the CLI's one-line message) spanned two lines. Now the byte is named, and no Error holds a line break.
  {
    std::string msg;
    try {
      parse("\"a\\\nb\"");
    } catch (const llmc::json::ParseError& e) {
      msg = e.what();
    }
    CHECK(msg.find('\n') == std::string::npos && msg.find("byte 0x0a") != std::string::npos, "invalid escape of a line break: %s", msg.c_str());
    const llmc::runtime::Error e(LLMC_ERR_BAD_ENGINE, "quoted \"x\ny\r\" from a file");
    CHECK(std::string(e.what()) == "quoted \"x\\ny\\r\" from a file", "Error keeps to one line: %s", e.what());
  }
  std::string deep(1000, '[');
  bool threw = false;
  try {
    parse(deep);
  } catch (const llmc::json::ParseError&) {
    threw = true;
  }
  CHECK(threw, "deep nesting refused");
}

// ---- 1. correctness of prefill and decode ---------------------------------------------------------------------------

void test_prefill_and_decode(llmc_engine* e, const synth::Model& m) {
  std::printf("prefill vs reference, KV-cache decode vs recompute\n");
  const int V = m.d.vocab;
  for (int prompt_len : {1, 7, 40}) {  // 40 > max_num_tokens (32): a chunked prefill
    auto prompt = random_prompt(prompt_len, prompt_len, V);
    Run pre = generate(e, prompt, 0, greedy(), "prefill.f32");
    CHECK(pre.status == LLMC_OK && pre.res.logits_rows == prompt_len, "prefill-only rows %d", pre.res.logits_rows);
    auto ref = synth::reference_logits(m, prompt);
    CHECK(pre.logits.size() == ref.size(), "prefill logits size %zu vs %zu", pre.logits.size(), ref.size());
    if (pre.logits.size() == ref.size()) {
      double d = max_abs_diff(pre.logits.data(), ref.data(), ref.size());
      CHECK(d <= kTol, "prompt %d: prefill vs dense reference max diff %.3g", prompt_len, d);
    }

    const int n_new = 12;
    Run gen = generate(e, prompt, n_new, greedy(), "decode.f32");
    const int rows = prompt_len + n_new - 1;
    CHECK(gen.status == LLMC_OK && int(gen.ids.size()) == n_new && gen.res.stop_reason == LLMC_STOP_LENGTH, "decode ran");
    CHECK(gen.res.logits_rows == rows && gen.logits.size() == size_t(rows) * V, "decode rows %d", gen.res.logits_rows);
    // Recompute: prefill of prompt + generated[0, n-1) gives every row at once.
    std::vector<int32_t> full = prompt;
    full.insert(full.end(), gen.ids.begin(), gen.ids.end() - 1);
    Run re = generate(e, full, 0, greedy(), "recompute.f32");
    if (re.logits.size() == gen.logits.size() && !gen.logits.empty()) {
      double d = max_abs_diff(gen.logits.data(), re.logits.data(), gen.logits.size());
      CHECK(d <= kTol, "prompt %d: decode vs recompute max diff %.3g", prompt_len, d);
      auto ref_full = synth::reference_logits(m, full);
      double dr = max_abs_diff(gen.logits.data(), ref_full.data(), ref_full.size());
      CHECK(dr <= kTol, "prompt %d: decode vs dense reference max diff %.3g", prompt_len, dr);
      // Greedy tokens are the argmax of their rows.
      for (int k = 0; k < n_new; ++k) {
        const float* row = &ref_full[size_t(prompt_len - 1 + k) * V];
        int best = int(std::max_element(row, row + V) - row);
        CHECK(best == gen.ids[k], "token %d: greedy %d vs reference argmax %d", k, gen.ids[k], best);
      }
    } else {
      CHECK(false, "recompute rows %zu vs %zu", re.logits.size(), gen.logits.size());
    }
  }

  // llmc_score equals the NLL from the reference logits.
  auto seq = random_prompt(99, 45, V);
  double nll = 0;
  int32_t scored = 0;
  CHECK(llmc_score(e, seq.data(), int32_t(seq.size()), &nll, &scored) == LLMC_OK && scored == 44, "score ran");
  auto ref = synth::reference_logits(m, seq);
  double want = 0;
  for (size_t t = 0; t + 1 < seq.size(); ++t) {
    const float* row = &ref[t * V];
    double mx = *std::max_element(row, row + V), z = 0;
    for (int j = 0; j < V; ++j) z += std::exp(row[j] - mx);
    want += mx + std::log(z) - row[seq[t + 1]];
  }
  CHECK(std::fabs(nll - want) <= 1e-3, "score nll %.6f vs reference %.6f", nll, want);
}

// ---- 2. batched == alone -----------------------------------------------------------------------------------------

struct Spec {
  std::vector<int32_t> prompt;
  int max_new;
  llmc_sampling_params sp;
  bool logits;
};

void check_batched(const std::string& dir, int64_t kv_bytes, const char* label, const std::vector<Spec>& specs,
                   const std::vector<Run>& alone, bool expect_preemption = false) {
  llmc_engine* e = load(dir, kv_bytes);
  if (!e) {
    CHECK(false, "load %s", label);
    return;
  }
  llmc_executor* ex = nullptr;
  CHECK(llmc_executor_create(e, &ex) == LLMC_OK, "executor");
  std::vector<int64_t> ids(specs.size(), -1);
  std::vector<std::string> paths(specs.size());
  auto add = [&](size_t i) {
    llmc_request_params p{};
    p.prompt = specs[i].prompt.data();
    p.prompt_len = int32_t(specs[i].prompt.size());
    p.max_new_tokens = specs[i].max_new;
    p.sampling = specs[i].sp;
    p.ignore_eos = 1;
    paths[i] = g_dir + "/batched_" + std::to_string(i) + ".f32";
    p.logits_path = specs[i].logits ? paths[i].c_str() : nullptr;
    CHECK(llmc_executor_add(ex, &p, &ids[i]) == LLMC_OK, "add %zu: %s", i, llmc_last_error());
  };
  // Three at once, the rest while those run (in flight), more than max_batch_size in total.
  for (size_t i = 0; i < 3 && i < specs.size(); ++i) add(i);
  std::map<int64_t, std::vector<int32_t>> got;
  std::map<int64_t, int> finished;
  llmc_step_event events[2];  // small on purpose: the executor must hold back what does not fit
  int32_t n_events = 0, active = 1;
  int steps = 0;
  while (active > 0 && steps < 10000) {
    if (steps == 2) {
      for (size_t i = 3; i < specs.size(); ++i) add(i);
    }
    int st = llmc_executor_step(ex, events, 2, &n_events, &active);
    CHECK(st == LLMC_OK, "step: %s", llmc_last_error());
    if (st != LLMC_OK) break;
    for (int k = 0; k < n_events; ++k) {
      if (events[k].token_id >= 0) got[events[k].request_id].push_back(events[k].token_id);
      if (events[k].finished) finished[events[k].request_id] = events[k].stop_reason;
    }
    ++steps;
    if (steps <= 2) active = 1;
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    CHECK(finished.count(ids[i]) && finished[ids[i]] == LLMC_STOP_LENGTH, "%s: request %zu finished", label, i);
    CHECK(got[ids[i]] == alone[i].ids, "%s: request %zu tokens differ from running alone", label, i);
    if (specs[i].logits) {
      auto lg = read_f32(paths[i]);
      CHECK(lg.size() == alone[i].logits.size() && !lg.empty(), "%s: request %zu logits size", label, i);
      if (lg.size() == alone[i].logits.size()) {
        double d = max_abs_diff(lg.data(), alone[i].logits.data(), lg.size());
        CHECK(d <= kTol, "%s: request %zu logits vs alone max diff %.3g", label, i, d);
      }
    }
  }
  llmc_executor_stats st{};
  CHECK(llmc_executor_get_stats(ex, &st) == LLMC_OK, "stats");
  CHECK(st.kv_blocks_free == st.kv_blocks_total, "%s: every KV block free again (%d of %d)", label, st.kv_blocks_free, st.kv_blocks_total);
  CHECK(st.num_running == 0 && st.num_waiting == 0, "%s: nothing left queued", label);
  if (expect_preemption) CHECK(st.num_preemptions > 0, "%s: the KV cache ran full and requests were preempted", label);
  llmc_executor_free(ex);
  llmc_engine_free(e);
}

// Runs requests on one executor, one after another (each to completion), and returns their tokens.
std::vector<std::vector<int32_t>> run_in_order(llmc_executor* ex, const std::vector<std::vector<int32_t>>& prompts, int max_new,
                                               std::vector<int32_t>* cached) {
  std::vector<std::vector<int32_t>> out;
  for (const auto& prompt : prompts) {
    llmc_request_params p{};
    p.prompt = prompt.data();
    p.prompt_len = int32_t(prompt.size());
    p.max_new_tokens = max_new;
    p.sampling = greedy();
    p.ignore_eos = 1;
    int64_t id = -1;
    CHECK(llmc_executor_add(ex, &p, &id) == LLMC_OK, "add: %s", llmc_last_error());
    std::vector<int32_t> got;
    llmc_step_event ev[4];
    int32_t n = 0, active = 1;
    for (int steps = 0; active > 0 && steps < 1000; ++steps) {
      if (llmc_executor_step(ex, ev, 4, &n, &active) != LLMC_OK) {
        CHECK(false, "step: %s", llmc_last_error());
        break;
      }
      for (int k = 0; k < n; ++k) {
        if (ev[k].token_id >= 0) got.push_back(ev[k].token_id);
        if (ev[k].finished && cached) cached->push_back(ev[k].cached_tokens);
      }
    }
    out.push_back(got);
  }
  return out;
}

// Prefix caching: a request whose prompt starts with the blocks of an earlier one reuses them and still gives the
// tokens it gives on a fresh engine without the cache.
void test_prefix_cache(const std::string& dir, const synth::Model& m) {
  std::printf("prefix caching\n");
  const int V = m.d.vocab;
  std::vector<int32_t> shared = random_prompt(11, 22, V);
  std::vector<std::vector<int32_t>> prompts;
  for (int k = 0; k < 3; ++k) {
    std::vector<int32_t> p = shared;
    for (int32_t t : random_prompt(20 + k, 3 + k, V)) p.push_back(t);
    prompts.push_back(p);
  }
  prompts.push_back(shared);  // wholly cached but its last token: that one is computed for the logits
  llmc_engine* cold = load(dir);
  llmc_engine* warm = load(dir);
  if (!cold || !warm) {
    CHECK(false, "load");
    return;
  }
  llmc_executor_options off{};
  off.prefix_caching = 0;
  llmc_executor *a = nullptr, *b = nullptr;
  CHECK(llmc_executor_create_with_options(cold, &off, &a) == LLMC_OK, "executor without prefix caching");
  CHECK(llmc_executor_create(warm, &b) == LLMC_OK, "executor");
  std::vector<int32_t> cached_off, cached_on;
  auto want = run_in_order(a, prompts, 6, &cached_off);
  auto got = run_in_order(b, prompts, 6, &cached_on);
  for (size_t i = 0; i < prompts.size(); ++i) {
    CHECK(got[i] == want[i] && got[i].size() == 6, "prefix cache: request %zu tokens equal the uncached run", i);
  }
  CHECK(cached_off == std::vector<int32_t>(prompts.size(), 0), "no cached tokens without prefix caching");
  // Block size 4: the 22 shared tokens hold 5 full blocks (20 tokens); the first request finds none.
  CHECK(cached_on.size() == 4 && cached_on[0] == 0 && cached_on[1] == 20 && cached_on[2] == 20 && cached_on[3] == 20,
        "cached tokens per request: %d %d %d %d", cached_on.size() > 0 ? cached_on[0] : -1, cached_on.size() > 1 ? cached_on[1] : -1,
        cached_on.size() > 2 ? cached_on[2] : -1, cached_on.size() > 3 ? cached_on[3] : -1);
  llmc_executor_stats st{};
  CHECK(llmc_executor_get_stats(b, &st) == LLMC_OK && st.prefix_blocks_hit == 15 && st.prefix_blocks_queried > st.prefix_blocks_hit,
        "prefix hits %lld of %lld queried", (long long)st.prefix_blocks_hit, (long long)st.prefix_blocks_queried);
  CHECK(st.kv_blocks_free == st.kv_blocks_total && st.kv_blocks_cached > 0, "cached blocks are free to evict (%d free of %d, %d cached)",
        st.kv_blocks_free, st.kv_blocks_total, st.kv_blocks_cached);
  llmc_executor_free(a);
  llmc_executor_free(b);
  llmc_engine_free(cold);
  llmc_engine_free(warm);
}

// Dynamic and static batching admit only into an empty batch: a request added while a batch runs waits for it.
void test_admission_modes(const std::string& dir, const synth::Model& m) {
  std::printf("dynamic and static admission\n");
  llmc_engine* e = load(dir);
  if (!e) {
    CHECK(false, "load");
    return;
  }
  for (int32_t mode : {LLMC_ADMIT_DYNAMIC, LLMC_ADMIT_STATIC}) {
    llmc_executor_options o{};
    o.admission = mode;
    o.static_batch_size = 2;
    o.static_max_wait_ms = 60000;
    llmc_executor* ex = nullptr;
    CHECK(llmc_executor_create_with_options(e, &o, &ex) == LLMC_OK, "executor mode %d", mode);
    std::vector<int32_t> prompt = random_prompt(30 + mode, 6, m.d.vocab);
    llmc_request_params p{};
    p.prompt = prompt.data();
    p.prompt_len = int32_t(prompt.size());
    p.sampling = greedy();
    p.ignore_eos = 1;
    auto add = [&](int max_new) {
      p.max_new_tokens = max_new;
      CHECK(llmc_executor_add(ex, &p, nullptr) == LLMC_OK, "add: %s", llmc_last_error());
    };
    llmc_step_event ev[16];
    int32_t n = 0, active = 0;
    llmc_executor_stats st{};
    add(8);
    if (mode == LLMC_ADMIT_STATIC) {  // one request waits for its batch of 2
      CHECK(llmc_executor_step(ex, ev, 16, &n, &active) == LLMC_OK && n == 0, "static: a lone request is not started");
      llmc_executor_get_stats(ex, &st);
      CHECK(st.num_running == 0 && st.num_waiting == 1 && st.num_steps == 0, "static: it waits (running %d, waiting %d)", st.num_running, st.num_waiting);
    }
    add(8);
    CHECK(llmc_executor_step(ex, ev, 16, &n, &active) == LLMC_OK, "step");
    add(3);  // arrive while the batch runs (static: two, to fill the next batch of 2)
    if (mode == LLMC_ADMIT_STATIC) add(3);
    const int total = mode == LLMC_ADMIT_STATIC ? 4 : 3;
    int finished = 0, max_running = 0, third_started_at = -1;
    for (int s = 0; s < 100 && active > 0; ++s) {
      llmc_executor_get_stats(ex, &st);
      max_running = std::max(max_running, st.num_running);
      if (st.num_running > 0 && third_started_at < 0 && finished >= 2) third_started_at = s;
      CHECK(llmc_executor_step(ex, ev, 16, &n, &active) == LLMC_OK, "step");
      for (int k = 0; k < n; ++k) finished += ev[k].finished;
    }
    CHECK(finished == total, "mode %d: all %d finished (%d)", mode, total, finished);
    CHECK(max_running == 2, "mode %d: late requests never joined the running batch (max running %d)", mode, max_running);
    CHECK(third_started_at >= 0, "mode %d: it ran after the batch", mode);
    llmc_executor_free(ex);
  }
  llmc_engine_free(e);
}

void test_batched(const std::string& dir, llmc_engine* e, const synth::Model& m) {
  std::printf("in-flight batching vs one request at a time\n");
  const int V = m.d.vocab;
  std::vector<Spec> specs = {
      {random_prompt(1, 5, V), 10, greedy(), true},
      {random_prompt(2, 37, V), 6, llmc_sampling_params{0.9f, 20, 0.9f, 1.1f, 42}, true},
      {random_prompt(3, 12, V), 14, llmc_sampling_params{1.0f, 0, 1.0f, 1.0f, 7}, false},
      {random_prompt(4, 1, V), 20, greedy(), true},
      {random_prompt(5, 20, V), 9, llmc_sampling_params{0.7f, 5, 1.0f, 1.3f, 3}, true},
      {random_prompt(6, 9, V), 15, greedy(), false},
  };
  std::vector<Run> alone;
  for (size_t i = 0; i < specs.size(); ++i) {
    alone.push_back(generate(e, specs[i].prompt, specs[i].max_new, specs[i].sp, specs[i].logits ? "alone_" + std::to_string(i) + ".f32" : ""));
  }
  check_batched(dir, 0, "default KV budget", specs, alone);
  // 12 blocks of 4 tokens: fewer than all requests need at once, so admissions wait and running requests are
  // preempted (and recomputed) when the cache runs full.
  check_batched(dir, 12 * 1024, "tight KV budget", specs, alone, /*expect_preemption=*/true);
}

// ---- 3. refusals --------------------------------------------------------------------------------------------------

void test_bad_engines(const synth::Model& m) {
  std::printf("bad engines refused\n");
  struct Case {
    const char* name;
    synth::Corruption c;
    int want;
    const char* must_mention;
  };
  std::vector<Case> cases;
  auto add = [&](const char* name, int want, const char* mention, auto fn) {
    synth::Corruption c;
    fn(c);
    cases.push_back({name, c, want, mention});
  };
  add("bad_magic", LLMC_ERR_BAD_ENGINE, "magic", [](auto& c) { c.bad_magic = true; });
  add("header_version", LLMC_ERR_VERSION, "llmc build", [](auto& c) { c.header_version = LLMC_ENGINE_FORMAT_VERSION + 1; });
  // An engine of the previous format (one arena for every activation): refused with the command that rebuilds it.
  add("old_header_version", LLMC_ERR_VERSION, "llmc build '/models/tiny llama' -o ", [](auto& c) { c.header_version = LLMC_ENGINE_FORMAT_VERSION - 1; });
  add("config_version", LLMC_ERR_VERSION, "`llmc build '/models/tiny llama' -o ", [](auto& c) { c.config_format_version = LLMC_ENGINE_FORMAT_VERSION + 1; });
  add("schema_hash", LLMC_ERR_VERSION, "--dtype float32 --force`", [](auto& c) { c.schema_hash = "0000000000000000"; });
  add("truncated_header", LLMC_ERR_BAD_ENGINE, "truncated", [](auto& c) { c.truncate_to = 20; });
  add("truncated_plan", LLMC_ERR_BAD_ENGINE, "truncated", [](auto& c) { c.truncate_to = 200; });
  add("truncated_data", LLMC_ERR_BAD_ENGINE, "truncated", [](auto& c) { c.truncate_to = 4096 * 2 + 100; });
  add("weight_outside", LLMC_ERR_BAD_ENGINE, "outside the data section", [](auto& c) { c.weight_outside = true; });
  add("wrong_nbytes", LLMC_ERR_BAD_ENGINE, "nbytes", [](auto& c) { c.wrong_nbytes = true; });
  add("unknown_op", LLMC_ERR_VERSION, "flash_attention", [](auto& c) { c.first_op_name = "flash_attention"; });
  add("bad_plan_json", LLMC_ERR_BAD_ENGINE, "not valid JSON", [](auto& c) { c.bad_plan_json = true; });
  // The two activation arenas (format version 3): each checked on its own, every new field required.
  auto edit = [](const char* from, const char* to) { return [=](auto& c) { c.plan_from = from; c.plan_to = to; }; };
  add("token_arena_range", LLMC_ERR_BAD_ENGINE, "beyond arena.floats_per_token", edit("\"arena_offset\": 0}", "\"arena_offset\": 100000}"));
  add("logits_arena_range", LLMC_ERR_BAD_ENGINE, "beyond arena.logit_floats_per_row 100", edit("\"logit_floats_per_row\": 128", "\"logit_floats_per_row\": 100"));
  add("logits_arena_overlap", LLMC_ERR_BAD_ENGINE, "share logits arena floats while both are live",
      edit("\"name\": \"logits\", \"kind\": \"activation\", \"rows\": \"logit_rows\", \"width\": 64, \"arena_offset\": 64}",
           "\"name\": \"logits\", \"kind\": \"activation\", \"rows\": \"logit_rows\", \"width\": 64, \"arena_offset\": 32}"));
  add("no_logits_arena", LLMC_ERR_BAD_ENGINE, "arena: missing \"logit_floats_per_row\"", edit(", \"logit_floats_per_row\": 128", ""));
  add("no_max_logit_rows", LLMC_ERR_BAD_ENGINE, "limits: missing \"max_logit_rows\"", edit(", \"max_logit_rows\": 32", ""));
  add("max_logit_rows_range", LLMC_ERR_BAD_ENGINE, "limits.max_logit_rows: 33 is outside [4, 32]", edit("\"max_logit_rows\": 32", "\"max_logit_rows\": 33"));
  add("max_logit_rows_small", LLMC_ERR_BAD_ENGINE, "limits.max_logit_rows: 3 is outside [4, 32]", edit("\"max_logit_rows\": 32", "\"max_logit_rows\": 3"));
  add("no_config", LLMC_ERR_IO, "has no config.json; build one with `llmc build HF_DIR -o", [](auto& c) { c.no_config = true; });
  for (const Case& k : cases) {
    std::string dir = g_dir + "/bad_" + k.name;
    CHECK(synth::write_engine(dir, m, k.c), "write %s", k.name);
    llmc_engine* e = nullptr;
    int st = llmc_engine_load(dir.c_str(), nullptr, &e);
    std::string msg = llmc_last_error();
    CHECK(st == k.want && e == nullptr, "%s: status %d (want %d): %s", k.name, st, k.want, msg.c_str());
    CHECK(msg.find(k.must_mention) != std::string::npos && msg.find('\n') == std::string::npos,
          "%s: message should mention \"%s\": %s", k.name, k.must_mention, msg.c_str());
    if (e) llmc_engine_free(e);
  }
  llmc_engine* e = nullptr;
  std::string missing = g_dir + "/does_not_exist";
  CHECK(llmc_engine_load(missing.c_str(), nullptr, &e) == LLMC_ERR_IO, "missing dir: %s", llmc_last_error());
  CHECK(llmc_engine_load(nullptr, nullptr, &e) == LLMC_ERR_INVALID_ARGUMENT, "null dir");
  CHECK(llmc_engine_load(g_dir.c_str(), nullptr, nullptr) == LLMC_ERR_INVALID_ARGUMENT, "null out");
  llmc_load_options cuda{"cuda", 0, 0};
  std::string good = g_dir + "/engine";
  int st = llmc_engine_load(good.c_str(), &cuda, &e);
  // No NVIDIA driver: the one-line message; with one, this cpu-target engine has no GPU code.
  CHECK(st == LLMC_ERR_UNSUPPORTED && (std::strstr(llmc_last_error(), "CUDA backend unavailable: libcuda.so.1 not found") != nullptr ||
                                       std::strstr(llmc_last_error(), "cannot run on this GPU") != nullptr),
        "cuda: %d %s", st, llmc_last_error());
  llmc_load_options tiny{"cpu", 1, 100};
  CHECK(llmc_engine_load(good.c_str(), &tiny, &e) == LLMC_ERR_LIMIT, "kv budget below one block: %s", llmc_last_error());
}

// ---- 4. sampling, stops, limits ---------------------------------------------------------------------------------------

int stop_at_third(void*, int32_t, int32_t index) { return index == 2; }
int cancel_at_second(void* user, int32_t, int32_t index) {
  if (index == 1) llmc_engine_cancel(static_cast<llmc_engine*>(user));
  return 0;
}

void test_sampling_and_stops(llmc_engine* e, const synth::Model& m) {
  std::printf("sampling, stop reasons, limits\n");
  const int V = m.d.vocab;
  auto prompt = random_prompt(11, 6, V);
  llmc_sampling_params hot{1.5f, 0, 1.0f, 1.0f, 1234};
  Run a = generate(e, prompt, 24, hot), b = generate(e, prompt, 24, hot);
  CHECK(a.status == LLMC_OK && a.ids == b.ids, "same seed, same tokens");
  bool any_differs = false;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    hot.seed = seed;
    any_differs = any_differs || generate(e, prompt, 24, hot).ids != a.ids;
  }
  CHECK(any_differs, "other seeds give other tokens");
  Run g = generate(e, prompt, 24);
  Run k1 = generate(e, prompt, 24, llmc_sampling_params{1.0f, 1, 1.0f, 1.0f, 99});
  CHECK(k1.ids == g.ids, "top_k=1 equals greedy");
  Run p0 = generate(e, prompt, 24, llmc_sampling_params{1.0f, 0, 1e-6f, 1.0f, 5});
  CHECK(p0.ids == g.ids, "tiny top_p equals greedy");
  Run rp = generate(e, prompt, 24, llmc_sampling_params{0.0f, 0, 1.0f, 1.8f, 0});
  CHECK(rp.status == LLMC_OK && rp.ids != g.ids, "repetition penalty changes greedy output");

  // EOS: stop at the first greedy token used as EOS (it is included).
  const int32_t eos = g.ids[3];
  const size_t first = size_t(std::find(g.ids.begin(), g.ids.end(), eos) - g.ids.begin());
  Run s = generate(e, prompt, 24, greedy(), "", {eos}, false);
  CHECK(s.res.stop_reason == LLMC_STOP_EOS && s.ids.size() == first + 1, "eos stop after %zu tokens", s.ids.size());
  Run ig = generate(e, prompt, 24, greedy(), "", {eos}, true);
  CHECK(ig.res.stop_reason == LLMC_STOP_LENGTH && ig.ids.size() == 24, "ignore_eos");
  Run cb = generate(e, prompt, 24, greedy(), "", {}, true, stop_at_third);
  CHECK(cb.res.stop_reason == LLMC_STOP_CALLBACK && cb.ids.size() == 3, "callback stop");
  Run cc = generate(e, prompt, 24, greedy(), "", {}, true, cancel_at_second, e);
  CHECK(cc.res.stop_reason == LLMC_STOP_CANCELLED && cc.ids.size() == 2, "cancel: %d after %zu", cc.res.stop_reason, cc.ids.size());
  Run after = generate(e, prompt, 5);
  CHECK(after.res.stop_reason == LLMC_STOP_LENGTH && after.ids.size() == 5, "a cancel does not leak into the next request");
  Run zero = generate(e, prompt, 0);
  CHECK(zero.status == LLMC_OK && zero.ids.empty() && zero.res.stop_reason == LLMC_STOP_LENGTH, "max_new_tokens 0");

  auto expect_status = [&](const std::vector<int32_t>& pr, int max_new, llmc_sampling_params sp, int want, const char* what,
                           const char* mention = "") {
    llmc_request_params p{};
    p.prompt = pr.data();
    p.prompt_len = int32_t(pr.size());
    p.max_new_tokens = max_new;
    p.sampling = sp;
    std::vector<int32_t> out(size_t(std::max(max_new, 1)));
    llmc_generate_result r{};
    r.output_ids = out.data();
    int st = llmc_generate(e, &p, &r);
    CHECK(st == want && std::strstr(llmc_last_error(), mention) != nullptr, "%s: status %d: %s", what, st, llmc_last_error());
  };
  expect_status(prompt, m.d.max_seq_len, greedy(), LLMC_ERR_LIMIT, "too long",
                "prompt of 6 tokens + 64 new tokens exceeds the engine's max_seq_len 64; rebuild with --max-seq-len 70");
  expect_status({}, 4, greedy(), LLMC_ERR_INVALID_ARGUMENT, "empty prompt");
  expect_status({1, V}, 4, greedy(), LLMC_ERR_INVALID_ARGUMENT, "token outside vocab", "outside the vocabulary");
  expect_status({1, -1}, 4, greedy(), LLMC_ERR_INVALID_ARGUMENT, "negative token");
  expect_status(prompt, -1, greedy(), LLMC_ERR_INVALID_ARGUMENT, "negative max_new_tokens");
  expect_status(prompt, 4, llmc_sampling_params{-1.0f, 0, 1.0f, 1.0f, 0}, LLMC_ERR_INVALID_ARGUMENT, "temperature", "temperature");
  expect_status(prompt, 4, llmc_sampling_params{NAN, 0, 1.0f, 1.0f, 0}, LLMC_ERR_INVALID_ARGUMENT, "nan temperature");
  expect_status(prompt, 4, llmc_sampling_params{1.0f, -1, 1.0f, 1.0f, 0}, LLMC_ERR_INVALID_ARGUMENT, "top_k", "top_k");
  expect_status(prompt, 4, llmc_sampling_params{1.0f, 0, 0.0f, 1.0f, 0}, LLMC_ERR_INVALID_ARGUMENT, "top_p", "top_p");
  expect_status(prompt, 4, llmc_sampling_params{1.0f, 0, 1.5f, 1.0f, 0}, LLMC_ERR_INVALID_ARGUMENT, "top_p > 1");
  expect_status(prompt, 4, llmc_sampling_params{1.0f, 0, 1.0f, 0.0f, 0}, LLMC_ERR_INVALID_ARGUMENT, "penalty", "repetition_penalty");
  CHECK(llmc_generate(nullptr, nullptr, nullptr) == LLMC_ERR_INVALID_ARGUMENT, "null engine");
  llmc_request_params p{};
  p.prompt = prompt.data();
  p.prompt_len = 6;
  p.max_new_tokens = 3;
  p.sampling = greedy();
  p.logits_path = "/nonexistent-dir/x.f32";
  llmc_generate_result r{};
  int32_t out[3];
  r.output_ids = out;
  CHECK(llmc_generate(e, &p, &r) == LLMC_ERR_IO, "unwritable logits path: %s", llmc_last_error());
}

void test_info(llmc_engine* e, const synth::Model& m) {
  std::printf("engine info\n");
  const char* info = llmc_engine_info_json(e);
  try {
    auto v = llmc::json::parse(info);
    CHECK(v.find("vocab_size")->as_int64() == m.d.vocab, "vocab_size");
    CHECK(v.find("max_seq_len")->as_int64() == m.d.max_seq_len, "max_seq_len");
    CHECK(v.find("backend")->as_string() == "cpu", "backend");
    CHECK(v.find("simd")->is_string() && v.find("threads")->as_int64() == 2, "simd/threads");
    CHECK(v.find("kv_block_count")->as_int64() == m.d.max_batch * (m.d.max_seq_len / m.d.block_size), "kv_block_count");
    CHECK(v.find("block_size")->as_int64() == m.d.block_size, "block_size");
    CHECK(v.find("weights_bytes")->as_int64() > 0 && v.find("decode_weight_bytes")->as_int64() > 0, "bytes");
    CHECK(v.find("eos_token_ids")->as_array().size() == 1, "eos ids");
    // The plan's two arenas: the logits arena is max_logit_rows (min(max(4, 64), 32) = 32) rows of last + final_norm
    // + logits (32 + 32 + 64 floats); arena_bytes adds the token arena, a whole number of max_num_tokens rows.
    const int64_t logits_arena = v.find("logits_arena_bytes")->as_int64(), arena = v.find("arena_bytes")->as_int64();
    CHECK(v.find("max_logit_rows")->as_int64() == 32, "max_logit_rows %lld", (long long)v.find("max_logit_rows")->as_int64());
    CHECK(logits_arena == int64_t{32} * (2 * m.d.hidden + m.d.vocab) * 4, "logits_arena_bytes %lld", (long long)logits_arena);
    CHECK(arena > logits_arena && (arena - logits_arena) % (int64_t{m.d.max_num_tokens} * 4) == 0, "arena_bytes %lld", (long long)arena);
  } catch (const std::exception& ex) {
    CHECK(false, "info is not JSON: %s (%s)", ex.what(), info);
  }
  CHECK(std::strcmp(llmc_engine_info_json(nullptr), "{}") == 0, "null engine info");
}

}  // namespace

int main(int argc, char** argv) {
  bool keep = argc > 1 && std::strcmp(argv[1], "--keep") == 0;
  char tmpl[] = "/tmp/llmc-selftest-XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    return 2;
  }
  g_dir = tmpl;
  synth::Dims dims;
  synth::Model model = synth::make_model(dims, 1);
  const std::string dir = g_dir + "/engine";
  if (!synth::write_engine(dir, model)) {
    std::printf("cannot write %s\n", dir.c_str());
    return 2;
  }
  test_json();
  llmc_engine* e = load(dir);
  if (e != nullptr) {
    test_info(e, model);
    test_prefill_and_decode(e, model);
    test_batched(dir, e, model);
    test_sampling_and_stops(e, model);
    test_prefix_cache(dir, model);
    test_admission_modes(dir, model);
    llmc_engine_free(e);
  } else {
    CHECK(false, "the synthetic engine must load");
  }
  test_bad_engines(model);

  if (!keep) {
    std::string cmd = "rm -rf '" + g_dir + "'";
    if (std::system(cmd.c_str()) != 0) std::printf("could not remove %s\n", g_dir.c_str());
  } else {
    std::printf("kept %s\n", g_dir.c_str());
  }
  return llmc::test::check_summary("runtime_selftest");
}
