/**
 * The bake rehearsal (`npm run ami:rehearse`): a debootstrapped Debian root provisioned by the
 * image's own scripts, the server started from it with no network, the golden photos answered,
 * a corrupted model refused by the SHA-256 step, the cleanup checked. Needs root, debootstrap
 * and unshare; CI runs as root (`.ci/run`), so it runs there.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

import { REPO_ROOT, SAMPLE_MODEL_DIR } from '../support/shared-data';

function missingPrerequisite(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of ['debootstrap', 'unshare', 'chroot', 'ip']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} missing`;
  }
  if (!existsSync(path.join(SAMPLE_MODEL_DIR, 'model.json'))) return 'sample model missing';
  return null;
}

describe('AMI bake rehearsal', function () {
  // Measured 1.5 to 3.5 minutes with a cached base root (machine load), plus 1 to 4 minutes for
  // the first debootstrap.
  this.timeout(15 * 60_000);

  let output = '';
  let status: number | null = null;

  before(function () {
    const missing = missingPrerequisite();
    if (missing) {
      console.log(`      rehearsal skipped: ${missing}`);
      this.skip();
    }
    const started = Date.now();
    const result = spawnSync('npm', ['run', '--silent', 'ami:rehearse'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    output = `${result.stdout}\n${result.stderr}`;
    status = result.status;
    console.log(`      rehearsal took ${Math.round((Date.now() - started) / 1000)} s`);
  });

  it('bakes, serves with no network and passes the image validation', () => {
    assert.equal(status, 0, output.slice(-4000));
    assert.match(output, /network namespace interfaces: lo\n/);
    assert.match(output, /60-install-model: \S+ 1\.0\.0-rehearsal verified on wasm backend/);
    assert.match(output, /validate: server ready after/);
    assert.match(output, /validate: backend wasm/);
    assert.match(output, /validate: serve phase passed/);
    assert.match(output, /validate: clean phase passed/);
  });

  it('fails the bake on a corrupted model file, naming the file and the SHA-256 check', () => {
    assert.match(output, /corrupted model file \(group\d+-shard\d+of\d+\): failed as it must/);
    assert.match(output, /model verification failed/);
    assert.match(
      output,
      /group\d+-shard\d+of\d+: has SHA-256 [0-9a-f]{64}, SHA256SUMS expects [0-9a-f]{64}/,
    );
    assert.match(output, /artifact with another SHA-256: failed as it must/);
  });
});
