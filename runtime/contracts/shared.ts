/** Environment variables more than one deployable reads, named once for all of them. Pure: no imports. */
export const SharedVariables = {
  /** DynamoDB online table of the feature store (the materializer writes it, the gateway reads it). */
  ONLINE_TABLE_NAME: 'ONLINE_TABLE_NAME',
  /** CloudWatch namespace of a deployable's EMF metrics. */
  METRICS_NAMESPACE: 'METRICS_NAMESPACE',
  /** `true` for path-style S3 URLs (local stand-ins such as s3rver, S3-compatible stores). */
  S3_FORCE_PATH_STYLE: 'S3_FORCE_PATH_STYLE',
} as const;
