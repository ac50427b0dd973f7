#!/usr/bin/env node
/** The `ratestore` command's entry point: parses the arguments, runs the command and sets the exit code. */
import { CommanderError } from "commander";
import { describeFailure } from "./failure.js";
import { cliProgram } from "./program.js";

const program = cliProgram((code) => {
  process.exitCode = code;
});
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander has printed the help, the version or the usage error already.
    process.exitCode = err.exitCode;
  } else {
    const command = process.argv.slice(2).find((a) => !a.startsWith("-")) ?? "";
    const debug = program.opts<{ debug?: boolean }>().debug === true || process.env.RATESTORE_DEBUG === "1";
    console.error(`ratestore ${command}: ${describeFailure(err)}`.replace(/^ratestore : /, "ratestore: "));
    if (debug && err instanceof Error && err.stack) console.error(err.stack);
    process.exitCode = 1;
  }
}
