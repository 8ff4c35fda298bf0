// Errors in OpenAI's JSON shape: {"error": {"message", "type", "param", "code"}} with the HTTP status that goes
// with them. Every handler throws ApiError; app.ts turns it (and fastify's own validation/parse errors) into a reply.
// The message is always one line: line breaks that came from the request (a field name, a model name) are escaped.
const escapeLineBreaks = (s: string) => s.replace(/[\r\n\u2028\u2029]/g, (c) => JSON.stringify(c).slice(1, -1));

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly type = 'invalid_request_error',
    readonly param: string | null = null, readonly code: string | null = null, readonly headers: Record<string, string> = {}) {
    super(escapeLineBreaks(message));
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new ApiError(400, message, 'invalid_request_error', param, code);
