/**
 * Priority vocabulary shared by the gateway (tiers) and the inference server (levels): `critical` > `standard` >
 * `batch`, shed from the lowest up. Level 1 is the highest.
 */
export const PRIORITY_TIERS = ['critical', 'standard', 'batch'] as const;

/** A priority tier name. */
export type PriorityTierName = (typeof PRIORITY_TIERS)[number];

/** Server priority level (1 = highest) of a tier. */
export function levelOfTier(tier: PriorityTierName): number {
  return PRIORITY_TIERS.indexOf(tier) + 1;
}

/** Tier of a server priority level, or undefined when out of range. */
export function tierOfLevel(level: number): PriorityTierName | undefined {
  return PRIORITY_TIERS[level - 1];
}
