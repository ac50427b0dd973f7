/** Writes the command line's reference into docs/cli.md, between its markers, from the commands' own help. */
import { readFileSync, writeFileSync } from "node:fs";
import { helpReference, withReference } from "../src/cli/help-reference.js";

const DOC = new URL("../docs/cli.md", import.meta.url);
writeFileSync(DOC, withReference(readFileSync(DOC, "utf8"), helpReference()));
console.error("docs/cli.md: reference written from --help");
