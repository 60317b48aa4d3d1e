/**
 * The data-contract gate for the reference platform's feature views, as a team runs it in CI:
 *
 *   npm run contracts           checks the views against examples/feature-contracts.lock.json; exits 1 listing every
 *                               breaking change (removed, renamed or retyped features without a version bump, removed views)
 *   npm run contracts -- --update   records the current views as the new contract (commit the file with the change)
 */
import * as fs from 'fs';
import * as path from 'path';
import { fraudFeatureViews } from '../examples/fraud-features';
import { FeatureContract, FeatureViewSpec } from '../lib';

export const CONTRACTS_LOCK = path.join(__dirname, '..', 'examples', 'feature-contracts.lock.json');

function main(): number {
  const current = fraudFeatureViews;
  if (process.argv.includes('--update')) {
    fs.writeFileSync(CONTRACTS_LOCK, `${JSON.stringify(current.map((v) => v.toSpec()), null, 2)}\n`);
    console.log(`recorded ${current.length} feature view contract(s) in ${path.relative(process.cwd(), CONTRACTS_LOCK)}`);
    return 0;
  }
  const recorded = JSON.parse(fs.readFileSync(CONTRACTS_LOCK, 'utf8')) as FeatureViewSpec[];
  const check = FeatureContract.check(recorded, current);
  for (const change of check.changes) console.log(`  changed: ${change}`);
  if (!check.compatible) {
    console.error(`feature contracts broken (bump the view's version, or record the change on purpose with --update):\n  - ${check.breakingChanges.join('\n  - ')}`);
    return 1;
  }
  console.log(`feature contracts hold for ${current.length} view(s)${check.changes.length > 0 ? '; run with --update to record the changes' : ''}`);
  return 0;
}

if (require.main === module) process.exit(main());
