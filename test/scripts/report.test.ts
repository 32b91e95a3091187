import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import zlib from "node:zlib";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ema, metricCharts, moeHeatmaps } from "../../scripts/report/charts.ts";
import { escapeHtml, inlineScript, loadEcharts, renderReport, scriptJson } from "../../scripts/report/html.ts";
import { readRun } from "../../scripts/report/run-data.ts";
import { writeCompletionsTable } from "../../trainer/completions-table.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
/** A real 6-step GRPO run (beta > 0, entropy bonus, eval every 3 steps): see test/fixtures/report/README.md. */
const FIXTURE = path.join(ROOT, "test/fixtures/report/quick-kl");
const EVIL = `21+3=24 </script><img src=x onerror="window.__pwned = 1"> <!-- & "quotes" 'too'`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-report-"));
const rlvr = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, "scripts/rlvr.mjs"), ...args], { cwd: ROOT, encoding: "utf8" });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A run directory holding only what a test writes into it. */
function runDir(name: string, metricLines: string[]): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "metrics.jsonl"), metricLines.join("\n") + "\n");
  return dir;
}

test("a GRPO run directory reads into metrics, the newest completions and its eval summaries", () => {
  const run = readRun(FIXTURE);
  expect(run.name).toBe("quick-kl");
  expect(run.notes).toEqual([]);
  expect(run.metrics.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
  expect(run.metrics.filter((m) => m["eval/accuracy"] !== undefined).map((m) => m.step)).toEqual([3, 6]);
  expect(run.verifiers).toEqual(["math", "format"]);
  expect(run.completions).toHaveLength(24);
  const c = run.completions[0];
  expect(c.step).toBe(4);
  expect(Object.keys(c.rewards)).toEqual(["math", "format"]);
  expect([typeof c.prompt, typeof c.completion, typeof c.reward, typeof c.advantage, typeof c.truncated]).toEqual(["string", "string", "number", "number", "boolean"]);
  expect(run.evals.map((e) => e.file)).toEqual(["eval/arith-test.summary.json"]);
  expect(run.evals[0].summary.overall["pass@k"]["4"]).toBe(0.225);

  const bounded = readRun(FIXTURE, { completionSteps: 2, completionsPerStep: 3 });
  expect(bounded.completions.map((r) => r.step)).toEqual([5, 5, 5, 6, 6, 6]);

  const { charts, skipped } = metricCharts(run.metrics);
  expect(charts.map((ch) => ch.id)).toEqual(["chart-reward", "chart-eval", "chart-kl", "chart-entropy", "chart-length", "chart-fractions", "chart-clip", "chart-lr", "chart-loss", "chart-grad", "chart-router", "chart-time"]);
  expect(skipped).toEqual([]);
  const heat = moeHeatmaps(run.metrics);
  expect(heat.map((h) => h.id)).toEqual(["chart-moe-load-1", "chart-moe-load-3"]);
  // x = step, y = expert, value = load: 6 steps × 4 experts, each column sums to 1
  const data = (heat[0].option.series as { data: [number, number, number][] }[])[0].data;
  expect(data).toHaveLength(24);
  expect(data.filter((d) => d[0] === 0).reduce((s, d) => s + d[2], 0)).toBeCloseTo(1, 4);
});

test("missing keys, bad lines, unreadable tables and bad summaries are skipped with notes, not errors", () => {
  const dir = runDir("pretrain-like", [
    `{"step":1,"loss":5.5,"aux_loss":0.02,"grad_norm":4.7,"learning_rate":0.00004,"epoch":0}`,
    "",
    `{"step":2,"loss":null,"grad_norm":3.1,"learning_rate":0.00008,"epoch":0}`,
    `{"step":3,"loss":5.1,"grad_norm":2.9,"learning_rate":0.00012,"eval/accuracy":0.05,"eval/pass@8":0.2}`,
    `{"step":4,"loss":4.9,"gra`,
  ]);
  fs.mkdirSync(path.join(dir, "completions"));
  fs.writeFileSync(path.join(dir, "completions/step-000003.arrow"), "not arrow");
  fs.mkdirSync(path.join(dir, "eval"));
  fs.writeFileSync(path.join(dir, "eval/old.summary.json"), JSON.stringify({ dataset: "x", model: "m", k: 4 }));
  const run = readRun(dir);
  expect(run.metrics.map((m) => m.step)).toEqual([1, 2, 3]);
  expect(run.metrics[1]).not.toHaveProperty("loss");
  expect(run.completions).toEqual([]);
  expect(run.evals).toEqual([]);
  expect(run.notes).toHaveLength(3);
  expect(run.notes[0]).toBe("metrics.jsonl:5: not a JSON object with a numeric step; skipped");
  expect(run.notes[1]).toMatch(/^completions\/step-000003\.arrow: unreadable/);
  expect(run.notes[2]).toMatch(/^eval\/old\.summary\.json: temperature: .*overall: /);

  const { charts, skipped } = metricCharts(run.metrics);
  expect(charts.map((c) => c.id)).toEqual(["chart-eval", "chart-lr", "chart-loss", "chart-grad"]);
  expect(skipped.some((s) => s.startsWith("KL to the reference: no kl"))).toBe(true);
  expect(skipped.some((s) => s.startsWith("Reward: "))).toBe(true);
  expect(moeHeatmaps(run.metrics)).toEqual([]);
  const html = renderReport(run, { echarts: "" });
  expect(html).toContain("Not plotted:");
  expect(html).toContain("metrics.jsonl:5: not a JSON object");
  expect(html).toContain("pretraining run");
});

test("long runs: heatmaps average into at most 400 columns, noisy curves get an EMA, schedules do not", () => {
  const rows = Array.from({ length: 1000 }, (_, i) => ({ step: i + 1, reward: i % 2, learning_rate: 1e-4, "moe/load/1/0": 0.25 + (i % 2) * 0.5, "moe/load/1/1": 0.75 - (i % 2) * 0.5 }));
  const [heat] = moeHeatmaps(rows);
  const x = heat.option.xAxis as { data: string[] };
  expect(x.data).toHaveLength(334); // bins of 3 steps
  expect(x.data.slice(0, 2)).toEqual(["3", "6"]);
  expect(heat.caption).toContain("each column averages consecutive steps");
  const first = (heat.option.series as { data: [number, number, number][] }[])[0].data[0];
  expect(first[2]).toBeCloseTo((0.25 + 0.75 + 0.25) / 3, 5);
  const { charts } = metricCharts(rows);
  const names = (id: string) => (charts.find((c) => c.id === id)!.option.series as { name: string }[]).map((s) => s.name);
  expect(names("chart-reward")).toEqual(["reward", "reward"]); // raw + EMA, toggled together by the legend
  expect(names("chart-lr")).toEqual(["learning_rate"]);
  expect(ema([[1, 1], [2, 1], [3, 1]])).toEqual([[1, 1], [2, 1], [3, 1]]); // debiased: a constant stays put
});

test("run text is HTML-escaped in tables and cannot end a script element", () => {
  const dir = runDir("evil", [`{"step":1,"reward":0.5}`]);
  writeCompletionsTable(path.join(dir, "completions/step-000001.arrow"), [
    { step: 1, prompt: "<b>What is 21+3?</b>", completion: EVIL, rewards: { math: 1 }, reward: 1, advantage: 0.5, truncated: false },
  ], ["math"]);
  const html = renderReport(readRun(dir));
  // ECharts' own code mentions <img; the markup before the scripts must not
  const markup = html.slice(0, html.indexOf('<script type="application/json"'));
  expect(markup).not.toContain("<img");
  expect(markup).not.toContain("<b>What");
  expect(markup).toContain(escapeHtml(EVIL));
  expect(escapeHtml(EVIL)).toBe("21+3=24 &lt;/script&gt;&lt;img src=x onerror=&quot;window.__pwned = 1&quot;&gt; &lt;!-- &amp; &quot;quotes&quot; &#39;too&#39;");
  // only the page's own three scripts close: the data block, ECharts, and the chart setup
  expect(html.match(/<\/script/gi)).toHaveLength(3);
  expect(scriptJson({ s: EVIL })).not.toContain("<");
  expect(JSON.parse(scriptJson({ s: EVIL }))).toEqual({ s: EVIL });
  expect(inlineScript(`x = "</script>"; y = "</SCRIPT>"`)).toBe(`x = "<\\/script>"; y = "<\\/SCRIPT>"`);
});

test("the page is self-contained: no src or href pointing anywhere, ECharts inlined", () => {
  const html = renderReport(readRun(FIXTURE));
  // booleans, so a failure does not print a megabyte of page
  expect(html.match(/\b(?:src|href)\s*=\s*["']?\s*(?:[a-z][\w+.-]*:|\/\/)[^\s>]*/gi)).toBeNull();
  expect(/<script[^>]*\bsrc\b/i.test(html)).toBe(false);
  expect(/<link\b/i.test(html)).toBe(false);
  expect(html.includes(loadEcharts())).toBe(true);
});

test("the CLI: the report goes to <run>/report.html by default; a missing run directory is a one-line error naming it", () => {
  const copy = path.join(tmp, "copy");
  fs.cpSync(FIXTURE, copy, { recursive: true });
  const ok = rlvr("report", copy);
  expect(ok.status).toBe(0);
  expect(ok.stdout.trim()).toBe(path.join(copy, "report.html"));
  expect(fs.readFileSync(path.join(copy, "report.html"), "utf8").startsWith("<!doctype html>")).toBe(true);

  const missing = path.join(tmp, "no-such-run");
  const r = rlvr("report", missing);
  expect(r.status).toBe(1);
  expect(r.stdout).toBe("");
  expect(r.stderr.trim()).toBe(`rlvr report: ${missing}: no such run directory`);
  const empty = path.join(tmp, "empty");
  fs.mkdirSync(empty);
  const e = rlvr("report", empty);
  expect(e.status).toBe(1);
  expect(e.stderr).toContain(`${path.join(empty, "metrics.jsonl")}: not found`);
});

/** A real (tiny) `rlvr train` run, plus an eval summary and a hostile completion, rendered through the CLI. */
describe("a real run", () => {
  let reportFile: string;
  beforeAll(() => {
    fs.writeFileSync(path.join(tmp, "live.yaml"), fs.readFileSync(path.join(ROOT, "test/fixtures/report/quick-kl.yaml"), "utf8")
      .replace("name: quick-kl", "name: live")
      .replace("base: checkpoints/arith-base", `base: ${path.join(ROOT, "checkpoints/arith-base")}`)
      .replace(/steps: 6\n/, "steps: 2\n").replace("eval_every: 3", "eval_every: 2").replace("save_every: 6", "save_every: 2")
      .replace("max_completion_length: 48", "max_completion_length: 24")
      .replace(/output_dir: .*/, `output_dir: ${tmp}`));
    const train = rlvr("train", path.join(tmp, "live.yaml"), "--backend", "wasm");
    expect(train.stderr).not.toContain("Error");
    expect(train.status).toBe(0);
    const run = path.join(tmp, "live");
    fs.cpSync(path.join(FIXTURE, "eval"), path.join(run, "eval"), { recursive: true });
    writeCompletionsTable(path.join(run, "completions/step-000099.arrow"), [
      { step: 99, prompt: "What is 21+3?", completion: EVIL, rewards: { math: 0, format: 1 }, reward: 0.1, advantage: -0.5, truncated: true },
    ], ["math", "format"]);
    reportFile = path.join(tmp, "out/live report.html");
    const r = rlvr("report", run, "--out", reportFile);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(reportFile);
  }, 90_000);

  test("the report of a real run renders every chart in headless Chromium, offline, without errors", async () => {
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      page.on("pageerror", (e) => errors.push(e.message));
      // anything but the file itself (and data: URLs ECharts makes) would mean the page needs a network
      await page.route("**/*", (route) => {
        const url = route.request().url();
        if (url.startsWith("file:") || url.startsWith("data:")) return route.continue();
        requests.push(url);
        return route.abort();
      });
      await page.goto(pathToFileURL(reportFile).href);
      const expected = await page.locator(".chart").count();
      expect(expected).toBeGreaterThanOrEqual(14); // 12 curves (all metrics present) + 2 heatmaps + eval bars
      await page.waitForFunction((n) => document.body.dataset.rendered === "true" && document.querySelectorAll(".chart canvas").length >= n
        && [...document.querySelectorAll(".chart")].every((el) => { const c = el.querySelector("canvas"); return c !== null && c.width > 0 && c.height > 0; }), expected, { timeout: 15_000 });

      // every chart's canvas has drawn something: many opaque pixels in several colours
      const drawn = await page.evaluate(() => [...document.querySelectorAll(".chart")].map((el) => {
        const c = el.querySelector("canvas")!;
        const px = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
        const colours = new Set<number>();
        let opaque = 0;
        for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0) { opaque++; colours.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]); }
        return { id: el.id, opaque: opaque / (px.length / 4), colours: colours.size };
      }));
      for (const d of drawn) {
        expect(d.opaque, d.id).toBeGreaterThan(0.005);
        expect(d.colours, d.id).toBeGreaterThan(5);
      }
      expect(drawn.map((d) => d.id)).toContain("chart-moe-load-1");

      // the hostile completion shows as text and ran nothing
      expect(await page.evaluate(() => document.querySelectorAll("img").length)).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      expect(await page.locator("#completions pre", { hasText: "</script><img" }).count()).toBe(1);
      await expect.poll(() => page.title()).toBe("rlvr report: live");

      const shot = path.join(tmp, "report.png");
      await page.screenshot({ path: shot, fullPage: true });
      expect(distinctColours(fs.readFileSync(shot))).toBeGreaterThan(50);
      expect(distinctColours(await page.locator("#chart-moe-load-1").screenshot())).toBeGreaterThan(8);
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});

/** Distinct RGB colours of an 8-bit, non-interlaced RGB/RGBA PNG (what Chromium screenshots are): a blank page has 1. */
function distinctColours(png: Buffer): number {
  expect(png.subarray(1, 4).toString()).toBe("PNG");
  let width = 0, height = 0, channels = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length;) {
    const len = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    const body = png.subarray(at + 8, at + 8 + len);
    if (type === "IHDR") {
      [width, height] = [body.readUInt32BE(0), body.readUInt32BE(4)];
      expect([body[8], body[12]]).toEqual([8, 0]); // bit depth 8, not interlaced
      channels = { 2: 3, 6: 4 }[body[9]] ?? 0;
      expect(channels).toBeGreaterThan(0);
    } else if (type === "IDAT") idat.push(body);
    at += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const prev = Buffer.alloc(stride);
  const colours = new Set<number>();
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    unfilter(filter, line, prev, channels);
    for (let x = 0; x < stride; x += channels) colours.add((line[x] << 16) | (line[x + 1] << 8) | line[x + 2]);
    line.copy(prev);
  }
  return colours.size;
}

/** PNG scanline filters 0-4, undone in place given the previous (already unfiltered) line. */
function unfilter(filter: number, line: Buffer, prev: Buffer, bpp: number): void {
  for (let i = 0; i < line.length; i++) {
    const a = i >= bpp ? line[i - bpp] : 0;
    const b = prev[i];
    const c = i >= bpp ? prev[i - bpp] : 0;
    const p = a + b - c;
    const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
    const add = [0, a, b, (a + b) >> 1, paeth][filter];
    line[i] = (line[i] + add) & 0xff;
  }
}
