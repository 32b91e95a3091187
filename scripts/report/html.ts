/**
 * RunData → one self-contained HTML page: tables rendered here (every run-supplied string
 * HTML-escaped), charts as ECharts options in a JSON data block, and ECharts itself inlined so the
 * file opens offline, from a mail attachment or a CI artifact, with no network.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import { evalLevelChart, metricCharts, moeHeatmaps, type Chart } from "./charts.ts";
import type { CompletionRow, EvalStats, EvalSummary, MetricRow, RunData } from "./run-data.ts";

/** Longer prompts/completions are cut in the table (the Arrow files keep them whole). */
const MAX_TEXT = 1200;

export interface RenderOptions {
  /** The ECharts bundle to inline (default: echarts/dist/echarts.min.js from node_modules). */
  echarts?: string;
  generatedAt?: Date;
}

export function renderReport(data: RunData, options: RenderOptions = {}): string {
  const { charts: curves, skipped } = metricCharts(data.metrics);
  const heatmaps = moeHeatmaps(data.metrics);
  const evalCharts = data.evals.map((e, i) => evalLevelChart(e.summary, `chart-eval-${i}`));
  const charts = [...curves, ...heatmaps, ...evalCharts.filter((c): c is Chart => c !== null)];
  const payload = { run: data.name, generated: (options.generatedAt ?? new Date()).toISOString(), charts: charts.map(({ id, option }) => ({ id, option })) };
  const body = [
    header(data),
    notesSection(skipped, data.notes),
    chartSection("Training curves", curves, "charts"),
    chartSection("Expert load", heatmaps, "heatmaps"),
    evalSection(data.evals, evalCharts),
    completionsSection(data),
  ].join("\n");
  return page(`rlvr report: ${data.name}`, body, payload, options.echarts ?? loadEcharts());
}

export function loadEcharts(): string {
  return fs.readFileSync(createRequire(import.meta.url).resolve("echarts/dist/echarts.min.js"), "utf8");
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** JSON for a <script type="application/json"> block: no `<`, so no `</script>` or `<!--` can end it early. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

/** JavaScript source for an inline <script>: `</script` would close the element, `<\/script` means the same in JS strings and regexes. */
export function inlineScript(js: string): string {
  return js.replace(/<\/(script)/gi, "<\\/$1");
}

function page(title: string, body: string, payload: unknown, echarts: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body}
</main>
<script type="application/json" id="report-data">${scriptJson(payload)}</script>
<script>${inlineScript(echarts)}</script>
<script>${inlineScript(CLIENT)}</script>
</body>
</html>
`;
}

/**
 * Renders every chart from the data block; the page's only script besides ECharts. It sets
 * body[data-rendered] once every chart has finished drawing, for tools that screenshot the page.
 */
const CLIENT = `(() => {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  let pending = data.charts.length;
  const done = () => { if (--pending === 0) document.body.dataset.rendered = "true"; };
  if (pending === 0) document.body.dataset.rendered = "true";
  const charts = data.charts.map((c) => {
    const chart = echarts.init(document.getElementById(c.id), null, { renderer: "canvas" });
    chart.on("finished", function first() { chart.off("finished", first); done(); });
    chart.setOption(c.option);
    return chart;
  });
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
})();`;

const CSS = `
:root { color-scheme: light; --muted: #666; --line: #e3e3e3; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; background: #fafafa; }
main { max-width: 1320px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 0 0 2px; } .muted, .caption { color: var(--muted); font-size: 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 120px; }
.card .v { font-size: 20px; font-weight: 600; } .card .k { color: var(--muted); font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 14px; }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.chart { height: 300px; } .wide { grid-column: 1 / -1; }
ul.notes { margin: 6px 0; padding-left: 20px; color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; background: #fff; font-size: 13px; margin: 8px 0 14px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: right; vertical-align: top; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
td.text pre { margin: 0; white-space: pre-wrap; word-break: break-word; max-width: 520px; max-height: 220px; overflow: auto; font: 12px/1.4 ui-monospace, Menlo, Consolas, monospace; }
tr.group td { background: #f7f7f7; font-weight: 600; text-align: left; }
.pos { color: #1a7f37; } .neg { color: #c62828; } .same { color: #aaa; }
`;

function header(data: RunData): string {
  const last = (key: string): MetricRow | undefined => [...data.metrics].reverse().find((r) => r[key] !== undefined);
  const final = data.metrics[data.metrics.length - 1];
  const reward = last("reward");
  const acc = last("eval/accuracy");
  const loss = last("loss");
  const evalPass = data.evals[data.evals.length - 1];
  const cards: [string, string, string?][] = [
    ["steps", final ? String(final.step) : "0", final && data.metrics.length !== final.step ? `${data.metrics.length} logged` : undefined],
    ["last reward", reward ? fmt(reward.reward) : "—", reward ? `step ${reward.step}` : "not a GRPO run"],
    ["last eval accuracy", acc ? pct(acc["eval/accuracy"]) : "—", acc ? `step ${acc.step}` : "no eval/accuracy logged"],
    ["last loss", loss ? fmt(loss.loss) : "—", loss ? `step ${loss.step}` : undefined],
  ];
  if (evalPass) cards.push([`pass@1, ${evalPass.summary.dataset}`, pct(evalPass.summary.overall["pass@1"]), evalPass.file]);
  const kind = data.metrics.some((r) => r.reward !== undefined) ? "GRPO run" : "pretraining run";
  return `<header>
<h1>${escapeHtml(data.name)}</h1>
<div class="muted">${kind} · ${escapeHtml(data.dir)}</div>
<div class="cards">${cards.map(([k, v, sub]) => `<div class="card"><div class="k">${escapeHtml(k)}</div><div class="v">${escapeHtml(v)}</div>${sub ? `<div class="muted">${escapeHtml(sub)}</div>` : ""}</div>`).join("")}</div>
</header>`;
}

function notesSection(skipped: string[], notes: string[]): string {
  if (!skipped.length && !notes.length) return "";
  const list = (title: string, items: string[]) => (items.length ? `<div class="muted">${title}</div><ul class="notes">${items.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul>` : "");
  return `<section id="notes">${list("Not plotted:", skipped)}${list("Skipped while reading the run:", notes)}</section>`;
}

function chartSection(title: string, charts: Chart[], id: string): string {
  if (!charts.length) return "";
  return `<section id="${id}"><h2>${escapeHtml(title)}</h2><div class="grid">${charts.map((c) => panel(c, id === "heatmaps")).join("\n")}</div></section>`;
}

function panel(c: Chart, wide = false): string {
  const caption = c.caption ? `<div class="caption">${escapeHtml(c.caption)}</div>` : "";
  return `<div class="panel${wide ? " wide" : ""}"><h3>${escapeHtml(c.title)}</h3>${caption}<div class="chart" id="${escapeHtml(c.id)}"></div></div>`;
}

function evalSection(evals: RunData["evals"], charts: (Chart | null)[]): string {
  if (!evals.length) return "";
  const blocks = evals.map(({ file, summary }, i) => {
    const chart = charts[i];
    return `<div class="eval"><h3>${escapeHtml(summary.dataset)}</h3>
<div class="muted">${escapeHtml(`${file} · model ${summary.model} · k = ${summary.k} · temperature ${summary.temperature}`)}</div>
${statsTable(summary)}${chart ? `<div class="grid">${panel(chart)}</div>` : ""}</div>`;
  });
  return `<section id="evals"><h2>Evaluations</h2>${blocks.join("\n")}</section>`;
}

/** Overall, then by level, then by subject: one row per group. */
function statsTable(s: EvalSummary): string {
  const ks = Object.keys(s.overall["pass@k"]).filter((k) => k !== "1").sort((a, b) => Number(a) - Number(b));
  const numeric = (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true });
  const groups: [string, EvalStats][] = [
    ["overall", s.overall],
    ...Object.keys(s.by_level).sort(numeric).map((l): [string, EvalStats] => [`level ${l}`, s.by_level[l]]),
    ...Object.keys(s.by_subject).sort(numeric).map((k): [string, EvalStats] => [k, s.by_subject[k]]),
  ];
  const head = ["group", "n", "pass@1", "95% CI", ...ks.map((k) => `pass@${k}`), `maj@${s.k}`, "mean tokens", "truncated"];
  const row = ([name, st]: [string, EvalStats]) => {
    const cells = [String(st.n), pct(st["pass@1"]), `${pct(st["pass@1_ci95"][0])} – ${pct(st["pass@1_ci95"][1])}`, ...ks.map((k) => (st["pass@k"][k] === undefined ? "—" : pct(st["pass@k"][k]))), st["maj@k"] === null ? "—" : pct(st["maj@k"]), fmt(st.mean_tokens), pct(st.truncation_rate)];
    return `<tr><td class="text">${escapeHtml(name)}</td>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`;
  };
  return `<table><thead><tr>${head.map((h, i) => `<th${i === 0 ? ' class="text"' : ""}>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>${groups.map(row).join("")}</tbody></table>`;
}

function completionsSection(data: RunData): string {
  if (!data.completions.length) return `<section id="completions"><h2>Sample completions</h2><div class="muted">No completions tables in ${escapeHtml(data.dir)}/completions/.</div></section>`;
  const head = ["prompt", "completion", ...data.verifiers, "reward", "advantage", "truncated"];
  const width = head.length;
  const rows: string[] = [];
  let step: number | undefined;
  let prompt: string | undefined;
  for (const c of data.completions) {
    if (c.step !== step) rows.push(`<tr class="group"><td colspan="${width}">step ${c.step}</td></tr>`);
    rows.push(completionRow(c, data.verifiers, c.step === step && c.prompt === prompt));
    step = c.step;
    prompt = c.prompt;
  }
  return `<section id="completions"><h2>Sample completions</h2>
<div class="muted">The first rows of the newest completions tables (completions/step-*.arrow); a group shares its prompt.</div>
<table><thead><tr>${head.map((h, i) => `<th${i < 2 ? ' class="text"' : ""}>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>${rows.join("\n")}</tbody></table></section>`;
}

function completionRow(c: CompletionRow, verifiers: string[], samePrompt: boolean): string {
  const promptCell = samePrompt ? `<td class="text same">same prompt</td>` : textCell(c.prompt);
  const sign = c.advantage === null || c.advantage === 0 ? "" : c.advantage > 0 ? "pos" : "neg";
  const cells = [...verifiers.map((v) => opt(c.rewards[v])), opt(c.reward)].map((v) => `<td>${v}</td>`).join("");
  return `<tr>${promptCell}${textCell(c.completion)}${cells}<td class="${sign}">${opt(c.advantage)}</td><td>${c.truncated === null ? "—" : c.truncated ? "yes" : ""}</td></tr>`;
}

function textCell(s: string): string {
  const cut = s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}… (${s.length - MAX_TEXT} more characters)` : s;
  return `<td class="text"><pre>${escapeHtml(cut)}</pre></td>`;
}

const opt = (v: number | null | undefined): string => (v === null || v === undefined ? "—" : fmt(v));

/** Four significant digits, no trailing zeros. */
function fmt(v: number): string {
  return String(Number(v.toPrecision(4)));
}

function pct(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}
