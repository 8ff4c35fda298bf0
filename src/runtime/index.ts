// The TypeScript runtime: load an engine, tokenize, generate, score.
export { Engine, type EngineLoadOptions } from './engine.js';
export type { GenerateOptions, GenerationResult, StopReason, StreamChunk, TokenLogprob } from './request.js';
export { GenerationRequest } from './request.js';
export { Executor, type Batching, type ExecutorStats, type SchedulerOptions } from './executor.js';
export { readEngineManifest, rebuildCommand, type EngineManifest, type MemoryPlan } from './manifest.js';
export { DEFAULT_SAMPLING, validateSampling, type SamplingOptions } from './sampling.js';
export { TextTokenizer } from './tokenizer.js';
export { renderChatTemplate, encodeChat, type ChatMessage } from './chat-template.js';
export { StreamingDetokenizer } from './detokenizer.js';
export { StopStringMatcher } from './stop-strings.js';
export { TextStream } from './text-stream.js';
export { loadAddon } from './addon.js';
export { cancelOnSigint } from './sigint.js';
