/**
 * The checkpoint helper training containers import (`ml-platform-constructs/runtime/checkpoint`): a checkpoint store
 * in S3 that survives interruption and corruption, a watcher of the spot interruption notice, and a runner that
 * checkpoints periodically, on the notice and on SIGTERM.
 */
export * from './checkpoint-manifest';
export * from './checkpoint-reads';
export * from './checkpoint-store';
export * from './checkpoint-runner';
export * from './spot-interruption';
