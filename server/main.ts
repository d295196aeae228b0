/**
 * Process entry of the server: configuration, listening socket, model load and warm-up, then
 * ready; on SIGTERM, not ready, finish what was accepted, exit.
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { ConfigError, loadConfig, type ServerConfig } from './config';
import { createApp, ServiceState } from './http/app';
import { Metrics } from './http/metrics';
import { createInferenceCore, describeCore } from './inference/core';
import { createLogger } from './log';

async function main(): Promise<void> {
  let config: Readonly<ServerConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`breed-identifier: ${err.message}\n`);
    process.exit(2);
  }

  const logger = createLogger(config.logLevel);
  const state = new ServiceState();
  const metrics = new Metrics();
  const server = createServer(
    {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: Math.min(config.requestTimeoutMs, 20_000),
      // Node checks the timeouts above only this often (30 s by default).
      connectionsCheckingInterval: 1000,
    },
    createApp({ config, logger, state, metrics }).callback(),
  );

  try {
    await listen(server, config);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    process.stderr.write(
      `breed-identifier: cannot listen on ${config.host}:${config.port} (${reason})\n`,
    );
    process.exit(2);
  }
  logger.info({ host: config.host, port: config.port }, 'listening');
  handleSignals(server, state, config, logger);

  try {
    state.core = await createInferenceCore({
      modelDir: config.modelDir,
      metadataPath: config.metadataPath,
      backend: config.backend,
      workers: config.workers,
      maxBatchSize: config.maxBatchSize,
      maxBatchWaitMs: config.maxBatchWaitMs,
      maxQueue: config.maxQueue,
      maxInputPixels: config.maxInputPixels,
      logger,
      onBatch: (batch) => metrics.observeBatch(batch),
    });
  } catch (err) {
    logger.fatal({ err, modelDir: config.modelDir }, 'model failed to load');
    process.exit(1);
  }

  const core = state.core;
  metrics.modelLoadSeconds.set(core.loadSeconds);
  metrics.modelInfo.set({ ...modelLabels(core), backend: core.backend }, 1);
  logger.info(describeCore(core), 'ready');
}

function modelLabels(core: { metadata: { name: string; version: string } }) {
  return { name: core.metadata.name, version: core.metadata.version };
}

function listen(server: Server, config: Readonly<ServerConfig>): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
}

/**
 * SIGTERM or SIGINT: report not ready, stop accepting connections, let accepted requests
 * finish, stop the model, exit 0; past the deadline, exit 1 so the supervisor knows.
 */
function handleSignals(
  server: Server,
  state: ServiceState,
  config: Readonly<ServerConfig>,
  logger: Logger,
): void {
  const stop = (signal: string) => {
    if (state.draining) return;
    state.draining = true;
    logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'draining');

    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'drain deadline passed');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();

    server.on('request', (_req, res) => res.setHeader('Connection', 'close'));
    server.close(async () => {
      await state.core?.close();
      logger.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
