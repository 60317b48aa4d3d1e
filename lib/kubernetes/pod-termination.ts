/**
 * How a chart pod leaves service, shared by the chart (its preStop hook) and the CDK-side ModelServiceLoadBalancer
 * (its deregistration delay). Plain data: loads neither CDK nor cdk8s.
 */

/**
 * Default preStop sleep, seconds: a terminating pod keeps serving this long while its endpoint and load balancer
 * target are removed, then gets SIGTERM (and drains for the server's drainGrace).
 */
export const DEFAULT_PRE_STOP_DELAY_SECONDS = 10;
