// The remote backend against a stand-in SandboxFusion server on 127.0.0.1 that speaks
// POST /run_code. The stand-in runs what it receives in the local sandbox, so real programs
// pass and fail through the remote path; scripted answers cover the server-side statuses.
import { createServer, type IncomingMessage, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { makeCodeVerifier } from "../../verifiers/code/index.ts";
import { DEFAULT_LIMITS, runSandboxed } from "../../verifiers/code/sandbox.ts";
import type { Row } from "../../datasets/row.ts";

interface RunCodeBody {
  code: string;
  language: string;
  stdin?: string;
  run_timeout: number;
  memory_limit_MB: number;
  files: Record<string, string>;
}

let server: Server;
let url = "";
const requests: RunCodeBody[] = [];
let scripted: Record<string, unknown> | number | null = null;

/** SandboxFusion's handler, in miniature: write code + files, run, answer {status, message, run_result}. */
async function runCode(body: RunCodeBody): Promise<Record<string, unknown>> {
  const ext = body.language === "python" ? "py" : "js";
  const files: Record<string, string> = {};
  for (const [name, b64] of Object.entries(body.files)) files[name] = Buffer.from(b64, "base64").toString("utf8");
  files[`code.${ext}`] = body.code;
  const o = await runSandboxed({
    language: body.language === "python" ? "python" : "javascript", files, entry: `code.${ext}`, stdin: body.stdin ?? "",
    limits: { ...DEFAULT_LIMITS, wallMs: body.run_timeout * 1000 }, slot: 63, // the stand-in's own uid, apart from the verifiers' slots
  });
  const status = o.status === "timeout" ? "TimeLimitExceeded" : "Finished";
  const run_result = { status, execution_time: o.wallMs / 1000, return_code: o.exitCode, stdout: o.stdout, stderr: o.stderr };
  return { status: o.exitCode === 0 && status === "Finished" ? "Success" : "Failed", message: "", compile_result: null, run_result };
}

async function readJson(req: IncomingMessage): Promise<RunCodeBody> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    if (req.method !== "POST" || req.url !== "/run_code") return void res.writeHead(404).end("not found");
    const body = await readJson(req);
    requests.push(body);
    if (typeof scripted === "number") return void res.writeHead(scripted).end("server exploded");
    const answer = scripted ?? (await runCode(body));
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const ctx = { timeoutMs: 60_000 };
// the real programs here are meant to finish: a wall no loaded host reaches (timeouts are scripted)
const verifier = () => makeCodeVerifier({ remote: { url }, limits: { wallMs: 30_000 } });
const pyRow: Row = { language: "python", tests: { assert: "assert add(2, 3) == 5" } };
const py = (code: string) => "```python\n" + code + "\n```";

describe("remote SandboxFusion backend", () => {
  test("stdin/stdout cases go out as python requests with stdin and limits in SandboxFusion units", async () => {
    requests.length = 0;
    const row: Row = { language: "python", tests: { inputs: ["2\n", "5\n"], outputs: ["4", "11"] } };
    const r = await verifier().verify(py("print(int(input()) * 2)"), row, ctx);
    expect(r).toMatchObject({ reward: 0.5, verdict: "wrong_answer", passed: 1, total: 2 });
    expect(requests.map((q) => q.stdin).sort()).toEqual(["2\n", "5\n"]);
    expect(requests[0]).toMatchObject({ language: "python", run_timeout: 30, memory_limit_MB: 512, files: {} });
    expect(requests[0].code).toBe("print(int(input()) * 2)\n");
  });

  test("an assert row sends the driver as code, the program in files and the tests on stdin, and a correct program passes", async () => {
    requests.length = 0;
    const r = await verifier().verify(py("def add(a, b):\n    return a + b"), pyRow, ctx);
    expect(r).toMatchObject({ reward: 1, verdict: "pass" });
    const main = Buffer.from(requests[0].files["main.py"], "base64").toString("utf8");
    expect(main).toBe("def add(a, b):\n    return a + b\n");
    expect(Object.keys(requests[0].files).sort()).toEqual(["main.py", "program.py"]);
    expect(requests[0].stdin).toMatch(/^rlvr-done-[0-9a-f]{32}\nassert add\(2, 3\) == 5$/);
  });

  test("javascript goes out as nodejs and an early process.exit(0) still fails", async () => {
    requests.length = 0;
    const row: Row = { language: "javascript", tests: { assert: "require('assert').strictEqual(add(2, 3), 5);" } };
    const ok = await verifier().verify("```js\nfunction add(a, b) { return a + b; }\n```", row, ctx);
    const hack = await verifier().verify("```js\nfunction add(a, b) { return 0; }\nprocess.exit(0);\n```", row, ctx);
    expect(requests[0].language).toBe("nodejs");
    expect(ok).toMatchObject({ reward: 1, verdict: "pass" });
    expect(hack).toMatchObject({ reward: 0, verdict: "runtime_error" });
  });

  test("TimeLimitExceeded maps to timeout", async () => {
    scripted = { status: "Failed", message: "", run_result: { status: "TimeLimitExceeded", execution_time: 2, return_code: null, stdout: "", stderr: "" } };
    try {
      expect(await verifier().verify(py("while True: pass"), pyRow, ctx)).toMatchObject({ reward: 0, verdict: "timeout" });
    } finally {
      scripted = null;
    }
  });

  test("a SandboxError answer and an HTTP 500 give sandbox_error with reward null", async () => {
    scripted = { status: "SandboxError", message: "runner crashed", run_result: null };
    try {
      expect(await verifier().verify(py("print(1)"), pyRow, ctx)).toMatchObject({ reward: null, verdict: "sandbox_error" });
      scripted = 500;
      const r = await verifier().verify(py("print(1)"), pyRow, ctx);
      expect(r).toMatchObject({ reward: null, verdict: "sandbox_error" });
      expect(r.detail).toContain("HTTP 500");
    } finally {
      scripted = null;
    }
  });

  test("an unreachable server gives sandbox_error, not a pass", async () => {
    const r = await makeCodeVerifier({ remote: { url: "http://127.0.0.1:1" } }).verify(py("print(1)"), pyRow, ctx);
    expect(r).toMatchObject({ reward: null, verdict: "sandbox_error" });
  });

  test("stdout beyond the output cap is output_limit", async () => {
    scripted = { status: "Success", message: "", run_result: { status: "Finished", execution_time: 0.1, return_code: 0, stdout: "x".repeat(2 ** 20 + 1), stderr: "" } };
    try {
      expect(await verifier().verify(py("print(1)"), pyRow, ctx)).toMatchObject({ reward: 0, verdict: "output_limit" });
    } finally {
      scripted = null;
    }
  });
});
