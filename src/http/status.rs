//! `GET /status`, the old status page's address: a redirect (303) into the
//! web interface (`crate::web`), so that the status links people kept go
//! on working. A status link (`?person=P&token=T`) is the person's sign-in
//! link with another path, so it goes to the sign-in page with the same
//! person and token, which checks them (in constant time) and asks before
//! signing in; anything else goes to the alerts page, which sends a
//! browser without a session to sign in. Nothing is checked or shown here.

use axum::extract::Query;
use axum::response::Response;
use serde::Deserialize;

use crate::web::layout::see_other;
use crate::web::session::percent;

#[derive(Deserialize)]
pub struct StatusQuery {
    person: Option<String>,
    token: Option<String>,
}

/// `GET /status`.
pub async fn page(Query(q): Query<StatusQuery>) -> Response {
    match (&q.person, &q.token) {
        (Some(person), Some(token)) => {
            see_other(&format!("/signin?person={}&token={}", percent(person), percent(token)))
        }
        _ => see_other("/alerts"),
    }
}
