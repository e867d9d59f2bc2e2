//! `multipart/form-data` bodies (Stripe's file uploads, `POST /v1/files`):
//! text fields become parameters like a form's (bracket notation and all),
//! and each file becomes `sha256:<hex>` of its bytes, so an upload matches
//! by content whatever boundary the client picked, and no file's bytes are
//! ever stored.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::FutureExt;

use crate::answer::ClientError;
use crate::cassette::key::sha256_text;
use crate::stripe::params::{DecodeError, Params};

/// The parameters of a whole multipart body, under `content_type` (which
/// names the boundary).
pub fn params(content_type: &[u8], body: &Bytes) -> Result<Params, ClientError> {
    let bad = |why: String| ClientError::BadParams(DecodeError::InvalidMultipart(why));
    let content_type = std::str::from_utf8(content_type).map_err(|_| bad("the Content-Type is not text".into()))?;
    let boundary = multer::parse_boundary(content_type).map_err(|e| bad(e.to_string()))?;
    let chunk = body.clone();
    let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(chunk) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    // The whole body is in memory, so every step is ready at once: polled
    // once, the parse ends (a parse that would wait is refused, not awaited).
    let fields = async move {
        let mut form = form_urlencoded::Serializer::new(String::new());
        while let Some(field) = multipart.next_field().await? {
            let name = field.name().unwrap_or_default().to_owned();
            let is_file = field.file_name().is_some();
            let bytes = field.bytes().await?;
            let value = if is_file {
                sha256_text(&bytes)
            } else {
                String::from_utf8_lossy(&bytes).into_owned()
            };
            form.append_pair(&name, &value);
        }
        Ok::<String, multer::Error>(form.finish())
    }
    .now_or_never()
    .ok_or_else(|| bad("the body ended early".into()))?
    .map_err(|e| bad(e.to_string()))?;
    Params::from_form(fields.as_bytes(), "multipart body").map_err(ClientError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(boundary: &str, file: &[u8]) -> Bytes {
        let mut body = Vec::new();
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\ndispute_evidence\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file_link_data[create]\"\r\n\r\ntrue\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"receipt.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Bytes::from(body)
    }

    #[test]
    fn fields_are_parameters_and_files_their_digest_whatever_the_boundary() {
        let a = params(b"multipart/form-data; boundary=AAA", &upload("AAA", b"%PDF-1 bytes")).expect("parses");
        let b = params(
            b"multipart/form-data; boundary=\"----b0undary\"",
            &upload("----b0undary", b"%PDF-1 bytes"),
        )
        .expect("parses");
        assert_eq!(a, b, "the boundary is not part of the request");
        let flat: Vec<(String, String)> = a.flatten().into_iter().map(|(k, v)| (k, v.text().to_owned())).collect();
        assert!(
            flat.contains(&("purpose".into(), "dispute_evidence".into())),
            "{flat:?}"
        );
        assert!(
            flat.contains(&("file_link_data[create]".into(), "true".into())),
            "{flat:?}"
        );
        assert!(
            flat.contains(&("file".into(), sha256_text(b"%PDF-1 bytes"))),
            "{flat:?}"
        );
        let other = params(b"multipart/form-data; boundary=AAA", &upload("AAA", b"other bytes")).expect("parses");
        assert_ne!(a, other, "another file is another request");
    }

    #[test]
    fn a_broken_body_is_a_clear_400_not_a_hang() {
        for (ct, body) in [
            (&b"multipart/form-data"[..], &b"--x\r\n"[..]),
            (
                b"multipart/form-data; boundary=x",
                b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end",
            ),
            (b"multipart/form-data; boundary=x", b"garbage"),
        ] {
            let err = params(ct, &Bytes::copy_from_slice(body)).expect_err("refused");
            assert!(matches!(err, ClientError::BadParams(_)), "{err:?}");
        }
    }
}
