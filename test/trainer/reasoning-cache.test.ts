import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Row } from "../../datasets/row.ts";
import { initBackend } from "../../trainer/backend.ts";
import { evaluate, type EvalRunSettings, type RcTurnResult } from "../../trainer/eval/evaluate.ts";
import { loadGrader, type Grader } from "../../trainer/eval/grader.ts";
import { LocalPolicy, type Generation, type Policy, type PromptRequest, type SamplingParams } from "../../trainer/policy.ts";
import { summaryPathOf } from "../../trainer/eval/results.ts";
import { saveCheckpoint } from "../../trainer/model/checkpoint.ts";
import { ByteTokenizer } from "../../trainer/model/tokenizer.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { accuracyByTurn, RcContextError, ReasoningCacheConfig, runReasoningCache, truncateToTokens } from "../../trainer/reasoning-cache.ts";
import { DEFAULT_REASON_TEMPLATE, DEFAULT_SUMMARY_TEMPLATE, renderTemplate, templateProblem } from "../../datasets/rc-templates.ts";
import { tinyConfig } from "../helpers.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-rc-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const bytes = (text: string) => new TextEncoder().encode(text).length;

interface Call {
  policy: string;
  phase: "reason" | "summary";
  prompt: string;
  key: number;
  params: SamplingParams;
}

/**
 * A scripted policy: answers each prompt with `script(prompt, key)`, records every prompt it gets,
 * counts tokens as UTF-8 bytes (our byte tokenizer) and, like a real model, reports at most
 * max_tokens generated tokens (the text may still re-encode longer, as a byte model's can).
 */
class FakePolicy implements Policy {
  readonly calls: Call[] = [];
  generateCalls = 0;
  constructor(
    readonly name: string,
    private readonly script: (prompt: string, key: number) => string,
    readonly maxContext = 100_000,
  ) {}
  promptsPerCall() {
    return 3;
  }
  countTokens(text: string) {
    return bytes(text);
  }
  async generate(requests: PromptRequest[], params: SamplingParams): Promise<Generation[][]> {
    this.generateCalls++;
    return requests.map((r) => {
      this.calls.push({ policy: this.name, phase: r.prompt.includes("New summary:") ? "summary" : "reason", prompt: r.prompt, key: r.key, params });
      return Array.from({ length: params.n }, () => {
        const text = this.script(r.prompt, r.key);
        return { text, tokens: Math.min(bytes(text), params.max_tokens), finishReason: bytes(text) >= params.max_tokens ? "length" as const : "stop" as const };
      });
    });
  }
  async close() {}
}

/**
 * The script of the state-machine tests: reasoning turn t (read from the summary "S<t−1>" after the
 * problem line) answers `R<t>/<key> \boxed{t}`; the summary of a reasoning `R<t>/…` is `S<t>`.
 */
const stateScript = (prompt: string, key: number) => {
  const reasoning = /Reasoning: R(\d+)\//.exec(prompt);
  if (prompt.includes("New summary:")) return ` S${reasoning![1]} `; // padded: the loop trims it
  const summary = /\nS(\d+)$/.exec(prompt);
  const t = summary ? Number(summary[1]) + 1 : 1;
  return `R${t}/${key} \\boxed{${t}}`;
};

const config = (over: Partial<ReasoningCacheConfig> = {}) => ReasoningCacheConfig.parse(over);
const sampling = { n: 2, temperature: 1, top_p: 1, seed: 7 };

describe("the loop, driven by a scripted policy", () => {
  test("the summary replaces the old one, the reasoning is dropped, no summary after the last turn", async () => {
    const policy = new FakePolicy("fake", stateScript);
    const problems = [{ problem: "P0", key: 0 }, { problem: "P1", key: 1 }];
    const T = 4;
    const runs = await runReasoningCache({ policy, problems, config: config({ turns: T, reason_tokens: 32, summary_tokens: 16 }), sampling });

    // one generate call per turn for the reasoning (all 4 states), one per turn but the last for summaries
    expect(policy.generateCalls).toBe(2 * T - 1);
    expect(policy.calls.filter((c) => c.phase === "reason")).toHaveLength(T * 4);
    expect(policy.calls.filter((c) => c.phase === "summary")).toHaveLength((T - 1) * 4);
    expect(policy.calls.slice(-4).every((c) => c.phase === "reason")).toBe(true); // the last calls are turn T's reasoning

    for (const [i, p] of problems.entries()) {
      for (let sample = 0; sample < 2; sample++) {
        const key = i * 2 + sample;
        const mine = policy.calls.filter((c) => c.key === key);
        const reasons = mine.filter((c) => c.phase === "reason").map((c) => c.prompt);
        const summaries = mine.filter((c) => c.phase === "summary").map((c) => c.prompt);
        // I_R(problem, s_{t−1}) with s_0 = "": the previous summary only, never an earlier reasoning
        expect(reasons).toEqual([`${p.problem}\n`, `${p.problem}\nS1`, `${p.problem}\nS2`, `${p.problem}\nS3`]);
        for (const prompt of reasons) expect(prompt).not.toMatch(/R\d\//);
        // I_S(problem, s_{t−1}, r_t): one summary (the latest, replaced not appended) and this turn's reasoning
        expect(summaries).toEqual([1, 2, 3].map((t) => `${p.problem}\nSummary so far: ${t === 1 ? "" : `S${t - 1}`}\nReasoning: R${t}/${key} \\boxed{${t}}\nNew summary:`));
        for (const [t, prompt] of summaries.entries()) expect(prompt.match(/S\d/g) ?? []).toHaveLength(t === 0 ? 0 : 1);

        const run = runs[i][sample];
        expect(run).toMatchObject({ key: i, sample });
        expect(run.turns.map((t) => [t.turn, t.summary, t.reasoning])).toEqual([1, 2, 3, 4].map((t) => [t, t === 1 ? "" : `S${t - 1}`, `R${t}/${key} \\boxed{${t}}`]));
        expect(run.turns.map((t) => t.summary_tokens)).toEqual([0, 2, 2, 2]);
        const reasoningTokens = run.turns.reduce((a, t) => a + t.reasoning_tokens, 0);
        expect(run.generated_tokens).toBe(reasoningTokens + 3 * bytes(" S1 "));
      }
    }
    // seeds: one per (turn, phase), keys per (problem, sample), n = 1 per request
    const seeds = new Set(policy.calls.map((c) => c.params.seed));
    expect(seeds.size).toBe(2 * T - 1);
    expect(policy.calls.every((c) => c.params.n === 1)).toBe(true);
    expect(policy.calls.filter((c) => c.phase === "reason").every((c) => c.params.max_tokens === 32)).toBe(true);
    expect(policy.calls.filter((c) => c.phase === "summary").every((c) => c.params.max_tokens === 16)).toBe(true);
  });

  test("T = 1 is one plain reasoning call and no summary", async () => {
    const policy = new FakePolicy("fake", stateScript);
    const runs = await runReasoningCache({ policy, problems: [{ problem: "P", key: 5 }], config: config({ turns: 1 }), sampling: { ...sampling, n: 1 } });
    expect(policy.calls.map((c) => [c.phase, c.prompt, c.key])).toEqual([["reason", "P\n", 5]]);
    expect(runs[0][0].turns).toHaveLength(1);
  });

  test("a separate summarizer writes every summary and the policy none", async () => {
    const policy = new FakePolicy("reasoner", stateScript);
    const summarizer = new FakePolicy("summarizer", (prompt) => `Z${/Reasoning: R(\d+)\//.exec(prompt)![1]}`);
    const reasonFromZ = new FakePolicy("reasoner", (prompt, key) => stateScript(prompt.replace(/\nZ(\d+)$/, "\nS$1"), key));
    await runReasoningCache({ policy: reasonFromZ, summarizer, problems: [{ problem: "P", key: 0 }], config: config({ turns: 3 }), sampling });
    expect(reasonFromZ.calls.every((c) => c.phase === "reason")).toBe(true);
    expect(reasonFromZ.calls).toHaveLength(3 * 2);
    expect(summarizer.calls.every((c) => c.phase === "summary")).toBe(true);
    expect(summarizer.calls).toHaveLength(2 * 2);
    // the summarizer's summaries are what the reasoner reads next
    expect(reasonFromZ.calls.filter((c) => c.key === 1).map((c) => c.prompt)).toEqual(["P\n", "P\nZ1", "P\nZ2"]);
    expect(policy.calls).toHaveLength(0);
  });

  test("per-turn answers and accuracy through evaluate(): the final answer is the last turn's", async () => {
    // gold 3: the turn-t answer is t, so only turn 3 is right; problem 1's gold 9 is never reached
    const rows: Row[] = [{ problem: "P0", answer: "3", unique_id: "a" }, { problem: "P1", answer: "9", unique_id: "b" }];
    const rc = { ...config({ turns: 4, reason_tokens: 32, summary_tokens: 8 }), summarizer: null };
    const settings: EvalRunSettings = { dataset: "t", model: "fake", k: 2, temperature: 1, top_p: 1, max_tokens: 16, template: "{problem}", seed: 0, api: "local", rc };
    const out = path.join(tmp, "turns.jsonl");
    // each turn is graded once; the sample's verdict reuses its last turn's (a code verifier would rerun the program)
    const math = await loadGrader("math");
    let graded = 0;
    const counting: Grader = { ...math, grade: (completion, row) => (graded++, math.grade(completion, row)) };
    const summary = await evaluate({ rows, policy: new FakePolicy("fake", stateScript), settings, grader: counting, out, resume: false });
    expect(graded).toBe(2 * 2 * 4); // problems × samples × turns
    const lines = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { index: number; correct: boolean; extracted: string; completion: string; tokens: number; turns: RcTurnResult[] });
    expect(lines).toHaveLength(4);
    for (const line of lines) {
      expect(line.turns.map((t) => t.extracted)).toEqual(["1", "2", "3", "4"]);
      expect(line.turns.map((t) => t.correct)).toEqual([false, false, line.index === 0, false]);
      expect(line.turns.map((t) => t.summary_tokens)).toEqual([0, 2, 2, 2]);
      expect(line.turns.every((t) => typeof t.context_tokens === "number" && t.context_tokens > 0)).toBe(true);
      expect(line.extracted).toBe("4"); // read from the last turn
      expect(line.correct).toBe(false);
      expect(line.completion).toBe(line.turns[3].reasoning);
      expect(line.tokens).toBe(line.turns.reduce((a, t) => a + t.reasoning_tokens, 0) + 3 * bytes(" S1 "));
    }
    expect(summary.rc).toMatchObject({ turns: 4, reason_tokens: 32, summary_tokens: 8, summarizer: null, accuracy_by_turn: [0, 0, 0.5, 0] });
    expect(JSON.parse(fs.readFileSync(summaryPathOf(out), "utf8")).rc.accuracy_by_turn).toEqual([0, 0, 0.5, 0]);
    expect(summary.overall["pass@1"]).toBe(0);

    // resume checks the RC settings too
    await expect(evaluate({ rows, policy: new FakePolicy("fake", stateScript), settings: { ...settings, rc: { ...rc, turns: 3 } }, out, resume: true })).rejects.toThrow(/--resume: rc was .*"turns":4.* but is .*"turns":3/);
    const again = await evaluate({ rows, policy: new FakePolicy("fake", stateScript), settings, out, resume: true });
    expect(again.rc!.accuracy_by_turn).toEqual([0, 0, 0.5, 0]);
  });

  test("accuracyByTurn averages samples within a problem, then problems", () => {
    const r = (index: number, ...c: boolean[]) => ({ index, turns: c.map((correct) => ({ correct })) });
    expect(accuracyByTurn([r(0, false, true), r(0, false, false), r(1, true, true)])).toEqual([0.5, 0.75]);
    expect(accuracyByTurn([])).toEqual([]);
  });
});

describe("the context bound: |template| + |problem| + H_S + H_R whatever T is", () => {
  const stripped = (template: string) => bytes(template.replace(/\{(problem|summary|reasoning)\}/g, ""));

  test("over T = 1..8 on actual token counts, with a policy whose text re-encodes longer than its tokens", async () => {
    const H_R = 24, H_S = 10;
    // 2 bytes per character, every call at its budget: the reasoning and summary texts count 2x the
    // tokens reported, so only the loop's truncation keeps the next prompts bounded
    const policy = new FakePolicy("long", (prompt) => (prompt.includes("New summary:") ? "ü".repeat(H_S) : "é".repeat(H_R)));
    const problems = [{ problem: "Start at 7; add 3; double. Result?", key: 0 }, { problem: "Start at 12; halve; sub 4; triple; add 9. Result?", key: 1 }];
    const boundR = (p: string) => stripped(DEFAULT_REASON_TEMPLATE) + bytes(p) + H_S + H_R;
    const boundS = (p: string) => stripped(DEFAULT_SUMMARY_TEMPLATE) + bytes(p) + H_S + H_R;
    const maxByT: number[] = [];
    for (let T = 1; T <= 8; T++) {
      policy.calls.length = 0;
      const runs = await runReasoningCache({ policy, problems, config: config({ turns: T, reason_tokens: H_R, summary_tokens: H_S }), sampling });
      let max = 0;
      for (const c of policy.calls) {
        const p = problems[Math.floor(c.key / sampling.n)].problem;
        const context = policy.countTokens(c.prompt) + c.params.max_tokens;
        if (c.phase === "reason") {
          expect(context).toBeLessThanOrEqual(boundR(p));
        } else {
          // the prompt fits the same bound; the call also generates the new summary (H_S more)
          expect(policy.countTokens(c.prompt)).toBeLessThanOrEqual(boundS(p));
          expect(context).toBeLessThanOrEqual(boundS(p) + H_S);
        }
        max = Math.max(max, context);
      }
      maxByT.push(max);
      for (const run of runs.flat()) {
        for (const turn of run.turns) {
          expect(bytes(turn.summary)).toBeLessThanOrEqual(H_S);
          expect(turn.context_tokens).toBeLessThanOrEqual(boundS(problems[run.key].problem) + H_S);
        }
      }
    }
    // tight and flat: T = 1 is one reasoning call; at T = 2 the only summary call has an empty old
    // summary; from T = 3 on a summary call holds a full old summary (truncated to exactly H_S), a
    // full reasoning (truncated to exactly H_R) and its own H_S, and more turns add nothing
    const longest = problems[1].problem;
    expect(maxByT[0]).toBe(stripped(DEFAULT_REASON_TEMPLATE) + bytes(longest) + H_R);
    expect(maxByT[1]).toBe(boundS(longest));
    for (const m of maxByT.slice(2)) expect(m).toBe(boundS(longest) + H_S);
  });

  test("truncateToTokens keeps the longest fitting prefix and never splits a character", () => {
    const count = (t: string) => bytes(t);
    expect(truncateToTokens("abcdef", 4, [count])).toBe("abcd");
    expect(truncateToTokens("ééé", 5, [count])).toBe("éé");
    expect(truncateToTokens("short", 10, [count])).toBe("short");
    expect(truncateToTokens("abcdef", 4, [count, (t) => 2 * t.length])).toBe("ab");
  });

  test("a bound that cannot fit the model's context fails before any call, saying what to shrink", async () => {
    const problems = [{ problem: "Start at 7; add 3. Result?", key: 3 }];
    // reasoning call: 1 + 26 + H_S 32 + H_R 64 = 123 > 100
    const small = new FakePolicy("small", stateScript, 100);
    await expect(runReasoningCache({ policy: small, problems, config: config({ turns: 2 }), sampling })).rejects.toThrow(
      /reasoning call for problem 3 may hold 123 tokens .* but small holds 100; lower --reason-tokens \(H_R = 64\) or --summary-tokens \(H_S = 32\) by 23 tokens in all, or shorten --reason-template/,
    );
    // summary call: 42 + 26 + 2·8 + 16 = 100 > 90, though reasoning (1 + 26 + 8 + 16 = 51) fits
    const err = await runReasoningCache({ policy: new FakePolicy("mid", stateScript, 90), problems, config: config({ turns: 2, reason_tokens: 16, summary_tokens: 8 }), sampling }).catch((e) => e);
    expect(err).toBeInstanceOf(RcContextError);
    expect(err.message).toMatch(/summary call for problem 3 may hold 100 tokens .* by 10 tokens in all, or shorten --summary-template/);
    // template and problem alone too long
    await expect(runReasoningCache({ policy: new FakePolicy("tiny", stateScript, 20), problems, config: config({ turns: 1, reason_tokens: 1 }), sampling })).rejects.toThrow(
      /the template and the problem alone take 27 tokens: shorten --reason-template/,
    );
    expect(small.generateCalls).toBe(0);
    // a tokenizer that is not additive slips past the up-front check: each call is checked again
    const odd = new FakePolicy("odd", stateScript, 200);
    odd.countTokens = (text: string) => bytes(text) + (/\nS\d/.test(text) ? 160 : 0);
    await expect(runReasoningCache({ policy: odd, problems, config: config({ turns: 3, reason_tokens: 16, summary_tokens: 8 }), sampling })).rejects.toThrow(
      /the turn 2 reasoning prompt of problem 3 has 189 tokens \+ 16 to generate, more than odd's context of 200/,
    );
    // T = 1 never summarizes, so only the reasoning call counts
    const one = new FakePolicy("one", stateScript, 27 + 64);
    await runReasoningCache({ policy: one, problems, config: config({ turns: 1 }), sampling });
    expect(one.generateCalls).toBe(1);
  });
});

describe("config and templates", () => {
  test("defaults, validation, and one-pass rendering", () => {
    const c = config();
    expect(c).toEqual({ turns: 4, reason_tokens: 64, summary_tokens: 32, reason_template: "{problem}\n{summary}", summary_template: "{problem}\nSummary so far: {summary}\nReasoning: {reasoning}\nNew summary:" });
    expect(() => config({ reason_template: "{problem}" })).toThrow(/reasoning template: needs both \{problem\} and \{summary\}/);
    expect(() => config({ reason_template: "{problem}{summary}{reasoning}" })).toThrow(/must not contain \{reasoning\}/);
    expect(() => config({ summary_template: "{problem} {summary}" })).toThrow(/summary template: needs \{reasoning\}/);
    expect(templateProblem("summary", "{reasoning} {summary} {summary}")).toMatch(/\{summary\} appears 2 times/);
    expect(() => ReasoningCacheConfig.parse({ turns: 0 })).toThrow();
    expect(() => ReasoningCacheConfig.parse({ horizon: 3 })).toThrow();
    // a problem that contains a placeholder is not substituted again
    expect(renderTemplate("{problem}\n{summary}", { problem: "what is {summary}?", summary: "S" })).toBe("what is {summary}?\nS");
  });
});

describe("with a real (tiny, random) model", () => {
  let model: Transformer;
  let ckpt: string;
  beforeAll(async () => {
    await initBackend("wasm");
    model = Transformer.init(tinyConfig({ vocab_size: 259, context_length: 128 }), 1);
    ckpt = saveCheckpoint(path.join(tmp, "ckpt"), model, { step: 0 });
  });
  afterAll(() => model.dispose());

  test("LocalPolicy counts tokens as its tokenizer and leaves room for <bos>", () => {
    const policy = new LocalPolicy("tiny", model, new ByteTokenizer());
    expect(policy.countTokens("aé")).toBe(3);
    expect(policy.maxContext).toBe(127);
  });

  test("the same seed gives the same transcripts, however problems are batched; another seed differs", async () => {
    const policy = new LocalPolicy("tiny", model, new ByteTokenizer());
    const problems = [{ problem: "Start at 3; add 2. Result?", key: 0 }, { problem: "Start at 9; double; sub 4. Result?", key: 1 }];
    const c = config({ turns: 3, reason_tokens: 12, summary_tokens: 6 });
    const run = (seed: number, ps = problems) => runReasoningCache({ policy, problems: ps, config: c, sampling: { n: 2, temperature: 1, top_p: 1, seed } });
    const a = await run(11);
    const b = await run(11);
    expect(b).toEqual(a);
    const apart = [...(await run(11, problems.slice(0, 1))), ...(await run(11, problems.slice(1)))];
    expect(apart).toEqual(a);
    expect(await run(12)).not.toEqual(a);
    expect(a[0][0].turns[0].reasoning).not.toBe(a[0][1].turns[0].reasoning); // samples differ
    for (const t of a.flat().flatMap((r) => r.turns)) {
      expect(t.reasoning_tokens).toBeLessThanOrEqual(12);
      expect(bytes(t.summary)).toBeLessThanOrEqual(6);
      expect(t.context_tokens).toBeLessThanOrEqual(127);
    }
  });

  test("CLI: rlvr eval --decoding rc writes per-turn fields and accuracy by turn", () => {
    const out = path.join(tmp, "cli.jsonl");
    const rlvr = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, "scripts/rlvr.mjs"), "eval", "--dataset", "synthetic:chain?steps=4&count=3", "--model", ckpt, "--backend", "wasm", ...args], { cwd: ROOT, encoding: "utf8" });
    const r = rlvr("--decoding", "rc", "--turns", "2", "--reason-tokens", "16", "--summary-tokens", "8", "--k", "2", "--out", out);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/reasoning cache: 2 turns of 16 tokens, summaries of 8/);
    expect(r.stdout).toMatch(/accuracy by turn: 1: \d+\.\d%  2: \d+\.\d%/);
    const lines = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).toHaveLength(6);
    for (const line of lines) {
      expect(line.turns).toHaveLength(2);
      for (const t of line.turns) {
        expect(Object.keys(t).sort()).toEqual(["context_tokens", "correct", "extracted", "reason", "reasoning", "reasoning_tokens", "summary", "summary_tokens", "truncated"]);
        expect(t.reasoning_tokens).toBeLessThanOrEqual(16);
        expect(t.summary_tokens).toBeLessThanOrEqual(8);
      }
      expect(line.turns[0].summary).toBe("");
      expect(line.correct).toBe(line.turns[1].correct);
    }
    const summary = JSON.parse(fs.readFileSync(summaryPathOf(out), "utf8"));
    expect(summary.rc).toMatchObject({ turns: 2, reason_tokens: 16, summary_tokens: 8, summarizer: null });
    expect(summary.rc.accuracy_by_turn).toHaveLength(2);

    const tooBig = rlvr("--decoding", "rc", "--turns", "2", "--reason-tokens", "100", "--summary-tokens", "8", "--out", path.join(tmp, "big.jsonl"));
    expect(tooBig.status).toBe(1);
    expect(tooBig.stderr).toMatch(/rlvr eval: reasoning cache: a (reasoning|summary) call for problem 0 may hold \d+ tokens .* holds 127; lower --reason-tokens \(H_R = 100\)/);
    const misuse = rlvr("--turns", "2", "--out", path.join(tmp, "misuse.jsonl"));
    expect(misuse.status).not.toBe(0);
    expect(misuse.stderr).toContain("--turns needs --decoding rc");
  });
});
