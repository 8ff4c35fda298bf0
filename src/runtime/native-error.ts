// Maps a rejection from the addon (Error with .code = llmc_status name) to an LlmcError with the same message.
import { LlmcError, type ErrorCode } from '../errors.js';

const CODES: Record<string, ErrorCode> = {
  LLMC_ERR_INVALID_ARGUMENT: 'BAD_ARGUMENT',
  LLMC_ERR_IO: 'NOT_FOUND',
  LLMC_ERR_BAD_ENGINE: 'BAD_ENGINE',
  LLMC_ERR_VERSION: 'VERSION',
  LLMC_ERR_UNSUPPORTED: 'UNSUPPORTED',
  LLMC_ERR_LIMIT: 'LIMIT',
  LLMC_ERR_INTERNAL: 'RUNTIME',
};

export function fromNativeError(e: unknown): Error {
  if (e instanceof LlmcError) return e;
  const status = (e as { code?: unknown } | null)?.code;
  if (e instanceof Error && typeof status === 'string') {
    const code = CODES[status];
    if (code) return new LlmcError(code, e.message.replace(/\s*\n\s*/g, ' '));
  }
  return e instanceof Error ? e : new Error(String(e));
}
