/**
 * The HTTP edges of `rlvr serve`: the request's path (a malformed %-escape is a 400), its JSON body
 * (Content-Type must say JSON; the size limit holds while the body streams in, so an oversized body
 * is refused before it is buffered), and JSON replies.
 */
import type http from "node:http";
import { ApiError } from "./requests.ts";

/** The request's path without trailing slashes, %-decoded; the query must decode too (nothing reads it). */
export function requestPath(req: http.IncomingMessage): string {
  const raw = req.url ?? "/";
  const q = raw.indexOf("?");
  const [pathPart, query] = q < 0 ? [raw, ""] : [raw.slice(0, q), raw.slice(q + 1)];
  let path: string;
  try {
    path = decodeURIComponent(pathPart);
    decodeURIComponent(query.replaceAll("+", " "));
  } catch {
    throw new ApiError(400, `the URL ${JSON.stringify(raw.slice(0, 200))} has a malformed %-escape`, null, "invalid_url");
  }
  if (!path.startsWith("/")) throw new ApiError(400, `the URL ${JSON.stringify(raw.slice(0, 200))} is not a path`, null, "invalid_url");
  return path.replace(/\/+$/, "") || "/";
}

/**
 * The body as JSON, read up to `maxBytes`: 415 unless Content-Type is application/json (a
 * text/plain POST is one any web page may send cross-origin), 413 past the limit — declared by
 * Content-Length (before the client sends it, if it asked) or found while streaming, without
 * buffering the rest — and 400 when it is not JSON.
 */
export async function readJson(req: http.IncomingMessage, res: http.ServerResponse, maxBytes: number): Promise<unknown> {
  const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json") {
    throw new ApiError(415, `Content-Type must be application/json, not ${type ? JSON.stringify(type) : "missing"}`, null, "unsupported_media_type");
  }
  const tooLarge = () => new ApiError(413, `the request body is larger than this server's limit of ${maxBytes} bytes (--max-body-bytes)`, null, "body_too_large");
  if (Number(req.headers["content-length"] ?? 0) > maxBytes) throw tooLarge();
  // a client that asked first (Expect: 100-continue, as curl does for large bodies) sends it only now
  if (req.headers.expect?.toLowerCase() === "100-continue") res.writeContinue();
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > maxBytes) throw tooLarge();
    parts.push(part);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString("utf8"));
  } catch (err) {
    throw new ApiError(400, `the request body is not valid JSON: ${(err as Error).message}`, null, "invalid_json");
  }
}

export function sendJson(res: http.ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}
