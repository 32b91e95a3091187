/**
 * Metric rows → ECharts options, built here in TypeScript so the page only has to call setOption:
 * the options are plain JSON (no formatter functions), embedded in the page as data. Each panel
 * plots the keys a run logged; a panel with none of its keys is skipped, with the reason why.
 */
import type { EChartsOption, SeriesOption } from "echarts";
import type { EvalSummary, MetricRow } from "./run-data.ts";

export interface Chart {
  /** DOM id of the chart's container. */
  id: string;
  title: string;
  /** One line under the title: what to read off the chart. */
  caption?: string;
  option: EChartsOption;
}

interface Panel {
  id: string;
  title: string;
  /** The keys of this panel that the run logged, in legend order. */
  pick: (keys: string[]) => string[];
  /** Why a run may lack them, for the "not plotted" note. */
  absent: string;
  caption?: string;
  /** false for curves that are not noisy (a schedule; sparse evals), where an EMA would only lag. */
  smooth?: boolean;
}

const only = (...wanted: string[]) => (keys: string[]) => wanted.filter((k) => keys.includes(k));
const matching = (re: RegExp, first: string[] = []) => (keys: string[]) => [...only(...first)(keys), ...keys.filter((k) => re.test(k) && !first.includes(k)).sort()];

const PANELS: Panel[] = [
  { id: "reward", title: "Reward", pick: matching(/^rewards\/[^/]+\/mean$/, ["reward"]), absent: "no reward or rewards/<verifier>/mean (a pretrain run has none)", caption: "reward = Σ weight · verifier reward, mean over the batch" },
  { id: "eval", title: "Eval accuracy", pick: matching(/^eval\//), absent: "no eval/* (set train.eval_every and data.eval)", caption: "held-out pass@1 (eval/accuracy) and pass@k", smooth: false },
  { id: "kl", title: "KL to the reference", pick: only("kl"), absent: "no kl (logged only when grpo.beta > 0)" },
  { id: "entropy", title: "Token entropy", pick: only("entropy"), absent: "no entropy (logged only when grpo.entropy_coef > 0)" },
  { id: "length", title: "Completion length (tokens)", pick: only("completions/mean_length", "completions/min_length", "completions/max_length", "completions/mean_terminated_length"), absent: "no completions/*_length" },
  { id: "fractions", title: "Truncated completions and zero-variance groups", pick: only("completions/clipped_ratio", "frac_reward_zero_std"), absent: "no completions/clipped_ratio or frac_reward_zero_std", caption: "fraction of completions cut at max length; fraction of groups whose rewards are all equal (no signal)" },
  { id: "clip", title: "Clip ratios", pick: only("clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean"), absent: "no clip_ratio/*", caption: "fraction of tokens whose importance ratio was clipped" },
  { id: "lr", title: "Learning rate", pick: only("learning_rate"), absent: "no learning_rate", smooth: false },
  { id: "loss", title: "Loss", pick: only("loss", "aux_loss"), absent: "no loss or aux_loss", caption: "aux_loss: the MoE load-balancing loss" },
  { id: "grad", title: "Gradient norm", pick: only("grad_norm"), absent: "no grad_norm", caption: "before clipping" },
  { id: "router", title: "MoE router", pick: only("moe/max_violation", "moe/router_entropy", "moe/drop_rate"), absent: "no moe/* router statistics (a dense model, or a pretrain run)" },
  { id: "time", title: "Step time (s)", pick: only("step_time"), absent: "no step_time" },
];

const PALETTE = ["#5470c6", "#ee6666", "#3ba272", "#fac858", "#73c0de", "#9a60b4", "#fc8452", "#91cc75"];
/** With this many points a line is noisy enough to draw an EMA over a faint raw line. */
const SMOOTH_FROM = 50;
const SMOOTHING = 0.8;
/** Heatmap columns at most; longer runs are averaged into bins of consecutive steps. */
const MAX_HEATMAP_COLUMNS = 400;

/** Line charts for the panels this run has data for, and one note per panel it has none for. */
export function metricCharts(rows: MetricRow[]): { charts: Chart[]; skipped: string[] } {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const charts: Chart[] = [];
  const skipped: string[] = [];
  for (const p of PANELS) {
    const picked = p.pick(keys);
    if (picked.length) charts.push({ id: `chart-${p.id}`, title: p.title, caption: p.caption, option: lineOption(rows, picked, p.smooth ?? true) });
    else skipped.push(`${p.title}: ${p.absent}`);
  }
  return { charts, skipped };
}

function lineOption(rows: MetricRow[], keys: string[], smooth: boolean): EChartsOption {
  return {
    animation: false,
    color: PALETTE,
    tooltip: { trigger: "axis" },
    legend: { top: 0, type: "scroll" },
    grid: { left: 8, right: 24, top: 32, bottom: 28, containLabel: true },
    xAxis: { type: "value", name: "step", nameLocation: "middle", nameGap: 22, min: "dataMin", max: "dataMax", minInterval: 1 },
    yAxis: { type: "value", scale: true },
    dataZoom: [{ type: "inside" }],
    series: keys.flatMap((k, i) => lineSeries(k, points(rows, k), PALETTE[i % PALETTE.length], smooth)),
  };
}

/** [step, value] for the rows that logged `key` (eval/* only on some steps). */
export function points(rows: MetricRow[], key: string): [number, number][] {
  return rows.filter((r) => r[key] !== undefined).map((r) => [r.step, round(r[key])]);
}

/** A raw line, plus an EMA under the same name (so the legend toggles both) when it is long enough to be noisy. */
function lineSeries(name: string, data: [number, number][], color: string, smooth: boolean): SeriesOption[] {
  const few = data.length <= 30;
  if (!smooth || data.length < SMOOTH_FROM) return [{ type: "line", name, data, color, showSymbol: few, symbolSize: 5 }];
  return [
    { type: "line", name, data, color, showSymbol: false, lineStyle: { opacity: 0.25 }, silent: true, tooltip: { show: false } },
    { type: "line", name, data: ema(data), color, showSymbol: false },
  ];
}

/** TensorBoard-style debiased exponential moving average. */
export function ema(data: [number, number][], weight = SMOOTHING): [number, number][] {
  let acc = 0;
  return data.map(([x, y], i) => {
    acc = weight * acc + (1 - weight) * y;
    return [x, round(acc / (1 - weight ** (i + 1)))];
  });
}

/** Six significant digits: enough for a chart, and it keeps the embedded JSON small. */
function round(v: number): number {
  return Number(v.toPrecision(6));
}

/**
 * One heatmap per MoE layer from `moe/load/<layer>/<expert>` (fraction of the layer's routed
 * tokens that went to each expert): x = step, y = expert, colour = load. A healthy router stays
 * near 1/E; a collapsing one shows a hot row and cold ones.
 */
export function moeHeatmaps(rows: MetricRow[]): Chart[] {
  const layers = new Map<string, Map<number, string>>();
  for (const key of new Set(rows.flatMap((r) => Object.keys(r)))) {
    const m = /^moe\/load\/([^/]+)\/(\d+)$/.exec(key);
    if (!m) continue;
    if (!layers.has(m[1])) layers.set(m[1], new Map());
    layers.get(m[1])!.set(Number(m[2]), key);
  }
  return [...layers.entries()].sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true })).map(([layer, experts]) => heatmap(rows, layer, experts));
}

function heatmap(rows: MetricRow[], layer: string, experts: Map<number, string>): Chart {
  const ids = [...experts.keys()].sort((a, b) => a - b);
  const logged = rows.filter((r) => ids.some((e) => r[experts.get(e)!] !== undefined));
  const bins = binRows(logged, MAX_HEATMAP_COLUMNS);
  const data: [number, number, number][] = [];
  bins.forEach((bin, x) => ids.forEach((e, y) => {
    const vals = bin.map((r) => r[experts.get(e)!]).filter((v) => v !== undefined);
    if (vals.length) data.push([x, y, round(vals.reduce((s, v) => s + v, 0) / vals.length)]);
  }));
  // rounded up: ECharts hides heatmap cells above the visualMap's max, and rounds that max for display
  const max = Math.ceil(100 * Math.max(2 / ids.length, ...data.map((d) => d[2]))) / 100;
  const binned = bins.some((b) => b.length > 1);
  return {
    id: `chart-moe-load-${layer.replace(/[^\w-]/g, "_")}`,
    title: `Expert load, MoE layer ${layer}`,
    caption: `fraction of tokens routed to each of ${ids.length} experts; uniform = ${round(1 / ids.length)} (mid-scale)${binned ? "; each column averages consecutive steps" : ""}`,
    option: {
      animation: false,
      tooltip: { position: "top" },
      grid: { left: 8, right: 96, top: 28, bottom: 28, containLabel: true },
      xAxis: { type: "category", name: "step", nameLocation: "middle", nameGap: 26, data: bins.map((b) => String(b[b.length - 1].step)) },
      yAxis: { type: "category", name: "expert", data: ids.map(String) },
      // min 0 and max ≥ 2/E put a uniform load mid-scale, so a skewed expert shows dark or pale
      visualMap: { min: 0, max, precision: 2, calculable: true, orient: "vertical", right: 0, top: "middle", itemHeight: 140, inRange: { color: ["#f7fbff", "#6baed6", "#08306b"] } },
      // progressive: 0 draws every cell in one frame, so a screenshot or print never catches half a heatmap
      series: [{ type: "heatmap", name: `layer ${layer}`, data, progressive: 0 }],
    },
  };
}

/** Splits rows into at most `max` runs of consecutive rows of (nearly) equal length. */
function binRows(rows: MetricRow[], max: number): MetricRow[][] {
  const size = Math.ceil(rows.length / max) || 1;
  const bins: MetricRow[][] = [];
  for (let i = 0; i < rows.length; i += size) bins.push(rows.slice(i, i + size));
  return bins;
}

/** Bars of pass@1, pass@k and maj@k by difficulty level of one `rlvr eval` summary, in percent. */
export function evalLevelChart(summary: EvalSummary, id: string): Chart | null {
  const levels = Object.keys(summary.by_level).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  if (!levels.length) return null;
  const ks = Object.keys(summary.overall["pass@k"]).filter((k) => k !== "1").sort((a, b) => Number(a) - Number(b));
  const bar = (name: string, get: (s: EvalSummary["overall"]) => number | undefined): SeriesOption => ({
    type: "bar",
    name,
    data: levels.map((l) => {
      const v = get(summary.by_level[l]);
      return v === undefined ? null : round(100 * v);
    }),
  });
  return {
    id,
    title: `${summary.dataset}: accuracy by level`,
    caption: `${summary.model}, k = ${summary.k}, temperature ${summary.temperature}`,
    option: {
      animation: false,
      color: PALETTE,
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 8, right: 24, top: 32, bottom: 28, containLabel: true },
      xAxis: { type: "category", name: "level", nameLocation: "middle", nameGap: 22, data: levels },
      yAxis: { type: "value", name: "%", min: 0, max: 100 },
      series: [bar("pass@1", (s) => s["pass@1"]), ...ks.map((k) => bar(`pass@${k}`, (s) => s["pass@k"][k])), bar(`maj@${summary.k}`, (s) => s["maj@k"] ?? undefined)],
    },
  };
}
