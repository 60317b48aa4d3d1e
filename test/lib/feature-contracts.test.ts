import * as fs from 'fs';
import { Duration } from 'aws-cdk-lib';
import { customer, customerTxnStats, fraudFeatureViews } from '../../examples/fraud-features';
import { Feature, FeatureContract, FeatureView, FeatureViewSpec } from '../../lib';
import { CONTRACTS_LOCK } from '../../scripts/feature-contracts';

const recorded = JSON.parse(fs.readFileSync(CONTRACTS_LOCK, 'utf8')) as FeatureViewSpec[];

/** customer_txn_stats with other features and version. */
function txnStats(version: number, features: Feature[]): FeatureView {
  return new FeatureView({ name: 'customer_txn_stats', version, entities: [customer], ttl: Duration.days(1), features });
}
const kept = customerTxnStats.toSpec().features.map((f) => Feature.fromSpec(f));

describe('feature contracts (the CI gate)', () => {
  test("the reference platform's views honour the committed contracts", () => {
    const check = FeatureContract.check(recorded, fraudFeatureViews);
    expect(check.breakingChanges).toEqual([]);
    expect(check.compatible).toBe(true);
  });

  test('a retyped or removed feature without a version bump is refused, with every breaking change', () => {
    const retyped = txnStats(1, [Feature.float64('txn_count_1h'), ...kept.slice(1, 3)]);
    const check = FeatureContract.check(recorded, [retyped, fraudFeatureViews[1]]);
    expect(check.compatible).toBe(false);
    expect(check.breakingChanges).toEqual([
      "view 'customer_txn_stats' v1 → v1: feature 'txn_count_1h' retyped from int64 to float64",
      "view 'customer_txn_stats' v1 → v1: feature 'is_new_device' removed (or renamed)",
      "view 'customer_txn_stats' v1 → v1: feature 'spend_embedding' removed (or renamed)",
    ]);
  });

  test('added features and views pass and are reported; a bump accepts breaking changes; a removed view is refused', () => {
    const added = FeatureContract.check(recorded, [txnStats(1, [...kept, Feature.float64('txn_amount_max_24h')]), ...fraudFeatureViews.slice(1),
      new FeatureView({ name: 'device_stats', entities: [customer], ttl: Duration.days(1), features: [Feature.int64('devices_7d')] })]);
    expect(added).toEqual({
      compatible: true, breakingChanges: [],
      changes: ["view 'customer_txn_stats' v1 → v1: feature 'txn_amount_max_24h' added", "view 'device_stats' v1 added"],
    });
    const bumped = FeatureContract.check(recorded, [txnStats(2, [Feature.float64('txn_count_1h')]), fraudFeatureViews[1]]);
    expect(bumped.compatible).toBe(true);
    expect(bumped.changes[0]).toMatch(/v1 → v2: new version \(5 breaking change\(s\) accepted by the bump\)/);
    const removed = FeatureContract.check(recorded, [customerTxnStats]);
    expect(removed).toMatchObject({ compatible: false, breakingChanges: ["view 'merchant_risk' v1 removed; models and training jobs may still read it"] });
  });
});
