/**
 * The data of a safe rollout: the plan an operator declares (shadow exit criteria, canary steps, guardrails), what
 * one evaluation observes, the rollout's state and history, and the decisions `decide` takes (runtime/core/rollout/decide.ts).
 *
 * Every type here is plain JSON-serializable data: a plan travels in a Step Functions input or a model registry
 * event, a state is stored in DynamoDB, an observation is read from CloudWatch. Pure TypeScript: no AWS SDK, no CDK.
 */

/** One canary step: the challenger's share of live traffic and how long it bakes there before it may be promoted. */
export interface RolloutStep {
  /** Percent of live traffic the challenger answers at this step, in (0, 100]; the champion answers the rest. */
  readonly percent: number;
  /**
   * Least time at this step before a promotion, milliseconds; at least `evaluation.intervalMs`.
   * @default 600_000 (10 minutes) in `RolloutDefaults.STEPS`
   */
  readonly bakeMs: number;
}

/** When a shadow phase may end: all of these met at one evaluation starts the first canary step. */
export interface ShadowExitCriteria {
  /**
   * Least requests answered by both models and compared since the shadow phase started.
   * @default 1000
   */
  readonly minComparedRequests?: number;
  /**
   * Largest mean |challenger score − champion score| over the compared requests, in the models' score units.
   * Required: what counts as "the same answer" depends on the model.
   */
  readonly maxDivergence: number;
  /**
   * Largest p99 latency of the challenger's shadow calls, milliseconds.
   * @default `guardrails.maxLatencyP99Ms`
   */
  readonly maxLatencyP99Ms?: number;
  /**
   * Largest share of the challenger's shadow calls that failed, percent in [0, 100]: `failures / requests` of the
   * shadow observation, checked only when it carries both.
   * @default 1
   */
  readonly maxFailurePercent?: number;
  /**
   * Longest the shadow phase may run without meeting the criteria, milliseconds; then the rollout is aborted
   * (champion only, shadow off). At least `evaluation.intervalMs`.
   * @default 86_400_000 (24 hours)
   */
  readonly maxDurationMs?: number;
}

/** The shadow phase: the challenger gets a copy of live traffic; its answers are logged and compared, never returned. */
export interface ShadowPlan {
  /**
   * Percent of live requests copied to the challenger, in (0, 100].
   * @default 100
   */
  readonly percent?: number;
  /** What ends the shadow phase (declared before it starts). */
  readonly exitCriteria: ShadowExitCriteria;
}

/** How often the rollout is evaluated and how many evaluations decide. */
export interface EvaluationPlan {
  /**
   * Time between two evaluations, milliseconds (the controller's schedule; a positive integer up to 2^31−1).
   * @default 60_000 (1 minute)
   */
  readonly intervalMs?: number;
  /**
   * Consecutive healthy evaluations needed (once the step's bake is over) to promote to the next step.
   * @default 2
   */
  readonly healthyEvaluations?: number;
  /**
   * Consecutive evaluations without data after which the rollout rolls back: the Nth in a row rolls back, the ones
   * before hold. Missing data is never a pass.
   * @default 3
   */
  readonly maxMissingEvaluations?: number;
  /**
   * Consecutive unhealthy evaluations after which the rollout rolls back: the Nth in a row rolls back, so one
   * flapping datapoint does not. A guardrail alarm in ALARM is an unhealthy evaluation like any breach (a flapping
   * alarm needs N readings of ALARM in a row); set 1 to roll back on the first breach or alarm.
   * @default 2
   */
  readonly unhealthyEvaluations?: number;  /**
   * Longest any canary step may last without being promoted, milliseconds: an evaluation that would hold past it
   * rolls back instead, so signals that keep alternating (unhealthy, healthy, missing…) cannot hold a step forever.
   * At least the longest bake plus `healthyEvaluations` intervals.
   * @default per step, the larger of `RolloutDefaults.MAX_STEP_BAKES` × its bake and its bake plus
   * (`healthyEvaluations` + `maxMissingEvaluations`) intervals (`stepLimitMs`)
   */
  readonly maxStepMs?: number;
}

/** What every evaluation checks. A breach of any, an alarm in ALARM included, is an unhealthy evaluation. */
export interface RolloutGuardrails {
  /**
   * CloudWatch alarm names: the model's composite guardrail alarm (ModelMonitoring.guardrail) and any business
   * alarm. One in ALARM makes the evaluation unhealthy (`evaluation.unhealthyEvaluations` in a row roll back); one in
   * INSUFFICIENT_DATA (or not observed) makes the evaluation missing data.
   * @default []
   */
  readonly alarms?: readonly string[];
  /**
   * Largest share of the challenger's requests that failed, percent in [0, 100].
   * @default 1
   */
  readonly maxErrorPercent?: number;
  /**
   * Largest share of the challenger's requests answered by a fallback, percent in [0, 100].
   * @default 5
   */
  readonly maxFallbackPercent?: number;
  /** Largest p99 latency of the challenger, milliseconds. Required: the latency budget is the model's. */
  readonly maxLatencyP99Ms: number;
  /**
   * Largest prediction drift of the challenger versus the champion (the drift detector's score); checked only when
   * an observation carries one (the drift detector runs on its own schedule).
   * @default none (not checked)
   */
  readonly maxPredictionDrift?: number;
  /**
   * Least challenger requests in one evaluation; below it the evaluation counts as missing data.
   * @default 100
   */
  readonly minRequests?: number;
}

/** A rollout of a challenger variant against the champion of one model. Check it with `validatePlan`. */
export interface RolloutPlan {
  /** The model's name in the routing table. Required. */
  readonly model: string;
  /** The variant serving all traffic now (answers everything after a rollback). Required. */
  readonly champion: string;
  /** The variant being rolled out (answers everything after completion). Required; differs from `champion`. */
  readonly challenger: string;
  /** A shadow phase before the first canary step. @default none (the rollout starts at the first step) */
  readonly shadow?: ShadowPlan;
  /**
   * The canary steps: percents strictly increasing in (0, 100], the last 100.
   * @default `RolloutDefaults.STEPS`: 5 → 20 → 50 → 100 %, each baking 10 minutes
   */
  readonly steps?: readonly RolloutStep[];
  /** Evaluation cadence and streaks. @default every field's default */
  readonly evaluation?: EvaluationPlan;
  /** What every evaluation checks. Required (`maxLatencyP99Ms` has no default). */
  readonly guardrails: RolloutGuardrails;
}

/** A plan with every default filled in (`resolvePlan`): what `decide` reads. Fields as in `RolloutPlan`. */
export interface ResolvedRolloutPlan {
  /** The model's name in the routing table. */
  readonly model: string;
  /** The variant serving all traffic before the rollout and after a rollback. */
  readonly champion: string;
  /** The variant being rolled out. */
  readonly challenger: string;
  /** The shadow phase, its percent and exit criteria resolved; absent: no shadow phase. */
  readonly shadow?: { readonly percent: number; readonly exitCriteria: Required<ShadowExitCriteria> };
  /** The canary steps. */
  readonly steps: readonly RolloutStep[];
  /** Evaluation cadence, streaks and the step limit (`maxStepMs` absent: each step's default, `stepLimitMs`). */
  readonly evaluation: Required<Omit<EvaluationPlan, 'maxStepMs'>> & { readonly maxStepMs?: number };
  /** What every evaluation checks (`maxPredictionDrift` absent: drift not checked). */
  readonly guardrails: Required<Omit<RolloutGuardrails, 'maxPredictionDrift'>> & { readonly maxPredictionDrift?: number };
}

/** The defaults of a plan's optional fields (see each field's TSDoc for its meaning and unit). */
export const RolloutDefaults = {
  /** `steps`: the background articles' ramp, 5 → 20 → 50 → 100 %, each step baking 10 minutes. */
  STEPS: [
    { percent: 5, bakeMs: 600_000 },
    { percent: 20, bakeMs: 600_000 },
    { percent: 50, bakeMs: 600_000 },
    { percent: 100, bakeMs: 600_000 },
  ] as readonly RolloutStep[],
  /** `evaluation.intervalMs`, milliseconds. */
  INTERVAL_MS: 60_000,
  /** `evaluation.healthyEvaluations`. */
  HEALTHY_EVALUATIONS: 2,
  /** `evaluation.maxMissingEvaluations`. */
  MAX_MISSING_EVALUATIONS: 3,
  /** `evaluation.unhealthyEvaluations`. */
  UNHEALTHY_EVALUATIONS: 2,
  /** `evaluation.maxStepMs` by default: this many times the step's bake (or more, see `stepLimitMs`). */
  MAX_STEP_BAKES: 3,
  /** `guardrails.maxErrorPercent`, percent. */
  MAX_ERROR_PERCENT: 1,
  /** `guardrails.maxFallbackPercent`, percent. */
  MAX_FALLBACK_PERCENT: 5,
  /** `guardrails.minRequests`, requests per evaluation. */
  MIN_REQUESTS: 100,
  /** `shadow.percent`, percent of requests copied. */
  SHADOW_PERCENT: 100,
  /** `shadow.exitCriteria.minComparedRequests`. */
  SHADOW_MIN_COMPARED_REQUESTS: 1000,
  /** `shadow.exitCriteria.maxFailurePercent`, percent. */
  SHADOW_MAX_FAILURE_PERCENT: 1,
  /** `shadow.exitCriteria.maxDurationMs`, milliseconds (24 hours). */
  SHADOW_MAX_DURATION_MS: 86_400_000,
} as const;

/** Bounds on a plan and a state, so that a state stays small (one DynamoDB item) and a plan stays legible. */
export const RolloutLimits = {
  /** Most canary steps. */
  STEPS: 20,
  /** Most guardrail alarms (one DescribeAlarms call reads up to 100 names). */
  ALARMS: 100,
  /** Longest alarm name, characters (CloudWatch's limit). */
  ALARM_NAME_CHARS: 255,
  /** Most consecutive evaluations any streak setting may ask for. */
  STREAK: 1000,
  /** Most entries kept in a state's history: older ones are dropped, oldest first. */
  HISTORY_ENTRIES: 100,
  /** Longest rollout id, characters. */
  ID_CHARS: 128,
} as const;

/** One variant's traffic in one evaluation window (absent from an observation: no data). */
export interface VariantObservation {
  /** Requests the variant answered or failed in the window. */
  readonly requests: number;
  /** Of those, requests that failed (ModelCallFailures). */
  readonly errors: number;
  /** Of those, requests answered by a fallback instead of the variant (FallbackAnswers). */
  readonly fallbacks: number;
  /** p99 latency of the variant's calls in the window, milliseconds; absent: no data. */
  readonly latencyP99Ms?: number;
}

/** The shadow comparison since the shadow phase started (`RolloutState.phaseStartedMs`), cumulative. */
export interface ShadowObservation {
  /** Requests answered by both the champion and the shadowed challenger and compared. */
  readonly compared: number;
  /** Mean |challenger score − champion score| over the compared requests; absent: no data. */
  readonly divergence?: number;
  /** p99 latency of the challenger's shadow calls, milliseconds; absent: no data. */
  readonly latencyP99Ms?: number;
  /** Shadow calls made to the challenger (ShadowRequests); absent: the failure share is not checked. */
  readonly requests?: number;
  /** Of those, shadow calls that failed (ShadowFailures); absent: the failure share is not checked. */
  readonly failures?: number;
}

/** State of a CloudWatch alarm, as DescribeAlarms reports it. */
export type AlarmStateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

/** What one evaluation saw. Any field absent means no data for it, which is never a pass. */
export interface Observation {
  /** When the observation was made (the evaluation's clock), epoch milliseconds. */
  readonly atMs: number;
  /** State of each guardrail alarm by name; a plan alarm missing here is missing data. */
  readonly alarms: Readonly<Record<string, AlarmStateValue>>;
  /** The challenger's live traffic in the evaluation window (canary phase). */
  readonly challenger?: VariantObservation;
  /** The champion's live traffic in the evaluation window (for comparison in reasons). */
  readonly champion?: VariantObservation;
  /** The shadow comparison (shadow phase). */
  readonly shadow?: ShadowObservation;
  /** Prediction drift of the challenger versus the champion, the drift detector's score; absent: not checked. */
  readonly predictionDrift?: number;
}

/** Where a rollout is. `promoted`, `rolled-back` and `aborted` are final (`isFinished`). */
export type RolloutPhase = 'shadow' | 'canary' | 'promoted' | 'rolled-back' | 'aborted';

/** What a decision does. */
export type RolloutAction = 'hold' | 'start-shadow' | 'start-canary' | 'promote' | 'complete' | 'rollback';

/** One entry of a rollout's history: who did what, when, and why. */
export interface RolloutEvent {
  /** When, epoch milliseconds. */
  readonly atMs: number;
  /** What was done (never `hold`: holds are not recorded). */
  readonly action: RolloutAction;
  /** Why, in words. */
  readonly reason: string;
  /** Weights by variant after the action, when it changed routing. */
  readonly weights?: Readonly<Record<string, number>>;
  /** Who: the operator that started or rolled back, or `ROLLOUT_CONTROLLER` for the controller's own decisions. */
  readonly by: string;
}

/** The `by` of decisions the controller takes on its own. */
export const ROLLOUT_CONTROLLER = 'rollout-controller';

/** A rollout's state: everything `decide` needs besides the plan and the observation. */
export interface RolloutState {
  /** The rollout's id (unique per rollout). */
  readonly id: string;
  /** The model being rolled out. */
  readonly model: string;
  /** Where the rollout is. */
  readonly phase: RolloutPhase;
  /** Index into the plan's steps of the current (or, when finished, last) canary step; 0 in the shadow phase. */
  readonly stepIndex: number;
  /** When the current phase or step started, epoch milliseconds (the bake and the shadow duration count from it). */
  readonly phaseStartedMs: number;
  /** Consecutive healthy evaluations in the current phase or step. */
  readonly healthyStreak: number;
  /** Consecutive unhealthy evaluations (evaluations without data in between neither break nor extend it). */
  readonly unhealthyStreak: number;
  /** Consecutive evaluations without data. */
  readonly missingStreak: number;
  /** Who started the rollout. */
  readonly startedBy: string;
  /** Every non-hold decision, oldest first, at most `RolloutLimits.HISTORY_ENTRIES`. */
  readonly history: readonly RolloutEvent[];
}

/** The routing a decision asks for. */
export interface RoutingDecision {
  /** Percent of live traffic by variant (the champion's and the challenger's), summing to 100. */
  readonly weights: Readonly<Record<string, number>>;
  /** The variant that gets a copy of live traffic and the percent copied, or null for no shadow. */
  readonly shadow: { readonly variant: string; readonly percent: number } | null;
}

/** What `decide`, `startRollout` and `rollbackNow` return. */
export interface Decision {
  readonly action: RolloutAction;
  /** The next state (the same object when nothing changed). */
  readonly state: RolloutState;
  /** The routing to apply, present only when routing must change. */
  readonly routing?: RoutingDecision;
  /** Why, in words (also the routing change's reason). */
  readonly reason: string;
}
