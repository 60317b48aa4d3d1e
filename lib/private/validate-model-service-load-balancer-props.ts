/**
 * Validation of a `ModelServiceLoadBalancer`'s props: every problem at once, each naming the prop and the fix.
 * Internal: not exported from lib/index.ts.
 */
import { Duration } from 'aws-cdk-lib';
import { NUMERIC_SETTINGS } from '../../runtime/contracts/inference-server';
import { DEFAULT_PRE_STOP_DELAY_SECONDS } from '../kubernetes/pod-termination';
import { concreteSeconds, rangeProblems, wholeSecondsProblems } from './validation';
import type { ModelServiceLoadBalancerProps } from '../kubernetes/model-service-load-balancer';

/** Defaults of a `ModelServiceLoadBalancer`'s props (as their TSDoc states them). */
export const MODEL_SERVICE_LOAD_BALANCER_DEFAULTS = {
  /** The inference server's default `PORT`. */
  port: NUMERIC_SETTINGS.port.default!,
  interval: Duration.seconds(10),
  timeout: Duration.seconds(5),
  healthyThresholdCount: 2,
  unhealthyThresholdCount: 2,
  /**
   * At most what a pod keeps serving once deregistered: the chart's default preStopDelay (10 s) + the server's
   * default drainGrace.
   */
  deregistrationDelay: Duration.seconds(DEFAULT_PRE_STOP_DELAY_SECONDS + NUMERIC_SETTINGS.drainGraceMs.default! / 1000),
  accessLogRetention: Duration.days(90),
};

/** Elastic Load Balancing's ranges for a Network Load Balancer target group's HTTP health check. */
const HEALTH_CHECK = {
  interval: { min: Duration.seconds(5), max: Duration.seconds(300), why: "a Network Load Balancer's range" },
  timeout: { min: Duration.seconds(2), max: Duration.seconds(120), why: "a Network Load Balancer's range" },
  threshold: { min: 2, max: 10, integer: true },
};
/** Elastic Load Balancing's range for a target group's deregistration delay. */
const DEREGISTRATION_DELAY = { min: Duration.seconds(0), max: Duration.seconds(3600), why: "Elastic Load Balancing's range" };

/** TCP ports. */
const PORT = { min: 1, max: 65535, integer: true };

/** Every problem of `props`. */
export function validateModelServiceLoadBalancerProps(props: ModelServiceLoadBalancerProps): string[] {
  const problems: string[] = [];
  if (!props.vpc) problems.push("vpc: required: the cluster's VPC, where the pods' IP addresses are the targets");
  for (const name of ['port', 'targetPort', 'serverPort'] as const) problems.push(...rangeProblems(name, props[name], PORT));
  const check = props.healthCheck ?? {};
  problems.push(
    ...wholeSecondsProblems('healthCheck.interval', check.interval, HEALTH_CHECK.interval),
    ...wholeSecondsProblems('healthCheck.timeout', check.timeout, HEALTH_CHECK.timeout),
    ...rangeProblems('healthCheck.healthyThresholdCount', check.healthyThresholdCount, HEALTH_CHECK.threshold),
    ...rangeProblems('healthCheck.unhealthyThresholdCount', check.unhealthyThresholdCount, HEALTH_CHECK.threshold),
    ...wholeSecondsProblems('deregistrationDelay', props.deregistrationDelay, DEREGISTRATION_DELAY),
  );
  const interval = concreteSeconds(check.interval ?? MODEL_SERVICE_LOAD_BALANCER_DEFAULTS.interval);
  const timeout = concreteSeconds(check.timeout ?? MODEL_SERVICE_LOAD_BALANCER_DEFAULTS.timeout);
  if (interval !== undefined && timeout !== undefined && timeout >= interval) {
    problems.push(`healthCheck.timeout: ${timeout} seconds must be below healthCheck.interval (${interval} seconds); shorten the timeout or lengthen the interval`);
  }
  return problems;
}
