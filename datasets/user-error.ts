/**
 * The base of every error a user can fix (a bad recipe, checkpoint, dataset, flag or missing
 * package): the CLI prints its message as one line, `rlvr: <message>`, and exits 1; any other
 * error is a bug and gets its stack. A leaf module, so every layer can extend it without cycles.
 */
export class UserError extends Error {
  override name = "UserError";
}
