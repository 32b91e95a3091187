// A worker thread runs TypeScript as the CLI does: through tsx, registered in this thread.
import { register } from "tsx/esm/api";

register();
await import("./worker.ts");
