//! Telegram file uploads: a photo or document given as bytes (`content_base64`) goes up as
//! `multipart/form-data`, the file in its own part beside the method's other fields
//! (https://core.telegram.org/bots/api#sending-files). Given by URL or file_id instead, the
//! action's own JSON request is sent unchanged.

use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::Digest as _;

use switchboard_core::actions::text_of;

use super::super::actions::{RawBody, RunError, invalid_input};
use crate::services::InputProblem;

/// The multipart body when the file comes as bytes: `file_field` (photo or document) holds it,
/// every other input but the bytes and the filename goes as a text field.
pub(super) fn upload(action: &str, file_field: &str, input: &Value) -> Result<Option<RawBody>, RunError> {
    let Some(content) = input.get("content_base64").and_then(Value::as_str) else { return Ok(None) };
    let bytes = base64::engine::general_purpose::STANDARD.decode(content.trim()).map_err(|e| {
        invalid_input(
            action,
            vec![InputProblem {
                path: "/input/content_base64".into(),
                message: format!("not base64 (standard alphabet, with padding): {e}"),
                candidates: None,
            }],
        )
    })?;
    let filename = input.get("filename").and_then(Value::as_str).unwrap_or(file_field);
    // A boundary made from the content cannot occur in it.
    let boundary = format!("switchboard-{}", &hex::encode(sha2::Sha256::digest(&bytes))[..32]);
    let mut body = Vec::with_capacity(bytes.len() + 1024);
    let fields: Map<String, Value> = input.as_object().cloned().unwrap_or_default();
    for (name, value) in &fields {
        if matches!(name.as_str(), "content_base64" | "filename") || name == file_field {
            continue;
        }
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{}\r\n", text_of(value))
                .as_bytes(),
        );
    }
    let quoted = filename.replace(['"', '\r', '\n'], "_");
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{quoted}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Ok(Some(RawBody { bytes: body.into(), content_type: format!("multipart/form-data; boundary={boundary}") }))
}
