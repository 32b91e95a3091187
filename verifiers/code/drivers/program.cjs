// The program process of an assert run (wire.cjs is prepended), started by the test process
// with its channel on fd 3. Runs main.js (the program alone: the tests never enter this
// process), then answers: which of the names the tests use it defines, and one call at a time,
// with the result as plain data. What the program patches here stays here.
const { NotPlain, encode, decode, channel } = rlvrWire();
const fs = require("fs");
const path = require("path");
const vm = require("vm");
const Module = require("module");

// bound before the program runs: it may replace any of these
const { apply } = Reflect;
const exit = process.exit.bind(process);
const Error_ = Error;
const arrayMap = Array.prototype.map;
const ERRORS = [RangeError, TypeError, SyntaxError, ReferenceError, EvalError, URIError];
const chan = channel(3, 3, null);

const file = path.join(__dirname, "main.js");
const source = fs.readFileSync(file, "utf8");
// a direct eval at the end of the program's own scope finds its top-level functions and constants
let lookup = () => undefined;
const params = ["exports", "require", "module", "__filename", "__dirname", "__rlvr_lookup__"];
const main = vm.compileFunction(`${source}\n;__rlvr_lookup__((name) => eval(name));`, params, { filename: file });
const mod = new Module(file, null);
mod.filename = file;
mod.paths = Module._nodeModulePaths(__dirname);
main.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, __dirname, (fn) => { lookup = fn; });

function find(name) {
  try {
    return lookup(name);
  } catch {
    return undefined;
  }
}

function thrown(e) {
  if (e instanceof Error_) {
    const ctor = ERRORS.find((C) => e instanceof C);
    const message = typeof e.message === "string" ? e.message.slice(0, 1000) : "";
    return ["err", ctor ? ctor.name : "Error", message];
  }
  try {
    return ["val", encode(e)];
  } catch {
    return ["err", "Error", `the program threw ${typeof e}`];
  }
}

function plainOrNull(x) {
  try {
    return encode(x);
  } catch {
    return null;
  }
}

const first = chan.recv();
if (first === null) exit(0);
const exported = [];
for (const name of first[1]) {
  const value = find(name);
  if (typeof value === "function") exported[exported.length] = [name, ["fn"]];
  else if (value !== undefined) {
    const plain = plainOrNull(value);
    if (plain !== null) exported[exported.length] = [name, ["data", plain]];
  }
}
chan.send(["exports", exported]);

for (;;) {
  const msg = chan.recv();
  if (msg === null || msg[0] === "bye") exit(0);
  const args = apply(arrayMap, msg[2], [(a) => decode(a)]);
  let result;
  try {
    result = apply(find(msg[1]), undefined, args);
  } catch (e) {
    chan.send(["throw", thrown(e)]);
    continue;
  }
  let reply;
  try {
    reply = ["ok", encode(result), apply(arrayMap, args, [plainOrNull])];
  } catch (e) {
    reply = ["bad", e instanceof NotPlain ? e.message : "a structure nested too deeply"];
  }
  chan.send(reply);
}
