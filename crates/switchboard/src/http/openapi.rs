use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard",
        description = "Self-hosted integrations hub: connections, fresh credentials, OAuth, webhooks. \
                       Errors are {\"error\": {\"code\", \"message\"}}.",
    ),
    modifiers(&BearerAuth),
    components(schemas(super::error::ErrorBody)),
    tags(
        (name = "health", description = "Liveness, readiness, metrics"),
        (name = "providers", description = "The provider catalog"),
        (name = "sessions", description = "Session tokens for end users"),
        (name = "integrations", description = "The operator's OAuth apps"),
        (name = "oauth", description = "The OAuth connect flow"),
        (name = "connections", description = "Connected accounts and their credentials"),
        (name = "resources", description = "What a connection can list, page by page, and names resolved to ids"),
        (name = "webhooks", description = "Inbound webhooks, events, subscriptions and deliveries"),
        (name = "audit", description = "Who did what, when"),
        (name = "ai", description = "Context for AI workflow builders, and workflows validated against the live accounts"),
    )
)]
pub(super) struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A secret API key (sk_…) or a session token (st_…)"))
                    .build(),
            ),
        );
    }
}
