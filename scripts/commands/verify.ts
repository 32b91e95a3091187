import { notBuilt } from "./not-built.ts";

export const verifyCommand = notBuilt("verify", "Score completions in a JSONL file with a verifier", 5);
