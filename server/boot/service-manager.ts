/** Starts systemd units; an interface so that tests can record the calls instead. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** Starts a service unit and resolves once the service manager has started it. */
export interface ServiceManager {
  start(unit: string): Promise<void>;
}

const run = promisify(execFile);

/** The real one: `systemctl start UNIT`, with systemctl's own message on failure. */
export function systemdServiceManager(systemctl = 'systemctl'): ServiceManager {
  return {
    async start(unit: string): Promise<void> {
      try {
        await run(systemctl, ['start', unit], { timeout: 120_000 });
      } catch (error) {
        const stderr = (error as { stderr?: string }).stderr?.trim();
        throw new Error(`systemctl start ${unit} failed${stderr ? `: ${stderr}` : ''}`);
      }
    },
  };
}
