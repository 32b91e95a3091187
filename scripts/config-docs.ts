/**
 * Generates recipes/CONFIG.md from the recipe schemas' `.describe()` texts, so the reference cannot
 * drift from the code: `npm run docs:config` rewrites it, and a test fails when it is stale.
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { PretrainRecipe } from "./commands/pretrain.ts";
import { GrpoRecipe } from "./commands/train.ts";

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  anyOf?: Schema[];
  items?: Schema;
  prefixItems?: Schema[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  additionalProperties?: Schema | boolean;
};

const BIG = 9007199254740991;

function typeOf(s: Schema): string {
  if (s.enum) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(" \\| ");
  if (s.anyOf) return s.anyOf.map(typeOf).join(" or ");
  if (s.properties && s.type === "object") return `{${Object.keys(s.properties).join(", ")}}`;
  if (s.prefixItems) return `[${s.prefixItems.map(typeOf).join(", ")}]`;
  if (s.type === "array") return `list of ${s.items ? typeOf(s.items) : "any"}`;
  const t = Array.isArray(s.type) ? s.type.join(" \\| ") : (s.type ?? "any");
  const lo = s.exclusiveMinimum !== undefined ? `> ${s.exclusiveMinimum}` : s.minimum !== undefined && s.minimum > -BIG ? `≥ ${s.minimum}` : "";
  const hi = s.exclusiveMaximum !== undefined ? `< ${s.exclusiveMaximum}` : s.maximum !== undefined && s.maximum < BIG ? `≤ ${s.maximum}` : "";
  return [t, [lo, hi].filter(Boolean).join(", ")].filter(Boolean).join(" ");
}

function rows(s: Schema, prefix: string, out: string[]): void {
  for (const [key, prop] of Object.entries(s.properties ?? {})) {
    const name = prefix ? `${prefix}.${key}` : key;
    const nested = prop.properties && Object.keys(prop.properties).length > 0;
    const required = (s.required ?? []).includes(key) && prop.default === undefined;
    const def = prop.default === undefined ? (required ? "required" : "") : `\`${JSON.stringify(prop.default)}\``;
    if (nested) {
      if (prop.description) out.push(`| \`${name}\` | section | ${def} | ${prop.description} |`);
      rows(prop, name, out);
    } else out.push(`| \`${name}\` | ${typeOf(prop)} | ${def} | ${(prop.description ?? "").replace(/\|/g, "\\|")} |`);
  }
}

function section(title: string, intro: string, schema: z.ZodType): string {
  const js = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Schema;
  const out = [`## ${title}`, "", intro, "", "| field | type | default | meaning |", "|---|---|---|---|"];
  rows(js, "", out);
  return out.join("\n");
}

export function configMarkdown(): string {
  return [
    "# Recipe reference",
    "",
    "Generated from the zod schemas by `npm run docs:config`; do not edit by hand. Data sources",
    "(`data.train`, `data.eval`) take either `{synthetic: {...}}` (datasets/synthetic) or",
    "`{file: {...}}` (datasets/loaders.ts); see those modules for their fields.",
    "",
    section("`rlvr train` (GRPO)", "Every field can be overridden on the command line: `--set grpo.beta=0.04`.", GrpoRecipe),
    "",
    section("`rlvr pretrain` (supervised)", "The model section takes the fields of `trainer/model/config.ts`.", PretrainRecipe),
    "",
  ].join("\n");
}

const target = path.resolve(import.meta.dirname, "../recipes/CONFIG.md");
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  fs.writeFileSync(target, configMarkdown());
  console.log(`wrote ${target}`);
}
