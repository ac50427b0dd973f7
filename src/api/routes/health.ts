/** The operator routes: liveness, readiness, metrics and the OpenAPI document. */
import { Router } from "express";
import type { AppContext } from "../context.js";
import { buildOpenApi } from "../openapi.js";
import type { ReadySchema } from "../schemas.js";
import type { z } from "zod";

export function healthRouter(ctx: AppContext, version: string): Router {
  const router = Router();
  const openapi = buildOpenApi(version);

  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok", cluster: ctx.cluster });
  });

  router.get("/readyz", async (_req, res) => {
    const h = await ctx.backend.health();
    const ready = h.reachable && h.templatesInstalled && h.status !== "red" && (h.foreignIndices ?? []).length === 0;
    // Reads are still served while the cluster refuses writes: 200, but not "ready".
    const body: z.input<typeof ReadySchema> = {
      status: !ready ? "not_ready" : h.writesRefused ? "read_only" : "ready",
      writes: h.writesRefused ? { accepted: false, reason: h.writesRefused } : { accepted: true },
      backend: ctx.backend.name,
      cluster: {
        reachable: h.reachable,
        name: h.clusterName,
        version: h.version,
        health: h.status,
        ...(h.profile ? { profile: h.profile } : {}),
      },
      templates_installed: h.templatesInstalled,
      retention: { hours: ctx.backend.getRetention().hours, mechanism: h.retention },
      problems: [...h.problems],
    };
    res.status(ready ? 200 : 503).json(body);
  });

  router.get("/metrics", async (_req, res) => {
    res.type(ctx.metrics.contentType).send(await ctx.metrics.render());
  });

  router.get("/openapi.json", (_req, res) => {
    res.json(openapi);
  });

  return router;
}
