//! `/mcp`: the Model Context Protocol server over Streamable HTTP (rmcp's tower service). This
//! module is the transport's edge — the `Origin` check (`SWITCHBOARD_MCP_ALLOWED_ORIGINS`, with
//! CORS for the origins listed), the bearer session token, sessions bound to the user who opened them — and the protocol handler
//! (`initialize`, `tools/list` in pages, `tools/call`); the tools themselves are
//! `services::ai::mcp`'s.
//!
//! Protocol revisions: 2025-11-25, and 2025-06-18 for clients that ask for it; a client asking
//! for another is answered 2025-11-25. Sessions (`MCP-Session-Id`) are issued on `initialize`,
//! required afterwards, and ended by `DELETE /mcp`.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, InitializeRequestParams,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::AppState;
use super::error::ApiError;
use crate::services::ai::mcp::{McpTool, ToolFailure, UnknownTool};
use crate::services::{Principal, Services};

/// The protocol revisions negotiated, oldest first.
static SUPPORTED: [ProtocolVersion; 2] = [ProtocolVersion::V_2025_06_18, ProtocolVersion::V_2025_11_25];

/// Tools per `tools/list` page.
const TOOLS_PAGE: usize = 10;

/// The authenticated caller of one request, handed to the protocol handler.
#[derive(Clone)]
struct Caller {
    principal: Principal,
    token: Arc<SecretString>,
}

/// The `/mcp` route: every method goes through the checks, then to rmcp's service.
pub(super) fn route(services: &Arc<Services>) -> MethodRouter<AppState> {
    // The Host check rmcp makes for servers on loopback does not fit a server behind its public
    // URL; DNS rebinding gains nothing here, as every request needs a bearer token.
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_max_request_body_bytes(services.settings.max_body_bytes);
    let for_sessions = services.clone();
    let svc = StreamableHttpService::new(
        move || Ok(McpServer { services: for_sessions.clone(), user: OnceLock::new() }),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    any(move |State(state): State<AppState>, req: Request| {
        let svc = svc.clone();
        async move { serve(&state, svc, req).await }
    })
}

async fn serve(
    state: &AppState,
    svc: StreamableHttpService<McpServer, LocalSessionManager>,
    mut req: Request,
) -> Response {
    if let Err(e) = check_origin(&state.services.settings.mcp_allowed_origins, req.headers()) {
        return e.into_response();
    }
    // A listed origin's browser pages may call: CORS for them (an absent Origin needs none).
    let origin = req.headers().get(header::ORIGIN).cloned();
    if req.method() == Method::OPTIONS && origin.is_some() {
        return with_cors(StatusCode::NO_CONTENT.into_response(), origin, true);
    }
    let caller = match authenticate(&state.services, req.headers()).await {
        Ok(c) => c,
        Err(e) => return with_cors(e.into_response(), origin, false),
    };
    if let Err(e) = super::extract::limit(state, &caller.principal, caller.token.expose_secret()) {
        return with_cors(e.into_response(), origin, false);
    }
    req.extensions_mut().insert(caller);
    let res = match svc.oneshot(req).await {
        Ok(res) => res.map(axum::body::Body::new),
        Err(never) => match never {},
    };
    with_cors(res, origin, false)
}

/// CORS headers for an allowed origin's request (or preflight).
fn with_cors(mut res: Response, origin: Option<HeaderValue>, preflight: bool) -> Response {
    let Some(origin) = origin else { return res };
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("Mcp-Session-Id, WWW-Authenticate"));
    if preflight {
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, DELETE"));
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID",
            ),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
    res
}

/// An absent `Origin` passes (not a browser); a present one must be listed.
fn check_origin(allowed: &[String], headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    let normalised =
        origin.to_str().ok().and_then(|o| url::Url::parse(o).ok()).map(|u| u.origin().ascii_serialization());
    match normalised {
        Some(o) if allowed.contains(&o) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this Origin may not use the MCP server; the operator lists the origins that may in SWITCHBOARD_MCP_ALLOWED_ORIGINS",
        )),
    }
}

/// `Authorization: Bearer st_…`: a session token, whose org, user and role apply. A secret key is
/// refused: an agent acts for one user, so the host app makes a session for that user.
async fn authenticate(services: &Services, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthenticated(
                "send Authorization: Bearer st_… (a session token for the user the agent acts for, from POST /v1/sessions)",
            )
        })?
        .to_str()
        .map_err(|_| ApiError::unauthenticated("the Authorization header is not readable text"))?;
    let token = switchboard_core::request::bearer_token(value)
        .ok_or_else(|| ApiError::unauthenticated("the Authorization header must be \"Bearer <token>\""))?;
    let principal = services.authenticate(token).await?;
    if !matches!(principal, Principal::Session { .. }) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the MCP server acts for one user: send a session token (st_…) made with POST /v1/sessions, not a secret key",
        ));
    }
    Ok(Caller { principal, token: Arc::new(SecretString::from(token.to_owned())) })
}

/// One MCP session's handler: bound, on its first request, to the org and user it serves.
struct McpServer {
    services: Arc<Services>,
    user: OnceLock<String>,
}

fn user_key(p: &Principal) -> String {
    match p {
        Principal::Session { org, user, .. } => format!("{org}/{user}"),
        _ => String::new(),
    }
}

impl McpServer {
    fn caller(&self, ctx: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
        let caller = ctx
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<Caller>())
            .cloned()
            .ok_or_else(|| ErrorData::internal_error("the request's caller is unknown", None))?;
        let key = user_key(&caller.principal);
        if *self.user.get_or_init(|| key.clone()) != key {
            return Err(ErrorData::invalid_request(
                "this MCP session belongs to another user: initialize a session of your own",
                None,
            ));
        }
        Ok(caller)
    }
}

fn tool_of(t: &McpTool) -> Tool {
    Tool::new(t.name.clone(), t.description.clone(), t.input_schema.clone())
        .with_title(t.title.clone())
        .with_annotations(
            ToolAnnotations::with_title(t.title.clone())
                .read_only(t.read_only)
                .idempotent(t.idempotent)
                .destructive(false)
                .open_world(true),
        )
}

/// A failure as a tool result a model can act on: the API's error code and message, the
/// field or each input problem at its JSON pointer, and a connect link where the user must act.
fn failure_result(f: ToolFailure) -> CallToolResult {
    let e = ApiError::from(f.error);
    let mut text = e.message.clone();
    if let Some(field) = &e.field {
        text.push_str(&format!(" (argument {field})"));
    }
    for p in e.details.iter().flatten() {
        text.push_str(&format!("\n- {}: {}", p.path, p.message));
        if let Some(c) = &p.candidates {
            text.push_str(&format!(" (candidates: {})", Value::Array(c.clone())));
        }
    }
    let mut error = json!({"code": e.code, "message": e.message});
    if let Some(field) = e.field {
        error["field"] = json!(field);
    }
    if let Some(details) = e.details {
        error["details"] = json!(details);
    }
    if let Some(s) = e.retry_after_s {
        error["retry_after_s"] = json!(s);
        text.push_str(&format!("\nretry after {s} s"));
    }
    if let Some(p) = f.provider {
        error["provider"] = json!(p);
    }
    if let Some(link) = f.connect {
        text.push_str(&format!("\nconnect_url: {}", link.url));
        error["connect_url"] = json!(link.url.as_str());
    }
    let mut res = CallToolResult::error(vec![ContentBlock::text(text)]);
    res.structured_content = Some(json!({"error": error}));
    res
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_protocol_version(ProtocolVersion::V_2025_11_25)
            .with_server_info(Implementation::new("switchboard", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Tools run actions as the user's connected accounts (named provider__action; a second account of a provider is provider_2__action, and each description names its account). list_resources and resolve find the items (spreadsheets, channels, …) an action takes; connect answers a link for the user to connect a provider. A failed call says why and what to change.",
            )
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(&SUPPORTED)
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        self.caller(&context)?;
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = self.caller(&context)?;
        let start = match request.and_then(|r| r.cursor) {
            None => 0,
            Some(c) => c.parse::<usize>().map_err(|_| {
                ErrorData::invalid_params("the cursor is not one this server gave; list from the start", None)
            })?,
        };
        let cat = self
            .services
            .mcp_catalogue(&caller.principal)
            .await
            .map_err(|e| ErrorData::internal_error(ApiError::from(e).message, None))?;
        let total = cat.tools.len();
        let tools: Vec<Tool> = cat.tools.iter().skip(start).take(TOOLS_PAGE).map(tool_of).collect();
        let end = start.saturating_add(TOOLS_PAGE);
        let mut page = ListToolsResult::with_all_items(tools);
        page.next_cursor = (end < total).then(|| end.to_string());
        Ok(page)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = self.caller(&context)?;
        let args = request.arguments.unwrap_or_default();
        let answer = self
            .services
            .mcp_call(&caller.principal, caller.token.expose_secret(), &request.name, args)
            .await
            .map_err(|UnknownTool(name)| {
                ErrorData::invalid_params(
                    format!(
                        "there is no tool {:?}; tools/list names the tools of this user's accounts",
                        switchboard_core::ids::truncate_for_message(&name)
                    ),
                    None,
                )
            })?;
        Ok(match answer {
            Ok(value) => {
                let mut res = CallToolResult::success(vec![ContentBlock::text(value.to_string())]);
                res.structured_content = Some(value);
                res
            }
            Err(failure) => failure_result(failure),
        }
        .into())
    }
}
