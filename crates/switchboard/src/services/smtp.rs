//! The SMTP connection test: connect, greet, upgrade with STARTTLS when the
//! server offers it (or TLS from the start), and log in when a username is given.

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};

use super::ServiceError;
use super::connector::{Account, Fields};
use crate::config::Settings;
use crate::outbound::is_public;

fn field(name: &str, message: String) -> ServiceError {
    ServiceError::invalid(&format!("credentials.{name}"), message)
}

/// Refuses hosts on the private network unless the operator allows them.
async fn check_host(host: &str, port: u16, settings: &Settings) -> Result<(), ServiceError> {
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| ServiceError::Provider(format!("the SMTP host {host} could not be resolved: {e}")))?
        .collect();
    if !settings.allow_private_networks && addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(field(
            "host",
            format!(
                "{host} is on a private or loopback network, which this server does not allow (SWITCHBOARD_ALLOW_PRIVATE_NETWORKS)"
            ),
        ));
    }
    Ok(())
}

fn tls_parameters(host: &str, settings: &Settings) -> Result<TlsParameters, ServiceError> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(pem) = &settings.extra_ca_pem {
        let cert = Certificate::from_pem(pem).map_err(|e| ServiceError::Internal(format!("extra CA file: {e}")))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build_rustls().map_err(|e| ServiceError::Internal(format!("TLS setup: {e}")))
}

/// Runs the SMTP handshake with these settings and credentials.
pub async fn test(fields: &Fields, settings: &Settings) -> Result<Account, ServiceError> {
    let host = fields.get("host").ok_or_else(|| field("host", "SMTP host is required".into()))?;
    let port: u16 = fields
        .get("port")
        .unwrap_or("587")
        .parse()
        .map_err(|_| field("port", "SMTP port must be a number from 1 to 65535".into()))?;
    let security = fields.get("security").unwrap_or("starttls");
    check_host(host, port, settings).await?;
    let logging_in = fields.get("username").is_some();
    let tls = match security {
        // Never send a password in the clear: with a login, STARTTLS is required.
        "starttls" if logging_in => Tls::Required(tls_parameters(host, settings)?),
        "starttls" => Tls::Opportunistic(tls_parameters(host, settings)?),
        "tls" => Tls::Wrapper(tls_parameters(host, settings)?),
        _ => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(15)));
    if let Some(user) = fields.get("username") {
        builder = builder
            .credentials(Credentials::new(user.to_owned(), fields.get("password").unwrap_or_default().to_owned()));
    }
    let transport: AsyncSmtpTransport<Tokio1Executor> = builder.build();
    match transport.test_connection().await {
        Ok(true) => Ok(Account {
            id: fields.get("username").or(fields.get("from")).map(str::to_owned),
            name: fields.get("from").map(str::to_owned),
            email: fields.get("from").map(str::to_owned),
            metadata: [
                ("host".to_owned(), serde_json::Value::String(host.to_owned())),
                ("port".to_owned(), serde_json::Value::from(port)),
                ("security".to_owned(), serde_json::Value::String(security.to_owned())),
            ]
            .into_iter()
            .collect(),
        }),
        Ok(false) => {
            Err(ServiceError::Provider(format!("the SMTP server at {host}:{port} did not accept a connection")))
        }
        Err(e) => Err(classify(&e, host, port, fields)),
    }
}

fn classify(e: &lettre::transport::smtp::Error, host: &str, port: u16, fields: &Fields) -> ServiceError {
    let secrets: Vec<String> = fields.get("password").map(|p| vec![p.to_owned()]).unwrap_or_default();
    let text = super::connector::scrub(&e.to_string(), &secrets);
    let code = e.status().map(|c| c.to_string());
    // 530/534/535/538 are the authentication refusals of RFC 4954.
    let auth_refused = code.as_deref().is_some_and(|c| matches!(c, "530" | "534" | "535" | "538"));
    if auth_refused || (e.is_permanent() && text.to_ascii_lowercase().contains("auth")) {
        return ServiceError::InvalidCredentials(format!("the SMTP server at {host}:{port} refused the login: {text}"));
    }
    if e.is_permanent() {
        return ServiceError::InvalidCredentials(format!("the SMTP server at {host}:{port} refused: {text}"));
    }
    if e.is_tls() || text.contains("certificate") || text.to_ascii_lowercase().contains("handshake") {
        return ServiceError::Provider(format!(
            "TLS with the SMTP server at {host}:{port} failed: {text} (if it uses an internal CA, trust it with SWITCHBOARD_EXTRA_CA_FILE)"
        ));
    }
    ServiceError::Provider(format!("could not talk to the SMTP server at {host}:{port}: {text}"))
}
