/**
 * Watching for the spot interruption notice through the instance metadata service (IMDSv2): a session token from
 * `PUT /latest/api/token`, then `GET /latest/meta-data/spot/instance-action`, which answers 404 until EC2 schedules
 * the instance's interruption and then `{"action":"terminate"|"stop"|"hibernate","time":"<ISO 8601>"}`, two minutes
 * before it happens.
 *
 * How the end arrives depends on where the training runs. On plain EC2 the notice comes two minutes before the
 * instance stops; nothing else warns the process. On AWS Batch (ECS) the notice is readable too (the container
 * reaches IMDS unless the hop limit forbids it), and when the container is stopped (the instance is reclaimed) it gets
 * SIGTERM, then SIGKILL after the ECS agent's stop timeout: ECS_CONTAINER_STOP_TIMEOUT, an agent setting in
 * /etc/ecs/ecs.config (30 s by default), not a field of the Batch job definition. `runWithCheckpoints`
 * (./checkpoint-runner.ts) checkpoints on both, and after a notice waits for the reclaim instead of exiting.
 */

/** The variable the AWS SDK reads for the metadata endpoint; the watcher honours it the same way. */
export const METADATA_ENDPOINT_VARIABLE = 'AWS_EC2_METADATA_SERVICE_ENDPOINT';

/** The metadata endpoint of EC2 instances (IPv4). */
export const DEFAULT_METADATA_ENDPOINT = 'http://169.254.169.254';

/** Lifetime asked for each IMDSv2 token, seconds (6 hours, the most IMDS grants). */
const TOKEN_TTL_S = 21_600;

/** An interruption EC2 scheduled. */
export interface SpotInterruptionNotice {
  /** `terminate`, `stop` or `hibernate`. */
  readonly action: string;
  /** When it happens. */
  readonly time: Date;
}

/** Properties of a `SpotInterruptionWatcher`. */
export interface SpotInterruptionWatcherProps {
  /** Metadata endpoint. @default - the AWS_EC2_METADATA_SERVICE_ENDPOINT variable, else DEFAULT_METADATA_ENDPOINT */
  readonly endpoint?: string;
  /** Milliseconds between polls. @default 5000 */
  readonly intervalMs?: number;
  /** Deadline of each metadata request, milliseconds. @default 1000 */
  readonly requestTimeoutMs?: number;
  /** Where log lines (JSON) go. @default - stdout */
  readonly log?: (line: string) => void;
}

/**
 * Polls the instance metadata service for a spot interruption notice and calls its listener once when one appears.
 * A metadata service that does not answer (not on EC2, hop limit) is logged once and polled again; the timers do not
 * keep the process alive.
 */
export class SpotInterruptionWatcher {
  private readonly endpoint: string;
  private readonly intervalMs: number;
  private readonly requestTimeoutMs: number;
  private readonly write: (line: string) => void;
  private token?: { value: string; expires: number };
  private timer?: NodeJS.Timeout;
  private running = false;
  private failing = false;

  constructor(props: SpotInterruptionWatcherProps = {}) {
    this.endpoint = (props.endpoint ?? process.env[METADATA_ENDPOINT_VARIABLE] ?? DEFAULT_METADATA_ENDPOINT).replace(/\/+$/, '');
    this.intervalMs = props.intervalMs ?? 5000;
    this.requestTimeoutMs = props.requestTimeoutMs ?? 1000;
    this.write = props.log ?? ((line) => process.stdout.write(`${line}\n`));
    if (!(this.intervalMs >= 1 && this.intervalMs <= 2 ** 31 - 1)) throw new Error(`SpotInterruptionWatcher: intervalMs ${props.intervalMs} must be between 1 and 2147483647`);
    if (!(Number.isInteger(this.requestTimeoutMs) && this.requestTimeoutMs >= 1)) throw new Error(`SpotInterruptionWatcher: requestTimeoutMs ${props.requestTimeoutMs} must be a whole number >= 1`);
  }

  /** Starts polling (the first poll at once); `listener` is called once, with the first notice seen. */
  public start(listener: (notice: SpotInterruptionNotice) => void): void {
    if (this.running) throw new Error('SpotInterruptionWatcher already started');
    this.running = true;
    const poll = async () => {
      const notice = await this.check();
      if (!this.running) return;
      if (notice) {
        this.stop();
        this.write(JSON.stringify({ level: 'WARN', message: 'spot interruption notice', action: notice.action, time: notice.time.toISOString() }));
        listener(notice);
        return;
      }
      this.timer = setTimeout(poll, this.intervalMs);
      this.timer.unref();
    };
    void poll();
  }

  /** Stops polling. */
  public stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  /** One poll: the notice, or undefined when there is none or the metadata service did not answer. */
  public async check(): Promise<SpotInterruptionNotice | undefined> {
    try {
      let response = await this.getInstanceAction();
      if (response.status === 401) { // token expired or revoked
        this.token = undefined;
        response = await this.getInstanceAction();
      }
      this.failing = false;
      if (response.status === 404) return undefined;
      if (response.status !== 200) throw new Error(`instance-action answered ${response.status}`);
      return parseNotice(await response.text());
    } catch (error) {
      if (!this.failing) {
        this.write(JSON.stringify({ level: 'WARN', message: 'instance metadata unreachable: no spot notice can be seen until it answers', endpoint: this.endpoint, reason: (error as Error).message }));
      }
      this.failing = true;
      return undefined;
    }
  }

  private async getInstanceAction(): Promise<Response> {
    return fetch(`${this.endpoint}/latest/meta-data/spot/instance-action`, {
      headers: { 'X-aws-ec2-metadata-token': await this.sessionToken() }, signal: AbortSignal.timeout(this.requestTimeoutMs),
    });
  }

  private async sessionToken(): Promise<string> {
    if (this.token && this.token.expires > Date.now()) return this.token.value;
    const response = await fetch(`${this.endpoint}/latest/api/token`, {
      method: 'PUT', headers: { 'X-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_S) }, signal: AbortSignal.timeout(this.requestTimeoutMs),
    });
    if (response.status !== 200) throw new Error(`token request answered ${response.status}`);
    // Renewed a minute before IMDS lets it expire.
    this.token = { value: await response.text(), expires: Date.now() + (TOKEN_TTL_S - 60) * 1000 };
    return this.token.value;
  }
}

/** The notice in an instance-action body; throws naming what is wrong. */
export function parseNotice(body: string): SpotInterruptionNotice {
  if (body.length > 4096) throw new Error('instance-action body over 4096 characters');
  const parsed = JSON.parse(body) as { action?: unknown; time?: unknown } | null;
  const time = typeof parsed?.time === 'string' ? new Date(parsed.time) : undefined;
  if (typeof parsed?.action !== 'string' || !time || Number.isNaN(time.getTime())) {
    throw new Error('instance-action body lacks a string action and an ISO 8601 time');
  }
  return { action: parsed.action, time };
}
