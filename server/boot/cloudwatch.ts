/**
 * Configures and starts the CloudWatch agent on every boot. The image carries a template whose
 * log group names wait for the stack name (`__STACK__`), which only the instance's user data
 * knows; the agent's own control tool then validates the result and (re)starts the agent.
 */
import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

import { writePrivateFile } from './env-file';

/** Where the template, the rendered configuration and the agent's control tool live. */
export interface CloudWatchPaths {
  template: string;
  config: string;
  ctl: string;
}

/** The image's paths. */
export const CLOUDWATCH_PATHS: CloudWatchPaths = Object.freeze({
  template: '/etc/breed-identifier/cloudwatch-agent.json',
  config: '/opt/aws/amazon-cloudwatch-agent/etc/breed-identifier.json',
  ctl: '/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl',
});

/** What happened: started, or why not. */
export type CloudWatchOutcome = 'started' | 'agent-absent' | 'no-stack';

const STACK = /^[a-z0-9][a-z0-9-]{0,62}$/;
const run = promisify(execFile);

/** Renders the configuration for `stack` and starts the agent with it. */
export async function configureCloudWatchAgent(
  stack: string | undefined,
  paths: CloudWatchPaths = CLOUDWATCH_PATHS,
): Promise<CloudWatchOutcome> {
  if (!stack) return 'no-stack';
  if (!STACK.test(stack)) throw new Error(`stack name ${JSON.stringify(stack)} is not valid`);
  try {
    await access(paths.ctl);
  } catch {
    return 'agent-absent';
  }

  const template = await readFile(paths.template, 'utf8');
  await writePrivateFile(paths.config, template.replaceAll('__STACK__', stack));
  const args = ['-a', 'fetch-config', '-m', 'ec2', '-s', '-c', `file:${paths.config}`];
  await run(paths.ctl, args, { timeout: 60_000 });
  return 'started';
}
