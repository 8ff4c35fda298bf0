// A progress bar on stderr, redrawn in place. Only on a terminal: in pipes and CI logs it prints nothing, so
// stderr stays free for the final report and errors.
export class ProgressBar {
  private readonly enabled = Boolean(process.stderr.isTTY);
  private lastDraw = 0;

  constructor(private readonly total: number, private readonly label: string) {}

  update(done: number, suffix = ''): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (done < this.total && now - this.lastDraw < 100) return;  // at most 10 redraws a second
    this.lastDraw = now;
    const width = 30;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const filled = Math.round(frac * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    process.stderr.write(`\r${this.label} [${bar}] ${done}/${this.total}${suffix ? ' ' + suffix : ''}\x1b[K`);
  }

  done(): void {
    if (this.enabled) process.stderr.write('\r\x1b[K');
  }
}
