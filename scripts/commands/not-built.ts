import type { CommandModule } from "yargs";

/** A subcommand whose issue is still open: it says so and exits non-zero instead of faking output. */
export function notBuilt(command: string, describe: string, issue: number): CommandModule {
  return {
    command,
    describe: `${describe} (not built yet: issue #${issue})`,
    builder: (y) => y.strict(false),
    handler: () => {
      console.error(`rlvr ${command.split(" ")[0]}: not built yet (issue #${issue}); nothing was run.`);
      process.exit(2);
    },
  };
}
