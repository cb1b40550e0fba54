//! Web Push from the person's side: the part of `/me` that lists the
//! devices they turned push on for (each with a form that turns it off, no
//! script needed) and the "Turn on push on this device" button, the
//! endpoints those use, and what a browser needs to install the site and
//! show its notifications: the service worker (`/sw.js`), the web app
//! manifest and its icon.
//!
//! The button is the one piece that needs script ([`PUSH_SCRIPT`], inline
//! and allowed by its hash in the Content-Security-Policy): it registers
//! the service worker, subscribes with the daemon's VAPID public key and
//! POSTs the subscription to `/me/push` as a form with the session's CSRF
//! token, as the page's other forms do. Without script (or without Web
//! Push in the browser) the button stays hidden and the rest of the page
//! works as before.
//!
//! The service worker ([`SERVICE_WORKER`]) shows a page's notification
//! with Acknowledge and Resolve actions, which POST to the alert's signed
//! action links (`/v1/act/<token>`, as ntfy's buttons and email links do),
//! or for a bundle one "Acknowledge all N", which POSTs each alert's;
//! tapping the notification opens the acknowledge link's page, which shows
//! the alert and asks before acting. Tapping a test page's notification
//! POSTs its confirm link: that is the person's confirmation.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::layout::{self, escape};
use super::session::{Me, Posted};
use crate::http::Shared;
use crate::notify::webpush::check_subscription;
use crate::store::NewWebPush;

/// The "Turn on push on this device" button's script. Shown only where the
/// browser can do it; a failure is said next to the button.
pub const PUSH_SCRIPT: &str = "(function(){var b=document.getElementById('push-on');\
if(!b||!('serviceWorker' in navigator)||!('PushManager' in window))return;b.hidden=false;\
var s=document.getElementById('push-said');b.addEventListener('click',function(){b.disabled=true;s.textContent='Turning on...';\
navigator.serviceWorker.register('/sw.js').then(function(){return navigator.serviceWorker.ready}).then(function(r){\
return r.pushManager.subscribe({userVisibleOnly:true,applicationServerKey:b.getAttribute('data-key')})}).then(function(sub){\
var j=sub.toJSON(),f=new URLSearchParams();f.set('csrf',b.getAttribute('data-csrf'));f.set('endpoint',j.endpoint);\
f.set('p256dh',j.keys.p256dh);f.set('auth',j.keys.auth);\
return fetch('/me/push',{method:'POST',credentials:'same-origin',body:f})}).then(function(r){\
if(r.ok){location.assign(r.url)}else{s.textContent='Push was not turned on (the daemon answered '+r.status+').';b.disabled=false}\
}).catch(function(e){s.textContent='Push was not turned on: '+e.message;b.disabled=false})})})();";

/// The service worker: shows pushes, acts on their buttons.
pub const SERVICE_WORKER: &str = r#"// oncall's service worker: shows the pages pushed to this device (Web Push)
// and acts on their buttons through the alert's signed links.
'use strict';
self.addEventListener('install', function () { self.skipWaiting(); });
self.addEventListener('activate', function (e) { e.waitUntil(self.clients.claim()); });
self.addEventListener('push', function (e) {
  var p;
  try { p = e.data ? e.data.json() : {}; } catch (x) { p = { title: 'oncall', body: e.data ? e.data.text() : '' }; }
  var alerts = p.alerts || [];
  var a = alerts[0];
  var actions = [];
  if (alerts.length > 1) {
    // A bundle: one button acknowledges every alert in it (resolving is
    // left to each alert's own page).
    if (alerts.some(function (x) { return x.acknowledge; })) {
      actions.push({ action: 'ack-all', title: 'Acknowledge all ' + alerts.length });
    }
  } else {
    if (a && a.acknowledge) actions.push({ action: 'ack', title: 'Acknowledge' });
    if (a && a.resolve) actions.push({ action: 'resolve', title: 'Resolve' });
  }
  e.waitUntil(self.registration.showNotification(p.title || 'oncall', {
    body: p.body || '',
    tag: a ? 'oncall-alert-' + a.id : 'oncall',
    renotify: true,
    requireInteraction: p.urgency === 'high',
    icon: '/icon.svg',
    data: { url: p.url || '/alerts', alerts: alerts, confirm: p.confirm || null },
    actions: actions
  }));
});
function post(link) {
  return fetch(link, { method: 'POST', credentials: 'omit' });
}
// What a tap on a notification (`data`) or on one of its buttons (`action`)
// does; the click listener waits for it.
function act(d, action) {
  if (d.confirm) {
    // A test page: tapping it is the person's confirmation.
    return post(d.confirm).then(function (r) {
      return self.registration.showNotification(r.ok ? 'Confirmed: push reaches you here' : 'Not confirmed (' + r.status + ')', { tag: 'oncall' });
    }, function () {
      return self.clients.openWindow(d.confirm);
    });
  }
  var alerts = d.alerts || [];
  if (action === 'ack-all') {
    var links = alerts.filter(function (x) { return x.acknowledge; });
    return Promise.all(links.map(function (x) {
      return post(x.acknowledge).then(function (r) { return r.ok; }, function () { return false; });
    })).then(function (oks) {
      var done = oks.filter(Boolean).length;
      return self.registration.showNotification(
        done === links.length ? 'Acknowledged all ' + done : 'Acknowledged ' + done + ' of ' + links.length, {
          body: links.map(function (x, i) { return (oks[i] ? '' : 'Not done: ') + 'Alert ' + x.id + ': ' + x.summary; }).join('\n'),
          tag: 'oncall'
        });
    });
  }
  var a = alerts[0];
  var link = a ? (action === 'ack' ? a.acknowledge : action === 'resolve' ? a.resolve : null) : null;
  if (!link) return self.clients.openWindow(d.url || '/alerts');
  return post(link).then(function (r) {
    var done = action === 'ack' ? 'Acknowledged' : 'Resolved';
    return self.registration.showNotification(r.ok ? done : 'Not done (' + r.status + ')', {
      body: 'Alert ' + a.id + ': ' + a.summary, tag: 'oncall-alert-' + a.id
    });
  }, function () {
    return self.clients.openWindow(link);
  });
}
self.addEventListener('notificationclick', function (e) {
  e.notification.close();
  e.waitUntil(act(e.notification.data || {}, e.action));
});
"#;

/// The web app manifest: installable, opening on the alerts.
pub const MANIFEST: &str = r##"{
  "name": "oncall",
  "short_name": "oncall",
  "description": "Pages, alerts and on-call shifts",
  "start_url": "/alerts",
  "scope": "/",
  "display": "standalone",
  "background_color": "#ffffff",
  "theme_color": "#b00000",
  "icons": [{ "src": "/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any" }]
}
"##;

/// The icon: a bell on red.
pub const ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 96 96\">\
<rect width=\"96\" height=\"96\" rx=\"18\" fill=\"#b00000\"/>\
<path d=\"M48 18c-11 0-19 8-19 20v14l-7 10h52l-7-10V38c0-12-8-20-19-20z\" fill=\"#fff\"/>\
<circle cx=\"48\" cy=\"70\" r=\"7\" fill=\"#fff\"/></svg>";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // Browsers look for a new service worker at each visit anyway;
            // a cached one would outlive an upgrade of the daemon.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        body,
    )
        .into_response()
}

/// `GET /sw.js`.
pub async fn service_worker() -> Response {
    asset("text/javascript; charset=utf-8", SERVICE_WORKER)
}

/// `GET /manifest.webmanifest`.
pub async fn manifest() -> Response {
    asset("application/manifest+json", MANIFEST)
}

/// `GET /icon.svg`.
pub async fn icon() -> Response {
    asset("image/svg+xml", ICON)
}

/// The push part of `/me`: the devices, and the button. `said` is what the
/// last push form did (`?push=` on the page).
pub async fn section(state: &Shared, me: &Me, said: Option<&str>) -> String {
    let mut body = String::from("<h2>Push on my devices</h2>\n");
    let Some(channel) = &state.web.webpush else {
        body.push_str("<p class=\"muted\">Web Push is not set up on this daemon (no [webpush] in oncall.toml).</p>\n");
        return body;
    };
    match said {
        Some("on") => body.push_str("<p role=\"status\">Push is on for this device; a test push was sent to it.</p>\n"),
        Some("test-failed") => body.push_str(
            "<p role=\"status\" class=\"error\">Push is on for this device, but its test push was not delivered: \
             see the daemon's log.</p>\n",
        ),
        Some("removed") => body.push_str("<p role=\"status\">That device gets no more pushes.</p>\n"),
        _ => {}
    }
    match state.store.webpush_subscriptions(Some(me.person.clone())).await {
        Ok(subs) if subs.is_empty() => body.push_str("<p>No device has push turned on.</p>\n"),
        Ok(subs) => {
            body.push_str("<ul>\n");
            for s in &subs {
                let host = reqwest::Url::parse(&s.endpoint)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    .unwrap_or_default();
                let _ = writeln!(
                    body,
                    "<li>Device {} (push service {}, since {}) \
                     <form method=\"post\" action=\"/me/push/{}/remove\">{}<button>Turn off</button></form></li>",
                    s.id,
                    escape(&host),
                    s.created_at.format("%Y-%m-%d %H:%M UTC"),
                    s.id,
                    me.csrf_input()
                );
            }
            body.push_str("</ul>\n");
        }
        Err(e) => {
            let _ = writeln!(
                body,
                "<p class=\"error\">The devices cannot be read now: {}.</p>",
                escape(&e.to_string())
            );
        }
    }
    let _ = writeln!(
        body,
        "<p><button type=\"button\" id=\"push-on\" hidden data-key=\"{}\" data-csrf=\"{}\">Turn on push on this device</button> \
         <span id=\"push-said\" role=\"status\"></span></p>\n<script>{PUSH_SCRIPT}</script>",
        escape(channel.public_key()),
        escape(me.csrf()),
    );
    body
}

/// A subscription as the button posts it (`PushSubscription.toJSON()`).
#[derive(Debug, Deserialize)]
pub struct SubscribeForm {
    endpoint: String,
    p256dh: String,
    auth: String,
}

/// `POST /me/push`: keeps the subscription for the person signed in and
/// sends it a test push; 303 to `/me`, which says how the test went.
/// Refused with 400 and the reason: a subscription that cannot be used.
pub async fn subscribe(State(state): State<Shared>, Posted(me, form): Posted<SubscribeForm>) -> Response {
    let Some(channel) = state.web.webpush.clone() else {
        return layout::error(
            StatusCode::NOT_FOUND,
            Some(&me),
            "No Web Push here",
            "Web Push is not set up on this daemon (no [webpush] in oncall.toml); nothing was changed.",
        );
    };
    if let Err(reason) = check_subscription(&form.endpoint, &form.p256dh, &form.auth, channel.allow_http()) {
        return layout::error(
            StatusCode::BAD_REQUEST,
            Some(&me),
            "That subscription cannot be used",
            &format!("{reason}; nothing was changed."),
        );
    }
    let new = NewWebPush {
        person: me.person.clone(),
        endpoint: form.endpoint,
        p256dh: form.p256dh,
        auth: form.auth,
    };
    let sub = match state.store.add_webpush(new, state.clock.now()).await {
        Ok(sub) => sub,
        Err(e) => {
            return layout::error(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(&me),
                "Push was not turned on",
                &format!("The database cannot be written now: {e}. Nothing was changed."),
            );
        }
    };
    tracing::info!(person = %me.person, subscription = sub.id, "Web Push turned on for a device");
    match channel.send_test(&sub, &me.name).await {
        Ok(receipt) => {
            tracing::info!(person = %me.person, subscription = sub.id, reference = ?receipt.reference, "Web Push test push delivered");
            layout::see_other("/me?push=on")
        }
        Err(e) => {
            tracing::warn!(person = %me.person, subscription = sub.id, error = %e, "Web Push test push not delivered");
            layout::see_other("/me?push=test-failed")
        }
    }
}

/// The form that turns a device off carries only the CSRF field.
#[derive(Debug, Deserialize)]
pub struct NoFields {}

/// `POST /me/push/{id}/remove`: one of my devices gets no more pushes. 404
/// for one that is not mine (or gone already).
pub async fn unsubscribe(
    State(state): State<Shared>,
    Path(id): Path<i64>,
    Posted(me, _): Posted<NoFields>,
) -> Response {
    match state.store.remove_webpush(id, Some(me.person.clone())).await {
        Ok(true) => {
            tracing::info!(person = %me.person, subscription = id, "Web Push turned off for a device");
            layout::see_other("/me?push=removed")
        }
        Ok(false) => layout::error(
            StatusCode::NOT_FOUND,
            Some(&me),
            "No such device",
            "You have no device with push on by that number; nothing was changed.",
        ),
        Err(e) => layout::error(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(&me),
            "Push was not turned off",
            &format!("The database cannot be written now: {e}. Nothing was changed."),
        ),
    }
}
