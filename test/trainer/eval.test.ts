import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Row } from "../../datasets/row.ts";
import { initBackend } from "../../trainer/backend.ts";
import { EndpointError, EndpointPolicy, ENDPOINT_DEFAULTS } from "../../trainer/eval/endpoint.ts";
import { equivalentAnswers, evaluate, formatSummary } from "../../trainer/eval/evaluate.ts";
import { majorityVote, passAtK, passKs, summarize, wilson, type SampleResult } from "../../trainer/eval/metrics.ts";
import type { Generation, Policy, PromptRequest, SamplingParams } from "../../trainer/policy.ts";
import { renderPrompt, resolveTemplate } from "../../trainer/eval/prompts.ts";
import { loadGrader, type Grader } from "../../trainer/eval/grader.ts";
import { configPathOf, summaryPathOf } from "../../trainer/eval/results.ts";
import { saveCheckpoint } from "../../trainer/model/checkpoint.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { tinyConfig } from "../helpers.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-eval-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;
const outFile = () => path.join(tmp, `results-${++fileNo}.jsonl`);

describe("estimators against hand-computed values", () => {
  test("unbiased pass@k (Chen et al.)", () => {
    // 1 − C(n−c, k)/C(n, k): n=5, c=2, k=2 → 1 − C(3,2)/C(5,2) = 1 − 3/10
    expect(passAtK(5, 2, 2)).toBeCloseTo(0.7, 12);
    // n=10, c=3, k=4 → 1 − C(7,4)/C(10,4) = 1 − 35/210
    expect(passAtK(10, 3, 4)).toBeCloseTo(1 - 35 / 210, 12);
    expect(passAtK(10, 3, 1)).toBeCloseTo(0.3, 12);
    expect(passAtK(4, 1, 4)).toBe(1);
    expect(passAtK(4, 0, 4)).toBe(0);
    expect(() => passAtK(2, 1, 4)).toThrow(/needs at least 4 samples/);
    expect(passKs(8)).toEqual([1, 2, 4, 8]);
    expect(passKs(6)).toEqual([1, 2, 4, 6]);
  });

  test("Wilson interval: p = 0.5 over 10 and p = 0 over 20, worked by hand", () => {
    // centre = (0.5 + z²/20)/(1 + z²/10); half = z/(1+z²/10)·sqrt(0.025 + z²/400), z = 1.959964
    const [lo, hi] = wilson(0.5, 10);
    expect(lo).toBeCloseTo(0.2366, 4);
    expect(hi).toBeCloseTo(0.7634, 4);
    // p = 0: upper bound z²/n / (1 + z²/n) = 3.8415/20 / 1.19207 = 0.16113
    const [lo0, hi0] = wilson(0, 20);
    expect(lo0).toBe(0);
    expect(hi0).toBeCloseTo(0.16113, 4);
  });

  test("majority vote clusters equivalent answers; no-answer samples do not vote; ties go to the first cluster", () => {
    expect(majorityVote(["1/2", "3", "0.5", "\\frac{1}{2}", "3"], equivalentAnswers)).toBe(0);
    expect(majorityVote([null, null, "7", null], equivalentAnswers)).toBe(2);
    expect(majorityVote([null, null], equivalentAnswers)).toBe(-1);
    expect(majorityVote(["4", "5", "5", "4"], equivalentAnswers)).toBe(0);
  });

  test("summary by subject and level from hand-built samples", () => {
    const s = (index: number, sample: number, correct: boolean, extracted: string | null, subject: string, level: number, extra: Partial<SampleResult> = {}): SampleResult => ({
      id: `p${index}`, index, sample, subject, level, completion: "", extracted, correct, reason: correct ? "equal_exact" : "not_equal", tokens: 10, truncated: false, ...extra,
    });
    const results = [
      // p0 (Algebra, 1): 1 of 4 correct, majority wrong ("2" twice)
      s(0, 0, true, "1", "Algebra", 1), s(0, 1, false, "2", "Algebra", 1), s(0, 2, false, "2", "Algebra", 1), s(0, 3, false, null, "Algebra", 1, { truncated: true, tokens: 30 }),
      // p1 (Algebra, 2): 3 of 4 correct, majority right
      s(1, 0, true, "5", "Algebra", 2), s(1, 1, true, "5", "Algebra", 2), s(1, 2, false, "6", "Algebra", 2), s(1, 3, true, "5.0", "Algebra", 2),
      // p2 (Geometry, 1): none correct
      s(2, 0, false, "9", "Geometry", 1), s(2, 1, false, "8", "Geometry", 1), s(2, 2, false, "8", "Geometry", 1), s(2, 3, false, "7", "Geometry", 1),
    ];
    const sum = summarize(results.reverse(), equivalentAnswers);
    expect(sum.overall.n).toBe(3);
    expect(sum.overall.k).toBe(4);
    expect(sum.overall["pass@1"]).toBeCloseTo((0.25 + 0.75 + 0) / 3, 12);
    // pass@2: p0 1 − C(3,2)/C(4,2) = 0.5; p1 1 − 0 = 1; p2 0
    expect(sum.overall["pass@k"]["2"]).toBeCloseTo(0.5, 12);
    expect(sum.overall["pass@k"]["4"]).toBeCloseTo(2 / 3, 12);
    expect(sum.overall["maj@k"]).toBeCloseTo(1 / 3, 12);
    expect(sum.overall.mean_tokens).toBeCloseTo((11 * 10 + 30) / 12, 12);
    expect(sum.overall.truncation_rate).toBeCloseTo(1 / 12, 12);
    expect(Object.keys(sum.by_subject)).toEqual(["Algebra", "Geometry"]);
    expect(sum.by_subject.Algebra["pass@1"]).toBeCloseTo(0.5, 12);
    expect(sum.by_subject.Algebra["maj@k"]).toBeCloseTo(0.5, 12);
    expect(sum.by_level["1"].n).toBe(2);
    expect(sum.by_level["1"]["pass@1"]).toBeCloseTo(0.125, 12);
    expect(sum.by_level["2"]["pass@1"]).toBeCloseTo(0.75, 12);
    const [lo, hi] = sum.overall["pass@1_ci95"];
    expect(lo).toBeLessThan(1 / 3);
    expect(hi).toBeGreaterThan(1 / 3);
  });
});

test("templates: names, literal strings with {problem}, and a clear error otherwise", () => {
  expect(renderPrompt(resolveTemplate("rlvr"), { problem: "1+1?" })).toBe("1+1?\n");
  expect(renderPrompt(resolveTemplate("boxed"), { problem: "1+1?" })).toContain("\\boxed{}");
  expect(renderPrompt(resolveTemplate("Q: {problem} A:"), { problem: "x" })).toBe("Q: x A:");
  expect(() => resolveTemplate("nonsense")).toThrow(/no \{problem\} placeholder/);
});

/**
 * A scripted policy: answers problem i's sample j with a fixed text that is right when (i + j) % 3
 * == 0, and can be told to crash after some calls (a killed evaluation).
 */
class ScriptedPolicy implements Policy {
  readonly name = "scripted";
  calls = 0;
  prompts: number[] = [];
  constructor(private readonly crashAfterCalls = Infinity) {}
  promptsPerCall() {
    return 2;
  }
  async generate(requests: PromptRequest[], params: SamplingParams): Promise<Generation[][]> {
    if (this.calls++ >= this.crashAfterCalls) throw new Error("killed");
    this.prompts.push(...requests.map((r) => r.key));
    return requests.map((r) => Array.from({ length: params.n }, (_, j) => ({
      text: `so \\boxed{${(r.key + j) % 3 === 0 ? r.key * 2 : 999}}`,
      tokens: 5 + j,
      finishReason: "stop" as const,
    })));
  }
  async close() {}
}

const rows: Row[] = Array.from({ length: 7 }, (_, i) => ({ problem: `double ${i}`, answer: String(i * 2), unique_id: `q${i}`, subject: i % 2 ? "odd" : "even", level: 1 + (i % 3) }));
const settings = { dataset: "test", model: "scripted", k: 3, temperature: 1, top_p: 1, max_tokens: 16, template: "{problem}", seed: 0, api: "local" };
const sortedLines = (file: string) => fs.readFileSync(file, "utf8").trim().split("\n").sort();

describe("results file and --resume", () => {
  test("an interrupted evaluation resumed gives the same results as an unbroken one, nothing duplicated or lost", async () => {
    const whole = outFile();
    const unbroken = await evaluate({ rows, policy: new ScriptedPolicy(), settings, out: whole, resume: false });
    expect(unbroken.overall.n).toBe(7);

    const broken = outFile();
    await expect(evaluate({ rows, policy: new ScriptedPolicy(2), settings, out: broken, resume: false })).rejects.toThrow("killed");
    expect(fs.readFileSync(broken, "utf8").trim().split("\n")).toHaveLength(4 * 3); // two calls of two problems
    fs.appendFileSync(broken, '{"id":"q4","index":4,"sam'); // a torn write
    const again = new ScriptedPolicy();
    const resumed = await evaluate({ rows, policy: again, settings, out: broken, resume: true });
    expect(again.prompts).toEqual([4, 5, 6]); // only what was missing
    expect(sortedLines(broken)).toEqual(sortedLines(whole));
    expect(resumed.overall).toEqual(unbroken.overall);
    expect(JSON.parse(fs.readFileSync(summaryPathOf(broken), "utf8")).overall).toEqual(unbroken.overall);
  });

  test("a problem with only some of its samples written is redone, not double counted", async () => {
    const out = outFile();
    await evaluate({ rows: rows.slice(0, 2), policy: new ScriptedPolicy(), settings, out, resume: false });
    const lines = fs.readFileSync(out, "utf8").trim().split("\n");
    fs.writeFileSync(out, lines.slice(0, 4).join("\n") + "\n"); // problem 0 whole, problem 1 with one sample
    const policy = new ScriptedPolicy();
    const s = await evaluate({ rows: rows.slice(0, 2), policy, settings, out, resume: true });
    expect(policy.prompts).toEqual([1]);
    expect(fs.readFileSync(out, "utf8").trim().split("\n")).toHaveLength(6);
    expect(s.overall.n).toBe(2);
  });

  test("refuses to overwrite without --resume and to resume with other settings or another dataset", async () => {
    const out = outFile();
    await evaluate({ rows: rows.slice(0, 2), policy: new ScriptedPolicy(), settings, out, resume: false });
    await expect(evaluate({ rows, policy: new ScriptedPolicy(), settings, out, resume: false })).rejects.toThrow(/already exists: pass --resume/);
    await expect(evaluate({ rows, policy: new ScriptedPolicy(), settings: { ...settings, temperature: 0.6 }, out, resume: true })).rejects.toThrow(/temperature was 1 .* but is 0.6 now/);
    const other = rows.map((r, i) => ({ ...r, unique_id: `other${i}` }));
    await expect(evaluate({ rows: other, policy: new ScriptedPolicy(), settings, out, resume: true })).rejects.toThrow(/problem 0 is "q0" there but "other0" in the dataset/);
    expect(JSON.parse(fs.readFileSync(configPathOf(out), "utf8")).temperature).toBe(1);
  });

  test("formatSummary prints overall, levels and subjects", async () => {
    const s = await evaluate({ rows, policy: new ScriptedPolicy(), settings, out: outFile(), resume: false });
    const table = formatSummary(s);
    expect(table).toMatch(/^\s+n\s+pass@1 % \(95% CI\)\s+pass@2 %\s+pass@3 %\s+maj@3 %/);
    expect(table).toContain("level 3");
    expect(table).toContain("odd");
  });
});

/** A local OpenAI-style server whose answers to successive POSTs are scripted; GET /v1/models is a 404 (a server without the route). */
function scriptedServer(script: ((req: http.IncomingMessage, body: string, res: http.ServerResponse) => void)[]) {
  const seen: { headers: http.IncomingHttpHeaders; body: Record<string, unknown>; url: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      if (req.method === "GET") return status(404)(req, body, res);
      seen.push({ headers: req.headers, body: JSON.parse(body), url: req.url ?? "" });
      (script[seen.length - 1] ?? script[script.length - 1])(req, body, res);
    });
  });
  return new Promise<{ url: string; seen: typeof seen; close: () => void }>((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      resolve({ url: `http://127.0.0.1:${port}/v1`, seen, close: () => { server.closeAllConnections(); server.close(); } });
    });
  });
}
const ok = (content: string) => (_: http.IncomingMessage, __: string, res: http.ServerResponse) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }], usage: { prompt_tokens: 3, completion_tokens: 7, total_tokens: 10 } }));
};
const status = (code: number, headers: Record<string, string> = {}) => (_: http.IncomingMessage, __: string, res: http.ServerResponse) => {
  res.writeHead(code, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ error: { message: `failing on purpose with ${code}`, type: "server_error" } }));
};
const params: SamplingParams = { n: 1, temperature: 0.6, top_p: 1, max_tokens: 32, stop: [], seed: 3 };

describe("endpoint client", () => {
  test("retries 503, 429 (honouring Retry-After) and a hung request, then succeeds; the key is sent but never shown", async () => {
    const hang = () => {}; // never answers: the client's timeout must fire (5 s: far above a local answer even under load)
    const srv = await scriptedServer([status(503), status(429, { "retry-after": "0" }), hang, ok("\\boxed{4}")]);
    const delays: number[] = [];
    const retries: string[] = [];
    const policy = new EndpointPolicy({
      ...ENDPOINT_DEFAULTS, baseUrl: srv.url, model: "m", api: "chat", apiKey: "sk-secret-123", concurrency: 2, timeoutMs: 5000, backoffMs: 1, maxBackoffMs: 5,
      sleep: async (ms) => { delays.push(ms); },
      onRetry: (r) => retries.push(r.why),
    });
    try {
      const [[g]] = await policy.generate([{ prompt: "2+2?", key: 0 }], params);
      expect(g).toEqual({ text: "\\boxed{4}", tokens: 7, finishReason: "stop" });
      expect(srv.seen).toHaveLength(4);
      expect(retries[0]).toMatch(/HTTP 503 .*failing on purpose with 503/);
      expect(retries[1]).toMatch(/HTTP 429/);
      expect(retries[2]).toMatch(/no answer .* within 5000 ms/);
      expect(delays[1]).toBe(0); // Retry-After: 0
      expect(srv.seen[0].headers.authorization).toBe("Bearer sk-secret-123");
      expect(srv.seen[0].url).toBe("/v1/chat/completions");
      expect(srv.seen[0].body).toMatchObject({ model: "m", messages: [{ role: "user", content: "2+2?" }], n: 1, temperature: 0.6, max_tokens: 32 });
      expect(retries.join(" ")).not.toContain("sk-secret");
    } finally {
      srv.close();
    }
  });

  test("a 400 is not retried and its message is reported; giving up after max retries says so", async () => {
    const bad = await scriptedServer([status(400)]);
    const policy = (url: string, maxRetries: number) => new EndpointPolicy({ ...ENDPOINT_DEFAULTS, baseUrl: url, model: "m", api: "completion", apiKey: "sk-x", concurrency: 1, timeoutMs: 30_000, maxRetries, backoffMs: 1, maxBackoffMs: 2 });
    try {
      const err = await policy(bad.url, 5).generate([{ prompt: "p", key: 0 }], params).catch((e) => e);
      expect(err).toBeInstanceOf(EndpointError);
      expect(err.message).toMatch(/HTTP 400 from .*\/v1\/completions: failing on purpose with 400/);
      expect(err.message).not.toContain("sk-x");
      expect(bad.seen).toHaveLength(1);
    } finally {
      bad.close();
    }
    const down = await scriptedServer([status(502)]);
    try {
      await expect(policy(down.url, 2).generate([{ prompt: "p", key: 0 }], params)).rejects.toThrow(/gave up after 3 attempts: HTTP 502/);
      expect(down.seen).toHaveLength(3);
    } finally {
      down.close();
    }
  });

  test("concurrency stays within its bound; each sample gets its own seed", async () => {
    // answers are held until 3 requests are in flight (then 20 ms more, for any excess to show), so
    // the peak is reached however slowly requests arrive on a loaded machine
    let inFlight = 0, peak = 0;
    const held: (() => void)[] = [];
    const srv = await scriptedServer([(_, __, res) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      held.push(() => { inFlight--; ok("\\boxed{1}")(_, __, res); });
      if (inFlight === 3) setTimeout(() => held.splice(0).forEach((answer) => answer()), 20);
    }]);
    try {
      const policy = new EndpointPolicy({ ...ENDPOINT_DEFAULTS, baseUrl: srv.url, model: "m", api: "chat", concurrency: 3, timeoutMs: 30_000 });
      const out = await policy.generate(Array.from({ length: 4 }, (_, i) => ({ prompt: `p${i}`, key: i })), { ...params, n: 3 });
      expect(out.flat()).toHaveLength(12);
      expect(peak).toBe(3);
      expect(new Set(srv.seen.map((s) => s.body.seed)).size).toBe(12);
    } finally {
      srv.close();
    }
  });
});

describe("graders", () => {
  /** Answers each countdown row with the k fixed completions given for its key. */
  class FixedPolicy implements Policy {
    readonly name = "fixed";
    constructor(private readonly texts: string[][]) {}
    promptsPerCall() {
      return 4;
    }
    async generate(requests: PromptRequest[], params: SamplingParams): Promise<Generation[][]> {
      return requests.map((r) => this.texts[r.key].slice(0, params.n).map((text) => ({ text, tokens: 3, finishReason: "stop" as const })));
    }
    async close() {}
  }
  const countdownRows: Row[] = [
    { problem: "Use 5, 7, 1 once each to make 12.", answer: "7*1+5", numbers: [5, 7, 1], target: 12, unique_id: "c0", subject: "countdown", level: 1 },
    { problem: "Use 2, 7, 1 once each to make 14.", answer: "2/1*7", numbers: [2, 7, 1], target: 14, unique_id: "c1", subject: "countdown", level: 1 },
  ];
  // c0: another correct expression, a bare 12 (right value, numbers unused), a wrong value;
  // c1: 2*7 leaves out the 1, 7*2*1 is right, 14 is bare
  const texts = [["\\boxed{5+7*1}", "\\boxed{12}", "\\boxed{5+7+1}"], ["\\boxed{2*7}", "\\boxed{7*2*1}", "\\boxed{14}"]];

  test("--verifier countdown judges by the puzzle's rules where the math verifier only compares values", async () => {
    const math = await evaluate({ rows: countdownRows, policy: new FixedPolicy(texts), settings: { ...settings, k: 3 }, out: outFile(), resume: false });
    const grader = await loadGrader("countdown");
    try {
      const out = outFile();
      const countdown = await evaluate({ rows: countdownRows, policy: new FixedPolicy(texts), settings: { ...settings, k: 3, verifier: "countdown" }, grader, out, resume: false });
      // math: 5+7*1 and 12 equal 12; 2*7, 7*2*1 and 14 equal 14 → 5 of 6
      expect(math.overall["pass@1"]).toBeCloseTo(5 / 6, 12);
      // countdown: only 5+7*1 and 7*2*1 use each number once → 2 of 6
      expect(countdown.overall["pass@1"]).toBeCloseTo(2 / 6, 12);
      const reasons = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l).reason);
      expect(reasons).toEqual(["correct", "wrong_numbers", "wrong_value", "wrong_numbers", "correct", "wrong_numbers"]);
    } finally {
      await grader.close();
    }
  });

  test("a grader that reads no answers (code runs) gives no majority vote: maj@k is null and printed as -", async () => {
    const runsTests: Grader = { name: "runs-tests", grade: async (completion) => ({ correct: completion.includes("7"), reason: "pass", extracted: null }), close: async () => {} };
    const s = await evaluate({ rows: countdownRows, policy: new FixedPolicy(texts), settings: { ...settings, k: 3 }, grader: runsTests, out: outFile(), resume: false });
    expect(s.overall["pass@1"]).toBeCloseTo(4 / 6, 12); // the four answers with a 7
    expect(s.overall["maj@k"]).toBeNull();
    expect(formatSummary(s).split("\n")[1]).toMatch(/^overall\s+2\s.*\s-\s/);
  });

  test("an unknown verifier name is an error that names it", async () => {
    await expect(loadGrader("nope")).rejects.toThrow(/nope/);
  });
});

describe("rlvr eval (CLI)", () => {
  const rlvr = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, "scripts/rlvr.mjs"), ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, TEST_KEY: "sk-never-printed" } });
  beforeAll(async () => {
    await initBackend("wasm");
    const model = Transformer.init(tinyConfig({ vocab_size: 259, context_length: 64 }), 1);
    saveCheckpoint(path.join(tmp, "ckpt"), model, { step: 0 });
    model.dispose();
  });

  test("evaluates a checkpoint on a JSONL file; the same seed gives the same samples", () => {
    const data = path.join(tmp, "data.jsonl");
    fs.writeFileSync(data, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const out = path.join(tmp, "cli.jsonl");
    const r = rlvr("eval", "--dataset", data, "--model", path.join(tmp, "ckpt"), "--k", "2", "--max-tokens", "8", "--out", out, "--backend", "wasm");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/overall\s+7\s/);
    const lines = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).toHaveLength(14);
    expect(lines[0]).toMatchObject({ id: "q0", index: 0, sample: 0, subject: "even", level: 1, correct: false });
    expect(Object.keys(lines[0]).sort()).toEqual(["completion", "correct", "extracted", "id", "index", "level", "reason", "sample", "subject", "tokens", "truncated"]);
    const summary = JSON.parse(fs.readFileSync(summaryPathOf(out), "utf8"));
    expect(summary).toMatchObject({ k: 2, n_problems: 7, overall: { n: 7 } });
    expect(Object.keys(summary.by_level)).toEqual(["1", "2", "3"]);

    const again = path.join(tmp, "cli2.jsonl");
    expect(rlvr("eval", "--dataset", data, "--model", path.join(tmp, "ckpt"), "--k", "2", "--max-tokens", "8", "--out", again, "--backend", "wasm").status).toBe(0);
    expect(fs.readFileSync(again, "utf8")).toBe(fs.readFileSync(out, "utf8"));
  });

  test("bad invocations fail with a clear message", () => {
    const both = rlvr("eval", "--dataset", "x.jsonl", "--model", "a", "--endpoint", "http://h/v1", "--model-name", "m");
    expect(both.status).not.toBe(0);
    expect(both.stderr).toContain("give exactly one of --model <checkpoint> or --endpoint <url>");
    const spec = rlvr("eval", "--dataset", "synthetic:nope", "--model", path.join(tmp, "ckpt"));
    expect(spec.status).toBe(1);
    expect(spec.stderr).toMatch(/rlvr eval: dataset spec "synthetic:nope"/);
    const ckpt = rlvr("eval", "--dataset", "synthetic:arith?count=2", "--model", path.join(tmp, "missing"), "--out", outFile());
    expect(ckpt.status).toBe(1);
    expect(ckpt.stderr).toMatch(/rlvr eval: --model: .*missing.*not found/);
    const verifier = rlvr("eval", "--dataset", "synthetic:arith?count=2", "--model", path.join(tmp, "ckpt"), "--verifier", "nope", "--out", outFile());
    expect(verifier.status).toBe(1);
    expect(verifier.stderr).toMatch(/rlvr eval: --verifier: .*nope/);
  });

  test("against an endpoint: synthetic rows, chat API, retries logged without the key", async () => {
    const srv = await scriptedServer([status(500), ok("The answer is \\boxed{3}.")]);
    try {
      const out = outFile();
      // spawnSync would block the server in this process: run the CLI asynchronously
      const { spawn } = await import("node:child_process");
      const child = spawn(process.execPath, [path.join(ROOT, "scripts/rlvr.mjs"), "eval", "--dataset", "synthetic:arith?level=1&count=3&seed=5", "--endpoint", srv.url, "--model-name", "served", "--k", "2", "--api-key-env", "TEST_KEY", "--out", out], { cwd: ROOT, env: { ...process.env, TEST_KEY: "sk-never-printed" } });
      let stdout = "", stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const code = await new Promise((r) => child.on("close", r));
      expect(code).toBe(0);
      expect(stderr).toMatch(/retry 1 in .* HTTP 500/);
      expect(stdout + stderr).not.toContain("sk-never-printed");
      expect(srv.seen).toHaveLength(7);
      expect(srv.seen[1].headers.authorization).toBe("Bearer sk-never-printed");
      expect(String((srv.seen[1].body.messages as { content: string }[])[0].content)).toMatch(/Please reason step by step, and put your final answer within \\boxed\{\}\.$/);
      const summary = JSON.parse(fs.readFileSync(summaryPathOf(out), "utf8"));
      expect(summary.overall.n).toBe(3);
      expect(summary.overall.mean_tokens).toBe(7);
    } finally {
      srv.close();
    }
  });
});
