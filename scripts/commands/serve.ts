/** `rlvr serve <checkpoint>`: an OpenAI-compatible HTTP API over a checkpoint (scripts/serve/). */
import path from "node:path";
import type { CommandModule } from "yargs";
import { initBackend, type BackendName } from "../../trainer/backend.ts";
import { CheckpointError, loadCheckpoint } from "../../trainer/model/checkpoint.ts";
import { makeTokenizer } from "../../trainer/model/tokenizer.ts";
import { DEFAULT_LIMITS, startServer } from "../serve/server.ts";

interface ServeArgs {
  backend: string;
  checkpoint: string;
  host: string;
  port: number;
  "model-name"?: string;
  "max-batch": number;
  "max-sequences": number;
  "max-queue": number;
  "max-body-bytes": number;
}

export const serveCommand: CommandModule<{ backend: string }, ServeArgs> = {
  command: "serve <checkpoint>",
  describe: "Serve a checkpoint over an OpenAI-compatible HTTP API",
  builder: (y) =>
    y
      .positional("checkpoint", { type: "string", demandOption: true, describe: "Checkpoint directory (runs/<name>/checkpoints/step-…)" })
      .option("host", { type: "string", default: "127.0.0.1", describe: "Interface to listen on (0.0.0.0 for every one)" })
      .option("port", { type: "number", default: 8000, describe: "Port; 0 picks a free one (printed)" })
      .option("model-name", { type: "string", describe: "The model id clients send (default: the checkpoint directory's name)" })
      .option("max-batch", { type: "number", default: 32, describe: "Sequences decoded together at most" })
      .option("max-sequences", {
        type: "number",
        default: DEFAULT_LIMITS.maxSequences,
        describe: "Sequences one request may ask for (prompts × n, so its prompts too); more is a 400 naming the field",
      })
      .option("max-queue", {
        type: "number",
        default: DEFAULT_LIMITS.maxQueue,
        describe: "Sequences waiting for a place in the batch, all requests together (at least --max-sequences); a request past it gets 429 with Retry-After",
      })
      .option("max-body-bytes", { type: "number", default: DEFAULT_LIMITS.maxBodyBytes, describe: "Request body size limit; a larger body gets 413 before it is read in full" })
      .epilog(
        "Requests are shared fairly: each free place in the batch goes to the waiting request with the fewest sequences decoding, so a small request is not held behind a large one. " +
          "POST bodies must be Content-Type: application/json (415 otherwise).",
      ) as never,
  handler: async (argv) => {
    const dir = argv.checkpoint;
    if (!Number.isInteger(argv.port) || argv.port < 0 || argv.port > 65535) exitWith(`--port must be an integer from 0 to 65535, got ${argv.port}`);
    for (const flag of ["max-batch", "max-sequences", "max-queue", "max-body-bytes"] as const) {
      if (!Number.isInteger(argv[flag]) || argv[flag] < 1) exitWith(`--${flag} must be a positive integer, got ${argv[flag]}`);
    }
    if (argv["max-queue"] < argv["max-sequences"]) exitWith(`--max-queue (${argv["max-queue"]}) must be at least --max-sequences (${argv["max-sequences"]}), or the largest request could never be queued`);
    const backend = await initBackend(argv.backend as BackendName);
    const { model, state } = loadOrExit(dir);
    const modelName = argv["model-name"] ?? path.basename(path.resolve(dir));
    const limits = { maxSequences: argv["max-sequences"], maxQueue: argv["max-queue"], maxBodyBytes: argv["max-body-bytes"] };
    const tokenizer = makeTokenizer(state.model.tokenizer);
    const server = await startServer({ model, tokenizer, modelName, host: argv.host, port: argv.port, maxBatch: argv["max-batch"], limits }).catch(
      (err: NodeJS.ErrnoException) => exitWith(`cannot listen on ${argv.host}:${argv.port}: ${err.code ?? err.message}`),
    );
    console.log(`rlvr serve: ${modelName} (${dir}, step ${state.step}, ${model.parameterCount} parameters, context ${model.config.context_length}) on the ${backend} backend`);
    console.log(`rlvr serve: listening on ${server.url} (OpenAI base URL ${server.url}/v1)`);
    const stop = () => {
      console.log("rlvr serve: shutting down");
      void server.close().then(
        () => process.exit(0),
        (err: Error) => exitWith(`closing: ${err.message}`),
      );
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  },
};

function loadOrExit(dir: string): ReturnType<typeof loadCheckpoint> {
  try {
    return loadCheckpoint(dir);
  } catch (err) {
    if (err instanceof CheckpointError) exitWith(err.message);
    throw err;
  }
}

function exitWith(message: string): never {
  console.error(`rlvr serve: ${message}`);
  process.exit(1);
}
