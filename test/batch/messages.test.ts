/**
 * Queue messages: S3 event notifications (direct, inside an SNS envelope, from EventBridge),
 * S3's test event, a plain `{bucket, key}`, and the bodies that are poison.
 */
import assert from 'node:assert/strict';
import { decodeEventKey, parseMessage } from '../../server/batch/worker/messages';
import { s3Event } from './support/s3-event';

describe('parseMessage', () => {
  it('reads every object of an S3 event notification, decoding the keys', () => {
    const parsed = parseMessage(s3Event('in', ['a/My+Dog%2B1.jpg', 'b/c%C3%A9.png']));
    assert.deepEqual(parsed, {
      ok: true,
      objects: [
        { bucket: 'in', key: 'a/My Dog+1.jpg' },
        { bucket: 'in', key: 'b/cé.png' },
      ],
    });
  });

  it('skips records of events other than object creation', () => {
    const parsed = parseMessage(s3Event('in', ['gone.jpg'], 'ObjectRemoved:Delete'));
    assert.deepEqual(parsed, { ok: true, objects: [] });
  });

  it('treats the S3 test event as a message with no work', () => {
    const body = JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'in' });
    assert.deepEqual(parseMessage(body), { ok: true, objects: [] });
  });

  it('unwraps an SNS envelope', () => {
    const body = JSON.stringify({ Type: 'Notification', Message: s3Event('in', ['x.jpg']) });
    assert.deepEqual(parseMessage(body), { ok: true, objects: [{ bucket: 'in', key: 'x.jpg' }] });
  });

  it('reads an EventBridge "Object Created" event (keys are not encoded there)', () => {
    const body = JSON.stringify({
      source: 'aws.s3',
      'detail-type': 'Object Created',
      detail: { bucket: { name: 'in' }, object: { key: 'a b.jpg' } },
    });
    assert.deepEqual(parseMessage(body), { ok: true, objects: [{ bucket: 'in', key: 'a b.jpg' }] });
  });

  it('accepts a plain {bucket, key} object sent by hand', () => {
    const body = JSON.stringify({ bucket: 'in', key: 'redo/this one.jpg' });
    assert.deepEqual(parseMessage(body), {
      ok: true,
      objects: [{ bucket: 'in', key: 'redo/this one.jpg' }],
    });
  });

  for (const [name, body] of [
    ['not JSON', 'hello'],
    ['an empty body', undefined],
    ['a JSON array', '[1,2]'],
    ['an unrelated object', '{"hello":"world"}'],
    ['a record without s3', '{"Records":[{"eventName":"ObjectCreated:Put"}]}'],
    ['a record without a key', '{"Records":[{"s3":{"bucket":{"name":"in"},"object":{}}}]}'],
    ['a key that is not URL-encoded', s3Event('in', ['100%.jpg'])],
    ['an empty key', '{"bucket":"in","key":""}'],
  ] as const) {
    it(`refuses ${name}`, () => {
      const parsed = parseMessage(body);
      assert.equal(parsed.ok, false);
      assert.ok(!parsed.ok && parsed.reason.length > 0);
    });
  }
});

describe('decodeEventKey', () => {
  it('turns + into a space and %2B into a plus', () => {
    assert.equal(decodeEventKey('a+b%2Bc'), 'a b+c');
  });
  it('returns null for a broken escape', () => {
    assert.equal(decodeEventKey('%E0%A4%A'), null);
  });
});
