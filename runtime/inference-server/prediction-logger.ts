/**
 * Prediction logging for drift detection: a sample of successful predictions (inputs, outputs, model, version,
 * request id, timestamp) written as the platform's shared JSON-lines record (`runtime/core/prediction-log.ts`) to a
 * sink chosen by URI. Sinks buffer and deliver in the background; a full buffer drops (and counts) records.
 */
import * as fs from 'fs';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { KinesisPredictionLogSink, S3PredictionLogSink } from '../aws/prediction-log-sinks';
import { BufferedPredictionLogSink, BufferedSinkOptions } from '../core/buffered-sink';
import { PREDICTION_LOG_SCHEMA } from '../core/prediction-log';
import { tierOfLevel } from '../core/tiers';
import type { Logger } from './log';
import { encodeTensorData, Tensor } from './tensors';
import { ServerVariables } from '../contracts/inference-server';

/** Deadlines of sink deliveries: a stuck delivery fails (and is counted) instead of holding the buffer. */
const SINK_TIMEOUTS = { connectionTimeout: 2000, requestTimeout: 10000 };

/** How a sink is created. */
export interface SinkSettings {
  /** `stdout`, `file:///path.jsonl`, `kinesis://stream-name` or `s3://bucket/prefix/`. */
  readonly uri: string;
  /** Most records buffered. */
  readonly bufferRecords: number;
  /** Longest a record waits before delivery, milliseconds. @default 1000, S3: 60000 */
  readonly flushMs?: number;
  /** Path-style S3 URLs. @default false */
  readonly s3ForcePathStyle?: boolean;
  readonly logger: Logger;
}

/** Creates the sink a URI names (AWS clients take the SDK's environment: region, credentials, endpoints). */
export function createPredictionLogSink(settings: SinkSettings): BufferedPredictionLogSink {
  const { uri } = settings;
  const options: BufferedSinkOptions = {
    maxBufferedRecords: settings.bufferRecords,
    flushIntervalMs: settings.flushMs,
    onError: (error, records) => settings.logger.log('error', 'prediction log delivery failed', { sink: uri, records, error: error.message }),
  };
  if (uri === 'stdout') {
    return new BufferedPredictionLogSink((lines) => new Promise((resolve, reject) => {
      process.stdout.write(lines.join(''), (error) => (error ? reject(error) : resolve()));
    }), options);
  }
  if (uri.startsWith('file://')) {
    const file = new URL(uri).pathname;
    return new BufferedPredictionLogSink((lines) => fs.promises.appendFile(file, lines.join('')), options);
  }
  if (uri.startsWith('kinesis://')) {
    // HTTP/1.1: PutRecords needs no HTTP/2, and local stand-ins (kinesalite) refuse it.
    const client = new KinesisClient({ requestHandler: new NodeHttpHandler(SINK_TIMEOUTS) });
    return new KinesisPredictionLogSink({ ...options, client, streamName: uri.slice('kinesis://'.length) });
  }
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new Error(`${ServerVariables.PREDICTION_LOG_SINK}=${uri}: expected stdout, file:///path, kinesis://stream or s3://bucket/prefix`);
  const prefix = match[2] === '' || match[2].endsWith('/') ? match[2] : `${match[2]}/`;
  return new S3PredictionLogSink({
    ...options,
    flushIntervalMs: settings.flushMs ?? 60000,
    client: new S3Client({ forcePathStyle: settings.s3ForcePathStyle, requestHandler: new NodeHttpHandler(SINK_TIMEOUTS) }),
    bucket: match[1],
    prefix,
  });
}

/** Identity of the served model in log records. */
export interface LoggedModel {
  readonly name: string;
  readonly version: string;
  readonly variant: string;
}

/** One prediction to consider for logging. */
export interface Prediction {
  readonly requestId: string;
  readonly priority: number;
  readonly inputNames: readonly string[];
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly (Tensor & { readonly name: string })[];
  readonly latencyMs: number;
}

/** A tensor as nested arrays following its shape (one element per row for a batch). */
function nested(tensor: Tensor): unknown {
  const flat = encodeTensorData(tensor.type, tensor.data);
  let offset = 0;
  const build = (axis: number): unknown => {
    if (axis === tensor.dims.length) return flat[offset++];
    return Array.from({ length: tensor.dims[axis] }, () => build(axis + 1));
  };
  return build(0);
}

/** Samples predictions into a sink. */
export class PredictionLogger {
  constructor(private readonly sink: BufferedPredictionLogSink, private readonly sampleRate: number, private readonly model: LoggedModel) {}

  /** Record counts by result (`delivered`, `dropped`, `failed`). */
  get stats(): Record<string, number> {
    return { ...this.sink.stats };
  }

  /** Logs the prediction if it falls in the sample; never waits. */
  offer(prediction: Prediction): void {
    if (this.sampleRate < 1 && Math.random() >= this.sampleRate) return;
    const inputs: Record<string, unknown> = {};
    prediction.inputs.forEach((t, i) => {
      inputs[prediction.inputNames[i]] = nested(t);
    });
    const outputs: Record<string, unknown> = {};
    for (const t of prediction.outputs) outputs[t.name] = nested(t);
    this.sink.write({
      schema: PREDICTION_LOG_SCHEMA,
      ts: new Date().toISOString(),
      requestId: prediction.requestId,
      model: this.model.name,
      modelVersion: this.model.version,
      variant: this.model.variant,
      inputs,
      outputs,
      latencyMs: Math.round(prediction.latencyMs * 1000) / 1000,
      fallback: false,
      tier: tierOfLevel(prediction.priority),
    });
  }

  /** Delivers what is buffered. */
  close(): Promise<void> {
    return this.sink.close();
  }
}
