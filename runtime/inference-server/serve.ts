/**
 * Entry point of the inference server image (`serve`, as SageMaker starts it: `docker run <image> serve`). Reads the
 * configuration from the environment, listens (live at once), loads the model (ready once every worker is warm), and
 * on SIGTERM or SIGINT drains and exits 0 — or 1 if the shutdown deadline passes first. Every startup failure is one
 * log line naming the setting to change, then a non-zero exit: 2 for an invalid configuration, 1 otherwise.
 */
import * as path from 'path';
import { loadConfig, ServerConfig } from './config';
import { STDOUT_LOGGER } from './log';
import { InferenceServer } from './server';
import { ServerVariables } from '../contracts/inference-server';

/** Why the server cannot listen, naming the variables to change. */
function listenFailure(error: NodeJS.ErrnoException, config: ServerConfig): string {
  const where = `cannot listen on ${config.host}:${config.port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return `${where}: port ${config.port} is already in use; stop the process holding it or set ${ServerVariables.PORT} to a free port`;
    case 'EACCES':
      return `${where}: permission denied for port ${config.port}; set ${ServerVariables.PORT} to 1024 or above, or run with the right to bind it`;
    case 'EADDRNOTAVAIL':
      return `${where}: HOST ${config.host} is not an address of this machine; set HOST (0.0.0.0 listens on all of them)`;
    default:
      return `${where} (${ServerVariables.PORT}=${config.port}, ${ServerVariables.HOST}=${config.host}): ${error.message}`;
  }
}

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
  try {
    await server.listen();
  } catch (error) {
    STDOUT_LOGGER.log('error', listenFailure(error as NodeJS.ErrnoException, config), { port: config.port, host: config.host });
    process.exit(1);
  }
  try {
    await server.load();
  } catch (error) {
    STDOUT_LOGGER.log('error', 'cannot load the model', { error: (error as Error).message });
    process.exit(1);
  }
}

void main();
