/**
 * Watching an instance refresh: the release job must wait through checkpoints, pass only on
 * `Successful`, and fail on an automatic rollback, a failure or a timeout.
 */
import assert from 'node:assert/strict';
import type {
  DescribeInstanceRefreshesCommand,
  DescribeInstanceRefreshesCommandOutput,
  InstanceRefresh,
} from '@aws-sdk/client-auto-scaling';

import { watchInstanceRefresh, type RefreshClient } from '../../server/release/watch-refresh';

/** Answers each poll with the next scripted refresh state; records the groups asked for. */
function scriptedClient(states: (Partial<InstanceRefresh> | null)[]) {
  const asked: (string | undefined)[] = [];
  const client: RefreshClient = {
    send: async (command: DescribeInstanceRefreshesCommand) => {
      asked.push(command.input.AutoScalingGroupName);
      const state = states[Math.min(asked.length - 1, states.length - 1)];
      const refreshes = state ? [{ InstanceRefreshId: 'r-1', ...state } as InstanceRefresh] : [];
      return {
        InstanceRefreshes: refreshes,
        $metadata: {},
      } as DescribeInstanceRefreshesCommandOutput;
    },
  };
  return { client, asked };
}

describe('watchInstanceRefresh', () => {
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);
  beforeEach(() => lines.splice(0));

  it('waits through the checkpoints and passes on Successful', async () => {
    const { client, asked } = scriptedClient([
      { Status: 'Pending', PercentageComplete: 0 },
      { Status: 'InProgress', PercentageComplete: 34 },
      { Status: 'Baking', PercentageComplete: 67 },
      { Status: 'Successful', PercentageComplete: 100 },
    ]);
    const result = await watchInstanceRefresh({ group: 'fleet', client, intervalMs: 1, log });
    assert.deepEqual(result, { ok: true, status: 'Successful', refreshId: 'r-1', reason: null });
    assert.deepEqual(asked, ['fleet', 'fleet', 'fleet', 'fleet']);
    assert.match(lines[1] ?? '', /r-1 of fleet: InProgress 34 %/);
  });

  it('fails when Auto Scaling rolled the refresh back on an alarm', async () => {
    const { client } = scriptedClient([
      { Status: 'InProgress', PercentageComplete: 34 },
      { Status: 'RollbackInProgress', PercentageComplete: 34 },
      { Status: 'RollbackSuccessful', StatusReason: 'alarm 5xx in ALARM state' },
    ]);
    const result = await watchInstanceRefresh({ group: 'fleet', client, intervalMs: 1, log });
    assert.equal(result.ok, false);
    assert.equal(result.status, 'RollbackSuccessful');
    assert.equal(result.reason, 'alarm 5xx in ALARM state');
  });

  it('fails on Failed and Cancelled', async () => {
    for (const status of ['Failed', 'Cancelled'] as const) {
      const { client } = scriptedClient([{ Status: status }]);
      const result = await watchInstanceRefresh({ group: 'fleet', client, intervalMs: 1, log });
      assert.deepEqual([result.ok, result.status], [false, status]);
    }
  });

  it('gives up after the timeout', async () => {
    const { client, asked } = scriptedClient([{ Status: 'InProgress', PercentageComplete: 10 }]);
    const result = await watchInstanceRefresh({
      group: 'fleet',
      client,
      intervalMs: 5,
      timeoutMs: 30,
      log,
    });
    assert.equal(result.status, 'TimedOut');
    assert.equal(result.ok, false);
    assert.ok(asked.length >= 2);
  });

  it('passes at once when the group never had a refresh (nothing changed)', async () => {
    const { client } = scriptedClient([null]);
    const result = await watchInstanceRefresh({ group: 'fleet', client, intervalMs: 1, log });
    assert.deepEqual(result, { ok: true, status: 'None', refreshId: null, reason: null });
  });
});
