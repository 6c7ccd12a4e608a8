// Typed builders for the dashboards. Every object here is checked by tsc
// against Grafana's own published schema (@grafana/schema): the dashboard
// model and each panel plugin's options.

import type { Dashboard, DataQuery, DataSourceRef, FieldConfigSource, Panel, RowPanel, VariableModel } from "@grafana/schema";
import {
  BarGaugeDisplayMode,
  BarGaugeNamePlacement,
  BarGaugeSizing,
  BarGaugeValueMode,
  BigValueColorMode,
  BigValueGraphMode,
  BigValueJustifyMode,
  BigValueTextMode,
  DashboardCursorSync,
  LegendDisplayMode,
  MappingType,
  PercentChangeColorMode,
  SortOrder,
  ThresholdsMode,
  TooltipDisplayMode,
  VariableHide,
  VariableRefresh,
  VariableSort,
  VizOrientation,
} from "@grafana/schema";
import type { Options as BarGaugeOptions } from "@grafana/schema/dist/esm/raw/composable/bargauge/panelcfg/x/BarGaugePanelCfg_types.gen";
import type { Options as HistogramOptions } from "@grafana/schema/dist/esm/raw/composable/histogram/panelcfg/x/HistogramPanelCfg_types.gen";
import type { Options as StatOptions } from "@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen";
import type { Options as TableOptions } from "@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen";
import type { Options as TimeSeriesOptions } from "@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen";

/** Grafana's dashboard schema version these dashboards are written for. */
export const SCHEMA_VERSION = 41;

/** Every panel and query uses the dashboard's data source variable. */
export const DS: DataSourceRef = { type: "prometheus", uid: "${datasource}" };

/**
 * The one exporter a dashboard shows: its job and instance variables. Every
 * selector of every panel query gets it (see withTarget).
 */
export const TARGET = 'job="$job", instance="$instance"';

/**
 * Adds TARGET to every series selector of a PromQL expression: inside each
 * `{...}` outside string literals, and as `{...}` after a bare gong metric
 * name. Written once here so no query can forget it.
 */
export function withTarget(expr: string): string {
  let out = "";
  let i = 0;
  while (i < expr.length) {
    const c = expr.charAt(i);
    if (c === '"') {
      // A string literal, copied as is (escapes included).
      let j = i + 1;
      while (j < expr.length && expr.charAt(j) !== '"') j += expr.charAt(j) === "\\" ? 2 : 1;
      out += expr.slice(i, j + 1);
      i = j + 1;
    } else if (c === "{") {
      const empty = expr.slice(i + 1).trimStart().startsWith("}");
      out += `{${TARGET}${empty ? "" : ", "}`;
      i += 1;
    } else if (/[A-Za-z_]/.test(c) && (i === 0 || !/[A-Za-z0-9_:]/.test(expr.charAt(i - 1)))) {
      let j = i;
      while (j < expr.length && /[A-Za-z0-9_:]/.test(expr.charAt(j))) j += 1;
      const name = expr.slice(i, j);
      out += name;
      i = j;
      const isMetric = /^gong[_:]/.test(name);
      if (isMetric && expr.slice(j).trimStart().charAt(0) !== "{") out += `{${TARGET}}`;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

/** A Prometheus query (Grafana's Prometheus data source fields). */
export interface PromQuery extends DataQuery {
  expr: string;
  legendFormat?: string;
  instant?: boolean;
  range?: boolean;
  format?: "time_series" | "table";
}

/** A query as the dashboards write it. */
export interface Q {
  expr: string;
  legend?: string;
  /** In tables, the unit of this query's column (e.g. percentunit, s). */
  unit?: string;
}

/** A panel before layout. */
export interface Item {
  panel: Panel;
  w: number;
  h: number;
}

function targets(queries: Q[], table: boolean): Array<Record<string, unknown>> {
  return queries.map((q, i) => {
    const query: PromQuery = {
      refId: String.fromCharCode(65 + i),
      datasource: DS,
      expr: withTarget(q.expr),
      legendFormat: q.legend ?? "__auto",
      instant: table,
      range: !table,
      format: table ? "table" : "time_series",
    };
    return { ...query };
  });
}

/** Units and thresholds shared by the panel builders. */
export interface Look {
  unit?: string;
  min?: number;
  max?: number;
  decimals?: number;
  /** Threshold steps: base colour, then [value, colour] pairs. */
  steps?: [string, ...Array<[number, string]>];
  /** Value-to-text mappings for stat panels. */
  mappings?: Array<[number, string, string]>;
  description?: string;
}

function fieldConfig(look: Look): FieldConfigSource {
  const [base, ...rest] = look.steps ?? ["green"];
  return {
    defaults: {
      unit: look.unit ?? "short",
      ...(look.min !== undefined ? { min: look.min } : {}),
      ...(look.max !== undefined ? { max: look.max } : {}),
      ...(look.decimals !== undefined ? { decimals: look.decimals } : {}),
      thresholds: {
        mode: ThresholdsMode.Absolute,
        steps: [{ value: null, color: base }, ...rest.map(([value, color]) => ({ value, color }))],
      },
      mappings: (look.mappings ?? []).map(([value, text, color]) => ({
        type: MappingType.ValueToText,
        options: { [String(value)]: { text, color } },
      })),
    },
    overrides: [],
  };
}

/**
 * The collector each metric comes from, as `--collector.<name>` names it:
 * a panel whose collector is off shows which flag it needs instead of a
 * bare "No data".
 */
const COLLECTOR_OF: Array<[RegExp, string]> = [
  [/_cumulative_total/, "counters"],
  [/gong_activity_|gong:(team_activity|user_call_activity|user_coaching_activity|team_coaching)/, "activity"],
  [/gong_interaction_/, "interaction"],
  [/gong_scorecard_/, "scorecards"],
  [/gong_coaching_|gong:manager_coaching/, "coaching"],
];

/** What a panel shows when its queries return nothing. */
export function noValue(queries: Q[]): string | undefined {
  const needed = COLLECTOR_OF.filter(([pattern]) => queries.some((q) => pattern.test(q.expr))).map(([, name]) => `--collector.${name}`);
  return needed.length === 0 ? undefined : `No data: needs ${needed.join(" and ")} (on by default)`;
}

function panel(type: string, title: string, queries: Q[], look: Look, options: object, table = false): Panel {
  const config = fieldConfig(look);
  const empty = noValue(queries);
  if (empty) config.defaults.noValue = empty;
  return {
    type,
    title,
    ...(look.description ? { description: look.description } : {}),
    datasource: DS,
    targets: targets(queries, table),
    fieldConfig: config,
    options: { ...options },
  };
}

export function timeseries(title: string, queries: Q[], look: Look = {}, w = 12, h = 8): Item {
  const options: TimeSeriesOptions = {
    legend: { showLegend: true, displayMode: LegendDisplayMode.List, placement: "bottom", calcs: [] },
    tooltip: { mode: TooltipDisplayMode.Multi, sort: SortOrder.Descending },
  };
  return { panel: panel("timeseries", title, queries, look, options), w, h };
}

export function stat(title: string, query: Q, look: Look = {}, w = 4, h = 4): Item {
  const options: StatOptions = {
    colorMode: BigValueColorMode.Value,
    graphMode: BigValueGraphMode.None,
    justifyMode: BigValueJustifyMode.Auto,
    textMode: BigValueTextMode.Auto,
    orientation: VizOrientation.Auto,
    percentChangeColorMode: PercentChangeColorMode.Standard,
    showPercentChange: false,
    wideLayout: true,
    reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
  };
  return { panel: panel("stat", title, [query], look, options), w, h };
}

/** Horizontal bars, one per series: leaderboards and per-team comparisons. */
export function bars(title: string, queries: Q[], look: Look = {}, w = 8, h = 10): Item {
  const options: BarGaugeOptions = {
    displayMode: BarGaugeDisplayMode.Basic,
    orientation: VizOrientation.Horizontal,
    namePlacement: BarGaugeNamePlacement.Left,
    valueMode: BarGaugeValueMode.Color,
    sizing: BarGaugeSizing.Auto,
    showUnfilled: true,
    minVizHeight: 16,
    minVizWidth: 8,
    maxVizHeight: 300,
    legend: { showLegend: false, displayMode: LegendDisplayMode.List, placement: "bottom", calcs: [] },
    reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
  };
  return { panel: panel("bargauge", title, queries, look, options, true), w, h };
}

/** A table of instant values, one column per query, joined on `by`. */
export function table(title: string, queries: Q[], by: string[], look: Look = {}, w = 24, h = 10): Item {
  const options: TableOptions = { showHeader: true, frameIndex: 0, cellHeight: undefined };
  const p = panel("table", title, queries, look, options, true);
  // Columns are renamed to their legends below; units follow the new names.
  p.fieldConfig = {
    ...p.fieldConfig!,
    overrides: queries
      .filter((q) => q.unit !== undefined)
      .map((q) => ({
        matcher: { id: "byName", options: q.legend ?? q.expr },
        properties: [{ id: "unit", value: q.unit }],
      })),
  };
  p.transformations = [
    { id: "merge", options: {} },
    {
      id: "organize",
      options: {
        excludeByName: { Time: true },
        renameByName: Object.fromEntries(queries.map((q, i) => [`Value #${String.fromCharCode(65 + i)}`, q.legend ?? q.expr])),
        indexByName: Object.fromEntries([...by, ...queries.map((_, i) => `Value #${String.fromCharCode(65 + i)}`)].map((n, i) => [n, i])),
      },
    },
  ];
  return { panel: p, w, h };
}

/** Distribution of the current values of a per-user gauge. */
export function histogram(title: string, query: Q, look: Look = {}, w = 8, h = 8): Item {
  const options: HistogramOptions = {
    combine: true,
    legend: { showLegend: false, displayMode: LegendDisplayMode.List, placement: "bottom", calcs: [] },
    tooltip: { mode: TooltipDisplayMode.Single, sort: SortOrder.None },
  };
  return { panel: panel("histogram", title, [query], look, options, true), w, h };
}

/** A section header. */
export function row(title: string): RowPanel {
  // The id is set by the layout.
  return { type: "row", id: 0, title, collapsed: false, panels: [] };
}

/** Lays panels out left to right on Grafana's 24-column grid. */
function layout(sections: Array<RowPanel | Item>): Array<Panel | RowPanel> {
  const out: Array<Panel | RowPanel> = [];
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  let id = 1;
  for (const s of sections) {
    if ("panel" in s) {
      if (x + s.w > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      out.push({ ...s.panel, id: id++, gridPos: { x, y, w: s.w, h: s.h } });
      x += s.w;
      rowHeight = Math.max(rowHeight, s.h);
    } else {
      y += rowHeight;
      x = 0;
      rowHeight = 0;
      out.push({ ...s, id: id++, gridPos: { x: 0, y, w: 24, h: 1 } });
      y += 1;
    }
  }
  return out;
}

/** A query variable over a Prometheus label. */
export function labelVariable(name: string, label: string, query: string, multi = true): VariableModel {
  return {
    type: "query",
    name,
    label,
    datasource: DS,
    query: { query, refId: `${name}-variable` },
    refresh: VariableRefresh.onTimeRangeChanged,
    sort: VariableSort.alphabeticalCaseInsensitiveAsc,
    multi,
    includeAll: multi,
    ...(multi ? { allValue: ".*", current: { text: ["All"], value: ["$__all"] } } : {}),
    hide: VariableHide.dontHide,
    options: [],
  };
}

/**
 * A query variable whose value is an ID and whose text is a name, read from
 * `query_result(...)` lines: `name{...,<idLabel>="<id>",...,<nameLabel>="<name>"} value ts`.
 * The name label must sort last among the series' labels.
 */
export function idVariable(name: string, label: string, query: string, idLabel: string, nameLabel: string): VariableModel {
  return {
    ...labelVariable(name, label, query),
    regex: `/${idLabel}="(?<value>[^"]*)".*${nameLabel}="(?<text>.*)"\\}/`,
  };
}

/** The exporter (job and instance) a dashboard shows: one at a time. */
export const jobVariable = labelVariable("job", "Job", "label_values(gong_exporter_build_info, job)", false);
export const instanceVariable = labelVariable(
  "instance",
  "Instance",
  'label_values(gong_exporter_build_info{job="$job"}, instance)',
  false,
);

export const datasourceVariable: VariableModel = {
  type: "datasource",
  name: "datasource",
  label: "Data source",
  query: "prometheus",
  hide: VariableHide.dontHide,
  options: [],
};

/** The window selector; `1d` is yesterday. */
export const windowVariable: VariableModel = {
  type: "query",
  name: "window",
  label: "Window",
  datasource: DS,
  query: { query: `label_values(gong_exporter_window_start_timestamp_seconds{${TARGET}}, window)`, refId: "window-variable" },
  refresh: VariableRefresh.onTimeRangeChanged,
  sort: VariableSort.naturalAsc,
  multi: false,
  includeAll: false,
  current: { text: "7d", value: "7d" },
  hide: VariableHide.dontHide,
  options: [],
};

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  variables: VariableModel[];
  sections: Array<RowPanel | Item>;
  time?: string;
}

export function dashboard(spec: DashboardSpec): Dashboard {
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: ["gong", "gong-exporter"],
    editable: true,
    graphTooltip: DashboardCursorSync.Crosshair,
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    refresh: "5m",
    time: { from: spec.time ?? "now-30d", to: "now" },
    timezone: "browser",
    templating: { list: [datasourceVariable, jobVariable, instanceVariable, ...spec.variables] },
    annotations: { list: [] },
    links: [
      { title: "Gong dashboards", type: "dashboards", tags: ["gong"], asDropdown: true, icon: "external link", includeVars: true, keepTime: true, targetBlank: false, tooltip: "", url: "" },
    ],
    panels: layout(spec.sections),
  };
}
