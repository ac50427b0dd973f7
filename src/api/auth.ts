/**
 * API keys: who is calling (an admin or a project key), and the scope a project key's reads are held
 * to.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import type { ApiConfig } from "../config.js";
import { UnauthorizedError } from "../errors.js";
import type { Filters, PointSelection } from "../storage/backend.js";

/** Who is calling: an admin sees everything; a project key sees only its own scope. */
export type Principal =
  { readonly name: string; readonly role: "admin" } | { readonly name: string; readonly role: "project"; readonly scope: string };

const ANONYMOUS_ADMIN: Principal = { name: "anonymous (no-auth mode)", role: "admin" };

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest();

/** Keys are held as SHA-256 digests and compared in constant time; the keys themselves are never kept or logged. */
export class KeyStore {
  private readonly byDigest = new Map<string, { digest: Buffer; principal: Principal }>();

  constructor(private readonly config: ApiConfig) {
    for (const k of config.keys) {
      const digest = k.key_sha256 ? Buffer.from(k.key_sha256, "hex") : sha256(k.key!);
      const principal: Principal =
        k.role === "admin" ? { name: k.name, role: "admin" } : { name: k.name, role: "project", scope: k.scope! };
      this.byDigest.set(digest.toString("hex"), { digest, principal });
    }
  }

  authenticate(token: string | undefined): Principal {
    if (this.config.auth === "none") return ANONYMOUS_ADMIN;
    if (!token) throw new UnauthorizedError("an API key is required: send 'Authorization: Bearer <key>' or 'X-Auth-Token: <key>'");
    const digest = sha256(token);
    const entry = this.byDigest.get(digest.toString("hex"));
    if (!entry || !timingSafeEqual(entry.digest, digest)) throw new UnauthorizedError("unknown API key");
    return entry.principal;
  }
}

export function tokenOf(req: Request): string | undefined {
  const auth = req.get("authorization");
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : undefined;
  }
  return req.get("x-auth-token") ?? undefined;
}

export function authenticate(store: KeyStore) {
  return (req: Request, res: Response, next: NextFunction) => {
    res.locals.principal = store.authenticate(tokenOf(req));
    next();
  };
}

export function principalOf(res: Response): Principal {
  return res.locals.principal as Principal;
}

/**
 * The scope filter, forced on the server: a project key's reads are narrowed to its scope whatever
 * the request's own filters say; a filter on the scope key is replaced by the key's scope, as
 * CloudKitty's API does.
 */
export function restrictToScope<S extends PointSelection>(principal: Principal, scopeKey: string, selection: S): S {
  if (principal.role === "admin") return selection;
  const groupFilters: Filters = { ...(selection.groupFilters ?? {}), [scopeKey]: principal.scope };
  return { ...selection, groupFilters };
}
