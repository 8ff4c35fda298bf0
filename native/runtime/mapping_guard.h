// A SIGBUS inside an engine's mapping becomes a one-line error and exit 1 instead of a crash.
// The weights are read straight from a MAP_PRIVATE mapping of the engine file; when something outside llmc truncates
// (or rewrites in place) a file a process has mapped, the next read of a page past the file's new end raises SIGBUS,
// which would end the process with no word of why (docs/hardening.md, "Engine integrity"). The handler only acts on
// faults inside a registered mapping; any other SIGBUS goes to the handler that was there before (or the default).
#pragma once
#include <cstdint>
#include <string>

namespace llmc::runtime {

// Registers [base, base + size) as a mapping of `path` (installs the handler on first use). Up to 256 live mappings
// are guarded; past that, mappings still work but a fault in them is the default SIGBUS.
void guard_mapping(const void* base, uint64_t size, const std::string& path);
// Forgets the mapping at `base` (before munmap).
void unguard_mapping(const void* base);

}  // namespace llmc::runtime
