//! The few HTML (and XML) answers the daemon gives people: a small page
//! with a title and a body. Every piece of text that came from outside (an
//! alert's summary, a team, a person's name) goes through [`escape`].

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Text made safe for HTML and XML element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(escape("disk full — db-1"), "disk full — db-1");
    }
}
