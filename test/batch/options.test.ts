/**
 * The command line: what is accepted, the defaults taken from the server's environment
 * variables, and the messages for what is not accepted.
 */
import assert from 'node:assert/strict';
import { parseOptions, UsageError, WORKER_ENV } from '../../server/batch/options';
import { IMAGE_EXTENSIONS } from '../../server/batch/photo-source';
import { BATCH_INSTANCE_ENV } from '../../server/contract';

describe('parseOptions', () => {
  it('reads a local run with the defaults', () => {
    const options = parseOptions(['photos', 'out.jsonl'], {});
    assert.equal(options.mode, 'run');
    if (options.mode !== 'run') return;
    assert.deepEqual(options.input, { kind: 'local', path: 'photos' });
    assert.deepEqual(options.output, { kind: 'local', path: 'out.jsonl' });
    assert.equal(options.top, 5);
    assert.equal(options.extensions, IMAGE_EXTENSIONS);
    assert.equal(options.summary, null);
    assert.match(options.core.modelDir, /mobilenet_v1_0\.75_224$/);
    assert.match(options.core.metadataPath ?? '', /sample-model\/metadata\.json$/);
  });

  it('reads S3 locations and the model settings of the server environment', () => {
    const options = parseOptions(['s3://in-bucket/day/', 's3://out-bucket', '--all-files'], {
      MODEL_DIR: '/opt/models/current',
      BACKEND: 'wasm',
      MAX_BATCH_SIZE: '8',
      INFERENCE_WORKERS: '3',
    });
    assert.equal(options.mode, 'run');
    if (options.mode !== 'run') return;
    assert.deepEqual(options.input, { kind: 's3', bucket: 'in-bucket', prefix: 'day/' });
    assert.deepEqual(options.output, { kind: 's3', bucket: 'out-bucket', prefix: '' });
    assert.equal(options.extensions, null);
    assert.equal(options.core.modelDir, '/opt/models/current');
    assert.equal(options.core.metadataPath, undefined);
    assert.equal(options.core.backend, 'wasm');
    assert.equal(options.core.maxBatchSize, 8);
    assert.equal(options.core.workers, 3);
  });

  it('lets flags override the environment', () => {
    const options = parseOptions(['a', 'b', '--backend', 'cpu', '--top', '3'], { BACKEND: 'wasm' });
    assert.ok(options.mode === 'run');
    assert.equal(options.core.backend, 'cpu');
    assert.equal(options.top, 3);
  });

  it('reads worker settings from the environment the fleet writes', () => {
    const options = parseOptions(['--worker'], {
      BATCH_QUEUE_URL: 'https://sqs.eu-west-1.example/1/work',
      BATCH_INPUT_BUCKET: 'in-bucket',
      BATCH_OUTPUT_BUCKET: 'out-bucket',
    });
    assert.equal(options.mode, 'worker');
    if (options.mode !== 'worker') return;
    assert.equal(options.queueUrl, 'https://sqs.eu-west-1.example/1/work');
    assert.equal(options.inputBucket, 'in-bucket');
    assert.deepEqual(options.output, { kind: 's3', bucket: 'out-bucket', prefix: '' });
    assert.equal(options.spot?.imdsUrl, 'http://169.254.169.254');
    assert.equal(options.visibilityTimeoutSeconds, 300);
  });

  it('uses the same environment variable names as the batch fleet declares', () => {
    assert.equal(WORKER_ENV.queueUrl, BATCH_INSTANCE_ENV.queueUrl);
    assert.equal(WORKER_ENV.inputBucket, BATCH_INSTANCE_ENV.inputBucket);
    assert.equal(WORKER_ENV.outputBucket, BATCH_INSTANCE_ENV.outputBucket);
  });

  it('turns the Spot watch off on request and takes another metadata address', () => {
    const base = ['--worker', '--queue-url', 'q', '--output', 's3://out-bucket/r/'];
    const off = parseOptions([...base, '--no-spot-watch'], {});
    assert.ok(off.mode === 'worker' && off.spot === null);
    const local = parseOptions(base, { AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:1' });
    assert.ok(local.mode === 'worker' && local.spot?.imdsUrl === 'http://127.0.0.1:1');
  });

  it('answers --help', () => {
    assert.deepEqual(parseOptions(['--help'], {}), { mode: 'help' });
  });

  for (const [argv, message] of [
    [[], /expected <input> and <output>, got 0/],
    [['only-one'], /got 1/],
    [['a', 'b', 'c'], /got 3/],
    [['a', 'b', '--frobnicate'], /frobnicate/],
    [['a', 'b', '--top', '11'], /--top: expected an integer from 1 to 10, got "11"/],
    [['a', 'b', '--top', 'two'], /--top/],
    [['a', 'b', '--backend', 'quantum'], /unknown backend "quantum"/],
    [['a', 'b', '--progress', 'fancy'], /--progress/],
    [['s3://No_Such', 'b'], /<input>: not a valid S3 bucket name/],
    [['a', ''], /<output>: empty path/],
    [['--worker'], /--queue-url or BATCH_QUEUE_URL is required/],
    [['--worker', '--queue-url', 'q'], /--output or BATCH_OUTPUT_BUCKET is required/],
    [['--worker', '--queue-url', 'q', '--output', 'local.jsonl'], /must be an s3:/],
    [['--worker', 'extra'], /no positional arguments/],
  ] as const) {
    it(`refuses ${JSON.stringify(argv)}`, () => {
      assert.throws(
        () => parseOptions([...argv], {}),
        (err: unknown) => err instanceof UsageError && message.test(err.message),
      );
    });
  }

  it('refuses a bad value in the environment, naming the setting', () => {
    assert.throws(() => parseOptions(['a', 'b'], { MAX_BATCH_SIZE: '0' }), /--max-batch-size/);
  });
});
