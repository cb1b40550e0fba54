//! The few HTML (and XML) answers the daemon gives people: a small page
//! with a title and a body. Every piece of text that came from outside (an
//! alert's summary, a team, a person's name) goes through [`escape`]
//! (`crate::html`, the one escaper, which the emails use too).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::html::escape;

/// A page: `title` is text (escaped here), `body` is HTML the caller built
/// with [`escape`].
///
/// The headers keep the page out of caches and frames and its URL (which
/// holds a token) out of `Referer`: the page loads nothing from elsewhere
/// and posts only to itself.
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    page_with_style(
        status,
        title,
        body,
        "body{font-family:system-ui,sans-serif;max-width:36em;margin:2em auto;padding:0 1em;line-height:1.4}\
         dt{font-weight:bold}dd{margin:0 0 .5em 0}\
         button{font-size:1.2em;padding:.5em 1.5em;cursor:pointer}.note{color:#555}",
    )
}

/// [`page`] with its own inline CSS (`style`, a constant of ours).
pub fn page_with_style(status: StatusCode, title: &str, body: &str, style: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>{title} · oncall</title>\n\
         <style>{style}</style>\n\
         </head>\n<body>\n<h1>{title}</h1>\n{body}\n</body>\n</html>\n",
        title = escape(title),
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            ),
        ],
        html,
    )
        .into_response()
}
