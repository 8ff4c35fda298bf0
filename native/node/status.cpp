#include "status.h"

#include "llmc/llmc.h"

namespace llmc_node {

const char* StatusName(int status) {
  switch (status) {
    case LLMC_OK: return "LLMC_OK";
    case LLMC_ERR_INVALID_ARGUMENT: return "LLMC_ERR_INVALID_ARGUMENT";
    case LLMC_ERR_IO: return "LLMC_ERR_IO";
    case LLMC_ERR_BAD_ENGINE: return "LLMC_ERR_BAD_ENGINE";
    case LLMC_ERR_VERSION: return "LLMC_ERR_VERSION";
    case LLMC_ERR_UNSUPPORTED: return "LLMC_ERR_UNSUPPORTED";
    case LLMC_ERR_LIMIT: return "LLMC_ERR_LIMIT";
    case LLMC_ERR_INTERNAL: return "LLMC_ERR_INTERNAL";
    default: return "LLMC_ERR_INTERNAL";
  }
}

Napi::Error MakeStatusError(Napi::Env env, int status, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, StatusName(status)));
  return err;
}

std::string LastErrorMessage(int status) {
  const char* msg = llmc_last_error();
  if (msg != nullptr && msg[0] != '\0') return msg;
  return std::string("native runtime failed with ") + StatusName(status) + " and no message";
}

}  // namespace llmc_node
