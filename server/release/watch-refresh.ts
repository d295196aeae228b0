/**
 * Follows the newest instance refresh of an Auto Scaling group to its end. `pulumi up` returns
 * as soon as the refresh has started; the release workflow (and an operator, from the runbook)
 * waits here so that a refresh that Auto Scaling rolled back on an alarm fails the job.
 */
import {
  AutoScalingClient,
  DescribeInstanceRefreshesCommand,
  type DescribeInstanceRefreshesCommandOutput,
} from '@aws-sdk/client-auto-scaling';

/** The part of the Auto Scaling client this module uses (tests pass a stand-in). */
export interface RefreshClient {
  send(command: DescribeInstanceRefreshesCommand): Promise<DescribeInstanceRefreshesCommandOutput>;
}

/** Options of {@link watchInstanceRefresh}. */
export interface WatchOptions {
  /** Name of the Auto Scaling group. */
  group: string;
  client?: RefreshClient;
  /** Pause between polls, in milliseconds (default 60 s). */
  intervalMs?: number;
  /** Give up after this long, in milliseconds (default 4 h: checkpoints wait between steps). */
  timeoutMs?: number;
  /** Receives one line per poll. */
  log?: (line: string) => void;
}

/** How the refresh ended. */
export interface WatchResult {
  ok: boolean;
  /** Final status, `None` when the group never had a refresh, `TimedOut` when we gave up. */
  status: string;
  refreshId: string | null;
  reason: string | null;
}

/** Statuses after which nothing changes any more, and whether each means the rollout landed. */
const FINAL_STATUSES: Record<string, boolean> = {
  Successful: true,
  Failed: false,
  Cancelled: false,
  RollbackFailed: false,
  RollbackSuccessful: false,
};

/** Polls the group's newest instance refresh until it reaches a final status. */
export async function watchInstanceRefresh(options: WatchOptions): Promise<WatchResult> {
  const client = options.client ?? new AutoScalingClient({});
  const log = options.log ?? ((line: string) => console.log(line));
  const deadline = Date.now() + (options.timeoutMs ?? 4 * 3600_000);

  for (;;) {
    const answer = await client.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: options.group, MaxRecords: 1 }),
    );
    const refresh = answer.InstanceRefreshes?.[0];
    if (!refresh?.Status) return { ok: true, status: 'None', refreshId: null, reason: null };

    const refreshId = refresh.InstanceRefreshId ?? null;
    const reason = refresh.StatusReason ?? null;
    const percent = refresh.PercentageComplete ?? 0;
    log(`instance refresh ${refreshId} of ${options.group}: ${refresh.Status} ${percent} %`);
    const final = FINAL_STATUSES[refresh.Status];
    if (final !== undefined) return { ok: final, status: refresh.Status, refreshId, reason };
    if (Date.now() >= deadline) return { ok: false, status: 'TimedOut', refreshId, reason };

    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 60_000));
  }
}
