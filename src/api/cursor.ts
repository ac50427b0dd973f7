/** Page cursors: opaque, signed tokens that carry where a page ended and the question it belonged to. */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { ValidationError } from "../errors.js";

/**
 * Opaque, signed page cursors: `base64url(payload).base64url(hmac)`. The payload binds the position to
 * the query it came from, so a cursor replayed with other filters, or altered, is a 400. Several
 * instances behind one load balancer must share RATESTORE_CURSOR_SECRET.
 */
const PayloadSchema = z.strictObject({
  v: z.literal(1),
  kind: z.enum(["points", "groups"]),
  query: z.string(),
  after: z.unknown(),
  position: z.number().int().nonnegative().optional(),
  total: z.number().int().nonnegative().optional(),
});
export type CursorPayload = z.infer<typeof PayloadSchema>;

export class CursorCodec {
  private readonly secret: Buffer;

  constructor(secret?: string) {
    this.secret = secret ? Buffer.from(secret, "utf8") : randomBytes(32);
  }

  private sign(body: string): Buffer {
    return createHmac("sha256", this.secret).update(body).digest();
  }

  encode(payload: Omit<CursorPayload, "v">): string {
    const body = Buffer.from(JSON.stringify({ v: 1, ...payload })).toString("base64url");
    return `${body}.${this.sign(body).toString("base64url")}`;
  }

  decode(token: string, kind: CursorPayload["kind"], query: string): CursorPayload {
    const bad = (why: string) => ValidationError.forField("cursor", why);
    const [body, mac, extra] = token.split(".");
    if (!body || !mac || extra !== undefined) throw bad("is not a cursor returned by this service");
    const given = Buffer.from(mac, "base64url");
    const expected = this.sign(body);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad("was altered, or comes from another deployment");
    let payload: CursorPayload;
    try {
      payload = PayloadSchema.parse(JSON.parse(Buffer.from(body, "base64url").toString("utf8")));
    } catch {
      throw bad("is not a cursor returned by this service");
    }
    if (payload.kind !== kind) throw bad(`belongs to the other endpoint (${payload.kind})`);
    if (payload.query !== query)
      throw bad("belongs to a query with other parameters; repeat the cursor with the parameters of the first page");
    return payload;
  }
}
