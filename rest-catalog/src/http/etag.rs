//! ETags of table answers and the `If-None-Match` check of a load. A tag names what the
//! answer's body is built from: the metadata file (its location: files are never
//! rewritten), which snapshots the body lists (`snapshots=all` or `refs`, distinct tags as
//! the spec asks) and the client configuration it carries. A commit moves the table to a
//! new metadata file, so every tag of the table changes with it.

use axum::http::header::{ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue};

use crate::digest::sha256_hex;

/// Which snapshots a table answer lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotsShown {
    /// Every snapshot of the table (`snapshots=all`, and create and commit answers).
    All,
    /// Only those a branch or tag points at (`snapshots=refs`).
    Refs,
}

/// The strong ETag of an answer built from the metadata file at `metadata_location`
/// listing `shown` snapshots with client configuration `config` (its JSON).
pub fn table_etag(metadata_location: &str, shown: SnapshotsShown, config: &[u8]) -> HeaderValue {
    let shown: &[u8] = match shown {
        SnapshotsShown::All => b"all\0",
        SnapshotsShown::Refs => b"refs\0",
    };
    let hex = sha256_hex(&[shown, metadata_location.as_bytes(), b"\0", config]);
    // The first 16 bytes of the digest.
    HeaderValue::from_str(&format!("\"{}\"", &hex[..32])).expect("hex is a valid header value")
}

/// Whether the request's `If-None-Match` names `etag` (or is `*`): the client's copy is
/// current. The header is a comma-separated list; a weak tag (`W/"..."`) matches too, as
/// RFC 9110 compares tags weakly for `If-None-Match`.
pub fn client_has(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.to_str().unwrap_or_default();
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|list| list.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == ours)
}

/// Sets the answer's `ETag` header.
pub fn tag(headers: &mut HeaderMap, etag: HeaderValue) {
    headers.insert(ETAG, etag);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_change_with_the_file_the_snapshots_shown_and_the_config() {
        let all = table_etag(
            "/w/t/metadata/00001-a.metadata.json",
            SnapshotsShown::All,
            b"{}",
        );
        let cases = [
            (
                "/w/t/metadata/00002-b.metadata.json",
                SnapshotsShown::All,
                &b"{}"[..],
            ),
            (
                "/w/t/metadata/00001-a.metadata.json",
                SnapshotsShown::Refs,
                b"{}",
            ),
            (
                "/w/t/metadata/00001-a.metadata.json",
                SnapshotsShown::All,
                b"{\"a\":\"b\"}",
            ),
        ];
        for (location, shown, config) in cases {
            assert_ne!(
                table_etag(location, shown, config),
                all,
                "{location} {shown:?}"
            );
        }
        let again = table_etag(
            "/w/t/metadata/00001-a.metadata.json",
            SnapshotsShown::All,
            b"{}",
        );
        assert_eq!(again, all);
        let text = all.to_str().unwrap();
        assert!(
            text.starts_with('"') && text.ends_with('"') && text.len() == 34,
            "{text}"
        );
    }

    #[test]
    fn if_none_match_names_the_tag_in_a_list_weakly_or_by_star() {
        let etag = HeaderValue::from_static("\"abc\"");
        // (If-None-Match values, whether the client's copy is current)
        let cases: &[(&[&str], bool)] = &[
            (&[], false),
            (&["\"abc\""], true),
            (&["W/\"abc\""], true),
            (&["\"x\", \"abc\""], true),
            (&["\"x\"", "\"abc\""], true),
            (&["*"], true),
            (&["\"abcd\""], false),
            (&["abc"], false),
        ];
        for (values, want) in cases {
            let mut headers = HeaderMap::new();
            for v in *values {
                headers.append(IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            }
            assert_eq!(client_has(&headers, &etag), *want, "{values:?}");
        }
    }
}
