/**
 * The runtime's public entry points are package.json `exports` subpaths: each maps to a compiled module of a source
 * file that exists (rootDir '.' and outDir 'dist' in tsconfig.json), and the README imports only through them (no
 * deep `dist/...` paths a refactor would break).
 */
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
type Target = { types: string; default: string };
const subpaths = Object.entries(pkg.exports as Record<string, Target | string>).filter((e): e is [string, Target] => typeof e[1] === 'object');

/** The TypeScript source a `./dist/<x>.js` (or `.d.ts`) target is compiled from. */
function sourceOf(target: string): string {
  return path.join(ROOT, target.replace(/^\.\/dist\//, '').replace(/(\.d\.ts|\.js)$/, '.ts'));
}

test.each(subpaths)('export %s resolves to a source module, types beside code', (_subpath, target) => {
  expect(fs.existsSync(sourceOf(target.default))).toBe(true);
  expect(sourceOf(target.types)).toBe(sourceOf(target.default));
});

test('the files the exports point into are published', () => {
  for (const [, target] of subpaths) {
    expect((pkg.files as string[]).some((f) => target.default.startsWith(`./${f}/`))).toBe(true);
  }
});

test('the README imports the package only through its exports', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const imported = [...readme.matchAll(/from '(ml-platform-constructs[^']*)'/g)].map((m) => m[1]);
  expect(imported.length).toBeGreaterThan(0);
  const allowed = Object.keys(pkg.exports).map((s) => s === '.' ? 'ml-platform-constructs' : `ml-platform-constructs/${s.slice(2)}`);
  expect(imported.filter((i) => !allowed.includes(i))).toEqual([]);
});
