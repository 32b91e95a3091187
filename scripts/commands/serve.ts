/** `rlvr serve <checkpoint>`: an OpenAI-compatible HTTP API over a checkpoint (scripts/serve/). */
import path from "node:path";
import type { CommandModule } from "yargs";
import { initBackend, type BackendName } from "../../trainer/backend.ts";
import { CheckpointError, loadCheckpoint } from "../../trainer/model/checkpoint.ts";
import { makeTokenizer } from "../../trainer/model/tokenizer.ts";
import { startServer } from "../serve/server.ts";

interface ServeArgs {
  backend: string;
  checkpoint: string;
  host: string;
  port: number;
  "model-name"?: string;
  "max-batch": number;
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
      .option("max-batch", { type: "number", default: 32, describe: "Sequences decoded together at most" }) as never,
  handler: async (argv) => {
    const dir = argv.checkpoint;
    if (!Number.isInteger(argv.port) || argv.port < 0 || argv.port > 65535) exitWith(`--port must be an integer from 0 to 65535, got ${argv.port}`);
    if (!Number.isInteger(argv["max-batch"]) || argv["max-batch"] < 1) exitWith(`--max-batch must be a positive integer, got ${argv["max-batch"]}`);
    const backend = await initBackend(argv.backend as BackendName);
    const { model, state } = loadOrExit(dir);
    const modelName = argv["model-name"] ?? path.basename(path.resolve(dir));
    const server = await startServer({ model, tokenizer: makeTokenizer(state.model.tokenizer), modelName, host: argv.host, port: argv.port, maxBatch: argv["max-batch"] }).catch(
      (err: NodeJS.ErrnoException) => exitWith(`cannot listen on ${argv.host}:${argv.port}: ${err.code ?? err.message}`),
    );
    console.log(`rlvr serve: ${modelName} (${dir}, step ${state.step}, ${model.parameterCount} parameters, context ${model.config.context_length}) on the ${backend} backend`);
    console.log(`rlvr serve: listening on ${server.url} (OpenAI base URL ${server.url}/v1)`);
    const stop = () => {
      console.log("rlvr serve: shutting down");
      void server.close().then(() => process.exit(0));
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
