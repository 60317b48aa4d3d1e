import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';

/** Width of a dashboard (CloudWatch's grid). */
const GRID_WIDTH = 24;
/** Height of a graph or single-value widget. */
export const WIDGET_HEIGHT = 6;

/**
 * A CloudWatch dashboard made of titled rows, read top to bottom as an on-call engineer does: each row a markdown title
 * and its widgets side by side, splitting the 24-column width evenly (4 widgets: 6 columns each).
 */
export class MonitoringDashboard extends Construct {
  /** The dashboard. */
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: { readonly dashboardName?: string }) {
    super(scope, id);
    this.dashboard = new cloudwatch.Dashboard(this, 'Resource', { dashboardName: props.dashboardName });
  }

  /** Adds a row: a title, then the widgets (no-op without widgets), each given an equal share of the width. */
  public addRow(title: string, widgets: ReadonlyArray<(width: number) => cloudwatch.IWidget>): void {
    if (widgets.length === 0) return;
    const width = Math.max(3, Math.floor(GRID_WIDTH / widgets.length));
    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: `## ${title}`, width: GRID_WIDTH, height: 1 }));
    this.dashboard.addWidgets(...widgets.map((widget) => widget(width)));
  }
}

/** A graph widget of the given metrics, sized by the row. */
export function graph(title: string, left: cloudwatch.IMetric[], options: Pick<cloudwatch.GraphWidgetProps, 'leftYAxis' | 'leftAnnotations' | 'right'> = {}) {
  return (width: number): cloudwatch.IWidget => new cloudwatch.GraphWidget({ title, left, width, height: WIDGET_HEIGHT, ...options });
}
