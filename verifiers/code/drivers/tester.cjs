// The test process (entry of an assert run; wire.cjs is prepended). It reads the token and the
// tests from stdin, starts the program in a fresh Node (program.js), and runs the tests here,
// where the program's code never runs: each name the tests use that the program defines becomes
// a stub that sends the call's arguments to the program and gets back plain data. So the tests'
// `assert`, `JSON`, `Math` and prototypes are this process's own, untouched, and a result is
// compared only after it was rebuilt from JSON. Prints the token only after the last test
// returned and the program exited.
const fs = require("fs");
const path = require("path");
const vm = require("vm");
const Module = require("module");
const { spawn } = require("child_process");
const { NotPlain, encode, decode, channel } = rlvrWire();

const ERRORS = { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };
const RESERVED = new Set(("break case catch class const continue debugger default delete do else export extends false " +
  "finally for function if import in instanceof new null return super switch this throw true try typeof var void " +
  "while with yield let static await async of get set arguments require module exports __filename __dirname").split(" "));

const input = fs.readFileSync(0, "utf8");
const token = input.slice(0, input.indexOf("\n"));
const tests = input.slice(input.indexOf("\n") + 1);
// swap stdin for /dev/null (the lowest free fd): the program process inherits nothing behind fd 0
fs.closeSync(0);
fs.openSync("/dev/null", "r");

const child = spawn(process.execPath, [...process.execArgv, path.join(__dirname, "program.js")],
  { stdio: ["ignore", "inherit", "inherit", "pipe"] });
if (!child.pid || !child.stdio[3]) {
  fs.writeSync(2, "rlvr: cannot start the program process\n");
  process.exit(1);
}
// the raw descriptor under the socket: the calls are synchronous, and Node has no sync socket read
const fd = child.stdio[3]._handle.fd;
const chan = channel(fd, fd, () => exitStatus() === null);

function abort(why, kill = false) {
  fs.writeSync(2, `rlvr: ${why}\n`);
  finish(1, kill);
}

/** End the run with `code` once the program has exited; synchronous, so no test can catch it. */
function finish(code, kill = false) {
  stopProgram(kill);
  process.exit(code);
}

/** Told to stop, the program flushes its output and exits; `kill` for one that misbehaved. */
function stopProgram(kill) {
  if (kill) {
    try { process.kill(child.pid, "SIGKILL"); } catch {}
  } else {
    chan.send(["bye"]);
  }
  for (let i = 0; exitStatus() === null; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.min(1, 0.01 * 2 ** i));
}

/** The program's wait status from /proc/PID/stat once it is a zombie (this process reaps it later), else null. */
function exitStatus() {
  let stat;
  try {
    stat = fs.readFileSync(`/proc/${child.pid}/stat`, "utf8");
  } catch {
    return 1 << 8;
  }
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[0] === "Z" || fields[0] === "X" ? Number(fields[49]) : null;
}

/** The program ended before the tests did: end with its status (signals as 128 + N). */
function gone() {
  let status = exitStatus();
  for (let i = 0; status === null && i < 2000; i++) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    status = exitStatus();
  }
  if (status === null) abort("the program closed its channel", true);
  const signal = status & 0x7f;
  const code = signal ? 128 + signal : status >> 8;
  if (code === 0) abort("the program exited before its tests finished");
  process.exit(code);
}

function stub(name) {
  const call = function (...args) {
    let sent;
    try {
      sent = args.map(encode);
    } catch (e) {
      if (!(e instanceof NotPlain)) throw e;
      throw new TypeError(`${name}(): an argument (${e.message}) cannot be passed to the program, which runs in its own process`);
    }
    if (!chan.send(["call", name, sent])) gone();
    const reply = chan.recv();
    if (reply === null) gone();
    let outcome;
    try {
      outcome = settle(name, args, sent, reply);
    } catch {
      abort(`the program process sent a malformed reply to ${name}()`, true);
    }
    if ("error" in outcome) throw outcome.error;
    return outcome.value;
  };
  Object.defineProperty(call, "name", { value: name });
  return call;
}

function settle(name, args, sent, reply) {
  if (reply[0] === "ok") {
    const value = decode(reply[1]);
    writeBack(args, sent, reply[2]);
    return { value };
  }
  if (reply[0] === "bad") abort(`${name}() returned ${String(reply[1]).slice(0, 100)}, not plain data (null, undefined, boolean, number, bigint, string, array, plain object, Map, Set)`);
  if (reply[0] !== "throw") throw new TypeError("malformed reply");
  const [kind, ...rest] = reply[1];
  if (kind === "val") return { error: decode(rest[0]) };
  const Ctor = Object.hasOwn(ERRORS, rest[0]) ? ERRORS[rest[0]] : Error;
  return { error: new Ctor(String(rest[1])) };
}

/** Arguments the program changed in place (an array it sorted) change here too. */
function writeBack(args, sent, after) {
  args.forEach((arg, i) => {
    if (after[i] === null || JSON.stringify(after[i]) === JSON.stringify(sent[i])) return;
    const now = decode(after[i]);
    if (Array.isArray(arg) && Array.isArray(now)) {
      arg.length = now.length;
      now.forEach((v, k) => { arg[k] = v; });
    } else if (arg instanceof Map && now instanceof Map) {
      arg.clear();
      now.forEach((v, k) => arg.set(k, v));
    } else if (arg instanceof Set && now instanceof Set) {
      arg.clear();
      now.forEach((v) => arg.add(v));
    } else if (arg !== null && typeof arg === "object" && now !== null && typeof now === "object") {
      for (const k of Object.keys(arg)) delete arg[k];
      Object.assign(arg, now);
    }
  });
}

/** The tests' own `require`: built-in modules only, fresh in this process. */
function testRequire(id) {
  if (!Module.isBuiltin(id)) throw new Error(`tests may require only Node's built-in modules, not ${JSON.stringify(id)}`);
  return require(id);
}

// identifiers the tests mention that are not globals here: the program's to define
// (a property name after a dot is not one; strings and comments add harmless extras)
const names = [...new Set(tests.match(/(?<![.\w$])[A-Za-z_$][\w$]*/g) ?? [])]
  .filter((n) => !RESERVED.has(n) && !(n in globalThis));
if (!chan.send(["names", names])) gone();
const reply = chan.recv();
if (reply === null) gone();
try {
  const exported = new Map(reply[0] === "exports" ? reply[1] : []);
  for (const name of names) {
    const e = exported.get(name);
    if (!e) continue;
    globalThis[name] = e[0] === "fn" ? stub(name) : decode(e[1]);
  }
} catch {
  abort("the program process sent malformed exports", true);
}

const run = vm.runInThisContext(`(function (require, module, exports, __filename, __dirname) {${tests}\n})`, { filename: "tests.js" });
const testModule = { exports: {} };
const failed = (e) => {
  console.error(e);
  finish(1);
};
process.on("uncaughtException", failed);
process.on("unhandledRejection", failed);
try {
  run.call(testModule.exports, testRequire, testModule, testModule.exports, "/sandbox/tests.js", "/sandbox");
} catch (e) {
  failed(e);
}
// the tests may go on in callbacks and promises: the token waits until nothing is left to run
child.unref();
child.stdio[3].unref();
process.on("beforeExit", () => {
  stopProgram(false);
  fs.writeSync(1, `\n${token}\n`);
  process.exit(0);
});
