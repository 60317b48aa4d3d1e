/**
 * Experiment assignment with layered salts: each surface (a page, a ranking slot, an email) is a layer whose users
 * are split into non-overlapping ranges, one per experiment, by a hash of the user id salted with the surface; within
 * the experiment a second hash, salted with the experiment id, picks the arm. So a user is in at most one experiment
 * per surface, always the same one and the same arm, and the arm is independent of the position in the layer and of
 * every other surface's assignment (Tang, Agarwal, O'Brien & Meyer, "Overlapping Experiment Infrastructure", KDD 2010).
 * Hashing is runtime/core/variant-assignment.ts's (FNV-1a with a murmur3 finalizer). Pure TypeScript.
 */
import { assignVariant, bucketOf, WeightedVariant } from '../variant-assignment';

/** An experiment running on one surface. */
export interface ExperimentLayout {
  /** Unique id; it salts the arm choice, so renaming it reshuffles the arms. */
  readonly id: string;
  /** The surface (layer) the experiment runs on. */
  readonly surface: string;
  /**
   * Share of the surface's users in the experiment, 0–100. The experiments of a surface take consecutive ranges of the
   * surface's hash space in the order given, so keep that order stable (append new experiments; to end one, set its
   * share to 0 rather than removing it, or the ranges after it move).
   */
  readonly trafficPercent: number;
  /** The arms and their weights (normalized; e.g. control 50 / treatment 50). */
  readonly arms: readonly WeightedVariant[];
}

/** Inputs of `assignExperiment`. */
export interface AssignmentInput {
  /** A stable user id (never a request id, or one user would see several arms). */
  readonly userId: string;
  /** The surface being served. */
  readonly surface: string;
  /** Every experiment (of any surface; those of other surfaces are ignored). */
  readonly experiments: readonly ExperimentLayout[];
}

/** The experiment and arm of a user on a surface. */
export interface Assignment {
  readonly experimentId: string;
  readonly arm: string;
}

/** Salt of a surface's layer. */
function surfaceSalt(surface: string): string {
  return `surface/${surface}`;
}

/** Salt of an experiment's arm split. */
function experimentSalt(id: string): string {
  return `experiment/${id}`;
}

/** Every problem of the experiments of one surface, each naming the fix. */
function layoutProblems(surface: string, experiments: readonly ExperimentLayout[]): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  let total = 0;
  for (const e of experiments) {
    if (ids.has(e.id)) problems.push(`experiment id '${e.id}' appears twice on surface '${surface}'; give each experiment a unique id`);
    ids.add(e.id);
    if (!(Number.isFinite(e.trafficPercent) && e.trafficPercent >= 0 && e.trafficPercent <= 100)) {
      problems.push(`experiment '${e.id}': trafficPercent must be between 0 and 100 (got ${e.trafficPercent})`);
    } else {
      total += e.trafficPercent;
    }
    if (e.arms.length === 0 || !e.arms.some((a) => a.weight > 0)) problems.push(`experiment '${e.id}': needs at least one arm with a positive weight`);
  }
  if (total > 100) problems.push(`the experiments of surface '${surface}' take ${total} % of its traffic; lower their trafficPercent to sum to at most 100`);
  return problems;
}

/**
 * The experiment (at most one) and arm of a user on a surface, or undefined when the user falls in no experiment's
 * range. hash(surfaceSalt + userId) ∈ [0, 1) picks the experiment whose range holds it; hash(experimentSalt + userId)
 * picks the arm by weight. Throws naming every problem of the surface's layout (duplicate ids, shares outside 0–100 or
 * summing above 100, no arm with weight) and for an empty user id.
 */
export function assignExperiment(input: AssignmentInput): Assignment | undefined {
  if (input.userId.length === 0) throw new Error('assignExperiment: userId is empty; pass a stable user id');
  const onSurface = input.experiments.filter((e) => e.surface === input.surface);
  const problems = layoutProblems(input.surface, onSurface);
  if (problems.length > 0) throw new Error(`assignExperiment: ${problems.join('; ')}`);
  const point = bucketOf(input.userId, surfaceSalt(input.surface)) * 100;
  let end = 0;
  for (const e of onSurface) {
    end += e.trafficPercent;
    if (point < end) return { experimentId: e.id, arm: assignVariant(input.userId, e.arms, experimentSalt(e.id)) };
  }
  return undefined;
}
