import yargs from "yargs";
import { hideBin } from "yargs/helpers";
await yargs(hideBin(process.argv)).scriptName("rlvr").command("bench", "x", () => {}, () => console.log("bench")).demandCommand(1).strict().help().parse();
