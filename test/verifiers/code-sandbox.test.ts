// Containment: each test makes a program attempt an escape, then checks the host (not the
// program's word) that nothing got out. No verdict here depends on how fast the host is: programs
// meant to finish, or to be stopped by a limit other than the wall (memory, output, processes),
// get a wall far beyond what a loaded host needs; the wall limit itself is tested only with
// programs that never finish, which any wall ends in "timeout".
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DEFAULT_LIMITS, makeCodeVerifier, SandboxUnavailableError } from "../../verifiers/code/index.ts";
import { sandboxUid, SLOTS_PER_PROCESS } from "../../verifiers/code/sandbox.ts";
import type { Row } from "../../datasets/row.ts";

/** The wall of the verifier whose limit is under test: short, so the never-ending programs stay cheap. */
const WALL_MS = 2_000;
/** The wall for everything else; V8 alone needs ~1.7 s of GC to reach its heap limit on an idle host. */
const ROOMY_WALL_MS = 30_000;
/**
 * How long a process that escaped the kill would hold the run or stay on the host (the daemons
 * sleep this long, the bombs never end): a run that returns sooner and leaves nothing behind was
 * ended by the sandbox, however slow the host; one that waited on them would not return sooner.
 */
const ESCAPED_MS = 60_000;
const verifier = makeCodeVerifier({ limits: { wallMs: ROOMY_WALL_MS } });
const walled = makeCodeVerifier({ limits: { wallMs: WALL_MS } });
const ctx = { timeoutMs: 60_000 };
const tag = randomBytes(6).toString("hex");
const py = (code: string) => "```python\n" + code + "\n```";
const js = (code: string) => "```js\n" + code + "\n```";
const pyAssert: Row = { language: "python", tests: { assert: "assert True" } };
const jsAssert: Row = { language: "javascript", tests: { assert: "require('assert').ok(true);" } };
const run = (completion: string, row: Row) => verifier.verify(completion, row, ctx);
const runWalled = (completion: string, row: Row) => walled.verify(completion, row, ctx);

/**
 * Live host processes owned by this process's sandbox uids (other test files run their own
 * sandboxes at the same time under other uids), or whose command line carries this run's tag.
 * Zombies are dead already (bwrap's in-namespace init is reaped by the host's init a moment later).
 */
function leftovers(): string[] {
  const ps = execFileSync("ps", ["-eo", "stat=,uid=,pid=,args="], { encoding: "utf8" });
  return ps.split("\n").filter((line) => {
    const [stat, uid] = line.trim().split(/\s+/);
    if (!stat || stat.startsWith("Z")) return false;
    const ours = Number(uid) >= sandboxUid(0) && Number(uid) < sandboxUid(0) + SLOTS_PER_PROCESS;
    return ours || (line.includes(tag) && !line.includes("ps -eo"));
  });
}

/** Leftovers once reaping settles: the kernel tears the pid namespace down as bwrap exits, slower on a loaded host. */
async function noLeftovers(): Promise<string[]> {
  // waits for the leftovers to go, up to a third of an escapee's life: one that outlives this escaped
  const deadline = Date.now() + ESCAPED_MS / 3;
  while (leftovers().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return leftovers();
}

describe("filesystem", () => {
  const outside = [join(tmpdir(), `rlvr-escape-${tag}`), join(process.cwd(), `rlvr-escape-${tag}`), `/root/rlvr-escape-${tag}`];
  afterAll(() => outside.forEach((p) => rmSync(p, { force: true })));

  test("a program cannot create files on the host", async () => {
    const code = `import os\nfor p in ${JSON.stringify(outside)}:\n    try:\n        os.makedirs(os.path.dirname(p), exist_ok=True)\n        open(p, "w").write("x")\n        print("wrote", p)\n    except Exception as e:\n        print("failed", p, e)`;
    const r = await run(py(code), pyAssert);
    expect(r.verdict).toBe("pass"); // it ran: the writes it believes in landed in its own tmpfs or failed
    for (const p of outside) expect(existsSync(p)).toBe(false);
  });

  test("a program cannot read a host file, and cannot pass by printing it", async () => {
    const secretFile = join(tmpdir(), `rlvr-secret-${tag}`);
    const secret = `secret-${randomBytes(12).toString("hex")}`;
    writeFileSync(secretFile, secret, { mode: 0o644 });
    try {
      const code = `import os\nfor p in [${JSON.stringify(secretFile)}, "/proc/1/root${secretFile}", "/etc/passwd", "/root/.bashrc"]:\n    try:\n        print(open(p).read())\n    except Exception as e:\n        pass`;
      const r = await run(py(code), { language: "python", tests: { inputs: [""], outputs: [secret] } });
      expect(r.verdict).toBe("wrong_answer");
      const a = await run(py(code), pyAssert);
      expect(JSON.stringify(a)).not.toContain(secret);
      expect(a.stdout).toBe(""); // not even /etc/passwd exists inside
    } finally {
      rmSync(secretFile, { force: true });
    }
  });

  test("no host file or pipe is reachable through inherited descriptors", async () => {
    const code = `import os\nfor fd in sorted(os.listdir("/proc/self/fd"), key=int):\n    try:\n        print(fd, os.readlink(f"/proc/self/fd/{fd}"))\n    except OSError:\n        pass`;
    const r = await run(py(code), pyAssert);
    const targets = String(r.stdout).trim().split("\n").map((l) => l.split(" ")[1]);
    expect(targets.length).toBeGreaterThan(0);
    // stdio are the runner's pipes; anything else must be /dev/null or the listing's own directory
    for (const t of targets) expect(t).toMatch(/^(pipe:|socket:|\/dev\/null$|\/proc\/\d+\/fd$)/);
  });
});

describe("network", () => {
  let server: Server;
  let port = 0;
  let connections = 0;
  beforeAll(async () => {
    server = createServer((s) => { connections++; s.end("hello from the host\n"); });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test("python cannot reach a listener on the host's loopback", async () => {
    const code = `import socket\ns = socket.create_connection(("127.0.0.1", ${port}), timeout=1)\nprint(s.recv(100).decode())`;
    const r = await run(py(code), { language: "python", tests: { inputs: [""], outputs: ["hello from the host"] } });
    expect(r.verdict).toBe("runtime_error");
    expect(connections).toBe(0);
  });

  test("javascript cannot reach it either", async () => {
    const code = `const s = require("net").connect(${port}, "127.0.0.1", () => console.log("connected"));\ns.on("data", (d) => process.stdout.write(d));`;
    const r = await run(js(code), { language: "javascript", tests: { inputs: [""], outputs: ["connected\nhello from the host"] } });
    expect(r.verdict).toBe("runtime_error");
    await new Promise((res) => setTimeout(res, 100));
    expect(connections).toBe(0);
  });
});

describe("environment and privileges", () => {
  test("a secret in the runner's environment is invisible, /proc/1/environ included", async () => {
    const secret = `env-secret-${randomBytes(12).toString("hex")}`;
    process.env.RLVR_TEST_SECRET = secret;
    try {
      const pyCode = `import os, glob\nprint(dict(os.environ))\nfor p in glob.glob("/proc/*/environ"):\n    try:\n        print(p, open(p, "rb").read())\n    except Exception as e:\n        print(p, e)`;
      const jsCode = `const fs = require("fs");\nconsole.log(JSON.stringify(process.env));\nfor (const p of fs.readdirSync("/proc").filter((d) => /^\\d+$/.test(d))) {\n  try { console.log(p, fs.readFileSync("/proc/" + p + "/environ", "latin1")); } catch (e) { console.log(p, e.message); }\n}`;
      const a = await run(py(pyCode), pyAssert);
      const b = await run(js(jsCode), jsAssert);
      expect(a.verdict).toBe("pass");
      expect(b.verdict).toBe("pass");
      expect(String(a.stdout)).toContain("/proc/1/environ"); // it did look
      expect(JSON.stringify([a, b])).not.toContain(secret);
      expect(JSON.stringify([a, b])).not.toContain("RLVR_TEST_SECRET");
    } finally {
      delete process.env.RLVR_TEST_SECRET;
    }
  });

  test("the program runs as an unprivileged uid with no capabilities", async () => {
    const code = `import os\nst = open("/proc/self/status").read()\nprint(os.getuid(), [l.split()[1] for l in st.splitlines() if l.startswith(("CapEff", "CapPrm"))])`;
    const r = await run(py(code), pyAssert);
    const [uid, caps] = String(r.stdout).trim().split(" ", 2);
    expect(Number(uid)).not.toBe(0);
    expect(caps).toContain("0000000000000000");
    expect(String(r.stdout)).not.toMatch(/[1-9a-f]{2,}'/);
  });
});

describe("processes", () => {
  const sleepS = ESCAPED_MS / 1000;

  test("a double-forked python daemon does not outlive the program", async () => {
    const started = Date.now();
    const code = `import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        os.execv("/usr/bin/sleep", ["sleep", "${sleepS}", "${tag}"])\n    os._exit(0)\ntime.sleep(0.2)`;
    const r = await run(py(code), pyAssert);
    expect(r.verdict).toBe("pass");
    expect(Date.now() - started).toBeLessThan(ESCAPED_MS); // the run did not wait for the daemon
    expect(await noLeftovers()).toEqual([]);
  });

  test("a detached javascript child does not outlive the program", async () => {
    const started = Date.now();
    const code = `const cp = require("child_process");\ncp.spawn("/usr/bin/sleep", ["${sleepS}", "${tag}"], { detached: true, stdio: "ignore" }).unref();`;
    const r = await run(js(code), jsAssert);
    expect(r.verdict).toBe("pass");
    expect(Date.now() - started).toBeLessThan(ESCAPED_MS);
    expect(await noLeftovers()).toEqual([]);
  });

  test("a fork bomb is contained, ended by the limits and leaves nothing", async () => {
    const started = Date.now();
    const code = `import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass`;
    const r = await runWalled(py(code), pyAssert);
    expect(["timeout", "runtime_error"]).toContain(r.verdict);
    // it never ends by itself: returning at all means the sandbox ended it and its children
    expect(Date.now() - started).toBeLessThan(ESCAPED_MS);
    expect(await noLeftovers()).toEqual([]);
    // the host can still start processes
    expect(execFileSync("/usr/bin/echo", ["alive"], { encoding: "utf8" })).toBe("alive\n");
  });
});

describe("resources", () => {
  test("a python memory bomb ends in memory_limit", async () => {
    const r = await run(py("a = []\nwhile True:\n    a.append(bytearray(1 << 26))"), pyAssert);
    expect(["memory_limit", "runtime_error"]).toContain(r.verdict);
    expect(r.reward).toBe(0);
  });

  test("memory is capped across processes: six forked 200 MiB children cannot all succeed", async () => {
    // each child stays under the per-process rlimit; together they need 1.2 GiB > 512 MiB
    const code = `import os\nkids = []\nfor _ in range(6):\n    pid = os.fork()\n    if pid == 0:\n        b = bytearray(200 << 20)\n        for i in range(0, len(b), 4096):\n            b[i] = 1\n        import time; time.sleep(0.5)\n        os._exit(0)\n    kids.append(pid)\nall_ok = all(os.waitpid(k, 0)[1] == 0 for k in kids)`;
    const r = await run(py(code), { language: "python", tests: { assert: "assert all_ok" } });
    expect(r.reward, JSON.stringify(r)).toBe(0);
    expect(["memory_limit", "runtime_error"]).toContain(r.verdict);
  });

  test("javascript heap and buffer bombs end in memory_limit", async () => {
    const heap = await run(js("const a = [];\nfor (;;) a.push(new Array(1e6).fill(1.5));"), jsAssert);
    const buffers = await run(js("const a = [];\nfor (;;) a.push(Buffer.alloc(1 << 26, 1));"), jsAssert);
    expect(["memory_limit", "runtime_error"]).toContain(heap.verdict);
    expect(["memory_limit", "runtime_error"]).toContain(buffers.verdict);
  });

  test("100 MB of output stops at the cap with output_limit", async () => {
    const r = await run(py("import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(100):\n    sys.stdout.write(chunk)"), pyAssert);
    expect(r.verdict).toBe("output_limit");
    expect(String(r.stdout ?? "").length).toBeLessThanOrEqual(2000 + 1); // what the result keeps
  });

  test("an infinite loop times out", async () => {
    const started = Date.now();
    const r = await runWalled(js("for (;;) {}"), { language: "javascript", tests: { inputs: ["1"], outputs: ["1"] } });
    expect(r).toMatchObject({ reward: 0, verdict: "timeout" });
    expect(Date.now() - started).toBeLessThan(ESCAPED_MS);
  });
});

describe("reward hacks", () => {
  const pyRow: Row = { language: "python", tests: { assert: "assert add(2, 3) == 5" } };
  const jsRow: Row = { language: "javascript", tests: { assert: "require('assert').strictEqual(add(2, 3), 5);" } };
  const hacks: Array<[string, string, Row]> = [
    ["sys.exit(0)", py("import sys\ndef add(a, b):\n    return 0\nsys.exit(0)"), pyRow],
    ["os._exit(0)", py("import os\ndef add(a, b):\n    return 0\nos._exit(0)"), pyRow],
    ["raise SystemExit", py("def add(a, b):\n    return 0\nraise SystemExit"), pyRow],
    ["an excepthook that exits 0", py("import sys, os\ndef add(a, b):\n    return 0\nsys.excepthook = lambda *a: os._exit(0)"), pyRow],
    ["printing a fake token", py("def add(a, b):\n    return 0\nprint('\\nrlvr-done-' + '0' * 32)\nimport os\nos._exit(0)"), pyRow],
    ["rereading the token from /dev/stdin", py("import os\ndef add(a, b):\n    return 0\nfor p in ['/dev/stdin', '/proc/self/fd/0', '/proc/1/fd/0']:\n    try:\n        t = open(p).read().strip()\n        if t:\n            os.write(1, ('\\n' + t + '\\n').encode())\n            os._exit(0)\n    except OSError:\n        pass\nos._exit(0)"), pyRow],
    ["rereading the token in javascript", js("const fs = require('fs');\nfunction add(a, b) { return 0; }\nfor (const p of ['/dev/stdin', '/proc/self/fd/0']) {\n  try { const t = fs.readFileSync(p, 'utf8').trim(); if (t) { fs.writeSync(1, '\\n' + t + '\\n'); process.exit(0); } } catch {}\n}\nprocess.exit(0);"), jsRow],
    ["process.exit(0)", js("function add(a, b) { return 0; }\nprocess.exit(0);"), jsRow],
    ["an uncaughtException handler", js("function add(a, b) { return 0; }\nprocess.on('uncaughtException', () => process.exit(0));"), jsRow],
    ["process.exitCode and an exit hook", js("function add(a, b) { return 0; }\nprocess.on('exit', () => { process.exitCode = 0; });"), jsRow],
  ];

  test("the list of hacks is not empty", () => expect(hacks.length).toBeGreaterThan(0));
  test.each(hacks)("%s before the asserts does not pass", async (_name, completion, row) => {
    const r = await run(completion, row);
    expect(r.reward).toBe(0);
    expect(r.verdict).not.toBe("pass");
  });
});

const repo = fileURLToPath(new URL("../../", import.meta.url));

/** A fresh Node process (in `root`, the clone or where it is mounted) verifies one program and prints how that ended. */
function node(root: string): string[] {
  const index = join(root, "verifiers/code/index.ts");
  const script = `import(${JSON.stringify(index)}).then((m) => m.codeVerifier.verify("\`\`\`python\\nprint(1)\\n\`\`\`", ` +
    `{ language: "python", tests: { inputs: [""], outputs: ["1"] } }, { timeoutMs: 5000 }))` +
    `.then((r) => console.log("RESOLVED", JSON.stringify(r)), (e) => console.log("REJECTED", e.name, e.message))`;
  return [process.execPath, "--import", "tsx/esm", "-e", script];
}

describe("without a working sandbox nothing runs", () => {
  test("as a non-root user it refuses with SandboxUnavailableError", () => {
    // The clone may sit under a directory only root can enter (mktemp -d makes 0700 ones), where
    // the unprivileged uid could not even load tsx. In a private mount namespace the clone is bound
    // at a world-traversable path, so that uid runs the clone's own files, and the host sees nothing.
    // a clone made under umask 077 is unreadable to other uids at any path: say so, not "Cannot find package"
    const privateFiles = ["package.json", "verifiers/code/index.ts", "node_modules/tsx/package.json"]
      .filter((f) => (statSync(join(repo, f)).mode & 0o004) === 0);
    expect(privateFiles, "this test runs the clone as uid 65534: its files must be world-readable (was it cloned under umask 077?)").toEqual([]);
    const mnt = mkdtempSync(join(tmpdir(), "rlvr-nonroot-"));
    try {
      chmodSync(mnt, 0o755);
      const sh = `mount --bind "$1" "$2" && cd "$2" && shift 2 && exec "$@"`;
      const asNobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...node(mnt)];
      const out = execFileSync("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", sh, "sh", repo, mnt, ...asNobody],
        { encoding: "utf8", env: { PATH: "/usr/bin:/bin", HOME: "/tmp" } });
      expect(out).toContain("REJECTED SandboxUnavailableError code verifier: the bubblewrap sandbox cannot run here: not running as root");
    } finally {
      rmSync(mnt, { recursive: true, force: true });
    }
  });

  test("with bwrap unusable it refuses with SandboxUnavailableError", () => {
    // a private mount namespace where /usr/bin/bwrap is /dev/null: the host's bwrap is untouched
    const sh = `mount --bind /dev/null /usr/bin/bwrap && exec "$@"`;
    const out = execFileSync("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", sh, "sh", ...node(repo)], { encoding: "utf8" });
    expect(out).toContain("REJECTED SandboxUnavailableError code verifier: the bubblewrap sandbox cannot run here: a trivial program failed");
    expect(out).not.toContain("RESOLVED");
  });

  test("a host too slow to start Python within the default wall is not taken for a broken sandbox", () => {
    // A private mount namespace where Python first sleeps past the default 5 s wall, as on a
    // heavily loaded host: the startup probe must still find the sandbox working, and only the
    // slow program itself gets its timeout. /usr/src is a scratch tmpfs there, visible under
    // bwrap's /usr; binding through the /usr/bin/python3 symlink reaches the real binary.
    const slowPython = `#!/bin/sh\nsleep ${DEFAULT_LIMITS.wallMs / 1000 + 1}\nexec /usr/src/python3 "$@"\n`;
    const sh = [
      "mount -t tmpfs tmpfs /usr/src",
      "touch /usr/src/python3 /usr/src/slow",
      "mount --bind /usr/bin/python3 /usr/src/python3",
      `printf "$1" > /usr/src/slow`,
      "chmod 755 /usr/src/slow",
      "mount --bind /usr/src/slow /usr/bin/python3",
      'shift && exec "$@"',
    ].join(" && ");
    const out = execFileSync("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", sh, "sh", slowPython, ...node(repo)], { encoding: "utf8" });
    expect(out).toMatch(/^RESOLVED .*"verdict":"timeout"/m);
  });
});

test("a TMPDIR that other users cannot enter does not stop the sandbox", () => {
  // as under a private `mktemp -d`: the sandbox uids could not reach program files written there
  const privateTmp = mkdtempSync(join(tmpdir(), "rlvr-private-tmp-")); // 0700
  try {
    const [exe, ...args] = node(repo);
    const out = execFileSync(exe, args, { encoding: "utf8", env: { ...process.env, TMPDIR: privateTmp } });
    expect(out).toMatch(/^RESOLVED .*"verdict":"pass"/m);
  } finally {
    rmSync(privateTmp, { recursive: true, force: true });
  }
});

test("the unavailable-sandbox error says how to fix it", () => {
  expect(new SandboxUnavailableError("bwrap not found").message).toBe(
    "code verifier: the bubblewrap sandbox cannot run here: bwrap not found. " +
      "Fix: install bubblewrap and util-linux (`apt-get install -y bubblewrap util-linux`), run as root " +
      "(the sandbox drops to uids 61000+), and allow user namespaces " +
      "(`sysctl -w user.max_user_namespaces=15000 kernel.unprivileged_userns_clone=1`); " +
      "or send programs to a remote sandbox with makeCodeVerifier({ remote: { url } }). " +
      "Programs are never run unsandboxed.",
  );
});
