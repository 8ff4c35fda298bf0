#include "mapping_guard.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>

namespace llmc::runtime {

namespace {

constexpr int kSlots = 256;
constexpr size_t kPathBytes = 1024;

// A slot is live when `base` is non-zero; `size` and `path` are written before `base` is published, so the handler
// (which only reads) never sees a half-written slot.
struct Slot {
  std::atomic<uintptr_t> base{0};
  std::atomic<uint64_t> size{0};
  std::atomic<bool> taken{false};
  char path[kPathBytes];
};

Slot g_slots[kSlots];
struct sigaction g_previous;
std::once_flag g_installed;

void write_all(const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

// Async-signal-safe: atomics, write(2) and _exit(2) only.
void on_sigbus(int sig, siginfo_t* info, void* ctx) {
  const uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (Slot& s : g_slots) {
    const uintptr_t base = s.base.load(std::memory_order_acquire);
    if (base == 0 || addr < base || addr - base >= s.size.load(std::memory_order_relaxed)) continue;
    write_all("error: ");
    write_all(s.path);
    write_all(" shrank while this process had it mapped (truncated or rewritten in place by something else); "
              "restart with an intact engine, and replace engines by writing a new file and renaming it over the old\n");
    ::_exit(1);
  }
  // Not ours: hand it to whoever had SIGBUS before, or let the default action happen when the access repeats.
  if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(sig, info, ctx);
    return;
  }
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN && g_previous.sa_handler != nullptr) {
    g_previous.sa_handler(sig);
    return;
  }
  ::sigaction(SIGBUS, &g_previous, nullptr);
}

void install() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGBUS, &sa, &g_previous);
}

}  // namespace

void guard_mapping(const void* base, uint64_t size, const std::string& path) {
  if (base == nullptr || size == 0) return;
  std::call_once(g_installed, install);
  for (Slot& s : g_slots) {
    bool expected = false;
    if (!s.taken.compare_exchange_strong(expected, true)) continue;
    const size_t n = std::min(path.size(), kPathBytes - 1);
    std::memcpy(s.path, path.data(), n);
    s.path[n] = '\0';
    s.size.store(size, std::memory_order_relaxed);
    s.base.store(reinterpret_cast<uintptr_t>(base), std::memory_order_release);
    return;
  }
}

void unguard_mapping(const void* base) {
  for (Slot& s : g_slots) {
    if (s.base.load(std::memory_order_acquire) != reinterpret_cast<uintptr_t>(base) || base == nullptr) continue;
    s.base.store(0, std::memory_order_release);
    s.taken.store(false, std::memory_order_release);
    return;
  }
}

}  // namespace llmc::runtime
