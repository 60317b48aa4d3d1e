/**
 * A/B and canary assignment by a consistent hash of a stable id (a user id — never a request id, or one user would
 * see both variants). The same id always lands on the same variant for the same weights, and shifting weight from
 * one variant to the next only moves the ids in the shifted slice.
 */

/** A variant and its traffic weight (any non-negative scale; weights are normalized). */
export interface WeightedVariant {
  readonly name: string;
  readonly weight: number;
}

/** 32-bit FNV-1a followed by a murmur3 finalizer, so that similar ids spread uniformly. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Position of an id in [0, 1), salted so that independent experiments are not correlated. */
export function bucketOf(stableId: string, salt = ''): number {
  return hash32(`${salt}:${stableId}`) / 0x1_0000_0000;
}

/** Picks the variant of a stable id. Throws when there is no variant with positive weight. */
export function assignVariant(stableId: string, variants: readonly WeightedVariant[], salt = ''): string {
  const total = variants.reduce((sum, v) => sum + Math.max(0, v.weight), 0);
  if (!(total > 0)) throw new Error('assignVariant: at least one variant needs a positive weight');
  let point = bucketOf(stableId, salt) * total;
  for (const v of variants) {
    point -= Math.max(0, v.weight);
    if (point < 0) return v.name;
  }
  return variants.filter((v) => v.weight > 0).at(-1)!.name;
}
