/** Deterministic uniform numbers in [0, 1) from a 32-bit seed (mulberry32): reproducible test data and model weights. */
// Bound once: tests run this in Jest's vm realm, where a global lookup per call is a slow interceptor call.
const { imul } = Math;

export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
