/**
 * The `ratestore` command line declared with commander: each command, its options, their defaults and
 * checks, and its help; the work is in src/cli/commands.ts. `--help` on any command prints its help on
 * stdout and runs nothing.
 */
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { DEFAULT_GENERATE } from "./generate.js";
import {
  EXIT_DIFFERENCES,
  EXIT_REJECTED,
  runDashboardsImport,
  runExport,
  runGenerate,
  runIngest,
  runInit,
  runMigrate,
  runPartitions,
  runRollupRebuild,
  runRollupStatus,
  runSweep,
} from "./commands.js";

/** Help is wrapped at a fixed width so that docs/cli.md, generated from it, is the same on every terminal. */
export const HELP_WIDTH = 100;

/** What `ratestore --help` ends with. */
export const PROGRAM_EPILOGUE = `Configuration comes from the same environment variables as the service (docs/configuration.md).
Exit codes: 0 done, 1 error, ${EXIT_REJECTED} some points rejected (see the reject file), ${EXIT_DIFFERENCES} migrate's verification found differences.`;

const version = (): string =>
  (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

function count(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError("must be a non-negative integer");
  return n;
}

function positive(value: string): number {
  const n = count(value);
  if (n === 0) throw new InvalidArgumentError("must be at least 1");
  return n;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * The program. `exit` receives each command's exit code (0 done, 1 error, 2 some points rejected, 3
 * differences found by migrate's verification).
 */
export function cliProgram(exit: (code: number) => void): Command {
  const program = new Command("ratestore")
    .description("Bulk ingestion, export, migration and operations of a ratestore storage (CloudKitty v2 dataframes).")
    .version(version(), "-V, --version")
    .option("--debug", "print the stack of an error, not just its message")
    // Set before the commands are declared, so that they inherit it: help and usage errors end the parse
    // with a CommanderError for main.ts, not with process.exit.
    .exitOverride()
    .configureHelp({ helpWidth: HELP_WIDTH, sortSubcommands: true })
    .showHelpAfterError("(add --help for usage)")
    .addHelpText("after", `\n${PROGRAM_EPILOGUE}`);
  const run = async (work: () => Promise<number>) => exit(await work());

  program
    .command("ingest")
    .summary("load dataframes from files or stdin")
    .description(
      'Load dataframes from files or stdin (-): a JSON list, a saved page of GET /v2/dataframes ({"total", "dataframes"}), ' +
        "or NDJSON as `ratestore export` and `generate` write it; gzip or plain. Prints which form each input had. " +
        "Every point is stored exactly or written to the reject file with its reason.",
    )
    .argument("<files...>", "files to load, or - for stdin")
    .option("--api <url>", "push through ratestore's HTTP API instead of straight to the cluster")
    .option("--key <key>", "API key for --api (or RATESTORE_API_KEY)")
    .option("--rejects <file>", "where rejected records and points go", "ratestore-rejects.ndjson")
    .option("--checkpoint <file>", "resume file: a rerun skips the records done", "ratestore-ingest.checkpoint.json")
    .option("--no-checkpoint", "keep no resume file")
    .option("--restart", "ignore an existing checkpoint", false)
    .option("--batch-points <n>", "points per push", positive, 5000)
    .option("--concurrency <n>", "pushes in flight", positive, 2)
    .option("--no-progress", "no progress line on stderr")
    .action(
      (
        files: string[],
        o: {
          api?: string;
          key?: string;
          rejects: string;
          checkpoint: string | false;
          restart: boolean;
          batchPoints: number;
          concurrency: number;
          progress: boolean;
        },
      ) => run(() => runIngest(files, o)),
    );

  const d = DEFAULT_GENERATE;
  program
    .command("generate")
    .summary("write synthetic dataframes as NDJSON")
    .description(
      "Write realistic synthetic dataframes as NDJSON (gzip when --out ends in .gz), deterministic for a seed. " +
        "Without --start the data ends with the current period, inside the retention.",
    )
    .option("--points <n>", "points in all", count, d.points)
    .option("--projects <n>", "projects", positive, d.projects)
    .option("--resources-per-project <n>", "resources of each project", positive, d.resourcesPerProject)
    .option("--metadata-cardinality <n>", "distinct values of each metadata key", positive, d.metadataCardinality)
    .option("--period-seconds <n>", "length of a period", positive, d.periodSeconds)
    .option("--start <time>", "the first period's start (ISO 8601)")
    .option("--seed <n>", "random seed", count, d.seed)
    .option("--out <file>", "output file, or - for stdout", "-")
    .action(
      (o: {
        points: number;
        projects: number;
        resourcesPerProject: number;
        metadataCardinality: number;
        periodSeconds: number;
        start?: string;
        seed: number;
        out: string;
      }) => run(() => runGenerate(o)),
    );

  program
    .command("export")
    .summary("write matching points as NDJSON dataframes")
    .description("Write the points of a window, optionally filtered, as NDJSON dataframes that `ingest` reads back.")
    .option("--begin <time>", "window start (ISO 8601), inclusive")
    .option("--end <time>", "window end (ISO 8601), exclusive")
    .option("--filters <key:value>", "a filter on a label or project_id; repeat, or comma-separate, for several", collect)
    .option("--out <file>", "output file, or - for stdout", "-")
    .action((o: { begin?: string; end?: string; filters?: string[]; out: string }) => run(() => runExport(o)));

  program
    .command("init")
    .summary("install index templates and lifecycle policies, then exit")
    .action(() => run(runInit));

  program
    .command("migrate")
    .summary("copy a CloudKitty v2 index into ratestore, then verify its totals")
    .description(
      "Copy a CloudKitty v2 index (its Elasticsearch or OpenSearch backend) into ratestore, then compare the totals " +
        "per (type, project_id). Resumable and idempotent.",
    )
    .requiredOption("--from <urls>", "the cluster holding the CloudKitty index (comma-separated URLs; credentials in the URL if needed)")
    .requiredOption("--index <name>", "the CloudKitty index (CloudKitty's index_name, often cloudkitty)")
    .option("--begin <time>", "copy only points whose start is at or after this (ISO 8601)")
    .option("--end <time>", "copy only points whose start is before this (ISO 8601)")
    .option("--rejects <file>", "documents that cannot be stored exactly", "ratestore-migrate-rejects.ndjson")
    .option("--checkpoint <file>", "days done", "ratestore-migrate.checkpoint.json")
    .option("--restart", "ignore an existing checkpoint", false)
    .option("--batch-points <n>", "points per push", positive, 5000)
    .option("--no-progress", "no progress line on stderr")
    .addOption(new Option("--verify-only", "only compare the totals").default(false).conflicts("verify"))
    .option("--no-verify", "skip the comparison of totals")
    .action(
      (o: {
        from: string;
        index: string;
        begin?: string;
        end?: string;
        rejects: string;
        checkpoint: string;
        restart: boolean;
        batchPoints: number;
        progress: boolean;
        verifyOnly: boolean;
        verify: boolean;
      }) => run(() => runMigrate(o)),
    );

  program
    .command("partitions")
    .summary("list partitions and their retention")
    .description("List the partitions: period, documents, size, lifecycle policy, its state, and when retention takes each out of reads.")
    .option("--json", "as JSON", false)
    .action((o: { json: boolean }) => run(() => runPartitions(o)));

  program
    .command("sweep")
    .summary("delete expired partitions now")
    .description(
      "Take expired partitions out of reads and delete them now (for clusters without ISM or ILM); safe beside running services.",
    )
    .action(() => run(runSweep));

  const rollups = program.command("rollups").summary("daily and monthly rollups: status and rebuild");
  rollups
    .command("status")
    .summary("days served from rollups, waiting, never rolled up")
    .description("Days served from rollups (clean), waiting for a rebuild (dirty), and never rolled up (raw).")
    .option("--json", "as JSON", false)
    .action((o: { json: boolean }) => run(() => runRollupStatus(o)));
  rollups
    .command("rebuild")
    .summary("rebuild a window's days now")
    .description("Mark the days of a window changed and rebuild them and their months now.")
    .option("--begin <time>", "window start (ISO 8601); default: the current month's")
    .option("--end <time>", "window end (ISO 8601); default: the current month's")
    .action((o: { begin?: string; end?: string }) => run(() => runRollupRebuild(o)));

  const dashboards = program.command("dashboards").summary("OpenSearch Dashboards and Kibana saved objects");
  dashboards
    .command("import")
    .summary("import ratestore's saved objects")
    .description(
      "Import dashboards/ratestore.ndjson (index pattern, searches, visualizations, dashboard) into OpenSearch Dashboards or Kibana.",
    )
    .requiredOption("--url <url>", "the Dashboards or Kibana URL")
    .option("--username <user>", "basic-auth user (or DASHBOARDS_USERNAME)")
    .option("--password <password>", "basic-auth password (or DASHBOARDS_PASSWORD)")
    .action((o: { url: string; username?: string; password?: string }) => run(() => runDashboardsImport(o)));

  return program;
}
