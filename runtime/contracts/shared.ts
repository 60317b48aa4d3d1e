/** Environment variables more than one deployable reads, named once for all of them. Pure: no imports. */
export const SharedVariables = {
  /** DynamoDB online table of the feature store (the materializer writes it, the gateway reads it). */
  ONLINE_TABLE_NAME: 'ONLINE_TABLE_NAME',
  /** CloudWatch namespace of a deployable's EMF metrics. */
  METRICS_NAMESPACE: 'METRICS_NAMESPACE',
} as const;
