/**
 * Background discovery for the home screen: every few seconds each profile's address is asked
 * (unicast SRCH on its console kind's port) and the answer becomes a live status. A console that
 * misses two polls in a row counts as offline, so one lost datagram does not flicker the list.
 */
import { type FoundConsole, probe } from '../client/discovery.js';
import type { ConsoleKind } from '../proto-stack/target.js';

export type LiveStatus = 'ready' | 'standby' | 'offline' | 'checking';

export interface ConsoleStatus {
  status: LiveStatus;
  found?: FoundConsole;
  /** Consecutive polls without an answer. */
  misses: number;
}

export interface MonitorTarget {
  host: string;
  kind: ConsoleKind;
}

export type ProbeFn = (
  host: string,
  timeoutMs: number,
  kinds: ConsoleKind[],
) => Promise<FoundConsole | undefined>;

export const statusKey = (t: MonitorTarget): string => `${t.kind}@${t.host}`;

/** Pure: the next status of one console after a poll. */
export function nextStatus(prev: ConsoleStatus | undefined, found: FoundConsole | undefined): ConsoleStatus {
  if (found) {
    const status: LiveStatus = found.status === 'standby' ? 'standby' : 'ready';
    return { status, found, misses: 0 };
  }
  const misses = (prev?.misses ?? 0) + 1;
  if (prev && prev.status !== 'checking' && misses < 2) return { ...prev, misses };
  return { status: 'offline', misses };
}

export class ConsoleMonitor {
  private readonly statuses = new Map<string, ConsoleStatus>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;

  constructor(
    private readonly targets: () => MonitorTarget[],
    private readonly onChange: () => void,
    private readonly opts: { intervalMs?: number; timeoutMs?: number; probe?: ProbeFn } = {},
  ) {}

  get(t: MonitorTarget): ConsoleStatus {
    return this.statuses.get(statusKey(t)) ?? { status: 'checking', misses: 0 };
  }

  start(): void {
    this.stopped = false;
    void this.pollNow();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Polls at once (e.g. after a wake or a new profile); the periodic schedule restarts from here. */
  async pollNow(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    if (this.timer) clearTimeout(this.timer);
    try {
      const probeFn = this.opts.probe ?? probe;
      const seen = new Map<string, MonitorTarget>();
      for (const t of this.targets()) seen.set(statusKey(t), t);
      await Promise.all(
        [...seen.entries()].map(async ([key, t]) => {
          let found: FoundConsole | undefined;
          try {
            found = await probeFn(t.host, this.opts.timeoutMs ?? 1200, [t.kind]);
          } catch {
            found = undefined; // a host that answers garbage is not a usable console
          }
          const prev = this.statuses.get(key);
          const next = nextStatus(prev, found);
          this.statuses.set(key, next);
          if (prev?.status !== next.status || prev?.found?.runningAppName !== next.found?.runningAppName)
            this.onChange();
        }),
      );
      for (const key of [...this.statuses.keys()]) if (!seen.has(key)) this.statuses.delete(key);
    } finally {
      this.running = false;
      if (!this.stopped) {
        this.timer = setTimeout(() => void this.pollNow(), this.opts.intervalMs ?? 3000);
        this.timer.unref();
      }
    }
  }
}
