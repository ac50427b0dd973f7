/** The command line's reference: the `--help` of the program and of every command, as docs/cli.md shows it. */
import type { Command } from "commander";
import { PROGRAM_EPILOGUE, cliProgram } from "./program.js";

/** The lines between which docs/cli.md holds the generated reference (`npm run docs:cli` writes it). */
export const REFERENCE_START = "<!-- reference: written by `npm run docs:cli` from each command's --help -->";
export const REFERENCE_END = "<!-- end of reference -->";

function* commandsOf(command: Command): Generator<Command> {
  yield command;
  for (const sub of [...command.commands].sort((a, b) => a.name().localeCompare(b.name()))) yield* commandsOf(sub);
}

const fullName = (command: Command): string => (command.parent ? `${fullName(command.parent)} ${command.name()}` : command.name());

/** Markdown: a section per command, its help in a code block. */
export function helpReference(): string {
  const sections = [];
  for (const command of commandsOf(cliProgram(() => undefined))) {
    const epilogue = command.parent ? "" : `\n\n${PROGRAM_EPILOGUE}`;
    const help = command.helpInformation().trimEnd() + epilogue;
    sections.push(`### \`${fullName(command)}\`\n\n\`\`\`text\n${help}\n\`\`\``);
  }
  return sections.join("\n\n");
}

/** The document with the reference between its markers replaced by `reference`. */
export function withReference(doc: string, reference: string): string {
  const start = doc.indexOf(REFERENCE_START);
  const end = doc.indexOf(REFERENCE_END);
  if (start < 0 || end < start) throw new Error(`the document has no "${REFERENCE_START}" ... "${REFERENCE_END}" section`);
  return `${doc.slice(0, start + REFERENCE_START.length)}\n\n${reference}\n\n${doc.slice(end)}`;
}
