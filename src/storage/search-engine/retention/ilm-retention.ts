/**
 * Retention by Elasticsearch's Index Lifecycle Management: one policy deletes a partition once its
 * period's end is past the retention. ILM ages an index from `index.lifecycle.origination_date` where
 * it is set, so every partition is created with that date at its period's end and the policy named
 * explicitly; the age is then the age of its newest point, whenever the partition was created.
 * ILM cannot run on this machine: what is sent is pinned by golden fixtures (test/fixtures/requests).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { indexTemplatesDir } from "../../../project-files.js";
import type { PartitionFacts, PartitionRetention, RetentionContext, RetentionMechanism } from "./retention-mechanism.js";
import { timeValue } from "./retention-mechanism.js";

const PolicyFileSchema = z.object({
  version: z.number().int().positive(),
  policy: z.object({
    _meta: z.record(z.string(), z.unknown()),
    phases: z.record(z.string(), z.object({ min_age: z.string(), actions: z.record(z.string(), z.unknown()) })),
  }),
});

type PolicyAnswer = Record<string, { policy?: { _meta?: { ratestore?: string } } }>;

/** The ILM policy for a retention, as sent to `PUT _ilm/policy/<id>` (pure: pinned by golden fixtures). */
export function ilmPolicyBody(retentionMs: number): { policy: Record<string, unknown> } {
  const file = PolicyFileSchema.parse(
    JSON.parse(readFileSync(join(indexTemplatesDir(), "elasticsearch", "retention.ilm-policy.json"), "utf8")),
  );
  const age = timeValue(retentionMs);
  const phases = Object.fromEntries(
    Object.entries(file.policy.phases).map(([name, phase]) => [name, name === "delete" ? { ...phase, min_age: age } : phase]),
  );
  return { policy: { _meta: { ...file.policy._meta, ratestore: `policy v${file.version}, retention ${age}` }, phases } };
}

export class IlmRetention implements RetentionMechanism {
  readonly name = "ilm";
  readonly sweeps = false;
  readonly deletes = true;

  constructor(private readonly ctx: RetentionContext) {}

  creationSettings(range: { readonly end: number }): Record<string, unknown> {
    return { "index.lifecycle.name": this.ctx.policyId, "index.lifecycle.origination_date": range.end };
  }

  async install(existing: readonly PartitionFacts[]): Promise<void> {
    const body = ilmPolicyBody(this.ctx.retentionMs);
    const path = `/_ilm/policy/${this.ctx.policyId}`;
    const current = await this.ctx.client.request<PolicyAnswer>({ method: "GET", path }, [404]);
    // ILM applies a changed policy to the partitions already on it, from their current phase.
    if (
      current.status === 404 ||
      current.body[this.ctx.policyId]?.policy?._meta?.ratestore !== (body.policy._meta as { ratestore: string }).ratestore
    ) {
      await this.ctx.client.request({ method: "PUT", path, body });
      this.ctx.logger.info(current.status === 404 ? "ILM policy created" : "ILM policy updated", {
        policy: this.ctx.policyId,
        retention: timeValue(this.ctx.retentionMs),
      });
    }
    // Partitions created while another mechanism ran are put under the policy, dated by their data.
    const managed = await this.explain();
    for (const p of existing) {
      if (managed.get(p.index)?.policy === this.ctx.policyId) continue;
      await this.ctx.client.request({
        method: "PUT",
        path: `/${p.index}/_settings`,
        body: { index: { lifecycle: { name: this.ctx.policyId, origination_date: p.range.end } } },
      });
      this.ctx.logger.info("ILM: partition put under the retention policy", { index: p.index, policy: this.ctx.policyId });
    }
  }

  async adopt(): Promise<void> {
    // Named in its creation settings.
  }

  async describe(partitions: readonly PartitionFacts[]): Promise<Map<string, PartitionRetention>> {
    const managed = await this.explain();
    return new Map(
      partitions.map((p) => {
        const e = managed.get(p.index);
        return [
          p.index,
          e?.policy
            ? { policy: e.policy, ...(e.phase ? { state: e.phase } : {}), deletesAt: p.range.end + this.ctx.retentionMs }
            : { policy: "none (not managed)" },
        ];
      }),
    );
  }

  private async explain(): Promise<Map<string, { policy?: string; phase?: string }>> {
    const res = await this.ctx.client.request<{ indices?: Record<string, { policy?: string; phase?: string }> }>(
      { method: "GET", path: `/${this.ctx.partitions.pattern}/_ilm/explain` },
      [404],
    );
    return new Map(Object.entries(res.body.indices ?? {}));
  }
}
