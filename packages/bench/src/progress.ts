/**
 * The progress line on stderr: which run, which phase, and roughly how long is left. On a
 * terminal it is one line rewritten in place (`\r`); otherwise (CI, a test piping stderr) one
 * plain line per run. Bench main thread only.
 */

export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private text = '';
  private phaseEnds = 0;
  /** Estimated seconds of the runs after the current one. */
  private laterS = 0;
  /** When the current run should end, by its estimate. */
  private runEnds = 0;

  constructor(private readonly stream: NodeJS.WriteStream, private readonly total: number) {}

  private get live(): boolean {
    return this.stream.isTTY === true;
  }

  /** A run begins, expected to take `estimateS`; `laterS` is the estimate of every run after it. */
  run(index: number, label: string, estimateS: number, laterS: number): void {
    this.laterS = laterS;
    this.runEnds = Date.now() + estimateS * 1000;
    this.text = `[${index + 1}/${this.total}] ${label}`;
    if (!this.live) this.stream.write(`${this.text}\n`);
  }

  /** The current run entered a phase expected to last `seconds`. */
  phase(name: string, seconds: number): void {
    this.phaseEnds = Date.now() + seconds * 1000;
    if (!this.live) return;
    const draw = () => {
      const now = Date.now();
      const phaseLeft = Math.max(0, (this.phaseEnds - now) / 1000);
      const total = Math.round(Math.max(phaseLeft, (this.runEnds - now) / 1000) + this.laterS);
      const left = total >= 60 ? `${Math.floor(total / 60)}m${String(total % 60).padStart(2, '0')}s` : `${total}s`;
      this.stream.write(`\r\x1b[K${this.text} · ${name} ${phaseLeft.toFixed(1)} s · ~${left} left`);
    };
    clearInterval(this.timer);
    draw();
    this.timer = setInterval(draw, 250);
  }

  /** Clear the line so tables print on a clean one. */
  done(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.live) this.stream.write('\r\x1b[K');
  }
}
