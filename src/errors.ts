// One error type for everything a user can get wrong. The CLI prints `error: <message>` (one line, with the fix
// in `hint`) and exits non-zero; it never prints a stack trace for an LlmcError.
export type ErrorCode =
  | 'BAD_ARGUMENT'     // a flag value out of range, a missing required flag
  | 'NOT_FOUND'        // a file or directory that is not there
  | 'BAD_CHECKPOINT'   // corrupt safetensors, missing or unmapped tensors, bad config.json
  | 'UNSUPPORTED'      // an architecture or config value llmc does not implement
  | 'BAD_ENGINE'       // a corrupt engine directory
  | 'VERSION'          // an engine of another format or schema version
  | 'LIMIT'            // prompt longer than max_seq_len, ...
  | 'RUNTIME'          // the native runtime failed (message from llmc_last_error)
  | 'EXISTS'           // an output that would overwrite something, or one another build is writing
  | 'ACCURACY'         // a quantized build past its accuracy budget (llmc build --accuracy-budget)
  | 'IO';              // the filesystem failed while writing (disk full, read-only, permissions)

export class LlmcError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  constructor(code: ErrorCode, message: string, hint?: string) {
    super(hint ? `${message}; ${hint}` : message);
    this.name = 'LlmcError';
    this.code = code;
    this.hint = hint;
  }
}

export function fail(code: ErrorCode, message: string, hint?: string): never {
  throw new LlmcError(code, message, hint);
}
