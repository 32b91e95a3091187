/**
 * The `rlvr` command line: one yargs subcommand per module in scripts/commands/. Commands whose
 * issue is still open say so and exit non-zero. Usage errors and UserErrors (a bad recipe,
 * checkpoint, dataset, flag) print one line, `rlvr: <message>`; anything else is a bug and prints
 * its stack.
 */
import yargs, { type CommandModule } from "yargs";
import { hideBin } from "yargs/helpers";
import { BACKEND_NAMES } from "../trainer/backend.ts";
import { UserError } from "../datasets/user-error.ts";
import { benchCommand } from "./commands/bench.ts";
import { evalCommand } from "./commands/eval.ts";
import { pretrainCommand } from "./commands/pretrain.ts";
import { reportCommand } from "./commands/report.ts";
import { serveCommand } from "./commands/serve.ts";
import { trainCommand } from "./commands/train.ts";
import { verifyCommand } from "./commands/verify.ts";

const COMMANDS = [pretrainCommand, trainCommand, evalCommand, verifyCommand, serveCommand, reportCommand, benchCommand] as CommandModule[];
const COMMAND_NAMES = COMMANDS.map((c) => String(c.command).split(" ")[0]);

const args = hideBin(process.argv);
const cli = yargs(args)
  .scriptName("rlvr")
  .usage("$0 <command> [options]\n\nPost-train small language models with RL from verifiable rewards (GRPO) on TensorFlow.js.")
  .option("backend", {
    type: "string",
    choices: BACKEND_NAMES as unknown as string[],
    default: "auto",
    global: true,
    describe: "TensorFlow.js backend: auto = tfjs-node-gpu → tfjs-node → wasm → cpu",
  })
  .demandCommand(1, "Name a command; see rlvr --help.")
  .strict()
  .help()
  .fail((msg, err) => {
    // msg is null when a command's handler threw: that error is printed once, by the catch below
    if (msg === null || (err && !isUsageError(err))) throw err;
    console.error(`rlvr: ${usageMessage(msg)}`);
    process.exit(1);
  });
for (const command of COMMANDS) cli.command(command);

try {
  await cli.parseAsync();
} catch (err) {
  // caught here, not left to Node: the wasm backend's own uncaughtException hook would rethrow it
  // and Node would print a line of its minified source instead of our message
  console.error(err instanceof UserError ? `rlvr: ${err.message}` : ((err as Error)?.stack ?? String(err)));
  process.exit(1);
}

/** Yargs' own errors, and the plain Errors that commands' .check() functions throw for bad flags. */
function isUsageError(err: Error): boolean {
  return err instanceof UserError || err.name === "YError" || err.constructor === Error;
}

/** One line; an unknown command is named as such (strict mode would blame its flags as unknown arguments). */
function usageMessage(msg: string): string {
  const command = firstPositional(args);
  if (command !== undefined && !COMMAND_NAMES.includes(command)) {
    const guess = COMMAND_NAMES.find((name) => command.startsWith(name) || name.startsWith(command));
    msg = `unknown command "${command}"${guess ? ` (did you mean ${guess}?)` : ""}; the commands are ${COMMAND_NAMES.join(", ")}`;
  }
  const line = msg.replace(/\s*\n\s*/g, " ").trim();
  return line.includes("rlvr --help") ? line : `${line} (see rlvr --help)`;
}

/** The command word: the first argument that is neither a flag nor the value of the global --backend. */
function firstPositional(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--backend") i++;
    else if (!argv[i].startsWith("-")) return argv[i];
  }
  return undefined;
}
