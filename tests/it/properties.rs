//! Properties of expansion that must hold for any rota and any window:
//! - the turns cover the window exactly, in order, with no overlap and no
//!   hole (gaps are turns too), and neighbours differ (contiguous turns of
//!   one crew are merged);
//! - expanding two halves of a window gives the same turns as the whole;
//! - the point look-ups (`on_call`, what `who` and paging use, and
//!   `on_call_at`) agree with the turns, and each person's tiles
//!   (`expand`, what `shifts`, pay and the ledger use) hold exactly the
//!   people of the turns, one person's never overlapping or touching;
//! - a layer's `end` switches it off and nothing else: before it the rota is
//!   as without the `end`, from it on as without the layer;
//! - a turn in seconds or parts (`every: 86400s`, `1d1h`) hands off where
//!   the RRULE form of the same length does (`every: 1d`, `25h`);
//! - a window from a weekday and time to a weekday and time is the union of
//!   the daily windows it is made of (`{from: "fri 18:00", to: "mon 08:00"}`
//!   is Friday from 18:00, Saturday, Sunday and Monday to 08:00);
//! - `first` puts that member on call from the start, and is the members
//!   written from there on, wrapping round;
//! - a rota of groups of k people is, person by person, k rotas of single
//!   people side by side (its groups' first people, their second people...);
//! - groups of one person are those people.

use chrono::Duration;
use oncall::config;
use oncall::domain::rota::{Crew, Tile, merge};
use oncall::domain::time::Span;
use proptest::prelude::*;

use crate::support::{PEOPLE, at};

const ZONES: &[&str] = &[
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "UTC",
];
const NAMES: &[&str] = &["alice", "bob", "carol", "dave", "erin"];
const RULES: &[&str] = &[
    "every: 1d",
    "every: 1w",
    "every: 2w",
    "every: 12h",
    "every: 8h",
    "every: 1h",
    "handoff: FREQ=WEEKLY;BYDAY=MO",
    "handoff: FREQ=WEEKLY;BYDAY=MO,TH",
    "handoff: FREQ=DAILY;BYHOUR=9,21",
    "handoff: FREQ=DAILY;INTERVAL=3",
    "handoff: FREQ=MONTHLY;BYDAY=1MO",
    "handoff: FREQ=WEEKLY;COUNT=5",
    "every: 1d1h",
    "every: 90061s",
    "every: 3605s",
];
const WINDOWS: &[&str] = &[
    "",
    "    active: [{days: [weekdays], from: \"08:00\", to: \"20:00\"}]\n",
    "    active: [{days: [mon, tue, wed, thu, fri], from: \"20:00\", to: \"08:00\"}]\n",
    "    active: [{days: [sat, sun]}, {days: [wed], from: \"01:30\", to: \"02:30\"}]\n",
    "    active: [{from: \"fri 18:00\", to: \"mon 08:00\"}]\n",
    "    active: [{from: \"mon 09:00\", to: \"fri 17:00\"}, {from: \"sun 01:30\", to: \"sun 02:30\"}]\n",
    "    active: [{from: \"wed 10:00\", to: \"wed 09:00\"}, {days: [wed], from: \"09:30\", to: \"09:45\"}]\n",
];

#[derive(Debug, Clone)]
struct LayerSpec {
    /// Each member a person, or a group of several (distinct) people.
    members: Vec<Vec<usize>>,
    start_minutes: i64,
    rule: usize,
    window: usize,
    /// `end`, in minutes after the start.
    end_minutes: Option<i64>,
    /// `first`: the first person of this member (an index into `members`,
    /// wrapped).
    first: Option<usize>,
}

#[derive(Debug, Clone)]
struct OverrideSpec {
    user: usize,
    instead_of: Option<usize>,
    start_minutes: i64,
    length_minutes: i64,
}

/// A member: mostly one person, sometimes a group of two or three.
fn member() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        3 => (0..NAMES.len()).prop_map(|m| vec![m]),
        1 => prop::sample::subsequence((0..NAMES.len()).collect::<Vec<_>>(), 2..=3).prop_shuffle(),
    ]
}

fn layer() -> impl Strategy<Value = LayerSpec> {
    (
        prop::collection::vec(member(), 1..4),
        0i64..(20 * 365 * 1440),
        0..RULES.len(),
        0..WINDOWS.len(),
        // At least two days: a start in a clock change's gap (a whole day in
        // Apia) can read later than an `end` closer to it, which is refused.
        prop::option::weighted(0.3, (2 * 1440i64)..(3 * 365 * 1440)),
        prop::option::weighted(0.3, 0usize..4),
    )
        .prop_map(|(members, start_minutes, rule, window, end_minutes, first)| LayerSpec {
            members,
            start_minutes,
            rule,
            window,
            end_minutes,
            first,
        })
}

fn override_spec() -> impl Strategy<Value = OverrideSpec> {
    (
        0..NAMES.len(),
        prop::option::of(0..NAMES.len()),
        0i64..(20 * 365 * 1440),
        1i64..(10 * 1440),
    )
        .prop_map(|(user, instead_of, start_minutes, length_minutes)| OverrideSpec {
            user,
            instead_of,
            start_minutes,
            length_minutes,
        })
}

/// Minutes after 2010-01-01T00:00 as a local time.
fn local(minutes: i64) -> String {
    let base = chrono::NaiveDate::from_ymd_opt(2010, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    (base + Duration::minutes(minutes)).format("%Y-%m-%dT%H:%M").to_string()
}

fn yaml(zone: usize, layers: &[LayerSpec], overrides: &[OverrideSpec]) -> String {
    written(zone, layers, overrides, false)
}

/// The team file; `groups_of_one`: each single person written as a group
/// of one (`[alice]`).
fn written(zone: usize, layers: &[LayerSpec], overrides: &[OverrideSpec], groups_of_one: bool) -> String {
    let mut text = format!("team: t\ntimezone: {}\nrotas:\n  r:\n    layers:\n", ZONES[zone]);
    for l in layers {
        text.push_str(&format!(
            "      - members: [{}]\n",
            members_yaml(&l.members, groups_of_one)
        ));
        if let Some(first) = l.first {
            text.push_str(&format!(
                "        first: {}\n",
                NAMES[l.members[first % l.members.len()][0]]
            ));
        }
        text.push_str(&format!("        start: {}\n", local(l.start_minutes)));
        if let Some(end) = l.end_minutes {
            text.push_str(&format!("        end: {}\n", local(l.start_minutes + end)));
        }
        text.push_str(&format!("        {}\n", RULES[l.rule]));
        for line in WINDOWS[l.window].lines() {
            text.push_str(&format!("    {line}\n"));
        }
    }
    if !overrides.is_empty() {
        text.push_str("overrides:\n");
        for o in overrides {
            text.push_str(&format!(
                "  - {{rota: r, user: {}, from: {}, to: {}{}}}\n",
                NAMES[o.user],
                local(o.start_minutes),
                local(o.start_minutes + o.length_minutes),
                o.instead_of
                    .map(|x| format!(", instead_of: {}", NAMES[x]))
                    .unwrap_or_default()
            ));
        }
    }
    text
}

/// `members` as written: a person as `alice`, a group as `[alice, bob]`.
fn members_yaml(members: &[Vec<usize>], groups_of_one: bool) -> String {
    let written: Vec<String> = members
        .iter()
        .map(|m| match &m[..] {
            [one] if !groups_of_one => NAMES[*one].to_string(),
            group => format!("[{}]", group.iter().map(|p| NAMES[*p]).collect::<Vec<_>>().join(", ")),
        })
        .collect();
    written.join(", ")
}

fn check_tiling(tiles: &[Tile<Crew>], window: Span) -> Result<(), TestCaseError> {
    prop_assert!(!tiles.is_empty());
    prop_assert_eq!(tiles[0].span.start, window.start);
    prop_assert_eq!(tiles[tiles.len() - 1].span.end, window.end);
    for t in tiles {
        prop_assert!(!t.span.is_empty(), "empty tile {:?}", t);
    }
    for pair in tiles.windows(2) {
        prop_assert_eq!(pair[0].span.end, pair[1].span.start, "hole or overlap at {:?}", pair);
        prop_assert_ne!(&pair[0].user, &pair[1].user, "unmerged neighbours {:?}", pair);
    }
    Ok(())
}

proptest! {
    // 200 cases by default; `PROPTEST_CASES=20000` for a deeper search.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200),
        ..ProptestConfig::default()
    })]

    #[test]
    fn tiles_cover_the_window_and_splitting_changes_nothing(
        zone in 0..ZONES.len(),
        layers in prop::collection::vec(layer(), 1..4),
        overrides in prop::collection::vec(override_spec(), 0..4),
        window_start in 0i64..(22 * 365 * 1440),
        window_minutes in 1i64..(45 * 1440),
        split in 0.0f64..1.0,
        probes in prop::collection::vec(0.0f64..1.0, 8),
    ) {
        let text = yaml(zone, &layers, &overrides);
        let loaded = config::load_texts(&[("people.yaml", PEOPLE), ("t.yaml", &text)]);
        let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
        prop_assert!(errors.is_empty(), "{}\n{}", text, errors.join("\n"));
        let rota = &loaded.schedule.teams[0].rotas[0];

        let start = at("2010-01-01T00:00:00Z") + Duration::minutes(window_start);
        let window = Span::new(start, start + Duration::minutes(window_minutes));
        let whole = rota.turns(window);
        check_tiling(&whole, window)?;

        let cut = start + Duration::seconds(((window_minutes * 60) as f64 * split) as i64).max(Duration::seconds(1));
        if cut < window.end {
            let mut halves = rota.turns(Span::new(window.start, cut));
            halves.extend(rota.turns(Span::new(cut, window.end)));
            prop_assert_eq!(merge(halves), whole.clone(), "{}", text);
        }

        // Each person's tiles: never overlapping or touching one another.
        let people = rota.expand(window);
        for (i, a) in people.iter().enumerate() {
            for b in &people[i + 1..] {
                if a.user.is_some() && a.user == b.user {
                    prop_assert!(a.span.end < b.span.start || b.span.end < a.span.start, "{:?} {:?} in\n{}", a, b, text);
                }
            }
        }
        for p in probes {
            let t = start + Duration::seconds(((window_minutes * 60) as f64 * p) as i64);
            let tile = whole.iter().find(|x| x.span.contains(t)).unwrap();
            let crew: Vec<&String> = tile.user.iter().flatten().collect();
            prop_assert_eq!(&rota.on_call(t), &crew, "at {} in\n{}", t, text);
            prop_assert_eq!(rota.on_call_at(t), crew.first().copied(), "at {} in\n{}", t, text);
            let mut there: Vec<&String> = people
                .iter()
                .filter(|x| x.span.contains(t))
                .filter_map(|x| x.user.as_ref())
                .collect();
            let mut expected = crew.clone();
            there.sort();
            expected.sort();
            prop_assert_eq!(there, expected, "at {} in\n{}", t, text);
        }
    }
}

/// The instant of a layer's `end` as the rota read it.
fn end_of(text: &str, layer: usize) -> oncall::domain::time::Instant {
    let loaded = config::load_texts(&[("people.yaml", PEOPLE), ("t.yaml", text)]);
    loaded.schedule.teams[0].rotas[0].layers[layer]
        .end
        .expect("the layer has an end")
}

fn rota_of(text: &str) -> Result<oncall::domain::rota::Rota, TestCaseError> {
    let loaded = config::load_texts(&[("people.yaml", PEOPLE), ("t.yaml", text)]);
    let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
    prop_assert!(errors.is_empty(), "{}\n{}", text, errors.join("\n"));
    Ok(loaded.schedule.teams[0].rotas[0].clone())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(100),
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_layers_end_switches_it_off_and_nothing_else(
        zone in 0..ZONES.len(),
        layers in prop::collection::vec(layer(), 2..4),
        ended in 0usize..4,
        end_minutes in (2 * 1440i64)..(2 * 365 * 1440),
        overrides in prop::collection::vec(override_spec(), 0..3),
        window_start in 0i64..(22 * 365 * 1440),
        window_minutes in 1i64..(45 * 1440),
    ) {
        let ended = ended % layers.len();
        let mut without_end = layers.clone();
        without_end[ended].end_minutes = None;
        let mut with_end = without_end.clone();
        with_end[ended].end_minutes = Some(end_minutes);
        let mut without_layer = without_end.clone();
        without_layer.remove(ended);
        let text = yaml(zone, &with_end, &overrides);
        let (rota, before, after) = (
            rota_of(&text)?,
            rota_of(&yaml(zone, &without_end, &overrides))?,
            rota_of(&yaml(zone, &without_layer, &overrides))?,
        );
        let end = end_of(&text, ended);

        let start = at("2010-01-01T00:00:00Z") + Duration::minutes(window_start);
        let window = Span::new(start, start + Duration::minutes(window_minutes));
        let mut expected = before.turns(window.intersect(&Span::new(window.start, end)));
        expected.extend(after.turns(window.intersect(&Span::new(end, window.end))));
        prop_assert_eq!(rota.turns(window), merge(expected), "{}", text);
    }
}

/// Turns written two ways: in seconds or parts, and as the one-unit form of
/// the same length (an RRULE).
const SAME_TURNS: &[(&str, &str)] = &[
    ("86400s", "1d"),
    ("1d0h", "1d"),
    ("604800s", "1w"),
    ("1d1h", "25h"),
    ("5400s", "90m"),
    ("1h30m", "90m"),
    ("12h0m0s", "12h"),
    ("1w1d", "8d"),
    ("1w7d", "2w"),
    ("60s", "1m"),
];

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(100),
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_turn_in_seconds_hands_off_where_its_rule_does(
        zone in 0..ZONES.len(),
        turn in 0..SAME_TURNS.len(),
        members in prop::collection::vec(0..NAMES.len(), 1..4),
        start_minutes in 0i64..(20 * 365 * 1440),
        start_second in 0i64..60,
        skipped in prop::option::of(1i64..2000),
        window_start in 0i64..(22 * 365 * 1440),
        window_minutes in 1i64..(10 * 1440),
    ) {
        let (seconds, rule) = SAME_TURNS[turn];
        let names: Vec<&str> = members.iter().map(|m| NAMES[*m]).collect();
        let base = chrono::NaiveDate::from_ymd_opt(2010, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
        let start = base + Duration::minutes(start_minutes) + Duration::seconds(start_second);
        // An `except` at the `skipped`th hand-off (local time), the same in both forms.
        let length = oncall::config::text::parse_every(seconds);
        let Ok(oncall::config::text::Every::Seconds(length)) = length else {
            return Err(TestCaseError::fail(format!("{seconds}: {length:?}")));
        };
        let except = skipped
            .map(|k| format!("    except: [{}]\n", (start + Duration::seconds(k * length)).format("%Y-%m-%dT%H:%M:%S")))
            .unwrap_or_default();
        let text = |every: &str| {
            format!(
                "team: t\ntimezone: {}\nrotas:\n  r:\n    members: [{}]\n    start: {}\n    every: {every}\n{except}",
                ZONES[zone],
                names.join(", "),
                start.format("%Y-%m-%dT%H:%M:%S"),
            )
        };
        let (by_seconds, by_rule) = (rota_of(&text(seconds))?, rota_of(&text(rule))?);
        let from = at("2010-01-01T00:00:00Z") + Duration::minutes(window_start);
        let window = Span::new(from, from + Duration::minutes(window_minutes));
        prop_assert_eq!(by_seconds.expand(window), by_rule.expand(window), "{}", text(seconds));
        let t = from + Duration::minutes(window_minutes / 2);
        prop_assert_eq!(by_seconds.on_call_at(t), by_rule.on_call_at(t));
    }
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(100),
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_window_across_days_is_the_union_of_its_days(
        zone in 0..ZONES.len(),
        from_day in 0usize..7,
        from in 0u32..1440,
        to_day in 0usize..7,
        to in 0u32..1440,
        start_minutes in 0i64..(20 * 365 * 1440),
        window_start in 0i64..(22 * 365 * 1440),
        window_minutes in 1i64..(30 * 1440),
    ) {
        // Whole quarter hours, as people write them (and clock changes are).
        let (from, to) = (from / 15 * 15, to / 15 * 15);
        prop_assume!(from_day != to_day || from != to);
        let mut days_on = (7 + to_day - from_day) % 7;
        if days_on == 0 && to < from {
            days_on = 7;
        }
        // The same stretch as daily windows: the first day from `from`, the
        // days between whole, the last day to `to` (or within one day).
        let mut pieces = Vec::new();
        if days_on == 0 {
            pieces.push(format!("{{days: {}, from: \"{}\", to: \"{}\"}}", DAYS[from_day], hhmm(from), hhmm(to)));
        } else {
            pieces.push(format!("{{days: {}, from: \"{}\", to: \"24:00\"}}", DAYS[from_day], hhmm(from)));
            for k in 1..days_on {
                pieces.push(format!("{{days: {}}}", DAYS[(from_day + k) % 7]));
            }
            if to > 0 {
                pieces.push(format!("{{days: {}, to: \"{}\"}}", DAYS[to_day], hhmm(to)));
            }
        }
        let text = |active: &str| {
            format!(
                "team: t\ntimezone: {}\nrotas:\n  r:\n    members: [alice, bob]\n    start: {}\n    every: 1d\n    active: [{active}]\n",
                ZONES[zone],
                local(start_minutes),
            )
        };
        let spanning = text(&format!(
            "{{from: \"{} {}\", to: \"{} {}\"}}",
            DAYS[from_day], hhmm(from), DAYS[to_day], hhmm(to)
        ));
        let (one, daily) = (rota_of(&spanning)?, rota_of(&text(&pieces.join(", ")))?);
        let begin = at("2010-01-01T00:00:00Z") + Duration::minutes(window_start);
        let window = Span::new(begin, begin + Duration::minutes(window_minutes));
        let tiles = one.expand(window);
        prop_assert_eq!(&tiles, &daily.expand(window), "{}", spanning);
        // And `who` (a point look-up, by wall clocks away from clock changes)
        // agrees with the tiles at each of their edges and just before.
        for tile in &tiles {
            for t in [tile.span.start, tile.span.end - Duration::seconds(1)] {
                prop_assert_eq!(one.on_call_at(t), tile.user.as_ref(), "at {} in\n{}", t, spanning);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(100),
        ..ProptestConfig::default()
    })]

    #[test]
    fn first_starts_the_turns_from_that_member(
        zone in 0..ZONES.len(),
        spec in layer(),
        first in 0usize..4,
        overrides in prop::collection::vec(override_spec(), 0..3),
        window_start in 0i64..(22 * 365 * 1440),
        window_minutes in 1i64..(30 * 1440),
    ) {
        let mut with_first = spec.clone();
        with_first.first = Some(first);
        // The same rota without `first`, its members written from the first
        // member that holds the person `first` names.
        let members = &spec.members;
        let person = members[first % members.len()][0];
        let at_first = members.iter().position(|m| m.contains(&person)).unwrap();
        let mut turned = spec.clone();
        turned.first = None;
        turned.members.rotate_left(at_first);
        let text = yaml(zone, std::slice::from_ref(&with_first), &overrides);
        let (rota, same) = (rota_of(&text)?, rota_of(&yaml(zone, &[turned], &overrides))?);
        let begin = at("2010-01-01T00:00:00Z") + Duration::minutes(window_start);
        let window = Span::new(begin, begin + Duration::minutes(window_minutes));
        prop_assert_eq!(rota.turns(window), same.turns(window), "{}", text);
        prop_assert_eq!(rota.expand(window), same.expand(window), "{}", text);
        // Where the layer is on at its start, `first` is scheduled there.
        let start = rota.layers[0].handoffs.instant(0).unwrap();
        if let Some(on) = rota.layers[0].member_at(start) {
            prop_assert!(on.iter().any(|p| p == NAMES[person]), "{:?} in\n{}", on, text);
        }
    }
}

/// Each person's stretches among `tiles`, merged where they touch.
fn by_person(tiles: impl IntoIterator<Item = Tile>) -> std::collections::BTreeMap<String, Vec<Span>> {
    let mut out: std::collections::BTreeMap<String, Vec<Span>> = Default::default();
    for tile in tiles {
        if let Some(user) = tile.user {
            out.entry(user).or_default().push(tile.span);
        }
    }
    for spans in out.values_mut() {
        spans.sort();
        let mut merged: Vec<Span> = Vec::new();
        for s in spans.drain(..) {
            match merged.last_mut() {
                Some(last) if last.end >= s.start => last.end = last.end.max(s.end),
                _ => merged.push(s),
            }
        }
        *spans = merged;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(100),
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_rota_of_groups_is_rotas_of_people_side_by_side(
        zone in 0..ZONES.len(),
        spec in layer(),
        size in 2usize..4,
        groups in prop::collection::vec(prop::sample::subsequence((0..NAMES.len()).collect::<Vec<_>>(), 3).prop_shuffle(), 1..4),
        window_start in 0i64..(22 * 365 * 1440),
        window_minutes in 1i64..(30 * 1440),
    ) {
        // Groups of `size` distinct people; lane i is the rota of each
        // group's person i, with the same start, rule, windows and end.
        let groups: Vec<Vec<usize>> = groups.into_iter().map(|g| g[..size].to_vec()).collect();
        let mut grouped = spec.clone();
        grouped.members = groups.clone();
        grouped.first = None;
        let text = yaml(zone, std::slice::from_ref(&grouped), &[]);
        let rota = rota_of(&text)?;
        let begin = at("2010-01-01T00:00:00Z") + Duration::minutes(window_start);
        let window = Span::new(begin, begin + Duration::minutes(window_minutes));
        let mut lanes = Vec::new();
        for i in 0..size {
            let mut lane = grouped.clone();
            lane.members = groups.iter().map(|g| vec![g[i]]).collect();
            lanes.extend(rota_of(&yaml(zone, &[lane], &[]))?.expand(window));
        }
        prop_assert_eq!(by_person(rota.expand(window)), by_person(lanes), "{}", text);
    }

    #[test]
    fn groups_of_one_are_those_people(
        zone in 0..ZONES.len(),
        layers in prop::collection::vec(layer(), 1..3),
        overrides in prop::collection::vec(override_spec(), 0..4),
        window_start in 0i64..(22 * 365 * 1440),
        window_minutes in 1i64..(30 * 1440),
    ) {
        // Every member a single person, written plain and as a group of one.
        let plain: Vec<LayerSpec> = layers
            .iter()
            .map(|l| LayerSpec { members: l.members.iter().map(|m| vec![m[0]]).collect(), ..l.clone() })
            .collect();
        let text = yaml(zone, &plain, &overrides);
        let as_groups = written(zone, &plain, &overrides, true);
        prop_assert_ne!(&text, &as_groups);
        let (people, groups) = (rota_of(&text)?, rota_of(&as_groups)?);
        let begin = at("2010-01-01T00:00:00Z") + Duration::minutes(window_start);
        let window = Span::new(begin, begin + Duration::minutes(window_minutes));
        prop_assert_eq!(people.turns(window), groups.turns(window), "{}\n{}", text, as_groups);
        prop_assert_eq!(people.expand(window), groups.expand(window), "{}\n{}", text, as_groups);
    }
}
