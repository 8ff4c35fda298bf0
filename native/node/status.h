// Turning llmc_status codes into JS errors: message = llmc_last_error(), err.code = the status name.
#pragma once
#include <napi.h>

#include <string>

namespace llmc_node {

const char* StatusName(int status);

// An Error whose .code is the status name (e.g. 'LLMC_ERR_VERSION').
Napi::Error MakeStatusError(Napi::Env env, int status, const std::string& message);

// The message of the last failed llmc_* call on this thread, with a fallback when the runtime left none.
std::string LastErrorMessage(int status);

}  // namespace llmc_node
