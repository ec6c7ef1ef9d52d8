/**
 * One status line at the bottom of a terminal (stderr), rewritten in place, with log lines
 * printed above it. Without a terminal there is no status line: log lines pass as they are.
 * Callers make the text terminal-safe first.
 */
export class StatusLine {
  private text = '';

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  private get live(): boolean {
    return this.out.isTTY === true;
  }

  /** Replaces the status (cut to the terminal's width: a wrapped line could not be rewritten). */
  set(text: string): void {
    if (!this.live) return;
    const width = Math.max(1, (this.out.columns || 80) - 1);
    const chars = [...text];
    this.text = chars.length > width ? `${chars.slice(0, width - 1).join('')}…` : text;
    this.out.write(`\r\x1b[2K${this.text}`);
  }

  /** A line above the status. */
  log(line: string): void {
    if (this.live && this.text) this.out.write(`\r\x1b[2K${line}\n${this.text}`);
    else this.out.write(`${line}\n`);
  }

  /** Clears the status for good (what follows is plain lines). */
  end(): void {
    if (this.live && this.text) this.out.write('\r\x1b[2K');
    this.text = '';
  }
}
