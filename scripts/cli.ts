/**
 * The `rlvr` command line: one yargs subcommand per module in scripts/commands/. Commands whose
 * issue is still open say so and exit non-zero. User errors print one line; bugs print a stack.
 */
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { BACKEND_NAMES } from "../trainer/backend.ts";
import { benchCommand } from "./commands/bench.ts";
import { evalCommand } from "./commands/eval.ts";
import { pretrainCommand } from "./commands/pretrain.ts";
import { reportCommand } from "./commands/report.ts";
import { serveCommand } from "./commands/serve.ts";
import { trainCommand } from "./commands/train.ts";
import { verifyCommand } from "./commands/verify.ts";

const cli = yargs(hideBin(process.argv))
  .scriptName("rlvr")
  .usage("$0 <command> [options]\n\nPost-train small language models with RL from verifiable rewards (GRPO) on TensorFlow.js.")
  .option("backend", {
    type: "string",
    choices: BACKEND_NAMES as unknown as string[],
    default: "auto",
    global: true,
    describe: "TensorFlow.js backend: auto = tfjs-node-gpu → tfjs-node → wasm → cpu",
  })
  .command(pretrainCommand as never)
  .command(trainCommand as never)
  .command(evalCommand as never)
  .command(verifyCommand as never)
  .command(serveCommand as never)
  .command(reportCommand as never)
  .command(benchCommand as never)
  .demandCommand(1, "Name a command; see rlvr --help.")
  .strict()
  .help()
  .fail((msg, err) => {
    if (err) throw err;
    console.error(`rlvr: ${msg}\n(see rlvr --help)`);
    process.exit(1);
  });

try {
  await cli.parseAsync();
} catch (err) {
  // caught here, not left to Node: the wasm backend's own uncaughtException hook would rethrow it
  // and Node would print a line of its minified source instead of our message
  const e = err as Error;
  const userError = ["CheckpointError", "RecipeError", "DatasetError", "ResultsError", "EndpointError", "RcContextError"].includes(e?.name);
  console.error(userError ? `rlvr: ${e.message}` : (e?.stack ?? String(err)));
  process.exit(1);
}
