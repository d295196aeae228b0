/**
 * Watches the instance metadata for a Spot interruption notice. EC2 publishes
 * `spot/instance-action` about two minutes before it stops or terminates a Spot instance; until
 * then the item answers 404. The watcher polls it (IMDSv2, token first) and reports the notice
 * once, with the time by which the instance will be gone.
 */
import { ImdsClient } from '../../boot/imds';

/** The metadata item EC2 publishes when it is about to reclaim a Spot instance. */
export const SPOT_ACTION_PATH = 'spot/instance-action';

/** An interruption notice. */
export interface SpotNotice {
  /** `terminate`, `stop` or `hibernate`. */
  action: string;
  /** When the instance will be interrupted. */
  time: Date;
}

/** Reads one metadata item; null when absent. */
export interface MetadataReader {
  getMetadata(path: string): Promise<string | null>;
}

/** Options of the watcher. */
export interface SpotWatcherOptions {
  /** Metadata service base URL (a stand-in in tests). */
  imdsBaseUrl: string;
  /** Time between two polls; AWS suggests every five seconds. */
  intervalMs: number;
  /** Told about polls that fail (not on EC2, service briefly away). */
  onError?: (err: unknown) => void;
}

/** Time assumed when a notice has no readable time: the two minutes EC2 promises. */
const NOTICE_LEAD_MS = 120_000;

/** Parses the item's JSON body; a notice with no usable time gets the standard two minutes. */
export function parseSpotNotice(body: string, now = Date.now()): SpotNotice {
  let value: { action?: unknown; time?: unknown } = {};
  try {
    value = JSON.parse(body) as typeof value;
  } catch {
    // A notice that is not JSON is still a notice: its presence is what matters.
  }
  const action = typeof value.action === 'string' ? value.action : 'terminate';
  const parsed = typeof value.time === 'string' ? Date.parse(value.time) : Number.NaN;
  return { action, time: new Date(Number.isNaN(parsed) ? now + NOTICE_LEAD_MS : parsed) };
}

/** Polls for a Spot interruption notice until stopped. */
export class SpotNoticeWatcher {
  private readonly reader: MetadataReader;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly options: SpotWatcherOptions,
    reader?: MetadataReader,
  ) {
    this.reader = reader ?? new ImdsClient(options.imdsBaseUrl, { attempts: 1, timeoutMs: 1000 });
  }

  /** Starts polling; `onNotice` is called at most once. */
  start(onNotice: (notice: SpotNotice) => void): void {
    this.stopped = false;
    const poll = async (): Promise<void> => {
      const notice = await this.check();
      if (this.stopped) return;
      if (notice) {
        this.stopped = true;
        onNotice(notice);
        return;
      }
      this.timer = setTimeout(() => void poll(), this.options.intervalMs);
      this.timer.unref();
    };
    void poll();
  }

  /** Stops polling. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async check(): Promise<SpotNotice | null> {
    try {
      const body = await this.reader.getMetadata(SPOT_ACTION_PATH);
      return body === null ? null : parseSpotNotice(body);
    } catch (err) {
      this.options.onError?.(err);
      return null;
    }
  }
}
