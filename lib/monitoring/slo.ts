import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';

/**
 * Service level objectives with multi-window, multi-burn-rate alarms (Google SRE workbook, "Alerting on SLOs"),
 * computed with CloudWatch metric math. The math is in pure functions (expression text, burn-rate factor, error budget)
 * so a unit test evaluates exactly the text CloudWatch runs.
 */

/** The period an SLO's error budget is counted over. */
export const SLO_PERIOD = Duration.days(30);

/** A pair of windows that must both burn the budget faster than `burnRate` for its composite alarm to fire. */
export interface BurnRateWindows {
  /** Name used in construct ids: 'Fast' or 'Slow'. */
  readonly name: string;
  /** The long window: the budget spent is significant. */
  readonly long: Duration;
  /** The short window (1/12 of the long): the burn is still going on, so the alarm resets soon after it stops. */
  readonly short: Duration;
  /** Burn rate both windows must reach: budget spent in `long` × SLO period ÷ `long`. */
  readonly burnRate: number;
}

/**
 * The workbook's page and ticket: fast burn (2 % of a 30-day budget in 1 hour: 14.4×, with a 5-minute short window)
 * pages; slow burn (5 % in 6 hours: 6×, with a 30-minute short window) opens a ticket.
 */
export const FAST_BURN: BurnRateWindows = { name: 'Fast', long: Duration.hours(1), short: Duration.minutes(5), burnRate: burnRateFactor(0.02, Duration.hours(1)) };
/** See `FAST_BURN`. */
export const SLOW_BURN: BurnRateWindows = { name: 'Slow', long: Duration.hours(6), short: Duration.minutes(30), burnRate: burnRateFactor(0.05, Duration.hours(6)) };

/**
 * The burn rate at which `budgetShare` of the error budget is spent in `window`: budgetShare × period ÷ window
 * (0.02 in 1 hour of 30 days: 14.4; 0.05 in 6 hours: 6). Rounded to 6 decimals (the exact factors, not 14.400000000000002).
 */
export function burnRateFactor(budgetShare: number, window: Duration, period: Duration = SLO_PERIOD): number {
  return round(budgetShare * period.toSeconds() / window.toSeconds());
}

/** The share of the error budget an error ratio spends per unit of time: errorRatio ÷ (1 − objective), the burn rate. */
export function burnRate(errorRatio: number, objective: number): number {
  return errorRatio * budgetMultiplier(objective);
}

/**
 * 1 ÷ (1 − objective), rounded to 6 decimals: 1000 for 99.9 %, 100 for 99 %. The expressions multiply by it rather
 * than divide by (1 − objective), whose binary value (0.0010000000000000009) would put 1.44 % errors a hair under 14.4.
 */
export function budgetMultiplier(objective: number): number {
  return round(1 / (1 - objective));
}

/** An indicator as metric-math text over named metrics: the count of bad events and of all events, per period. */
export interface SliExpressions {
  /** Bad events, e.g. `FILL(fallbacks, 0) + FILL(shed, 0)`. Every name must be a key of the metrics. */
  readonly bad: string;
  /** All events (good and bad), e.g. `FILL(predictions, 0) + FILL(fallbacks, 0) + FILL(shed, 0)`. */
  readonly total: string;
}

/**
 * Metric-math text of the burn rate over one period: bad × 1/(1 − objective) ÷ total, and 0 when there were no events
 * (no traffic spends no budget).
 */
export function burnRateExpression(sli: SliExpressions, objective: number): string {
  // Multiply the (whole) count first: 288 * 100 / 2000 is exactly 14.4, 288 / 2000 * 100 is 14.399999999999999.
  // Operands of the comparison in parentheses: the result never rests on how CloudWatch ranks `>` against `+`.
  return `IF((${sli.total}) > 0, (${sli.bad}) * ${budgetMultiplier(objective)} / (${sli.total}), 0)`;
}

/** Metric-math text of `part` as a percentage of `whole`, and 0 when `whole` is 0 (no requests, no errors). */
export function percentExpression(part: string, whole: string): string {
  return `IF((${whole}) > 0, 100 * (${part}) / (${whole}), 0)`;
}

/** Metric-math text of the error budget left, in percent, when the period is the SLO's (30 days): 100 × (1 − burn rate). */
export function budgetRemainingExpression(sli: SliExpressions, objective: number): string {
  return `100 * (1 - ${burnRateExpression(sli, objective)})`;
}

/** Properties of a `ServiceLevelObjective`. */
export interface ServiceLevelObjectiveProps {
  /** What the SLO is about, e.g. 'availability of fraud' (alarm descriptions, widget titles). */
  readonly title: string;
  /** The share of events that must be good over 30 days, in (0, 1), e.g. 0.999. */
  readonly objective: number;
  /** The indicator's bad and total counts as metric-math text. */
  readonly sli: SliExpressions;
  /** The metrics the text names, by name (counts: statistics whose value per period adds up, e.g. Sum). */
  readonly metrics: Record<string, cloudwatch.IMetric>;
  /** Notified when the fast burn (1 h and 5 min at 14.4×) fires: a page. */
  readonly fastBurnAction: cloudwatch.IAlarmAction;
  /** Notified when the slow burn (6 h and 30 min at 6×) fires: a ticket. */
  readonly slowBurnAction: cloudwatch.IAlarmAction;
}

/**
 * An SLO with multi-window burn-rate alarms: per window pair, one metric-math alarm per window (period = the window,
 * burn rate ≥ the pair's factor) and a composite alarm firing when both are in ALARM, notifying its action on ALARM and
 * OK. The window alarms notify nobody themselves: either window alone is not worth a person's attention (the long one
 * stays in ALARM for an hour after a burn stopped, the short one fires on blips); they are heard through their composite.
 */
export class ServiceLevelObjective extends Construct {
  /** 1 h and 5 min burning at 14.4×: page. */
  public readonly fastBurnAlarm: cloudwatch.CompositeAlarm;
  /** 6 h and 30 min burning at 6×: ticket. */
  public readonly slowBurnAlarm: cloudwatch.CompositeAlarm;
  /** The four window alarms the composites join (no actions of their own). */
  public readonly windowAlarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, private readonly props: ServiceLevelObjectiveProps) {
    super(scope, id);
    this.fastBurnAlarm = this.burnAlarm(FAST_BURN, props.fastBurnAction);
    this.slowBurnAlarm = this.burnAlarm(SLOW_BURN, props.slowBurnAction);
  }

  /** The burn rate over periods of `window` (the expression the window alarms read). */
  public burnRate(window: Duration): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: burnRateExpression(this.props.sli, this.props.objective),
      usingMetrics: this.props.metrics,
      period: window,
      label: `Burn rate over ${window.toHumanString()}`,
    });
  }

  /** The error budget left over the last 30 days, percent (one value per 30-day period: show it over a 30-day range). */
  public budgetRemaining(): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: budgetRemainingExpression(this.props.sli, this.props.objective),
      usingMetrics: this.props.metrics,
      period: SLO_PERIOD,
      label: `Error budget left (${this.props.title}, ${percent(this.props.objective)} over 30 days)`,
    });
  }

  private burnAlarm(windows: BurnRateWindows, action: cloudwatch.IAlarmAction): cloudwatch.CompositeAlarm {
    const [long, short] = [windows.long, windows.short].map((window) => {
      const alarm = new cloudwatch.Alarm(this, `${windows.name}Burn${window.toMinutes()}m`, {
        metric: this.burnRate(window),
        threshold: windows.burnRate,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        // No events in the window is no budget spent; the expression already yields 0 then, so a gap is not breaching.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${this.props.title}: error budget burning at ${windows.burnRate}x or faster over ${window.toHumanString()} (SLO ${percent(this.props.objective)})`,
      });
      this.windowAlarms.push(alarm);
      return alarm;
    });
    const composite = new cloudwatch.CompositeAlarm(this, `${windows.name}BurnAlarm`, {
      alarmRule: cloudwatch.AlarmRule.allOf(long, short),
      alarmDescription: `${this.props.title}: error budget burning at ${windows.burnRate}x over ${windows.long.toHumanString()} and ${windows.short.toHumanString()} `
        + `(SLO ${percent(this.props.objective)}: at this rate ${round(100 * windows.burnRate * windows.long.toSeconds() / SLO_PERIOD.toSeconds())} % of the 30-day budget is gone in ${windows.long.toHumanString()})`,
    });
    composite.addAlarmAction(action);
    composite.addOkAction(action);
    return composite;
  }
}

/** An objective as a percentage, e.g. '99.9 %'. */
function percent(objective: number): string {
  return `${round(objective * 100)} %`;
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
