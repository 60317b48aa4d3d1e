/**
 * The HTTP floor of bench/serving.bench.ts: a bare Node HTTP server, in its own process, that reads each request body
 * and answers a fixed response (the one our server gives for the bench's request). Nothing a server can do over
 * Node's HTTP stack answers faster, so the inference server's small-model rows are read against it.
 *
 * `node --import tsx bench/http-floor-server.ts '<FloorSpec JSON>'` listens on a free loopback port and prints one
 * line, `{"port": N}`; it runs until killed.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';

/** What the floor server answers. */
export interface FloorSpec {
  /** Response body, sent to every request. */
  readonly body: string;
  /** Its content type. */
  readonly contentType: string;
}

function serve(spec: FloorSpec): void {
  const body = Buffer.from(spec.body);
  const headers = { 'content-type': spec.contentType, 'content-length': String(body.length) };
  const server = http.createServer((req, res) => {
    // Read the whole request, as any server must before answering it.
    req.on('data', () => undefined);
    req.on('end', () => {
      res.writeHead(200, headers);
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  });
}

if (require.main === module) serve(JSON.parse(process.argv[2]) as FloorSpec);
