// The http fuzz target's response contract (src/fuzz/targets/http.ts): what counts as a finding must be one, or the
// target could never fail. A clean 4xx is a rejection (LlmcError); a 5xx, a 4xx that is not an OpenAI-shaped
// one-line error, a non-JSON body, a 200 without choices and a stream with an error event are findings (Error).
import { LlmcError } from '../../src/errors.js';
import { checkResponse } from '../../src/fuzz/targets/http.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const SSE = 'text/event-stream';
const error = (message: string) => JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: null } });
const chunk = JSON.stringify({ id: 'x', object: 'text_completion', choices: [{ index: 0, text: 'a' }] });

function outcome(status: number, type: string, body: string): string {
  try {
    checkResponse(status, type, body, 'POST /v1/completions');
    return 'ok';
  } catch (e) {
    return e instanceof LlmcError ? 'rejected' : 'finding';
  }
}

test('a completion and a clean 4xx keep the contract', () => {
  expect(outcome(200, JSON_TYPE, JSON.stringify({ choices: [{ index: 0, text: 'x' }] }))).toBe('ok');
  expect(outcome(200, SSE, `data: ${chunk}\n\ndata: [DONE]\n\n`)).toBe('ok');
  expect(outcome(400, JSON_TYPE, error('`max_tokens` must be integer'))).toBe('rejected');
  expect(outcome(415, JSON_TYPE, error('send the body as JSON (Content-Type: application/json)'))).toBe('rejected');
});

test('a 5xx, a bad error body, a non-JSON body and a broken stream are findings', () => {
  expect(outcome(500, JSON_TYPE, error('internal error: x is undefined'))).toBe('finding');
  expect(outcome(503, JSON_TYPE, error('the server is shutting down'))).toBe('finding');
  expect(outcome(400, JSON_TYPE, error('two\nlines'))).toBe('finding');
  expect(outcome(400, JSON_TYPE, JSON.stringify({ message: 'not OpenAI-shaped' }))).toBe('finding');
  expect(outcome(400, 'text/plain', 'Bad Request')).toBe('finding');
  expect(outcome(200, JSON_TYPE, JSON.stringify({ choices: [] }))).toBe('finding');
  expect(outcome(200, SSE, `data: ${chunk}\n\n`)).toBe('finding');   // no [DONE]
  expect(outcome(200, SSE, `data: ${chunk}\n\ndata: ${JSON.stringify({ error: { message: 'x', type: 'server_error' } })}\n\ndata: [DONE]\n\n`)).toBe('finding');
});
