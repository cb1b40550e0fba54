//! The chrome of every web page: the document, one inline stylesheet, the
//! navigation (Alerts, Timeline, Me, Wallboard, Sign out) and the headers.
//! Pages hand in their body as HTML they built with [`escape`] (the
//! project's one escaper, `crate::html`, re-exported here so that pages
//! need no other).
//!
//! Nothing is loaded from elsewhere: the style is inline, and the only
//! scripts are [`REFRESH_SCRIPT`] and `/me`'s push button
//! ([`super::push::PUSH_SCRIPT`]), allowed by their hashes in the
//! Content-Security-Policy (no other inline script runs, so text that
//! escaped its escaping still could not run); the service worker and the
//! web app manifest come from the daemon itself.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub use crate::html::escape;

use super::session::Me;

/// Which page of the navigation is shown (marked as the current one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nav {
    Alerts,
    Timeline,
    Me,
    Wallboard,
    /// None of them (the sign-in page, an error).
    Other,
}

/// The navigation's entries: where, what it is called, which it is.
const NAV: [(&str, &str, Nav); 4] = [
    ("/alerts", "Alerts", Nav::Alerts),
    ("/timeline", "Timeline", Nav::Timeline),
    ("/me", "Me", Nav::Me),
    ("/wallboard", "Wallboard", Nav::Wallboard),
];

/// The one stylesheet: readable on a phone at 3 a.m., no web fonts.
pub const STYLE: &str = "\
:root{color-scheme:light dark;--muted:#666;--line:#ccc;--bad:#b00;--warn:#a50;--ok:#070}\
body{font-family:system-ui,sans-serif;max-width:72em;margin:0 auto;padding:0 .8em 2em;line-height:1.4}\
header{display:flex;flex-wrap:wrap;align-items:center;gap:.3em 1em;border-bottom:1px solid var(--line);padding:.5em 0;margin-bottom:1em}\
header nav a{margin-right:.9em}header nav a[aria-current]{font-weight:bold;text-decoration:none}\
header .who{margin-left:auto;color:var(--muted)}form{display:inline}\
button,input,select{font:inherit}button{padding:.3em .9em;margin:.2em .3em .2em 0;cursor:pointer}\
table{border-collapse:collapse;width:100%;margin-bottom:1em}th,td{text-align:left;padding:.3em .4em;border-bottom:1px solid var(--line);vertical-align:top}\
.muted{color:var(--muted)}.critical{color:var(--bad);font-weight:bold}.major{color:var(--warn)}.failed{color:var(--bad)}\
.card{border:1px solid var(--line);border-radius:.4em;padding:.5em .7em;margin:.6em 0}\
.card ol{margin:.3em 0;padding-left:1.4em}.error{color:var(--bad)}\
@media (max-width:40em){header .who{margin-left:0;width:100%}}";

/// The progressive refresh: a page whose `<main>` has `data-refresh="N"`
/// fetches itself every N seconds and swaps its `<main>` in, unless the
/// tab is hidden or a form field has focus. Without script the page works
/// the same, reloaded by hand.
pub const REFRESH_SCRIPT: &str = "(function(){var m=document.querySelector('main[data-refresh]');if(!m||!window.fetch)return;\
var every=1000*Number(m.getAttribute('data-refresh'));setInterval(function(){\
var a=document.activeElement;if(document.hidden||(a&&a.form))return;\
fetch(location.href,{credentials:'same-origin'}).then(function(r){return r.ok?r.text():null}).then(function(t){\
if(!t)return;var n=new DOMParser().parseFromString(t,'text/html').querySelector('main');if(n)m.innerHTML=n.innerHTML;});},every);})();";

/// The Content-Security-Policy of every page: nothing from elsewhere,
/// inline style, the refresh script by its hash, forms to ourselves only.
static CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    let hash = |script: &str| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script.as_bytes()));
    HeaderValue::from_str(&format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
         script-src 'sha256-{}' 'sha256-{}'; worker-src 'self'; manifest-src 'self'; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        hash(REFRESH_SCRIPT),
        hash(super::push::PUSH_SCRIPT),
    ))
    .expect("a header value")
});

/// A page for the person signed in: the navigation with `current` marked,
/// `title` (text, escaped here) and `body` (HTML built with [`escape`]).
pub fn page(me: &Me, current: Nav, title: &str, body: &str) -> Response {
    document(StatusCode::OK, Some(me), current, title, body)
}

/// [`page`] with another status (an error page for someone signed in), or
/// for nobody (`me` is `None`: no navigation, no sign-out).
pub fn document(status: StatusCode, me: Option<&Me>, current: Nav, title: &str, body: &str) -> Response {
    let mut header = String::from("<header><strong>oncall</strong>");
    if let Some(me) = me {
        header.push_str("<nav>");
        for (href, label, nav) in NAV {
            let here = if nav == current { " aria-current=\"page\"" } else { "" };
            header.push_str(&format!("<a href=\"{href}\"{here}>{label}</a>"));
        }
        header.push_str(&format!(
            "</nav><span class=\"who\">{} <form method=\"post\" action=\"/signout\">{}<button>Sign out</button></form></span>",
            escape(&me.name),
            me.csrf_input()
        ));
    }
    header.push_str("</header>");
    // Everything but the header inside one `<main>` (its heading too), so
    // that every part of the page is in a landmark. A page that refreshes
    // brings its own `<main data-refresh>`; the heading goes inside it.
    let heading = format!("<h1>{}</h1>", escape(title));
    let main = match body.strip_prefix("<main") {
        Some(rest) if rest.contains('>') => {
            let open = rest.find('>').map_or(0, |i| i + 1);
            format!("<main{}\n{heading}\n{}", &rest[..open], &rest[open..])
        }
        _ => format!("<main>\n{heading}\n{body}\n</main>"),
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<link rel=\"manifest\" href=\"/manifest.webmanifest\">\n<link rel=\"icon\" href=\"/icon.svg\" type=\"image/svg+xml\">\n<title>{title} · oncall</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n{header}\n{main}\n\
         <script>{REFRESH_SCRIPT}</script>\n</body>\n</html>\n",
        title = escape(title),
    );
    with_headers(status, html)
}

/// An error page: `message` is text (escaped here).
pub fn error(status: StatusCode, me: Option<&Me>, title: &str, message: &str) -> Response {
    let body = format!("<p class=\"error\">{}</p>", escape(message));
    document(status, me, Nav::Other, title, &body)
}

/// `html` with the headers every page has: not cached (it is a person's),
/// never framed, its type not guessed; `Referer` only to ourselves (the
/// forms' CSRF check reads it when a browser sends no `Origin`).
fn with_headers(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::REFERRER_POLICY, HeaderValue::from_static("same-origin")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (header::CONTENT_SECURITY_POLICY, CSP.clone()),
        ],
        html,
    )
        .into_response()
}

/// 303 See Other to `to` (a path of ours), after a form POST or to send
/// someone to the sign-in page.
pub fn see_other(to: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, to.to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response()
}
