/**
 * `npm run replay`: re-drives the stream batches the feature materializer gave up on, from the messages of its
 * on-failure queue, through the materializer's own handler (runtime/aws/stream-replay.ts explains why it is
 * idempotent). Run it while the stream still holds the records (its retention, 24 hours by default).
 *
 *   aws lambda get-function-configuration --function-name <materializer> --query Environment.Variables > materializer-env.json
 *   aws sqs receive-message --queue-url <on-failure queue> --max-number-of-messages 10 > failed.json
 *   npm run replay -- --environment materializer-env.json failed.json        (or pipe the messages on stdin)
 *
 * Prints one JSON line per message (`status`: replayed, stopped-short or failed; `warning` when the range held another
 * number of records than the message's batchSize) and the `aws sqs delete-message` command of each replayed message
 * that came with a receipt handle; exits 1 when any message was not replayed. Credentials and endpoints come from the
 * AWS SDK's environment; each message is read from its stream's region (the stream ARN's, one client per region).
 */
import * as fs from 'fs';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { parseOnFailureMessages, replayFailedBatches } from '../runtime/aws/stream-replay';
import { materializerFromEnvironment } from '../runtime/handlers/materializer-handler';

const USAGE = 'usage: npm run replay -- --environment <materializer environment JSON file> [<on-failure messages file> | -]';

/** Parses the command line: `--environment <file>` and an optional input file (`-` or none: stdin). */
function parseArgs(argv: readonly string[]): { environmentFile: string; input: string } {
  const args = [...argv];
  let environmentFile: string | undefined;
  let input = '-';
  while (args.length > 0) {
    const arg = args.shift()!;
    if (arg === '--environment') environmentFile = args.shift();
    else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}\n${USAGE}`);
    else input = arg;
  }
  if (!environmentFile) throw new Error(`--environment is required: the materializer's environment variables as JSON (aws lambda get-function-configuration --query Environment.Variables)\n${USAGE}`);
  return { environmentFile, input };
}

async function main(): Promise<number> {
  const { environmentFile, input } = parseArgs(process.argv.slice(2));
  const functionEnvironment = JSON.parse(fs.readFileSync(environmentFile, 'utf8')) as Record<string, string>;
  const messages = parseOnFailureMessages(fs.readFileSync(input === '-' ? 0 : input, 'utf8'));
  const handler = materializerFromEnvironment({ ...process.env, ...functionEnvironment });
  const clients = new Map<string, KinesisClient>();
  // HTTP/1.1: Kinesis answers it as well as HTTP/2, and local stand-ins (kinesalite) only speak HTTP/1.1.
  const kinesisFor = (region: string) => clients.get(region) ?? clients.set(region, new KinesisClient({ region, requestHandler: new NodeHttpHandler() })).get(region)!;
  try {
    const outcomes = await replayFailedBatches(messages, kinesisFor, handler);
    for (const { message, status, records, error, warning } of outcomes) {
      console.log(JSON.stringify({ status, records, ...message.batch, ...(error ? { error } : {}), ...(warning ? { warning } : {}) }));
      if (status === 'replayed' && message.receiptHandle) console.log(`  aws sqs delete-message --queue-url <on-failure queue> --receipt-handle '${message.receiptHandle}'`);
    }
    return outcomes.every((o) => o.status === 'replayed') ? 0 : 1;
  } finally {
    for (const client of clients.values()) client.destroy();
  }
}

main().then((code) => process.exit(code), (error: Error) => {
  console.error(`replay: ${error.message}`);
  process.exit(1);
});
