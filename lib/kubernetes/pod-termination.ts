/**
 * How a chart pod leaves service, shared by the chart (its preStop hook) and the CDK-side ModelServiceLoadBalancer
 * (its deregistration delay). Plain data: loads neither CDK nor cdk8s.
 */

/**
 * Default preStop sleep, seconds: a terminating pod keeps serving this long while its endpoint and load balancer
 * target are removed, then gets SIGTERM (and drains for the server's drainGrace).
 */
export const DEFAULT_PRE_STOP_DELAY_SECONDS = 10;

/**
 * Namespace label (`key: value`) that makes the AWS Load Balancer Controller inject pod readiness gates into the pods
 * it registers through a TargetGroupBinding: a new pod counts as ready only once its load balancer target is healthy,
 * so a rolling update never removes old pods before the new targets serve. Without it a rollout can leave the target
 * group with no healthy target (an outage). The chart's namespace must carry it (`GpuInferenceChart`'s
 * `createNamespace` renders it; a CDK-owned namespace must add it).
 */
export const POD_READINESS_GATE_LABEL = { key: 'elbv2.k8s.aws/pod-readiness-gate-inject', value: 'enabled' } as const;
