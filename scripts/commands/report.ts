/** `rlvr report runs/<name>`: one self-contained HTML page with a run's curves, evals and sample completions. */
import fs from "node:fs";
import path from "node:path";
import type { CommandModule } from "yargs";
import { renderReport } from "../report/html.ts";
import { readRun, RunDataError } from "../report/run-data.ts";

export const reportCommand: CommandModule<{ backend: string }, { backend: string; run: string; out?: string }> = {
  command: "report <run>",
  describe: "Write a self-contained HTML report of a run (curves, expert load, evals, sample completions)",
  builder: (y) =>
    y
      .positional("run", { type: "string", demandOption: true, describe: "The run directory, runs/<name>" })
      .option("out", { type: "string", describe: "Where to write the page (default: <run>/report.html)" }) as never,
  handler: (argv) => {
    let html: string;
    try {
      html = renderReport(readRun(argv.run));
    } catch (e) {
      if (e instanceof RunDataError) {
        console.error(`rlvr report: ${e.message}`);
        process.exit(1);
      }
      throw e;
    }
    const out = argv.out ?? path.join(argv.run, "report.html");
    fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    fs.writeFileSync(out, html);
    console.log(out);
  },
};
