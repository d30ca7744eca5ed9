//! What every `send_email` takes — recipients, subject, text and/or HTML, attachments — checked
//! beyond its JSON Schema (addresses parse, attachments decode), and the shapes each provider
//! sends: a MIME message (lettre) for SMTP and Gmail, SendGrid's v3 mail body.

use base64::Engine as _;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use serde_json::{Value, json};

use super::super::actions::RunError;
use super::super::resources::Caller;
use crate::services::{InputProblem, ServiceError, Services};

pub(super) struct EmailAttachment {
    pub(super) filename: String,
    pub(super) content_type: String,
    pub(super) bytes: Vec<u8>,
}

pub(super) struct Email {
    pub(super) from: Option<Mailbox>,
    pub(super) to: Vec<Mailbox>,
    pub(super) cc: Vec<Mailbox>,
    pub(super) bcc: Vec<Mailbox>,
    pub(super) reply_to: Option<Mailbox>,
    pub(super) subject: String,
    pub(super) text: Option<String>,
    pub(super) html: Option<String>,
    pub(super) attachments: Vec<EmailAttachment>,
}

impl Email {
    /// The email `input` describes (its schema already checked); every address that does not
    /// parse and every attachment that does not decode, at its pointer.
    pub(super) fn parse(action: &str, input: &Value) -> Result<Self, ServiceError> {
        let mut problems = Vec::new();
        let mut mailbox = |pointer: String, v: &Value| -> Option<Mailbox> {
            let text = v.as_str()?;
            match text.parse::<Mailbox>() {
                Ok(m) => Some(m),
                Err(e) => {
                    problems.push(InputProblem {
                        path: pointer,
                        message: format!("{text:?} is not an email address: {e}"),
                        candidates: None,
                    });
                    None
                }
            }
        };
        let mut list = |name: &str| -> Vec<Mailbox> {
            match input.get(name) {
                Some(Value::Array(items)) => {
                    items.iter().enumerate().filter_map(|(i, v)| mailbox(format!("/input/{name}/{i}"), v)).collect()
                }
                Some(v @ Value::String(_)) => mailbox(format!("/input/{name}"), v).into_iter().collect(),
                _ => Vec::new(),
            }
        };
        let (to, cc, bcc) = (list("to"), list("cc"), list("bcc"));
        let from = input.get("from").and_then(|v| mailbox("/input/from".into(), v));
        let reply_to = input.get("reply_to").and_then(|v| mailbox("/input/reply_to".into(), v));
        let mut attachments = Vec::new();
        for (i, a) in input.get("attachments").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let content = a.get("content_base64").and_then(Value::as_str).unwrap_or_default();
            match base64::engine::general_purpose::STANDARD.decode(content.trim()) {
                Ok(bytes) => attachments.push(EmailAttachment {
                    filename: a.get("filename").and_then(Value::as_str).unwrap_or("attachment").to_owned(),
                    content_type: a
                        .get("content_type")
                        .and_then(Value::as_str)
                        .unwrap_or("application/octet-stream")
                        .to_owned(),
                    bytes,
                }),
                Err(e) => problems.push(InputProblem {
                    path: format!("/input/attachments/{i}/content_base64"),
                    message: format!("not base64 (standard alphabet, with padding): {e}"),
                    candidates: None,
                }),
            }
            if ContentType::parse(a.get("content_type").and_then(Value::as_str).unwrap_or("application/octet-stream"))
                .is_err()
            {
                problems.push(InputProblem {
                    path: format!("/input/attachments/{i}/content_type"),
                    message: "not a media type such as application/pdf".into(),
                    candidates: None,
                });
            }
        }
        let text = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_owned);
        if !problems.is_empty() {
            return Err(super::super::actions::invalid_input(action, problems));
        }
        Ok(Self {
            from,
            to,
            cc,
            bcc,
            reply_to,
            subject: text("subject").unwrap_or_default(),
            text: text("text"),
            html: text("html"),
            attachments,
        })
    }

    /// Every recipient's address, for the output.
    pub(super) fn recipients(&self) -> Vec<String> {
        self.to.iter().chain(&self.cc).chain(&self.bcc).map(|m| m.email.to_string()).collect()
    }

    /// The MIME message from `from`: text and HTML as alternatives, attachments beside them.
    pub(super) fn mime(&self, from: Mailbox) -> Result<lettre::Message, ServiceError> {
        let mut b = lettre::Message::builder().from(from).subject(self.subject.clone());
        for m in &self.to {
            b = b.to(m.clone());
        }
        for m in &self.cc {
            b = b.cc(m.clone());
        }
        for m in &self.bcc {
            b = b.bcc(m.clone());
        }
        if let Some(r) = &self.reply_to {
            b = b.reply_to(r.clone());
        }
        let body = match (&self.text, &self.html) {
            (Some(t), Some(h)) => Body::Multi(MultiPart::alternative_plain_html(t.clone(), h.clone())),
            (None, Some(h)) => Body::Single(SinglePart::html(h.clone())),
            (t, None) => Body::Single(SinglePart::plain(t.clone().unwrap_or_default())),
        };
        let built = if self.attachments.is_empty() {
            match body {
                Body::Multi(m) => b.multipart(m),
                Body::Single(s) => b.singlepart(s),
            }
        } else {
            let mut mixed = match body {
                Body::Multi(m) => MultiPart::mixed().multipart(m),
                Body::Single(s) => MultiPart::mixed().singlepart(s),
            };
            for a in &self.attachments {
                let kind = ContentType::parse(&a.content_type)
                    .map_err(|_| ServiceError::invalid("input.attachments", "an attachment's content_type"))?;
                // Always base64: a file's bytes are not lines of text (lettre would send ASCII with bare
                // LFs as 7bit, one overlong SMTP line).
                let body = lettre::message::Body::new_with_encoding(a.bytes.clone(), ContentTransferEncoding::Base64)
                    .map_err(|_| ServiceError::Internal("base64 attachment encoding".into()))?;
                mixed = mixed.singlepart(Attachment::new(a.filename.clone()).body(body, kind));
            }
            b.multipart(mixed)
        };
        built.map_err(|e| ServiceError::invalid("input", format!("the email cannot be built: {e}")))
    }

    /// Microsoft Graph's `message` for sendMail
    /// (https://learn.microsoft.com/en-us/graph/api/user-sendmail): HTML when there is HTML (Graph
    /// takes one body), file attachments with their content in base64.
    pub(super) fn graph_message(&self) -> Value {
        let recipients = |list: &[Mailbox]| -> Vec<Value> {
            list.iter()
                .map(|m| match &m.name {
                    Some(name) => json!({"emailAddress": {"address": m.email.to_string(), "name": name}}),
                    None => json!({"emailAddress": {"address": m.email.to_string()}}),
                })
                .collect()
        };
        let (kind, content) = match (&self.html, &self.text) {
            (Some(h), _) => ("HTML", h.clone()),
            (None, t) => ("Text", t.clone().unwrap_or_default()),
        };
        let mut message = json!({"subject": self.subject, "body": {"contentType": kind, "content": content}, "toRecipients": recipients(&self.to)});
        if !self.cc.is_empty() {
            message["ccRecipients"] = recipients(&self.cc).into();
        }
        if !self.bcc.is_empty() {
            message["bccRecipients"] = recipients(&self.bcc).into();
        }
        if let Some(r) = &self.reply_to {
            message["replyTo"] = recipients(std::slice::from_ref(r)).into();
        }
        if !self.attachments.is_empty() {
            message["attachments"] = self
                .attachments
                .iter()
                .map(|a| {
                    json!({"@odata.type": "#microsoft.graph.fileAttachment", "name": a.filename, "contentType": a.content_type,
                        "contentBytes": base64::engine::general_purpose::STANDARD.encode(&a.bytes)})
                })
                .collect();
        }
        message
    }

    /// SendGrid's v3 mail/send body (https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send).
    pub(super) fn sendgrid_body(&self, from: &Mailbox) -> Value {
        let address = |m: &Mailbox| match &m.name {
            Some(name) => json!({"email": m.email.to_string(), "name": name}),
            None => json!({"email": m.email.to_string()}),
        };
        let mut personalization = json!({"to": self.to.iter().map(address).collect::<Vec<_>>()});
        if !self.cc.is_empty() {
            personalization["cc"] = self.cc.iter().map(address).collect();
        }
        if !self.bcc.is_empty() {
            personalization["bcc"] = self.bcc.iter().map(address).collect();
        }
        // text/plain must come first, then text/html.
        let mut content = Vec::new();
        if let Some(t) = &self.text {
            content.push(json!({"type": "text/plain", "value": t}));
        }
        if let Some(h) = &self.html {
            content.push(json!({"type": "text/html", "value": h}));
        }
        let mut body = json!({
            "personalizations": [personalization], "from": address(from), "subject": self.subject, "content": content,
        });
        if let Some(r) = &self.reply_to {
            body["reply_to"] = address(r);
        }
        if !self.attachments.is_empty() {
            body["attachments"] = self
                .attachments
                .iter()
                .map(|a| {
                    json!({"content": base64::engine::general_purpose::STANDARD.encode(&a.bytes), "filename": a.filename,
                        "type": a.content_type, "disposition": "attachment"})
                })
                .collect();
        }
        body
    }
}

enum Body {
    Single(SinglePart),
    Multi(MultiPart),
}

/// Sends the email through the connection's own SMTP server (its settings, checked address and
/// TLS as the connection test uses them), from `input.from` or the connection's `from`.
pub(super) async fn smtp_send_email(services: &Services, conn: &Caller<'_>, input: &Value) -> Result<Value, RunError> {
    let email = Email::parse("send_email", input)?;
    let rec = services.record_of(conn).await?;
    let fields = services.open_fields(&rec).await?;
    let from = match (&email.from, fields.get("from")) {
        (Some(f), _) => f.clone(),
        (None, Some(f)) => f.parse().map_err(|_| {
            ServiceError::invalid("input.from", "the connection's from address does not parse; give `from`")
        })?,
        (None, None) => {
            return Err(ServiceError::invalid("input.from", "give `from`: this connection has no from address").into());
        }
    };
    let message = email.mime(from)?;
    let reply =
        crate::services::credentials::smtp::send(&fields, &services.settings, &services.outbound, &message).await?;
    Ok(serde_json::json!({"sent": true, "to": email.recipients(), "reply": reply}))
}
