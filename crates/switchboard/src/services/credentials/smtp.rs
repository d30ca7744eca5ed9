//! The SMTP connection test: connect, greet, upgrade with STARTTLS when the
//! server offers it (or TLS from the start), and log in when a username is given.

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};

use std::net::SocketAddr;

use super::connector::{Account, Fields};
use crate::config::Settings;
use crate::outbound::{Outbound, OutboundError};
use crate::services::ServiceError;

/// Longest piece of an SMTP server's reply text shown to the caller.
const MAX_REPLY_TEXT: usize = 120;

fn field(name: &str, message: String) -> ServiceError {
    ServiceError::invalid(&format!("credentials.{name}"), message)
}

/// Resolves the host once and picks the address to connect to: refused when it
/// is on the private network and the operator does not allow that. The
/// connection then goes to this address, so a name that changes its answer
/// between the check and the connect (DNS rebinding) cannot reach another one.
async fn checked_address(host: &str, port: u16, outbound: &Outbound) -> Result<SocketAddr, ServiceError> {
    match outbound.resolve(host, port).await {
        Ok(addrs) => addrs
            .into_iter()
            .next()
            .ok_or_else(|| ServiceError::Provider(format!("the SMTP host {host} resolves to no address"))),
        Err(OutboundError::Refused(_)) => Err(field(
            "host",
            format!(
                "{host} is on a private or loopback network, which this server does not allow (SWITCHBOARD_ALLOW_PRIVATE_NETWORKS)"
            ),
        )),
        Err(e) => Err(ServiceError::Provider(format!("the SMTP host {host} could not be resolved: {e}"))),
    }
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
/// A transport to the connection's server, at the address that was checked; its host and port.
async fn transport(
    fields: &Fields,
    settings: &Settings,
    outbound: &Outbound,
) -> Result<(AsyncSmtpTransport<Tokio1Executor>, String, u16), ServiceError> {
    let host = fields.get("host").ok_or_else(|| field("host", "SMTP host is required".into()))?;
    let port: u16 = fields
        .get("port")
        .unwrap_or("587")
        .parse()
        .map_err(|_| field("port", "SMTP port must be a number from 1 to 65535".into()))?;
    let security = fields.get("security").unwrap_or("starttls");
    let address = checked_address(host, port, outbound).await?;
    let logging_in = fields.get("username").is_some();
    let tls = match security {
        "starttls" if logging_in => Tls::Required(tls_parameters(host, settings)?),
        "starttls" => Tls::Opportunistic(tls_parameters(host, settings)?),
        "tls" => Tls::Wrapper(tls_parameters(host, settings)?),
        _ => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address.ip().to_string())
        .port(port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(15)));
    if let Some(user) = fields.get("username") {
        builder = builder
            .credentials(Credentials::new(user.to_owned(), fields.get("password").unwrap_or_default().to_owned()));
    }
    Ok((builder.build(), host.to_owned(), port))
}

/// Sends `message` through the connection's server; the server's reply (which names the queued
/// message at most servers). A refused login is a credential problem; a refused recipient or
/// message is the server's refusal, with its reply.
pub async fn send(
    fields: &Fields,
    settings: &Settings,
    outbound: &Outbound,
    message: &lettre::Message,
) -> Result<String, ServiceError> {
    use lettre::AsyncTransport as _;
    let (transport, host, port) = transport(fields, settings, outbound).await?;
    match transport.send(message.clone()).await {
        Ok(reply) => Ok(reply.message().collect::<Vec<_>>().join(" ")),
        Err(e) => Err(match classify(&e, &host, port, fields) {
            ServiceError::InvalidCredentials(m) if m.contains("refused the login") => ServiceError::NeedsReauth(m),
            ServiceError::InvalidCredentials(m) => ServiceError::ProviderRefused(m),
            other => other,
        }),
    }
}

pub async fn test(fields: &Fields, settings: &Settings, outbound: &Outbound) -> Result<Account, ServiceError> {
    let (transport, host, port) = transport(fields, settings, outbound).await?;
    let (host, security) = (host.as_str(), fields.get("security").unwrap_or("starttls"));
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
    let text = reply_text(&super::connector::scrub(&e.to_string(), &secrets));
    let code = e.status().map(|c| c.to_string());
    // What the caller sees of the server: its reply code and a short, printable text.
    let said = match &code {
        Some(c) if text.is_empty() => format!(" (reply {c})"),
        Some(c) => format!(" (reply {c}: {text})"),
        None => String::new(),
    };
    // 530/534/535/538 are the authentication refusals of RFC 4954.
    let auth_refused = code.as_deref().is_some_and(|c| matches!(c, "530" | "534" | "535" | "538"));
    if auth_refused || (e.is_permanent() && text.to_ascii_lowercase().contains("auth")) {
        return ServiceError::InvalidCredentials(format!("the SMTP server at {host}:{port} refused the login{said}"));
    }
    if e.is_permanent() {
        return ServiceError::InvalidCredentials(format!("the SMTP server at {host}:{port} refused{said}"));
    }
    if e.is_tls() || text.contains("certificate") || text.to_ascii_lowercase().contains("handshake") {
        return ServiceError::Provider(format!(
            "TLS with the SMTP server at {host}:{port} failed: {text} (if it uses an internal CA, trust it with SWITCHBOARD_EXTRA_CA_FILE)"
        ));
    }
    if code.is_some() {
        return ServiceError::Provider(format!("the SMTP server at {host}:{port} failed{said}"));
    }
    // No reply code: the text is this side's (a refused connection, STARTTLS not offered, a timeout).
    let why = if e.is_timeout() { "it did not answer in time".to_owned() } else { text };
    ServiceError::Provider(format!("could not talk to the SMTP server at {host}:{port}: {why}"))
}

/// The reply text of an error, bounded and reduced to printable ASCII, so a
/// server that is not SMTP (or a hostile one) cannot echo its content through us.
fn reply_text(message: &str) -> String {
    // lettre writes "permanent error (535): 5.7.8 text"; keep what follows the code.
    let text = message.split_once("): ").map_or(message, |(_, t)| t);
    let clean: String = text
        .chars()
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if clean.len() > MAX_REPLY_TEXT { format!("{}…", &clean[..MAX_REPLY_TEXT]) } else { clean }
}

#[cfg(test)]
mod tests {
    use super::reply_text;

    #[test]
    fn reply_text_is_printable_and_bounded() {
        assert_eq!(
            reply_text("permanent error (535): 5.7.8  Authentication\r\n failed"),
            "5.7.8 Authentication failed"
        );
        let long = format!("transient error (421): {}", "x".repeat(500));
        assert_eq!(reply_text(&long).chars().count(), super::MAX_REPLY_TEXT + 1);
        assert_eq!(reply_text("permanent error (550): a\u{7}b\u{1b}[31mc"), "a b [31mc");
    }
}
