//! The engine's two transactions, written once over [`PassTx`]: a pass
//! ([`run`]: start and run the due escalations, queue hand-off notices and
//! announcements, append to the ledger, claim what is due) and the record
//! of how deliveries went ([`record`]). The decisions are the pure
//! [`Rules`]'; these read the rows they need, ask, and write the answers.
//! Each backend runs them inside one transaction on its writer.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::Duration;
use serde::Serialize;

use super::outbox::{Attempt, AttemptOutcome, GivenUp, Message, NewNotification, NoticeKind, Notification, Pass};
use super::rules::{Rules, Steps};
use super::tx::{Done, DueEscalation, PassTx, Pending};
use crate::domain::alert::{Alert, AlertId, Status, TimelineKind, detail_text};
use crate::domain::paging::{Due, Escalation, Method};
use crate::domain::time::Instant;
use crate::store::error::StoreError;

/// What one pass decides with.
#[derive(Clone)]
pub struct PassContext {
    pub rules: Arc<Rules>,
    /// The `now` of this engine's first pass: the ledger's stretch before it
    /// is reconstructed (the daemon was not running).
    pub started: Instant,
    /// The methods with a channel.
    pub channels: Vec<Method>,
    pub now: Instant,
    /// How long a claimed notification belongs to this pass.
    pub lease: Duration,
}

impl PassContext {
    /// Why nothing sent by `method` can be delivered at all (no channel is
    /// configured for it), or `None` if it can be tried. The pass gives up
    /// on such notifications when they are due, as a failed delivery would
    /// be recorded, without claiming them.
    pub fn undeliverable(&self, method: Method) -> Option<String> {
        (!self.channels.contains(&method)).then(|| format!("no {method} channel is configured"))
    }
}

/// One pass's decisions, in the caller's transaction:
/// 1. every alert created since the last pass gets an escalation, due at
///    once, and every escalation due at `now` runs ([`Rules::escalate`]):
///    its next state, notifications, timeline entries, a reopened alert;
/// 2. hand-off notices ([`Rules::handoffs`]) are queued, and the
///    announcements ([`Rules::announce`]) of the timeline entries written
///    since the last pass;
/// 3. the ledger is appended to ([`Rules::ledger`]);
/// 4. the notifications due at `now` are claimed: those of alerts no longer
///    open are cancelled, those no channel can carry are given up, the rest
///    grouped by [`Rules::batch`]; each group is a message to deliver,
///    leased until `now + lease`. (A page that step 1 queues due at once
///    for a method with no channel is written given up instead of pending,
///    and the claim records it in its turn: see `queue_page`.)
pub fn run(tx: &mut dyn PassTx, cx: &PassContext) -> Result<Pass, StoreError> {
    let (rules, now) = (&cx.rules, cx.now);
    // The alerts the escalations read, as they are now: the claim below
    // reuses them rather than reading each again (same transaction, and the
    // one writer).
    let mut queued = Queued::default();
    let Escalations {
        mut alerts,
        new,
        fired: escalation_steps,
    } = run_due_escalations(tx, cx, &mut queued)?;
    // Hand-off notices.
    let since = tx
        .cursor("handoffs")?
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0));
    let (notices, until) = rules.handoffs(since, now);
    for n in notices {
        queue(tx, n, now, &mut queued)?;
    }
    tx.set_cursor("handoffs", until.timestamp())?;
    // Announcements of what happened to alerts since the last pass.
    queue_announcements(tx, rules, &mut alerts, &new, now, &mut queued)?;
    // The ledger.
    let since = tx
        .cursor("ledger")?
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0));
    let (rows, until) = rules.ledger(since, cx.started, now);
    for row in &rows {
        tx.insert_ledger(row, now)?;
    }
    tx.set_cursor("ledger", until.timestamp())?;
    // Claim what is due.
    let due = tx.due_notifications(now)?;
    let mut live = Vec::new();
    let mut announcements = Vec::new();
    let mut tests = Vec::new();
    let mut undeliverable: BTreeMap<(Method, String), (Vec<Notification>, String)> = BTreeMap::new();
    for n in due {
        if n.kind == NoticeKind::Announce {
            // Not batched, not throttled, never cancelled: in order, one at
            // a time per destination.
            if !tx.earlier_announcement(&n.to, n.id)? {
                announcements.push(n);
            }
            continue;
        }
        if n.kind == NoticeKind::Page {
            if let Some(id) = n.alert {
                read_alert(tx, &mut alerts, id)?;
            }
            // A page whose alert is no longer open (or is gone) is not sent;
            // cancelling it also keeps it from staying due forever.
            let open = n
                .alert
                .and_then(|id| alerts.get(&id))
                .is_some_and(|a| a.status == Status::Open);
            if !open {
                tx.cancel(n.id)?;
                continue;
            }
        }
        if let Some(error) = cx.undeliverable(n.method) {
            undeliverable
                .entry((n.method, n.to.clone()))
                .or_insert_with(|| (Vec::new(), error))
                .0
                .push(n);
            continue;
        }
        if n.kind == NoticeKind::Test {
            // A test page says one thing to one destination: never bundled
            // with a page, never throttled.
            tests.push(n);
            continue;
        }
        live.push(n);
    }
    // With the pages given up as they were queued, in the order the claim
    // would have read them (due time, then id), as if they were still
    // pending until their turn (see `queue_page`).
    let Queued { early, pending } = queued;
    // The alerts new in this pass that it wrote no pending notification
    // for: the store holds none of theirs pending (only a pass writes
    // them, and none before this one read these alerts), so a page of
    // theirs given up needs no look for the person's next method but
    // among the early ones.
    let unqueued: BTreeSet<AlertId> = new.iter().copied().filter(|a| !pending.contains(a)).collect();
    let mut early_ids = BTreeSet::new();
    let mut early_rows: BTreeMap<AlertId, Vec<Pending>> = BTreeMap::new();
    for n in &early {
        if let Some(alert) = n.alert {
            early_rows.entry(alert).or_default().push(as_pending(n));
        }
    }
    for n in early {
        let Some(error) = cx.undeliverable(n.method) else {
            continue;
        };
        early_ids.insert(n.id);
        let group = undeliverable
            .entry((n.method, n.to.clone()))
            .or_insert_with(|| (Vec::new(), error));
        group.0.push(n);
    }
    if !early_ids.is_empty() {
        for (notifications, _) in undeliverable.values_mut() {
            notifications.sort_by_key(|n| (n.due, n.id));
        }
    }
    let mut given_up = Vec::new();
    for ((method, _), (notifications, error)) in undeliverable {
        let mut page_alerts = Vec::new();
        for n in &notifications {
            let attempts = n.attempts + 1;
            if !early_ids.remove(&n.id) {
                tx.mark_given_up(n.id, attempts, &error)?;
            }
            let done = Done {
                alert: n.alert,
                person: n.person.clone(),
                method: n.method.as_str().to_owned(),
                attempts: i64::from(attempts),
                step: n.step.map(|(s, _)| s as i64),
                round: n.step.map(|(_, r)| i64::from(r)),
                kind: n.kind.as_str().to_owned(),
                payload: n.payload.as_ref().map(|p| p.to_string()),
            };
            let still_pending = early_pending(&early_ids, &early_rows, n.alert);
            let only = n.alert.is_some_and(|a| unqueued.contains(&a));
            give_up(tx, Some(done), &error, now, &still_pending, only)?;
            page_alerts.extend(n.alert);
        }
        given_up.push(GivenUp {
            // Never claimed: their due times are as they were.
            attempt: Attempt::of(&notifications, AttemptOutcome::Failed { error }),
            person: notifications[0].person.clone(),
            method,
            alerts: page_alerts,
        });
    }
    let wanted: Vec<Due> = live
        .iter()
        .map(|n| Due {
            id: n.id,
            method: n.method,
            to: n.to.clone(),
        })
        .collect();
    // When each destination due a message last had one: read first, so the
    // decision reads a map, not the store.
    let destinations: BTreeSet<(Method, &str)> = wanted.iter().map(|d| (d.method, d.to.as_str())).collect();
    let mut last_sent = BTreeMap::new();
    for (method, to) in destinations {
        if let Some(t) = tx.last_sent(method, to)? {
            last_sent.insert((method, to.to_owned()), t);
        }
    }
    let batches = rules.batch(&wanted, &last_sent, now);
    for (id, until) in &batches.hold {
        tx.hold(*id, deadline(*until, now))?;
    }
    let leased = now + cx.lease;
    let by_id: BTreeMap<i64, Notification> = live.into_iter().map(|n| (n.id, n)).collect();
    let mut messages = Vec::new();
    for group in batches.send {
        let mut notifications = Vec::new();
        let mut group_alerts = Vec::new();
        for id in group {
            let Some(mut n) = by_id.get(&id).cloned() else { continue };
            tx.claim(id, leased)?;
            n.attempts += 1;
            n.state = "sending".into();
            if let Some(alert) = n.alert.and_then(|a| alerts.get(&a)) {
                group_alerts.push(alert.clone());
            }
            notifications.push(n);
        }
        if !notifications.is_empty() {
            messages.push(Message {
                notifications,
                alerts: group_alerts,
            });
        }
    }
    for mut n in tests {
        tx.claim(n.id, leased)?;
        n.attempts += 1;
        n.state = "sending".into();
        messages.push(Message {
            notifications: vec![n],
            alerts: Vec::new(),
        });
    }
    for mut n in announcements {
        tx.claim(n.id, leased)?;
        n.attempts += 1;
        n.state = "sending".into();
        let mut group_alerts = Vec::new();
        if let Some(id) = n.alert {
            read_alert(tx, &mut alerts, id)?;
            group_alerts.extend(alerts.get(&id).cloned());
        }
        messages.push(Message {
            notifications: vec![n],
            alerts: group_alerts,
        });
    }
    Ok(Pass {
        messages,
        given_up,
        escalation_steps,
    })
}

/// A deadline as the stores keep it, in whole seconds. A pass takes what is
/// due at its `now` rounded down, so a deadline still ahead of `now` (when
/// it is written) is rounded up: a step due at 09:05:00.6 is taken by the
/// first pass from 09:05:01, never by one at 09:05:00, 0.6 s early. One
/// already reached is due at once, rounded down.
pub fn deadline(due: Instant, now: Instant) -> Instant {
    let seconds = match due > now && due.timestamp_subsec_nanos() > 0 {
        true => due.timestamp() + 1,
        false => due.timestamp(),
    };
    chrono::DateTime::from_timestamp(seconds, 0).unwrap_or(due)
}

/// What a pass queued, for its claim.
#[derive(Default)]
struct Queued {
    /// Pages given up as they were queued (see `queue_page`).
    early: Vec<Notification>,
    /// The alerts it wrote a pending notification for.
    pending: BTreeSet<AlertId>,
}

/// Queues a notification, due at its deadline (see [`deadline`]).
fn queue(tx: &mut dyn PassTx, mut n: NewNotification, now: Instant, queued: &mut Queued) -> Result<(), StoreError> {
    n.due = deadline(n.due, now);
    queued.pending.extend(n.alert);
    tx.insert_notification(&n)
}

/// Queues a page of `alert` (as it is after its escalation in this pass).
/// One that the claim further on would give up at once (due by `now`, its
/// alert open, no channel for its method) is written given up instead, and
/// kept in `queued.early` for the claim to record as if it had read it (the
/// person's next method, the timeline): one row written once, rather than
/// written pending, read back and updated.
fn queue_page(
    tx: &mut dyn PassTx,
    cx: &PassContext,
    alert: &Alert,
    mut n: NewNotification,
    queued: &mut Queued,
) -> Result<(), StoreError> {
    let now = cx.now;
    n.due = deadline(n.due, now);
    let error = match cx.undeliverable(n.method) {
        Some(error) if n.due.timestamp() <= now.timestamp() && alert.status == Status::Open => error,
        // Pending: written by `queue`, which notes its alert (its deadline
        // is the same taken again).
        _ => return queue(tx, n, now, queued),
    };
    let id = tx.insert_given_up(&n, &error)?;
    queued.early.push(Notification {
        id,
        alert: n.alert,
        kind: n.kind,
        person: n.person,
        method: n.method,
        to: n.to,
        step: n.step,
        due: n.due,
        state: "pending".into(),
        attempts: 0,
        last_error: None,
        sent_at: None,
        payload: n.payload,
    });
    Ok(())
}

/// The pages of `alert` given up as they were queued whose turn in the
/// claim has not come yet (`waiting`): pending, as far as the person's next
/// method is concerned, as they would be had they been written pending.
fn early_pending(
    waiting: &BTreeSet<i64>,
    early: &BTreeMap<AlertId, Vec<Pending>>,
    alert: Option<AlertId>,
) -> Vec<Pending> {
    let Some(rows) = alert.and_then(|a| early.get(&a)) else {
        return Vec::new();
    };
    rows.iter().filter(|p| waiting.contains(&p.id)).cloned().collect()
}

/// A notification as [`PassTx::pending_of_alert`] would answer it.
fn as_pending(n: &Notification) -> Pending {
    Pending {
        id: n.id,
        person: n.person.clone(),
        step: n.step.map(|(s, _)| s as i64),
        round: n.step.map(|(_, r)| i64::from(r)),
        method: n.method.as_str().to_owned(),
        due_at: n.due.timestamp(),
    }
}

/// Reads alert `id` into `alerts` unless it is there already.
fn read_alert(tx: &mut dyn PassTx, alerts: &mut BTreeMap<AlertId, Alert>, id: AlertId) -> Result<(), StoreError> {
    if !alerts.contains_key(&id)
        && let Some(alert) = tx.alert(id)?
    {
        alerts.insert(id, alert);
    }
    Ok(())
}

/// Hands what may be announced since the last pass to [`Rules::announce`]
/// and queues what it returns: the opening of each alert new in this pass
/// (`new`, oldest first: an alert's `created` entry is not stored, see
/// `store::with_created_entry`), and each timeline entry written since the
/// `announce` cursor that is an acknowledgement or a resolution, in order;
/// the two merged by time, an opening before the entries of the same
/// second. Then moves the cursor past every entry so far. On the first
/// pass ever (no cursor yet) nothing before it is announced.
fn queue_announcements(
    tx: &mut dyn PassTx,
    rules: &Rules,
    alerts: &mut BTreeMap<AlertId, Alert>,
    new: &[AlertId],
    now: Instant,
    queued: &mut Queued,
) -> Result<(), StoreError> {
    let last = tx.last_event()?;
    let cursor = tx.cursor("announce")?;
    // Nothing to read when no team announces anything.
    if let Some(cursor) = cursor
        && rules.announces()
    {
        let entries = match cursor < last {
            true => tx.events_after(cursor)?,
            false => Vec::new(),
        };
        let mut openings = new.iter().copied().peekable();
        let mut entries = entries.into_iter().peekable();
        loop {
            let opening = match (openings.peek(), entries.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(id), Some(entry)) => {
                    read_alert(tx, alerts, *id)?;
                    alerts.get(id).is_none_or(|a| a.created_at.timestamp() <= entry.at)
                }
            };
            if opening {
                let Some(id) = openings.next() else { break };
                read_alert(tx, alerts, id)?;
                if let Some(alert) = alerts.get(&id) {
                    let detail = serde_json::Value::Null;
                    for n in rules.announce(alert, TimelineKind::Created, &detail, alert.created_at, now) {
                        queue(tx, n, now, queued)?;
                    }
                }
                continue;
            }
            let Some(entry) = entries.next() else { break };
            read_alert(tx, alerts, entry.alert)?;
            let (Some(alert), Some(kind)) = (alerts.get(&entry.alert), TimelineKind::parse(&entry.kind)) else {
                continue;
            };
            let detail: serde_json::Value = serde_json::from_str(&entry.detail).unwrap_or_default();
            let at = chrono::DateTime::from_timestamp(entry.at, 0).unwrap_or(now);
            for n in rules.announce(alert, kind, &detail, at, now) {
                queue(tx, n, now, queued)?;
            }
        }
    }
    if cursor != Some(last) {
        tx.set_cursor("announce", last)?;
    }
    Ok(())
}

/// What [`run_due_escalations`] did.
struct Escalations {
    /// The alerts it read, as they are after its changes.
    alerts: BTreeMap<AlertId, Alert>,
    /// The alerts new since the last pass, oldest first.
    new: Vec<AlertId>,
    /// How many steps fired.
    fired: u64,
}

/// One escalation to run: a row due now, or a new alert's first step.
struct ToRun {
    due: DueEscalation,
    /// A new alert, read with the others since the last pass: its
    /// escalation has no row yet.
    new: Option<Alert>,
}

/// Starts the escalation of every alert created since the last pass (due at
/// its creation; held alerts are moved to the end of their hold by the
/// decision) and runs the due escalations, in order of due time, then
/// alert.
///
/// A new alert's first step runs straight from the alert as read, in this
/// transaction: its escalation row is written only if there is a next
/// state (a later step, a repeat, a hold), never written and deleted in
/// one pass.
fn run_due_escalations(tx: &mut dyn PassTx, cx: &PassContext, queued: &mut Queued) -> Result<Escalations, StoreError> {
    let (rules, now) = (&cx.rules, cx.now);
    let at = now.timestamp();
    let mut steps = Steps::default();
    let mut seen = BTreeMap::new();
    let mut fired = 0;
    let mut due: Vec<ToRun> = tx
        .due_escalations(now)?
        .into_iter()
        .map(|due| ToRun { due, new: None })
        .collect();
    let cursor = tx.cursor("alerts")?.unwrap_or(0);
    let new = tx.alerts_after(cursor)?;
    let new_ids: Vec<AlertId> = new.iter().map(|a| a.id).collect();
    if let Some(last) = new.last() {
        tx.set_cursor("alerts", last.id)?;
    }
    for alert in new {
        let created = alert.created_at.timestamp();
        if due.iter().any(|d| d.due.alert == alert.id) {
            // Already has an escalation of its own: that one runs.
            continue;
        }
        let first = Escalation::Paging { step: 0, round: 0 };
        if created > at {
            // Created after this pass's `now` (a clock stepped back): due later.
            tx.set_escalation(alert.id, first, alert.created_at)?;
            continue;
        }
        due.push(ToRun {
            due: DueEscalation {
                alert: alert.id,
                state: first,
                due_at: created,
            },
            new: Some(alert),
        });
    }
    due.sort_by_key(|d| (d.due.due_at, d.due.alert));
    if !due.is_empty() {
        // Who has Web Push subscriptions, read once for the steps that fire.
        steps = Steps::with_web_push(tx.webpush_destinations()?);
    }
    for ToRun { due, new } in due {
        let (id, state) = (due.alert, due.state);
        let is_new = new.is_some();
        let alert = match new {
            Some(alert) => Some(alert),
            None => tx.alert(id)?,
        };
        let Some(mut alert) = alert else {
            tx.end_escalation(id)?;
            continue;
        };
        let taken = match rules.round_robin_step(&alert, state, now) {
            Some(step) => tx.take_turn(&alert.team, step)?,
            None => 0,
        };
        let decision = rules.escalate(&alert, state, taken, now, &mut steps);
        fired += decision
            .timeline
            .iter()
            .filter(|(kind, _)| *kind == TimelineKind::Escalated)
            .count() as u64;
        if decision.reopen && tx.reopen(id)? {
            alert.status = Status::Open;
            alert.acknowledged_at = None;
            alert.acknowledged_by = None;
        }
        for (kind, detail) in decision.timeline {
            tx.add_timeline(id, now, kind, detail)?;
        }
        for n in decision.notify {
            match n.kind {
                NoticeKind::Page => queue_page(tx, cx, &alert, n, queued)?,
                _ => queue(tx, n, now, queued)?,
            }
        }
        match decision.next {
            Some((next, due)) => tx.set_escalation(id, next, deadline(due, now))?,
            None if is_new => {}
            None => tx.end_escalation(id)?,
        }
        seen.insert(id, alert);
    }
    Ok(Escalations {
        alerts: seen,
        new: new_ids,
        fired,
    })
}

/// Records how the delivery of claimed notifications went: sent (a page
/// received, for the ledger), to retry later, or given up (the person's
/// next method brought forward); each on the alert's timeline.
pub fn record(tx: &mut dyn PassTx, attempts: &[Attempt], now: Instant) -> Result<(), StoreError> {
    for attempt in attempts {
        let bundle = attempt.ids.len();
        for (id, due) in attempt.notifications() {
            match &attempt.outcome {
                AttemptOutcome::Sent { reference } => {
                    let done = tx.mark_sent(id, now, due)?;
                    tx.sent_to(id, now)?;
                    if let Some(done) = done
                        && let Some(alert) = done.alert
                    {
                        let kind = Kind::of(&done);
                        // Only pages count as received (pay, burden): not
                        // a shadow's copy, not an announcement.
                        if kind == Kind::Page {
                            tx.page_received(alert, &done.person, now)?;
                        }
                        let detail = Sent {
                            person: &done.person,
                            method: &done.method,
                            attempt: done.attempts,
                            step: done.step,
                            round: done.round,
                            reference,
                            shadow_of: kind.shadow_of(),
                            announce: kind.announce(),
                            bundle: (bundle > 1).then_some(bundle),
                        };
                        tx.add_timeline(alert, now, TimelineKind::Notified, detail_text(&detail))?;
                    }
                }
                AttemptOutcome::Retry { at: retry, error } => {
                    let done = tx.mark_retry(id, deadline(*retry, now), error)?;
                    if let Some(done) = done
                        && let Some(alert) = done.alert
                    {
                        let kind = Kind::of(&done);
                        let detail = Retry {
                            person: &done.person,
                            method: &done.method,
                            attempt: done.attempts,
                            error,
                            retry_at: retry.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            shadow_of: kind.shadow_of(),
                            announce: kind.announce(),
                        };
                        tx.add_timeline(alert, now, TimelineKind::NotifyFailed, detail_text(&detail))?;
                    }
                }
                AttemptOutcome::Failed { error } => {
                    let done = tx.mark_failed(id, error, due)?;
                    give_up(tx, done, error, now, &[], false)?;
                }
            }
        }
    }
    Ok(())
}

/// What a recorded notification was, for the timeline and the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Page,
    /// A shadow's copy of the page of this person.
    Shadow(String),
    Announce,
}

impl Kind {
    /// What a notification was, from its kind and payload.
    fn of(done: &Done) -> Kind {
        let shadow_of = done
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .and_then(|p| p.get("shadow_of").and_then(|v| v.as_str()).map(str::to_string));
        match (done.kind.as_str(), shadow_of) {
            ("announce", _) => Kind::Announce,
            (_, Some(of)) => Kind::Shadow(of),
            _ => Kind::Page,
        }
    }

    /// Whose page a shadow's copy was, for the timeline.
    fn shadow_of(&self) -> Option<&str> {
        match self {
            Kind::Shadow(of) => Some(of),
            _ => None,
        }
    }

    /// `Some(true)` for an announcement, for the timeline.
    fn announce(&self) -> Option<bool> {
        (*self == Kind::Announce).then_some(true)
    }
}

/// The timeline entries of a delivery, each with its fields in this
/// order; `shadow_of`, `announce` and `bundle` only when they apply. (Typed
/// and written straight to text: see [`detail_text`].)
#[derive(Serialize)]
struct Sent<'a> {
    person: &'a str,
    method: &'a str,
    attempt: i64,
    step: Option<i64>,
    round: Option<i64>,
    reference: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shadow_of: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    announce: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bundle: Option<usize>,
}

#[derive(Serialize)]
struct Retry<'a> {
    person: &'a str,
    method: &'a str,
    attempt: i64,
    error: &'a str,
    retry_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    shadow_of: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    announce: Option<bool>,
}

#[derive(Serialize)]
struct GaveUp<'a> {
    person: &'a str,
    method: &'a str,
    attempt: i64,
    error: &'a str,
    gave_up: bool,
    next_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shadow_of: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    announce: Option<bool>,
}

/// After a notification was marked failed: brings the person's next method
/// for the same step forward (not for an announcement, which has none) and
/// says so on the alert's timeline. The person's pending notifications are
/// the store's and `also_pending`, or with `only`, `also_pending` alone (the
/// caller knows the store holds none of the alert's).
fn give_up(
    tx: &mut dyn PassTx,
    done: Option<Done>,
    error: &str,
    now: Instant,
    also_pending: &[Pending],
    only: bool,
) -> Result<(), StoreError> {
    let Some(done) = done else { return Ok(()) };
    let Some(alert) = done.alert else { return Ok(()) };
    let kind = Kind::of(&done);
    let at = now.timestamp();
    // The earliest of the person's pending notifications for the same step
    // and round (matched here, not in SQL: see `PENDING_OF_ALERT` in
    // `store/sqlite/engine.rs`).
    let mut pending: Option<(i64, i64, String)> = None;
    if kind != Kind::Announce {
        let stored = match only {
            true => Vec::new(),
            false => tx.pending_of_alert(alert)?,
        };
        for p in stored.into_iter().chain(also_pending.iter().cloned()) {
            let same = p.person == done.person && p.step == done.step && p.round == done.round;
            if same && pending.as_ref().is_none_or(|(i, d, _)| (p.due_at, p.id) < (*d, *i)) {
                pending = Some((p.id, p.due_at, p.method));
            }
        }
    }
    let next = match pending {
        Some((id, due, method)) if due > at => {
            tx.bring_forward(id, now)?;
            Some(method)
        }
        _ => None,
    };
    let detail = GaveUp {
        person: &done.person,
        method: &done.method,
        attempt: done.attempts,
        error,
        gave_up: true,
        next_method: next,
        shadow_of: kind.shadow_of(),
        announce: kind.announce(),
    };
    tx.add_timeline(alert, now, TimelineKind::NotifyFailed, detail_text(&detail))?;
    Ok(())
}

/// A placed phone call did not reach `person` (no answer, busy, failed,
/// cancelled, an answering machine): gives the call up for each of
/// `alerts` as a failed delivery is given up, so that the person's next
/// method for the same step is brought forward to now rather than waiting
/// out its delay. A report about a call already given up changes nothing.
pub fn not_reached(
    tx: &mut dyn PassTx,
    person: &str,
    alerts: &[AlertId],
    error: &str,
    now: Instant,
) -> Result<(), StoreError> {
    for &alert in alerts {
        let done = tx.mark_not_reached(alert, person, error)?;
        give_up(tx, done, error, now, &[], false)?;
    }
    Ok(())
}

/// Someone paged asked for the next step now (a phone call's key 2): each
/// of `alerts` still paging has its escalation made due at `now`, so the
/// next pass fires its next step. Answers how many were.
pub fn escalate_now(tx: &mut dyn PassTx, alerts: &[AlertId], now: Instant) -> Result<usize, StoreError> {
    let mut hurried = 0;
    for &alert in alerts {
        if tx.hurry_escalation(alert, now)? {
            hurried += 1;
        }
    }
    Ok(hurried)
}
