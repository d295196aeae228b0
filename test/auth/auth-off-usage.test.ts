/**
 * Where `AUTH=off` may and may not appear: the README's quick start sets it explicitly, so a new
 * user can try the sample model at once; nothing that builds or runs production (the image, its
 * service configuration, the Pulumi program) ever sets it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { REPO_ROOT } from '../support/shared-data';

/** `AUTH=off` in an environment file, a shell line, a systemd unit, YAML or a TS object. */
const SETS_AUTH_OFF = /\bAUTH\b["']?\s*[=:]\s*["']?off\b/i;

/** Folders whose files end up on the image or in the cloud. */
const PRODUCTION_TREES = ['ami', 'packer', 'infra'];

/** The repository's own files under `trees` (not build output or a rehearsal root). */
function trackedFiles(trees: string[]): string[] {
  const listed = execFileSync('git', ['ls-files', '--', ...trees], { cwd: REPO_ROOT });
  return listed
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((file) => path.join(REPO_ROOT, file));
}

describe('AUTH=off usage', () => {
  it('the README quick start starts the server with AUTH=off, explicitly', () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const quickStart = readme.split(/^## /m).find((section) => section.startsWith('Quick start'));
    assert.ok(quickStart, 'README has a Quick start section');
    assert.match(quickStart, /^[^\n#]*\bAUTH=off npm start\b/m);
  });

  it('the pattern catches the spellings a production file could use', () => {
    for (const line of ['AUTH=off', 'Environment=AUTH=off', "AUTH: 'off'", 'export AUTH="off"']) {
      assert.match(line, SETS_AUTH_OFF, line);
    }
    for (const line of ['AUTH=on', 'AUTH_JWKS_URL=off.example', 'OAUTH=off']) {
      assert.doesNotMatch(line, SETS_AUTH_OFF, line);
    }
  });

  it('no file of the image, its build or the infrastructure sets AUTH=off', () => {
    const files = trackedFiles(PRODUCTION_TREES);
    assert.ok(
      files.some((file) => file.endsWith('.service')),
      'the systemd units are read',
    );
    const offenders = files
      .filter((file) => statSync(file).size < 1_000_000)
      .filter((file) => SETS_AUTH_OFF.test(readFileSync(file, 'utf8')))
      .map((file) => path.relative(REPO_ROOT, file));
    assert.deepEqual(offenders, []);
  });
});
