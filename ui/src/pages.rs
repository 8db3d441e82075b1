//! What every page shares: the header's view of the viewer ([`Nav`]), the rendering of a
//! template into an HTML answer, and the figures pages write the same way.

use askama::Template;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::UiError;
use crate::format;

/// The header of every page: who is logged in (the logout button shows then).
#[derive(Clone, Debug, Default)]
pub(crate) struct Nav {
    /// The viewer's name, with authentication on.
    pub user: Option<String>,
}

/// `page` rendered, as an HTML answer that no cache keeps (the figures change).
pub(crate) fn html(page: &impl Template) -> Result<Response, UiError> {
    let body = page.render()?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}

/// A number, or `–` without one.
pub(crate) fn or_dash<T>(value: Option<T>, write: impl Fn(T) -> String) -> String {
    value.map_or_else(|| "–".to_string(), write)
}

/// A watermark (epoch milliseconds) as an instant, and its lag behind `now_ms`.
pub(crate) fn watermark_and_lag(watermark_ms: Option<i64>, now_ms: i64) -> (String, String) {
    let lag = watermark_ms.map(|w| floe_rest_catalog::watermark_lag_seconds(w, now_ms));
    (
        or_dash(watermark_ms, format::instant),
        or_dash(lag, format::duration),
    )
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
