/** Listening for HTTP with the service's limits on request lines and headers. */
import { createServer, type Server } from "node:http";
import type { Duplex } from "node:stream";
import type { Express } from "express";
import { MAX_URL_LENGTH } from "./app.js";

/** Request line and headers together, at most: room for a MAX_URL_LENGTH target and ordinary headers. */
export const MAX_HEADER_BYTES = MAX_URL_LENGTH + 48 * 1024;

/** What Node's HTTP parser answers by itself, before the app sees the request, in the service's JSON error shape. */
function parserErrorResponse(code: string | undefined): { status: number; reason: string; error: string; message: string } {
  if (code === "HPE_HEADER_OVERFLOW") {
    return {
      status: 431,
      reason: "Request Header Fields Too Large",
      error: "headers_too_large",
      message: `request line and headers exceed ${MAX_HEADER_BYTES} bytes`,
    };
  }
  return { status: 400, reason: "Bad Request", error: "bad_request", message: "malformed HTTP request" };
}

/** Serves the app with every answer in JSON, the HTTP parser's own refusals (431, 400) included. */
export function serve(app: Express, port: number, host: string): Promise<Server> {
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, app);
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const r = parserErrorResponse(err.code);
    const body = JSON.stringify({ error: r.error, message: r.message, details: [] });
    socket.end(
      `HTTP/1.1 ${r.status} ${r.reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
