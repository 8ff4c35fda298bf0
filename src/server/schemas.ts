// JSON schemas of the request bodies (validated by fastify's ajv with no coercion and no removal of unknown
// fields: a wrongly typed or unknown field is a 400 that names it). The fields are OpenAI's; top_k,
// repetition_penalty and ignore_eos are the common server extensions (vLLM's names).
const stop = { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: 4 }, { type: 'null' }] };
const nullable = (s: Record<string, unknown>) => ({ anyOf: [s, { type: 'null' }] });

const common = {
  model: { type: 'string' },
  max_tokens: nullable({ type: 'integer', minimum: 1 }),
  temperature: nullable({ type: 'number', minimum: 0, maximum: 2 }),
  top_p: nullable({ type: 'number', exclusiveMinimum: 0, maximum: 1 }),
  top_k: nullable({ type: 'integer', minimum: -1 }),
  repetition_penalty: nullable({ type: 'number', exclusiveMinimum: 0 }),
  n: nullable({ type: 'integer', minimum: 1, maximum: 16 }),
  seed: nullable({ type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  stop,
  stream: nullable({ type: 'boolean' }),
  stream_options: nullable({ type: 'object', additionalProperties: false, properties: { include_usage: { type: 'boolean' } } }),
  ignore_eos: nullable({ type: 'boolean' }),
  user: { type: 'string' },
  // Accepted at their neutral values only (checked in the handler, which says so).
  presence_penalty: nullable({ type: 'number', minimum: -2, maximum: 2 }),
  frequency_penalty: nullable({ type: 'number', minimum: -2, maximum: 2 }),
  logit_bias: nullable({ type: 'object' }),
};

const tokenArray = { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1 };

export const completionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['prompt'],
  properties: {
    ...common,
    prompt: {
      anyOf: [
        { type: 'string' },
        { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 16 },
        tokenArray,
        { type: 'array', items: tokenArray, minItems: 1, maxItems: 16 },
      ],
    },
    logprobs: nullable({ type: 'integer', minimum: 0, maximum: 5 }),
    echo: nullable({ type: 'boolean' }),
    best_of: nullable({ type: 'integer', minimum: 1 }),
    suffix: nullable({ type: 'string' }),
  },
};

const contentPart = {
  type: 'object',
  required: ['type', 'text'],
  properties: { type: { const: 'text' }, text: { type: 'string' } },
  additionalProperties: false,
};

export const chatSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['messages'],
  properties: {
    ...common,
    max_completion_tokens: nullable({ type: 'integer', minimum: 1 }),
    messages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['role', 'content'],
        properties: {
          role: { enum: ['system', 'developer', 'user', 'assistant', 'tool'] },
          content: { anyOf: [{ type: 'string' }, { type: 'array', items: contentPart }] },
          name: { type: 'string' },
        },
        additionalProperties: false,
      },
    },
    logprobs: nullable({ type: 'boolean' }),
    top_logprobs: nullable({ type: 'integer', minimum: 0, maximum: 20 }),
  },
};

export interface CommonBody {
  model?: string;
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  repetition_penalty?: number | null;
  n?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  ignore_eos?: boolean | null;
  user?: string;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
}

export interface CompletionBody extends CommonBody {
  prompt: string | string[] | number[] | number[][];
  logprobs?: number | null;
  echo?: boolean | null;
  best_of?: number | null;
  suffix?: string | null;
}

export interface ChatBody extends CommonBody {
  messages: { role: string; content: string | { type: 'text'; text: string }[]; name?: string }[];
  max_completion_tokens?: number | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
}
