/**
 * The `search-engine` backend: CloudKitty's storage in an OpenSearch or Elasticsearch cluster,
 * assembled from its parts.
 */
import type { StorageConfig } from "../../config.js";
import { BackendUnavailableError, ConfigError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import {
  NO_OBSERVER,
  type StorageObserver,
  type BackendHealth,
  type DeleteResult,
  type TotalPage,
  type PointPage,
  type PartitionInfo,
  type RollupRebuild,
  type RollupStatus,
  type SweepSummary,
  type PointSelection,
  type PushOptions,
  type PushResult,
  type Retention,
  type RetrieveOptions,
  type StorageBackend,
  type StorageOperations,
  type StoredPoint,
  type TotalOptions,
  type WriteStats,
} from "../backend.js";
import { parseProfileOverride, type ClusterProfile, type ProfileOverride } from "./cluster-profile.js";
import type { DataFrame } from "../dataframe.js";
import { TotalAggregator } from "./aggregations.js";
import { TotalQueries } from "./total-queries.js";
import { ClusterClient } from "./client.js";
import { PointDeleter } from "./deleter.js";
import { Partitions } from "./partitions.js";
import { PointReader } from "./reader.js";
import { Refresher } from "./refresher.js";
import { PointSearch } from "./search.js";
import { Lifecycle } from "./retention/lifecycle.js";
import { RetentionSweeper } from "./retention/retention-sweeper.js";
import { foreignIndexProblem, foreignIndices } from "./ownership.js";
import { detectProfile } from "./profile-detection.js";
import { withDefaultWindow } from "../time.js";
import { installPointsTemplate, replicaSettings, templateInstalled } from "./templates.js";
import { writeBlocks } from "./write-blocks.js";
import { PointWriter } from "./writer.js";
import { LocksIndex } from "./lease.js";
import { RollupBuilder } from "./rollups/rollup-builder.js";
import { RollupReads } from "./rollups/rollup-reads.js";
import { RollupStates } from "./rollups/rollup-states.js";
import { DayMarks } from "./rollups/write-marks.js";
import { DAY_MS, dayOf, dayText } from "./rollups/rollup-calendar.js";

/** The parts that speak the cluster's dialect: built once the cluster profile is known. */
interface Components {
  readonly profile: ClusterProfile;
  readonly search: PointSearch;
  readonly lifecycle: Lifecycle;
  readonly writer: PointWriter;
  readonly reader: PointReader;
  readonly aggregator: TotalAggregator;
  readonly totalQueries: TotalQueries;
  readonly deleter: PointDeleter;
  readonly sweeper: RetentionSweeper;
  readonly states: RollupStates;
  /** The marks this process's writes hold on days (rollups/write-marks.ts). */
  readonly dayMarks: DayMarks;
  readonly builder: RollupBuilder;
  /** Present when summaries use rollups (RATESTORE_ROLLUPS). */
  readonly rollupReads?: RollupReads;
}

/**
 * The OpenSearch / Elasticsearch backend: writer, reader, aggregations and deleter over one client and
 * one partition scheme. `connect()` detects the cluster profile once and hands it to every component;
 * `init()` also installs the template and the retention policy.
 */
export class SearchEngineBackend implements StorageBackend, StorageOperations {
  readonly name = "search-engine";
  readonly client: ClusterClient;
  readonly partitions: Partitions;
  private readonly refresher: Refresher;
  private readonly profileOverride: ProfileOverride;
  private components: Components | undefined;
  private clusterName: string | undefined;
  private readonly emptyStats: WriteStats = { stored: 0, duplicates: 0, failed: 0, retries: 0, bulkRequests: 0 };

  constructor(
    readonly config: StorageConfig,
    private readonly logger: Logger,
    private readonly observer: StorageObserver = NO_OBSERVER,
  ) {
    this.profileOverride = parseProfileOverride(config.cluster.profile);
    this.client = new ClusterClient(config.cluster);
    this.partitions = new Partitions(config.indexPrefix, config.partition);
    this.refresher = new Refresher(this.client, this.partitions, observer);
  }

  /** The initialised components; before init() succeeds every operation is a 503, as while the cluster is down. */
  private get parts(): Components {
    if (!this.components) throw new BackendUnavailableError("storage is not initialised: the cluster has not been reached yet");
    return this.components;
  }

  get profile(): ClusterProfile {
    return this.parts.profile;
  }

  get lifecycle(): Lifecycle {
    return this.parts.lifecycle;
  }

  get sweeper(): RetentionSweeper {
    return this.parts.sweeper;
  }

  writeStats(): Readonly<WriteStats> {
    return this.components?.writer.stats ?? this.emptyStats;
  }

  async connect(): Promise<void> {
    if (this.components) return;
    const { profile, clusterName } = await detectProfile(this.client, this.profileOverride);
    this.clusterName = clusterName;
    this.logger.info("connected to cluster", { urls: this.client.safeUrls, cluster: clusterName, profile });
    const c = this.config;
    const search = new PointSearch(this.client, this.partitions.alias, profile, this.logger);
    const lifecycle = new Lifecycle(this.client, this.partitions, c, profile, this.logger);
    const locks = new LocksIndex(this.client, `${c.indexPrefix}-locks`, replicaSettings(c));
    const states = new RollupStates(this.client, `${c.indexPrefix}-rollups`, replicaSettings(c));
    const dayMarks = new DayMarks(this.client, states, this.logger);
    const monthLevel = c.partition !== "day";
    const rollupReads = c.rollups.enabled ? new RollupReads(states, monthLevel, this.observer) : undefined;
    if (c.rollups.enabled && !c.rollups.marks)
      throw new ConfigError("rollups cannot be read where writes do not mark the days they change");
    // Writes mark their days whether or not summaries read rollups: turned on later, none is stale.
    const newMarks = () => (c.rollups.marks ? dayMarks.forWrite() : undefined);
    this.components = {
      profile,
      search,
      lifecycle,
      writer: new PointWriter(this.client, this.partitions, c.bulk, this.logger, this.refresher, lifecycle, this.observer, newMarks),
      reader: new PointReader(search),
      aggregator: new TotalAggregator(search),
      totalQueries: new TotalQueries(this.client, this.partitions, rollupReads),
      deleter: new PointDeleter(this.client, search, this.refresher, this.logger, newMarks),
      sweeper: new RetentionSweeper(
        this.client,
        this.partitions,
        lifecycle,
        c.sweepIntervalSeconds * 1000,
        this.logger,
        c.sweepGraceSeconds * 1000,
        locks,
      ),
      states,
      dayMarks,
      builder: new RollupBuilder(
        this.client,
        this.partitions,
        states,
        locks,
        { intervalMs: c.rollups.intervalSeconds * 1000, quietMs: c.rollups.quietSeconds * 1000, monthLevel },
        this.logger,
        this.observer,
        () => dayMarks.flush(),
      ),
      ...(rollupReads ? { rollupReads } : {}),
    };
  }

  async init(): Promise<void> {
    await this.connect();
    const foreign = await foreignIndices(this.client, this.partitions.alias);
    if (foreign.length > 0) throw new ConfigError(foreignIndexProblem(this.partitions.alias, foreign));
    await installPointsTemplate(this.client, this.partitions, this.config, this.parts.profile, this.logger);
    await this.parts.lifecycle.init();
  }

  /** Runs the retention sweeper in the background when it is the active mechanism (the service does; the CLI does not). */
  startBackgroundWork(): void {
    if (this.parts.lifecycle.sweeperNeeded) this.parts.sweeper.start();
    if (this.config.rollups.enabled) this.parts.builder.start();
  }

  get builder(): RollupBuilder {
    return this.parts.builder;
  }

  push(dataframes: readonly DataFrame[], options?: PushOptions): Promise<PushResult> {
    return this.parts.writer.push(dataframes, options);
  }

  // Every read starts with the refresh that makes the pushes acknowledged before it visible (Refresher).
  // Reads default to the current month (CloudKitty's window). The window is fixed once, here, so that the
  // refresh and the search cover the same partitions even when a read straddles the turn of a month.

  /** The read's window, once its partitions are refreshed. */
  private async refreshedSelection<S extends PointSelection>(options: S): Promise<S & { begin: number; end: number }> {
    const selection = withDefaultWindow(options);
    await this.refresher.beforeRead(selection);
    return selection;
  }

  iteratePoints(options: Omit<RetrieveOptions, "offset" | "limit" | "paginate"> = {}): AsyncIterable<StoredPoint> {
    const { reader } = this.parts;
    const selection = withDefaultWindow(options);
    return this.afterRefresh(
      () => this.refresher.beforeRead(selection),
      () => reader.iteratePoints(selection),
    );
  }

  scanPoints(options: Omit<RetrieveOptions, "offset" | "limit" | "paginate" | "after"> = {}): AsyncIterable<readonly StoredPoint[]> {
    const { reader } = this.parts;
    const selection = withDefaultWindow(options);
    return this.afterRefresh(
      () => this.refresher.beforeRead(selection),
      () => reader.scan(selection),
    );
  }

  async streamPage(options: RetrieveOptions = {}): Promise<PointPage> {
    const { reader } = this.parts;
    return reader.streamPage(await this.refreshedSelection(options));
  }

  streamTotal(options: TotalOptions = {}): TotalPage {
    const selection = withDefaultWindow(options);
    const { aggregator, totalQueries } = this.parts;
    // Once the options are valid, the refresh and what the summary's search needs (its rollup states,
    // its partitions' mappings) are read at once; the rows follow both.
    let refreshed: Promise<void> | undefined;
    const refresh = () => (refreshed ??= this.refresher.beforeRead(selection));
    const page = aggregator.streamTotal(selection, totalQueries.source(refresh));
    return { rows: this.afterRefresh(refresh, () => page.rows), end: () => page.end() };
  }

  /** A stream that refreshes before its first item. */
  private async *afterRefresh<T>(refresh: () => Promise<void>, stream: () => AsyncIterable<T>): AsyncGenerator<T> {
    await refresh();
    yield* stream();
  }

  /** Makes every stored point visible to readers of the indices that do not go through ratestore (Dashboards, Kibana) now. */
  refresh(): Promise<void> {
    return this.refresher.all();
  }

  async delete(options: PointSelection = {}): Promise<DeleteResult> {
    const { deleter } = this.parts;
    // Deletes have no default window: without one, every partition.
    await this.refresher.beforeRead(options);
    return deleter.delete(options);
  }

  async describePartitions(): Promise<PartitionInfo[]> {
    const { lifecycle } = this.parts;
    // Its point counts are the searchable ones, less the rollup documents beside them.
    await this.refresher.all();
    const [partitions, rollupDocs] = await Promise.all([lifecycle.describePartitions(), this.rollupDocuments()]);
    return partitions.map((p) => ({ ...p, docs: p.docs - (rollupDocs.get(p.index) ?? 0) }));
  }

  /** Rollup documents per partition. */
  private async rollupDocuments(): Promise<Map<string, number>> {
    const res = await this.client.request<{ aggregations?: { p?: { buckets: { key: string; doc_count: number }[] } } }>(
      {
        method: "POST",
        path: `/${this.partitions.alias}/_search`,
        querystring: { ignore_unavailable: true, allow_no_indices: true },
        body: { size: 0, query: { exists: { field: "rollup" } }, aggs: { p: { terms: { field: "_index", size: 10_000 } } } },
      },
      [404],
    );
    return new Map((res.body.aggregations?.p?.buckets ?? []).map((b) => [b.key, b.doc_count]));
  }

  async rollupStatus(): Promise<RollupStatus> {
    const { states, builder } = this.parts;
    const [days, backlog, dirty, raw] = await Promise.all([
      states.counts(),
      builder.backlog(),
      states.daysWithStatus("dirty", 100),
      states.daysWithStatus("raw", 100),
    ]);
    return {
      enabled: this.config.rollups.enabled,
      days,
      lagSeconds: backlog.lagSeconds,
      pending: [
        ...dirty.map((d) => ({ day: dayText(d.at), status: "dirty" as const })),
        ...raw.map((d) => ({ day: dayText(d.at), status: "raw" as const, ...(d.reason ? { reason: d.reason } : {}) })),
      ],
    };
  }

  async rebuildRollups(window: { readonly begin: number; readonly end: number }): Promise<RollupRebuild> {
    const { dayMarks, builder } = this.parts;
    const days: number[] = [];
    for (let d = dayOf(window.begin); d < window.end; d += DAY_MS) days.push(d);
    const marks = dayMarks.forWrite();
    await marks.add(days);
    await marks.end({ changed: true, settled: true });
    await dayMarks.flush();
    return builder.runOnce(Date.now(), { quiet: false, days });
  }

  sweepRetention(now?: number): Promise<SweepSummary> {
    return this.parts.sweeper.sweepOnce(now);
  }

  getRetention(): Retention {
    return { hours: this.config.retentionHours };
  }

  async health(): Promise<BackendHealth> {
    const retention = this.components?.lifecycle.active ?? "unknown (not initialised)";
    if (!this.components)
      return {
        reachable: false,
        templatesInstalled: false,
        retention,
        problems: ["storage is not initialised: the cluster has not been reached yet"],
      };
    const { profile } = this.components;
    const problems: string[] = [];
    try {
      const [health, installed, foreign, writesRefused] = await Promise.all([
        this.client.request<{ status?: string; cluster_name?: string }>({ method: "GET", path: "/_cluster/health" }),
        templateInstalled(this.client, this.partitions),
        foreignIndices(this.client, this.partitions.alias),
        writeBlocks(this.client, this.partitions),
      ]);
      if (writesRefused) problems.push(`writes are refused: ${writesRefused}`);
      if (!installed) problems.push(`index template ${this.partitions.alias} is not installed`);
      if (foreign.length > 0) problems.push(foreignIndexProblem(this.partitions.alias, foreign));
      if (health.body.status === "red") problems.push("cluster health is red");
      return {
        reachable: true,
        clusterName: health.body.cluster_name ?? this.clusterName,
        version: profile.version,
        distribution: profile.distribution,
        profile,
        status: health.body.status,
        templatesInstalled: installed,
        foreignIndices: foreign,
        retention,
        ...(writesRefused ? { writesRefused } : {}),
        problems,
      };
    } catch (err) {
      return { reachable: false, profile, templatesInstalled: false, retention, problems: [(err as Error).message] };
    }
  }

  async close(): Promise<void> {
    this.components?.sweeper.stop();
    this.components?.builder.stop();
    // Marks no write holds any more are settled now rather than left to expire.
    await this.components?.dayMarks.flush().catch(() => undefined);
    await this.client.close();
  }
}
