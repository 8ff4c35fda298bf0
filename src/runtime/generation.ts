// One generate request driven to its end: Engine.generate (engine.ts) is a client of the executor like any other.
// The request types and the stream live in request.ts.
import { GenerationRequest, type GenerateOptions, type GenerationResult, type RequestContext } from './request.js';

export { checkPromptIds, type GenerateOptions, type GenerationResult, type StopReason } from './request.js';

export async function runGeneration(ctx: RequestContext, promptIds: readonly number[], opts: GenerateOptions): Promise<GenerationResult> {
  return new GenerationRequest(ctx, promptIds, opts).result;
}
