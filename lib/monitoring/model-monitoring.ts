import { Annotations, Duration, Lazy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import {
  DriftMetrics, FeatureServingMetrics, GatewayMetrics, InferenceServerMetrics, MaterializerMetrics, MetricDimensions, METRICS_NAMESPACE,
} from '../../runtime/core/metrics';
import { IFeatureIngestion } from '../features/feature-ingestion';
import { IFeatureStore } from '../features/feature-store-base';
import { FeatureView } from '../features/feature-view';
import { alarmActionOf, notifyOnStateChanges } from '../private/alarm-actions';
import { validateModelMonitoringProps } from '../private/validate-model-monitoring-props';
import { maxAlarmWindowSeconds, throwIfProblems } from '../private/validation';
import { IInferenceGateway } from '../serving/inference-gateway';
import { IModelEndpoint } from '../serving/model-endpoint-base';
import { AlarmTopic } from './alarm-topic';
import { IDriftDetector } from './drift-detector';
import { IModelQualityMonitor } from './model-quality-monitor';
import { graph, MonitoringDashboard, WIDGET_HEIGHT } from './monitoring-dashboard';
import { ResolvedThresholds, resolveThresholds, SeverityThresholds } from './monitoring-thresholds';
import { percentExpression, ServiceLevelObjective, SLO_PERIOD, SliExpressions } from './slo';
import { perGpu } from '../private/gpu-metrics';

/** Anything that owns alarms `ModelMonitoring` gathers into its guardrail, e.g. a `ModelRouting`. */
export interface AlarmSource {
  /** Its alarms (read when the template is synthesized, so alarms added after the monitoring are gathered too). */
  readonly alarms: cloudwatch.IAlarm[];
}

/** Properties of a `ModelMonitoring`. Give what exists: alarms are made only for what is given. */
export interface ModelMonitoringProps {
  /**
   * Model name: construct descriptions, the dashboard's title.
   * @default - the gateway's model name, else the endpoint's (required without either)
   */
  readonly modelName?: string;
  /**
   * The SageMaker endpoint serving the model: latency, 4xx/5xx, server queue and deadlines, GPU and memory per variant.
   * @default - none
   */
  readonly endpoint?: IModelEndpoint;
  /**
   * GPUs per instance of each variant, by variant name: `GPUUtilization` and `GPUMemoryUtilization` are sums over an
   * instance's GPUs, divided by this to read percent of one GPU. Needed for an imported endpoint whose attributes
   * leave out `variantInstanceTypes`; 0 marks a CPU variant.
   * @default - from the endpoint's `variantInstanceTypes`; a variant with neither gets no GPU alarms (and a warning)
   */
  readonly gpusPerInstance?: Record<string, number>;
  /**
   * The inference gateway in front of the model: fallback and shed rates, the availability and latency SLOs, and
   * feature availability per view.
   * @default - none
   */
  readonly gateway?: IInferenceGateway;
  /**
   * The feature store the model reads: freshness and silent-producer alarms per view.
   * @default - the ingestion's store
   */
  readonly store?: IFeatureStore;
  /**
   * The views the model reads (each in the store): freshness and silent-producer alarms, and, with a gateway, the
   * feature availability SLOs (pass the gateway's `features`: `IInferenceGateway` does not list the views it reads, and
   * an SLO on a view the gateway never reads never gets data).
   * @default - freshness alarms: the ingestion's views, else the store's; feature availability SLOs: none
   */
  readonly views?: FeatureView[];
  /**
   * The ingestion feeding the store: its alarms (iterator age, dead letters, errors, failed batches) are gathered
   * into the guardrail, not duplicated.
   * @default - none
   */
  readonly ingestion?: IFeatureIngestion;
  /**
   * The routing table (`ModelRouting`): its alarms are gathered into the guardrail.
   * @default - none
   */
  readonly routing?: AlarmSource;
  /**
   * The model's drift checks: alarms on the share of features that drifted (by severity), on prediction drift and on
   * data-quality issues (warnings), and on a collapse of the top predictions above `maxTopPredictionSharePercent`.
   * @default - no drift alarms
   */
  readonly drift?: IDriftDetector;
  /**
   * The model's quality from ground truth: alarms on the drop against the baseline (by severity) and on label
   * coverage below `minLabelCoveragePercent`.
   * @default - no model-quality alarms
   */
  readonly quality?: IModelQualityMonitor;
  /**
   * Warn when one top prediction takes more than this share of a drift check's predictions, percent
   * (`DriftDetector.metricTopPredictionShare`): a model collapsing onto one answer, e.g. a recommender in a feedback
   * loop. For a score, top predictions are the baseline's deciles (10 % each when nothing changed); for classes or
   * items the normal share depends on the model, so there is no default.
   * @default - no collapse alarm
   */
  readonly maxTopPredictionSharePercent?: number;
  /**
   * Warn when the share of predictions a label reached falls below this, percent (`ModelQualityMonitor.metricCoverage`:
   * the lookback's predictions with a label by now): labels stopped arriving, so quality is blind.
   * @default - no coverage alarm
   */
  readonly minLabelCoveragePercent?: number;
  /**
   * Notified of the warning alarms' ALARM and OK transitions (a ticket).
   * @default - a new `AlarmTopic` (`warningTopic`)
   */
  readonly warningAction?: cloudwatch.IAlarmAction;
  /**
   * Notified of the critical alarms' and the guardrail's ALARM and OK transitions (a page).
   * @default - a new `AlarmTopic` (`criticalTopic`)
   */
  readonly criticalAction?: cloudwatch.IAlarmAction;
  /**
   * Thresholds by severity, each prop over its default (see `MonitoringThresholds`).
   * @default - `defaultThresholds(gateway deadline)`
   */
  readonly thresholds?: SeverityThresholds;
  /**
   * Availability SLO: share of the gateway's requests answered by the model (not a fallback, a shed, an overload
   * refusal or an internal error) over 30 days.
   * @default 0.999
   */
  readonly availabilityObjective?: number;
  /**
   * Latency SLO: share of the gateway's requests answered within `latencyThreshold` over 30 days.
   * @default 0.99
   */
  readonly latencyObjective?: number;
  /**
   * Latency a request must meet to count as good for the latency SLO.
   * @default - the gateway's deadline
   */
  readonly latencyThreshold?: Duration;
  /**
   * Feature availability SLO, per view of `views`: share of the feature values the gateway served `PRESENT` over 30 days.
   * @default 0.99
   */
  readonly featureAvailabilityObjective?: number;
  /**
   * Idle GPU: utilisation (percent of one GPU, hourly average) under which a variant's GPUs count as idle.
   * @default 10
   */
  readonly idleGpuPercent?: number;
  /**
   * Idle GPU: how long (whole hours, 1 to 168: CloudWatch's 7-day limit for hourly periods) a variant must stay idle, instances provisioned, before the alarm.
   * @default Duration.hours(6)
   */
  readonly idleGpuDuration?: Duration;
  /**
   * Memory creep: growth of host memory utilisation, percentage points per hour, that counts as creeping; the alarm
   * fires when 20 of the last 24 hours grew faster.
   * @default 0.5 (10 points or more a day: a server at 40 % is out of memory within a week)
   */
  readonly memoryGrowthPercentPerHour?: number;
  /**
   * Name of the dashboard.
   * @default - generated by CloudFormation
   */
  readonly dashboardName?: string;
}

/** The gateway's outcome counts the availability SLO and the rates read, by metric-math id. */
const GATEWAY_OUTCOMES: Readonly<Record<string, string>> = {
  predictions: GatewayMetrics.PREDICTIONS,
  fallbacks: GatewayMetrics.FALLBACKS,
  overloaded: GatewayMetrics.MODEL_OVERLOADED,
  errors: GatewayMetrics.INTERNAL_ERRORS,
  shed: GatewayMetrics.SHED,
};
/**
 * Availability: good = answered by the model; bad = a fallback (deadline, model error, open breaker, missing
 * features), a model-overload refusal, a gateway failure, or a request shed. Invalid requests and unknown models are
 * the caller's errors and spend no budget.
 */
export const AVAILABILITY_SLI: SliExpressions = {
  bad: 'FILL(fallbacks, 0) + FILL(overloaded, 0) + FILL(errors, 0) + FILL(shed, 0)',
  total: 'FILL(predictions, 0) + FILL(fallbacks, 0) + FILL(overloaded, 0) + FILL(errors, 0) + FILL(shed, 0)',
};
/** Latency: good = gateway latency at or under the threshold (`TC(:<ms>)`), total = every latency sample. */
export const LATENCY_SLI: SliExpressions = { bad: 'FILL(all, 0) - FILL(fast, 0)', total: 'FILL(all, 0)' };
/**
 * Feature availability of the `i`-th view: good = values served PRESENT; bad = NOT_FOUND, OUTSIDE_MAX_AGE or FALLBACK
 * (ids end in the view's index: one dashboard graph shows every view, and ids must be unique in it).
 */
export function featureAvailabilitySli(i: number): SliExpressions {
  return {
    bad: `FILL(notFound${i}, 0) + FILL(outsideMaxAge${i}, 0) + FILL(fallback${i}, 0)`,
    total: `FILL(present${i}, 0) + FILL(notFound${i}, 0) + FILL(outsideMaxAge${i}, 0) + FILL(fallback${i}, 0)`,
  };
}

/** Severities of the alarms. */
type Severity = 'warning' | 'critical';
/** How one alarm evaluates. */
interface AlarmShape {
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm?: number;
  readonly treatMissingData: cloudwatch.TreatMissingData;
  readonly comparisonOperator?: cloudwatch.ComparisonOperator;
}
/** Rates and levels on 1-minute data: 3 bad minutes of 5, so one noisy minute does not page. */
const SUSTAINED_MINUTES: AlarmShape = { evaluationPeriods: 5, datapointsToAlarm: 3, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING };
/** Instance utilisation on 5-minute averages: 3 in a row (15 minutes), past autoscaling's reaction time. */
const SUSTAINED_UTILIZATION: AlarmShape = { evaluationPeriods: 3, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING };

/** Row 1 of the dashboard, filled by the endpoint's and the gateway's alarms. */
interface ServingPanels {
  readonly traffic: cloudwatch.IMetric[];
  readonly errors: cloudwatch.IMetric[];
  /** Gateway latency, milliseconds. */
  readonly latency: cloudwatch.IMetric[];
  /** Model latency, microseconds (SageMaker's unit): the right axis. */
  readonly modelLatency: cloudwatch.IMetric[];
  readonly saturation: cloudwatch.IMetric[];
}

/**
 * Monitoring of one model, from what exists (endpoint, gateway, feature store and ingestion, routing), through their
 * interfaces:
 *
 * - alarms by severity (warning: a ticket, `warningAction`; critical: a page, `criticalAction`; each an encrypted
 *   `AlarmTopic` by default) on p99 model latency, 5xx and 4xx rates, server queue depth and deadline expiries per
 *   variant; fallback and shed rates; feature freshness per view; GPU, GPU memory and host memory per variant;
 * - SLOs with multi-window burn-rate alarms (fast 1 h / 5 min at 14.4× pages, slow 6 h / 30 min at 6× opens a
 *   ticket): availability and latency of the gateway, feature availability per view;
 * - a silent producer (no fresh event materialized for a view within its freshness objective, missing data breaching);
 * - waste and leaks: an idle GPU (under `idleGpuPercent` for `idleGpuDuration` while instances run) and memory creep
 *   (host memory growing for most of a day: a trend, not a level);
 * - `guardrail`: one composite alarm, any critical alarm (gathered ones included), for rollouts to watch;
 * - a dashboard: traffic, errors, latency, saturation; SLOs and error budget left; features; GPU, memory and cost.
 */
export class ModelMonitoring extends Construct {
  /** Model name. */
  public readonly modelName: string;
  /** Any critical alarm in ALARM: what a rollout watches. Notifies `criticalAction`. */
  public readonly guardrail: cloudwatch.CompositeAlarm;
  /** Notified of warnings. */
  public readonly warningAction: cloudwatch.IAlarmAction;
  /** Notified of critical alarms and the guardrail. */
  public readonly criticalAction: cloudwatch.IAlarmAction;
  /** The topic created for warnings when no `warningAction` was given. */
  public readonly warningTopic?: AlarmTopic;
  /** The topic created for critical alarms when no `criticalAction` was given. */
  public readonly criticalTopic?: AlarmTopic;
  /** Warning alarms created here (burn-rate composites included). */
  public readonly warningAlarms: cloudwatch.IAlarm[] = [];
  /** The SLOs, by name: 'Availability', 'Latency', 'FeatureAvailability-<view>'. */
  public readonly slos: Record<string, ServiceLevelObjective> = {};
  /** The dashboard. */
  public readonly dashboard: cloudwatch.Dashboard;

  private readonly ownCriticalAlarms: cloudwatch.IAlarm[] = [];
  private readonly gathered: AlarmSource[];
  private readonly thresholds: { warning: ResolvedThresholds; critical: ResolvedThresholds };
  private readonly layout: MonitoringDashboard;

  constructor(scope: Construct, id: string, private readonly props: ModelMonitoringProps) {
    super(scope, id);
    this.modelName = props.modelName ?? props.gateway?.modelName ?? props.endpoint?.modelName ?? props.drift?.modelName ?? props.quality?.modelName ?? '';
    this.thresholds = resolveThresholds(props.thresholds, props.gateway?.deadline);
    throwIfProblems(this, validateModelMonitoringProps(props, this.thresholds));
    const warning = alarmActionOf(this, { alarmAction: props.warningAction }, 'WarningTopic');
    const critical = alarmActionOf(this, { alarmAction: props.criticalAction }, 'CriticalTopic');
    [this.warningAction, this.warningTopic, this.criticalAction, this.criticalTopic] = [warning.action, warning.topic, critical.action, critical.topic];
    this.gathered = [props.ingestion, props.routing].filter((s): s is AlarmSource => s !== undefined);

    this.layout = new MonitoringDashboard(this, 'Dashboard', { dashboardName: props.dashboardName });
    this.dashboard = this.layout.dashboard;
    const store = props.store ?? props.ingestion?.store;
    const views = props.views ?? props.ingestion?.views ?? store?.views ?? [];

    const serving: ServingPanels = { traffic: [], errors: [], latency: [], modelLatency: [], saturation: [] };
    this.monitorEndpointServing(serving);
    this.monitorGateway(serving);
    const latency = (width: number) => new cloudwatch.GraphWidget({
      title: 'Latency: gateway ms (left), model p99 µs (right)', left: serving.latency, right: serving.modelLatency, width, height: WIDGET_HEIGHT,
      leftAnnotations: props.gateway ? [{ value: props.gateway.deadline.toMilliseconds(), label: 'deadline' }] : undefined,
    });
    const row1 = [
      ...(serving.traffic.length ? [graph('Traffic: requests / min', serving.traffic)] : []),
      ...(serving.errors.length ? [graph('Errors: % of requests', serving.errors)] : []),
      ...(serving.latency.length + serving.modelLatency.length ? [latency] : []),
      ...(serving.saturation.length ? [graph('Saturation: server queue depth', serving.saturation)] : []),
    ];
    // Only views named in `views` are known to be read by the gateway.
    const servedViews = props.views ?? [];
    const row2 = this.monitorSlos(servedViews);
    const row3 = store ? this.monitorFeatures(store, views, servedViews) : [];
    const row4 = this.monitorInstances();
    const row5 = this.monitorDriftAndQuality();
    this.layout.addRow(`${this.modelName}: traffic, errors, latency, saturation`, row1);
    this.layout.addRow('Service level objectives: error budget left over 30 days, burn rate', row2);
    this.layout.addRow('Features: freshness, availability, dead letters', row3);
    this.layout.addRow('GPU, memory and cost', [...row4, () => new cloudwatch.TextWidget({
      markdown: '### Cost\nCost per 1,000 predictions and the budget: added by a cost guard (`monitoring.addWidgets`).', width: 6, height: WIDGET_HEIGHT,
    })]);
    this.layout.addRow('Drift and model quality (one value per check)', row5);

    this.guardrail = new cloudwatch.CompositeAlarm(this, 'Guardrail', {
      // Lazy: alarms a gathered source adds later (ModelRouting adds one per model) are in the rule too.
      alarmRule: { renderAlarmRule: () => Lazy.string({ produce: () => this.guardrailRule().renderAlarmRule() }) },
      alarmDescription: `Guardrail of model ${this.modelName}: a critical alarm is in ALARM (the state reason names it); hold or roll back rollouts`,
    });
    notifyOnStateChanges(this.criticalAction, [this.guardrail]);
  }

  /** Critical alarms: those created here (fast-burn composites included) and those gathered from the ingestion and routing. */
  public get criticalAlarms(): cloudwatch.IAlarm[] {
    return [...this.ownCriticalAlarms, ...this.gathered.flatMap((s) => s.alarms)];
  }

  /** Every alarm: critical (gathered included), then warning. */
  public get alarms(): cloudwatch.IAlarm[] {
    return [...this.criticalAlarms, ...this.warningAlarms];
  }

  /** Any critical alarm; FALSE (never) while there is none yet, e.g. a routing whose models are added later. */
  private guardrailRule(): cloudwatch.IAlarmRule {
    const critical = this.criticalAlarms;
    return critical.length > 0 ? cloudwatch.AlarmRule.anyOf(...critical) : cloudwatch.AlarmRule.fromBoolean(false);
  }

  /** Adds widgets to the dashboard, in a row of their own (e.g. a cost guard's). */
  public addWidgets(...widgets: cloudwatch.IWidget[]): void {
    this.dashboard.addWidgets(...widgets);
  }

  /** Per variant: p99 model latency, 5xx and 4xx rates; the server's queue depth and deadline expiries. */
  private monitorEndpointServing(panels: ServingPanels): void {
    const endpoint = this.props.endpoint;
    if (!endpoint) return;
    // Metric-math ids carry the variant's index: one graph shows every variant, and ids must be unique in it.
    for (const [i, variant] of endpoint.variantNames.entries()) {
      const latency = endpoint.metricModelLatency(variant, { label: `p99 ModelLatency µs (${variant})` });
      this.bySeverity(`ModelLatency-${variant}`, latency, (t) => t.modelLatencyP99.toMilliseconds() * 1000, SUSTAINED_MINUTES,
        `p99 model latency of variant ${variant} (SageMaker ModelLatency, microseconds)`);
      const calls = { [`invocations${i}`]: endpoint.metricInvocations(variant) };
      const serverErrors = percent(`5xx % (${variant})`, `FILL(failed${i}, 0)`, `invocations${i}`, { ...calls, [`failed${i}`]: endpoint.metricInvocation5XXErrors(variant) });
      this.bySeverity(`ServerErrors-${variant}`, serverErrors, (t) => t.serverErrorPercent, SUSTAINED_MINUTES, `share of variant ${variant}'s invocations answered 5xx, percent`);
      const clientErrors = percent(`4xx % (${variant})`, `FILL(refused${i}, 0)`, `invocations${i}`, { ...calls, [`refused${i}`]: endpoint.metricInvocation4XXErrors(variant) });
      this.bySeverity(`ClientErrors-${variant}`, clientErrors, (t) => t.clientErrorPercent, SUSTAINED_MINUTES, `share of variant ${variant}'s invocations answered 4xx, percent`);

      const server = (name: string, props: cloudwatch.MetricOptions) => new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE, metricName: name, period: Duration.minutes(1), ...props,
        dimensionsMap: { [MetricDimensions.MODEL]: endpoint.modelName, [MetricDimensions.VARIANT]: variant },
      });
      const queue = server(InferenceServerMetrics.QUEUE_DEPTH_MAX, { statistic: cloudwatch.Stats.MAXIMUM, label: `queue depth max (${variant})` });
      this.bySeverity(`QueueDepth-${variant}`, queue, (t) => t.queueDepth, SUSTAINED_MINUTES, `most requests queued in variant ${variant}'s inference server`);
      const expired = percent(`deadline expired % (${variant})`, `FILL(expired${i}, 0)`, `requests${i}`, {
        [`expired${i}`]: server(InferenceServerMetrics.DEADLINE_EXPIRED, { statistic: cloudwatch.Stats.SUM }),
        [`requests${i}`]: server(InferenceServerMetrics.REQUESTS, { statistic: cloudwatch.Stats.SUM }),
      });
      this.bySeverity(`DeadlinesExpired-${variant}`, expired, (t) => t.deadlineExpiredPercent, SUSTAINED_MINUTES,
        `share of variant ${variant}'s server requests whose deadline expired (504), percent`);
      panels.traffic.push(endpoint.metricInvocations(variant, { label: `endpoint invocations (${variant})` }));
      panels.errors.push(serverErrors, clientErrors, expired);
      panels.modelLatency.push(latency);
      panels.saturation.push(queue);
    }
  }

  /** Fallback and shed rates of the gateway. */
  private monitorGateway(panels: ServingPanels): void {
    const gateway = this.props.gateway;
    if (!gateway) return;
    const outcomes = this.gatewayOutcomes(gateway);
    const fallbacks = percent('fallback %', 'FILL(fallbacks, 0)', AVAILABILITY_SLI.total, outcomes);
    this.bySeverity('FallbackRate', fallbacks, (t) => t.fallbackPercent, SUSTAINED_MINUTES, `share of the gateway's requests for ${gateway.modelName} answered with the fallback, percent`);
    const shed = percent('shed %', 'FILL(shed, 0)', AVAILABILITY_SLI.total, outcomes);
    this.bySeverity('ShedRate', shed, (t) => t.shedPercent, SUSTAINED_MINUTES, `share of the gateway's requests for ${gateway.modelName} shed by admission control (429), percent`);
    panels.traffic.push(...Object.values(outcomes));
    panels.errors.push(fallbacks, shed);
    panels.latency.push(gateway.metricLatency({ label: 'gateway p99' }), gateway.metricLatency({ statistic: 'p50', label: 'gateway p50' }));
  }

  /** Availability and latency SLOs of the gateway; feature availability per view. */
  private monitorSlos(views: FeatureView[]): Array<(width: number) => cloudwatch.IWidget> {
    const gateway = this.props.gateway;
    if (!gateway) return [];
    const thresholdMs = (this.props.latencyThreshold ?? gateway.deadline).toMilliseconds();
    const latency = gateway.metric(GatewayMetrics.LATENCY_MS, { statistic: 'SampleCount' });
    this.slo('Availability', `availability of ${gateway.modelName}`, this.props.availabilityObjective ?? 0.999, AVAILABILITY_SLI, this.gatewayOutcomes(gateway));
    this.slo('Latency', `latency of ${gateway.modelName} (${thresholdMs} ms)`, this.props.latencyObjective ?? 0.99, LATENCY_SLI, {
      all: latency, fast: latency.with({ statistic: `TC(:${thresholdMs})` }),
    });
    for (const [i, view] of views.entries()) {
      this.slo(`FeatureAvailability-${view.name}`, `feature availability of ${view.name} for ${gateway.modelName}`, this.props.featureAvailabilityObjective ?? 0.99,
        featureAvailabilitySli(i), featureValueMetrics(gateway, view, i));
    }
    const slos = Object.values(this.slos);
    return [
      (width) => new cloudwatch.SingleValueWidget({
        title: 'Error budget left, % (30 days)', metrics: slos.map((slo) => slo.budgetRemaining()),
        setPeriodToTimeRange: true, start: `-P${SLO_PERIOD.toDays()}D`, width, height: WIDGET_HEIGHT,
      }),
      graph('Burn rate over 1 hour (page at 14.4, ticket at 6)', slos.map((slo) => slo.burnRate(Duration.hours(1))), {
        leftAnnotations: [{ value: 14.4, label: 'fast burn' }, { value: 6, label: 'slow burn' }],
      }),
    ];
  }

  /** Freshness lag per view against its objective; a silent producer per view; feature availability and dead letters. */
  private monitorFeatures(store: IFeatureStore, views: FeatureView[], servedViews: FeatureView[]): Array<(width: number) => cloudwatch.IWidget> {
    const ages: cloudwatch.IMetric[] = [];
    for (const view of views) {
      const objectiveMs = view.freshness.toMilliseconds();
      // No batches: no lag datapoint. That is the silent-producer alarm's case, so a gap is not breaching here.
      this.bySeverity(`FeatureFreshness-${view.name}`, store.metricFreshnessLag(view), (t) => t.freshnessObjectiveMultiple * objectiveMs, SUSTAINED_MINUTES,
        `freshness lag of view ${view.name} (objective ${view.freshness.toHumanString()}), milliseconds`);
      const window = alarmWindow(view.freshness);
      const newest = new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE, metricName: MaterializerMetrics.NEWEST_EVENT_AGE_MS, statistic: cloudwatch.Stats.MINIMUM,
        period: window.period, dimensionsMap: { [MetricDimensions.FEATURE_VIEW]: view.name }, label: `newest event age (${view.name})`,
      });
      this.alarm('critical', `SilentProducer-${view.name}`, newest, objectiveMs, {
        evaluationPeriods: window.periods,
        datapointsToAlarm: window.periods,
        // A producer that stops sending stops this metric: missing data is the failure itself, so it breaches.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }, `no event of view ${view.name} newer than its freshness objective (${view.freshness.toHumanString()}) was materialized for ${Duration.seconds(window.period.toSeconds() * window.periods).toHumanString()}: a producer stopped, or the materializer did`);
      ages.push(newest);
    }
    const gateway = this.props.gateway;
    const availability = gateway ? servedViews.map((view, i) => percent(`${view.name} PRESENT %`, `FILL(present${i}, 0)`, featureAvailabilitySli(i).total, featureValueMetrics(gateway, view, i))) : [];
    return [
      graph('Feature freshness lag (ms)', views.map((v) => store.metricFreshnessLag(v, { label: v.name })),
        { leftAnnotations: views.map((v) => ({ value: v.freshness.toMilliseconds(), label: `${v.name} objective` })) }),
      graph('Newest event age (ms): a silent producer', ages),
      ...(availability.length ? [graph('Feature availability: % of values served PRESENT', availability)] : []),
      graph('Dead letters / min', views.map((v) => store.metricDeadLettered(v, { label: v.name }))),
    ];
  }

  /** Per variant: GPU utilisation and memory (per GPU), host memory; idle GPUs and memory creep. */
  private monitorInstances(): Array<(width: number) => cloudwatch.IWidget> {
    const endpoint = this.props.endpoint;
    if (!endpoint) return [];
    const gpuWidgets: cloudwatch.IMetric[] = [];
    const memoryWidgets: cloudwatch.IMetric[] = [];
    for (const [i, variant] of endpoint.variantNames.entries()) {
      const gpus = this.props.gpusPerInstance?.[variant] ?? endpoint.variantInstanceTypes?.[variant]?.gpuCount;
      if (gpus === undefined) {
        Annotations.of(this).addWarningV2('ml-platform:gpuCountUnknown',
          `variant ${variant}: GPUs per instance unknown (an imported endpoint without variantInstanceTypes), so no GPU alarms; pass variantInstanceTypes to fromEndpointAttributes or gpusPerInstance: { '${variant}': <n> } (0 for a CPU variant)`);
      } else if (gpus > 0) {
        const utilization = perGpu(endpoint.metricGpuUtilization(variant, { period: Duration.minutes(5) }), gpus, `gpu${i}`, `GPU % (${variant})`);
        this.bySeverity(`GpuUtilization-${variant}`, utilization, (t) => t.gpuUtilizationPercent, SUSTAINED_UTILIZATION, `GPU utilisation of variant ${variant}, percent of one GPU`);
        const gpuMemory = perGpu(endpoint.metricGpuMemoryUtilization(variant, { period: Duration.minutes(5) }), gpus, `gpuMemory${i}`, `GPU memory % (${variant})`);
        this.bySeverity(`GpuMemory-${variant}`, gpuMemory, (t) => t.gpuMemoryPercent, SUSTAINED_UTILIZATION, `GPU memory utilisation of variant ${variant}, percent of one GPU`);
        const idleHours = (this.props.idleGpuDuration ?? Duration.hours(6)).toHours();
        this.alarm('warning', `IdleGpu-${variant}`, perGpu(endpoint.metricGpuUtilization(variant, { period: Duration.hours(1) }), gpus, `gpu${i}`, `GPU % hourly (${variant})`),
          this.props.idleGpuPercent ?? 10, {
            evaluationPeriods: idleHours,
            comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            // No datapoints means no instances running: nothing is being paid for, so nothing is idle.
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          }, `GPUs of variant ${variant} idle (under ${this.props.idleGpuPercent ?? 10} % of one GPU) for ${idleHours} hours while provisioned: scale in, share, or use a smaller instance`);
        gpuWidgets.push(utilization, gpuMemory);
      }
      const memory = endpoint.metricMemoryUtilization(variant, { period: Duration.minutes(5), label: `host memory % (${variant})` });
      this.bySeverity(`Memory-${variant}`, memory, (t) => t.memoryPercent, SUSTAINED_UTILIZATION, `host memory utilisation of variant ${variant}'s instances, percent`);
      const growth = new cloudwatch.MathExpression({
        expression: `RATE(memory${i}) * 3600`, usingMetrics: { [`memory${i}`]: endpoint.metricMemoryUtilization(variant) }, period: Duration.hours(1),
        label: `host memory growth, points/hour (${variant})`,
      });
      this.alarm('warning', `MemoryCreep-${variant}`, growth, this.props.memoryGrowthPercentPerHour ?? 0.5, {
        evaluationPeriods: 24,
        datapointsToAlarm: 20,
        // Gaps (no instances, or a restart) say nothing about a trend; only growth measured counts.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }, `host memory of variant ${variant} grew faster than ${this.props.memoryGrowthPercentPerHour ?? 0.5} points/hour in 20 of the last 24 hours: a leak; find it before the OOM killer does`);
      memoryWidgets.push(memory, growth);
    }
    return [
      ...(gpuWidgets.length ? [graph('GPU and GPU memory, % of one GPU', gpuWidgets, { leftYAxis: { min: 0, max: 100 } })] : []),
      graph('Host memory % and growth (points/hour)', memoryWidgets),
    ];
  }

  /**
   * Drift: features drifted (by severity), prediction drift and data-quality issues (warnings), a collapse of the top
   * predictions. Quality: the drop against the baseline (by severity), coverage below its floor. One value per check, so
   * one check decides; a check that did not run is no data (the detector's own alarms report failed runs).
   */
  private monitorDriftAndQuality(): Array<(width: number) => cloudwatch.IWidget> {
    const { drift, quality } = this.props;
    const widgets: Array<(width: number) => cloudwatch.IWidget> = [];
    const perCheck: AlarmShape = { evaluationPeriods: 1, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING };
    const below: AlarmShape = { ...perCheck, comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD };
    if (drift) {
      const share = drift.metricDriftedFeatureShare({ label: 'features drifted %' });
      this.bySeverity('DriftedFeatures', share, (t) => t.driftedFeatureSharePercent, perCheck,
        `share of features that drifted from the baseline in a drift check (every ${drift.schedule.toHumanString()}), percent`);
      const predictionDrifted = drift.metric(DriftMetrics.PREDICTION_DRIFTED, { label: 'prediction drifted' });
      this.alarm('warning', 'PredictionDrift', predictionDrifted, 0, perCheck,
        'the model\'s outputs drifted from the baseline (prediction drift: the earliest sign while labels are late)');
      const quality = drift.metricDataQualityIssues({ label: 'columns with data-quality issues' });
      this.alarm('warning', 'DataQuality', quality, 0, perCheck,
        'a feature or output has a data-quality issue (null-rate jump, out of range, unseen categories, type change, constant); the drift function\'s log names it');
      const diversity = drift.metricPredictionDiversity({ label: 'distinct top predictions %' });
      const topShare = drift.metricTopPredictionShare({ label: 'most common top prediction %' });
      if (this.props.maxTopPredictionSharePercent !== undefined) {
        this.alarm('warning', 'PredictionCollapse', topShare, this.props.maxTopPredictionSharePercent, perCheck,
          `one top prediction took more than ${this.props.maxTopPredictionSharePercent} % of the predictions: the model is collapsing onto one answer (a feedback loop?)`);
      }
      widgets.push(
        graph('Drift: features drifted % (left), prediction drift score (right)', [share], { right: [drift.metricPredictionDriftScore({ label: 'prediction drift score' })] }),
        graph('Data quality (left); top-prediction diversity and collapse, % (right)', [quality], { right: [diversity, topShare] }),
      );
    }
    if (quality) {
      const drop = quality.metricQualityDrop({ label: 'quality drop vs baseline %' });
      this.bySeverity('QualityDrop', drop, (t) => t.qualityDropPercent, perCheck,
        `how much worse than its baseline the model's ${quality.problem === 'classification' ? 'AUC' : 'RMSE'} is (worst variant), percent`);
      const coverage = quality.metricCoverage({ label: 'label coverage %' });
      if (this.props.minLabelCoveragePercent !== undefined) {
        this.alarm('warning', 'LabelCoverage', coverage, this.props.minLabelCoveragePercent, below,
          `share of predictions with a label below ${this.props.minLabelCoveragePercent} %: labels stopped arriving, so quality alarms are blind`);
      }
      widgets.push(graph('Model quality: drop vs baseline % (left), label coverage % (right)', [drop], { right: [coverage] }));
    }
    return widgets;
  }

  /** The gateway's outcome counts, by metric-math id. */
  private gatewayOutcomes(gateway: IInferenceGateway): Record<string, cloudwatch.IMetric> {
    return Object.fromEntries(Object.entries(GATEWAY_OUTCOMES).map(([id, name]) => [id, gateway.metric(name, { label: name })]));
  }

  private slo(name: string, title: string, objective: number, sli: SliExpressions, metrics: Record<string, cloudwatch.IMetric>): void {
    const slo = new ServiceLevelObjective(this, `${name}Slo`, {
      title, objective, sli, metrics, fastBurnAction: this.criticalAction, slowBurnAction: this.warningAction,
    });
    this.slos[name] = slo;
    this.ownCriticalAlarms.push(slo.fastBurnAlarm);
    this.warningAlarms.push(slo.slowBurnAlarm);
  }

  /** A warning and a critical alarm on one metric, each with its severity's threshold. */
  private bySeverity(id: string, metric: cloudwatch.IMetric, threshold: (t: ResolvedThresholds) => number, shape: AlarmShape, what: string): void {
    for (const severity of ['warning', 'critical'] as const) {
      const value = threshold(this.thresholds[severity]);
      this.alarm(severity, `${id}-${severity === 'warning' ? 'Warning' : 'Critical'}`, metric, value, shape, `${severity}: ${what} above ${value}`);
    }
  }

  private alarm(severity: Severity, id: string, metric: cloudwatch.IMetric, threshold: number, shape: AlarmShape, description: string): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric, threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      ...shape,
      alarmDescription: `Model ${this.modelName}: ${description}`.slice(0, 1024), // CloudWatch's limit
    });
    notifyOnStateChanges(severity === 'critical' ? this.criticalAction : this.warningAction, [alarm]);
    (severity === 'critical' ? this.ownCriticalAlarms : this.warningAlarms).push(alarm);
  }
}

/** The feature values the gateway served for the `i`-th view, by status, by metric-math id (dimensions Model, FeatureView). */
function featureValueMetrics(gateway: IInferenceGateway, view: FeatureView, i: number): Record<string, cloudwatch.IMetric> {
  const values = (metricName: string) => new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE, metricName, statistic: cloudwatch.Stats.SUM, period: Duration.minutes(1),
    dimensionsMap: { [MetricDimensions.MODEL]: gateway.modelName, [MetricDimensions.FEATURE_VIEW]: view.name },
  });
  return {
    [`present${i}`]: values(FeatureServingMetrics.PRESENT), [`notFound${i}`]: values(FeatureServingMetrics.NOT_FOUND),
    [`outsideMaxAge${i}`]: values(FeatureServingMetrics.OUTSIDE_MAX_AGE), [`fallback${i}`]: values(FeatureServingMetrics.FALLBACK),
  };
}

/**
 * The periods an alarm evaluating `window` reads: 1-minute periods up to a day, hourly ones beyond (CloudWatch allows
 * an evaluation window over a day only with periods of an hour or more), at most CloudWatch's longest window (7 days).
 */
function alarmWindow(window: Duration): { period: Duration; periods: number } {
  const seconds = window.toSeconds({ integral: false });
  const period = seconds > maxAlarmWindowSeconds(60) ? 3600 : 60;
  return { period: Duration.seconds(period), periods: Math.min(maxAlarmWindowSeconds(period) / period, Math.max(1, Math.ceil(seconds / period))) };
}

/** `part` as a percentage of `whole` (metric-math text over `metrics`), per minute. */
function percent(label: string, part: string, whole: string, metrics: Record<string, cloudwatch.IMetric>): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({ expression: percentExpression(part, whole), usingMetrics: metrics, period: Duration.minutes(1), label });
}
