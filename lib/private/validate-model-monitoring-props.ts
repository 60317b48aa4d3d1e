/**
 * Validation of `ModelMonitoring` props: every problem, each naming the prop and the fix, thrown once by the construct
 * (`throwIfProblems`). Internal: not exported from lib/index.ts.
 */
import { Duration, Token } from 'aws-cdk-lib';
import { MODEL_NAME_PATTERN } from '../../runtime/contracts/model-backend';
import type { ModelMonitoringProps } from '../monitoring/model-monitoring';
import { MonitoringThresholds, ResolvedThresholds, thresholdValue } from '../monitoring/monitoring-thresholds';
import { FAST_BURN } from '../monitoring/slo';
import { concreteSeconds, maxAlarmWindowSeconds, rangeProblems } from './validation';

/** Every problem of a monitoring's props, with the thresholds they resolve to. */
export function validateModelMonitoringProps(props: ModelMonitoringProps, thresholds: { warning: ResolvedThresholds; critical: ResolvedThresholds }): string[] {
  const problems: string[] = [];
  if (!props.endpoint && !props.gateway && !props.store && !props.ingestion && !props.routing && !props.drift && !props.quality) {
    problems.push('nothing to monitor: pass at least one of endpoint, gateway, store (with views), ingestion, routing, drift or quality');
  }
  const modelName = props.modelName ?? props.gateway?.modelName ?? props.endpoint?.modelName;
  for (const prop of ['drift', 'quality'] as const) {
    const checked = props[prop]?.modelName;
    if (checked !== undefined && modelName !== undefined && !Token.isUnresolved(checked) && !Token.isUnresolved(modelName) && checked !== modelName) {
      problems.push(`${prop}: checks model '${checked}', but this monitoring is of '${modelName}'; pass the ${prop === 'drift' ? 'DriftDetector' : 'ModelQualityMonitor'} of '${modelName}'`);
    }
  }
  problems.push(...rangeProblems('maxTopPredictionSharePercent', props.maxTopPredictionSharePercent, { min: 0, max: 100 }));
  problems.push(...rangeProblems('minLabelCoveragePercent', props.minLabelCoveragePercent, { min: 0, max: 100 }));
  if (props.maxTopPredictionSharePercent !== undefined && !props.drift) problems.push('maxTopPredictionSharePercent: the top predictions are counted by a drift check; pass drift');
  if (props.minLabelCoveragePercent !== undefined && !props.quality) problems.push('minLabelCoveragePercent: the coverage is measured by the label join; pass quality');
  if (!props.endpoint && !props.gateway && props.modelName === undefined && !props.drift && !props.quality) {
    problems.push('modelName: required without an endpoint or a gateway (it names the alarms and the dashboard)');
  }
  if (props.modelName !== undefined && !Token.isUnresolved(props.modelName) && !MODEL_NAME_PATTERN.test(props.modelName)) {
    problems.push(`modelName: '${props.modelName.slice(0, 64)}' must match ${MODEL_NAME_PATTERN}`);
  }
  if (props.views?.length && !props.store && !props.ingestion) {
    problems.push('views: pass the store (or the ingestion) that holds them');
  }
  for (const [i, view] of (props.views ?? []).entries()) {
    const notInStore = (props.store ?? props.ingestion?.store)?.membershipProblem(view);
    if (notInStore) problems.push(`views[${i}]: ${notInStore}`);
  }
  for (const prop of ['availabilityObjective', 'latencyObjective', 'featureAvailabilityObjective'] as const) {
    problems.push(...objectiveProblems(prop, props[prop]));
  }
  problems.push(...rangeProblems('idleGpuPercent', props.idleGpuPercent, { min: 0, max: 100 }));
  problems.push(...rangeProblems('memoryGrowthPercentPerHour', props.memoryGrowthPercentPerHour, { min: 0 }));
  const idleHours = concreteSeconds(props.idleGpuDuration);
  const maxIdleHours = maxAlarmWindowSeconds(3600) / 3600;
  if (idleHours !== undefined && (idleHours % 3600 !== 0 || idleHours < 3600 || idleHours > maxIdleHours * 3600)) {
    problems.push(`idleGpuDuration: ${props.idleGpuDuration!.toHumanString()} must be whole hours from 1 to ${maxIdleHours} (one alarm period per hour; CloudWatch evaluates at most 7 days)`);
  }
  const latencyMs = props.latencyThreshold?.isUnresolved() ? undefined : props.latencyThreshold?.toMilliseconds({ integral: false });
  if (latencyMs !== undefined && !(latencyMs > 0)) problems.push('latencyThreshold: must be more than 0 ms');
  if (props.latencyThreshold && !props.gateway) problems.push('latencyThreshold: the latency SLO reads the gateway\'s latency; pass the gateway');
  for (const [name, gpus] of Object.entries(props.gpusPerInstance ?? {})) {
    problems.push(...rangeProblems(`gpusPerInstance.${name}`, gpus, { min: 0, integer: true }));
    if (props.endpoint && !props.endpoint.variantNames.includes(name)) {
      problems.push(`gpusPerInstance.${name}: the endpoint has no such variant (variants: ${props.endpoint.variantNames.join(', ')})`);
    }
  }
  problems.push(...severityProblems(thresholds));
  return problems;
}

/** An objective must lie in (0, 1); one the fast burn rate cannot reach (errors would have to exceed 100 %) is refused too. */
function objectiveProblems(prop: string, objective: number | undefined): string[] {
  if (objective === undefined || Token.isUnresolved(objective)) return [];
  if (!(objective > 0 && objective < 1)) return [`${prop}: ${objective} must be a fraction between 0 and 1, exclusive (e.g. 0.999 for 99.9 %)`];
  const lowest = 1 - 1 / FAST_BURN.burnRate;
  return objective < lowest
    ? [`${prop}: ${objective} is too low for burn-rate alerting: a ${FAST_BURN.burnRate}x burn would need more than 100 % errors; use at least ${Math.ceil(lowest * 1000) / 1000}`]
    : [];
}

/** Each threshold must be a positive number, and a warning must fire before (at or below) its critical. */
function severityProblems(thresholds: { warning: ResolvedThresholds; critical: ResolvedThresholds }): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(thresholds.critical) as Array<keyof MonitoringThresholds>) {
    const [warning, critical] = [thresholds.warning[key], thresholds.critical[key]].map((v) => thresholdValue(v as number | Duration));
    for (const [severity, value] of [['warning', warning], ['critical', critical]] as const) {
      if (!(value > 0) || !Number.isFinite(value)) problems.push(`thresholds.${severity}.${key}: ${value} must be a positive number`);
    }
    if (warning > critical) {
      problems.push(`thresholds.warning.${key}: ${warning} is above thresholds.critical.${key} (${critical}); a warning must fire before the page: lower the warning or raise the critical`);
    }
  }
  return problems;
}
