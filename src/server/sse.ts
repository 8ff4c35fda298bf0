// Server-sent events on a raw Node response, as OpenAI streams them: `data: PAYLOAD\n\n` per event, nothing else
// (no `id:`, `event:` or `retry:` lines). Every event queued during one event-loop turn (all the events one executor
// step gave a response) goes out in one socket write, the headers with the first, and the last with the end of
// the response, so a 1-token request is a single write. A response whose client went away takes no more writes.
import type { ServerResponse } from 'node:http';

const HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',  // proxies such as nginx: pass each event on at once
};

export class SseWriter {
  private pending = '';
  private scheduled = false;
  private ending = false;

  /** Sets the status and headers; they are sent with the first write. */
  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, HEADERS);
  }

  /** Queues one event; it goes out at the end of this event-loop turn with the others queued in it. */
  event(data: string): void {
    if (this.ending) return;
    this.pending += `data: ${data}\n\n`;
    this.schedule();
  }

  /** Ends the response after the queued events (in the same write). */
  end(): void {
    if (this.ending) return;
    this.ending = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const data = this.pending;
    this.pending = '';
    if (this.res.destroyed || this.res.writableEnded) return;
    if (this.ending) this.res.end(data);
    else if (data) this.res.write(data);
  };
}
