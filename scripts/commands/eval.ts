/** `rlvr eval`: Math-500 style evaluation of an rlvr checkpoint or an OpenAI-compatible endpoint. */
import path from "node:path";
import type { CommandModule } from "yargs";
import { loadRows } from "../../datasets/loaders.ts";
import type { Row } from "../../datasets/row.ts";
import { generate, syntheticConfigFromSpec } from "../../datasets/synthetic/index.ts";
import { initBackend, type BackendName, describeBackend } from "../../trainer/backend.ts";
import { ENDPOINT_DEFAULTS, EndpointError, EndpointPolicy } from "../../trainer/eval/endpoint.ts";
import { evaluate, formatSummary, type RcSettings } from "../../trainer/eval/evaluate.ts";
import { loadGrader, type Grader } from "../../trainer/eval/grader.ts";
import { LocalPolicy, type Policy } from "../../trainer/policy.ts";
import { rankCount, WorkerPool } from "../../trainer/parallel/workers.ts";
import { resolveTemplate } from "../../trainer/eval/prompts.ts";
import { ResultsError, summaryPathOf } from "../../trainer/eval/results.ts";
import { RcContextError, ReasoningCacheConfig } from "../../trainer/reasoning-cache.ts";
import { RC_TEMPLATES } from "../../datasets/rc-templates.ts";
import { CheckpointError, loadCheckpoint } from "../../trainer/model/checkpoint.ts";
import { makeTokenizer } from "../../trainer/model/tokenizer.ts";
import { terminalProgressBar } from "./progress.ts";

interface EvalArgs {
  backend: string;
  dataset: string;
  model?: string;
  endpoint?: string;
  "model-name"?: string;
  k: number;
  temperature: number;
  "top-p": number;
  "max-tokens": number;
  concurrency: number;
  out?: string;
  resume: boolean;
  template?: string;
  api: "chat" | "completion";
  "api-key-env": string;
  seed: number;
  verifier: string;
  limit?: number;
  "problem-field": string;
  "answer-field": string;
  timeout: number;
  "max-retries": number;
  decoding: "plain" | "rc";
  turns?: number;
  "reason-tokens"?: number;
  "summary-tokens"?: number;
  "reason-template"?: string;
  "summary-template"?: string;
  "summarizer-model"?: string;
  "summarizer-endpoint"?: string;
  "summarizer-model-name"?: string;
  workers: number;
}

const RC_FLAGS = ["turns", "reason-tokens", "summary-tokens", "reason-template", "summary-template", "summarizer-model", "summarizer-endpoint", "summarizer-model-name"] as const;

/** The RC settings of `--decoding rc`: flags over the config's defaults; templates by name (rlvr, last-step, instruct) or literal. */
function rcSettings(a: EvalArgs): RcSettings {
  const preset = a.endpoint ? "instruct" : "rlvr";
  const template = (kind: "reason" | "summary", value: string | undefined) =>
    value === undefined ? RC_TEMPLATES[preset][kind] : value in RC_TEMPLATES ? RC_TEMPLATES[value as keyof typeof RC_TEMPLATES][kind] : value;
  const parsed = ReasoningCacheConfig.safeParse({
    turns: a.turns,
    reason_tokens: a["reason-tokens"],
    summary_tokens: a["summary-tokens"],
    reason_template: template("reason", a["reason-template"]),
    summary_template: template("summary", a["summary-template"]),
  });
  if (!parsed.success) fail(parsed.error.issues.map((i) => `--${String(i.path[0]).replace("_", "-")}: ${i.message}`).join("; "));
  const summarizer = a["summarizer-endpoint"] ? a["summarizer-model-name"]! : a["summarizer-model"] ?? null;
  return { ...parsed.data, summarizer };
}

/** Rows of `--dataset`: a JSONL / Parquet / Arrow file, or `synthetic:<task>?…` (test split unless named). */
export async function loadEvalRows(spec: string, a: Pick<EvalArgs, "limit" | "problem-field" | "answer-field">): Promise<Row[]> {
  if (spec.startsWith("synthetic:")) {
    const rows = generate(syntheticConfigFromSpec(spec, /[?&]split=/.test(spec) ? {} : { split: "test" }));
    return a.limit ? rows.slice(0, a.limit) : rows;
  }
  const { rows, skipped } = await loadRows({ path: spec, problem_field: a["problem-field"], answer_field: a["answer-field"], limit: a.limit });
  if (skipped) console.warn(`${spec}: skipped ${skipped} malformed rows`);
  return rows;
}

/** `runs/<run>/eval/<dataset>-<step>.jsonl` for a run's checkpoint; `results/<model>-<dataset>.jsonl` otherwise. */
export function defaultOut(dataset: string, model: string, checkpoint: string | undefined): string {
  const data = dataset.startsWith("synthetic:") ? dataset.slice(10).replace(/[^\w.-]+/g, "_") : path.basename(dataset).replace(/\.[^.]*$/, "");
  if (checkpoint) {
    const parts = path.resolve(checkpoint).split(path.sep);
    const at = parts.lastIndexOf("checkpoints");
    if (at > 0 && parts[at - 2] === "runs") return path.join("runs", parts[at - 1], "eval", `${data}-${parts[at + 1]}.jsonl`);
  }
  return path.join("results", `${model.replace(/[^\w.-]+/g, "_")}-${data}.jsonl`);
}

function fail(message: string): never {
  console.error(`rlvr eval: ${message}`);
  process.exit(1);
}

/** The flag checks yargs' .check would do, here so that a bad combination is one line, not a stack. */
function checkArgs(a: EvalArgs): void {
  if (!a.model === !a.endpoint) fail("give exactly one of --model <checkpoint> or --endpoint <url>");
  if (a.endpoint && !a["model-name"]) fail("--endpoint needs --model-name");
  if (!Number.isInteger(a.k) || a.k < 1) fail("--k must be a positive integer");
  if (a.temperature < 0) fail("--temperature must be ≥ 0");
  if (!Number.isInteger(a["max-tokens"]) || a["max-tokens"] < 1) fail("--max-tokens must be a positive integer");
  if (!Number.isInteger(a.concurrency) || a.concurrency < 1) fail("--concurrency must be a positive integer");
  if (!Number.isInteger(a.workers) || a.workers < 0 || a.workers > 64) fail("--workers must be an integer from 0 (one per core) to 64");
  if (a.workers > 1 && !a.model) fail("--workers needs --model (an endpoint serves its own requests)");
  const rcFlag = RC_FLAGS.find((f) => a[f] !== undefined);
  if (a.decoding !== "rc" && rcFlag) fail(`--${rcFlag} needs --decoding rc`);
  if (a["summarizer-model"] && a["summarizer-endpoint"]) fail("give at most one of --summarizer-model <checkpoint> or --summarizer-endpoint <url>");
  if (a["summarizer-endpoint"] && !a["summarizer-model-name"]) fail("--summarizer-endpoint needs --summarizer-model-name");
  if (a["summarizer-model-name"] && !a["summarizer-endpoint"]) fail("--summarizer-model-name needs --summarizer-endpoint");
}

/**
 * The policy of --model / --endpoint, or with `which` the summarizer's (--summarizer-model / --summarizer-endpoint).
 * An endpoint is asked for its context length first (and fails here, in one line, when it cannot be reached).
 */
async function makePolicy(a: EvalArgs, warn: (line: string) => void, which: "policy" | "summarizer" = "policy"): Promise<Policy> {
  const [model, endpoint, modelName, flag] =
    which === "policy" ? [a.model, a.endpoint, a["model-name"], "--model"] : [a["summarizer-model"], a["summarizer-endpoint"], a["summarizer-model-name"], "--summarizer-model"];
  if (endpoint) {
    const envKey = process.env[a["api-key-env"]];
    const policy = new EndpointPolicy({
      ...ENDPOINT_DEFAULTS,
      baseUrl: endpoint,
      model: modelName!,
      api: a.api,
      apiKey: envKey || undefined,
      concurrency: a.concurrency,
      timeoutMs: a.timeout * 1000,
      maxRetries: a["max-retries"],
      // the reasoning-cache loop cannot carry a failed turn, so there one failure still ends the run
      sampleErrors: a.decoding === "rc" ? "throw" : "record",
      onRetry: ({ attempt, delayMs, why }) => warn(`retry ${attempt} in ${(delayMs / 1000).toFixed(1)} s: ${why}`),
    });
    let info: Awaited<ReturnType<EndpointPolicy["probe"]>>;
    try {
      info = await policy.probe();
    } catch (e) {
      if (e instanceof EndpointError) fail(e.message);
      throw e;
    }
    // not an error: some servers (llama.cpp) answer to any model name whatever they list
    const unlisted = info.models.length && !info.models.includes(modelName!) ? ` (not among the models it lists: ${info.models.join(", ")})` : "";
    const context = info.maxModelLen === null ? "context length not reported" : `context ${info.maxModelLen} tokens (max_tokens is cut to fit it)`;
    console.log(`endpoint ${endpoint}, ${which === "policy" ? "" : "summarizer "}model ${modelName}${unlisted}: ${context}`);
    return policy;
  }
  const backend = await initBackend(a.backend as BackendName);
  let loaded: ReturnType<typeof loadCheckpoint>;
  try {
    loaded = loadCheckpoint(model!);
  } catch (e) {
    if (e instanceof CheckpointError) fail(`${flag}: ${e.message}`);
    throw e;
  }
  // the summarizer, a second model, samples on the main thread only
  const workers = which === "policy" ? rankCount(a.workers) : 1;
  const pool = workers > 1 ? await WorkerPool.start(loaded.model, { workers, setting: "--workers" }) : undefined;
  console.log(`backend ${describeBackend(backend)}${pool ? `, ${workers} workers` : ""}, ${which === "policy" ? "" : "summarizer "}checkpoint ${model} (step ${loaded.state.step})`);
  return new LocalPolicy(model!, loaded.model, makeTokenizer(loaded.state.model.tokenizer), undefined, true, pool);
}

export const evalCommand: CommandModule<{ backend: string }, EvalArgs> = {
  command: "eval",
  describe: "Math-500 style evaluation (pass@1, pass@k, maj@k by subject and level) of a checkpoint or an OpenAI-compatible endpoint",
  builder: (y) =>
    y
      .option("dataset", { type: "string", demandOption: true, describe: "JSONL / Parquet / Arrow file (Math-500 fields), or synthetic:<task>?level=1-2&count=200&seed=2" })
      .option("model", { type: "string", describe: "rlvr checkpoint directory to evaluate in this process" })
      .option("endpoint", { type: "string", describe: "OpenAI-compatible base URL, e.g. http://localhost:8000/v1" })
      .option("model-name", { type: "string", describe: "The model field sent to --endpoint" })
      .option("k", { type: "number", default: 4, describe: "Samples per problem" })
      .option("temperature", { type: "number", default: 0.6 })
      .option("top-p", { type: "number", default: 1.0 })
      .option("max-tokens", { type: "number", default: 2048, describe: "Completion budget, cut to what the model's context leaves after the prompt (an rlvr model's, or the max_model_len an endpoint reports)" })
      .option("concurrency", { type: "number", default: 8, describe: "Requests in flight to --endpoint" })
      .option("out", { type: "string", describe: "Per-sample results JSONL; the summary goes beside it as .summary.json" })
      .option("resume", { type: "boolean", default: false, describe: "Continue an interrupted evaluation in --out" })
      .option("template", { type: "string", describe: "rlvr | boxed | lighteval | a string with {problem}; default rlvr for --model, boxed for --endpoint" })
      .option("api", { choices: ["chat", "completion"] as const, default: "chat" as const, describe: "Endpoint API" })
      .option("api-key-env", { type: "string", default: "OPENAI_API_KEY", describe: "Environment variable holding the endpoint's API key (never logged)" })
      .option("seed", { type: "number", default: 0 })
      .option("workers", { type: "number", default: 0, describe: "With --model: data-parallel ranks sampling each batch of problems (the main thread and workers-1 threads, one core each on wasm); the same samples for any number. 0 = one per core (at most 8) on wasm or cpu" })
      .option("verifier", { type: "string", default: "math", describe: "Grades each sample: math (the gold answer), countdown, code (runs the row's tests in the sandbox) or a verifier module; only reward 1 counts as correct" })
      .option("limit", { type: "number", describe: "Evaluate the first N problems only" })
      .option("problem-field", { type: "string", default: "problem" })
      .option("answer-field", { type: "string", default: "answer" })
      .option("timeout", { type: "number", default: 600, describe: "Seconds per endpoint request" })
      .option("max-retries", { type: "number", default: 6, describe: "Retries per endpoint request on 408/429/5xx/timeouts" })
      .option("decoding", { choices: ["plain", "rc"] as const, default: "plain" as const, describe: "plain: one completion of --max-tokens; rc: reasoning cache (trainer/REASONING-CACHE.md)" })
      .option("turns", { type: "number", describe: "rc: reasoning turns T (default 4)" })
      .option("reason-tokens", { type: "number", describe: "rc: H_R, most tokens of one reasoning turn (default 64)" })
      .option("summary-tokens", { type: "number", describe: "rc: H_S, most tokens of a summary (default 32)" })
      .option("reason-template", { type: "string", describe: "rc: I_R, rlvr | last-step | instruct | a string with {problem} and {summary}; default rlvr for --model, instruct for --endpoint" })
      .option("summary-template", { type: "string", describe: "rc: I_S, rlvr | last-step | instruct | a string with {reasoning} (and {problem}, {summary})" })
      .option("summarizer-model", { type: "string", describe: "rc: rlvr checkpoint that writes the summaries (default: the evaluated policy)" })
      .option("summarizer-endpoint", { type: "string", describe: "rc: OpenAI-compatible base URL that writes the summaries" })
      .option("summarizer-model-name", { type: "string", describe: "rc: the model field sent to --summarizer-endpoint" }) as never,
  handler: async (a) => {
    checkArgs(a);
    let template: string;
    let rows: Row[];
    try {
      template = resolveTemplate(a.template ?? (a.endpoint ? "boxed" : "rlvr"));
      rows = await loadEvalRows(a.dataset, a);
    } catch (e) {
      fail((e as Error).message);
    }
    if (!rows.length) fail(`${a.dataset}: no rows`);
    const modelName = a.endpoint ? a["model-name"]! : a.model!;
    const out = a.out ?? defaultOut(a.dataset, modelName, a.model);
    const rc = a.decoding === "rc" ? rcSettings(a) : undefined;
    let grader: Grader;
    try {
      grader = await loadGrader(a.verifier);
    } catch (e) {
      fail(`--verifier: ${(e as Error).message}`);
    }
    // on a terminal a bar with an ETA, log lines above it; piped, a line per chunk of problems
    const bar = terminalProgressBar("eval");
    const warn = (line: string) => (bar ? bar.log(line) : console.warn(line));
    const policy = await makePolicy(a, warn);
    const summarizer = rc?.summarizer ? await makePolicy(a, warn, "summarizer") : undefined;
    const settings = { dataset: a.dataset, model: modelName, k: a.k, temperature: a.temperature, top_p: a["top-p"], max_tokens: a["max-tokens"], template, seed: a.seed, api: a.endpoint ? a.api : "local", ...(a.verifier !== "math" ? { verifier: a.verifier } : {}), ...(rc ? { rc } : {}) };
    console.log(`${rows.length} problems × ${a.k} samples at temperature ${a.temperature}${rc ? `, reasoning cache: ${rc.turns} turns of ${rc.reason_tokens} tokens, summaries of ${rc.summary_tokens}` : ""} → ${out}`);
    const t0 = performance.now();
    try {
      const summary = await evaluate({
        rows,
        policy,
        summarizer,
        settings,
        grader,
        out,
        resume: a.resume,
        onProgress: (done, total, pass1) =>
          bar ? bar.update(done, total, { "pass@1": pass1 }) : console.log(`${done}/${total} problems  pass@1 so far ${(100 * pass1).toFixed(1)}%  ${((performance.now() - t0) / 1000).toFixed(0)} s`),
      }).finally(() => bar?.stop());
      const byTurn = summary.rc ? `\n\naccuracy by turn: ${summary.rc.accuracy_by_turn.map((acc, t) => `${t + 1}: ${(100 * acc).toFixed(1)}%`).join("  ")}` : "";
      console.log(`\n${formatSummary(summary)}${byTurn}\n\nresults: ${out}\nsummary: ${summaryPathOf(out)}`);
    } catch (e) {
      if (e instanceof ResultsError || e instanceof RcContextError || e instanceof EndpointError) fail(e.message);
      throw e;
    } finally {
      await policy.close();
      await summarizer?.close();
      await grader.close();
    }
  },
};
