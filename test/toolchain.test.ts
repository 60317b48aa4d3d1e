/** The runtime we ship (Lambda NODEJS_22_X, the server images) is the runtime we test on. */
import * as fs from 'fs';
import * as path from 'path';

describe('toolchain', () => {
  it('runs the tests on Node 22 or later, the version Lambda and the images run', () => {
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(22);
  });

  it('declares Node 22 in engines and pins it as a devDependency so npm scripts use it', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    expect(pkg.engines.node).toBe('>=22');
    expect(pkg.devDependencies.node).toMatch(/^22\./);
  });
});
