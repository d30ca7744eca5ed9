// The pure parts of connect: message filtering, URL building, redirect results, options.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  SwitchboardError,
  acceptMessage,
  buildConnectUrl,
  connectLinksEndpoint,
  outcomeOf,
  parseMessage,
  readRedirectResult,
  resolveOptions,
  stripRedirectResult,
  toEvent,
} from "../src/connect.js";

const ORIGIN = "https://sb.example.com";
const LINK = `${ORIGIN}/ui/connect/cl_abc`;

test("a message is accepted only from the page's origin, with source switchboard", () => {
  const data = { source: "switchboard", type: "switchboard:connected", provider: "openai", connection_id: "conn_1" };
  assert.deepEqual(acceptMessage({ origin: ORIGIN, data }, ORIGIN), data);
  for (const origin of ["https://evil.example", "http://sb.example.com", "https://sb.example.com:8443", "null", ""]) {
    assert.equal(acceptMessage({ origin, data }, ORIGIN), null, origin);
  }
  for (const bad of [
    null,
    undefined,
    "switchboard:connected",
    42,
    [],
    { type: "switchboard:connected", connection_id: "conn_1" },
    { source: "other", type: "switchboard:connected" },
    { source: "switchboard", type: "connected" },
    { source: "switchboard", type: "switchboard:unknown" },
    { source: "switchboard" },
  ]) {
    assert.equal(acceptMessage({ origin: ORIGIN, data: bad }, ORIGIN), null, JSON.stringify(bad));
  }
});

test("a message from another window of the same origin is refused when the window is known", () => {
  const mine = {};
  const other = {};
  const data = { source: "switchboard", type: "switchboard:ready", page: "marketplace" };
  assert.ok(acceptMessage({ origin: ORIGIN, data, source: mine }, ORIGIN, mine));
  assert.equal(acceptMessage({ origin: ORIGIN, data, source: other }, ORIGIN, mine), null);
  assert.ok(acceptMessage({ origin: ORIGIN, data, source: other }, ORIGIN), "no known window: origin only");
});

test("parseMessage keeps only the protocol's string fields", () => {
  assert.deepEqual(
    parseMessage({ source: "switchboard", type: "switchboard:error", code: "access_denied", provider: 3, extra: "x" }),
    { source: "switchboard", type: "switchboard:error", code: "access_denied" },
  );
});

test("messages map to events and outcomes", () => {
  const connected = parseMessage({ source: "switchboard", type: "switchboard:connected", provider: "slack", connection_id: "conn_9" });
  assert.ok(connected);
  assert.deepEqual(toEvent(connected, ORIGIN), { type: "switchboard:connected", origin: ORIGIN, provider: "slack", connectionId: "conn_9" });
  assert.deepEqual(outcomeOf(connected), { connection: { connectionId: "conn_9", provider: "slack" } });
  const noProvider = parseMessage({ source: "switchboard", type: "switchboard:connected", connection_id: "conn_9" });
  assert.ok(noProvider);
  assert.deepEqual(outcomeOf(noProvider, "github"), { connection: { connectionId: "conn_9", provider: "github" } });
  const noId = parseMessage({ source: "switchboard", type: "switchboard:connected" });
  assert.ok(noId);
  assert.equal(outcomeOf(noId), null);

  for (const type of ["switchboard:ready", "switchboard:disconnected"]) {
    const m = parseMessage({ source: "switchboard", type });
    assert.ok(m);
    assert.equal(outcomeOf(m), null, type);
  }
  const closed = parseMessage({ source: "switchboard", type: "switchboard:closed" });
  assert.ok(closed);
  const c = outcomeOf(closed);
  assert.ok(c && "error" in c);
  assert.ok(c.error instanceof SwitchboardError);
  assert.equal(c.error.code, "closed");
  const error = parseMessage({ source: "switchboard", type: "switchboard:error", provider: "github", code: "access_denied" });
  assert.ok(error);
  const e = outcomeOf(error);
  assert.ok(e && "error" in e);
  assert.equal(e.error.code, "error");
  assert.equal(e.error.detail, "access_denied");
  assert.equal(e.error.provider, "github");
});

test("buildConnectUrl adds the provider, and nothing without one", () => {
  assert.equal(buildConnectUrl(LINK), LINK);
  assert.equal(buildConnectUrl(LINK, ""), LINK);
  assert.equal(buildConnectUrl(LINK, "slack"), `${LINK}?provider=slack`);
  assert.equal(buildConnectUrl(`${LINK}?provider=x`, "google sheets"), `${LINK}?provider=google+sheets`);
  assert.throws(() => buildConnectUrl("/ui/connect/cl_abc"), TypeError);
});

test("connectLinksEndpoint keeps a path prefix and drops a query", () => {
  assert.equal(connectLinksEndpoint("http://127.0.0.1:8080"), "http://127.0.0.1:8080/v1/connect-links");
  assert.equal(connectLinksEndpoint("https://x.example/switchboard/"), "https://x.example/switchboard/v1/connect-links");
  assert.equal(connectLinksEndpoint("https://x.example/sb?a=1#h"), "https://x.example/sb/v1/connect-links");
});

test("readRedirectResult reads success, closed and error, and nothing else", () => {
  assert.deepEqual(readRedirectResult("https://app.example/back?status=success&provider=openai&connection_id=conn_1"), {
    status: "success",
    provider: "openai",
    connectionId: "conn_1",
  });
  assert.deepEqual(readRedirectResult(new URL("https://app.example/back?status=closed")), { status: "closed" });
  assert.deepEqual(readRedirectResult("https://app.example/back?status=error&code=access_denied&provider=github"), {
    status: "error",
    provider: "github",
    code: "access_denied",
  });
  assert.deepEqual(readRedirectResult("https://app.example/back?status=error"), { status: "error" });
  assert.equal(readRedirectResult("https://app.example/back?status=success&provider=openai"), null, "no id");
  assert.equal(readRedirectResult("https://app.example/back"), null);
  assert.equal(readRedirectResult("https://app.example/back?status=weird"), null);
  assert.equal(readRedirectResult("not a url"), null);
  assert.equal(readRedirectResult(), null, "no location in Node");
});

test("stripRedirectResult removes only the result's parameters", () => {
  assert.equal(
    stripRedirectResult("https://app.example/back?tab=2&status=success&provider=openai&connection_id=conn_1#x"),
    "https://app.example/back?tab=2#x",
  );
});

test("resolveOptions wants exactly one link source and what its mode needs", () => {
  const invalid = (o: Parameters<typeof resolveOptions>[0], re: RegExp) =>
    assert.throws(() => resolveOptions(o), (e: unknown) => e instanceof SwitchboardError && e.code === "invalid_options" && re.test(e.message));
  invalid({}, /exactly one/);
  invalid({ connectUrl: LINK, sessionToken: "st_x" }, /exactly one/);
  invalid({ connectUrl: "/relative" }, /absolute/);
  invalid({ sessionToken: "st_x" }, /baseUrl/);
  invalid({ sessionToken: "st_x", baseUrl: "nope" }, /baseUrl/);
  invalid({ connectUrl: LINK, mode: "iframe" }, /container/);
  invalid({ connectUrl: LINK, mode: "tab" as never }, /mode/);
  invalid({ connectUrl: LINK, returnUrl: "javascript:alert(1)" }, /returnUrl/);
  assert.deepEqual(resolveOptions({ connectUrl: LINK }), { mode: "popup" });
  assert.deepEqual(resolveOptions({ sessionToken: "st_x", baseUrl: ORIGIN, mode: "redirect" }), { mode: "redirect" });
});
