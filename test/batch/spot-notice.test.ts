/**
 * The Spot notice watcher against the IMDSv2 stand-in: silence while the item answers 404, one
 * report when the notice appears, and the notice's body read with care.
 */
import assert from 'node:assert/strict';
import {
  parseSpotNotice,
  SpotNoticeWatcher,
  type SpotNotice,
} from '../../server/batch/worker/spot-notice';
import { startImdsStandIn, type ImdsStandIn } from './support/imds-stand-in';

describe('SpotNoticeWatcher', () => {
  let imds: ImdsStandIn;
  let watcher: SpotNoticeWatcher | null = null;

  beforeEach(async () => {
    imds = await startImdsStandIn();
  });
  afterEach(async () => {
    watcher?.stop();
    await imds.close();
  });

  it('reports nothing while there is no notice, then the notice once', async () => {
    const notices: SpotNotice[] = [];
    watcher = new SpotNoticeWatcher({ imdsBaseUrl: imds.url, intervalMs: 20 });
    watcher.start((notice) => notices.push(notice));
    await until(() => imds.polls() >= 3);
    assert.equal(notices.length, 0);

    imds.setNotice({ action: 'terminate', time: '2030-01-02T03:04:05Z' });
    await until(() => notices.length === 1);
    const polls = imds.polls();
    await sleep(100);
    assert.equal(notices.length, 1);
    assert.equal(imds.polls(), polls, 'the watcher kept polling after the notice');
    assert.deepEqual(notices[0], { action: 'terminate', time: new Date('2030-01-02T03:04:05Z') });
    assert.equal(imds.refused(), 0);
  });

  it('keeps polling through errors and reports them', async () => {
    const errors: unknown[] = [];
    watcher = new SpotNoticeWatcher({
      imdsBaseUrl: 'http://127.0.0.1:9',
      intervalMs: 20,
      onError: (err) => errors.push(err),
    });
    watcher.start(() => assert.fail('no notice can come from a closed port'));
    await until(() => errors.length >= 2);
  });
});

describe('parseSpotNotice', () => {
  it('reads the action and the time', () => {
    const notice = parseSpotNotice('{"action":"stop","time":"2030-01-02T03:04:05Z"}');
    assert.deepEqual(notice, { action: 'stop', time: new Date('2030-01-02T03:04:05Z') });
  });

  it('gives a notice without a readable time the two minutes EC2 promises', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    for (const body of ['not json', '{"action":"terminate"}', '{"time":"soon"}']) {
      const notice = parseSpotNotice(body, now);
      assert.equal(notice.time.getTime(), now + 120_000, body);
      assert.equal(notice.action, 'terminate', body);
    }
  });
});

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
