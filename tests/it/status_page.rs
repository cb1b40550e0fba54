//! The old status page's address in a real browser (Debian's Chromium,
//! headless, installed by scripts/test): `/status` now leads into the web
//! interface (issue 19). A person's status link ends on their sign-in page
//! with the same token (a button, nothing acted), a wrong one on the
//! sign-in page's refusal, no link on the sign-in page; nothing of the
//! alerts shows on the way.

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
async fn the_status_link_leads_a_browser_to_the_persons_sign_in_page() {
    let app = TestApp::spawn().await; // 2026-06-01T12:00Z
    let (code, body) = app
        .post(
            "/v1/alerts",
            KEY,
            json!({"summary": "Disk full on db-1", "severity": "critical", "dedup_key": "disk"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["alert_id"].as_i64().unwrap();
    let (code, link) = app.api_get("/v1/calendar?person=alice").await;
    assert_eq!(code, 200);
    let status_url = link["status_url"].as_str().unwrap();
    let token = status_url.split("token=").nth(1).unwrap().to_string();
    let status = format!("{}{status_url}", app.base);

    // As served: 303 to the sign-in page with the same person and token.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = plain.get(&status).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("/signin?person=alice&token={token}")
    );

    // Chromium follows it to the button that signs alice in; nothing acted.
    let page = dom(&status).await;
    assert!(page.contains("Sign in as Alice"), "{page}");
    assert_eq!(form_actions(&page), ["/signin"], "{page}");
    assert!(page.contains(&format!("value=\"{token}\"")), "{page}");
    assert!(!page.contains("Disk full"), "{page}");
    let (_, detail) = app.api_get(&format!("/v1/alerts/{id}")).await;
    assert_eq!(detail["alert"]["status"], "open");

    // A wrong link ends on the sign-in page's refusal; none, on signing in.
    let page = dom(&format!("{}/status?person=alice&token=wrong", app.base)).await;
    assert!(page.contains("This sign-in link is not valid"), "{page}");
    assert!(!page.contains("Sign in as"), "{page}");
    let r = plain.get(format!("{}/status", app.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"].to_str().unwrap(), "/alerts");
    let page = dom(&format!("{}/status", app.base)).await;
    assert!(form_actions(&page).contains(&"/signin/email".to_string()), "{page}");
    assert!(!page.contains("Disk full"), "{page}");
    app.stop().await;

    // Made public (the old read-only page): into the interface too, which
    // needs a session.
    let dir = temp_dir("status-public");
    write_schedules(&dir);
    let mut s = settings(&dir);
    s.status_page_public = true;
    let app = TestApp::spawn_with(dir, s, "2026-06-01T12:00:00Z").await;
    let r = plain
        .get(format!("{}/status?rota=platform/primary&month=2026-07", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"].to_str().unwrap(), "/alerts");
    app.stop().await;
}
