import type { StorageConfig } from "../../config.js";
import type { Logger } from "../../logger.js";
import type {
  BackendHealth,
  DeleteResult,
  GroupPage,
  PointPage,
  PartitionInfo,
  SweepSummary,
  PointScope,
  PushOptions,
  PushResult,
  Retention,
  RetrieveOptions,
  RetrieveResult,
  StorageBackend,
  StoredPoint,
  TotalOptions,
  TotalResult,
  WriteStats,
} from "../backend.js";
import type { DataFrame } from "../dataframe.js";
import { TotalAggregator } from "./aggregations.js";
import { ClusterClient } from "./client.js";
import { PointDeleter } from "./deleter.js";
import { Partitions } from "./partitions.js";
import { PointReader } from "./reader.js";
import { PointSearch } from "./search.js";
import { Lifecycle } from "./lifecycle.js";
import { RetentionSweeper } from "./sweeper.js";
import { installPointsTemplate, templateInstalled } from "./templates.js";
import { PointWriter } from "./writer.js";

interface RootInfo {
  cluster_name?: string;
  version?: { number?: string; distribution?: string };
}

/** The OpenSearch backend: writer, reader, aggregations and deleter over one client and one partition scheme. */
export class OpenSearchBackend implements StorageBackend {
  readonly name = "opensearch";
  readonly client: ClusterClient;
  readonly partitions: Partitions;
  private readonly search: PointSearch;
  private readonly writer: PointWriter;
  private readonly reader: PointReader;
  private readonly aggregator: TotalAggregator;
  private readonly deleter: PointDeleter;
  readonly lifecycle: Lifecycle;
  readonly sweeper: RetentionSweeper;

  constructor(
    readonly config: StorageConfig,
    private readonly logger: Logger,
  ) {
    this.client = new ClusterClient(config.opensearch);
    this.partitions = new Partitions(config.indexPrefix, config.partition);
    this.search = new PointSearch(this.client, this.partitions.alias, logger);
    this.lifecycle = new Lifecycle(this.client, this.partitions, config, logger);
    this.writer = new PointWriter(this.client, this.partitions, config.bulk, logger, this.lifecycle);
    this.sweeper = new RetentionSweeper(this.client, this.partitions, this.lifecycle, config.sweepIntervalSeconds * 1000, logger, config.sweepGraceSeconds * 1000);
    this.reader = new PointReader(this.search);
    this.aggregator = new TotalAggregator(this.search);
    this.deleter = new PointDeleter(this.client, this.search, logger);
  }

  writeStats(): Readonly<WriteStats> {
    return this.writer.stats;
  }

  async init(): Promise<void> {
    const info = await this.client.request<RootInfo>({ method: "GET", path: "/" });
    this.logger.info("connected to cluster", {
      url: this.client.safeUrl,
      cluster: info.body.cluster_name,
      distribution: info.body.version?.distribution ?? "elasticsearch",
      version: info.body.version?.number,
    });
    await installPointsTemplate(this.client, this.partitions, this.config, this.logger);
    await this.lifecycle.init();
  }

  /** Runs the retention sweeper in the background when it is the active mechanism (the service does; the CLI does not). */
  startBackgroundWork(): void {
    if (this.lifecycle.active !== "none" && this.lifecycle.active !== "ism") this.sweeper.start();
  }

  push(dataframes: readonly DataFrame[], options?: PushOptions): Promise<PushResult> {
    return this.writer.push(dataframes, options);
  }

  retrieve(options?: RetrieveOptions): Promise<RetrieveResult> {
    return this.reader.retrieve(options);
  }

  iteratePoints(options?: Omit<RetrieveOptions, "offset" | "limit" | "paginate">): AsyncIterable<StoredPoint> {
    return this.reader.iterate(options);
  }

  streamPage(options?: RetrieveOptions): Promise<PointPage> {
    return this.reader.streamPage(options);
  }

  total(options?: TotalOptions): Promise<TotalResult> {
    return this.aggregator.total(options);
  }

  streamTotal(options?: TotalOptions): GroupPage {
    return this.aggregator.streamTotal(options);
  }

  async refresh(): Promise<void> {
    await this.client.request({ method: "POST", path: `/${this.partitions.alias}/_refresh`, querystring: { ignore_unavailable: true, allow_no_indices: true } }, [404]);
  }

  delete(options?: PointScope): Promise<DeleteResult> {
    return this.deleter.delete(options);
  }

  describePartitions(): Promise<PartitionInfo[]> {
    return this.lifecycle.describePartitions();
  }

  sweepRetention(now?: number): Promise<SweepSummary> {
    return this.sweeper.sweepOnce(now);
  }

  getRetention(): Retention {
    return { hours: this.config.retentionHours };
  }

  async health(): Promise<BackendHealth> {
    const problems: string[] = [];
    try {
      const [info, health, installed] = await Promise.all([
        this.client.request<RootInfo>({ method: "GET", path: "/" }),
        this.client.request<{ status?: string }>({ method: "GET", path: "/_cluster/health" }),
        templateInstalled(this.client, this.partitions),
      ]);
      if (!installed) problems.push(`index template ${this.partitions.alias} is not installed`);
      if (health.body.status === "red") problems.push("cluster health is red");
      return {
        reachable: true,
        clusterName: info.body.cluster_name,
        version: info.body.version?.number,
        distribution: info.body.version?.distribution ?? "elasticsearch",
        status: health.body.status,
        templatesInstalled: installed,
        retention: this.lifecycle.active,
        problems,
      };
    } catch (err) {
      return { reachable: false, templatesInstalled: false, retention: this.lifecycle.active, problems: [(err as Error).message] };
    }
  }

  async close(): Promise<void> {
    this.sweeper.stop();
    await this.client.close();
  }
}
