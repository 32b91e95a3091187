"use strict";
// Plain data <-> JSON for the assert harness (harness.ts), shared by the test process and the
// program process. Only plain data crosses: null, undefined, booleans, numbers (NaN, ±Infinity
// and -0 kept), bigints, strings, arrays whose prototype is Array.prototype (holes kept), objects
// whose prototype is Object.prototype or null with enumerable data properties, Maps and Sets of
// those. Class instances, functions, proxies, symbols and getters are refused, so no valueOf,
// toString or Symbol.toPrimitive of the program's ever runs where the tests do. Every intrinsic
// the encoder needs is bound here, before the program runs; the decoder never trusts the
// sender and rebuilds every value from JSON. Blocking line I/O over a descriptor is here too.
function rlvrWire() {
  const { isArray } = Array;
  const { getPrototypeOf, getOwnPropertyDescriptor, defineProperty, create, hasOwn } = Object;
  const { ownKeys, apply } = Reflect;
  const { isProxy } = require("util").types;
  const fs = require("fs");
  const { readSync, writeSync } = fs;
  const ObjectProto = Object.prototype, ArrayProto = Array.prototype, MapProto = Map.prototype, SetProto = Set.prototype;
  const mapForEach = Map.prototype.forEach, setForEach = Set.prototype.forEach;
  const objectIs = Object.is, String_ = String, Number_ = Number, BigInt_ = BigInt, Map_ = Map, Set_ = Set, Array_ = Array;
  const mapSet = Map.prototype.set, setAdd = Set.prototype.add;
  const { stringify, parse } = JSON;
  const Buffer_ = Buffer, bufferFrom = Buffer.from, bufferConcat = Buffer.concat, bufferAlloc = Buffer.allocUnsafe;
  const indexOf = Buffer.prototype.indexOf, subarray = Buffer.prototype.subarray, toString = Buffer.prototype.toString;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const atomicsWait = Atomics.wait, Atomics_ = Atomics, min = Math.min;

  class NotPlain extends Error {}

  function describe(x) {
    if (x === null) return "null";
    if (typeof x !== "object") return typeof x;
    if (isProxy(x)) return "a Proxy";
    const proto = getPrototypeOf(x);
    const ctor = proto && getOwnPropertyDescriptor(proto, "constructor");
    const name = ctor && typeof ctor.value === "function" ? getOwnPropertyDescriptor(ctor.value, "name") : undefined;
    return name && typeof name.value === "string" ? `an object of class ${name.value}` : "an object";
  }

  function encode(x) {
    switch (typeof x) {
      case "string": case "boolean": return x;
      case "undefined": return ["u"];
      case "number": return ["n", objectIs(x, -0) ? "-0" : String_(x)];
      case "bigint": return ["big", String_(x)];
      case "object": if (x === null) return null; break;
      default: throw new NotPlain(typeof x);
    }
    if (isProxy(x)) throw new NotPlain("a Proxy");
    const proto = getPrototypeOf(x);
    if (proto === ArrayProto && isArray(x)) return ["a", encodeArray(x)];
    if (proto === ObjectProto || proto === null) return [proto === null ? "O" : "o", encodeEntries(x)];
    if (proto === MapProto) {
      const pairs = [];
      apply(mapForEach, x, [(v, k) => { pairs[pairs.length] = [encode(k), encode(v)]; }]);
      return ["m", pairs];
    }
    if (proto === SetProto) {
      const items = [];
      apply(setForEach, x, [(v) => { items[items.length] = encode(v); }]);
      return ["s", items];
    }
    throw new NotPlain(describe(x));
  }

  function encodeArray(x) {
    const n = x.length, items = new Array_(n);
    let present = 0;
    for (let i = 0; i < n; i++) {
      if (!hasOwn(x, i)) { items[i] = ["h"]; continue; }
      present++;
      items[i] = encode(dataValue(x, i));
    }
    // extra own properties (a `foo` on an array) would be lost on the way: refuse them
    if (ownKeys(x).length !== present + 1) throw new NotPlain("an array with extra properties");
    return items;
  }

  function encodeEntries(x) {
    const entries = [];
    for (const key of ownKeys(x)) {
      if (typeof key !== "string") throw new NotPlain("an object with symbol keys");
      const d = getOwnPropertyDescriptor(x, key);
      if (!d.enumerable) continue;
      entries[entries.length] = [key, encode(dataValue(x, key))];
    }
    return entries;
  }

  function dataValue(x, key) {
    const d = getOwnPropertyDescriptor(x, key);
    if (d.get !== undefined || d.set !== undefined) throw new NotPlain("an object with a getter");
    return d.value;
  }

  function decode(j) {
    if (j === null || typeof j === "string" || typeof j === "boolean") return j;
    if (!isArray(j) || typeof j[0] !== "string") throw new TypeError("malformed value");
    const v = j[1];
    switch (j[0]) {
      case "u": return undefined;
      case "n": if (typeof v !== "string") break; return Number_(v);
      case "big": if (typeof v !== "string") break; return BigInt_(v);
      case "a": {
        if (!isArray(v)) break;
        const a = new Array_(v.length);
        for (let i = 0; i < v.length; i++) {
          const e = v[i];
          if (!(isArray(e) && e.length === 1 && e[0] === "h")) a[i] = decode(e);
        }
        return a;
      }
      case "o": case "O": {
        if (!isArray(v)) break;
        const o = j[0] === "O" ? create(null) : {};
        for (const [k, e] of v) {
          if (typeof k !== "string") throw new TypeError("malformed value");
          defineProperty(o, k, { value: decode(e), writable: true, enumerable: true, configurable: true });
        }
        return o;
      }
      case "m": {
        if (!isArray(v)) break;
        const m = new Map_();
        for (const [k, e] of v) apply(mapSet, m, [decode(k), decode(e)]);
        return m;
      }
      case "s": {
        if (!isArray(v)) break;
        const s = new Set_();
        for (const e of v) apply(setAdd, s, [decode(e)]);
        return s;
      }
    }
    throw new TypeError("malformed value");
  }

  /** Blocking lines over a descriptor that may be non-blocking (Node's own pipes are). */
  function channel(readFd, writeFd, alive) {
    let pending = apply(bufferAlloc, Buffer_, [0]);
    const chunk = apply(bufferAlloc, Buffer_, [1 << 16]);
    let idle = 0;
    const pause = () => { apply(atomicsWait, Atomics_, [sleeper, 0, 0, min(1, 0.01 * 2 ** idle++)]); };
    return {
      send(msg) {
        let data = apply(bufferFrom, Buffer_, [stringify(msg) + "\n"]);
        while (data.length > 0) {
          try {
            data = apply(subarray, data, [writeSync(writeFd, data)]);
          } catch (e) {
            if (e.code !== "EAGAIN") return false;
            pause();
          }
        }
        return true;
      },
      /** The next message, or null at end of stream or once `alive()` says the peer is gone. */
      recv() {
        idle = 0;
        for (;;) {
          const nl = apply(indexOf, pending, [10]);
          if (nl >= 0) {
            const line = apply(toString, apply(subarray, pending, [0, nl]), ["utf8"]);
            pending = apply(subarray, pending, [nl + 1]);
            return parse(line);
          }
          let n;
          try {
            n = readSync(readFd, chunk, 0, chunk.length, null);
          } catch (e) {
            if (e.code !== "EAGAIN") return null;
            if (idle > 12 && alive && !alive()) return null;
            pause();
            continue;
          }
          if (n === 0) return null;
          pending = apply(bufferConcat, Buffer_, [[pending, apply(subarray, chunk, [0, n])]]);
          idle = 0;
        }
      },
    };
  }

  return { NotPlain, encode, decode, describe, channel };
}
