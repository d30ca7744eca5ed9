// Opening Switchboard's integrations page from a host app's page — in a popup, a full-page
// redirect or an <iframe> — and getting the connection the user made back.
//
// The page tells the window that opened or frames it what happens with postMessage, addressed to
// each origin of the server's SWITCHBOARD_UI_FRAME_ANCESTORS by name. This module listens for those
// messages, accepts only the ones from the page's own origin (and, where it has one, from the window
// it opened), and settles one promise per connect.

/** How the page is shown. */
export type ConnectMode = "popup" | "redirect" | "iframe";

/** The `type` of each message the page posts. */
export type SwitchboardMessageType =
  | "switchboard:ready"
  | "switchboard:connected"
  | "switchboard:disconnected"
  | "switchboard:error"
  | "switchboard:closed";

/** A message as the page posts it (`event.data`). */
export interface SwitchboardMessage {
  source: "switchboard";
  type: SwitchboardMessageType;
  /** The provider's id (`slack`), on connected, disconnected and error. */
  provider?: string;
  /** The connection's id (`conn_…`), on connected and disconnected. */
  connection_id?: string;
  /** The failure's code, on error. */
  code?: string;
  /** Which page is showing, on ready (`marketplace`, `provider`, `done`). */
  page?: string;
}

/** What `onEvent` gets: every accepted message, in camelCase, with the origin it came from. */
export interface ConnectEvent {
  type: SwitchboardMessageType;
  provider?: string;
  connectionId?: string;
  code?: string;
  page?: string;
  origin: string;
}

/** What `connect` resolves with. */
export interface Connection {
  connectionId: string;
  provider: string;
}

/**
 * Why `connect` rejected:
 * - `closed`: the user left with the page's Done button;
 * - `error`: the page reported a failed connect (`detail` holds its code);
 * - `aborted`: the caller's `signal` was aborted;
 * - `connect_link_failed`: `POST /v1/connect-links` failed (`status` holds the HTTP status, 0 for a network error);
 * - `invalid_options`: the options do not describe one connect.
 */
export type SwitchboardErrorCode = "closed" | "error" | "aborted" | "connect_link_failed" | "invalid_options";

export class SwitchboardError extends Error {
  override readonly name = "SwitchboardError";
  readonly code: SwitchboardErrorCode;
  /** The page's own code (`switchboard:error`) or the server's error code (`connect_link_failed`). */
  readonly detail: string | undefined;
  /** The provider the message named, when it named one. */
  readonly provider: string | undefined;
  /** The HTTP status, for `connect_link_failed`. */
  readonly status: number | undefined;

  constructor(
    code: SwitchboardErrorCode,
    message: string,
    extra: { detail?: string | undefined; provider?: string | undefined; status?: number | undefined; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.code = code;
    this.detail = extra.detail;
    this.provider = extra.provider;
    this.status = extra.status;
  }
}

export interface ConnectOptions {
  /** A session's single-use `connect_url` (from `POST /v1/sessions`, made by the host's backend). */
  connectUrl?: string;
  /** A session token (`st_…`): the SDK asks `POST {baseUrl}/v1/connect-links` for a fresh link. */
  sessionToken?: string;
  /** The Switchboard server's URL as the browser reaches it; required with `sessionToken`. */
  baseUrl?: string;
  /** Open the page on this provider (`/ui/p/ID`) instead of the marketplace. */
  provider?: string;
  /** `popup` (the default), `redirect` or `iframe`. */
  mode?: ConnectMode;
  /** Where the iframe goes (iframe mode; required there). */
  container?: HTMLElement;
  /** The iframe's accessible title (iframe mode). */
  title?: string;
  /**
   * Where the browser comes back to after a redirect-mode connect (and the popup-blocked
   * fallback). The server decides that: it is the session's `return_url`, set by the host's backend
   * in `POST /v1/sessions` (the SDK cannot change it; `POST /v1/connect-links` takes only
   * `provider`). Given here, it is only checked to be an absolute http(s) URL, to document the
   * intent; read the result there with `readRedirectResult()`.
   */
  returnUrl?: string;
  /** Called with every accepted message, including the one that settles the promise. */
  onEvent?: (event: ConnectEvent) => void;
  /** Aborting closes the popup or removes the iframe and rejects with `aborted`. */
  signal?: AbortSignal;
  /** Popup window features (default `popup=yes,width=560,height=720`). */
  popupFeatures?: string;
}

/** The result of a connect that went through a full-page redirect, read from the return URL. */
export type RedirectResult =
  | { status: "success"; provider: string; connectionId: string }
  | { status: "closed" }
  | { status: "error"; provider?: string; code?: string };

/** A fresh single-use link for a session (`POST /v1/connect-links`). */
export interface ConnectLink {
  connectUrl: string;
  expiresAt: string;
}

const DEFAULT_FEATURES = "popup=yes,width=560,height=720";
const POPUP_NAME = "switchboard-connect";
const TYPES: readonly string[] = [
  "switchboard:ready",
  "switchboard:connected",
  "switchboard:disconnected",
  "switchboard:error",
  "switchboard:closed",
];

// --- Pure helpers (unit-tested) -------------------------------------------------------------------------

/** `connectUrl` with `?provider=ID` set when `provider` is given (the page then opens on `/ui/p/ID`). */
export function buildConnectUrl(connectUrl: string, provider?: string): string {
  const url = new URL(connectUrl);
  if (provider !== undefined && provider !== "") url.searchParams.set("provider", provider);
  return url.toString();
}

/** The endpoint that makes a fresh connect link: `{baseUrl}/v1/connect-links` (a path in `baseUrl` is kept). */
export function connectLinksEndpoint(baseUrl: string): string {
  const url = new URL(baseUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/connect-links`;
  url.search = "";
  url.hash = "";
  return url.toString();
}

/**
 * The message in `data` when it is one of Switchboard's, else null. `data` is whatever a
 * `message` event carried: anything may arrive, from any window.
 */
export function parseMessage(data: unknown): SwitchboardMessage | null {
  if (typeof data !== "object" || data === null) return null;
  const d = data as Record<string, unknown>;
  if (d["source"] !== "switchboard" || typeof d["type"] !== "string" || !TYPES.includes(d["type"])) return null;
  const msg: SwitchboardMessage = { source: "switchboard", type: d["type"] as SwitchboardMessageType };
  for (const key of ["provider", "connection_id", "code", "page"] as const) {
    const v = d[key];
    if (typeof v === "string") msg[key] = v;
  }
  return msg;
}

/**
 * Whether a `message` event is the page's: from `expectedOrigin` exactly, with `source:
 * "switchboard"`, and — when `expectedSource` is given — from that window. Returns the message.
 */
export function acceptMessage(
  event: { origin: string; data: unknown; source?: unknown },
  expectedOrigin: string,
  expectedSource?: unknown,
): SwitchboardMessage | null {
  if (event.origin !== expectedOrigin) return null;
  if (expectedSource !== undefined && expectedSource !== null && event.source !== expectedSource) return null;
  return parseMessage(event.data);
}

/** The camelCase event `onEvent` gets for `msg`. */
export function toEvent(msg: SwitchboardMessage, origin: string): ConnectEvent {
  const e: ConnectEvent = { type: msg.type, origin };
  if (msg.provider !== undefined) e.provider = msg.provider;
  if (msg.connection_id !== undefined) e.connectionId = msg.connection_id;
  if (msg.code !== undefined) e.code = msg.code;
  if (msg.page !== undefined) e.page = msg.page;
  return e;
}

/**
 * What a message means for the promise: resolve with a connection, reject with an error, or
 * nothing (ready, disconnected, a connected without an id).
 */
export function outcomeOf(
  msg: SwitchboardMessage,
  provider?: string,
): { connection: Connection } | { error: SwitchboardError } | null {
  switch (msg.type) {
    case "switchboard:connected":
      if (!msg.connection_id) return null;
      return { connection: { connectionId: msg.connection_id, provider: msg.provider ?? provider ?? "" } };
    case "switchboard:closed":
      return { error: new SwitchboardError("closed", "The integrations page was closed before an account was connected.") };
    case "switchboard:error":
      return {
        error: new SwitchboardError("error", `Connecting failed${msg.code ? `: ${msg.code}` : ""}.`, {
          detail: msg.code,
          provider: msg.provider,
        }),
      };
    default:
      return null;
  }
}

/**
 * The result of a redirect-mode connect from the URL the page sent the browser back to
 * (`?status=success&provider=…&connection_id=…`, `?status=closed`, `?status=error&code=…`);
 * null when the URL carries no such result.
 */
export function readRedirectResult(url: string | URL = globalThis.location?.href ?? ""): RedirectResult | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  const q = u.searchParams;
  const status = q.get("status");
  const provider = q.get("provider");
  if (status === "success") {
    const connectionId = q.get("connection_id");
    if (!connectionId) return null;
    return { status: "success", provider: provider ?? "", connectionId };
  }
  if (status === "closed") return { status: "closed" };
  if (status === "error") {
    const r: RedirectResult = { status: "error" };
    if (provider) r.provider = provider;
    const code = q.get("code");
    if (code) r.code = code;
    return r;
  }
  return null;
}

/** `url` without the parameters `readRedirectResult` reads, e.g. for `history.replaceState`. */
export function stripRedirectResult(url: string | URL): string {
  const u = new URL(url);
  for (const key of ["status", "provider", "connection_id", "code"]) u.searchParams.delete(key);
  return u.toString();
}

/** Checks the options and says which link source and mode they describe. */
export function resolveOptions(options: ConnectOptions): { mode: ConnectMode } {
  const hasUrl = typeof options.connectUrl === "string" && options.connectUrl !== "";
  const hasToken = typeof options.sessionToken === "string" && options.sessionToken !== "";
  if (hasUrl === hasToken) {
    throw new SwitchboardError("invalid_options", "Pass exactly one of connectUrl and sessionToken.");
  }
  if (hasUrl) {
    try {
      new URL(options.connectUrl as string);
    } catch (cause) {
      throw new SwitchboardError("invalid_options", "connectUrl is not an absolute URL.", { cause });
    }
  }
  if (hasToken) {
    if (!options.baseUrl) throw new SwitchboardError("invalid_options", "sessionToken needs baseUrl (the Switchboard server's URL).");
    try {
      new URL(options.baseUrl);
    } catch (cause) {
      throw new SwitchboardError("invalid_options", "baseUrl is not an absolute URL.", { cause });
    }
  }
  const mode = options.mode ?? "popup";
  if (mode !== "popup" && mode !== "redirect" && mode !== "iframe") {
    throw new SwitchboardError("invalid_options", `Unknown mode ${JSON.stringify(mode)}.`);
  }
  if (mode === "iframe" && !options.container) {
    throw new SwitchboardError("invalid_options", "iframe mode needs a container element.");
  }
  if (options.returnUrl !== undefined) {
    let back: URL | null = null;
    try {
      back = new URL(options.returnUrl);
    } catch {
      back = null;
    }
    if (!back || (back.protocol !== "https:" && back.protocol !== "http:")) {
      throw new SwitchboardError("invalid_options", "returnUrl must be an absolute http(s) URL.");
    }
  }
  return { mode };
}

// --- Talking to the server ------------------------------------------------------------------------------

/**
 * A fresh single-use connect link for the session of `sessionToken`: `POST {baseUrl}/v1/connect-links`
 * with the token as bearer. Rejects with `connect_link_failed` (or `aborted`).
 */
export async function createConnectLink(options: {
  baseUrl: string;
  sessionToken: string;
  provider?: string;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}): Promise<ConnectLink> {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const body: Record<string, string> = {};
  if (options.provider) body["provider"] = options.provider;
  const init: RequestInit = {
    method: "POST",
    headers: {
      authorization: `Bearer ${options.sessionToken}`,
      "content-type": "application/json",
      accept: "application/json",
    },
    body: JSON.stringify(body),
    credentials: "omit",
  };
  if (options.signal) init.signal = options.signal;
  let res: Response;
  try {
    res = await doFetch(connectLinksEndpoint(options.baseUrl), init);
  } catch (cause) {
    if (options.signal?.aborted) throw abortError(options.signal);
    throw new SwitchboardError("connect_link_failed", "Could not reach Switchboard for a connect link.", { status: 0, cause });
  }
  const json: unknown = await res.json().catch(() => null);
  const j = (typeof json === "object" && json !== null ? json : {}) as Record<string, unknown>;
  if (res.status !== 201 && res.status !== 200) {
    const err = (typeof j["error"] === "object" && j["error"] !== null ? j["error"] : {}) as Record<string, unknown>;
    const code = typeof err["code"] === "string" ? err["code"] : undefined;
    const message = typeof err["message"] === "string" ? err["message"] : `HTTP ${res.status}`;
    throw new SwitchboardError("connect_link_failed", `Switchboard refused a connect link: ${message}`, {
      status: res.status,
      detail: code,
    });
  }
  const connectUrl = j["connect_url"];
  const expiresAt = j["expires_at"];
  if (typeof connectUrl !== "string") {
    throw new SwitchboardError("connect_link_failed", "Switchboard's answer has no connect_url.", { status: res.status });
  }
  return { connectUrl, expiresAt: typeof expiresAt === "string" ? expiresAt : "" };
}

function abortError(signal: AbortSignal): SwitchboardError {
  return new SwitchboardError("aborted", "The connect was aborted.", { cause: signal.reason });
}

// --- connect --------------------------------------------------------------------------------------------

/**
 * Opens the integrations page and resolves with the connection the user makes there.
 *
 * Call it inside the click (or key press) handler that starts the connect, before any `await`:
 * popup mode opens its window synchronously, as browsers allow a popup only there. With
 * `sessionToken`, the popup opens on `about:blank` first and goes to the fresh link once the
 * server answered. When the browser blocks the popup (`window.open` returns null), connect falls
 * back to redirect mode. In redirect mode the page navigates away, so the promise settles only if
 * something fails before that; read the result with `readRedirectResult()` on the return page.
 */
export function connect(options: ConnectOptions): Promise<Connection> {
  let mode: ConnectMode;
  try {
    mode = resolveOptions(options).mode;
  } catch (e) {
    return Promise.reject(e);
  }
  const signal = options.signal;
  if (signal?.aborted) return Promise.reject(abortError(signal));

  // Synchronously, in the caller's click: the popup.
  let popup: Window | null = null;
  if (mode === "popup") {
    const target = options.connectUrl ? buildConnectUrl(options.connectUrl, options.provider) : "about:blank";
    popup = window.open(target, POPUP_NAME, options.popupFeatures ?? DEFAULT_FEATURES);
    if (!popup) mode = "redirect";
  }

  return new Promise<Connection>((resolve, reject) => {
    let settled = false;
    let origin: string | null = null;
    let frame: HTMLIFrameElement | null = null;

    const cleanup = (closeWindow: boolean) => {
      window.removeEventListener("message", onMessage);
      signal?.removeEventListener("abort", onAbort);
      if (frame) {
        frame.remove();
        frame = null;
      }
      if (popup && closeWindow) {
        try {
          popup.close();
        } catch {
          // Already gone, or no longer ours to close.
        }
      }
    };
    const fail = (error: SwitchboardError, closeWindow = true) => {
      if (settled) return;
      settled = true;
      cleanup(closeWindow);
      reject(error);
    };
    const succeed = (connection: Connection) => {
      if (settled) return;
      settled = true;
      cleanup(true);
      resolve(connection);
    };

    function onMessage(event: MessageEvent) {
      if (settled || origin === null) return;
      const source = frame ? frame.contentWindow : popup;
      const msg = acceptMessage(event, origin, source);
      if (!msg) return;
      try {
        options.onEvent?.(toEvent(msg, event.origin));
      } catch (e) {
        // A throwing handler must not break the connect.
        setTimeout(() => {
          throw e;
        });
      }
      const outcome = outcomeOf(msg, options.provider);
      if (!outcome) return;
      if ("connection" in outcome) succeed(outcome.connection);
      // The page closes its own popup after "closed".
      else fail(outcome.error, msg.type !== "switchboard:closed");
    }
    function onAbort() {
      fail(abortError(signal as AbortSignal));
    }

    window.addEventListener("message", onMessage);
    signal?.addEventListener("abort", onAbort);

    const open = (link: string) => {
      if (settled) return;
      origin = new URL(link).origin;
      if (mode === "redirect") {
        // The listener stays: if the navigation is cancelled the page is still ours.
        window.location.assign(link);
      } else if (mode === "iframe") {
        const f = document.createElement("iframe");
        f.title = options.title ?? "Connect an account";
        f.src = link;
        f.setAttribute("data-switchboard", "connect");
        f.style.border = "0";
        f.style.width = "100%";
        f.style.minHeight = "640px";
        frame = f;
        (options.container as HTMLElement).appendChild(f);
      } else if (popup) {
        if (popup.closed) {
          // Closed while the link was being made: nothing to show it in.
          fail(new SwitchboardError("closed", "The popup was closed before the page opened."), false);
          return;
        }
        popup.location.href = link;
      }
    };

    if (options.connectUrl) {
      const link = buildConnectUrl(options.connectUrl, options.provider);
      if (mode === "popup") origin = new URL(link).origin;
      else open(link);
      return;
    }
    const linkOptions: Parameters<typeof createConnectLink>[0] = {
      baseUrl: options.baseUrl as string,
      sessionToken: options.sessionToken as string,
    };
    if (options.provider) linkOptions.provider = options.provider;
    if (signal) linkOptions.signal = signal;
    createConnectLink(linkOptions).then(
      (l) => open(l.connectUrl),
      (e: unknown) =>
        fail(e instanceof SwitchboardError ? e : new SwitchboardError("connect_link_failed", String(e), { cause: e })),
    );
  });
}

/** Opens `connectUrl` (or a fresh link for `sessionToken`) in a popup; `connect` with `mode: "popup"`. */
export function connectInPopup(options: Omit<ConnectOptions, "mode" | "container">): Promise<Connection> {
  return connect({ ...options, mode: "popup" });
}

/** Shows the page in an iframe inside `container`; `connect` with `mode: "iframe"`. */
export function connectInIframe(
  container: HTMLElement,
  options: Omit<ConnectOptions, "mode" | "container">,
): Promise<Connection> {
  return connect({ ...options, mode: "iframe", container });
}

/** Sends the whole page to `connectUrl` (or a fresh link); `connect` with `mode: "redirect"`. */
export function connectByRedirect(options: Omit<ConnectOptions, "mode" | "container">): Promise<Connection> {
  return connect({ ...options, mode: "redirect" });
}
