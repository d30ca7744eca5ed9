// The typed backend client: URLs, headers, bodies, answers and errors; and its types.
import assert from "node:assert/strict";
import { test } from "node:test";

import { SwitchboardApiError, buildUrl, createClient, fillPath, queryString } from "../src/client.js";

test("paths are filled with encoded values and queries skip empty values", () => {
  assert.equal(fillPath("/v1/connections/{id}/actions/{action}", { id: "conn 1", action: "a/b" }), "/v1/connections/conn%201/actions/a%2Fb");
  assert.throws(() => fillPath("/v1/connections/{id}", {}), /missing path parameter id/);
  assert.equal(queryString({ org: "acme", limit: 10, x: undefined, y: null, tag: ["a", "b"], ok: true }), "?org=acme&limit=10&tag=a&tag=b&ok=true");
  assert.equal(queryString({}), "");
  assert.equal(buildUrl("http://h:1/base/", "/v1/sessions", { query: { org: "a b" } }), "http://h:1/base/v1/sessions?org=a+b");
});

function recorder(status: number, body: unknown, contentType = "application/json") {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const text = body === undefined ? null : typeof body === "string" ? body : JSON.stringify(body);
    return new Response(status === 204 ? null : text, { status, headers: text === null ? {} : { "content-type": contentType } });
  }) as unknown as typeof globalThis.fetch;
  return { calls, fetch };
}

test("a call sends the token, the JSON body and the path's parameters, and returns the JSON", async () => {
  const r = recorder(201, { id: "ses_1", token: "st_x", connect_url: "http://h/ui/connect/cl_1" });
  const sb = createClient({ baseUrl: "http://h:8080", token: "sk_test", fetch: r.fetch });
  const s = await sb.post("/v1/sessions", { body: { org: "acme", user: "u1", role: "member" } });
  assert.equal(s.id, "ses_1");
  assert.equal(r.calls[0]?.url, "http://h:8080/v1/sessions");
  assert.equal(r.calls[0]?.init.method, "POST");
  const headers = r.calls[0]?.init.headers as Record<string, string>;
  assert.equal(headers["authorization"], "Bearer sk_test");
  assert.equal(headers["content-type"], "application/json");
  assert.equal(r.calls[0]?.init.body, JSON.stringify({ org: "acme", user: "u1", role: "member" }));

  const g = recorder(200, { items: [] });
  const sb2 = createClient({ baseUrl: "http://h:8080", token: "sk_test", fetch: g.fetch });
  await sb2.get("/v1/connections/{id}", { params: { path: { id: "conn_1" } } });
  assert.equal(g.calls[0]?.url, "http://h:8080/v1/connections/conn_1");
  assert.equal(g.calls[0]?.init.body, undefined);
  await sb2.get("/v1/sessions", { params: { query: { org: "acme", limit: 5 } } });
  assert.equal(g.calls[1]?.url, "http://h:8080/v1/sessions?org=acme&limit=5");
  await sb2.get("/v1/connections");
  assert.equal(g.calls[2]?.url, "http://h:8080/v1/connections");
});

test("204 answers undefined; an error answer throws SwitchboardApiError with its code", async () => {
  const ok = recorder(204, undefined);
  const r = await createClient({ baseUrl: "http://h", fetch: ok.fetch }).delete("/v1/connections/{id}", { params: { path: { id: "conn_1" } } });
  assert.equal(r, undefined);
  assert.equal(ok.calls[0]?.init.method, "DELETE");

  const bad = recorder(404, { error: { code: "not_found", message: "no connection conn_x" } });
  await assert.rejects(
    createClient({ baseUrl: "http://h", fetch: bad.fetch }).get("/v1/connections/{id}", { params: { path: { id: "conn_x" } } }),
    (e: unknown) => e instanceof SwitchboardApiError && e.status === 404 && e.code === "not_found" && /no connection conn_x/.test(e.message),
  );
  const text = recorder(502, "Bad Gateway", "text/plain");
  await assert.rejects(
    createClient({ baseUrl: "http://h", fetch: text.fetch }).get("/v1/connections"),
    (e: unknown) => e instanceof SwitchboardApiError && e.code === "http_502" && e.body === "Bad Gateway",
  );
});

// Compile-time checks: each line marked @ts-expect-error must fail to type-check.
export function typeChecks(): void {
  const sb = createClient({ baseUrl: "http://h" });
  void (async () => {
    const c = await sb.get("/v1/connections/{id}", { params: { path: { id: "x" } } });
    const provider: string = c.provider;
    void provider;
    // @ts-expect-error the path parameter is required
    await sb.get("/v1/connections/{id}");
    // @ts-expect-error a path parameter of the wrong name
    await sb.get("/v1/connections/{id}", { params: { path: { name: "x" } } });
    // @ts-expect-error no such path
    await sb.get("/v1/nothing");
    // @ts-expect-error no PUT on /v1/sessions
    await sb.put("/v1/sessions", { body: {} });
    // @ts-expect-error the body is required
    await sb.post("/v1/sessions");
    // @ts-expect-error role is required in the body
    await sb.post("/v1/sessions", { body: { org: "acme", user: "u1" } });
    const d: undefined = await sb.delete("/v1/connections/{id}", { params: { path: { id: "x" } } });
    void d;
  });
}
