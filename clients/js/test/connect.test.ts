// connect() against a stand-in window: which messages settle it, popup fallback, abort, tokens.
import assert from "node:assert/strict";
import { test } from "node:test";

import { SwitchboardError, connect } from "../src/connect.js";

const ORIGIN = "https://sb.example.com";
const LINK = `${ORIGIN}/ui/connect/cl_abc`;

interface FakePopup {
  closed: boolean;
  location: { href: string };
  close(): void;
}

interface Fake {
  opened: { url: string; name: string; features: string }[];
  assigned: string[];
  popup: FakePopup | null;
  post(data: unknown, origin?: string, source?: unknown): void;
}

/** Installs a `window` that records window.open and location.assign, and dispatches messages. */
function fakeWindow(opts: { blocked?: boolean } = {}): Fake {
  const target = new EventTarget();
  const fake: Fake = {
    opened: [],
    assigned: [],
    popup: null,
    post(data, origin = ORIGIN, source = fake.popup) {
      const ev = new Event("message") as Event & { data: unknown; origin: string; source: unknown };
      Object.defineProperties(ev, { data: { value: data }, origin: { value: origin }, source: { value: source } });
      target.dispatchEvent(ev);
    },
  };
  const win = {
    addEventListener: target.addEventListener.bind(target),
    removeEventListener: target.removeEventListener.bind(target),
    open(url: string, name: string, features: string) {
      fake.opened.push({ url, name, features });
      if (opts.blocked) return null;
      const popup: FakePopup = {
        closed: false,
        location: { href: url },
        close() {
          popup.closed = true;
        },
      };
      fake.popup = popup;
      return popup;
    },
    location: {
      assign(url: string) {
        fake.assigned.push(url);
      },
    },
  };
  (globalThis as Record<string, unknown>)["window"] = win;
  return fake;
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const msg = (type: string, extra: Record<string, string> = {}) => ({ source: "switchboard", type, ...extra });

test("popup: opened in the call, resolves on connected from the popup, ignores strangers", async () => {
  const w = fakeWindow();
  const events: string[] = [];
  const p = connect({ connectUrl: LINK, provider: "openai", onEvent: (e) => events.push(e.type) });
  assert.equal(w.opened.length, 1, "opened synchronously");
  assert.equal(w.opened[0]?.url, `${LINK}?provider=openai`);
  assert.equal(w.opened[0]?.features, "popup=yes,width=560,height=720");
  w.post(msg("switchboard:ready", { page: "provider" }));
  w.post(msg("switchboard:connected", { provider: "openai", connection_id: "conn_evil" }), "https://evil.example");
  w.post(msg("switchboard:connected", { provider: "openai", connection_id: "conn_other" }), ORIGIN, {});
  w.post({ type: "switchboard:connected", connection_id: "conn_nosource" });
  w.post(msg("switchboard:connected", { provider: "openai", connection_id: "conn_1" }));
  assert.deepEqual(await p, { connectionId: "conn_1", provider: "openai" });
  assert.deepEqual(events, ["switchboard:ready", "switchboard:connected"]);
  assert.equal(w.popup?.closed, true, "the SDK closes its popup once connected");
});

test("popup: Done rejects with closed; error rejects with the page's code", async () => {
  let w = fakeWindow();
  let p = connect({ connectUrl: LINK });
  w.post(msg("switchboard:closed"));
  await assert.rejects(p, (e: unknown) => e instanceof SwitchboardError && e.code === "closed");

  w = fakeWindow();
  p = connect({ connectUrl: LINK });
  w.post(msg("switchboard:error", { provider: "github", code: "access_denied" }));
  await assert.rejects(
    p,
    (e: unknown) => e instanceof SwitchboardError && e.code === "error" && e.detail === "access_denied" && e.provider === "github",
  );
});

test("popup blocked: falls back to a full-page redirect", async () => {
  const w = fakeWindow({ blocked: true });
  void connect({ connectUrl: LINK, provider: "slack" });
  await tick();
  assert.deepEqual(w.assigned, [`${LINK}?provider=slack`]);
});

test("abort: closes the popup and rejects with aborted; an aborted signal opens nothing", async () => {
  const w = fakeWindow();
  const ac = new AbortController();
  const p = connect({ connectUrl: LINK, signal: ac.signal });
  ac.abort();
  await assert.rejects(p, (e: unknown) => e instanceof SwitchboardError && e.code === "aborted");
  assert.equal(w.popup?.closed, true);
  // Late messages change nothing.
  w.post(msg("switchboard:connected", { connection_id: "conn_late" }));

  const w2 = fakeWindow();
  await assert.rejects(connect({ connectUrl: LINK, signal: AbortSignal.abort() }), (e: unknown) => e instanceof SwitchboardError && e.code === "aborted");
  assert.equal(w2.opened.length, 0);
});

test("sessionToken: about:blank first, then the fresh link from POST /v1/connect-links", async () => {
  const w = fakeWindow();
  const calls: { url: string; init: RequestInit }[] = [];
  globalThis.fetch = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(JSON.stringify({ connect_url: `${LINK}2`, expires_at: "2030-01-01T00:00:00Z" }), {
      status: 201,
      headers: { "content-type": "application/json" },
    });
  }) as typeof fetch;
  const p = connect({ sessionToken: "st_abc", baseUrl: `${ORIGIN}/`, provider: "slack" });
  assert.equal(w.opened[0]?.url, "about:blank", "the popup opens before the request");
  await tick();
  await tick();
  assert.equal(calls[0]?.url, `${ORIGIN}/v1/connect-links`);
  assert.equal(calls[0]?.init.method, "POST");
  assert.equal((calls[0]?.init.headers as Record<string, string>)["authorization"], "Bearer st_abc");
  assert.equal(calls[0]?.init.body, JSON.stringify({ provider: "slack" }));
  assert.equal(w.popup?.location.href, `${LINK}2`);
  w.post(msg("switchboard:connected", { provider: "slack", connection_id: "conn_2" }));
  assert.deepEqual(await p, { connectionId: "conn_2", provider: "slack" });
});

test("sessionToken: a refused link closes the popup and rejects with connect_link_failed", async () => {
  const w = fakeWindow();
  globalThis.fetch = (async () =>
    new Response(JSON.stringify({ error: { code: "unauthorized", message: "the session token is expired" } }), {
      status: 401,
      headers: { "content-type": "application/json" },
    })) as unknown as typeof fetch;
  const p = connect({ sessionToken: "st_old", baseUrl: ORIGIN });
  await assert.rejects(
    p,
    (e: unknown) =>
      e instanceof SwitchboardError && e.code === "connect_link_failed" && e.status === 401 && e.detail === "unauthorized" && /expired/.test(e.message),
  );
  assert.equal(w.popup?.closed, true);
});

test("invalid options reject without opening anything", async () => {
  const w = fakeWindow();
  await assert.rejects(connect({}), (e: unknown) => e instanceof SwitchboardError && e.code === "invalid_options");
  assert.equal(w.opened.length, 0);
});
