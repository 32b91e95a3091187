/**
 * The interpreters programs run under: Debian's /usr/bin/python3 and the running Node (process.execPath).
 * Each runtime says how to start a file and how its memory is capped, because one rlimit does not
 * fit both: Python honours RLIMIT_AS, while Node 20 reserves ~710 MB of address space at start
 * (SANDBOX.md), so Node gets RLIMIT_DATA (counts only writable private memory) plus a V8 heap limit.
 * Does not contain the sandbox itself (sandbox.ts) or how tests are wired in (harness.ts).
 */
import { dirname } from "node:path";

export type Language = "python" | "javascript";

export interface Runtime {
  language: Language;
  /** File extension of the program inside the sandbox. */
  ext: string;
  /** Host directories to bind read-only besides /usr (Node may live elsewhere, e.g. under nvm). */
  binds: string[];
  /** Which rlimit carries the memory cap. */
  memoryRlimit: "as" | "data";
  /** Interpreter argv that runs the file at `path` (a path inside the sandbox). */
  argv(path: string, memoryBytes: number): string[];
}

const python: Runtime = {
  language: "python",
  ext: "py",
  binds: [],
  memoryRlimit: "as",
  // -I: ignore PYTHON* variables and user site dirs; -B: the source mount is read-only anyway
  argv: (path) => ["/usr/bin/python3", "-I", "-B", path],
};

const nodeDir = dirname(process.execPath);

const javascript: Runtime = {
  language: "javascript",
  ext: "js",
  binds: nodeDir.startsWith("/usr/") ? [] : [nodeDir],
  memoryRlimit: "data",
  argv: (path, memoryBytes) => [
    process.execPath,
    // the heap limit turns a JS-object bomb into a clean "heap out of memory" before RLIMIT_DATA bites
    `--max-old-space-size=${Math.max(16, Math.floor(memoryBytes / 2 ** 20))}`,
    path,
  ],
};

export const runtimes: Record<Language, Runtime> = { python, javascript };

/** The language a row or fence names, normalised (`py` → python, `js`/`node` → javascript), or null. */
export function normalizeLanguage(name: string | undefined): Language | null {
  const n = (name ?? "").trim().toLowerCase();
  if (n === "python" || n === "py" || n === "python3") return "python";
  if (n === "javascript" || n === "js" || n === "node" || n === "nodejs") return "javascript";
  return null;
}
