// Native tests of what the build side added to the runtime (issue 5, no GPU needed):
//   1. target.h: parsing sm_/compute_ names, the driver's SASS / PTX-JIT rules, engine_has_code_for on cuda
//      manifests, the rebuild command for a device, and the CPU backend refusing a cuda engine (through the C API)
//   2. the manifest's target checks: unknown backend, malformed archs / fatbin path
//   3. dummy weights (dummy_weights.h): the generator's statistics, dtype rounding, independence from chunking and
//      thread count, and that a loaded engine's weights get their values
// Usage: target_dummy_test
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../cpu/dtype.h"
#include "../runtime/dummy_weights.h"
#include "../runtime/errors.h"
#include "../runtime/target.h"
#include "llmc/llmc.h"
#include "check.h"
#include "synthetic_engine.h"

namespace {


using namespace llmc::runtime;

Manifest cuda_manifest(std::vector<std::string> archs, std::string ptx) {
  Manifest m;
  m.target_backend = "cuda";
  m.target_archs = std::move(archs);
  m.target_ptx = std::move(ptx);
  m.target_fatbin = "kernels/llmc.fatbin";
  m.source_dir = "/models/llama";
  m.build_dtype = "float16";
  return m;
}

void test_codes() {
  std::printf("cuda code names and rules\n");
  CudaCode c;
  CHECK(parse_cuda_code("sm_80", &c) && c.major == 8 && c.minor == 0 && c.variant == 0 && !c.ptx, "sm_80");
  CHECK(parse_cuda_code("sm_90a", &c) && c.major == 9 && c.minor == 0 && c.variant == 'a', "sm_90a");
  CHECK(parse_cuda_code("sm_103f", &c) && c.major == 10 && c.minor == 3 && c.variant == 'f', "sm_103f");
  CHECK(parse_cuda_code("compute_80", &c) && c.ptx && c.major == 8, "compute_80");
  for (const char* bad : {"sm80", "sm_", "sm_8", "sm_1000", "sm_90b", "compute_", "gfx90a", "sm_0x", "", "sm_09"}) {
    CHECK(!parse_cuda_code(bad, &c), "%s must not parse", bad);
  }
  struct Rule { const char* code; int major, minor; bool runs; };
  const Rule rules[] = {
      {"sm_80", 8, 0, true},   {"sm_80", 8, 6, true},   {"sm_80", 8, 9, true},    {"sm_80", 9, 0, false},
      {"sm_86", 8, 0, false},  {"sm_90a", 9, 0, true},  {"sm_90a", 10, 0, false}, {"sm_90", 9, 0, true},
      {"sm_100f", 10, 3, true}, {"sm_100f", 12, 0, false}, {"sm_100a", 10, 3, false},
      {"compute_80", 7, 5, false}, {"compute_80", 8, 0, true}, {"compute_80", 12, 1, true},
      {"compute_90a", 9, 0, true}, {"compute_90a", 10, 0, false}, {"compute_100f", 10, 3, true}, {"compute_100f", 12, 0, false},
  };
  for (const Rule& r : rules) {
    parse_cuda_code(r.code, &c);
    CHECK(code_runs_on(c, r.major, r.minor) == r.runs, "%s on %d.%d should %s", r.code, r.major, r.minor, r.runs ? "run" : "not run");
  }
}

void test_engine_has_code_for() {
  std::printf("engine_has_code_for\n");
  const Manifest m = cuda_manifest({"sm_80", "sm_90a"}, "compute_80");
  std::string why;
  CHECK(engine_has_code_for(m, 8, 0, &why) && why == "SASS sm_80 runs on sm_80", "A100: %s", why.c_str());
  CHECK(engine_has_code_for(m, 8, 6, &why) && why == "SASS sm_80 runs on sm_86", "A10/3090: %s", why.c_str());
  CHECK(engine_has_code_for(m, 9, 0, &why) && why == "SASS sm_90a runs on sm_90", "H100/H200: %s", why.c_str());
  CHECK(engine_has_code_for(m, 12, 0, &why) && why.find("PTX compute_80 is JIT-compiled for sm_120") == 0, "newer: %s", why.c_str());
  CHECK(!engine_has_code_for(m, 7, 5, &why), "T4 has no code");
  CHECK(why == "the engine has SASS for sm_80, sm_90a and PTX compute_80 (this GPU is older than compute_80); none runs on "
               "sm_75 (compute capability 7.5)", "T4 why: %s", why.c_str());

  const Manifest hopper_only = cuda_manifest({"sm_90a"}, "");
  CHECK(!engine_has_code_for(hopper_only, 10, 0, &why) && why.find("SASS for sm_90a and no PTX; none runs on sm_100") != std::string::npos,
        "sm_90a only on B200: %s", why.c_str());
  CHECK(!engine_has_code_for(hopper_only, 8, 0, nullptr), "null why is allowed");
  Manifest cpu;
  CHECK(!engine_has_code_for(cpu, 9, 0, &why) && why.find("built for cpu, not cuda") != std::string::npos, "cpu engine: %s", why.c_str());

  const std::string cmd = rebuild_command_for_device(m, "/e/llama", 8, 6);
  CHECK(cmd == "llmc build /models/llama -o /e/llama --dtype float16 --target cuda --cuda-arch sm_80,sm_90a,sm_86 --force",
        "device rebuild: %s", cmd.c_str());
  CHECK(rebuild_command_for_device(m, "/e/llama", 8, 0).find("--cuda-arch sm_80,sm_90a --force") != std::string::npos, "no duplicate arch");
  CHECK(rebuild_command(m, "/e/llama") == "llmc build /models/llama -o /e/llama --dtype float16 --target cuda --cuda-arch sm_80,sm_90a --force",
        "rebuild keeps the target: %s", rebuild_command(m, "/e/llama").c_str());
  Manifest dummy = cpu;
  dummy.dummy_weights = true;
  dummy.source_config = "llama-110m";
  dummy.source_seed = 7;
  dummy.build_dtype = "float16";
  CHECK(rebuild_command(dummy, "/e/x") == "llmc build --dummy-weights --config llama-110m --dummy-seed 7 -o /e/x --dtype float16 --force",
        "dummy rebuild: %s", rebuild_command(dummy, "/e/x").c_str());
}

std::string read_all(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_all(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// Loads with the CPU backend; returns the status and leaves the message in *msg.
int load_status(const std::string& dir, std::string* msg) {
  llmc_load_options o{};
  o.backend = "cpu";
  o.num_threads = 1;
  llmc_engine* e = nullptr;
  int st = llmc_engine_load(dir.c_str(), &o, &e);
  *msg = st == LLMC_OK ? "" : llmc_last_error();
  llmc_engine_free(e);
  return st;
}

void test_manifest_targets(const std::string& tmp) {
  std::printf("manifest targets and the CPU backend\n");
  synth::Model model = synth::make_model(synth::Dims{}, 3);
  const std::string dir = tmp + "/engine";
  if (!synth::write_engine(dir, model)) {
    CHECK(false, "cannot write %s", dir.c_str());
    return;
  }
  const std::string cfg_path = dir + "/config.json";
  const std::string cpu_cfg = read_all(cfg_path);
  const std::string cpu_target = "\"target\": {\"backend\": \"cpu\"}";
  auto with_target = [&](const std::string& t) {
    std::string c = cpu_cfg;
    c.replace(c.find(cpu_target), cpu_target.size(), "\"target\": " + t);
    write_all(cfg_path, c);
  };
  std::string msg;
  CHECK(load_status(dir, &msg) == LLMC_OK, "the cpu engine loads: %s", msg.c_str());

  with_target(R"({"backend": "cuda", "archs": ["sm_80", "sm_90a"], "ptx": "compute_80", "fatbin": "kernels/llmc.fatbin"})");
  CHECK(load_status(dir, &msg) == LLMC_ERR_UNSUPPORTED, "cuda engine on cpu: %s", msg.c_str());
  const std::string want = "this engine was built for cuda (sm_80, sm_90a); run it on a GPU machine or rebuild with --target cpu: "
                           "`llmc build '/models/tiny llama' -o " + dir + " --dtype float32 --target cpu --force`";
  CHECK(msg == want, "message: %s", msg.c_str());
  Manifest m = read_manifest(dir);
  CHECK(m.target_backend == "cuda" && m.target_archs.size() == 2 && m.target_ptx == "compute_80" && m.target_fatbin == "kernels/llmc.fatbin",
        "manifest fields");

  struct Bad { const char* target; int status; const char* fragment; };
  const Bad bads[] = {
      {R"({"backend": "rocm"})", LLMC_ERR_UNSUPPORTED, "was built for target \"rocm\", which this runtime does not know"},
      {R"({"backend": "cuda", "archs": [], "fatbin": "k.fatbin"})", LLMC_ERR_BAD_ENGINE, "target.archs: a cuda engine lists at least one"},
      {R"({"backend": "cuda", "archs": ["sm80"], "fatbin": "k.fatbin"})", LLMC_ERR_BAD_ENGINE, "target.archs[0]: expected an architecture"},
      {R"({"backend": "cuda", "archs": ["compute_80"], "fatbin": "k.fatbin"})", LLMC_ERR_BAD_ENGINE, "target.archs[0]"},
      {R"({"backend": "cuda", "archs": ["sm_80"], "ptx": "sm_80", "fatbin": "k.fatbin"})", LLMC_ERR_BAD_ENGINE, "target.ptx"},
      {R"({"backend": "cuda", "archs": ["sm_80"], "fatbin": "../k.fatbin"})", LLMC_ERR_BAD_ENGINE, "target.fatbin: expected a path inside"},
      {R"({"backend": "cuda", "archs": ["sm_80"]})", LLMC_ERR_BAD_ENGINE, "missing \"fatbin\""},
      {R"({"archs": ["sm_80"]})", LLMC_ERR_BAD_ENGINE, "missing \"backend\""},
  };
  for (const Bad& b : bads) {
    with_target(b.target);
    int st = load_status(dir, &msg);
    CHECK(st == b.status && msg.find(b.fragment) != std::string::npos, "%s -> %d %s", b.target, st, msg.c_str());
  }
  write_all(cfg_path, cpu_cfg);
}

void test_generator() {
  std::printf("dummy weight values\n");
  const int64_t n = 1 << 20;
  WeightInfo w;
  w.dtype = llmc::cpu::DType::f32;
  w.shape = {n};
  w.dummy.kind = DummyInit::Kind::normal;
  w.dummy.seed = 42;
  w.dummy.std = 0.02f;
  std::vector<float> x(n);
  generate_dummy(w, 0, n, x.data());
  double sum = 0, sq = 0, amax = 0;
  int zeros = 0;
  for (float v : x) {
    sum += v;
    sq += double(v) * v;
    amax = std::fmax(amax, std::fabs(v));
    zeros += v == 0.0f;
  }
  const double mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
  CHECK(std::fabs(mean) < 1e-4 && std::fabs(sd - 0.02) < 2e-4, "normal: mean %g std %g", mean, sd);
  CHECK(amax <= 0.02 * 3.4642 && amax > 0.02 * 3.0, "bounded tails: max %g", amax);
  CHECK(zeros < n / 1000, "hardly any zeros: %d", zeros);

  std::vector<float> part(n);  // chunks agree with the whole
  generate_dummy(w, 0, 1000, part.data());
  generate_dummy(w, 1000, n, part.data() + 1000);
  CHECK(std::memcmp(part.data(), x.data(), sizeof(float) * n) == 0, "chunking does not change values");
  w.dummy.seed = 43;
  generate_dummy(w, 0, n, part.data());
  CHECK(std::memcmp(part.data(), x.data(), sizeof(float) * n) != 0, "another seed, other values");

  w.dummy.kind = DummyInit::Kind::ones;
  generate_dummy(w, 0, n, part.data());
  double osum = 0;
  for (float v : part) osum += v;
  CHECK(std::fabs(osum / n - 1.0) < 1e-4, "ones: mean %g", osum / n);

  w.dummy.kind = DummyInit::Kind::constant;
  w.dummy.value = 0.5f;
  generate_dummy(w, 0, 16, part.data());
  CHECK(part[0] == 0.5f && part[15] == 0.5f, "const");

  w.dummy.kind = DummyInit::Kind::normal;
  w.dummy.seed = 42;
  for (auto dt : {llmc::cpu::DType::f16, llmc::cpu::DType::bf16}) {
    w.dtype = dt;
    std::vector<uint16_t> h(4096);
    generate_dummy(w, 0, 4096, h.data());
    bool same = true;
    for (int i = 0; i < 4096; ++i) {
      uint16_t want = dt == llmc::cpu::DType::f16 ? llmc::cpu::f32_to_f16(x[i]) : llmc::cpu::f32_to_bf16(x[i]);
      same = same && h[i] == want;
    }
    CHECK(same, "%s values are the f32 values rounded to nearest even", dt == llmc::cpu::DType::f16 ? "f16" : "bf16");
  }
}

void test_fill() {
  std::printf("fill_dummy_weights\n");
  auto make = [](int threads) {
    auto e = std::make_unique<LoadedEngine>();
    const int64_t shapes[][2] = {{3000, 700}, {700, 1}, {5, 3}};
    for (int i = 0; i < 3; ++i) {
      PlanValue v;
      v.id = i;
      v.kind = PlanValue::Kind::weight;
      v.weight.dtype = i == 0 ? llmc::cpu::DType::f16 : llmc::cpu::DType::f32;
      v.weight.shape = shapes[i][1] == 1 ? std::vector<int64_t>{shapes[i][0]} : std::vector<int64_t>{shapes[i][0], shapes[i][1]};
      v.weight.nbytes = uint64_t(shapes[i][0] * shapes[i][1]) * (i == 0 ? 2 : 4);
      v.weight.dummy.kind = i == 1 ? DummyInit::Kind::ones : DummyInit::Kind::normal;
      v.weight.dummy.seed = 100 + uint64_t(i);
      v.weight.dummy.std = 0.05f;
      e->plan.values.push_back(v);
    }
    fill_dummy_weights(*e, threads);
    return e;
  };
  auto one = make(1);
  auto four = make(4);
  bool ok = true;
  for (size_t i = 0; i < one->plan.values.size(); ++i) {
    const WeightInfo& a = one->plan.values[i].weight;
    const WeightInfo& b = four->plan.values[i].weight;
    ok = ok && a.data != nullptr && b.data != nullptr && reinterpret_cast<uintptr_t>(a.data) % 64 == 0 &&
         std::memcmp(a.data, b.data, a.nbytes) == 0;
  }
  CHECK(ok, "1 and 4 threads give identical, 64-byte aligned weights");
  const float* ones = static_cast<const float*>(one->plan.values[1].weight.data);
  CHECK(std::fabs(ones[0] - 1.0f) < 0.2f && ones[0] != 1.0f, "norm gains are ones with noise: %g", ones[0]);
}

}  // namespace

int main() {
  char tmpl[] = "/tmp/llmc-target-test-XXXXXX";
  if (!mkdtemp(tmpl)) return 2;
  test_codes();
  test_engine_has_code_for();
  test_manifest_targets(tmpl);
  test_generator();
  test_fill();
  std::string cmd = std::string("rm -rf '") + tmpl + "'";
  if (std::system(cmd.c_str()) != 0) std::printf("could not remove %s\n", tmpl);
  return llmc::test::check_summary("target_dummy_test");
}
