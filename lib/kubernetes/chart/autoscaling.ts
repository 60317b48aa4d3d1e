import { Duration } from 'aws-cdk-lib';
import { InferenceServerPrometheusMetrics } from '../../../runtime/core/metrics';

/**
 * The server's Prometheus gauge of queued requests (one series per priority level; runtime/inference-server/
 * server-metrics.ts). The pods metric the autoscalers read sums it over the levels.
 */
export const QUEUE_DEPTH_METRIC = InferenceServerPrometheusMetrics.QUEUE_DEPTH;

/** Options common to both autoscalers. */
export interface QueueDepthScalingOptions {
  /**
   * Fewest pods.
   * @default 1
   */
  readonly minReplicas?: number;
  /**
   * Most pods.
   * @default 4
   */
  readonly maxReplicas?: number;
  /**
   * Queued requests per pod the autoscaler aims at (average over the pods).
   * @default 4
   */
  readonly targetQueueDepth?: number;
  /**
   * How long the desired replica count must stay lower before pods are removed (scale-down stabilization window):
   * GPU pods start slowly, so do not give them back on a short lull.
   * @default Duration.minutes(5)
   */
  readonly scaleDownStabilization?: Duration;
}

/** Options of KEDA autoscaling. */
export interface KedaScalingOptions extends QueueDepthScalingOptions {
  /** The Prometheus server KEDA queries, e.g. `http://prometheus-server.monitoring.svc:80`. */
  readonly prometheusServerAddress: string;
}

/** How the chart's Deployment scales on the server's queue depth. */
export class ChartAutoscaling {
  /**
   * An autoscaling/v2 HorizontalPodAutoscaler on the pods metric `inference_queue_depth`, which prometheus-adapter
   * must serve (install it with `GpuInferenceChart.prometheusAdapterRule` among its rules).
   */
  public static horizontalPodAutoscaler(options: QueueDepthScalingOptions = {}): ChartAutoscaling {
    return new ChartAutoscaling('hpa', options, undefined);
  }

  /**
   * A KEDA `ScaledObject` (keda.sh/v1alpha1) with a Prometheus trigger summing `inference_queue_depth` over the
   * Deployment's pods; KEDA creates and owns the HPA (the chart renders none). Needs KEDA installed in the cluster.
   */
  public static keda(options: KedaScalingOptions): ChartAutoscaling {
    return new ChartAutoscaling('keda', options, options.prometheusServerAddress);
  }

  /**
   * No autoscaler: the Deployment keeps `replicas` pods. Only then does the chart render `spec.replicas`; with an
   * autoscaler it leaves it out, so that applying the chart again does not reset scaled-out pods to the minimum.
   */
  public static fixedReplicas(replicas: number): ChartAutoscaling {
    return new ChartAutoscaling('fixed', { minReplicas: replicas, maxReplicas: replicas }, undefined);
  }

  private constructor(
    /** Which autoscaler renders (`fixed`: none). */
    public readonly kind: 'hpa' | 'keda' | 'fixed',
    /** Replica bounds, target and stabilization. */
    public readonly options: QueueDepthScalingOptions,
    /** KEDA's Prometheus server address. */
    public readonly prometheusServerAddress: string | undefined,
  ) {}
}

/** A prometheus-adapter custom-metrics rule (the `rules.custom[]` entry of its Helm values). */
export interface PrometheusAdapterRule {
  readonly seriesQuery: string;
  readonly resources: { readonly overrides: Record<string, { readonly resource: string }> };
  readonly name: { readonly matches: string; readonly as: string };
  readonly metricsQuery: string;
}

/**
 * The prometheus-adapter rule that serves `inference_queue_depth` as a pods metric: the series of every pod (labels
 * `namespace` and `pod`, as Prometheus' Kubernetes pod discovery relabels them), summed over the priority levels.
 */
export const PROMETHEUS_ADAPTER_RULE: PrometheusAdapterRule = {
  seriesQuery: `${QUEUE_DEPTH_METRIC}{namespace!="",pod!=""}`,
  resources: { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } },
  name: { matches: `^${QUEUE_DEPTH_METRIC}$`, as: QUEUE_DEPTH_METRIC },
  metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)',
};

/**
 * Names of the pods of Deployment `deployment`, as a Prometheus (RE2, fully anchored) regular expression:
 * `<deployment>-<ReplicaSet pod-template hash>-<5-character suffix>`. Exactly that Deployment's pods: a prefix match
 * (`<deployment>-.*`) would also count the pods of `<deployment>-small`.
 */
export function deploymentPodPattern(deployment: string): string {
  return `${deployment}-[a-z0-9]+-[a-z0-9]{5}`;
}

/** KEDA's Prometheus query: queued requests over the pods of `deployment` in `namespace`. */
export function kedaQueueDepthQuery(namespace: string, deployment: string): string {
  return `sum(${QUEUE_DEPTH_METRIC}{namespace="${namespace}",pod=~"${deploymentPodPattern(deployment)}"})`;
}
