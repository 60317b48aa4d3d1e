/**
 * Validation of the cost guard's props, `PlatformTags` values and the cost-per-prediction alarm: every problem at
 * once, each naming the prop and the fix. Internal: not exported from lib/index.ts.
 */
import { Duration, Token } from 'aws-cdk-lib';
import { concreteSeconds, maxAlarmWindowSeconds, rangeProblems } from './validation';
import type { BudgetNotification, CostGuardProps, CostPerPredictionAlarmProps, CostPerPredictionProps } from '../monitoring/cost-guard';
import type { PlatformTagsProps } from '../monitoring/platform-tags';

/** Default period of the cost-per-1,000-predictions metric: an hour smooths periods of a handful of requests. */
export const DEFAULT_COST_PERIOD = Duration.hours(1);
/** AWS's limit on a tag value. */
const MAX_TAG_VALUE_LENGTH = 256;
/** Characters AWS accepts in tag keys and values (https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html). */
const TAG_CHARACTERS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
/** AWS Budgets: notifications per budget. */
const MAX_NOTIFICATIONS = 5;
/** AWS Budgets: email subscribers per notification (besides one SNS topic). */
const MAX_EMAIL_SUBSCRIBERS = 10;
/** Budgets refuses longer addresses. */
const MAX_EMAIL_LENGTH = 50;
/** The longest period of the cost metric: a day (a longer one would hide a day's spike). */
const ONE_DAY_SECONDS = 86_400;

/** Problems of a tag value given as `prop`: empty, too long, or with characters AWS refuses. */
export function tagValueProblems(prop: string, value: string | undefined): string[] {
  if (value === undefined || Token.isUnresolved(value)) return [];
  if (typeof value !== 'string' || value.length === 0) return [`${prop}: a tag value is required (a non-empty string)`];
  if (value.length > MAX_TAG_VALUE_LENGTH) return [`${prop}: ${value.length} characters; AWS allows at most ${MAX_TAG_VALUE_LENGTH} in a tag value`];
  if (value.trim() !== value) return [`${prop}: '${value}' has leading or trailing spaces; AWS budgets and reports match tag values exactly: remove them`];
  return TAG_CHARACTERS.test(value) ? [] : [`${prop}: '${value}' may hold only letters, digits, spaces and _ . : / = + - @ (AWS tag values)`];
}

/** Problems of the `model` tag value of `PlatformTags.model(construct, model)`. */
export function modelTagProblems(prop: string, model: string): string[] {
  return model === undefined ? [`${prop}: a model name is required`] : tagValueProblems(prop, model);
}

/** Every problem of `PlatformTags` props. */
export function platformTagsProblems(props: PlatformTagsProps): string[] {
  const required = (['platform', 'team', 'environment'] as const)
    .filter((prop) => props[prop] === undefined)
    .map((prop) => `${prop}: required (the value of the '${prop}' tag)`);
  return [
    ...required,
    ...tagValueProblems('platform', props.platform),
    ...tagValueProblems('team', props.team),
    ...tagValueProblems('environment', props.environment),
    ...tagValueProblems('model', props.model),
  ];
}

/** Every problem of a `CostGuard`'s props (`hasDefaultTagFilter`: a `PlatformTags` gives the default filter). */
export function costGuardProblems(props: CostGuardProps, hasDefaultTagFilter: boolean): string[] {
  const problems: string[] = [];
  const limit = props.monthlyLimit;
  if (limit === undefined) problems.push('monthlyLimit: required (USD per month, e.g. 5000)');
  else if (!Token.isUnresolved(limit) && !(Number.isFinite(limit) && limit > 0)) {
    problems.push(`monthlyLimit: ${limit} must be a number of USD above 0, e.g. 5000`);
  }
  const filter = props.tagFilter;
  if (filter) {
    if (!filter.key) problems.push('tagFilter.key: required (a cost allocation tag key, e.g. \'platform\')');
    else problems.push(...tagValueProblems('tagFilter.key', filter.key));
    if (!filter.values?.length) problems.push('tagFilter.values: at least one tag value is required');
    (filter.values ?? []).forEach((value, i) => problems.push(...tagValueProblems(`tagFilter.values[${i}]`, value)));
  } else if (!hasDefaultTagFilter) {
    problems.push('tagFilter: none given and no PlatformTags applied to this scope or above: call PlatformTags.apply(app, {...}) or pass tagFilter: { key, values }');
  }
  problems.push(...notificationProblems(props.notifications));
  const emails = props.emailSubscribers ?? [];
  if (emails.length > MAX_EMAIL_SUBSCRIBERS) {
    problems.push(`emailSubscribers: ${emails.length} addresses; AWS Budgets allows ${MAX_EMAIL_SUBSCRIBERS} per notification: subscribe the rest to the topic`);
  }
  emails.forEach((email, i) => {
    if (Token.isUnresolved(email)) return;
    const at = typeof email === 'string' ? email.indexOf('@') : -1;
    if (at <= 0 || at !== email.lastIndexOf('@') || at === email.length - 1 || email.length > MAX_EMAIL_LENGTH || /\s/.test(email)) {
      problems.push(`emailSubscribers[${i}]: '${String(email).slice(0, 60)}' is not an email address of at most ${MAX_EMAIL_LENGTH} characters (name@example.com)`);
    }
  });
  return problems;
}

/** Problems of the budget's notifications: count, thresholds, duplicates. */
function notificationProblems(notifications: readonly BudgetNotification[] | undefined): string[] {
  if (notifications === undefined) return [];
  const problems: string[] = [];
  if (notifications.length === 0) problems.push('notifications: at least one is required (omit the prop for the defaults: 50/80/95 % actual, 100 % forecasted)');
  if (notifications.length > MAX_NOTIFICATIONS) {
    problems.push(`notifications: ${notifications.length} notifications; AWS Budgets allows ${MAX_NOTIFICATIONS} per budget`);
  }
  const seen = new Set<string>();
  notifications.forEach((n, i) => {
    const threshold = n.thresholdPercent;
    if (!Token.isUnresolved(threshold) && !(Number.isFinite(threshold) && threshold > 0)) {
      problems.push(`notifications[${i}].thresholdPercent: ${threshold} must be a percentage of the limit above 0, e.g. 80`);
    }
    const key = `${n.type} ${threshold}`;
    if (seen.has(key)) problems.push(`notifications[${i}]: a second ${n.type} notification at ${threshold} %: remove one`);
    seen.add(key);
  });
  return problems;
}

/** Problems of the cost-per-1,000-predictions metric's props. */
export function costPerPredictionProblems(props: CostPerPredictionProps): string[] {
  const problems: string[] = [];
  const price = props.pricePerInstanceHour;
  if (price === undefined) problems.push('pricePerInstanceHour: required (USD per instance-hour of the variant\'s instance type, from your price list)');
  else if (Token.isUnresolved(price)) problems.push('pricePerInstanceHour: must be a concrete number (it is written into the metric math expression)');
  else if (!(Number.isFinite(price) && price > 0)) problems.push(`pricePerInstanceHour: ${price} must be USD per instance-hour above 0, e.g. 1.41`);
  const seconds = concreteSeconds(props.period);
  if (seconds !== undefined && (!Number.isInteger(seconds / 60) || seconds < 60 || seconds > ONE_DAY_SECONDS)) {
    problems.push(`period: ${props.period!.toHumanString()} must be whole minutes from 1 minute to 1 day`);
  }
  return problems;
}

/** Problems of the cost-per-1,000-predictions alarm's props (the metric's and the alarm's own). */
export function costPerPredictionAlarmProblems(props: CostPerPredictionAlarmProps): string[] {
  const problems = costPerPredictionProblems(props);
  const threshold = props.threshold;
  if (threshold === undefined) problems.push('threshold: required (USD per 1,000 predictions above which to warn)');
  else if (!Token.isUnresolved(threshold) && !(Number.isFinite(threshold) && threshold > 0)) {
    problems.push(`threshold: ${threshold} must be USD per 1,000 predictions above 0`);
  }
  const evaluationPeriods = props.evaluationPeriods;
  problems.push(...rangeProblems('evaluationPeriods', evaluationPeriods, { min: 1, integer: true }));
  const seconds = concreteSeconds(props.period ?? DEFAULT_COST_PERIOD);
  if (seconds !== undefined && evaluationPeriods !== undefined && Number.isInteger(evaluationPeriods)
    && seconds * evaluationPeriods > maxAlarmWindowSeconds(seconds)) {
    problems.push(`evaluationPeriods: ${evaluationPeriods} periods of ${(props.period ?? DEFAULT_COST_PERIOD).toHumanString()} exceed ${maxAlarmWindowSeconds(seconds) / 86_400} day(s), the longest window CloudWatch evaluates at that period: use fewer or shorter periods`);
  }
  return problems;
}
