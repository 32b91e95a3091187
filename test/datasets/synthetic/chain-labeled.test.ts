// Labeled chains and their RC-format SFT rows (datasets/synthetic/chain.ts).
import { expect, test } from "vitest";
import { CHAIN_LABELS, chainContinuation } from "../../../datasets/synthetic/chain.ts";
import { generate, parseDatasetSpec, SyntheticConfig } from "../../../datasets/synthetic/index.ts";
import { RC_TEMPLATES, renderTemplate, templateProblem } from "../../../datasets/rc-templates.ts";
import { checkEquations } from "./oracle.ts";

/** Equations of a labeled text: [label, unlabeled equation]. */
const labeledEqs = (text: string) => [...text.matchAll(/([a-zA-Z]):(-?\d+[-+*/]\d+=-?\d+)\./g)].map((m) => [m[1], m[2]]);

test("labeled chains: labels a, b, c, … on the operations and the equations, and the same arithmetic as unlabeled ones", () => {
  const rows = generate({ task: "chain", steps: 30, labeled: true, count: 20, seed: 4 });
  for (const r of rows) {
    const ops = /^Start at \d+; (.+)\. Result\?$/.exec(r.problem!)![1].split("; ");
    expect(ops.map((o) => o.slice(0, 2))).toEqual([...CHAIN_LABELS.slice(0, 30)].map((l) => `${l}:`));
    const eqs = labeledEqs(r.solution!);
    expect(eqs.map(([l]) => l).join("")).toBe(CHAIN_LABELS.slice(0, 30));
    // without labels the solution is a well-formed chain solution whose equations hold
    expect(checkEquations(r.solution!.replace(/\b[a-zA-Z]:/g, ""))).toBe(30);
    expect(r.solution!.endsWith(`\\boxed{${r.answer}}`)).toBe(true);
  }
  expect(rows[0].problem).toMatch(/^Start at \d+; a:/);
});

test("labels are off by default, so unlabeled rows are unchanged", () => {
  const plain = generate({ task: "chain", steps: 4, count: 5, seed: 4 });
  expect(plain).toEqual(generate({ task: "chain", steps: 4, count: 5, seed: 4, labeled: false }));
  for (const r of plain) expect(r.problem).not.toMatch(/[a-z]:/);
});

test("labeled chains split on their own canonical form (the 'chain-labeled:' prefix), deterministically", () => {
  const a = generate({ task: "chain", steps: 16, labeled: true, split: "test", count: 30, seed: 3 });
  expect(a).toEqual(generate({ task: "chain", steps: 16, labeled: true, split: "test", count: 30, seed: 3 }));
  const train = new Set(generate({ task: "chain", steps: 16, labeled: true, split: "train", count: 300, seed: 3 }).map((r) => r.problem));
  for (const r of a) expect(train.has(r.problem)).toBe(false);
});

test("config checks: labeled/rc_format are chain-only, at most 52 labeled steps, rc_format needs labels", () => {
  expect(SyntheticConfig.safeParse({ task: "chain", labeled: true, steps: 52 }).success).toBe(true);
  expect(SyntheticConfig.safeParse({ task: "chain", labeled: true, steps: 53 }).success).toBe(false);
  expect(SyntheticConfig.safeParse({ task: "arith", labeled: true }).success).toBe(false);
  expect(SyntheticConfig.safeParse({ task: "chain", rc_format: true }).success).toBe(false);
  expect(SyntheticConfig.safeParse({ task: "chain", labeled: true, rc_window: 4 }).success).toBe(false);
  expect(parseDatasetSpec("synthetic:chain?steps=16&labeled=1")).toEqual({ task: "chain", steps: 16, labeled: true });
  expect(parseDatasetSpec("synthetic:chain?labeled=false&rc_format=true")).toEqual({ task: "chain", labeled: false, rc_format: true });
});

test("the last-step preset passes the template rules and its summary call leaves the problem out", () => {
  const t = RC_TEMPLATES["last-step"];
  expect(templateProblem("reason", t.reason)).toBeNull();
  expect(templateProblem("summary", t.summary)).toBeNull();
  expect(t.summary).not.toContain("{problem}");
});

test("chainContinuation: the next ≤ window equations, a box when the chain ends, a leading space after a summary", () => {
  const eqs = ["a:1+1=2.", "b:2*2=4.", "c:4-1=3."];
  expect(chainContinuation(eqs, 3, 0, 2).text).toBe("a:1+1=2. b:2*2=4.");
  expect(chainContinuation(eqs, 3, 1, 2).text).toBe(" b:2*2=4. c:4-1=3. \\boxed{3}");
  expect(chainContinuation(eqs, 3, 3, 2).text).toBe(" \\boxed{3}");
  expect(chainContinuation(eqs, 3, 0, 4)).toEqual({ text: "a:1+1=2. b:2*2=4. c:4-1=3. \\boxed{3}", ends: [8, 17, 26] });
});

test("RC-format rows: reasoning from a summary (≤ 4 equations, the prompt verbatim) and summary writing (the last complete equation)", () => {
  const rows = generate({ task: "chain", labeled: true, rc_format: true, count: 600, seed: 5 });
  expect(rows).toEqual(generate({ task: "chain", labeled: true, rc_format: true, count: 600, seed: 5 }));
  const t = RC_TEMPLATES["last-step"];
  let reason = 0, summary = 0, cut = 0, boxed = 0, fromSummary = 0;
  for (const r of rows) {
    const prompt = r.sft_prompt as string;
    const ops = /^Start at \d+; (.+)\. Result\?$/.exec(r.problem!)![1].split("; ");
    expect(ops.length).toBeGreaterThanOrEqual(1);
    expect(ops.length).toBeLessThanOrEqual(16);
    const d = r.rc_depth as number;
    expect(d).toBeGreaterThanOrEqual(0);
    expect(d).toBeLessThanOrEqual(ops.length);
    if (r.rc_kind === "reason") {
      reason++;
      // prompt = I_R(problem, equation d); target = the equations after it, labelled in order
      expect(prompt.startsWith(`${r.problem}\n`)).toBe(true);
      const prev = prompt.slice(r.problem!.length + 1);
      expect(prompt).toBe(renderTemplate(t.reason, { problem: r.problem!, summary: prev }));
      if (d === 0) expect(prev).toBe("");
      else { expect(labeledEqs(prev).map(([l]) => l)).toEqual([CHAIN_LABELS[d - 1]]); fromSummary++; }
      const eqs = labeledEqs(r.solution!);
      expect(eqs.length).toBeLessThanOrEqual(4);
      expect(eqs.map(([l]) => l).join("")).toBe(CHAIN_LABELS.slice(d, d + eqs.length));
      expect(r.solution!.startsWith(d > 0 ? " " : eqs.length ? "a:" : "")).toBe(true);
      const ends = d + eqs.length === ops.length;
      expect(r.solution!.endsWith(`\\boxed{${r.answer}}`)).toBe(ends);
      if (ends) boxed++;
      else expect(eqs).toHaveLength(4);
    } else {
      summary++;
      expect(r.rc_kind).toBe("summary");
      expect(prompt).not.toContain(r.problem!);
      const m = /^Summary so far: (.*)\nReasoning: ([^]*)\nNew summary:$/.exec(prompt)!;
      expect(m).not.toBeNull();
      const shown = labeledEqs(m[2]);
      expect(shown.length).toBeLessThanOrEqual(4);
      const last = shown.at(-1);
      // the target is the last complete equation of the reasoning (the old summary when it has none)
      expect(r.solution).toBe(` ${last ? `${last[0]}:${last[1]}.` : m[1]}`);
      if (!m[2].endsWith(".") && !m[2].endsWith("}")) cut++;
    }
  }
  expect(reason).toBeGreaterThan(380);
  expect(summary).toBeGreaterThan(100);
  expect(cut).toBeGreaterThan(5);
  expect(boxed).toBeGreaterThan(50);
  expect(fromSummary).toBeGreaterThan(200);
});

test("compact chains: `a+3 b*2 …` problems with the labeled solution, canonical form and split of the spelled-out twin", () => {
  const spec = { task: "chain", steps: 16, labeled: true, split: "test", count: 40, seed: 3 } as const;
  const long = generate(spec), short = generate({ ...spec, compact: true });
  expect(short.map((r) => r.solution)).toEqual(long.map((r) => r.solution));
  expect(short.map((r) => r.answer)).toEqual(long.map((r) => r.answer));
  const key = (w: string) => w.replace(/^add /, "+").replace(/^sub /, "-").replace("double", "*2").replace("triple", "*3").replace("halve", "/2");
  for (let i = 0; i < long.length; i++) {
    const ops = /^Start at (\d+); (.+)\. Result\?$/.exec(long[i].problem!)!;
    const spelled = ops[2].split("; ").map((o) => `${o[0]}${key(o.slice(2))}`).join(" ");
    expect(short[i].problem).toBe(`Start at ${ops[1]}; ${spelled}. Result?`);
    expect(short[i].problem!.length).toBeLessThan(90);
  }
  expect(short[0].problem).toMatch(/^Start at \d+; a[-+*/]\d b[-+*/]\d /);
});

test("compact RC-format rows: the same reasoning and summary targets, compact problems in the prompt", () => {
  const cfg = { task: "chain", labeled: true, rc_format: true, rc_window: 2, steps: 8, count: 200, seed: 5 } as const;
  const long = generate(cfg), short = generate({ ...cfg, compact: true });
  expect(short.map((r) => [r.solution, r.rc_kind, r.rc_depth])).toEqual(long.map((r) => [r.solution, r.rc_kind, r.rc_depth]));
  for (const r of short) {
    expect(r.problem).toMatch(/^Start at \d+; ([a-h][-+*/]\d ?)+\. Result\?$/);
    if (r.rc_kind === "reason") expect((r.sft_prompt as string).startsWith(`${r.problem}\n`)).toBe(true);
    expect(labeledEqs(r.solution!).length).toBeLessThanOrEqual(2);
  }
});

test("config checks: compact is chain-only and needs labeled; the URL spec takes compact=1", () => {
  expect(SyntheticConfig.safeParse({ task: "chain", labeled: true, compact: true }).success).toBe(true);
  const noLabels = SyntheticConfig.safeParse({ task: "chain", compact: true });
  expect(noLabels.success).toBe(false);
  expect(noLabels.error!.issues.map((i) => [i.path.join("."), i.message])).toContainEqual(["compact", "compact needs labeled"]);
  expect(SyntheticConfig.safeParse({ task: "arith", compact: true }).success).toBe(false);
  expect(parseDatasetSpec("synthetic:chain?steps=8&labeled=1&compact=1")).toEqual({ task: "chain", steps: 8, labeled: true, compact: true });
  expect(() => generate({ task: "chain", compact: true } as never)).toThrow(/compact/);
});

test("rc_resume_share: that share of reasoning rows resumes from a summary, the rest start at depth 0; summary rows and the default are unchanged", () => {
  const base = { task: "chain", labeled: true, compact: true, rc_format: true, rc_window: 2, steps: 8, count: 2000, seed: 9 } as const;
  const uniform = generate(base);
  const resume = (share: number) => generate({ ...base, rc_resume_share: share });
  const reasoning = (rows: ReturnType<typeof generate>) => rows.filter((r) => r.rc_kind === "reason");
  const resumed = (rows: ReturnType<typeof generate>) => reasoning(rows).filter((r) => Number(r.rc_depth) > 0).length / reasoning(rows).length;
  // the default draws d uniform in 0..N, N uniform in 1..8: E[N/(N+1)] = 0.771
  expect(resumed(uniform)).toBeGreaterThan(0.72);
  expect(resumed(resume(0))).toBe(0);
  expect(resumed(resume(1))).toBe(1);
  const r10 = resume(0.1);
  // ~1,500 reasoning rows: 0.1 ± 4 binomial standard deviations (0.0077)
  expect(Math.abs(resumed(r10) - 0.1)).toBeLessThan(0.031);
  // the same problems and kinds as the default rows; summary rows are identical
  r10.forEach((row, i) => {
    expect(row.problem).toBe(uniform[i].problem);
    expect(row.rc_kind).toBe(uniform[i].rc_kind);
    if (row.rc_kind === "summary") expect(row).toEqual(uniform[i]);
    else if (Number(row.rc_depth) > 0) expect(String(row.sft_prompt).endsWith("\n")).toBe(false);
    else expect(row.sft_prompt).toBe(`${row.problem}\n`);
  });
  expect(SyntheticConfig.safeParse({ task: "chain", labeled: true, rc_resume_share: 0.1 }).success).toBe(false);
});
