/** Counters the mock upstream answers at `GET /mock/stats`. */
interface MockStats {
  completed: number;
  byPath: Record<string, number>;
}

/** When the held upstream streams opened and ended, in seconds from the watch's start. */
export interface UpstreamTimeline {
  /** Half of the streams had reached the upstream. */
  halfOpenSeconds: number;
  /** All of them had: how long the system took to pass the whole burst on. */
  allOpenSeconds: number;
  /** The last upstream stream ended: after this, what is left is the system handing answers back. */
  allEndedSeconds: number;
}

const CHAT_PATH = '/v1/chat/completions';
const POLL_MS = 250;

/**
 * Reads the mock upstream's counters four times a second while a hold runs, so that a slow
 * completion can be split into "took long to reach the upstream" and "took long to come back".
 */
export class UpstreamWatch {
  private readonly statsUrl: string;
  private baseOpened = 0;
  private baseEnded = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly timeline: UpstreamTimeline = {
    halfOpenSeconds: Number.NaN,
    allOpenSeconds: Number.NaN,
    allEndedSeconds: Number.NaN,
  };

  constructor(
    upstreamChatUrl: string,
    private readonly streams: number,
  ) {
    this.statsUrl = new URL('/mock/stats', upstreamChatUrl).href;
  }

  async start(): Promise<void> {
    const stats = await this.read();
    this.baseOpened = stats.byPath[CHAT_PATH] ?? 0;
    this.baseEnded = stats.completed;
    this.startedAt = performance.now();
    this.timer = setInterval(() => {
      this.polling ??= this.poll().finally(() => {
        this.polling = undefined;
      });
    }, POLL_MS);
  }

  async stop(): Promise<UpstreamTimeline> {
    clearInterval(this.timer);
    await this.polling;
    // The last streams may have ended after the last reading.
    await this.poll();
    return { ...this.timeline };
  }

  private async read(): Promise<MockStats> {
    const response = await fetch(this.statsUrl);
    return (await response.json()) as MockStats;
  }

  private async poll(): Promise<void> {
    const stats = await this.read().catch(() => undefined);
    if (stats === undefined) return;
    const seconds = (performance.now() - this.startedAt) / 1000;
    const opened = (stats.byPath[CHAT_PATH] ?? 0) - this.baseOpened;
    const ended = stats.completed - this.baseEnded;
    const timeline = this.timeline;
    if (Number.isNaN(timeline.halfOpenSeconds) && opened >= this.streams / 2)
      timeline.halfOpenSeconds = seconds;
    if (Number.isNaN(timeline.allOpenSeconds) && opened >= this.streams) timeline.allOpenSeconds = seconds;
    if (Number.isNaN(timeline.allEndedSeconds) && ended >= this.streams) timeline.allEndedSeconds = seconds;
  }
}

export function formatTimeline(timeline: UpstreamTimeline): string {
  const seconds = (value: number) => (Number.isNaN(value) ? 'never' : `${value.toFixed(1)} s`);
  return (
    `upstream streams: half open at ${seconds(timeline.halfOpenSeconds)}, all open at ` +
    `${seconds(timeline.allOpenSeconds)}, all ended at ${seconds(timeline.allEndedSeconds)}`
  );
}
