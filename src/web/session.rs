//! Who is signed in, and what a form POST must carry to be taken.
//!
//! A session is a random id in an HttpOnly, SameSite=Strict cookie
//! ([`COOKIE`]; `Secure` when the public URL is `https`), kept in the store
//! by its SHA-256 digest with the person and its expiry (so a copy of the
//! database opens no session, and signing out ends it for good).
//! [`Me`] is the extractor that gives the person signed in, or sends the
//! browser to the sign-in page (`/`).
//!
//! A form POST is taken only with all three of: the session cookie (which
//! SameSite=Strict keeps off requests other sites start), an `Origin` (or,
//! without one, a `Referer`) of this site, and the session's CSRF token in
//! the form's `csrf` field ([`Me::csrf_input`] writes it; an HMAC of the
//! session id under the link secret, so it is not stored). [`Posted`] is the
//! extractor that checks them and parses the rest of the form; anything
//! missing is 403 and changes nothing.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::de::DeserializeOwned;

use super::layout::{self, escape};
use crate::http::Shared;
use crate::store::{CredentialKind, StoreError};

/// The session cookie's name.
pub const COOKIE: &str = "oncall_session";

/// The most a form's body may hold.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The person signed in, from a live session.
#[derive(Clone, Debug)]
pub struct Me {
    /// Their id in `people.yaml`.
    pub person: String,
    /// Their display name (the id if the people file has none now).
    pub name: String,
    /// The session's CSRF token.
    csrf: String,
    /// The session's id in the store.
    pub session: i64,
}

impl Me {
    /// The hidden form field with the session's CSRF token: every form that
    /// POSTs carries it.
    pub fn csrf_input(&self) -> String {
        format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", escape(&self.csrf))
    }

    /// The CSRF token itself.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The session of a request, if it has a live one (signed in, not signed
/// out, not expired at the daemon's clock's now).
pub async fn lookup(state: &Shared, headers: &HeaderMap) -> Result<Option<Me>, Response> {
    let Some(secret) = cookie(headers, COOKIE).filter(|s| s.len() == SECRET_CHARS) else {
        return Ok(None);
    };
    let now = state.clock.now();
    match state
        .store
        .credential(CredentialKind::Session, digest(secret), now)
        .await
    {
        Ok(Some(session)) => Ok(Some(Me {
            name: display_name(state, &session.person),
            csrf: state.links.csrf_token(secret),
            person: session.person,
            session: session.id,
        })),
        Ok(None) => Ok(None),
        Err(e) => Err(store_failed(e)),
    }
}

/// The person's name from the people file, or the id.
pub fn display_name(state: &Shared, person: &str) -> String {
    state
        .schedule()
        .people
        .get(person)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| person.to_string())
}

/// 503: the store did not answer; nothing was changed.
pub fn store_failed(e: StoreError) -> Response {
    tracing::error!(error = %e, "store failed");
    layout::error(
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "Try again",
        "oncall could not reach its database just now. Nothing was changed; try again in a moment.",
    )
}

/// The length of a session's (or token's) secret: 32 random bytes,
/// base64url.
pub const SECRET_CHARS: usize = 43;

/// A new secret: 32 bytes from the operating system, base64url.
pub fn new_secret() -> std::io::Result<String> {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The SHA-256 digest of a secret, in hex: what the store keeps.
pub fn digest(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

impl FromRequestParts<Shared> for Me {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Me, Response> {
        match lookup(state, &parts.headers).await? {
            Some(me) => Ok(me),
            None => Err(layout::see_other(&sign_in_then(
                parts.uri.path_and_query().map(|p| p.as_str()),
            ))),
        }
    }
}

/// The sign-in page's address, coming back to `path` after (if it is a
/// plain path of ours: never another site's).
pub fn sign_in_then(path: Option<&str>) -> String {
    match path.filter(|p| local_path(p)) {
        Some(p) if p != "/" => format!("/?next={}", percent(p)),
        _ => "/".into(),
    }
}

/// Whether `path` is a path on this site: one leading `/`, no scheme, no
/// backslash (which some browsers read as `/`), printable ASCII.
pub fn local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && path.len() <= 512
        && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
}

/// `text` percent-encoded for a query value.
pub fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Whether a browser sent this request from a page of this site: its
/// `Origin` (or, when it sends none or `null`, its `Referer`) is the public
/// URL's origin, or the origin the request was addressed to (its `Host`).
/// A request with neither header is refused: browsers send `Origin` with
/// every form POST.
pub fn same_origin(state: &Shared, headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let source = match text(header::ORIGIN).filter(|o| *o != "null") {
        Some(origin) => origin,
        None => match text(header::REFERER) {
            Some(referer) => referer,
            None => return false,
        },
    };
    let Some(source) = origin_of(source) else { return false };
    if let Some(public) = state.links.public_url().and_then(origin_of)
        && source.eq_ignore_ascii_case(public)
    {
        return true;
    }
    let Some(host) = text(header::HOST) else { return false };
    let (_, authority) = source.split_once("://").unwrap_or_default();
    authority.eq_ignore_ascii_case(host)
}

/// `scheme://authority` of a URL, or `None` if it is not `http(s)://...`.
fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    (end > 0).then(|| &url[..scheme.len() + 3 + end])
}

/// A form POSTed by the person signed in, from this site, with the
/// session's CSRF token: `Posted(me, form)`. `T` is the form's other fields
/// (it must not deny unknown fields: `csrf` is there too). Refused: not
/// signed in (303 to the sign-in page), from elsewhere or without the token
/// (403), a form that does not parse (400); nothing is changed.
pub struct Posted<T>(pub Me, pub T);

/// The CSRF field of a form.
#[derive(serde::Deserialize)]
struct CsrfField {
    csrf: Option<String>,
}

impl<T: DeserializeOwned> FromRequest<Shared> for Posted<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &Shared) -> Result<Posted<T>, Response> {
        let (mut parts, body) = request.into_parts();
        let me = Me::from_request_parts(&mut parts, state).await?;
        if !same_origin(state, &parts.headers) {
            tracing::warn!(person = %me.person, path = %parts.uri.path(), "a form posted from another site: refused");
            return Err(refused(&me));
        }
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| {
            layout::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                Some(&me),
                "Too much",
                "The form was too large; nothing was changed.",
            )
        })?;
        let field: CsrfField = serde_urlencoded::from_bytes(&bytes).unwrap_or(CsrfField { csrf: None });
        if !field.csrf.is_some_and(|given| same_token(&me.csrf, given.as_str())) {
            tracing::warn!(person = %me.person, path = %parts.uri.path(), "a form without this session's CSRF token: refused");
            return Err(refused(&me));
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            layout::error(
                StatusCode::BAD_REQUEST,
                Some(&me),
                "That form is not right",
                &format!("{e}; nothing was changed."),
            )
        })?;
        Ok(Posted(me, form))
    }
}

/// Compares tokens in constant time (for equal lengths; the length of a
/// CSRF token is no secret).
fn same_token(want: &str, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    want.len() == given.len() && bool::from(want.as_bytes().ct_eq(given.as_bytes()))
}

/// 403 for a form that did not come from this site's own page.
fn refused(me: &Me) -> Response {
    layout::error(
        StatusCode::FORBIDDEN,
        Some(me),
        "Refused",
        "This request did not come from an oncall page of this site (or the page is too old), so nothing was done. \
         Reload the page and try again.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_ours_come_back_after_signing_in() {
        assert_eq!(
            sign_in_then(Some("/timeline?team=a&x=1")),
            "/?next=/timeline%3Fteam%3Da%26x%3D1"
        );
        assert_eq!(sign_in_then(Some("/timeline?team=a b")), "/");
        for elsewhere in ["//evil.example/x", "https://evil.example/", "/\\evil.example", "x"] {
            assert_eq!(sign_in_then(Some(elsewhere)), "/", "{elsewhere}");
        }
        assert_eq!(origin_of("https://a.example:8443/x?y"), Some("https://a.example:8443"));
        assert_eq!(origin_of("http://a.example"), Some("http://a.example"));
        assert_eq!(origin_of("javascript://a.example"), None);
        assert_eq!(origin_of("http:///x"), None);
    }
}
