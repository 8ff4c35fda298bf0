#include "target.h"

#include <cstdlib>

#include "errors.h"

namespace llmc::runtime {

namespace {

std::string code_name(const CudaCode& c) {
  std::string s = (c.ptx ? "compute_" : "sm_") + std::to_string(c.major * 10 + c.minor);
  return c.variant != 0 ? s + c.variant : s;
}

std::string device_name(int major, int minor) { return "sm_" + std::to_string(major * 10 + minor); }

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

}  // namespace

bool parse_cuda_code(const std::string& name, CudaCode* out) {
  CudaCode c;
  std::string rest;
  if (name.rfind("sm_", 0) == 0) {
    rest = name.substr(3);
  } else if (name.rfind("compute_", 0) == 0) {
    rest = name.substr(8);
    c.ptx = true;
  } else {
    return false;
  }
  if (!rest.empty() && (rest.back() == 'a' || rest.back() == 'f')) {
    c.variant = rest.back();
    rest.pop_back();
  }
  if (rest.size() < 2 || rest.size() > 3) return false;
  for (char ch : rest) {
    if (ch < '0' || ch > '9') return false;
  }
  int num = std::atoi(rest.c_str());  // "90" -> 9.0, "100" -> 10.0, "103" -> 10.3
  c.major = num / 10;
  c.minor = num % 10;
  if (c.major == 0) return false;
  *out = c;
  return true;
}

bool code_runs_on(const CudaCode& c, int major, int minor) {
  if (c.variant == 'a') return major == c.major && minor == c.minor;
  if (c.variant == 'f' || !c.ptx) return major == c.major && minor >= c.minor;
  return major > c.major || (major == c.major && minor >= c.minor);  // plain PTX: any newer device (JIT)
}

bool engine_has_code_for(const Manifest& m, int sm_major, int sm_minor, std::string* why) {
  const std::string dev = device_name(sm_major, sm_minor);
  auto say = [why](const std::string& s) {
    if (why != nullptr) *why = s;
  };
  if (m.target_backend != "cuda") {
    say("the engine was built for " + m.target_backend + ", not cuda: it has no GPU code");
    return false;
  }
  for (const std::string& a : m.target_archs) {
    CudaCode c;
    if (parse_cuda_code(a, &c) && !c.ptx && code_runs_on(c, sm_major, sm_minor)) {
      say("SASS " + a + " runs on " + dev);
      return true;
    }
  }
  CudaCode ptx;
  if (!m.target_ptx.empty() && parse_cuda_code(m.target_ptx, &ptx) && ptx.ptx && code_runs_on(ptx, sm_major, sm_minor)) {
    say("PTX " + m.target_ptx + " is JIT-compiled for " + dev + " (no SASS for it in the fatbin): the first load takes longer");
    return true;
  }
  std::string has = "SASS for " + join(m.target_archs, ", ");
  if (!m.target_ptx.empty()) {
    has += " and PTX " + m.target_ptx;
    if (parse_cuda_code(m.target_ptx, &ptx) && (sm_major * 10 + sm_minor) < (ptx.major * 10 + ptx.minor)) {
      has += " (this GPU is older than " + code_name(ptx) + ")";
    }
  } else {
    has += " and no PTX";
  }
  say("the engine has " + has + "; none runs on " + dev + " (compute capability " + std::to_string(sm_major) + "." +
      std::to_string(sm_minor) + ")");
  return false;
}

std::string rebuild_command_for_device(const Manifest& m, const std::string& engine_dir, int sm_major, int sm_minor) {
  std::vector<std::string> archs = m.target_archs;
  const std::string dev = device_name(sm_major, sm_minor);
  bool present = false;
  for (const std::string& a : archs) present = present || a == dev;
  if (!present) archs.push_back(dev);
  return build_command(m, engine_dir, "cuda", join(archs, ","));
}

void check_engine_backend(const Manifest& m, const std::string& backend, const std::string& engine_dir) {
  if (backend == "cpu" && m.target_backend == "cuda") {
    fail(LLMC_ERR_UNSUPPORTED, "this engine was built for cuda (" + join(m.target_archs, ", ") +
                                   "); run it on a GPU machine or rebuild with --target cpu: `" +
                                   build_command(m, engine_dir, "cpu", "") + "`");
  }
}

}  // namespace llmc::runtime
