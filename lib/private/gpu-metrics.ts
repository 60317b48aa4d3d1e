/**
 * SageMaker reports an instance's GPU utilisation (and GPU memory) as the SUM over its GPUs (0–100 × GPUs): what a
 * threshold in percent of one GPU must divide. Internal: not exported from lib/index.ts.
 */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

/** A per-instance sum over `gpus` GPUs as percent of one GPU (`id`: the sum's metric-math id, unique where it is used). */
export function perGpu(metric: cloudwatch.Metric, gpus: number, id: string, label: string): cloudwatch.IMetric {
  return gpus > 1
    ? new cloudwatch.MathExpression({ expression: `${id} / ${gpus}`, usingMetrics: { [id]: metric }, period: metric.period, label })
    : metric.with({ label });
}
