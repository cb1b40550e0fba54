//! The words of every message: one place that turns a [`Notice`] into the
//! text of each medium (an email's subject, plain-text and HTML bodies; an
//! SMS; a push title and message; a webhook's one line; what a phone call
//! says). Channels only carry
//! what this module writes, so a page reads the same wherever it arrives.
//!
//! Everything here is a pure function of the notice. Text from alerts is
//! untrusted: it is folded onto one line wherever a line is expected
//! (subjects, SMS, push titles, which become HTTP headers) and escaped in
//! HTML. Times are RFC 3339 in UTC, like everything else the daemon prints.
//! A drill says `[DRILL]` in every rendering. An SMS is one GSM-7 segment,
//! counted in septets as [`super::gsm`] does, its text transliterated into
//! that alphabet first (see [`sms`]).

use chrono::SecondsFormat;

use super::{Notice, PagedAlert, What, gsm};
use crate::domain::time::Instant;
use crate::html::escape;

/// One SMS segment of GSM-7 text, in septets (`[`, `]` and the rest of the
/// extension table take two). Longer texts are split by the network and
/// may arrive out of order, so [`sms`] stays within it.
pub const SMS_MAX_SEPTETS: usize = gsm::SEGMENT_SEPTETS;

/// Less room than this (in septets) for a bundle's summaries in an SMS, and
/// it lists none (half a word helps nobody).
const SMS_MIN_SUMMARIES_SEPTETS: usize = 20;

/// How many alerts of a bundle a push message lists one by one.
const PUSH_MAX_LISTED: usize = 10;

const DRILL: &str = "[DRILL]";
const SHADOW: &str = "[SHADOW]";
const DRILL_SENTENCE: &str =
    "This is a drill: a practice page, nothing is broken. Acknowledge it as you would a real one.";

/// An email's parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A push notification's parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Push {
    pub title: String,
    pub message: String,
}

/// An instant as everything the daemon prints it: `2026-03-04T09:00:00Z`.
pub fn time(t: Instant) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The subject line: `[critical] payments: Disk full on db-1 (alert 42)`,
/// `[critical] 12 new alerts for payments`, `Your shift on payments/primary
/// starts at ...`; `[DRILL] ` in front of a drill.
pub fn subject(notice: &Notice) -> String {
    match &notice.what {
        What::Page { alerts } => match alerts.as_slice() {
            [] => "[oncall] a page without alerts".to_string(),
            [a] => format!(
                "{}[{}] {}: {} (alert {})",
                drill_prefix(alerts),
                one_line(&a.severity),
                one_line(&a.team),
                one_line(&a.summary),
                a.id
            ),
            many => bundle_headline(many),
        },
        What::Announce(a) => announcement(a),
        What::Handoff {
            team,
            rota,
            start,
            ahead,
            ..
        } => handoff_headline(team, rota, *start, *ahead),
        What::Test(_) => format!("{TEST_HEADLINE} for {}", one_line(&notice.name)),
    }
}

/// What every test page says first: it is a test, not an alert.
pub const TEST_HEADLINE: &str = "[TEST] oncall test page, not an alert,";

/// What a test call says, then asks.
pub const TEST_SPOKEN: &str = "This is a test page from on call. It is not an alert, and nothing is wrong.";
pub const TEST_SPOKEN_MENU: &str = "Press 1 to confirm that calls reach you.";

/// What a test page asks of its reader.
pub const TEST_SENTENCE: &str = "Nothing is wrong. This checks that pages reach you by this method: confirm it so that oncall counts the method as proven.";

/// An announcement's one line, the same shape for every event so that it
/// reads at a glance: `[critical] payments alert 42 OPENED: Disk full on
/// db-1 | lead: nobody yet`, `... ACKNOWLEDGED: ... | lead: alice`,
/// `... RESOLVED: ... | lead: alice`.
pub fn announcement(a: &super::Announcement) -> String {
    format!(
        "{}[{}] {} alert {} {}: {} | lead: {}",
        if a.drill { "[DRILL] " } else { "" },
        one_line(&a.severity),
        one_line(&a.team),
        a.alert,
        one_line(&a.event).to_uppercase(),
        one_line(&a.summary),
        a.lead.as_deref().map(one_line).unwrap_or_else(|| NO_LEAD.to_string())
    )
}

/// What every rendering says of an alert nobody has acknowledged.
pub const NO_LEAD: &str = "nobody yet";

/// One readable line for chat (the `text` of an outgoing webhook): the
/// subject, and for a single alert the link to acknowledge it.
pub fn line(notice: &Notice) -> String {
    let mut line = subject(notice);
    if let What::Page { alerts } = &notice.what
        && let [a] = alerts.as_slice()
        && let Some(url) = &a.ack_url
    {
        line.push_str(" - acknowledge: ");
        line.push_str(&one_line(url));
    }
    if let What::Test(t) = &notice.what
        && let Some(url) = &t.confirm_url
    {
        line.push_str(" - confirm: ");
        line.push_str(&one_line(url));
    }
    line
}

/// The email: subject, plain text and HTML with the same content.
pub fn email(notice: &Notice) -> Email {
    let subject = subject(notice);
    let (text, html_body) = match &notice.what {
        What::Page { alerts } => page_bodies(alerts),
        What::Announce(a) => {
            let line = announcement(a);
            (format!("{line}\n"), format!("<p>{}</p>\n", escape(&line)))
        }
        What::Handoff {
            team,
            rota,
            start,
            end,
            ahead,
        } => handoff_bodies(team, rota, *start, *end, *ahead),
        What::Test(t) => match &t.confirm_url {
            Some(url) => (
                format!("{TEST_SENTENCE}\n\nConfirm: {url}\n"),
                format!(
                    "<p>{}</p>\n<p><a href=\"{}\">Confirm that this reached me</a></p>\n",
                    escape(TEST_SENTENCE),
                    escape(url)
                ),
            ),
            None => (
                format!("{TEST_SENTENCE}\n"),
                format!("<p>{}</p>\n", escape(TEST_SENTENCE)),
            ),
        },
    };
    let footer = format!(
        "Sent by oncall to {} ({}), notice {}.",
        one_line(&notice.name),
        one_line(&notice.person),
        notice.id
    );
    let text = format!("{}\n\n-- \n{footer}\n", text.trim_end());
    let html = format!(
        "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family: sans-serif\">\n{html_body}<hr>\n<p><small>{}</small></p>\n</body>\n</html>\n",
        escape(&subject),
        escape(&footer)
    );
    Email { subject, text, html }
}

/// The SMS: one GSM-7 segment (at most [`SMS_MAX_SEPTETS`] septets), a page
/// always ending with what to reply: `[critical] payments: Disk full on
/// db-1. Reply ACK 42`. A bundle ends with as many of its alerts' codes as
/// fit. The text from outside is transliterated into the GSM 7-bit alphabet
/// ([`gsm::transliterate`]): one em dash would otherwise make the whole
/// message UCS-2, 70 characters a segment. What is too long is the summary
/// (then the team's name), cut with `...`; never the reply code.
pub fn sms(notice: &Notice) -> String {
    match &notice.what {
        What::Page { alerts } => match alerts.as_slice() {
            [] => fit(&gsm_line(&subject(notice)), SMS_MAX_SEPTETS),
            [a] => {
                let head = format!(
                    "{}[{}] {}: {}",
                    drill_prefix(alerts),
                    gsm_line(&a.severity),
                    gsm_line(&a.team),
                    gsm_line(&a.summary)
                );
                match &a.shadow_of {
                    // A copy to learn from: the person shadowed answers.
                    Some(of) => with_tail(
                        &head,
                        &format!(" (copy: you shadow {})", fit(&gsm_line(of), SMS_MAX_SEPTETS / 4)),
                    ),
                    None => with_tail(&head, &format!(" Reply {}", gsm_line(&a.reply_ack))),
                }
            }
            many => {
                let headline = gsm_line(&bundle_headline(many));
                let codes: Vec<String> = many.iter().map(|a| gsm_line(&a.reply_ack)).collect();
                // As many codes as leave the headline whole.
                let mut tail = format!(" Reply {}", codes[0]);
                for k in 2..=codes.len() {
                    let longer = format!(" Reply {}", codes[..k].join(", "));
                    if septets(&headline) + 1 + septets(&longer) > SMS_MAX_SEPTETS {
                        break;
                    }
                    tail = longer;
                }
                // The summaries where there is room for more than a word.
                let room = SMS_MAX_SEPTETS.saturating_sub(septets(&tail));
                let head = if room >= septets(&headline) + 2 + SMS_MIN_SUMMARIES_SEPTETS {
                    let summaries: Vec<String> = many.iter().map(|a| gsm_line(&a.summary)).collect();
                    format!("{headline}: {}", summaries.join("; "))
                } else {
                    headline
                };
                with_tail(&head, &tail)
            }
        },
        What::Announce(a) => fit(&gsm_line(&announcement(a)), SMS_MAX_SEPTETS),
        What::Handoff {
            team,
            rota,
            start,
            end,
            ahead,
        } => {
            let mut text = format!("{}.", gsm_line(&handoff_headline(team, rota, *start, *ahead)));
            if let Some(end) = end {
                let longer = format!("{text} It ends at {}.", time(*end));
                if septets(&longer) <= SMS_MAX_SEPTETS {
                    text = longer;
                }
            }
            fit(&text, SMS_MAX_SEPTETS)
        }
        What::Test(t) => {
            let linked = t.confirm_url.as_deref().map(|url| {
                format!(
                    "oncall TEST page, not an alert. Confirm: {} or reply YES",
                    gsm_line(url)
                )
            });
            match linked {
                // The link where it fits in one segment (a public URL of
                // up to about 60 characters); else the reply alone.
                Some(text) if septets(&text) <= SMS_MAX_SEPTETS => text,
                _ => "oncall TEST page, not an alert. Reply YES to confirm it reached you.".to_string(),
            }
        }
    }
}

/// The push notification: the subject as title, a few short lines as message.
pub fn push(notice: &Notice) -> Push {
    let title = subject(notice);
    let mut lines = Vec::new();
    match &notice.what {
        What::Page { alerts } => {
            if alerts.iter().any(|a| a.drill) {
                lines.push(format!("{DRILL} {DRILL_SENTENCE}"));
            }
            if let Some(of) = alerts.iter().find_map(|a| a.shadow_of.as_deref()) {
                lines.push(shadow_sentence(of));
            }
            match alerts.as_slice() {
                [] => {}
                [a] => {
                    lines.push(one_line(&a.summary));
                    lines.push(match a.shadow_of {
                        Some(_) => format!("Since {}, {}.", time(a.since), occurrences(a.occurrences)),
                        None => format!(
                            "Since {}, {}. SMS reply: {}.",
                            time(a.since),
                            occurrences(a.occurrences),
                            one_line(&a.reply_ack)
                        ),
                    });
                }
                many => {
                    for a in many.iter().take(PUSH_MAX_LISTED) {
                        lines.push(format!(
                            "- {} ({}, alert {})",
                            one_line(&a.summary),
                            one_line(&a.severity),
                            a.id
                        ));
                    }
                    if many.len() > PUSH_MAX_LISTED {
                        lines.push(format!("and {} more", many.len() - PUSH_MAX_LISTED));
                    }
                }
            }
        }
        What::Announce(a) => lines.push(announcement(a)),
        What::Handoff { start, end, .. } => lines.push(match end {
            Some(end) => format!("From {} until {}.", time(*start), time(*end)),
            None => format!("From {}.", time(*start)),
        }),
        What::Test(_) => lines.push(format!("{TEST_SENTENCE} Tap Confirm.")),
    }
    Push {
        title,
        message: lines.join("\n"),
    }
}

/// One alert as a phone call reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spoken {
    pub id: crate::domain::alert::AlertId,
    pub team: String,
    pub severity: String,
    pub summary: String,
    pub drill: bool,
    /// A shadow copy: whom the listener shadows.
    pub shadow_of: Option<String>,
    /// The others paged with the listener.
    pub also_paged: Vec<String>,
}

impl From<&PagedAlert> for Spoken {
    fn from(a: &PagedAlert) -> Spoken {
        Spoken {
            id: a.id,
            team: a.team.clone(),
            severity: a.severity.clone(),
            summary: a.summary.clone(),
            drill: a.drill,
            shadow_of: a.shadow_of.clone(),
            also_paged: a.also_paged.clone(),
        }
    }
}

/// The keys a phone call offers after reading its alerts.
pub const VOICE_MENU: &str = "Press 1 to acknowledge, 2 to escalate now, 3 to repeat.";

/// What a phone call says about its alerts, once (the call reads it twice):
/// team, severity, summary and number of each, and who else was paged,
/// plain words for a speech engine.
pub fn voice(alerts: &[Spoken]) -> String {
    let mut out = String::from("This is oncall.");
    if alerts.iter().any(|a| a.drill) {
        out.push_str(" This is a drill: a practice page, nothing is broken.");
    }
    if let Some(of) = alerts.iter().find_map(|a| a.shadow_of.as_deref()) {
        out.push_str(&format!(
            " Shadow copy: you are shadowing {}, who is paged. Nothing to do unless they ask you.",
            one_line(of)
        ));
    }
    if alerts.len() > 1 {
        out.push_str(&format!(" {} alerts.", alerts.len()));
    }
    for a in alerts {
        out.push_str(&format!(
            " {} alert for team {}: {}. Alert {}.",
            capitalised(&one_line(&a.severity)),
            one_line(&a.team),
            one_line(&a.summary).trim_end_matches('.'),
            a.id
        ));
        if !a.also_paged.is_empty() {
            let names: Vec<String> = a.also_paged.iter().map(|n| one_line(n)).collect();
            out.push_str(&format!(" Also paged: {}.", names.join(", ")));
        }
    }
    out
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Text from outside folded onto one line: control characters (newlines
/// included) become spaces, runs of white space one space, trimmed.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// `[DRILL] ` for a drill, `[SHADOW] ` for a shadow copy (both, in that
/// order, for a shadow copy of a drill).
fn drill_prefix(alerts: &[PagedAlert]) -> &'static str {
    let drill = alerts.iter().any(|a| a.drill);
    let shadow = !alerts.is_empty() && alerts.iter().all(|a| a.shadow_of.is_some());
    match (drill, shadow) {
        (true, true) => "[DRILL] [SHADOW] ",
        (true, false) => "[DRILL] ",
        (false, true) => "[SHADOW] ",
        (false, false) => "",
    }
}

/// The sentence a shadow copy starts with.
fn shadow_sentence(of: &str) -> String {
    format!(
        "Shadow copy: you are shadowing {}, who is on call and paged for this alert. Nothing to do unless they ask you.",
        one_line(of)
    )
}

/// `[critical] 12 new alerts for payments`. Severities and teams are listed
/// as they first appear (the engine orders a bundle); several of either are
/// joined with `/` and `, `.
fn bundle_headline(alerts: &[PagedAlert]) -> String {
    let severities = distinct(alerts.iter().map(|a| one_line(&a.severity)));
    let teams = distinct(alerts.iter().map(|a| one_line(&a.team)));
    format!(
        "{}[{}] {} new alerts for {}",
        drill_prefix(alerts),
        severities.join("/"),
        alerts.len(),
        teams.join(", ")
    )
}

fn handoff_headline(team: &str, rota: &str, start: Instant, ahead: bool) -> String {
    format!(
        "Your shift on {}/{} starts {}at {}",
        one_line(team),
        one_line(rota),
        if ahead { "tomorrow " } else { "" },
        time(start)
    )
}

fn distinct(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn occurrences(n: u64) -> String {
    if n == 1 {
        "1 occurrence".to_string()
    } else {
        format!("{n} occurrences")
    }
}

/// The plain-text and HTML bodies of a page.
fn page_bodies(alerts: &[PagedAlert]) -> (String, String) {
    let mut text = String::new();
    let mut html = String::new();
    if alerts.iter().any(|a| a.drill) {
        text.push_str(&format!("{DRILL} {DRILL_SENTENCE}\n\n"));
        html.push_str(&format!(
            "<p style=\"background: #fff3cd; padding: 0.5em\"><strong>{DRILL}</strong> {}</p>\n",
            escape(DRILL_SENTENCE)
        ));
    }
    if let Some(of) = alerts.iter().find_map(|a| a.shadow_of.as_deref()) {
        let sentence = shadow_sentence(of);
        text.push_str(&format!("{SHADOW} {sentence}\n\n"));
        html.push_str(&format!(
            "<p style=\"background: #e7f1ff; padding: 0.5em\"><strong>{SHADOW}</strong> {}</p>\n",
            escape(&sentence)
        ));
    }
    if alerts.len() > 1 {
        let headline = bundle_headline(alerts);
        let headline = headline.trim_start_matches("[DRILL] ").trim_start_matches("[SHADOW] ");
        text.push_str(&format!("{headline}\n\n"));
        html.push_str(&format!("<h2>{}</h2>\n", escape(headline)));
    }
    for (i, a) in alerts.iter().enumerate() {
        let summary = one_line(&a.summary);
        let numbered = if alerts.len() > 1 {
            format!("{}. {summary}", i + 1)
        } else {
            summary
        };
        let mut rows = vec![
            ("Alert", a.id.to_string()),
            ("Severity", one_line(&a.severity)),
            ("Team", one_line(&a.team)),
            ("Since", time(a.since)),
            ("Occurrences", a.occurrences.to_string()),
            (
                "Lead",
                a.lead
                    .as_deref()
                    .map(one_line)
                    .unwrap_or_else(|| format!("{NO_LEAD} (not acknowledged)")),
            ),
        ];
        if let Some(of) = &a.shadow_of {
            rows.push(("Shadowing", one_line(of)));
        }
        if a.drill && alerts.len() > 1 {
            rows.insert(0, ("Drill", "yes, a practice page".to_string()));
        }
        let replies = format!(
            "{} to acknowledge, {} to resolve",
            one_line(&a.reply_ack),
            one_line(&a.reply_resolve)
        );

        text.push_str(&numbered);
        text.push_str("\n\n");
        for (name, value) in &rows {
            text.push_str(&format!("  {name:<13}{value}\n"));
        }
        text.push('\n');
        for (name, url) in [("Acknowledge", &a.ack_url), ("Resolve", &a.resolve_url)] {
            if let Some(url) = url {
                text.push_str(&format!("  {name:<13}{}\n", one_line(url)));
            }
        }
        // A shadow copy is to learn from: no way to act on it.
        if a.shadow_of.is_none() {
            text.push_str(&format!("  {:<13}{replies}\n", "SMS reply"));
        }
        text.push('\n');

        html.push_str(&format!("<h3>{}</h3>\n<table cellpadding=\"2\">\n", escape(&numbered)));
        for (name, value) in &rows {
            html.push_str(&format!(
                "<tr><th align=\"left\">{name}</th><td>{}</td></tr>\n",
                escape(value)
            ));
        }
        html.push_str("</table>\n");
        let links: Vec<String> = [("Acknowledge", &a.ack_url), ("Resolve", &a.resolve_url)]
            .into_iter()
            .filter_map(|(name, url)| url.as_deref().map(|url| link(name, url)))
            .collect();
        if !links.is_empty() {
            html.push_str(&format!("<p>{}</p>\n", links.join(" &middot; ")));
        }
        if a.shadow_of.is_none() {
            html.push_str(&format!(
                "<p>SMS reply: <code>{}</code> to acknowledge, <code>{}</code> to resolve</p>\n",
                escape(&one_line(&a.reply_ack)),
                escape(&one_line(&a.reply_resolve))
            ));
        }
    }
    (text, html)
}

/// A link, or only its text when it is not a web address (an alert cannot
/// smuggle a `javascript:` link into a page through a misconfiguration).
fn link(name: &str, url: &str) -> String {
    let url = one_line(url);
    if url.starts_with("https://") || url.starts_with("http://") {
        format!("<a href=\"{}\">{name}</a>", escape(&url))
    } else {
        format!("{name}: {}", escape(&url))
    }
}

fn handoff_bodies(team: &str, rota: &str, start: Instant, end: Option<Instant>, ahead: bool) -> (String, String) {
    let headline = format!("{}.", handoff_headline(team, rota, start, ahead));
    let rows = [
        ("Team", one_line(team)),
        ("Rota", one_line(rota)),
        ("Starts", time(start)),
        ("Ends", end.map_or_else(|| "not planned yet".to_string(), time)),
    ];
    let mut text = format!("{headline}\n\n");
    let mut html = format!("<p>{}</p>\n<table cellpadding=\"2\">\n", escape(&headline));
    for (name, value) in &rows {
        text.push_str(&format!("  {name:<8}{value}\n"));
        html.push_str(&format!(
            "<tr><th align=\"left\">{name}</th><td>{}</td></tr>\n",
            escape(value)
        ));
    }
    text.push('\n');
    html.push_str("</table>\n");
    (text, html)
}

/// Text from outside as SMS text: in the GSM 7-bit alphabet, on one line
/// (transliteration may leave two spaces where it dropped an invisible
/// character between them, so the line is folded after it).
fn gsm_line(s: &str) -> String {
    one_line(&gsm::transliterate(&one_line(s)))
}

/// The septets of a text already in the GSM 7-bit alphabet.
fn septets(s: &str) -> usize {
    s.chars().map(|c| gsm::septets(c).unwrap_or(1)).sum()
}

/// GSM-7 text `s` cut to at most `max` septets, ending in `...` when cut
/// (never in half an escape pair: a character is kept whole or not at all).
fn fit(s: &str, max: usize) -> String {
    if septets(s) <= max {
        return s.to_string();
    }
    let keep = max.saturating_sub(3);
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cost = gsm::septets(c).unwrap_or(1);
        if used + cost > keep {
            break;
        }
        used += cost;
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out.push_str("...");
    out
}

/// `head` and then `tail` whole, within [`SMS_MAX_SEPTETS`]: `head.` when it
/// fits, else `head` cut short with `...`.
fn with_tail(head: &str, tail: &str) -> String {
    let room = SMS_MAX_SEPTETS.saturating_sub(septets(tail));
    let whole = format!("{head}.");
    let body = if septets(&whole) <= room {
        whole
    } else {
        fit(head, room)
    };
    format!("{body}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::{Method, Urgency};
    use chrono::TimeZone;
    use expect_test::{Expect, expect};

    fn at(h: u32, m: u32) -> Instant {
        chrono::Utc.with_ymd_and_hms(2026, 3, 4, h, m, 0).unwrap()
    }

    fn alert(id: i64, summary: &str) -> PagedAlert {
        PagedAlert {
            also_paged: Vec::new(),
            id,
            team: "payments".into(),
            summary: summary.into(),
            severity: "critical".into(),
            since: at(8, 55),
            occurrences: 3,
            drill: false,
            ack_url: Some(format!("https://oncall.example.com/a/{id}/ack?sig=abc")),
            resolve_url: Some(format!("https://oncall.example.com/a/{id}/resolve?sig=def")),
            reply_ack: format!("ACK {id}"),
            reply_resolve: format!("RES {id}"),
            shadow_of: None,
            lead: None,
        }
    }

    fn notice(what: What) -> Notice {
        Notice {
            id: 7,
            method: Method::Email,
            to: "alice@example.com".into(),
            person: "alice".into(),
            name: "Alice Example".into(),
            urgency: Urgency::High,
            what,
        }
    }

    fn page(alerts: Vec<PagedAlert>) -> Notice {
        notice(What::Page { alerts })
    }

    /// Every rendering of a notice, one after the other.
    fn check(notice: Notice, expected: Expect) {
        let email = email(&notice);
        let push = push(&notice);
        let sms = sms(&notice);
        assert_eq!(gsm::length(&sms).segments, 1, "{sms}");
        let actual = format!(
            "subject: {}\nline: {}\nsms ({} septets): {sms}\npush title: {}\npush message:\n{}\n--- text\n{}--- html\n{}",
            email.subject,
            line(&notice),
            septets(&sms),
            push.title,
            push.message,
            email.text,
            email.html
        );
        expected.assert_eq(&actual);
    }

    #[test]
    fn one_alert() {
        check(
            page(vec![alert(42, "Disk full on db-1")]),
            expect![[r#"
                subject: [critical] payments: Disk full on db-1 (alert 42)
                line: [critical] payments: Disk full on db-1 (alert 42) - acknowledge: https://oncall.example.com/a/42/ack?sig=abc
                sms (54 septets): [critical] payments: Disk full on db-1. Reply ACK 42
                push title: [critical] payments: Disk full on db-1 (alert 42)
                push message:
                Disk full on db-1
                Since 2026-03-04T08:55:00Z, 3 occurrences. SMS reply: ACK 42.
                --- text
                Disk full on db-1

                  Alert        42
                  Severity     critical
                  Team         payments
                  Since        2026-03-04T08:55:00Z
                  Occurrences  3
                  Lead         nobody yet (not acknowledged)

                  Acknowledge  https://oncall.example.com/a/42/ack?sig=abc
                  Resolve      https://oncall.example.com/a/42/resolve?sig=def
                  SMS reply    ACK 42 to acknowledge, RES 42 to resolve

                -- 
                Sent by oncall to Alice Example (alice), notice 7.
                --- html
                <!DOCTYPE html>
                <html>
                <head><meta charset="utf-8"><title>[critical] payments: Disk full on db-1 (alert 42)</title></head>
                <body style="font-family: sans-serif">
                <h3>Disk full on db-1</h3>
                <table cellpadding="2">
                <tr><th align="left">Alert</th><td>42</td></tr>
                <tr><th align="left">Severity</th><td>critical</td></tr>
                <tr><th align="left">Team</th><td>payments</td></tr>
                <tr><th align="left">Since</th><td>2026-03-04T08:55:00Z</td></tr>
                <tr><th align="left">Occurrences</th><td>3</td></tr>
                <tr><th align="left">Lead</th><td>nobody yet (not acknowledged)</td></tr>
                </table>
                <p><a href="https://oncall.example.com/a/42/ack?sig=abc">Acknowledge</a> &middot; <a href="https://oncall.example.com/a/42/resolve?sig=def">Resolve</a></p>
                <p>SMS reply: <code>ACK 42</code> to acknowledge, <code>RES 42</code> to resolve</p>
                <hr>
                <p><small>Sent by oncall to Alice Example (alice), notice 7.</small></p>
                </body>
                </html>
            "#]],
        );
    }

    #[test]
    fn a_shadow_copy_says_so_everywhere_and_carries_no_links() {
        let mut a = alert(42, "Disk full on db-1");
        a.shadow_of = Some("alice".into());
        a.ack_url = None;
        a.resolve_url = None;
        check(
            page(vec![a]),
            expect![[r#"
                subject: [SHADOW] [critical] payments: Disk full on db-1 (alert 42)
                line: [SHADOW] [critical] payments: Disk full on db-1 (alert 42)
                sms (77 septets): [SHADOW] [critical] payments: Disk full on db-1. (copy: you shadow alice)
                push title: [SHADOW] [critical] payments: Disk full on db-1 (alert 42)
                push message:
                Shadow copy: you are shadowing alice, who is on call and paged for this alert. Nothing to do unless they ask you.
                Disk full on db-1
                Since 2026-03-04T08:55:00Z, 3 occurrences.
                --- text
                [SHADOW] Shadow copy: you are shadowing alice, who is on call and paged for this alert. Nothing to do unless they ask you.

                Disk full on db-1

                  Alert        42
                  Severity     critical
                  Team         payments
                  Since        2026-03-04T08:55:00Z
                  Occurrences  3
                  Lead         nobody yet (not acknowledged)
                  Shadowing    alice

                -- 
                Sent by oncall to Alice Example (alice), notice 7.
                --- html
                <!DOCTYPE html>
                <html>
                <head><meta charset="utf-8"><title>[SHADOW] [critical] payments: Disk full on db-1 (alert 42)</title></head>
                <body style="font-family: sans-serif">
                <p style="background: #e7f1ff; padding: 0.5em"><strong>[SHADOW]</strong> Shadow copy: you are shadowing alice, who is on call and paged for this alert. Nothing to do unless they ask you.</p>
                <h3>Disk full on db-1</h3>
                <table cellpadding="2">
                <tr><th align="left">Alert</th><td>42</td></tr>
                <tr><th align="left">Severity</th><td>critical</td></tr>
                <tr><th align="left">Team</th><td>payments</td></tr>
                <tr><th align="left">Since</th><td>2026-03-04T08:55:00Z</td></tr>
                <tr><th align="left">Occurrences</th><td>3</td></tr>
                <tr><th align="left">Lead</th><td>nobody yet (not acknowledged)</td></tr>
                <tr><th align="left">Shadowing</th><td>alice</td></tr>
                </table>
                <hr>
                <p><small>Sent by oncall to Alice Example (alice), notice 7.</small></p>
                </body>
                </html>
            "#]],
        );
    }

    #[test]
    fn an_announcement_is_one_predictable_line() {
        let announce = |event: &str, lead: Option<&str>| {
            notice(What::Announce(crate::notify::Announcement {
                event: event.into(),
                alert: 42,
                team: "payments".into(),
                severity: "critical".into(),
                summary: "Disk full\non db-1".into(),
                lead: lead.map(str::to_string),
                by: None,
                at: at(9, 0),
                drill: false,
            }))
        };
        let lines: Vec<String> = [
            announce("opened", None),
            announce("acknowledged", Some("alice")),
            announce("resolved", Some("alice")),
        ]
        .iter()
        .map(|n| format!("{}\n{}", line(n), sms(n)))
        .collect();
        expect![[r#"
            [critical] payments alert 42 OPENED: Disk full on db-1 | lead: nobody yet
            [critical] payments alert 42 OPENED: Disk full on db-1 | lead: nobody yet
            [critical] payments alert 42 ACKNOWLEDGED: Disk full on db-1 | lead: alice
            [critical] payments alert 42 ACKNOWLEDGED: Disk full on db-1 | lead: alice
            [critical] payments alert 42 RESOLVED: Disk full on db-1 | lead: alice
            [critical] payments alert 42 RESOLVED: Disk full on db-1 | lead: alice"#]]
        .assert_eq(&lines.join("\n"));
    }

    #[test]
    fn a_drill_says_so_everywhere() {
        let mut a = alert(42, "Drill: the payments rota answers");
        a.occurrences = 1;
        a.drill = true;
        check(
            page(vec![a]),
            expect![[r#"
                subject: [DRILL] [critical] payments: Drill: the payments rota answers (alert 42)
                line: [DRILL] [critical] payments: Drill: the payments rota answers (alert 42) - acknowledge: https://oncall.example.com/a/42/ack?sig=abc
                sms (79 septets): [DRILL] [critical] payments: Drill: the payments rota answers. Reply ACK 42
                push title: [DRILL] [critical] payments: Drill: the payments rota answers (alert 42)
                push message:
                [DRILL] This is a drill: a practice page, nothing is broken. Acknowledge it as you would a real one.
                Drill: the payments rota answers
                Since 2026-03-04T08:55:00Z, 1 occurrence. SMS reply: ACK 42.
                --- text
                [DRILL] This is a drill: a practice page, nothing is broken. Acknowledge it as you would a real one.

                Drill: the payments rota answers

                  Alert        42
                  Severity     critical
                  Team         payments
                  Since        2026-03-04T08:55:00Z
                  Occurrences  1
                  Lead         nobody yet (not acknowledged)

                  Acknowledge  https://oncall.example.com/a/42/ack?sig=abc
                  Resolve      https://oncall.example.com/a/42/resolve?sig=def
                  SMS reply    ACK 42 to acknowledge, RES 42 to resolve

                -- 
                Sent by oncall to Alice Example (alice), notice 7.
                --- html
                <!DOCTYPE html>
                <html>
                <head><meta charset="utf-8"><title>[DRILL] [critical] payments: Drill: the payments rota answers (alert 42)</title></head>
                <body style="font-family: sans-serif">
                <p style="background: #fff3cd; padding: 0.5em"><strong>[DRILL]</strong> This is a drill: a practice page, nothing is broken. Acknowledge it as you would a real one.</p>
                <h3>Drill: the payments rota answers</h3>
                <table cellpadding="2">
                <tr><th align="left">Alert</th><td>42</td></tr>
                <tr><th align="left">Severity</th><td>critical</td></tr>
                <tr><th align="left">Team</th><td>payments</td></tr>
                <tr><th align="left">Since</th><td>2026-03-04T08:55:00Z</td></tr>
                <tr><th align="left">Occurrences</th><td>1</td></tr>
                <tr><th align="left">Lead</th><td>nobody yet (not acknowledged)</td></tr>
                </table>
                <p><a href="https://oncall.example.com/a/42/ack?sig=abc">Acknowledge</a> &middot; <a href="https://oncall.example.com/a/42/resolve?sig=def">Resolve</a></p>
                <p>SMS reply: <code>ACK 42</code> to acknowledge, <code>RES 42</code> to resolve</p>
                <hr>
                <p><small>Sent by oncall to Alice Example (alice), notice 7.</small></p>
                </body>
                </html>
            "#]],
        );
    }

    #[test]
    fn a_bundle() {
        let mut third = alert(44, "Queue depth above 10k");
        third.severity = "major".into();
        third.ack_url = None;
        third.resolve_url = None;
        check(
            page(vec![
                alert(42, "Disk full on db-1"),
                alert(43, "Disk full on db-2"),
                third,
            ]),
            expect![[r#"
                subject: [critical/major] 3 new alerts for payments
                line: [critical/major] 3 new alerts for payments
                sms (135 septets): [critical/major] 3 new alerts for payments: Disk full on db-1; Disk full on db-2; Queue depth above 10k. Reply ACK 42, ACK 43, ACK 44
                push title: [critical/major] 3 new alerts for payments
                push message:
                - Disk full on db-1 (critical, alert 42)
                - Disk full on db-2 (critical, alert 43)
                - Queue depth above 10k (major, alert 44)
                --- text
                [critical/major] 3 new alerts for payments

                1. Disk full on db-1

                  Alert        42
                  Severity     critical
                  Team         payments
                  Since        2026-03-04T08:55:00Z
                  Occurrences  3
                  Lead         nobody yet (not acknowledged)

                  Acknowledge  https://oncall.example.com/a/42/ack?sig=abc
                  Resolve      https://oncall.example.com/a/42/resolve?sig=def
                  SMS reply    ACK 42 to acknowledge, RES 42 to resolve

                2. Disk full on db-2

                  Alert        43
                  Severity     critical
                  Team         payments
                  Since        2026-03-04T08:55:00Z
                  Occurrences  3
                  Lead         nobody yet (not acknowledged)

                  Acknowledge  https://oncall.example.com/a/43/ack?sig=abc
                  Resolve      https://oncall.example.com/a/43/resolve?sig=def
                  SMS reply    ACK 43 to acknowledge, RES 43 to resolve

                3. Queue depth above 10k

                  Alert        44
                  Severity     major
                  Team         payments
                  Since        2026-03-04T08:55:00Z
                  Occurrences  3
                  Lead         nobody yet (not acknowledged)

                  SMS reply    ACK 44 to acknowledge, RES 44 to resolve

                -- 
                Sent by oncall to Alice Example (alice), notice 7.
                --- html
                <!DOCTYPE html>
                <html>
                <head><meta charset="utf-8"><title>[critical/major] 3 new alerts for payments</title></head>
                <body style="font-family: sans-serif">
                <h2>[critical/major] 3 new alerts for payments</h2>
                <h3>1. Disk full on db-1</h3>
                <table cellpadding="2">
                <tr><th align="left">Alert</th><td>42</td></tr>
                <tr><th align="left">Severity</th><td>critical</td></tr>
                <tr><th align="left">Team</th><td>payments</td></tr>
                <tr><th align="left">Since</th><td>2026-03-04T08:55:00Z</td></tr>
                <tr><th align="left">Occurrences</th><td>3</td></tr>
                <tr><th align="left">Lead</th><td>nobody yet (not acknowledged)</td></tr>
                </table>
                <p><a href="https://oncall.example.com/a/42/ack?sig=abc">Acknowledge</a> &middot; <a href="https://oncall.example.com/a/42/resolve?sig=def">Resolve</a></p>
                <p>SMS reply: <code>ACK 42</code> to acknowledge, <code>RES 42</code> to resolve</p>
                <h3>2. Disk full on db-2</h3>
                <table cellpadding="2">
                <tr><th align="left">Alert</th><td>43</td></tr>
                <tr><th align="left">Severity</th><td>critical</td></tr>
                <tr><th align="left">Team</th><td>payments</td></tr>
                <tr><th align="left">Since</th><td>2026-03-04T08:55:00Z</td></tr>
                <tr><th align="left">Occurrences</th><td>3</td></tr>
                <tr><th align="left">Lead</th><td>nobody yet (not acknowledged)</td></tr>
                </table>
                <p><a href="https://oncall.example.com/a/43/ack?sig=abc">Acknowledge</a> &middot; <a href="https://oncall.example.com/a/43/resolve?sig=def">Resolve</a></p>
                <p>SMS reply: <code>ACK 43</code> to acknowledge, <code>RES 43</code> to resolve</p>
                <h3>3. Queue depth above 10k</h3>
                <table cellpadding="2">
                <tr><th align="left">Alert</th><td>44</td></tr>
                <tr><th align="left">Severity</th><td>major</td></tr>
                <tr><th align="left">Team</th><td>payments</td></tr>
                <tr><th align="left">Since</th><td>2026-03-04T08:55:00Z</td></tr>
                <tr><th align="left">Occurrences</th><td>3</td></tr>
                <tr><th align="left">Lead</th><td>nobody yet (not acknowledged)</td></tr>
                </table>
                <p>SMS reply: <code>ACK 44</code> to acknowledge, <code>RES 44</code> to resolve</p>
                <hr>
                <p><small>Sent by oncall to Alice Example (alice), notice 7.</small></p>
                </body>
                </html>
            "#]],
        );
    }

    #[test]
    fn a_big_bundle_in_one_sms_and_a_short_push() {
        let alerts: Vec<PagedAlert> = (100..112)
            .map(|id| alert(id, &format!("Disk full on db-{id}")))
            .collect();
        let n = page(alerts);
        expect!["[critical] 12 new alerts for payments. Reply ACK 100, ACK 101, ACK 102, ACK 103, ACK 104, ACK 105, ACK 106, ACK 107, ACK 108, ACK 109, ACK 110, ACK 111"]
            .assert_eq(&sms(&n));
        expect![[r#"
            - Disk full on db-100 (critical, alert 100)
            - Disk full on db-101 (critical, alert 101)
            - Disk full on db-102 (critical, alert 102)
            - Disk full on db-103 (critical, alert 103)
            - Disk full on db-104 (critical, alert 104)
            - Disk full on db-105 (critical, alert 105)
            - Disk full on db-106 (critical, alert 106)
            - Disk full on db-107 (critical, alert 107)
            - Disk full on db-108 (critical, alert 108)
            - Disk full on db-109 (critical, alert 109)
            and 2 more"#]]
        .assert_eq(&push(&n).message);
        assert_eq!(email(&n).subject, "[critical] 12 new alerts for payments");

        // More codes than fit: as many as do.
        let n = page((1000..1030).map(|id| alert(id, "Disk full")).collect());
        expect!["[critical] 30 new alerts for payments. Reply ACK 1000, ACK 1001, ACK 1002, ACK 1003, ACK 1004, ACK 1005, ACK 1006, ACK 1007, ACK 1008, ACK 1009, ACK 1010"].assert_eq(&sms(&n));
    }

    #[test]
    fn a_long_summary_is_cut_but_the_reply_code_stays() {
        let n = page(vec![alert(
            123456,
            &"Replication lag on the eu-west replica set ".repeat(6),
        )]);
        let text = sms(&n);
        expect!["[critical] payments: Replication lag on the eu-west replica set Replication lag on the eu-west replica set Replication lag on the eu-west... Reply ACK 123456"]
            .assert_eq(&text);
        // 160 septets less the space trimmed before the `...`.
        assert_eq!(septets(&text), SMS_MAX_SEPTETS - 1);
    }

    #[test]
    fn alert_text_is_escaped_in_html_and_folded_in_lines() {
        let mut a = alert(42, "<script>alert('x')</script> & \"quotes\"\r\nBcc: evil@example.com");
        a.team = "pay<ments>".into();
        a.ack_url = Some("javascript:alert(1)".into());
        a.resolve_url = Some("https://oncall.example.com/a/42/resolve?sig=d&x=\"><b>".into());
        let n = page(vec![a]);
        let e = email(&n);
        assert_eq!(
            e.subject,
            "[critical] pay<ments>: <script>alert('x')</script> & \"quotes\" Bcc: evil@example.com (alert 42)"
        );
        assert!(!e.html.contains("<script>"), "{}", e.html);
        assert!(!e.html.contains("<b>"), "{}", e.html);
        assert!(!e.html.contains("href=\"javascript"), "{}", e.html);
        assert!(
            e.html
                .contains("<h3>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quotes&quot; Bcc: evil@example.com</h3>"),
            "{}",
            e.html
        );
        assert!(e.html.contains("<td>pay&lt;ments&gt;</td>"), "{}", e.html);
        assert!(e.html.contains("Acknowledge: javascript:alert(1)"), "{}", e.html);
        assert!(
            e.html.contains(
                "<a href=\"https://oncall.example.com/a/42/resolve?sig=d&amp;x=&quot;&gt;&lt;b&gt;\">Resolve</a>"
            ),
            "{}",
            e.html
        );
        for single in [e.subject.clone(), sms(&n), push(&n).title, line(&n)] {
            assert!(!single.contains(['\r', '\n']), "{single:?}");
        }
    }

    #[test]
    fn without_links_the_reply_codes_remain() {
        let mut a = alert(42, "Disk full on db-1");
        a.ack_url = None;
        a.resolve_url = None;
        let n = page(vec![a]);
        let e = email(&n);
        assert!(!e.text.contains("Acknowledge "), "{}", e.text);
        assert!(!e.html.contains("<a "), "{}", e.html);
        assert!(e.text.contains("SMS reply    ACK 42 to acknowledge, RES 42 to resolve"));
        assert_eq!(line(&n), "[critical] payments: Disk full on db-1 (alert 42)");
    }

    #[test]
    fn handoff_tomorrow() {
        check(
            notice(What::Handoff {
                team: "payments".into(),
                rota: "primary".into(),
                start: at(9, 0) + chrono::Duration::days(1),
                end: Some(at(9, 0) + chrono::Duration::days(8)),
                ahead: true,
            }),
            expect![[r#"
                subject: Your shift on payments/primary starts tomorrow at 2026-03-05T09:00:00Z
                line: Your shift on payments/primary starts tomorrow at 2026-03-05T09:00:00Z
                sms (104 septets): Your shift on payments/primary starts tomorrow at 2026-03-05T09:00:00Z. It ends at 2026-03-12T09:00:00Z.
                push title: Your shift on payments/primary starts tomorrow at 2026-03-05T09:00:00Z
                push message:
                From 2026-03-05T09:00:00Z until 2026-03-12T09:00:00Z.
                --- text
                Your shift on payments/primary starts tomorrow at 2026-03-05T09:00:00Z.

                  Team    payments
                  Rota    primary
                  Starts  2026-03-05T09:00:00Z
                  Ends    2026-03-12T09:00:00Z

                -- 
                Sent by oncall to Alice Example (alice), notice 7.
                --- html
                <!DOCTYPE html>
                <html>
                <head><meta charset="utf-8"><title>Your shift on payments/primary starts tomorrow at 2026-03-05T09:00:00Z</title></head>
                <body style="font-family: sans-serif">
                <p>Your shift on payments/primary starts tomorrow at 2026-03-05T09:00:00Z.</p>
                <table cellpadding="2">
                <tr><th align="left">Team</th><td>payments</td></tr>
                <tr><th align="left">Rota</th><td>primary</td></tr>
                <tr><th align="left">Starts</th><td>2026-03-05T09:00:00Z</td></tr>
                <tr><th align="left">Ends</th><td>2026-03-12T09:00:00Z</td></tr>
                </table>
                <hr>
                <p><small>Sent by oncall to Alice Example (alice), notice 7.</small></p>
                </body>
                </html>
            "#]],
        );
    }

    #[test]
    fn handoff_now_without_a_planned_end() {
        let n = notice(What::Handoff {
            team: "payments".into(),
            rota: "primary".into(),
            start: at(9, 0),
            end: None,
            ahead: false,
        });
        assert_eq!(
            sms(&n),
            "Your shift on payments/primary starts at 2026-03-04T09:00:00Z."
        );
        assert_eq!(push(&n).message, "From 2026-03-04T09:00:00Z.");
        assert!(email(&n).text.contains("  Ends    not planned yet\n"));
    }

    fn reply_of(id: i64) -> String {
        format!(" Reply ACK {id}")
    }

    /// Issue 16: `[critical]` is 12 septets, not 10 characters, so a page of
    /// 159 or 160 characters was two segments. Now it is cut to 160 septets.
    #[test]
    fn issue16_brackets_count_two_septets_so_a_page_stays_one_segment() {
        // The longest summary that fits whole: 23 + 123 + 1 + 13 septets.
        let text = sms(&page(vec![alert(42, &"x".repeat(123))]));
        assert_eq!(text, format!("[critical] payments: {}. Reply ACK 42", "x".repeat(123)));
        assert_eq!(text.chars().count(), 158);
        assert_eq!(
            gsm::length(&text),
            gsm::Length {
                encoding: gsm::Encoding::Gsm7,
                units: 160,
                segments: 1
            }
        );
        // 124 and 125 letters made 159 and 160 characters (161 and 162
        // septets, two segments) before; now the period goes, then the
        // summary is cut.
        let text = sms(&page(vec![alert(42, &"x".repeat(124))]));
        assert_eq!(text, format!("[critical] payments: {} Reply ACK 42", "x".repeat(124)));
        assert_eq!(gsm::length(&text).units, 160);
        for n in [125, 200] {
            let text = sms(&page(vec![alert(42, &"x".repeat(n))]));
            assert_eq!(
                text,
                format!("[critical] payments: {}... Reply ACK 42", "x".repeat(121))
            );
            assert_eq!(gsm::length(&text).units, 160);
        }
        // Brackets in the summary count two each as well, and a cut never
        // leaves half of one.
        let text = sms(&page(vec![alert(42, &"[eu] ".repeat(40))]));
        let length = gsm::length(&text);
        assert!(length.units <= 160 && length.segments == 1, "{length:?}: {text}");
        assert!(text.ends_with("... Reply ACK 42"), "{text}");
    }

    /// Issue 16: one em dash made the whole page UCS-2 (70 characters a
    /// segment): three segments for this one.
    #[test]
    fn issue16_typography_in_a_summary_is_transliterated_into_gsm7() {
        let summary = "Replication lag \u{2014} 45\u{a0}s on \u{201c}db-2\u{201d} in eu-west\u{2026} caf\u{e9}s, na\u{ef}ve \u{1f525}";
        let text = sms(&page(vec![alert(42, summary)]));
        assert_eq!(
            text,
            "[critical] payments: Replication lag - 45 s on \"db-2\" in eu-west... cafés, naive ?. Reply ACK 42"
        );
        assert_eq!(gsm::length(&text).encoding, gsm::Encoding::Gsm7);
        assert_eq!(gsm::length(&text).segments, 1);
        // The other renderings keep the text as it was.
        let subject = email(&page(vec![alert(42, summary)])).subject;
        assert!(
            subject.contains("lag \u{2014} 45 s on \u{201c}db-2\u{201d}"),
            "{subject}"
        );
    }

    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[\\[\\]{}~^|€\\\\a-z0-9 \u{2014}\u{201c}\u{201d}\u{2026}\u{e9}\u{e1}\u{1f525}]{0,240}",
        ]
    }

    use proptest::prelude::*;

    proptest! {
        /// Issue 16: whatever the summary and the team's name, a page's SMS
        /// is one GSM-7 segment ending with its reply code.
        #[test]
        fn issue16_every_sms_is_one_gsm7_segment_with_its_reply_code_intact(
            summaries in proptest::collection::vec(any_text(), 1..25),
            team in any_text(),
            severity in any_text(),
            first in 1i64..100_000_000,
            drill in any::<bool>(),
        ) {
            let alerts: Vec<PagedAlert> = summaries
                .iter()
                .enumerate()
                .map(|(i, summary)| {
                    let mut a = alert(first + i as i64, summary);
                    a.team = team.clone();
                    a.severity = severity.clone();
                    a.drill = drill;
                    a
                })
                .collect();
            let codes: Vec<String> = alerts.iter().map(|a| a.reply_ack.clone()).collect();
            let text = sms(&page(alerts.clone()));
            let length = gsm::length(&text);
            prop_assert_eq!(length.encoding, gsm::Encoding::Gsm7, "{}", text);
            prop_assert_eq!(length.segments, 1, "{}", text);
            prop_assert!(length.units <= SMS_MAX_SEPTETS);
            if alerts.len() == 1 {
                prop_assert!(text.ends_with(&reply_of(first)), "{}", text);
            } else {
                // The bundle's codes, from the first, as many as fit.
                let (_, tail) = text.rsplit_once(" Reply ").unwrap();
                prop_assert!(
                    (1..=codes.len()).any(|k| tail == codes[..k].join(", ")),
                    "{}", text
                );
            }
            for other in [
                notice(What::Announce(crate::notify::Announcement {
                    event: "opened".into(),
                    alert: first,
                    team: team.clone(),
                    severity: severity.clone(),
                    summary: summaries[0].clone(),
                    lead: None,
                    by: None,
                    at: at(9, 0),
                    drill,
                })),
                notice(What::Handoff {
                    team: team.clone(),
                    rota: summaries[0].clone(),
                    start: at(9, 0),
                    end: Some(at(10, 0)),
                    ahead: drill,
                }),
            ] {
                let text = sms(&other);
                let length = gsm::length(&text);
                prop_assert_eq!(length.encoding, gsm::Encoding::Gsm7, "{}", text);
                prop_assert_eq!(length.segments, 1, "{}", text);
            }
        }
    }

    #[test]
    fn a_test_page_says_it_is_a_test_in_every_medium() {
        let url = format!("https://oncall.example.com/v1/proofs/{}", "x".repeat(50));
        let test =
            |confirm_url: Option<String>| notice(What::Test(crate::notify::TestNotice { proof: 3, confirm_url }));
        let n = test(Some(url.clone()));
        assert_eq!(subject(&n), "[TEST] oncall test page, not an alert, for Alice Example");
        let e = email(&n);
        assert!(e.text.contains(TEST_SENTENCE) && e.text.contains(&url), "{}", e.text);
        assert!(e.html.contains(&format!("href=\"{url}\"")), "{}", e.html);
        assert!(line(&n).ends_with(&format!(" - confirm: {url}")));
        let p = push(&n);
        assert!(p.title.starts_with("[TEST]") && p.message.contains("Nothing is wrong"));
        // One segment, with the link where it fits and without it where not.
        let text = sms(&n);
        assert!(
            text.contains("not an alert") && text.contains("reply YES") && text.contains(&url),
            "{text}"
        );
        assert_eq!(gsm::length(&text).segments, 1, "{text}");
        let long = sms(&test(Some(format!(
            "https://oncall.example.com/v1/proofs/{}",
            "x".repeat(100)
        ))));
        assert!(!long.contains("https://") && long.contains("Reply YES"), "{long}");
        assert_eq!(gsm::length(&long).segments, 1, "{long}");
        let without = sms(&test(None));
        assert!(without.ends_with("reached you."), "{without}");
    }
}
