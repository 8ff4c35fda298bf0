// One streamed request through the HTTP server, timed as a user sees it: TTFT (send -> first token chunk), the
// gaps between chunks (ITL), end-to-end latency, and the token count from the final usage chunk.
import type { WorkItem } from './workload.js';

export interface RequestTiming {
  ok: boolean;
  error?: string;
  promptTokens: number;
  outputTokens: number;
  ttftMs: number;
  e2eMs: number;
  itlMs: number[];
  tpotMs: number | null;  // (e2e - ttft) / (output - 1)
}

export async function streamRequest(baseUrl: string, model: string, item: WorkItem): Promise<RequestTiming> {
  const t0 = performance.now();
  const timing: RequestTiming = { ok: false, promptTokens: item.prompt.length, outputTokens: 0, ttftMs: 0, e2eMs: 0, itlMs: [], tpotMs: null };
  try {
    // No resends: a refused or reset request counts as failed (the server's keep-alive outlasts the client's).
    const res = await fetch(`${baseUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model, prompt: item.prompt, max_tokens: item.maxTokens, temperature: 0, ignore_eos: true, stream: true,
        stream_options: { include_usage: true },
      }),
    });
    if (!res.ok || !res.body) {
      timing.error = `HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`;
      return timing;
    }
    const decoder = new TextDecoder();
    let buf = '';
    let last = 0;
    let chunks = 0;
    for await (const part of res.body) {
      buf += decoder.decode(part as Uint8Array, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const line = event.split('\n').find((l) => l.startsWith('data: '));
        if (!line) continue;
        const data = line.slice(6);
        if (data === '[DONE]') continue;
        const j = JSON.parse(data) as { choices: { text: string; finish_reason: string | null }[]; usage?: { completion_tokens: number } | null };
        if (j.usage) timing.outputTokens = j.usage.completion_tokens;
        // Token chunks have no finish_reason (the server sends one per token that added text, or per token when
        // the engine has no tokenizer).
        if (j.choices.length > 0 && j.choices[0].finish_reason === null) {
          const now = performance.now();
          if (chunks === 0) timing.ttftMs = now - t0;
          else timing.itlMs.push(now - last);
          last = now;
          chunks++;
        }
      }
    }
    timing.e2eMs = performance.now() - t0;
    timing.ok = timing.outputTokens > 0;
    if (!timing.ok) timing.error = 'no tokens';
    if (timing.outputTokens > 1) timing.tpotMs = (timing.e2eMs - timing.ttftMs) / (timing.outputTokens - 1);
  } catch (e) {
    timing.error = (e as Error).message;
  }
  return timing;
}

/**
 * Runs the workload with at most `concurrency` requests in flight: closed loop (a worker sends its next request
 * when the last one finished) or, when items have arrival times, each request is sent at its time (or as soon as
 * a slot frees).
 */
export async function runWorkload(baseUrl: string, model: string, items: WorkItem[], concurrency: number): Promise<{ timings: RequestTiming[]; durationS: number }> {
  const timings: RequestTiming[] = new Array(items.length);
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      const wait = items[i].arrivalMs - (performance.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      timings[i] = await streamRequest(baseUrl, model, items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return { timings, durationS: (performance.now() - t0) / 1000 };
}
