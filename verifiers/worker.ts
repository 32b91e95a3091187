/**
 * Worker entry for a user verifier module (started by worker-pool.ts, with tsx registered so .ts
 * modules load). It imports the module, checks its export, says `ready` or `load_error`, then
 * answers one verify call at a time. Time limits are enforced from the main thread, not here.
 */
import { parentPort, workerData } from "node:worker_threads";
import { basename, extname } from "node:path";
import { pathToFileURL } from "node:url";
import type { Verifier, VerifyContext } from "./types.ts";
import type { Row } from "../datasets/row.ts";

export interface VerifyCall { id: number; completion: string; row: Row; ctx: VerifyContext }

export type WorkerReply =
  | { type: "ready"; name: string }
  | { type: "load_error"; message: string }
  | { type: "result"; id: number; result: unknown }
  | { type: "error"; id: number; message: string };

const EXPECTED_EXPORTS =
  "export one of: a default function (completion, row, ctx) => ({ reward, reason }), " +
  "a default object { name, verify }, or a named export `verifier` of either form";

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The verifier a module exports, or a description of what is wrong with its exports. */
function verifierFromModule(mod: Record<string, unknown>, file: string): Verifier | string {
  const found = mod.verifier ?? mod.default;
  if (typeof found === "function") {
    const name = basename(file, extname(file));
    return { name, verify: found as Verifier["verify"] };
  }
  if (found && typeof found === "object") {
    const { name, verify } = found as Partial<Verifier>;
    if (typeof verify !== "function") return `the exported object has no verify function; ${EXPECTED_EXPORTS}`;
    if (typeof name !== "string" || name === "") return "the exported object needs a non-empty string `name` (used in metric keys)";
    return { name, verify: verify.bind(found) };
  }
  const names = Object.keys(mod).join(", ") || "none";
  return `no verifier export (found: ${names}); ${EXPECTED_EXPORTS}`;
}

const port = parentPort!;
const file = (workerData as { file: string }).file;
let loaded: Verifier | string;
try {
  loaded = verifierFromModule(await import(pathToFileURL(file).href), file);
} catch (e) {
  loaded = `cannot load the module: ${messageOf(e)}`;
}
if (typeof loaded === "string") {
  port.postMessage({ type: "load_error", message: loaded } satisfies WorkerReply);
} else {
  const verifier = loaded;
  port.postMessage({ type: "ready", name: verifier.name } satisfies WorkerReply);
  port.on("message", async (call: VerifyCall) => {
    try {
      const result = await verifier.verify(call.completion, call.row, call.ctx);
      // postMessage throws on values it cannot clone (functions): reported like any other throw
      port.postMessage({ type: "result", id: call.id, result } satisfies WorkerReply);
    } catch (e) {
      port.postMessage({ type: "error", id: call.id, message: messageOf(e) } satisfies WorkerReply);
    }
  });
}
