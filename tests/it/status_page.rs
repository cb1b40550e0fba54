//! The status page in a real browser (Debian's Chromium, headless, installed
//! by scripts/test): with a person's status link it shows who is on call
//! now and next, the alerts not resolved with buttons that act as that
//! person, their shifts and a month of a rota; text from alerts is escaped;
//! without a valid link it shows nothing, unless the operator made it public
//! (then without buttons).

use std::process::Command;

use serde_json::json;

use crate::daemon::{KEY, TestApp, settings, temp_dir, write_schedules};

fn chromium() -> &'static str {
    let path = "/usr/bin/chromium";
    assert!(
        std::path::Path::new(path).is_file(),
        "{path} is missing: run scripts/test, which installs Debian's chromium"
    );
    path
}

/// The page as the browser built it (its DOM, serialised).
async fn dom(url: &str) -> String {
    let url = url.to_string();
    let dir = temp_dir("chromium");
    tokio::task::spawn_blocking(move || {
        let o = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-dev-shm-usage",
            ])
            .arg(format!("--user-data-dir={}", dir.display()))
            .arg("--dump-dom")
            .arg(&url)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let _ = std::fs::remove_dir_all(&dir);
        String::from_utf8(o.stdout).unwrap()
    })
    .await
    .unwrap()
}

/// The `action` of every form in `html`, in order.
fn form_actions(html: &str) -> Vec<String> {
    html.split("<form ")
        .skip(1)
        .filter_map(|f| f.split("action=\"").nth(1))
        .map(|a| a.split('"').next().unwrap().replace("&amp;", "&"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_page_shows_the_rotas_and_acts_as_the_person_whose_link_it_is() {
    let app = TestApp::spawn().await; // 2026-06-01T12:00Z
    for (key, summary) in [("disk", "Disk full on db-1"), ("xss", "<script>alert(1)</script> & co")] {
        let (code, body) = app
            .post(
                "/v1/alerts",
                KEY,
                json!({"summary": summary, "severity": "critical", "dedup_key": key}),
            )
            .await;
        assert_eq!(code, 202, "{body}");
    }
    let (code, link) = app.api_get("/v1/calendar?person=alice").await;
    assert_eq!(code, 200);
    let status = format!("{}{}", app.base, link["status_url"].as_str().unwrap());

    let page = dom(&status).await;
    for shown in [
        "On call now",
        "<td>payments primary</td>",
        "Alerts not resolved (2)",
        "Disk full on db-1",
        "Your shifts, the next 14 days",
        "payments primary in 2026-06 (Europe/London)",
        "for Alice (alice)",
    ] {
        assert!(page.contains(shown), "{shown} not in:\n{page}");
    }
    // Text from an alert is text: no script element came of it.
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"),
        "{page}"
    );
    // Two open alerts: Acknowledge and Resolve each.
    let actions = form_actions(&page);
    assert_eq!(actions.len(), 4, "{page}");
    assert!(actions.iter().all(|a| a.starts_with("/v1/act/")), "{actions:?}");

    // The first button acknowledges the newest alert, as alice.
    let r = app
        .client
        .post(format!("{}{}", app.base, actions[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let said = r.text().await.unwrap();
    assert!(said.contains("Acknowledged by alice"), "{said}");
    let page = dom(&status).await;
    assert!(page.contains("acknowledged by alice"), "{page}");
    assert_eq!(
        form_actions(&page).len(),
        3,
        "the acknowledged alert keeps only Resolve"
    );

    // No link, a wrong one: nothing shown.
    for url in [
        format!("{}/status", app.base),
        format!("{}/status?person=alice&token=wrong", app.base),
    ] {
        let r = app.client.get(&url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 403, "{url}");
        assert!(!r.text().await.unwrap().contains("Disk full"));
    }
    app.stop().await;

    // Public, read-only: the page without buttons.
    let dir = temp_dir("status-public");
    write_schedules(&dir);
    let mut s = settings(&dir);
    s.status_page_public = true;
    let app = TestApp::spawn_with(dir, s, "2026-06-01T12:00:00Z").await;
    app.post(
        "/v1/alerts",
        KEY,
        json!({"summary": "Disk full on db-1", "severity": "critical"}),
    )
    .await;
    let page = dom(&format!("{}/status?rota=platform/primary&month=2026-07", app.base)).await;
    assert!(
        page.contains("anyone (read-only)") && page.contains("Disk full on db-1"),
        "{page}"
    );
    assert!(
        page.contains("platform primary in 2026-07 (America/New_York)"),
        "{page}"
    );
    assert!(form_actions(&page).is_empty(), "{page}");
    app.stop().await;
}

/// Issue 16 (docs/security.md): the status page's buttons are forms posting
/// to action links that act once and expire an hour after the page was
/// made. (The page as served, no browser needed.)
#[tokio::test(flavor = "multi_thread")]
async fn issue16_status_page_buttons_act_once_and_only_within_the_hour() {
    let app = TestApp::spawn().await;
    let (code, body) = app
        .post(
            "/v1/alerts",
            KEY,
            json!({"summary": "Disk full on db-1", "severity": "critical"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["alert_id"].as_i64().unwrap();
    let (_, link) = app.api_get("/v1/calendar?person=alice").await;
    let status = &format!("{}{}", app.base, link["status_url"].as_str().unwrap());
    let a = &app;
    let page = move || async move {
        let r = a.client.get(status).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        form_actions(&r.text().await.unwrap())
    };
    let post = move |action: String| async move {
        let r = a.client.post(format!("{}{action}", a.base)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    let alert_status = move || async move {
        let (_, detail) = a.api_get(&format!("/v1/alerts/{id}")).await;
        detail["alert"]["status"].as_str().unwrap().to_string()
    };

    // Acknowledge and Resolve, made now: an hour later they have expired.
    let old = page().await;
    assert_eq!(old.len(), 2, "{old:?}");
    app.clock.advance(chrono::Duration::hours(1));
    for action in &old {
        let (code, said) = post(action.clone()).await;
        assert_eq!(code, 410, "{said}");
        assert!(said.contains("This link has expired"), "{said}");
    }
    assert_eq!(alert_status().await, "open");

    // The page made now: its Acknowledge acts, once.
    let fresh = page().await;
    app.clock
        .advance(chrono::Duration::hours(1) - chrono::Duration::seconds(1));
    assert_eq!(post(fresh[0].clone()).await.0, 200);
    assert_eq!(alert_status().await, "acknowledged");
    let (code, said) = post(fresh[0].clone()).await;
    assert_eq!(code, 410, "{said}");
    assert!(said.contains("This link was used already"), "{said}");
    app.stop().await;
}
