import { notBuilt } from "./not-built.ts";

export const serveCommand = notBuilt("serve <checkpoint>", "Serve a checkpoint over an OpenAI-compatible HTTP API", 7);
