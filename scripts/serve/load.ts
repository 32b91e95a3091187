/**
 * A small load probe for `rlvr serve`: how long a small request takes while a maximal one is being
 * served. It sends one maximal completion (prompts × n at the server's per-request cap, max_tokens
 * as large as the context allows), then, every --every-ms until that one is answered, a small one
 * (one prompt, a few tokens), and prints the small requests' latency p50/p99.
 *
 *   npx rlvr serve checkpoints/arith-base --port 8011 &
 *   npx tsx scripts/serve/load.ts --url http://127.0.0.1:8011
 *
 * It is a measuring tool, not a test: the test suite checks the ordering (test/scripts/serve-load.test.ts).
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:8000" },
    prompts: { type: "string", default: "2" },
    n: { type: "string", default: "128" },
    "max-tokens": { type: "string" },
    "every-ms": { type: "string", default: "250" },
    "small-tokens": { type: "string", default: "8" },
  },
});
const url = values.url.replace(/\/+$/, "").replace(/\/v1$/, "");
const post = async (body: object): Promise<{ status: number; text: string }> => {
  const r = await fetch(`${url}/v1/completions`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return { status: r.status, text: await r.text() };
};

const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string; max_model_len?: number }[] };
const { id: model, max_model_len: context = 256 } = models.data[0];
const question = "Ann has 3 pens. She buys 2 pens. How many pens now?\n";
// room for the prompt's bytes and <bos>: the most the context allows
const maxTokens = Number(values["max-tokens"] ?? context - Buffer.byteLength(question) - 1);
const prompts = Array.from({ length: Number(values.prompts) }, () => question);

const started = performance.now();
let bigDone = false;
const big = post({ model, prompt: prompts, n: Number(values.n), max_tokens: maxTokens, seed: 1 }).finally(() => (bigDone = true));
const latencies: number[] = [];
const statuses = new Map<number, number>();
const small: Promise<void>[] = [];
while (!bigDone) {
  const t0 = performance.now();
  small.push(
    post({ model, prompt: "What is 2+2?\n", max_tokens: Number(values["small-tokens"]), temperature: 0 }).then((r) => {
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.status === 200) latencies.push(performance.now() - t0);
    }),
  );
  await Promise.race([big, new Promise((r) => setTimeout(r, Number(values["every-ms"])))]);
}
const bigReply = await big;
await Promise.all(small);
const bigMs = performance.now() - started;

const sorted = latencies.sort((a, b) => a - b);
const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN);
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
console.log(`maximal request: ${prompts.length} prompts × n=${values.n}, max_tokens ${maxTokens}: HTTP ${bigReply.status} after ${s(bigMs)}`);
console.log(`small requests sent meanwhile: ${small.length} (${[...statuses].map(([k, v]) => `${v}× HTTP ${k}`).join(", ")})`);
console.log(`small-request latency: p50 ${s(pct(50))}, p99 ${s(pct(99))}, max ${s(sorted[sorted.length - 1] ?? NaN)}`);
