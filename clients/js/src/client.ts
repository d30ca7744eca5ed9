// A small typed client for Switchboard's HTTP API, for the host app's backend (Node 20+, Deno,
// Bun, or any runtime with fetch). Every path, its parameters, its body and its answer are typed
// from src/schema.d.ts, which openapi-typescript generates from openapi.json.

import type { components, paths } from "./schema.js";

export type { components, paths, operations } from "./schema.js";

/** The HTTP methods the client speaks. */
export type Method = "get" | "put" | "post" | "patch" | "delete";

/** The paths that have an operation for `M`. */
export type PathsWith<M extends Method> = {
  [P in keyof paths]: paths[P] extends { [K in M]: infer Op } ? ([Op] extends [never] ? never : Op extends object ? P : never) : never;
}[keyof paths];

/** The operation at `P` for `M`. */
export type Operation<P extends keyof paths, M extends Method> = paths[P] extends { [K in M]: infer Op } ? Op : never;

type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
type Defined<T> = Exclude<T, undefined>;

type PathParams<O> = O extends { parameters: { path: infer X } } ? X : never;
type QueryParams<O> = O extends { parameters: { query?: infer X } } ? Defined<X> : never;

/** `params.path` and `params.query` as the operation declares them; required when one of theirs is. */
export type ParamsOf<O> = ([PathParams<O>] extends [never] ? { path?: never } : { path: PathParams<O> }) &
  ([QueryParams<O>] extends [never]
    ? { query?: never }
    : RequiredKeys<QueryParams<O>> extends never
      ? { query?: QueryParams<O> }
      : { query: QueryParams<O> });

/** The JSON request body, when the operation takes one. */
export type BodyOf<O> = O extends { requestBody: { content: { "application/json": infer B } } }
  ? B
  : O extends { requestBody?: { content: { "application/json": infer B } } }
    ? B | undefined
    : never;

type BodyInit<O> = [BodyOf<O>] extends [never]
  ? { body?: never }
  : undefined extends BodyOf<O>
    ? { body?: BodyOf<O> }
    : { body: BodyOf<O> };

type ParamsInit<O> = RequiredKeys<ParamsOf<O>> extends never ? { params?: ParamsOf<O> } : { params: ParamsOf<O> };

/** The second argument of a call: `params`, `body`, extra `headers`, a `signal`. */
export type RequestOptions<O> = ParamsInit<O> &
  BodyInit<O> & {
    headers?: Record<string, string>;
    signal?: AbortSignal;
  };

type Responses<O> = O extends { responses: infer R } ? R : never;
type Success = 200 | 201 | 202 | 203 | 204 | 206;
type ContentOf<R> = R extends { content: { "application/json": infer C } }
  ? C
  : R extends { content: { [type: string]: infer C } }
    ? C
    : undefined;

/** What a 2xx answer carries (`undefined` for 204). */
export type ResponseOf<O> = {
  [S in keyof Responses<O> & Success]: ContentOf<Responses<O>[S]>;
}[keyof Responses<O> & Success];

type ArgsOf<O> = RequiredKeys<RequestOptions<O>> extends never ? [options?: RequestOptions<O>] : [options: RequestOptions<O>];

/** The body of every Switchboard error answer. */
export type ErrorBody = components["schemas"]["ErrorBody"];

/** A non-2xx answer: its status and Switchboard's `{ error: { code, message, field } }`. */
export class SwitchboardApiError extends Error {
  override readonly name = "SwitchboardApiError";
  readonly status: number;
  /** The error's code (`not_found`, `invalid_request`, …), or `http_<status>` when the body had none. */
  readonly code: string;
  /** The request field at fault, for `invalid_request`. */
  readonly field: string | undefined;
  /** The parsed body (an `ErrorBody` when Switchboard answered). */
  readonly body: unknown;

  constructor(method: string, path: string, status: number, body: unknown) {
    const detail = errorDetail(body);
    super(`${method.toUpperCase()} ${path}: ${status}${detail?.message ? ` ${detail.message}` : ""}`);
    this.status = status;
    this.code = detail?.code ?? `http_${status}`;
    this.field = detail?.field ?? undefined;
    this.body = body;
  }
}

function errorDetail(body: unknown): { code?: string; message?: string; field?: string | null } | null {
  if (typeof body !== "object" || body === null) return null;
  const e = (body as Record<string, unknown>)["error"];
  if (typeof e !== "object" || e === null) return null;
  const r = e as Record<string, unknown>;
  const out: { code?: string; message?: string; field?: string | null } = {};
  if (typeof r["code"] === "string") out.code = r["code"];
  if (typeof r["message"] === "string") out.message = r["message"];
  if (typeof r["field"] === "string") out.field = r["field"];
  return out;
}

export interface ClientOptions {
  /** The server's URL, e.g. `http://127.0.0.1:8080` (a path prefix is kept). */
  baseUrl: string;
  /** A secret key (`sk_…`) or a session token (`st_…`), sent as `Authorization: Bearer …`. */
  token?: string;
  /** Headers for every request. */
  headers?: Record<string, string>;
  /** Another fetch (a test double, undici with a dispatcher…). */
  fetch?: typeof fetch;
}

type Call<M extends Method> = <P extends PathsWith<M>>(
  path: P,
  ...args: ArgsOf<Operation<P, M>>
) => Promise<ResponseOf<Operation<P, M>>>;

export interface Client {
  get: Call<"get">;
  put: Call<"put">;
  post: Call<"post">;
  patch: Call<"patch">;
  delete: Call<"delete">;
}

type QueryValue = string | number | boolean | null | undefined | readonly (string | number | boolean)[];

/** `template` (`/v1/connections/{id}`) with each `{name}` replaced by its encoded value. */
export function fillPath(template: string, values: Record<string, unknown> = {}): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const v = values[name];
    if (v === undefined || v === null) throw new TypeError(`${template}: missing path parameter ${name}`);
    return encodeURIComponent(String(v));
  });
}

/** `?a=1&b=x&b=y` for `{ a: 1, b: ["x", "y"] }`, skipping undefined and null; "" when empty. */
export function queryString(query: Record<string, QueryValue> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const item of v as readonly (string | number | boolean)[]) q.append(k, String(item));
    else q.append(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** The full URL for `path` (a template) with its parameters under `baseUrl`. */
export function buildUrl(
  baseUrl: string,
  path: string,
  params: { path?: Record<string, unknown>; query?: Record<string, QueryValue> } = {},
): string {
  const base = baseUrl.replace(/\/+$/, "");
  return `${base}${fillPath(path, params.path)}${queryString(params.query)}`;
}

/**
 * A client for the server at `baseUrl`:
 *
 * ```ts
 * const sb = createClient({ baseUrl: "http://127.0.0.1:8080", token: process.env.SWITCHBOARD_KEY });
 * const s = await sb.post("/v1/sessions", { body: { org: "acme", user: "u1", role: "member" } });
 * const c = await sb.get("/v1/connections/{id}", { params: { path: { id: "conn_…" } } });
 * ```
 *
 * A 2xx answer resolves with its parsed JSON (`undefined` for 204 or an empty body); any other
 * rejects with a `SwitchboardApiError`.
 */
export function createClient(options: ClientOptions): Client {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  new URL(options.baseUrl); // fail early on a relative or malformed base URL

  const request = async (method: Method, path: string, init: Record<string, unknown> = {}): Promise<unknown> => {
    const params = (init["params"] ?? {}) as { path?: Record<string, unknown>; query?: Record<string, QueryValue> };
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    if (options.token) headers["authorization"] = `Bearer ${options.token}`;
    Object.assign(headers, init["headers"] as Record<string, string> | undefined);
    const req: RequestInit = { method: method.toUpperCase(), headers };
    if (init["body"] !== undefined) {
      headers["content-type"] = "application/json";
      req.body = JSON.stringify(init["body"]);
    }
    if (init["signal"]) req.signal = init["signal"] as AbortSignal;
    const res = await doFetch(buildUrl(options.baseUrl, path, params), req);
    const text = await res.text();
    let body: unknown = undefined;
    if (text !== "") {
      const type = res.headers.get("content-type") ?? "";
      if (type.includes("json")) {
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
      } else {
        body = text;
      }
    }
    if (!res.ok) throw new SwitchboardApiError(method, path, res.status, body);
    return body;
  };

  const call =
    <M extends Method>(method: M): Call<M> =>
    (path, ...args) =>
      request(method, path, (args[0] ?? {}) as Record<string, unknown>) as never;

  return { get: call("get"), put: call("put"), post: call("post"), patch: call("patch"), delete: call("delete") };
}
