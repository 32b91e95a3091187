/**
 * Synthetic tasks with exact answers, as Math-500 rows (`problem, solution, answer, subject, level,
 * unique_id`) so the same verifiers and evaluation serve synthetic and real data. Each task's module
 * header documents its formats and levels. Rows are deterministic in the config; the split is by a
 * hash of each problem's canonical form (split.ts), so train and test never share a problem.
 * Also parses the CLI's dataset spec `synthetic:<task>[?level=3&steps=8&…]`.
 */
import { z } from "zod";
import type { Row } from "../row.ts";
import { Rng } from "../rng.ts";
import { UserError } from "../user-error.ts";
import { generateArith } from "./arith.ts";
import { chainLevel, generateChain } from "./chain.ts";
import { generateCountdown } from "./countdown.ts";
import { generateLinear } from "./linear.ts";
import { generateProgram } from "./program.ts";
import { splitOf } from "./split.ts";
import type { TaskGenerator } from "./task.ts";

/** Task name → generator. */
export const TASKS = {
  arith: generateArith,
  countdown: generateCountdown,
  linear: generateLinear,
  chain: generateChain,
  program: generateProgram,
} satisfies Record<string, TaskGenerator>;

export type TaskName = keyof typeof TASKS;
const TASK_NAMES = Object.keys(TASKS) as [TaskName, ...TaskName[]];

const Level = z.int().min(1).max(5);

export const SyntheticConfig = z.strictObject({
  task: z.enum(TASK_NAMES, {
    error: (issue) => `${issue.input === undefined ? "missing" : `unknown task ${JSON.stringify(issue.input)}`}; the tasks are ${TASK_NAMES.join(", ")}`,
  }).describe("Which generator: arith, countdown, linear, chain or program."),
  split: z.enum(["train", "test"]).default("train")
    .describe("Rows of this split only; a problem's split is fixed by the hash of its canonical form."),
  count: z.int().min(0).default(1000).describe("Rows to produce (draws of the other split are skipped)."),
  seed: z.int().default(0).describe("Fixes every draw: the same config gives the same rows."),
  level: z.union([Level, z.tuple([Level, Level])]).optional()
    .describe("Difficulty 1-5, or [min, max] to draw each row's level uniformly; default [1, 5]. Ignored by chain when steps is set."),
  steps: z.int().min(1).max(100_000).optional()
    .describe("chain only: operations per problem, overriding the level's default (2, 4, 8, 16, 32)."),
  test_percent: z.number().min(0.01).max(99.99).default(10)
    .describe("Share of canonical problems, in percent, that belong to the test split."),
  language: z.enum(["python", "javascript"]).optional()
    .describe("program only: the language of every row; unset draws one per row."),
  labeled: z.boolean().optional()
    .describe("chain only: label the operations a..z, A..Z (`a:add 3`, equation `a:7+3=10.`); at most 52 steps. Default off."),
  compact: z.boolean().optional()
    .describe("chain only, needs labeled: spell each operation as label and key (`Start at 7; a+3 b*2 c-5. Result?`), ~4 bytes an operation instead of ~9; same solution and split as the spelled-out form. Default off."),
  rc_format: z.boolean().optional()
    .describe("chain only, needs labeled: SFT rows for the reasoning cache with the last-step templates (reason from a summary, write a summary; datasets/synthetic/chain.ts); chain lengths are drawn uniformly from 1 to steps (default 16)."),
  rc_window: z.int().min(1).optional().describe("chain rc_format only: equations per reasoning target (default 4)."),
  rc_summary_share: z.number().min(0).max(1).optional().describe("chain rc_format only: share of summary-writing rows (default 0.25)."),
  rc_resume_share: z.number().min(0).max(1).optional()
    .describe("chain rc_format only: share of reasoning rows that resume from a summary (depth 1..N, uniform; the others start from the empty summary). Default: the depth is uniform in 0..N for every row. A small share makes a base that reasons well from the problem and poorly from summaries, as a model never trained on the loop."),
}).superRefine((c, ctx) => {
  if (Array.isArray(c.level) && c.level[0] > c.level[1]) {
    ctx.addIssue({ code: "custom", path: ["level"], message: `level range [${c.level}] has min above max` });
  }
  if (c.steps !== undefined && c.task !== "chain") {
    ctx.addIssue({ code: "custom", path: ["steps"], message: `steps applies to chain only, not ${c.task}` });
  }
  for (const key of ["labeled", "compact", "rc_format", "rc_window", "rc_summary_share", "rc_resume_share"] as const) {
    if (c[key] !== undefined && c.task !== "chain") ctx.addIssue({ code: "custom", path: [key], message: `${key} applies to chain only, not ${c.task}` });
  }
  if ((c.rc_window !== undefined || c.rc_summary_share !== undefined || c.rc_resume_share !== undefined) && !c.rc_format) {
    ctx.addIssue({ code: "custom", path: ["rc_format"], message: "rc_window, rc_summary_share and rc_resume_share need rc_format" });
  }
  if (c.compact && !c.labeled) ctx.addIssue({ code: "custom", path: ["compact"], message: "compact needs labeled" });
  if (c.rc_format && !c.labeled) ctx.addIssue({ code: "custom", path: ["rc_format"], message: "rc_format needs labeled" });
  if (c.labeled && c.steps !== undefined && c.steps > 52) {
    ctx.addIssue({ code: "custom", path: ["steps"], message: `labeled chains have at most 52 steps, not ${c.steps}` });
  }
  if (c.language !== undefined && c.task !== "program") {
    ctx.addIssue({ code: "custom", path: ["language"], message: `language applies to program only, not ${c.task}` });
  }
});
export type SyntheticConfig = z.infer<typeof SyntheticConfig>;

/** Misses in a row, in multiples of the expected gap between hits, before a config is declared empty. */
const MAX_GAPS = 100;

/** Rows one at a time, for counts too large to hold (e.g. long chains). */
export function* generateRows(input: z.input<typeof SyntheticConfig>): Generator<Row> {
  const config = SyntheticConfig.parse(input);
  const [lo, hi] = levelRange(config);
  const generate: TaskGenerator = TASKS[config.task];
  const taskKey = TASK_NAMES.indexOf(config.task);
  const share = config.split === "test" ? config.test_percent : 100 - config.test_percent;
  const maxMisses = MAX_GAPS * Math.ceil(100 / share);
  let made = 0, misses = 0;
  for (let draw = 0; made < config.count; draw++) {
    if (++misses > maxMisses) {
      throw new UserError(`synthetic:${config.task}: ${maxMisses} draws in a row gave no ${config.split} problem at levels ${lo}-${hi}; ` +
        `the ${config.split} split holds (almost) none of these problems: widen the levels or steps, or change test_percent (${config.test_percent})`);
    }
    // each draw has its own stream, so a row does not depend on how many draws came before it
    const rng = Rng.forKeys(config.seed, taskKey, lo, hi, config.steps ?? 0, draw);
    const p = generate(rng, lo + rng.int(hi - lo + 1), {
      steps: config.steps ?? (config.rc_format ? 16 : undefined),
      language: config.language,
      labeled: config.labeled,
      compact: config.compact,
      rcFormat: config.rc_format ? { window: config.rc_window ?? 4, summaryShare: config.rc_summary_share ?? 0.25, resumeShare: config.rc_resume_share } : undefined,
    });
    if (splitOf(p.canonical, config.test_percent) !== config.split) continue;
    misses = 0;
    yield {
      problem: p.problem,
      solution: p.solution,
      answer: p.answer,
      subject: config.task,
      level: p.level,
      unique_id: `${config.task}/${config.split}/L${p.level}/${String(made++).padStart(6, "0")}`,
      ...p.fields,
    };
  }
}

/** All `count` rows of a config. */
export function generate(input: z.input<typeof SyntheticConfig>): Row[] {
  return [...generateRows(input)];
}

/** The drawn level range; chain with explicit steps is filed under the level those steps imply. */
function levelRange(config: SyntheticConfig): [number, number] {
  if (config.task === "chain" && config.rc_format) return [1, 1]; // the row's own draw sets its length
  if (config.task === "chain" && config.steps !== undefined) return [chainLevel(config.steps), chainLevel(config.steps)];
  if (config.level === undefined) return [1, 5];
  return Array.isArray(config.level) ? config.level : [config.level, config.level];
}

const BOOLEAN_KEYS = new Set(["labeled", "compact", "rc_format"]);

/**
 * `synthetic:arith?level=3&steps=8&split=test` → a config input (validate with SyntheticConfig).
 * `level` takes `3` or a range `2-4`; numbers are parsed, `labeled`, `compact` and `rc_format` take 1/0 or
 * true/false; other values are kept as strings.
 */
export function parseDatasetSpec(spec: string): z.input<typeof SyntheticConfig> {
  const m = /^synthetic:([a-z]+)(?:\?(.*))?$/.exec(spec);
  if (!m) throw new UserError(`dataset spec ${JSON.stringify(spec)}: expected synthetic:<task>[?key=value&…], e.g. synthetic:arith?level=3`);
  const config: Record<string, unknown> = { task: m[1] };
  for (const [key, value] of new URLSearchParams(m[2] ?? "")) {
    const range = /^(\d+)-(\d+)$/.exec(value);
    config[key] = key === "level" && range ? [Number(range[1]), Number(range[2])]
      : BOOLEAN_KEYS.has(key) && /^(1|true|0|false)$/.test(value) ? value === "1" || value === "true"
      : /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  }
  return config as z.input<typeof SyntheticConfig>;
}

/** A spec string parsed and validated, with errors naming the spec. */
export function syntheticConfigFromSpec(spec: string, overrides: Partial<z.input<typeof SyntheticConfig>> = {}): SyntheticConfig {
  const parsed = SyntheticConfig.safeParse({ ...parseDatasetSpec(spec), ...overrides });
  if (!parsed.success) {
    throw new UserError(`dataset spec ${JSON.stringify(spec)}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
  }
  return parsed.data;
}
