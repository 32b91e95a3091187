import type { CommandModule } from "yargs";
import type { BenchOptions } from "../bench/types.ts";
import { initBackend, matMulEngine, type BackendName } from "../../trainer/backend.ts";

const SUITES = {
  model: () => import("../bench/model.ts"),
  sampler: () => import("../bench/sampler.ts"),
  grpo: () => import("../bench/grpo.ts"),
  math: () => import("../bench/math.ts"),
  code: () => import("../bench/code.ts"),
} as const;
type Suite = keyof typeof SUITES;

export const benchCommand: CommandModule<{ backend: string }, { backend: string; quick: boolean; only: string[]; reference: boolean }> = {
  command: "bench",
  describe: "Print performance figures: model training step vs plain matMul, decode with and without KV cache, math checks/s, sandbox overhead",
  builder: (y) =>
    y
      .option("quick", { type: "boolean", default: false, describe: "Fewer repetitions: a smoke run" })
      .option("reference", { type: "boolean", default: false, describe: "grpo suite: also run the PyTorch reference (../shared/bench) in the same run" })
      .option("only", { type: "array", string: true, default: Object.keys(SUITES), choices: Object.keys(SUITES), describe: "Suites to run" }) as never,
  handler: async (argv) => {
    const opts: BenchOptions & { reference: boolean } = { quick: argv.quick, backend: argv.backend, reference: argv.reference };
    // every figure depends on where the products run: say it once, above them
    if ((await initBackend(argv.backend as BackendName)) === "wasm") console.log(`matrix products: ${matMulEngine()}`);
    for (const name of argv.only as Suite[]) {
      const suite = await SUITES[name]();
      await suite.run(opts);
    }
  },
};
