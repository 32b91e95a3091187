/**
 * The command line both README plot scripts share: `--out <svg> [--title <text>]` and one
 * `label=<file a>,<file b>` argument per series. Reads the series, writes the SVG, prints the report.
 */
import fs from "node:fs";
import path from "node:path";

export interface PlotCli<S> {
  /** The script's file name, for the usage line. */
  script: string;
  /** What the two files of a series are, e.g. `<plain summary>,<rc summary>`. */
  files: string;
  defaultTitle: string;
  read(label: string, a: string, b: string): S;
  svg(series: S[], title: string): string;
  /** Lines printed after writing the SVG (a Markdown table). */
  report(series: S[]): string;
}

export function plotMain<S>(argv: string[], cli: PlotCli<S>): void {
  const outAt = argv.indexOf("--out");
  const titleAt = argv.indexOf("--title");
  if (outAt < 0) throw new Error(`usage: ${cli.script} --out <svg> [--title <text>] 'label=${cli.files}' …`);
  const outFile = argv[outAt + 1];
  const title = titleAt >= 0 ? argv[titleAt + 1] : cli.defaultTitle;
  const specs = argv.filter((_, i) => i !== outAt && i !== outAt + 1 && i !== titleAt && i !== titleAt + 1);
  const series = specs.map((s) => {
    const m = /^(.+?)=([^,]+),([^,]+)$/.exec(s);
    if (!m) throw new Error(`expected label=${cli.files}, got ${s}`);
    return cli.read(m[1], m[2], m[3]);
  });
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, cli.svg(series, title));
  console.log(cli.report(series));
}

/**
 * One series' legend entry at the right of a chart: a solid line and its label, and below it a
 * dashed line and its label (x0 = where the plot area ends, y = the entry's top line).
 */
export function legendPair(x0: number, y: number, color: string, o: { solid: string; dashed: string; width: number; dash: string }): string[] {
  return [
    `<line x1="${x0 + 12}" x2="${x0 + 36}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="${o.width}"/>`, `<text x="${x0 + 42}" y="${y + 4}">${o.solid}</text>`,
    `<line x1="${x0 + 12}" x2="${x0 + 36}" y1="${y + 16}" y2="${y + 16}" stroke="${color}" stroke-dasharray="${o.dash}"/>`, `<text x="${x0 + 42}" y="${y + 20}">${o.dashed}</text>`,
  ];
}
