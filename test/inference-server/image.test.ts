/**
 * Keeps the image honest without a Docker engine: the Dockerfiles only use what the build context
 * (assets/inference-server/, the folder every other test runs) holds, pin their base images by digest, install the
 * server's dependencies from its lockfile, their settings pass the server's configuration check, and the server runs
 * from an image-like folder where only onnxruntime-node is installed.
 */
import { builtinModules } from 'module';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { OPTIONAL_MODULES } from '../../build/bundle-inference-server';
import { loadConfig } from '../../runtime/inference-server/config';
import { rows } from './reference';
import { call, MODELS_DIR, oipInput, SERVER_DIR, startServer } from './server-process';

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** Instructions of a Dockerfile's last stage (continuations joined, comments dropped), and every stage's FROM. */
function parseDockerfile(file: string): { froms: string[]; final: Instruction[]; all: Instruction[]; comments: string } {
  const raw = fs.readFileSync(path.join(SERVER_DIR, file), 'utf8');
  const comments = raw.split('\n').filter((l) => l.startsWith('#')).join('\n');
  const text = raw.replace(/\\\n/g, ' ');
  const all = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((line) => {
    const [op, ...rest] = line.split(/\s+/);
    return { op: op.toUpperCase(), args: rest.join(' ') };
  });
  const lastFrom = all.map((i) => i.op).lastIndexOf('FROM');
  return { froms: all.filter((i) => i.op === 'FROM').map((i) => i.args), final: all.slice(lastFrom), all, comments };
}

/** The final stage's environment, as the container sees it. */
function imageEnv(final: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of final.filter((x) => x.op === 'ENV')) {
    for (const m of i.args.matchAll(/(\w+)=(\S+)/g)) env[m[1]] = m[2];
  }
  return env;
}

describe.each([
  { file: 'Dockerfile', provider: 'cuda', install: 'cuda12', base: /^nvidia\/cuda:12\.\S+-cudnn-runtime/ },
  { file: 'Dockerfile.cpu', provider: 'cpu', install: 'skip', base: /^node:22-/ },
])('$file', ({ file, provider, install, base }) => {
  const { froms, final, all, comments } = parseDockerfile(file);
  /** Base images: FROM arguments that are not an earlier stage. */
  const stages = froms.map((f) => / AS (\S+)$/i.exec(f)?.[1]).filter(Boolean);
  const bases = froms.map((f) => f.split(/\s+/)[0]).filter((image) => !stages.includes(image));

  test('copies only files the build context holds', () => {
    for (const copy of all.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const source of sources) expect(fs.existsSync(path.join(SERVER_DIR, source))).toBe(true);
    }
  });

  test('runs `serve` (as SageMaker starts it) from PATH, as a non-root user', () => {
    expect(final.find((i) => i.op === 'CMD')?.args).toBe('["serve"]');
    const workdir = final.find((i) => i.op === 'WORKDIR')!.args;
    expect(imageEnv(final).PATH.split(':')).toContain(workdir);
    expect(fs.statSync(path.join(SERVER_DIR, 'serve')).mode & 0o111).not.toBe(0);
    const user = final.filter((i) => i.op === 'USER').pop()?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
  });

  test(`installs onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=${install} on a ${provider} base with Node 22`, () => {
    expect(bases[bases.length - 1]).toMatch(base);
    expect(bases.some((f) => f.startsWith('node:22-'))).toBe(true);
  });

  test('pins every base image by digest, keeping its tag, and says where the digest came from', () => {
    expect(bases.length).toBeGreaterThan(0);
    for (const image of bases) expect(image).toMatch(/^[a-z0-9./-]+:[\w.-]+@sha256:[0-9a-f]{64}$/);
    // Each digest's source, a public repository pinning the same image (Dockerfile.cpu points to Dockerfile's note).
    const sources = new Set(comments.match(/github\.com\/[\w.-]+\/[\w.-]+/g));
    if (file === 'Dockerfile') expect(sources.size).toBeGreaterThanOrEqual(bases.length);
    else expect(comments).toMatch(/same [^\n]* as Dockerfile, where its source is noted/);
  });

  test('installs the server dependencies from the lockfile (npm ci), never resolving them at build time', () => {
    const copy = all.find((i) => i.op === 'COPY' && i.args.split(/\s+/).includes('package-lock.json'));
    const installs = all.filter((i) => i.op === 'RUN' && /\bnpm (ci|install|i)\b/.test(i.args));
    expect(installs.map((i) => i.args.match(/ONNXRUNTIME_NODE_INSTALL=\S+ npm \S+ --omit=dev/)?.[0])).toEqual([`ONNXRUNTIME_NODE_INSTALL=${install} npm ci --omit=dev`]);
    expect(copy).toBeDefined();
    expect(all.indexOf(copy!)).toBeLessThan(all.indexOf(installs[0]));
  });

  test('its environment is a valid server configuration serving /opt/ml/model on 8080', () => {
    const config = loadConfig(imageEnv(final), 4);
    expect(config).toMatchObject({ port: 8080, modelUri: '/opt/ml/model', executionProvider: provider });
  });
});

test('both images run the same Node 22 base (one digest)', () => {
  const nodeBase = (file: string) => parseDockerfile(file).froms.map((f) => f.split(/\s+/)[0]).filter((f) => f.startsWith('node:'));
  expect(new Set([...nodeBase('Dockerfile'), ...nodeBase('Dockerfile.cpu')]).size).toBe(1);
});

test('the lockfile the images install from matches the server package.json', () => {
  const image = JSON.parse(fs.readFileSync(path.join(SERVER_DIR, 'package.json'), 'utf8'));
  const lock = JSON.parse(fs.readFileSync(path.join(SERVER_DIR, 'package-lock.json'), 'utf8'));
  expect(lock).toMatchObject({ name: image.name, version: image.version, lockfileVersion: 3 });
  expect(lock.packages['']).toMatchObject({ dependencies: image.dependencies, engines: image.engines });
  for (const [name, version] of Object.entries(image.dependencies)) {
    // Dependencies are pinned to exact versions, so the locked one is the declared one.
    expect(lock.packages[`node_modules/${name}`]).toMatchObject({ version, integrity: expect.stringMatching(/^sha512-/) });
  }
  for (const [where, entry] of Object.entries(lock.packages) as [string, { version?: string; integrity?: string }][]) {
    if (where !== '') expect(entry.integrity).toMatch(/^sha512-/);
  }
});

test('the image installs the onnxruntime-node version the tests run', () => {
  const image = JSON.parse(fs.readFileSync(path.join(SERVER_DIR, 'package.json'), 'utf8'));
  const installed = JSON.parse(fs.readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8'));
  expect(Object.keys(image.dependencies)).toEqual(['onnxruntime-node']);
  expect(image.dependencies['onnxruntime-node']).toBe(installed.version);
});

test('the bundles need nothing but Node built-ins and onnxruntime-node (and optional SDK modules never loaded here)', () => {
  const allowed = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`), 'onnxruntime-node', ...OPTIONAL_MODULES]);
  for (const bundle of ['serve.js', 'worker.js']) {
    const required = [...fs.readFileSync(path.join(SERVER_DIR, bundle), 'utf8').matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(required.filter((r) => !allowed.has(r))).toEqual([]);
  }
});

test('the server runs from an image-like folder: the build context plus an installed onnxruntime-node, model in /opt/ml/model style', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'image-'));
  const app = path.join(root, 'opt', 'inference-server');
  const modelDir = path.join(root, 'opt', 'ml', 'model');
  fs.mkdirSync(path.join(app, 'node_modules'), { recursive: true });
  fs.mkdirSync(modelDir, { recursive: true });
  for (const file of ['package.json', 'serve', 'serve.js', 'worker.js']) fs.copyFileSync(path.join(SERVER_DIR, file), path.join(app, file));
  fs.chmodSync(path.join(app, 'serve'), 0o755);
  for (const pkg of ['onnxruntime-node', 'onnxruntime-common']) {
    fs.symlinkSync(path.join(__dirname, '..', '..', 'node_modules', pkg), path.join(app, 'node_modules', pkg));
  }
  fs.copyFileSync(path.join(MODELS_DIR, 'fraud-mlp.onnx'), path.join(modelDir, 'model.onnx'));
  const server = await startServer({ MODEL_URI: modelDir }, { serveDir: app });
  try {
    const answer = await call(`${server.url}/v2/models/model/infer`, { body: { inputs: [oipInput('features', 'FP32', [1, 16], rows(1, 16)[0])] } });
    expect(answer.status).toBe(200);
  } finally {
    expect(await server.stop()).toBe(0);
    fs.rmSync(root, { recursive: true, force: true });
  }
});
