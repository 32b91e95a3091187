import { afterAll, describe, expect, test } from "vitest";
import { fileURLToPath } from "node:url";
import {
  checkedVerify, loadVerifier, loadVerifiers, percentile, scoreCompletions, VerifierSpec,
  type LoadedVerifier, type WeightedVerifier,
} from "../../verifiers/registry.ts";
import type { Verifier } from "../../verifiers/types.ts";

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/verifiers/${name}`, import.meta.url));
const loaded: LoadedVerifier[] = [];
async function load(...args: Parameters<typeof loadVerifier>) {
  const v = await loadVerifier(...args);
  loaded.push(v);
  return v;
}
afterAll(async () => {
  await Promise.all(loaded.map((v) => v.close()));
});

/** A verifier whose reward is read from the row field of its own name (so tests script each reward). */
const scripted = (name: string): Verifier => ({
  name,
  verify: (_c, row) => ({ reward: row[name] as number | null, reason: row[name] === null ? "skip" : "scripted" }),
});

describe("VerifierSpec", () => {
  test("fills weight 1 and a 10 s time limit", () => {
    expect(VerifierSpec.parse({ name: "format" })).toEqual({ name: "format", weight: 1, timeout_ms: 10_000 });
  });
  test("a bad spec names the field", async () => {
    await expect(loadVerifier({ name: "format", timeout_ms: 0 })).rejects.toThrow("verifier spec: timeout_ms: Too small: expected number to be >0");
  });
  test("rejects a misspelt key", () => {
    expect(VerifierSpec.safeParse({ name: "format", timeoutMs: 5 }).success).toBe(false);
  });
});

describe("loadVerifier", () => {
  test("resolves the built-ins that need no other module", async () => {
    const names = [];
    for (const name of ["format", "overlong", "countdown"]) names.push((await load(name)).verifier.name);
    expect(names).toEqual(["format", "overlong", "countdown"]);
  });

  test("math resolves to the math grader, which judges by value (3/4 = 0.75 exactly)", async () => {
    const v = await load("math");
    const r = await checkedVerify(v, { completion: "so $\\boxed{\\frac{3}{4}}$", row: { answer: "0.75" } });
    expect([v.verifier.name, r.reward, r.reason]).toEqual(["math", 1, "equal_exact"]);
  });

  test("math refuses an option it does not know rather than ignoring it", async () => {
    await expect(loadVerifier({ name: "math", options: { strict: true } })).rejects.toThrow(
      /^verifier "math": .*strict/,
    );
  });

  test("math with boxed_only grades only the last box: an unboxed last number gets no reward", async () => {
    const [loose, strict] = [await load("math"), await load({ name: "math", options: { boxed_only: true } })];
    const truncated = { completion: "a:7+3=10. b:10*2=20", row: { answer: "20" } };
    const boxed = { completion: "a:7+3=10. b:10*2=20. \\boxed{20}", row: { answer: "20" } };
    expect((await checkedVerify(loose, truncated)).reward).toBe(1);
    const cut = await checkedVerify(strict, truncated);
    expect([cut.reward, cut.reason]).toEqual([0, "no_answer"]);
    expect((await checkedVerify(strict, boxed)).reward).toBe(1);
  });

  test("code refuses an option it does not know", async () => {
    await expect(loadVerifier({ name: "code", options: { timeout: 5 } })).rejects.toThrow(/^verifier "code": code verifier options: .*"timeout"/);
  });

  test("a name inherited from Object.prototype is not a built-in", async () => {
    await expect(loadVerifier("constructor")).rejects.toThrow('verifier "constructor": unknown name');
  });

  test("code resolves to the sandboxed runner and passes a correct program", async () => {
    const v = await load({ name: "code", options: { limits: { wallMs: 5000 } } });
    const completion = "```python\nprint(int(input()) * 2)\n```";
    const r = await checkedVerify(v, { completion, row: { language: "python", tests: { inputs: ["21\n"], outputs: ["42\n"] } } });
    expect([v.verifier.name, r.reward, r.reason]).toEqual(["code", 1, "pass"]);
  });

  test("keeps the spec's weight and time limit", async () => {
    const v = await load({ name: "countdown", weight: 0.5, timeout_ms: 250 });
    expect([v.weight, v.timeoutMs]).toEqual([0.5, 250]);
  });

  test("an unknown name lists what is accepted", async () => {
    await expect(loadVerifier("mathh")).rejects.toThrow(
      'verifier "mathh": unknown name; expected one of math, code, format, overlong, countdown, or a path to a module such as ./my_reward.ts',
    );
  });

  test("bad options for a built-in name the verifier and the field", async () => {
    await expect(loadVerifier({ name: "format", options: { tags: ["<think>"] } })).rejects.toThrow(
      'verifier "format": options.tags.0: a tag name such as think (no angle brackets)',
    );
  });

  test("a missing module file says where it looked", async () => {
    await expect(loadVerifier("./nope/my_reward.ts", { baseDir: "/tmp" })).rejects.toThrow(
      "./nope/my_reward.ts: no such file (looked for /tmp/nope/my_reward.ts)",
    );
  });

  test("a module with no verifier export is refused at load, naming the file and the accepted shapes", async () => {
    const file = fixture("bad-export.ts");
    await expect(loadVerifier(file)).rejects.toThrow(
      `${file}: no verifier export (found: helper, threshold); export one of: a default function ` +
        "(completion, row, ctx) => ({ reward, reason }), a default object { name, verify }, " +
        "or a named export `verifier` of either form",
    );
  });

  test("a TypeScript module exporting { name, verify } loads and scores in its worker", async () => {
    const v = await load(fixture("contains-answer.ts"));
    expect(v.verifier.name).toBe("contains_answer");
    const r = await checkedVerify(v, { completion: "so it is 42.", row: { answer: "42" } });
    expect(r).toMatchObject({ reward: 1, reason: "found", gold: "42" });
  });

  test("a .mjs default function is named after its file", async () => {
    const v = await load(fixture("word-count.mjs"));
    const r = await checkedVerify(v, { completion: "one two three four", row: {} });
    expect([v.verifier.name, r.reward, r.reason, r.words]).toEqual(["word-count", 0, "long", 4]);
  });

  test("a relative path resolves from baseDir", async () => {
    const v = await load("./word-count.mjs", { baseDir: fixture("") });
    expect(v.verifier.name).toBe("word-count");
  });
});

describe("loadVerifiers", () => {
  test("loads a recipe's list in order with each weight", async () => {
    const list = await loadVerifiers([{ name: "format", weight: 0.1 }, "countdown", { name: fixture("word-count.mjs"), weight: -1 }]);
    loaded.push(...list);
    expect(list.map((v) => [v.verifier.name, v.weight])).toEqual([["format", 0.1], ["countdown", 1], ["word-count", -1]]);
  });
  test("one bad entry fails the whole list with that entry's error", async () => {
    await expect(loadVerifiers(["format", "nope"])).rejects.toThrow('verifier "nope": unknown name');
  });
});

describe("crash isolation", () => {
  test("a throw and a rejection in a user module cost reward 0 with the message; the next call works", async () => {
    const v = await load(fixture("throws.ts"));
    const got = [];
    for (const completion of ["sync", "async", "ok"]) {
      const { reward, reason, error } = await checkedVerify(v, { completion, row: { id: "r7" } });
      got.push({ reward, reason, error });
    }
    expect(got).toEqual([
      { reward: 0, reason: "error: boom on r7", error: true },
      { reward: 0, reason: "error: async boom on r7", error: true },
      { reward: 1, reason: "ok", error: undefined },
    ]);
  });

  test("a synchronous infinite loop is cut off at the time limit, counted, and later calls still work", async () => {
    // the hang never ends, so any limit cuts it off; the limit only has to be roomy for "fine" on a loaded host
    const v = await load({ name: fixture("hangs.ts"), timeout_ms: 3_000 }, { workers: 1 });
    const scores = await scoreCompletions([v], ["hang", "fine", "hang", "fine"].map((completion) => ({ completion, row: {} })));
    expect(scores.reasons.hangs).toEqual(["timeout", "done", "timeout", "done"]);
    expect(scores.rewards.hangs).toEqual([0, 1, 0, 1]);
    expect(scores.metrics["verify/errors"]).toBe(2);
  });

  test("a verifier that allocates without bound loses its worker and that sample's reward, not the run", async () => {
    const v = await load({ name: fixture("hogs-memory.ts"), timeout_ms: 20_000 }, { workers: 1, heapMb: 64 });
    const scores = await scoreCompletions([v], ["hog", "fine"].map((completion) => ({ completion, row: {} })));
    expect(scores.rewards["hogs-memory"]).toEqual([0, 1]);
    expect(scores.reasons["hogs-memory"][0]).toMatch(/^error: .*memory/i);
    expect(scores.metrics["verify/errors"]).toBe(1);
  });

  test("the time limit starts when a call reaches a worker, not while it waits for one", async () => {
    // one worker, four 500 ms calls at once, 1500 ms limit: the last waits ≥ 1500 ms yet must not
    // time out; each call still has 1 s of slack for a loaded host
    const v = await load({ name: fixture("slow.ts"), timeout_ms: 1_500 }, { workers: 1 });
    const s = await scoreCompletions([v], [1, 2, 3, 4].map(() => ({ completion: "", row: { ms: 500 } })), { concurrency: 4 });
    expect(s.reasons.slow).toEqual(["slept", "slept", "slept", "slept"]);
  });

  test("a row that cannot be sent to a worker is an error for that sample only", async () => {
    const v = await load(fixture("contains-answer.ts"), { workers: 1 });
    const bad = await checkedVerify(v, { completion: "42", row: { answer: "42", hook: () => 1 } });
    const good = await checkedVerify(v, { completion: "42", row: { answer: "42" } });
    expect([bad.reward, bad.error, good.reason]).toEqual([0, true, "found"]);
    expect(bad.reason).toMatch(/^error: cannot send the row to the worker: .*could not be cloned/);
  });

  test("a result that breaks the contract is an error, not a crash", async () => {
    const v = await load(fixture("bad-result.ts"));
    const r = await checkedVerify(v, { completion: "x", row: {} });
    expect(r).toMatchObject({ reward: 0, reason: "error: verifier returned number; expected { reward, reason }", error: true });
  });

  test("in-process verifiers: a throw, a non-finite reward and a promise that never settles", async () => {
    const cases: Verifier["verify"][] = [
      () => { throw new TypeError("x is undefined"); },
      () => ({ reward: NaN, reason: "oops" }),
      () => new Promise(() => {}),
    ];
    const got = [];
    for (const verify of cases) {
      got.push((await checkedVerify({ verifier: { name: "t", verify }, weight: 1, timeoutMs: 50 }, { completion: "", row: {} })).reason);
    }
    expect(got).toEqual(["error: x is undefined", "error: reward must be a finite number or null, got NaN", "timeout"]);
  });

  test("the context carries the time limit, token counts and an abort signal that fires on timeout", async () => {
    let seen: { timeoutMs: number; completionTokens?: number; aborted?: boolean } | undefined;
    const verify: Verifier["verify"] = (_c, _r, ctx) =>
      new Promise((resolve) => ctx.signal!.addEventListener("abort", () => {
        seen = { timeoutMs: ctx.timeoutMs, completionTokens: ctx.completionTokens, aborted: ctx.signal!.aborted };
        resolve({ reward: 1, reason: "late" });
      }));
    const r = await checkedVerify({ verifier: { name: "t", verify }, weight: 1, timeoutMs: 30 }, { completion: "", row: {}, ctx: { completionTokens: 9 } });
    expect(r.reason).toBe("timeout");
    expect(seen).toEqual({ timeoutMs: 30, completionTokens: 9, aborted: true });
  });
});

describe("scoreCompletions", () => {
  const A = { verifier: scripted("a"), weight: 1 };
  const B = { verifier: scripted("b"), weight: 0.5 };
  const rows = [{ a: 1, b: 0.4 }, { a: 0, b: null }, { a: null, b: null }, { a: 1, b: 1 }];
  const samples = rows.map((row) => ({ completion: "", row }));

  test("totals are weighted sums that skip nulls; all-null samples are flagged", async () => {
    // 1·1 + 0.5·0.4 = 1.2 ; 1·0 (b skipped) = 0 ; nothing judged ; 1·1 + 0.5·1 = 1.5
    const s = await scoreCompletions([A, B], samples);
    [1.2, 0, 0, 1.5].forEach((want, i) => expect(s.total[i]).toBeCloseTo(want, 6));
    expect(s.allNull).toEqual([false, false, true, false]);
    expect(s.rewards).toEqual({ a: [1, 0, null, 1], b: [0.4, null, null, 1] });
    expect(s.reasons.b).toEqual(["scripted", "skip", "skip", "scripted"]);
  });

  test("metrics: per-verifier mean and Bessel std over judged samples, reward over samples with any judgment", async () => {
    const { metrics } = await scoreCompletions([A, B], samples);
    // a: 1, 0, 1 → mean 2/3; squared deviations 1/9 + 4/9 + 1/9 = 2/3, / (3 − 1) → std √(1/3)
    // b: 0.4, 1 → mean 0.7; (0.09 + 0.09) / 1 → std √0.18
    // totals 1.2, 0, 1.5 (the all-null sample left out) → mean 0.9; (0.09 + 0.81 + 0.36) / 2 = 0.63
    const want: Record<string, number> = {
      "rewards/a/mean": 2 / 3, "rewards/a/std": Math.sqrt(1 / 3),
      "rewards/b/mean": 0.7, "rewards/b/std": Math.sqrt(0.18),
      reward: 0.9, reward_std: Math.sqrt(0.63), "verify/errors": 0, "verify/nulls": 3,
    };
    expect(Object.keys(want).length).toBeGreaterThan(0);
    for (const [key, value] of Object.entries(want)) expect(metrics[key], key).toBeCloseTo(value, 6);
    expect(metrics["verify/time_ms_p50"]).toBeGreaterThanOrEqual(0);
    expect(metrics["verify/time_ms_p99"]).toBeGreaterThanOrEqual(metrics["verify/time_ms_p50"]);
  });

  test("the real math, format and overlong verifiers combine as hand-worked", async () => {
    const list = await loadVerifiers([
      "math",
      { name: "format", weight: 0.1, options: { tags: ["think"] } },
      { name: "overlong", options: { maxTokens: 100, bufferTokens: 20 } },
    ]);
    const s = await scoreCompletions(list, [
      { completion: "<think>2+2</think> \\boxed{4}", row: { answer: "4" }, ctx: { completionTokens: 50 } },
      { completion: "\\boxed{5}", row: { answer: "4" }, ctx: { completionTokens: 90 } },
      { completion: "<think>x</think> \\boxed{4}", row: {} },
    ]);
    // 1 + 0.1·1 + 0 = 1.1 ; 0 + 0.1·0 + (80 − 90)/20 = −0.5 ; math and overlong null → 0.1·1 = 0.1
    [1.1, -0.5, 0.1].forEach((want, i) => expect(s.total[i]).toBeCloseTo(want, 6));
    expect(s.rewards.math).toEqual([1, 0, null]);
    expect([s.reasons.format, s.reasons.overlong]).toEqual([["ok", "missing_tag", "ok"], ["within_limit", "soft_penalty", "no_length"]]);
    // math: mean(1, 0) = 0.5 ; format: mean(1, 0, 1) = 2/3 ; overlong: mean(0, −0.5) = −0.25 ; reward: 0.7/3
    const want = { "rewards/math/mean": 0.5, "rewards/format/mean": 2 / 3, "rewards/overlong/mean": -0.25, reward: 0.7 / 3, "verify/nulls": 2 };
    for (const [key, value] of Object.entries(want)) expect(s.metrics[key], key).toBeCloseTo(value, 6);
  });

  test("an erroring verifier gives 0 to the weighted sum and is counted", async () => {
    const flaky: WeightedVerifier = {
      weight: 2,
      verifier: { name: "flaky", verify: (c) => { if (c === "bad") throw new Error("nope"); return { reward: 1, reason: "ok" }; } },
    };
    const s = await scoreCompletions([A, flaky], [{ completion: "bad", row: { a: 1 } }, { completion: "good", row: { a: 0 } }]);
    // 1·1 + 2·0 = 1 ; 1·0 + 2·1 = 2
    expect([...s.total]).toEqual([1, 2]);
    expect(s.reasons.flaky).toEqual(["error: nope", "ok"]);
    expect(s.metrics["verify/errors"]).toBe(1);
  });

  test("never runs more than `concurrency` calls at once", async () => {
    let inFlight = 0;
    let peak = 0;
    const slow: Verifier = {
      name: "slow",
      verify: async () => {
        peak = Math.max(peak, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return { reward: 1, reason: "ok" };
      },
    };
    const s = await scoreCompletions([{ verifier: slow, weight: 1 }], Array.from({ length: 20 }, () => ({ completion: "", row: {} })), { concurrency: 3 });
    expect(s.total.length).toBe(20);
    expect(peak).toBe(3);
  });

  test("two verifiers with one name are refused", async () => {
    await expect(scoreCompletions([A, { verifier: scripted("a"), weight: 2 }], samples)).rejects.toThrow(
      'two verifiers are named "a"; names key the metrics rewards/<name>/…, so they must differ',
    );
  });
});

describe("percentile", () => {
  test("nearest rank: p50 of 1..5 is 3, p99 of 1..100 is 99, p99 of 1..5 is 5", () => {
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect([percentile([5, 1, 4, 2, 3], 50), percentile(hundred, 99), percentile([5, 1, 4, 2, 3], 99)]).toEqual([3, 99, 5]);
  });
});
