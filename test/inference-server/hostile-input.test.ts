/**
 * No input can stall the server. Fuzz cases with single fields of 2 MB and 5 MB (digits, strings, non-finite tokens,
 * deep nesting) on every protocol route each get an answer — a 4xx naming the problem, or the correct prediction — within
 * a bound measured in this run: `BOUND_FACTOR` times the slower of two valid requests of the same route, body kind
 * and size. While each is processed, `/ping` and `/v2/health/ready` keep answering within that bound (the event loop is
 * never blocked for longer than a valid body of that size blocks it). Then the HTTP limits, against raw-socket clients:
 * a slowloris client is cut off at the headers timeout, a body trickled slowly at the request timeout, an oversized body gets 413 and a closed connection before it
 * is all sent, connections beyond the cap are refused.
 */
import * as net from 'net';
import * as path from 'path';
import { fraudProbability, rows } from './reference';
import { Answer, call, MODELS_DIR, ServerProcess, startServer } from './server-process';

/**
 * How many times slower than a valid request of the same size a hostile one may be. Every case measured below 1x
 * (parsing is linear, and a body nested deeper than the cap is refused before JSON.parse allocates its levels).
 */
const BOUND_FACTOR = 5;
const MB = 1024 * 1024;
/** Field size: bodies stay under 2 MB. The quadratic patterns this replaced needed 0.45 s for 20,000 digits, so ~20 minutes for 1 MB. */
const FIELD = 2 * MB - 4096;
/** The largest field: 5 MB, the body under the 6 MB payload cap. */
const LARGE_FIELD = 5 * MB - 4096;
/** Half the field size (each character pair is one nesting level or one escaped quote). */
const HALF_FIELD = FIELD / 2;
/** Headers timeout of the `guarded` server. */
const HEADERS_TIMEOUT_MS = 500;
/** Request timeout of the `guarded` server (headers and body). */
const REQUEST_TIMEOUT_MS = 1500;
/** Connection cap of the `guarded` server. */
const MAX_CONNECTIONS = 4;

let fraud: ServerProcess;
let guarded: ServerProcess;

beforeAll(async () => {
  const model = { MODEL_URI: path.join(MODELS_DIR, 'fraud-mlp.onnx'), MODEL_NAME: 'fraud' };
  [fraud, guarded] = await Promise.all([
    startServer(model),
    startServer({
      ...model,
      INFERENCE_HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      INFERENCE_HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      INFERENCE_HTTP_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
    }),
  ]);
});

afterAll(async () => {
  expect(await fraud.stop()).toBe(0);
  expect(await guarded.stop()).toBe(0);
});

const [ROW] = rows(1, 16);
const REST = ROW.slice(1).join(',');

/** How a body is written, and the route it is sent to (together, every route and every body kind). */
type Kind = 'oip' | 'csv' | 'instances';
const ROUTE: Record<Kind, { readonly path: string; readonly contentType: string }> = {
  oip: { path: '/v2/models/fraud/infer', contentType: 'application/json' },
  csv: { path: '/invocations', contentType: 'text/csv' },
  instances: { path: '/endpoints/fraud/invocations', contentType: 'application/json' },
};

/** A body of `kind` whose first feature is `field` (raw text, as the body carries it). */
function embed(kind: Kind, field: string): string {
  switch (kind) {
    case 'oip': return `{"inputs":[{"name":"features","datatype":"FP32","shape":[1,16],"data":[[${field},${REST}]]}]}`;
    case 'csv': return `${field},${REST}\n`;
    case 'instances': return `{"instances":[[${field},${REST}]]}`;
  }
}

/** A valid body of `kind` with as many rows as fit in `size` bytes, padded to exactly `size`. */
function validBody(kind: Kind, size: number): string {
  const row = ROW.join(',');
  const count = Math.floor(size / (row.length + 3)) - 1;
  const lines = Array<string>(count).fill(kind === 'csv' ? row : `[${row}]`);
  const body = kind === 'csv' ? lines.join('\n')
    : kind === 'oip' ? `{"inputs":[{"name":"features","datatype":"FP32","shape":[${count},16],"data":[${lines.join(',')}]}]}`
      : `{"instances":[${lines.join(',')}]}`;
  return body + (kind === 'csv' ? '\n' : ' ').repeat(size - body.length);
}

/** The status and error message of an answer, whatever the protocol (SageMaker Runtime wraps them in a ModelError). */
function outcome(answer: Answer): { status: number; error?: string } {
  if (answer.headers['x-amzn-errortype'] === 'ModelError') return { status: answer.json.OriginalStatusCode, error: answer.json.OriginalMessage };
  return { status: answer.status, error: answer.json?.error };
}

/** The first row's prediction in a successful answer. */
function firstPrediction(kind: Kind, answer: Answer): number {
  return kind === 'oip' ? answer.json.outputs[0].data[0] : [answer.json.predictions[0]].flat()[0];
}

/** Sends a request; fails naming `what` unless the whole answer arrives within `boundMs`. */
async function answerWithin(url: string, options: { body?: string; headers?: Record<string, string> }, boundMs: number, what: string): Promise<{ answer: Answer; ms: number }> {
  const started = performance.now();
  try {
    const answer = await call(url, { ...options, signal: AbortSignal.timeout(Math.ceil(boundMs)) });
    return { answer, ms: performance.now() - started };
  } catch (error) {
    throw new Error(`${what}: no answer within ${Math.ceil(boundMs)} ms (${BOUND_FACTOR}x a valid request of the same size): ${(error as Error).message}`);
  }
}

const baselines = new Map<string, number>();

/** Milliseconds of a valid request of `kind` whose size is `size` rounded up to a whole MB: the slower of two runs. */
async function baselineMs(kind: Kind, size: number): Promise<number> {
  const bucket = Math.ceil(size / MB) * MB;
  const key = `${kind} ${bucket}`;
  if (!baselines.has(key)) {
    const body = validBody(kind, bucket);
    let slowest = 0;
    for (let run = 0; run < 2; run++) {
      const started = performance.now();
      const answer = await call(`${fraud.url}${ROUTE[kind].path}`, { body, headers: { 'content-type': ROUTE[kind].contentType } });
      expect(outcome(answer)).toEqual({ status: 200, error: undefined });
      slowest = Math.max(slowest, performance.now() - started);
    }
    baselines.set(key, slowest);
  }
  return baselines.get(key)!;
}

/** Polls `/ping` and `/v2/health/ready` until `work` settles (at least once each); each must answer within `boundMs`. */
async function healthWhile(work: Promise<unknown>, boundMs: number): Promise<void> {
  let settled = false;
  void work.then(() => { settled = true; }, () => { settled = true; });
  do {
    for (const route of ['/ping', '/v2/health/ready']) {
      const { answer } = await answerWithin(`${fraud.url}${route}`, {}, boundMs, `${route} while a hostile body is processed`);
      expect(answer.status).toBe(200);
    }
  } while (!settled);
}

interface FuzzCase {
  readonly name: string;
  /** The body of each kind the case applies to. */
  readonly bodies: Partial<Record<Kind, string>>;
  /** What the answer must be, by kind: a status and error pattern, or `prediction` (the model's output for `features`). */
  readonly expected: (kind: Kind) => { status: number; error: RegExp } | { prediction: readonly number[] };
}

/** The bodies of every kind with `field` as the first feature. */
const everyKind = (field: string): Partial<Record<Kind, string>> => ({ oip: embed('oip', field), csv: embed('csv', field), instances: embed('instances', field) });
const jsonKinds = (field: string): Partial<Record<Kind, string>> => ({ oip: embed('oip', field), instances: embed('instances', field) });
const refused = (json: RegExp, csv: RegExp = json) => (kind: Kind) => ({ status: 400, error: kind === 'csv' ? csv : json });
const NOT_JSON = /^request body is not valid JSON: /;

const CASES: FuzzCase[] = [
  {
    name: '2 MB of digits then a letter (backtracked the old CSV number pattern)',
    bodies: everyKind(`${'1'.repeat(FIELD)}x`),
    expected: refused(NOT_JSON, /data\[0\] = "1{60,}… is not a number/),
  },
  {
    name: '5 MB of digits then a letter',
    bodies: everyKind(`${'1'.repeat(LARGE_FIELD)}x`),
    expected: refused(NOT_JSON, /data\[0\] = "1{60,}… is not a number/),
  },
  {
    name: '2 MB of digits: a number beyond every float type',
    bodies: everyKind('1'.repeat(FIELD)),
    expected: refused(/data\[0\] = Infinity is outside the FP32 range -3\.4028234663852886e\+38\.\.3\.4028234663852886e\+38/),
  },
  {
    name: 'a 2 MB decimal fraction that rounds to zero',
    bodies: everyKind(`0.${'0'.repeat(FIELD)}1`),
    expected: () => ({ prediction: [0, ...ROW.slice(1)] }),
  },
  {
    name: 'a 2 MB string',
    bodies: { ...jsonKinds(`"${'a'.repeat(FIELD)}"`), csv: embed('csv', 'a'.repeat(FIELD)) },
    expected: refused(/data\[0\] = "a{60,}… is not a number \(datatype FP32\)/),
  },
  {
    name: 'a bare NaN, then 2 MB of escaped quotes in an unterminated string (backtracked the old NaN-quoting pattern)',
    bodies: everyKind(`NaN,"${'\\"'.repeat(HALF_FIELD)}`),
    expected: refused(NOT_JSON, /shape \[1,17\] does not match the model's \[-1,16\]/),
  },
  {
    name: '2 MB of NaN tokens run together',
    bodies: everyKind('NaN'.repeat(Math.floor(FIELD / 3))),
    expected: refused(NOT_JSON, /data\[0\] = "(NaN){20,}N?a?… is not a number/),
  },
  {
    name: '2 MB of -Infinity elements',
    bodies: everyKind(Array<string>(Math.floor(FIELD / 10)).fill('-Infinity').join(',')),
    expected: refused(/data has \d+ elements but its shape needs 16|shape \[1,\d+\] does not match the model's \[-1,16\]/),
  },
  {
    name: 'data nested a million levels deep',
    bodies: jsonKinds(`${'['.repeat(HALF_FIELD)}0${']'.repeat(HALF_FIELD)}`),
    expected: refused(/^request body is nested more than 40 levels deep \(a tensor's data may nest 32 levels at most\)/),
  },
  {
    name: 'a 2 MB input name',
    bodies: { oip: `{"inputs":[{"name":"${'f'.repeat(FIELD)}","datatype":"FP32","shape":[1,16],"data":[${ROW.join(',')}]}]}` },
    expected: refused(/^inputs\[0\]: unknown input "f{60,}…; the model's inputs are features/),
  },
  {
    name: 'a 2 MB timeout_ms',
    bodies: { oip: `{"parameters":{"timeout_ms":${'9'.repeat(FIELD)}},"inputs":[{"name":"features","datatype":"FP32","shape":[1,16],"data":[${ROW.join(',')}]}]}` },
    expected: refused(/^parameters timeout_ms Infinity is not a deadline/),
  },
];

const RUNS = CASES.flatMap((c) => (Object.keys(c.bodies) as Kind[]).map((kind) => ({ name: c.name, kind, route: ROUTE[kind].path, fuzz: c })));

describe('hostile fields of 2 MB and 5 MB: an answer within the bound, and health checks answer meanwhile', () => {
  test.each(RUNS)('$name: $route ($kind)', async ({ kind, fuzz }) => {
    const body = fuzz.bodies[kind]!;
    const bound = BOUND_FACTOR * await baselineMs(kind, body.length);
    const hostile = answerWithin(`${fraud.url}${ROUTE[kind].path}`, { body, headers: { 'content-type': ROUTE[kind].contentType } }, bound, 'the hostile request');
    const [{ answer }] = await Promise.all([hostile, healthWhile(hostile, bound)]);
    const expected = fuzz.expected(kind);
    if ('prediction' in expected) {
      expect(outcome(answer).status).toBe(200);
      expect(firstPrediction(kind, answer)).toBeCloseTo(fraudProbability(expected.prediction), 5);
    } else {
      const { status, error } = outcome(answer);
      expect(status).toBe(expected.status);
      expect(error).toMatch(expected.error);
      expect(error!.length).toBeLessThan(1000); // never echoes the field
    }
  });

  test('afterwards the server still serves correct predictions', async () => {
    expect(fraud.child.exitCode).toBeNull();
    const answer = await call(`${fraud.url}/v2/models/fraud/infer`, { body: { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 16], data: ROW }] } });
    expect(answer.json.outputs[0].data[0]).toBeCloseTo(fraudProbability(ROW), 5);
  });
});

/** A raw TCP connection to a server. */
function connect(server: ServerProcess): Promise<net.Socket> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Runs `use` on a raw connection to `server`, destroyed afterwards whatever happens. */
async function withConnection(server: ServerProcess, use: (socket: net.Socket) => Promise<void>): Promise<void> {
  const socket = await connect(server);
  try {
    await use(socket);
  } finally {
    socket.destroy();
  }
}

/** Everything a socket receives until it closes (errors such as EPIPE or ECONNRESET count as closing). */
function received(socket: net.Socket): Promise<string> {
  let text = '';
  socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1'); });
  socket.on('error', () => undefined);
  return new Promise((resolve) => socket.once('close', () => resolve(text)));
}

/** The first thing a socket receives, or '' when it closes first. */
function firstReply(socket: net.Socket): Promise<string> {
  socket.on('error', () => undefined);
  return new Promise((resolve) => {
    socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1')));
    socket.once('close', () => resolve(''));
  });
}

/** Sends `GET /ping` on a socket and waits for its answer (the connection stays open). */
function ping(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n\r\n')) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.write('GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n');
  });
}

describe('HTTP limits (INFERENCE_HTTP_*)', () => {
  test(`connections beyond INFERENCE_HTTP_MAX_CONNECTIONS (${MAX_CONNECTIONS} here) are closed at once, unanswered`, async () => {
    const held: net.Socket[] = [];
    try {
      held.push(...await Promise.all(Array.from({ length: MAX_CONNECTIONS }, () => connect(guarded))));
      for (const socket of held) expect(await ping(socket)).toMatch(/^HTTP\/1\.1 200/);
      const extra = await connect(guarded);
      held.push(extra);
      const reply = firstReply(extra);
      extra.write('GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n');
      expect(await reply).toBe('');
      // Once a connection closes, its slot serves again (the server may see the close a moment later: a few tries).
      held[0].destroy();
      const answers: string[] = [];
      for (let attempt = 0; attempt < 20 && !answers.some((a) => a.startsWith('HTTP/1.1 200')); attempt++) {
        const socket = await connect(guarded);
        held.push(socket);
        const text = received(socket);
        socket.end('GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
        answers.push(await text);
      }
      expect(answers[answers.length - 1]).toMatch(/^HTTP\/1\.1 200/);
    } finally {
      for (const socket of held) socket.destroy();
    }
  });

  test(`a client sending its headers byte by byte is answered 408 and cut off after INFERENCE_HTTP_HEADERS_TIMEOUT_MS (${HEADERS_TIMEOUT_MS} ms here)`, () => withConnection(guarded, async (socket) => {
    const text = received(socket);
    const request = `GET /ping HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${'a'.repeat(600)}\r\n\r\n`;
    const sent = await trickle(socket, request);
    expect(await text).toMatch(/^HTTP\/1\.1 408 /);
    expect(sent).toBeLessThan(request.length);
  }));

  test(`a client trickling its body byte by byte is answered 408 and cut off after INFERENCE_HTTP_REQUEST_TIMEOUT_MS (${REQUEST_TIMEOUT_MS} ms here)`, () => withConnection(guarded, async (socket) => {
    const text = received(socket);
    const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 16], data: ROW }] }).padEnd(2000, ' ');
    socket.write(`POST /v2/models/fraud/infer HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    const sent = await trickle(socket, body);
    expect(await text).toMatch(/^HTTP\/1\.1 408 /);
    expect(sent).toBeLessThan(body.length);
    expect((await call(`${guarded.url}/ping`)).status).toBe(200);
    // The client's doing, not a server failure: no error logged.
    expect(guarded.lines.filter((l) => l.level === 'error')).toEqual([]);
  }));

  test('a body over INFERENCE_MAX_PAYLOAD_BYTES gets 413 with Connection: close, and the connection closes before the body is all sent', () => withConnection(guarded, async (socket) => {
    const total = 64 * MB;
    const text = received(socket);
    let closed = false;
    socket.once('close', () => { closed = true; });
    socket.write(`POST /invocations HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/csv\r\nContent-Length: ${total}\r\n\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 0x31);
    let written = 0;
    while (written < total && !closed && socket.writable) {
      written += chunk.length;
      if (!socket.write(chunk)) await new Promise((resolve) => { socket.once('drain', resolve); socket.once('close', resolve); });
    }
    if (!closed) socket.end(); // everything was sent (the body was drained): let the answer finish
    const answer = await text;
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer).toMatch(/payload of 67108864 bytes is over the 6291456 byte limit/);
    expect(written).toBeLessThan(total / 2);
    expect((await call(`${guarded.url}/ping`)).status).toBe(200);
  }));

  test('an idle keep-alive connection is not cut by the headers timeout (it need not exceed the keep-alive timeout)', () => withConnection(guarded, async (socket) => {
    expect(await ping(socket)).toMatch(/^HTTP\/1\.1 200/);
    await new Promise((resolve) => setTimeout(resolve, 3 * HEADERS_TIMEOUT_MS));
    expect(await ping(socket)).toMatch(/^HTTP\/1\.1 200/);
  }));

  test('idle keep-alive connections outlive the 60 s idle timeout of AWS load balancers', async () => {
    const answer = await call(`${fraud.url}/ping`);
    expect(answer.headers['keep-alive']).toBe('timeout=65');
  });
});

/**
 * Sends `text` one character every 10 ms until the server cuts the connection off; ends the request when all of it
 * went through (nothing cut off: the answer can finish). Returns how many characters were sent.
 */
async function trickle(socket: net.Socket, text: string): Promise<number> {
  let sent = 0;
  while (sent < text.length && !socket.destroyed && socket.writable) {
    socket.write(text[sent++]);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (socket.writable) socket.end();
  return sent;
}
