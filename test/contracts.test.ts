/**
 * The lib ↔ runtime contracts stay code, once: the contract modules are pure (so Lambda bundles and the server image
 * stay small, and nothing at runtime needs aws-cdk-lib), every deployable's builder and parser agree, and the names
 * that cross the boundary are written out only inside runtime/contracts/.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as esbuild from 'esbuild';
import { DegradeVariables } from '../runtime/contracts/degrade';
import { DriftVariables } from '../runtime/contracts/drift';
import { GatewayVariables } from '../runtime/contracts/gateway';
import { LabelIngestionVariables } from '../runtime/contracts/label-ingestion';
import { LabelJoinVariables } from '../runtime/contracts/label-join';
import { ServerVariables } from '../runtime/contracts/inference-server';
import { MaterializerVariables } from '../runtime/contracts/materializer';
import { ModelBackendVariables } from '../runtime/contracts/model-backend';
import { SharedVariables } from '../runtime/contracts/shared';
import { RoutingVariables } from '../runtime/contracts/routing';
import { RolloutVariables } from '../runtime/contracts/rollout';

const ROOT = path.join(__dirname, '..');
const CONTRACTS = path.join(ROOT, 'runtime', 'contracts');

/** Names too generic to police by spelling (the process's PORT and HOST are everybody's). */
const GENERIC_NAMES = new Set(['PORT', 'HOST']);

/** Every .ts file under `dir`, recursively. */
function sourcesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourcesUnder(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** The code of a TypeScript file without its comments (block and line comments; strings are kept). */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

describe('contract modules', () => {
  const contracts = sourcesUnder(CONTRACTS);

  test('there is one per deployable', () => {
    const names = contracts.map((f) => path.basename(f, '.ts'));
    expect(names).toEqual(expect.arrayContaining(['environment', 'gateway', 'materializer', 'inference-server', 'model-backend', 'routing', 'degrade', 'drift', 'label-ingestion', 'label-join', 'rollout']));
  });

  test.each(contracts.map((f) => [path.relative(ROOT, f)]))('%s imports no package and no Node builtin (nothing from aws-cdk-lib)', async (file) => {
    const result = await esbuild.build({
      entryPoints: [path.join(ROOT, file)], bundle: true, write: false, metafile: true, platform: 'neutral', packages: 'external', logLevel: 'silent',
    });
    // A type-only import of a relative module is erased, yet listed (as external): only packages and builtins count.
    const external = Object.values(result.metafile.inputs).flatMap((input) => input.imports.filter((i) => i.external && !i.path.startsWith('.')).map((i) => i.path));
    expect(external).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((i) => !i.startsWith('runtime/') && !i.startsWith('lib/features/spec/'))).toEqual([]);
  });
});

describe('names that cross the lib/runtime boundary', () => {
  // Every variable of every contract, the ten names the issue listed among them.
  const NAMES = [...new Set([
    ...Object.values(GatewayVariables), ...Object.values(MaterializerVariables), ...Object.values(ServerVariables),
    ...Object.values(ModelBackendVariables), ...Object.values(RoutingVariables), ...Object.values(SharedVariables),
    ...Object.values(DegradeVariables), ...Object.values(DriftVariables), ...Object.values(LabelIngestionVariables), ...Object.values(LabelJoinVariables),
    ...Object.values(RolloutVariables),
  ])].filter((name) => !GENERIC_NAMES.has(name));
  const files = ['lib', 'runtime', 'bin', 'scripts', 'build', 'examples'].flatMap((dir) => sourcesUnder(path.join(ROOT, dir)))
    .filter((f) => !f.startsWith(CONTRACTS + path.sep));

  test('include the names the issue counted twice', () => {
    expect(NAMES).toEqual(expect.arrayContaining([
      'ENDPOINT_NAME', 'FEATURE_VIEWS', 'GATEWAY_CONFIG', 'MODEL_NAME', 'MODEL_URI', 'MODEL_VARIANT', 'MODEL_VERSION',
      'OFFLINE_BUCKET_NAME', 'ONLINE_TABLE_NAME', 'PREDICTION_LOG_STREAM',
    ]));
  });

  test.each(NAMES.map((n) => [n]))('%s is written out only in runtime/contracts/', (name) => {
    // Quoted, an object key, or read as env.NAME / env['NAME'].
    const spelled = new RegExp(`(['"\`])${name}\\1|\\b${name}\\s*:|\\benv\\.${name}\\b`);
    const offenders = files.filter((f) => spelled.test(withoutComments(fs.readFileSync(f, 'utf8'))));
    expect(offenders.map((f) => path.relative(ROOT, f))).toEqual([]);
  });

  test('the check catches each way of spelling a name', () => {
    const spelled = (code: string) => new RegExp(`(['"\`])MODEL_URI\\1|\\bMODEL_URI\\s*:|\\benv\\.MODEL_URI\\b`).test(withoutComments(code));
    expect(spelled("const a = env['MODEL_URI'];")).toBe(true);
    expect(spelled('const a = { MODEL_URI: x };')).toBe(true);
    expect(spelled('const a = process.env.MODEL_URI;')).toBe(true);
    expect(spelled('const a = ServerVariables.MODEL_URI; // MODEL_URI: the model')).toBe(false);
  });
});
