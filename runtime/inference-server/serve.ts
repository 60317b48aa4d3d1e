/**
 * Entry point of the inference server image (`serve`, as SageMaker starts it: `docker run <image> serve`). Reads the
 * configuration from the environment, listens (live at once), loads the model (ready once every worker is warm), and
 * on SIGTERM or SIGINT drains and exits 0 — or 1 if the shutdown deadline passes first.
 */
import * as path from 'path';
import { loadConfig, ServerConfig } from './config';
import { STDOUT_LOGGER } from './log';
import { InferenceServer } from './server';

async function main(): Promise<void> {
  let config: ServerConfig;
  try {
    config = loadConfig();
  } catch (error) {
    STDOUT_LOGGER.log('error', 'invalid configuration', { error: (error as Error).message });
    process.exit(2);
  }
  const server = new InferenceServer(config, STDOUT_LOGGER, path.join(__dirname, 'worker.js'));
  const stop = (signal: string) => {
    STDOUT_LOGGER.log('info', 'signal received', { signal, shutdownTimeoutMs: config.shutdownTimeoutMs });
    setTimeout(() => {
      STDOUT_LOGGER.log('error', 'shutdown deadline passed with work unfinished; exiting', { shutdownTimeoutMs: config.shutdownTimeoutMs });
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    server.shutdown().then(() => process.exit(0), (error) => {
      STDOUT_LOGGER.log('error', 'shutdown failed', { error: (error as Error).stack });
      process.exit(1);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  await server.listen();
  try {
    await server.load();
  } catch (error) {
    STDOUT_LOGGER.log('error', 'cannot load the model', { error: (error as Error).message });
    process.exit(1);
  }
}

void main();
