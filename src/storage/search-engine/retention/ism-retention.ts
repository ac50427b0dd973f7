/**
 * Retention by OpenSearch's Index State Management: a policy takes a partition out of the read alias
 * once its period's end is past the retention, and deletes it a grace period later.
 *
 * ISM ages an index from its `index.creation_date` and nothing else. Where the cluster accepts that
 * setting at creation (OpenSearch 3), every partition is created dated by its period's end and one
 * shared policy, its age the retention, serves them all. Where it does not (OpenSearch 2), a partition's
 * creation date is when the service first wrote to it, which for today's partition is inside its period
 * and for backfilled data is long after it: an age counted from there is wrong both ways (a shared
 * policy deleted acknowledged points a whole period early). There each partition gets its own policy,
 * its ages counted from the creation date the cluster recorded to the period's end plus the retention,
 * so ISM deletes it on time by the cluster's own clock.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { BackendError } from "../../../errors.js";
import { indexTemplatesDir } from "../../../project-files.js";
import { errorReason } from "../client.js";
import type { PartitionFacts, PartitionRetention, RetentionContext, RetentionMechanism } from "./retention-mechanism.js";
import { timeValue, timeValueMs } from "./retention-mechanism.js";

const PolicyFileSchema = z.object({
  version: z.number().int().positive(),
  policy: z.object({
    description: z.string(),
    default_state: z.literal("hold"),
    states: z.tuple([
      z.object({
        name: z.literal("hold"),
        actions: z.array(z.unknown()),
        transitions: z.tuple([z.object({ state_name: z.literal("detach") })]),
      }),
      z.object({
        name: z.literal("detach"),
        actions: z.tuple([z.object({ retry: z.unknown() })]),
        transitions: z.tuple([z.object({ state_name: z.literal("delete") })]),
      }),
      z.object({ name: z.literal("delete"), actions: z.array(z.unknown()), transitions: z.array(z.unknown()) }),
    ]),
  }),
});

/** The ages of a policy, counted from the index's creation date. */
export interface IsmAges {
  /** When the partition leaves the read alias. */
  readonly detachMs: number;
  /** When it is deleted: `detachMs` plus the grace period. */
  readonly deleteMs: number;
}

/** The ISM policy for these ages, as sent to `PUT _plugins/_ism/policies/<id>` (pure: pinned by golden fixtures). */
export function ismPolicyBody(ages: IsmAges, alias: string): { policy: Record<string, unknown> } {
  const file = PolicyFileSchema.parse(
    JSON.parse(readFileSync(join(indexTemplatesDir(), "opensearch", "retention.ism-policy.json"), "utf8")),
  );
  const [hold, detach, del] = file.policy.states;
  const detachAge = timeValue(ages.detachMs);
  const deleteAge = timeValue(ages.deleteMs);
  const states = [
    { ...hold, transitions: [{ state_name: "detach", conditions: { min_index_age: detachAge } }] },
    // must_exist false: a partition put under its policy again after it left the alias passes this step
    // instead of failing on the missing alias and never being deleted.
    {
      ...detach,
      actions: [{ retry: detach.actions[0].retry, alias: { actions: [{ remove: { alias, must_exist: false } }] } }],
      transitions: [{ state_name: "delete", conditions: { min_index_age: deleteAge } }],
    },
    del,
  ];
  // The description carries every input, so that a policy is rewritten exactly when one of them changed.
  return {
    policy: {
      ...file.policy,
      description: `${file.policy.description} [ratestore policy v${file.version}, out of ${alias} at ${detachAge}, deleted at ${deleteAge}]`,
      states,
    },
  };
}

/** `GET _plugins/_ism/policies/<id>` (the policy itself under `policy`; a PUT's answer nests it once more). */
interface PolicyAnswer {
  _seq_no: number;
  _primary_term: number;
  policy: { description?: string };
}

interface ListedPolicy {
  _id: string;
  _seq_no: number;
  _primary_term: number;
  policy: { description?: string; states?: { name: string; transitions?: { conditions?: { min_index_age?: string } }[] }[] };
}

interface PolicyListAnswer {
  policies?: ListedPolicy[];
}

interface ExplainEntry {
  policy_id?: string | null;
  policy_seq_no?: number;
  state?: { name?: string };
  index_creation_date?: number;
}

interface AddAnswer {
  updated_indices?: number;
  failures?: boolean;
  failed_indices?: { index_name?: string; reason?: string }[];
}

export class IsmRetention implements RetentionMechanism {
  readonly name = "ism";
  readonly sweeps = false;
  readonly deletes = true;

  constructor(private readonly ctx: RetentionContext) {}

  /** Whether partitions are dated by their period's end, so that one policy serves them all. */
  private get shared(): boolean {
    return this.ctx.profile.backdating === "creation_date";
  }

  /** The policy of a partition: the shared one, or its own (`<policy id>-<partition suffix>`). */
  policyOf(index: string): string {
    return this.shared ? this.ctx.policyId : `${this.ctx.policyId}-${index.slice(this.ctx.partitions.alias.length + 1)}`;
  }

  /** The ages that delete a partition on time, counted from its creation date as the cluster keeps it. */
  agesOf(p?: Pick<PartitionFacts, "range" | "createdAt">): IsmAges {
    const detachMs = this.shared || !p ? this.ctx.retentionMs : Math.max(0, p.range.end + this.ctx.retentionMs - p.createdAt);
    return { detachMs, deleteMs: detachMs + this.ctx.graceMs };
  }

  creationSettings(): Record<string, unknown> {
    return {};
  }

  async install(existing: readonly PartitionFacts[]): Promise<void> {
    const sharedRewritten = this.shared && (await this.putPolicy(this.ctx.policyId, this.agesOf()));
    const explained = await this.explain();
    const listed = existing.length === 0 ? undefined : await this.listPolicies();
    for (const p of existing) {
      const managed = explained[p.index];
      const wanted = this.policyOf(p.index);
      const rewritten = this.shared ? sharedRewritten : await this.putPolicy(wanted, this.agesOf(p), listed);
      // A partition still running an older version of its policy (a move that did not take) is moved again.
      const current = listed?.get(wanted)?._seq_no;
      const stale = !rewritten && managed?.policy_seq_no !== undefined && current !== undefined && managed.policy_seq_no !== current;
      if (managed?.policy_id === wanted && !rewritten && !stale) continue;
      // A managed partition keeps the policy version it started with until it is moved: change_policy
      // applies new ages at the next run, as only transition conditions differ. (Taken off and put on
      // again instead, the add can meet the removal not yet done and leave the old version in place.)
      if (managed?.policy_id) await this.changePolicy(p.index, wanted);
      else await this.attach(p.index, wanted);
      this.ctx.logger.info("ISM: partition put under its retention policy", {
        index: p.index,
        policy: wanted,
        was: managed?.policy_id ?? null,
      });
    }
    if (!this.shared) await this.dropOrphanPolicies(Object.keys(explained), listed);
  }

  async adopt(p: Omit<PartitionFacts, "createdAt">): Promise<void> {
    const policy = this.policyOf(p.index);
    if (!this.shared) await this.putPolicy(policy, this.agesOf({ ...p, createdAt: await this.creationDate(p.index) }));
    await this.attach(p.index, policy);
    // Once a partition, a day or a month: the policies of partitions ISM has deleted since go with it.
    if (!this.shared) await this.dropOrphanPolicies();
  }

  async describe(partitions: readonly PartitionFacts[]): Promise<Map<string, PartitionRetention>> {
    const explained = await this.explain();
    const policies = await this.listPolicies();
    const out = new Map<string, PartitionRetention>();
    for (const p of partitions) {
      const e = explained[p.index];
      if (!e?.policy_id) {
        out.set(p.index, { policy: "none (not managed)" });
        continue;
      }
      // What ISM will do: the age its policy gives, from the creation date it counts from.
      const hold = policies.get(e.policy_id)?.policy.states?.find((s) => s.name === "hold");
      const detachMs = timeValueMs(hold?.transitions?.[0]?.conditions?.min_index_age);
      out.set(p.index, {
        policy: e.policy_id,
        ...(e.state?.name ? { state: e.state.name } : { state: "initialising" }),
        ...(detachMs !== undefined ? { deletesAt: (e.index_creation_date ?? p.createdAt) + detachMs } : {}),
      });
    }
    return out;
  }

  /** Creates or rewrites a policy; true when it was rewritten (it existed with other ages). */
  private async putPolicy(id: string, ages: IsmAges, listed?: ReadonlyMap<string, ListedPolicy>): Promise<boolean> {
    const body = ismPolicyBody(ages, this.ctx.partitions.alias);
    const path = `/_plugins/_ism/policies/${id}`;
    // At start the policies come from one list request, not a request per partition.
    const known = listed?.get(id);
    const current = listed
      ? known
        ? { status: 200, body: { _seq_no: known._seq_no, _primary_term: known._primary_term, policy: known.policy } }
        : { status: 404, body: undefined }
      : await this.ctx.client.request<PolicyAnswer>({ method: "GET", path }, [404]);
    if (current.status === 404 || !current.body) {
      // 409: another instance created it at the same moment, from the same inputs.
      await this.ctx.client.request({ method: "PUT", path, body }, [409]);
      return false;
    }
    if (current.body.policy.description === body.policy.description) return false;
    await this.ctx.client.request(
      { method: "PUT", path, querystring: { if_seq_no: current.body._seq_no, if_primary_term: current.body._primary_term }, body },
      [409],
    );
    this.ctx.logger.info("ISM policy rewritten with new ages", {
      policy: id,
      detach_after: timeValue(ages.detachMs),
      delete_after: timeValue(ages.deleteMs),
    });
    return true;
  }

  private async attach(index: string, policy: string): Promise<void> {
    const res = await this.ctx.client.request<AddAnswer>({
      method: "POST",
      path: `/_plugins/_ism/add/${index}`,
      body: { policy_id: policy },
    });
    const managed = (res.body.failed_indices ?? []).filter((f) => /already has a policy/i.test(f.reason ?? ""));
    const failed = (res.body.failed_indices ?? []).filter((f) => !managed.includes(f));
    if (failed.length > 0)
      throw new Error(`ISM could not manage partition ${index} with policy ${policy}: ${failed.map((f) => f.reason).join("; ")}`);
    // Managed already (by another instance, or attached a moment ago: explain lags behind add), maybe by
    // another version of its policy: moved onto this one, which ISM applies at its next run.
    if (managed.length > 0) return this.changePolicy(index, policy);
    // With the security plugin, ISM skips an index the user may not manage, and says only that it updated none.
    if (res.body.updated_indices === 0 && (res.body.failed_indices ?? []).length === 0) {
      throw new BackendError(
        `ISM put no policy on partition ${index} (updated_indices 0): the cluster user needs indices:admin/opensearch/ism/managedindex on the partitions (docs/security.md)`,
        403,
      );
    }
  }

  private async changePolicy(index: string, policy: string): Promise<void> {
    const res = await this.ctx.client.request<AddAnswer>({
      method: "POST",
      path: `/_plugins/_ism/change_policy/${index}`,
      body: { policy_id: policy },
    });
    const failed = res.body.failed_indices ?? [];
    if (failed.length > 0)
      throw new Error(`ISM could not move partition ${index} onto policy ${policy}: ${failed.map((f) => f.reason).join("; ")}`);
  }

  /** A partition's `index.creation_date` as the cluster recorded it: what its ISM ages count from. */
  private async creationDate(index: string): Promise<number> {
    const res = await this.ctx.client.request<Record<string, { settings?: { index?: { creation_date?: string } } }>>({
      method: "GET",
      path: `/${index}/_settings/index.creation_date`,
    });
    return Number(res.body[index]?.settings?.index?.creation_date);
  }

  private async explain(): Promise<Record<string, ExplainEntry | undefined>> {
    const res = await this.ctx.client.request<Record<string, ExplainEntry | number>>(
      { method: "GET", path: `/_plugins/_ism/explain/${this.ctx.partitions.pattern}` },
      [400, 404],
    );
    // OpenSearch 2 answers a pattern that matches no index with 400 "no documents to get".
    if (res.status === 404 || (res.status === 400 && /no documents to get/.test(errorReason(res.body)))) return {};
    if (res.status === 400) throw new BackendError(`cluster rejected ISM explain: ${errorReason(res.body)}`, 502);
    return Object.fromEntries(Object.entries(res.body).filter((e): e is [string, ExplainEntry] => typeof e[1] === "object"));
  }

  /** This deployment's policies by id (the shared one and those of partitions), in one request. */
  private async listPolicies(): Promise<Map<string, ListedPolicy>> {
    const res = await this.ctx.client.request<PolicyListAnswer>({
      method: "GET",
      path: "/_plugins/_ism/policies",
      querystring: { queryString: `${this.ctx.policyId}*`, size: 10_000 },
    });
    return new Map((res.body.policies ?? []).map((p) => [p._id, p]));
  }

  /**
   * Deletes the own policies of partitions that no longer exist (ISM deleted them, or an operator did),
   * and the shared policy of releases before partitions had their own.
   */
  private async dropOrphanPolicies(live?: readonly string[], listed?: ReadonlyMap<string, ListedPolicy>): Promise<void> {
    const wanted = new Set((live ?? Object.keys(await this.explain())).map((i) => this.policyOf(i)));
    const stem = `${this.ctx.policyId}-`;
    for (const id of (listed ?? (await this.listPolicies())).keys()) {
      const ours =
        id === this.ctx.policyId ||
        (id.startsWith(stem) && this.ctx.partitions.rangeOf(`${this.ctx.partitions.alias}-${id.slice(stem.length)}`) !== undefined);
      if (!ours || wanted.has(id)) continue;
      await this.ctx.client.request({ method: "DELETE", path: `/_plugins/_ism/policies/${id}` }, [404]);
      this.ctx.logger.info("ISM: policy of a deleted partition removed", { policy: id });
    }
  }
}
