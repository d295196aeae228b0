/**
 * Entry point of the boot agent (`dist/server/boot/main.js`), run by its systemd unit on every
 * boot. Exits 0 when the plan for this boot is done, 1 with a logged reason otherwise.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { SSMClient } from '@aws-sdk/client-ssm';
import pino from 'pino';

import { IMAGE_LAYOUT } from '../contract';
import { runBootAgent } from './agent';
import { configureCloudWatchAgent } from './cloudwatch';
import { loadBootAgentConfig } from './config';
import { ImdsClient } from './imds';
import { systemdServiceManager } from './service-manager';

/** Short timeouts: an unreachable store should fall back to the cache in seconds, not minutes. */
const REQUEST_HANDLER = { connectionTimeout: 3000, requestTimeout: 10_000 };

async function main(): Promise<number> {
  const logger = pino({ base: { unit: IMAGE_LAYOUT.bootAgentUnit } });
  try {
    const config = loadBootAgentConfig();
    const outcome = await runBootAgent({
      config,
      imds: new ImdsClient(config.imdsBaseUrl),
      createSsm: (region) =>
        new SSMClient({ region, endpoint: config.ssmEndpoint, requestHandler: REQUEST_HANDLER }),
      createAutoScaling: (region) =>
        new AutoScalingClient({
          region,
          endpoint: config.autoScalingEndpoint,
          requestHandler: REQUEST_HANDLER,
        }),
      services: systemdServiceManager(),
      configureLogs: (stack) => configureCloudWatchAgent(stack),
      logger,
    });
    logger.info({ ...outcome, plan: outcome.plan.reason }, 'boot agent done');
    return 0;
  } catch (error) {
    logger.fatal(
      { err: error instanceof Error ? error.message : String(error) },
      'boot agent failed',
    );
    return 1;
  }
}

void main().then((code) => {
  process.exitCode = code;
});
