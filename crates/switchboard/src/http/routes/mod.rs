pub(super) mod audit;
pub(super) mod connections;
pub(super) mod health;
pub(super) mod integrations;
pub(super) mod oauth;
pub(super) mod providers;
pub(super) mod sessions;
pub(super) mod webhooks;
