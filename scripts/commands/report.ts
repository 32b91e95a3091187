import { notBuilt } from "./not-built.ts";

export const reportCommand = notBuilt("report <run>", "Write a self-contained HTML report of a run", 7);
