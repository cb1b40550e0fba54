//! A [`Report`] as text: aligned tables for people, Markdown for a merge
//! request's comment, JSON for scripts (its shape is in `docs/diff.md`).
//! The order is the report's, so the same two versions print the same
//! bytes.

use std::fmt::Write as _;

use chrono_tz::Tz;
use serde_json::{Value, json};

use super::report::{EscalationChange, MonthChange, PersonChanges, Reach, Report, Stretch, Tally};
use crate::domain::pay::Money;
use crate::domain::time::{Instant, Rfc3339};

fn utc(t: Instant) -> String {
    Rfc3339::new(t).as_str().to_string()
}

/// `Mon 2026-03-30 09:00 BST`: the wall clock of the team's zone.
fn local(t: Instant, tz: Tz) -> String {
    t.with_timezone(&tz).format("%a %Y-%m-%d %H:%M %Z").to_string()
}

/// Seconds as hours, two decimals.
fn hours(seconds: i64) -> String {
    format!("{:.2}", seconds as f64 / 3600.0)
}

fn signed_hours(seconds: i64) -> String {
    format!("{:+.2}", seconds as f64 / 3600.0)
}

fn team_rota(s: &Stretch) -> String {
    format!("{}/{}", s.team, s.rota)
}

fn who(p: &PersonChanges) -> String {
    if p.name == p.id {
        p.id.clone()
    } else {
        format!("{} ({})", p.id, p.name)
    }
}

fn reach_words(r: &Reach) -> &'static str {
    if r.lost {
        "can no longer be reached"
    } else {
        "no longer unreachable"
    }
}

fn step_label(c: &EscalationChange) -> String {
    match (c.step, c.setting) {
        (Some(n), _) => match (n.base, n.head) {
            (Some(b), Some(h)) if b != h => format!("step {h} (was {b})"),
            (_, Some(h)) => format!("step {h}"),
            (Some(b), None) => format!("step {b}"),
            (None, None) => String::new(),
        },
        (None, Some(setting)) => setting.to_string(),
        (None, None) => String::new(),
    }
}

/// Amounts with the report's currency; `None` when either side has none.
struct Pay<'a>(&'a Report);

impl Pay<'_> {
    fn amount(&self, m: Option<Money>) -> String {
        match (&self.0.currency, m) {
            (Some(c), Some(m)) => c.format(m),
            _ => "-".to_string(),
        }
    }

    fn change(&self, m: &MonthChange) -> String {
        match (&self.0.currency, m.base.amount, m.head.amount) {
            (Some(c), Some(b), Some(h)) => {
                let text = c.format(h - b);
                if h > b && !text.starts_with('-') {
                    format!("+{text}")
                } else {
                    text
                }
            }
            _ => "-".to_string(),
        }
    }
}

fn summary(r: &Report) -> String {
    match r.gaps_introduced.len() {
        0 => "no gap in cover introduced".to_string(),
        1 => "1 gap in cover introduced".to_string(),
        n => format!("{n} gaps in cover introduced"),
    }
}

/// Aligned tables, one per kind of change.
pub fn table(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "oncall diff: {} -> {}", r.base, r.head);
    let _ = writeln!(out, "from {} to {}", utc(r.window.start), utc(r.window.end));
    let stretch_cells = |s: &Stretch| {
        vec![
            team_rota(s),
            utc(s.span.start),
            utc(s.span.end),
            local(s.span.start, s.tz),
            local(s.span.end, s.tz),
            hours(s.span.duration().num_seconds()),
        ]
    };
    let mut section = |title: &str, rows: Vec<Vec<String>>| {
        if rows.len() > 1 {
            let _ = writeln!(out, "\n{title}");
            let mut bytes = Vec::new();
            let _ = super::super::print_table(&mut bytes, &rows);
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    };
    let head = |cells: &[&str]| cells.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let stretch_head = [
        "TEAM/ROTA",
        "FROM (UTC)",
        "TO (UTC)",
        "FROM (TEAM'S ZONE)",
        "TO (TEAM'S ZONE)",
        "HOURS",
    ];

    let mut rows = vec![head(&["GAP"])];
    rows[0].extend(head(&stretch_head));
    for (list, change) in [(&r.gaps_introduced, "introduced"), (&r.gaps_closed, "closed")] {
        for g in list {
            let mut row = vec![change.to_string()];
            row.extend(stretch_cells(g));
            rows.push(row);
        }
    }
    section("GAPS IN COVER", rows);

    let mut rows = vec![head(&["PERSON", "CHANGE"])];
    rows[0].extend(head(&stretch_head));
    for p in &r.people {
        for (list, change) in [(&p.removed, "removed"), (&p.added, "added")] {
            for s in list {
                let mut row = vec![who(p), change.to_string()];
                row.extend(stretch_cells(s));
                rows.push(row);
            }
        }
    }
    section("SHIFTS", rows);

    let pay = Pay(r);
    let mut rows = vec![head(&[
        "PERSON",
        "MONTH",
        "HOURS BEFORE",
        "HOURS AFTER",
        "HOURS CHANGE",
        "PAY BEFORE",
        "PAY AFTER",
        "PAY CHANGE",
    ])];
    for p in &r.people {
        for m in &p.months {
            rows.push(vec![
                who(p),
                m.month.label(),
                hours(m.base.seconds),
                hours(m.head.seconds),
                signed_hours(m.head.seconds - m.base.seconds),
                pay.amount(m.base.amount),
                pay.amount(m.head.amount),
                pay.change(m),
            ]);
        }
    }
    if r.currency.is_none() {
        for row in &mut rows {
            row.truncate(5);
        }
    }
    section(&months_title(r, true), rows);

    let mut rows = vec![head(&["PERSON", "SEVERITY", "CHANGE"])];
    rows.extend(
        r.reach
            .iter()
            .map(|x| vec![x.person.clone(), x.severity.clone(), reach_words(x).to_string()]),
    );
    section("REACHABILITY", rows);

    let mut rows = vec![head(&["TEAM", "STEP", "CHANGE", "BEFORE", "AFTER"])];
    rows.extend(r.escalation.iter().map(|c| {
        vec![
            c.team.clone(),
            step_label(c),
            c.change.as_str().to_string(),
            c.before.clone().unwrap_or_else(|| "-".into()),
            c.after.clone().unwrap_or_else(|| "-".into()),
        ]
    }));
    section("ESCALATION", rows);

    let mut rows = vec![head(&["ROTA", "CHANGE"])];
    for (list, change) in [(&r.rotas_added, "added"), (&r.rotas_removed, "removed")] {
        rows.extend(list.iter().map(|(t, n)| vec![format!("{t}/{n}"), change.to_string()]));
    }
    section("ROTAS", rows);

    for note in &r.notes {
        let _ = writeln!(out, "\nnote: {note}");
    }
    if r.is_empty() {
        let _ = writeln!(out, "\nno changes for people in this window");
    }
    let _ = writeln!(out, "\n{}", summary(r));
    out
}

/// The title of the months' table; in capitals for the plain table.
fn months_title(r: &Report, capitals: bool) -> String {
    let zone = r.month_tz.name();
    let (title, detail) = match &r.currency {
        Some(c) => (
            "Hours and pay by month",
            format!("(whole months in {zone}, pay in {})", c.code),
        ),
        None => ("Hours by month", format!("(whole months in {zone}; no pay.yaml)")),
    };
    if capitals {
        format!("{} {detail}", title.to_uppercase())
    } else {
        format!("{title} {detail}")
    }
}

/// Text for a Markdown table's cell: what Markdown would read as markup
/// (and HTML) escaped, on one line.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '|' | '[' | ']' | '<' | '>' | '#' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Ready to post as a merge request's comment (GitHub, GitLab).
pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### On-call changes: {} → {}\n", cell(&r.base), cell(&r.head));
    let _ = writeln!(out, "From {} to {} (UTC).\n", utc(r.window.start), utc(r.window.end));
    match r.gaps_introduced.len() {
        0 => out.push_str("No gap in cover is introduced.\n"),
        n => {
            let _ = writeln!(
                out,
                "**This change introduces {n} gap{} in cover** (nobody on call).",
                if n == 1 { "" } else { "s" }
            );
        }
    }
    let mut section = |title: &str, header: &[&str], rows: Vec<Vec<String>>| {
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n#### {title}\n");
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
        for row in rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
    };
    let stretch_cells = |s: &Stretch| {
        vec![
            cell(&team_rota(s)),
            utc(s.span.start),
            utc(s.span.end),
            cell(&local(s.span.start, s.tz)),
            cell(&local(s.span.end, s.tz)),
            hours(s.span.duration().num_seconds()),
        ]
    };
    let stretch_header = [
        "Team/rota",
        "From (UTC)",
        "To (UTC)",
        "From (team's zone)",
        "To (team's zone)",
        "Hours",
    ];

    let mut rows = Vec::new();
    for (list, change) in [(&r.gaps_introduced, "**introduced**"), (&r.gaps_closed, "closed")] {
        for g in list {
            let mut row = vec![change.to_string()];
            row.extend(stretch_cells(g));
            rows.push(row);
        }
    }
    let mut header = vec!["Gap"];
    header.extend(stretch_header);
    section("Gaps in cover", &header, rows);

    let mut rows = Vec::new();
    for p in &r.people {
        for (list, change) in [(&p.removed, "removed"), (&p.added, "added")] {
            for s in list {
                let mut row = vec![cell(&who(p)), change.to_string()];
                row.extend(stretch_cells(s));
                rows.push(row);
            }
        }
    }
    let mut header = vec!["Person", "Change"];
    header.extend(stretch_header);
    section("Shifts", &header, rows);

    let pay = Pay(r);
    let priced = r.currency.is_some();
    let mut rows = Vec::new();
    for p in &r.people {
        for m in &p.months {
            let mut row = vec![
                cell(&who(p)),
                m.month.label(),
                hours(m.base.seconds),
                hours(m.head.seconds),
                signed_hours(m.head.seconds - m.base.seconds),
            ];
            if priced {
                row.extend([pay.amount(m.base.amount), pay.amount(m.head.amount), pay.change(m)]);
            }
            rows.push(row);
        }
    }
    let mut header = vec!["Person", "Month", "Hours before", "Hours after", "Hours change"];
    if priced {
        header.extend(["Pay before", "Pay after", "Pay change"]);
    }
    section(&cell(&months_title(r, false)), &header, rows);

    let rows = r
        .reach
        .iter()
        .map(|x| {
            vec![
                cell(&x.person),
                cell(&x.severity),
                if x.lost {
                    "**can no longer be reached**".to_string()
                } else {
                    reach_words(x).to_string()
                },
            ]
        })
        .collect();
    section("Reachability", &["Person", "Severity", "Change"], rows);

    let rows = r
        .escalation
        .iter()
        .map(|c| {
            vec![
                cell(&c.team),
                cell(&step_label(c)),
                c.change.as_str().to_string(),
                cell(c.before.as_deref().unwrap_or("-")),
                cell(c.after.as_deref().unwrap_or("-")),
            ]
        })
        .collect();
    section("Escalation", &["Team", "Step", "Change", "Before", "After"], rows);

    let mut rows = Vec::new();
    for (list, change) in [(&r.rotas_added, "added"), (&r.rotas_removed, "removed")] {
        rows.extend(
            list.iter()
                .map(|(t, n)| vec![cell(&format!("{t}/{n}")), change.to_string()]),
        );
    }
    section("Rotas", &["Rota", "Change"], rows);

    if !r.notes.is_empty() {
        out.push('\n');
        for note in &r.notes {
            let _ = writeln!(out, "- {}", cell(note));
        }
    }
    if r.is_empty() {
        out.push_str("\nNo changes for people in this window.\n");
    }
    out
}

fn stretch_json(s: &Stretch) -> Value {
    json!({
        "team": s.team,
        "rota": s.rota,
        "from": utc(s.span.start),
        "to": utc(s.span.end),
        "timezone": s.tz.name(),
        "from_local": s.span.start.with_timezone(&s.tz).format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        "to_local": s.span.end.with_timezone(&s.tz).format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        "seconds": s.span.duration().num_seconds(),
    })
}

fn tally_amount(r: &Report, t: &Tally) -> Value {
    match (&r.currency, t.amount) {
        (Some(c), Some(m)) => json!(c.format(m)),
        _ => Value::Null,
    }
}

/// One JSON document (see `docs/diff.md` for its shape).
pub fn json(r: &Report) -> String {
    let pay = Pay(r);
    let people: Vec<Value> = r
        .people
        .iter()
        .map(|p| {
            let months: Vec<Value> = p
                .months
                .iter()
                .map(|m| {
                    let change = match pay.change(m).as_str() {
                        "-" => Value::Null,
                        text => json!(text.trim_start_matches('+')),
                    };
                    json!({
                        "month": m.month.label(),
                        "seconds_before": m.base.seconds,
                        "seconds_after": m.head.seconds,
                        "seconds_change": m.head.seconds - m.base.seconds,
                        "amount_before": tally_amount(r, &m.base),
                        "amount_after": tally_amount(r, &m.head),
                        "amount_change": change,
                    })
                })
                .collect();
            json!({
                "person": p.id,
                "name": p.name,
                "added": p.added.iter().map(stretch_json).collect::<Vec<_>>(),
                "removed": p.removed.iter().map(stretch_json).collect::<Vec<_>>(),
                "months": months,
            })
        })
        .collect();
    let escalation: Vec<Value> = r
        .escalation
        .iter()
        .map(|c| {
            json!({
                "team": c.team,
                "step_before": c.step.and_then(|s| s.base),
                "step_after": c.step.and_then(|s| s.head),
                "setting": c.setting,
                "change": c.change.as_str(),
                "before": c.before,
                "after": c.after,
            })
        })
        .collect();
    let rota_names = |list: &[(String, String)]| list.iter().map(|(t, n)| format!("{t}/{n}")).collect::<Vec<_>>();
    let doc = json!({
        "base": r.base,
        "head": r.head,
        "from": utc(r.window.start),
        "to": utc(r.window.end),
        "gap_introduced": r.gap_introduced(),
        "currency": r.currency.as_ref().map(|c| c.code.clone()),
        "month_timezone": r.month_tz.name(),
        "people": people,
        "gaps_introduced": r.gaps_introduced.iter().map(stretch_json).collect::<Vec<_>>(),
        "gaps_closed": r.gaps_closed.iter().map(stretch_json).collect::<Vec<_>>(),
        "reachability": r.reach.iter().map(|x| json!({
            "person": x.person,
            "severity": x.severity,
            "change": if x.lost { "lost" } else { "regained" },
        })).collect::<Vec<_>>(),
        "escalation": escalation,
        "rotas_added": rota_names(&r.rotas_added),
        "rotas_removed": rota_names(&r.rotas_removed),
        "notes": r.notes,
    });
    let mut text = serde_json::to_string_pretty(&doc).expect("a Value always serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_cells_cannot_break_the_table_or_carry_html() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(cell("<img src=x>"), "\\<img src=x\\>");
        assert_eq!(cell("x\ny"), "x y");
        assert_eq!(cell("**bold** `code` [l](u)"), "\\*\\*bold\\*\\* \\`code\\` \\[l\\](u)");
    }

    #[test]
    fn changes_have_a_sign() {
        assert_eq!(signed_hours(3600), "+1.00");
        assert_eq!(signed_hours(-5400), "-1.50");
    }
}
