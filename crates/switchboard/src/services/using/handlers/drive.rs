//! Google Drive `upload_file`: a multipart upload (`uploadType=multipart`), one request carrying
//! the file's metadata (JSON) and its bytes as `multipart/related`
//! (https://developers.google.com/workspace/drive/api/guides/manage-uploads#multipart).

use base64::Engine as _;
use serde_json::{Map, Value, json};
use sha2::Digest as _;

use super::super::actions::{RawBody, Resolved, RunError, invalid_input};
use crate::services::InputProblem;

/// The upload's body, and nothing computed for templates.
pub(super) fn multipart_upload(input: &Value, resolved: &Resolved) -> Result<(Map<String, Value>, RawBody), RunError> {
    let content = input.get("content_base64").and_then(Value::as_str).unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD.decode(content.trim()).map_err(|e| {
        invalid_input(
            "upload_file",
            vec![InputProblem {
                path: "/input/content_base64".into(),
                message: format!("not base64 (standard alphabet, with padding): {e}"),
                candidates: None,
            }],
        )
    })?;
    let mime = input.get("mime_type").and_then(Value::as_str).unwrap_or("application/octet-stream");
    let mut metadata = json!({"name": input.get("name"), "mimeType": mime});
    if let Some(folder) = resolved.get("folder") {
        metadata["parents"] = json!([folder.id]);
    }
    if let Some(d) = input.get("description").and_then(Value::as_str) {
        metadata["description"] = json!(d);
    }
    // A boundary made from the content cannot occur in it (it would have to hold its own hash).
    let boundary = format!("switchboard-{}", &hex::encode(sha2::Sha256::digest(&bytes))[..32]);
    let mut body = Vec::with_capacity(bytes.len() + 512);
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{metadata}\r\n--{boundary}\r\nContent-Type: {mime}\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(&bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Ok((Map::new(), RawBody { bytes: body.into(), content_type: format!("multipart/related; boundary={boundary}") }))
}
