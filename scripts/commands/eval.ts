import { notBuilt } from "./not-built.ts";

export const evalCommand = notBuilt("eval", "Math-500 style evaluation of a checkpoint or an OpenAI-compatible endpoint", 7);
