//! A rota: layers of hand-off rotations, active windows, and overrides,
//! expanded into who is on call over any window of time.
//!
//! A turn belongs to a *crew*: one person, or a group of people on call
//! together (`members: [[alice, bob], carol]`). The composition, at any
//! instant `t`:
//! 1. each layer is *on* at `t` when `t` is at or after its start, before
//!    its end (if it has one) and inside one of its active windows (a layer
//!    without windows is always active); it then names the crew of the
//!    hand-off in force at `t`;
//! 2. the scheduled crew is the one named by the *last* layer that is on;
//!    where no layer is on, the rota has a gap;
//! 3. overrides fill *seats*: each person of the scheduled crew holds a seat;
//!    a full cover (no `instead_of`) that applies at `t` fills every seat,
//!    and a swap fills the seat of its `instead_of` (so it applies only where
//!    that person is scheduled). Each seat is held by the person of the last
//!    override (in file order) that fills it, or else by its scheduled
//!    person; the crew on call is the seats' holders, each once, in seat
//!    order. In a gap there are no seats, and the last full cover, if any,
//!    names the one person on call.
//!
//! For a crew of one this is the rule of one person: the last applicable
//! override names the person on call. Every instant maps to exactly one crew
//! or to a gap: [`Rota::turns`] tiles a range with crews. The rest of the
//! program mostly asks about people: [`Rota::expand`] gives each person's
//! stretches (a crew of two is two tiles over the same time), which for
//! rotas of single people are the same tiles.
//!
//! Shadows (people learning the rota) sit beside this, never in it: a
//! [`Shadow`] follows a person on call (one named person, or whoever it is:
//! during a group's turn, the first of the group) and [`Rota::shadow_tiles`]
//! says when, paired with whom. A shadow never changes a tile, so a gap with
//! a shadow present is still a gap.

use chrono_tz::Tz;

use super::handoff::Handoffs;
use super::time::{Instant, LocalReader, Span};
use super::window::{ActiveWindow, active_spans, is_active};

/// A person's identifier, the key under `people:`.
pub type PersonId = String;

/// The people of one turn, in the order written: one person, or a group on
/// call together. Never empty.
pub type Crew = Vec<PersonId>;

/// One rotation of members handing over at [`Handoffs`] instants.
#[derive(Debug)]
pub struct Layer {
    /// In turn order; each a crew of one person or of a group.
    pub members: Vec<Crew>,
    pub handoffs: Handoffs,
    /// Empty: always active.
    pub active: Vec<ActiveWindow>,
    /// The layer is off from this instant on; `None`: it never stops.
    pub end: Option<Instant>,
}

/// Someone covering a rota for a while.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    pub span: Span,
    pub user: PersonId,
    /// A swap: cover only where this person is scheduled, in their seat.
    pub instead_of: Option<PersonId>,
}

/// Cheap to clone: the layers (with their hand-off caches) are shared.
#[derive(Clone, Debug)]
pub struct Rota {
    pub name: String,
    pub tz: Tz,
    pub layers: Vec<std::sync::Arc<Layer>>,
    /// In the order they were written; later ones win.
    pub overrides: Vec<Override>,
    /// People learning the rota, in the order written.
    pub shadows: Vec<Shadow>,
}

/// Someone shadowing a rota: they get a copy of the pages of the person they
/// shadow, are never escalated to, and never count as coverage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shadow {
    pub user: PersonId,
    /// Only while this person is on call; `None`: whoever is on call.
    pub of: Option<PersonId>,
    /// Only within this span; `None`: every shift.
    pub span: Option<Span>,
}

/// A stretch during which `user` shadows `of`, who is on call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShadowTile {
    pub span: Span,
    pub user: PersonId,
    pub of: PersonId,
}

/// A stretch of time with someone on call, or nobody (`user == None`, a
/// gap): one person (`Tile`, the default), or a crew (`Tile<Crew>`).
///
/// The expansion works on tiles that borrow the people from the rota
/// (`Tile<OnDuty>`, `Tile<&PersonId>`, see [`Rota::expand_borrowed`]): a
/// tile is copied at every step (each layer, each override), and copying a
/// name each time was much of the cost of `oncall shifts` over a year of
/// many rotas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tile<U = PersonId> {
    pub span: Span,
    pub user: Option<U>,
}

impl Tile<&PersonId> {
    pub fn to_owned(&self) -> Tile {
        Tile {
            span: self.span,
            user: self.user.cloned(),
        }
    }
}

impl Tile<OnDuty<'_>> {
    pub fn to_owned(&self) -> Tile<Crew> {
        Tile {
            span: self.span,
            user: self.user.as_ref().map(OnDuty::to_crew),
        }
    }
}

/// The crew of a turn, borrowed from the rota: as a layer or an override
/// lists it, or, where a swap changed one seat of a group, made anew. Two
/// are equal when they name the same people in the same order, however
/// they were made.
#[derive(Clone, Debug)]
pub enum OnDuty<'a> {
    Listed(&'a [PersonId]),
    Made(Vec<&'a PersonId>),
}

impl<'a> OnDuty<'a> {
    /// The crew of `person` alone.
    pub fn one(person: &'a PersonId) -> OnDuty<'a> {
        OnDuty::Listed(std::slice::from_ref(person))
    }

    /// The people, in seat order.
    pub fn people(&self) -> impl Iterator<Item = &'a PersonId> + '_ {
        let (listed, made) = match self {
            OnDuty::Listed(l) => (Some(l.iter()), None),
            OnDuty::Made(m) => (None, Some(m.iter().copied())),
        };
        listed.into_iter().flatten().chain(made.into_iter().flatten())
    }

    pub fn len(&self) -> usize {
        match self {
            OnDuty::Listed(l) => l.len(),
            OnDuty::Made(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first person (a crew is never empty).
    pub fn first(&self) -> Option<&'a PersonId> {
        self.people().next()
    }

    pub fn contains(&self, person: &PersonId) -> bool {
        self.people().any(|p| p == person)
    }

    pub fn to_crew(&self) -> Crew {
        self.people().cloned().collect()
    }
}

impl PartialEq for OnDuty<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (OnDuty::Listed(a), OnDuty::Listed(b)) => a == b,
            _ => self.people().eq(other.people()),
        }
    }
}

impl Eq for OnDuty<'_> {}

impl Layer {
    /// Everyone the layer names, in the order written (a person in several
    /// of its turns more than once).
    pub fn people(&self) -> impl Iterator<Item = &PersonId> {
        self.members.iter().flatten()
    }

    /// The crew on call at `t` if this layer is on at `t`.
    pub fn member_at(&self, t: Instant) -> Option<&[PersonId]> {
        if self.end.is_some_and(|end| t >= end) {
            return None;
        }
        let j = self.handoffs.index_at(t)?;
        if !self.active.is_empty() && !is_active(self.handoffs.tz(), &self.active, t) {
            return None;
        }
        Some(&self.members[(j % self.members.len() as u64) as usize])
    }

    /// The stretches of `range` when this layer is on, with its crew,
    /// sorted and not overlapping.
    pub fn tiles(&self, range: Span) -> Vec<Tile<OnDuty<'_>>> {
        let mut tiles = Vec::new();
        // Nothing from the layer's end on: the range stops there.
        let range = match self.end {
            Some(end) if end < range.end => Span::new(range.start, end),
            _ => range,
        };
        if range.is_empty() {
            return tiles;
        }
        let mut j = self.handoffs.index_at(range.start).unwrap_or(0);
        let Some(mut at) = self.handoffs.instant(j) else {
            return tiles;
        };
        let mut reader = LocalReader::new(self.handoffs.tz());
        while at < range.end {
            let next = self.handoffs.instant_with(j + 1, &mut reader);
            let end = next.unwrap_or(range.end).min(range.end);
            let span = Span::new(at.max(range.start), end);
            if !span.is_empty() {
                let crew = &self.members[(j % self.members.len() as u64) as usize];
                tiles.push(Tile {
                    span,
                    user: Some(OnDuty::Listed(crew)),
                });
            }
            match next {
                Some(n) => at = n.max(at),
                None => break,
            }
            j += 1;
        }
        if self.active.is_empty() {
            return tiles;
        }
        let windows = active_spans(self.handoffs.tz(), &self.active, range);
        intersect(&tiles, &windows)
    }
}

impl Rota {
    /// The crew the layers schedule at `t`, before overrides.
    pub fn scheduled_at(&self, t: Instant) -> Option<&[PersonId]> {
        self.layers.iter().rev().find_map(|l| l.member_at(t))
    }

    /// The crew on call at `t`, overrides applied; `None` is a gap.
    pub fn turn_at(&self, t: Instant) -> Option<OnDuty<'_>> {
        let scheduled = self.scheduled_at(t).map(OnDuty::Listed);
        let applying: Vec<&Override> = self.overrides.iter().filter(|o| o.span.contains(t)).collect();
        seats(scheduled.as_ref(), &applying)
    }

    /// Everyone on call at `t`, in seat order; empty in a gap.
    pub fn on_call(&self, t: Instant) -> Vec<&PersonId> {
        self.turn_at(t).map(|crew| crew.people().collect()).unwrap_or_default()
    }

    /// The first person on call at `t` (all of them for a rota of single
    /// people); `None` is a gap. Whoever pages or lists who is on call
    /// wants [`Rota::on_call`]: during a group's turn, everyone in it.
    pub fn on_call_at(&self, t: Instant) -> Option<&PersonId> {
        self.turn_at(t).and_then(|crew| crew.first())
    }

    /// The tiles of `range` before overrides: exactly tiling it, gaps included,
    /// neighbours with the same crew merged.
    pub fn scheduled(&self, range: Span) -> Vec<Tile<OnDuty<'_>>> {
        let mut timeline = vec![Tile {
            span: range,
            user: None,
        }];
        for layer in &self.layers {
            timeline = overlay(&timeline, &layer.tiles(range));
        }
        merge(timeline)
    }

    /// The crews of `range`: exactly tiling it, gaps included, overrides
    /// applied, neighbours with the same crew merged.
    pub fn turns(&self, range: Span) -> Vec<Tile<Crew>> {
        self.turns_borrowed(range)
            .iter()
            .map(Tile::<OnDuty>::to_owned)
            .collect()
    }

    /// [`Rota::turns`], the people borrowed from the rota.
    pub fn turns_borrowed(&self, range: Span) -> Vec<Tile<OnDuty<'_>>> {
        if range.is_empty() {
            return Vec::new();
        }
        let scheduled = self.scheduled(range);
        let overrides: Vec<&Override> = self
            .overrides
            .iter()
            .filter(|o| !o.span.intersect(&range).is_empty())
            .collect();
        if overrides.is_empty() {
            // Already merged; most rotas have no override in a given window.
            return scheduled;
        }
        // Between two of these instants, and within one scheduled tile, the
        // same overrides apply to the same crew.
        let mut cuts: Vec<Instant> = overrides
            .iter()
            .flat_map(|o| [o.span.start, o.span.end])
            .filter(|t| range.contains(*t))
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut timeline = Vec::with_capacity(scheduled.len() + cuts.len());
        for tile in &scheduled {
            let first = cuts.partition_point(|c| *c <= tile.span.start);
            let last = cuts.partition_point(|c| *c < tile.span.end);
            let ends = cuts[first..last].iter().copied().chain([tile.span.end]);
            let mut start = tile.span.start;
            for end in ends {
                let applying: Vec<&Override> = overrides.iter().copied().filter(|o| o.span.contains(start)).collect();
                timeline.push(Tile {
                    span: Span::new(start, end),
                    user: seats(tile.user.as_ref(), &applying),
                });
                start = end;
            }
        }
        merge(timeline)
    }

    /// Each person's stretches within `range`, and the gaps: for a rota of
    /// single people, exactly its turns. A group's turn gives a tile to each
    /// of its people over the same time; a person on call through
    /// consecutive turns (`[alice, bob]` then `[alice, carol]`) has one tile
    /// across them. In time order, people who start together in seat order;
    /// one person's tiles never overlap or touch.
    pub fn expand(&self, range: Span) -> Vec<Tile> {
        self.expand_borrowed(range)
            .iter()
            .map(Tile::<&PersonId>::to_owned)
            .collect()
    }

    /// [`Rota::expand`], the people borrowed from the rota.
    pub fn expand_borrowed(&self, range: Span) -> Vec<Tile<&PersonId>> {
        people_tiles(&self.turns_borrowed(range))
    }

    /// The shadows' stretches within `range`: each shadow (in the order
    /// written) is paired with a person on call wherever that person is the
    /// one they follow, within their span: `of`, or else the first of the
    /// crew. Nobody shadows a gap, and nobody shadows while on call.
    pub fn shadow_tiles(&self, range: Span) -> Vec<ShadowTile> {
        if self.shadows.is_empty() || range.is_empty() {
            return Vec::new();
        }
        let tiles = self.turns_borrowed(range);
        let mut out: Vec<ShadowTile> = Vec::new();
        for shadow in &self.shadows {
            let within = match shadow.span {
                Some(span) => span.intersect(&range),
                None => range,
            };
            if within.is_empty() {
                continue;
            }
            for tile in &tiles {
                let Some(crew) = &tile.user else { continue };
                let Some(of) = followed(shadow, crew) else { continue };
                let span = tile.span.intersect(&within);
                if span.is_empty() {
                    continue;
                }
                // Following one person through consecutive turns is one stretch.
                match out.last_mut() {
                    Some(last) if last.user == shadow.user && last.of == *of && last.span.end == span.start => {
                        last.span.end = span.end;
                    }
                    _ => out.push(ShadowTile {
                        span,
                        user: shadow.user.clone(),
                        of: of.clone(),
                    }),
                }
            }
        }
        out
    }

    /// Who shadows whom at `t`: (shadow, the person on call they follow).
    pub fn shadows_at(&self, t: Instant) -> Vec<(&PersonId, &PersonId)> {
        let Some(crew) = self.turn_at(t) else {
            return Vec::new();
        };
        self.shadows
            .iter()
            .filter(|s| s.span.is_none_or(|span| span.contains(t)))
            .filter_map(|s| followed(s, &crew).map(|of| (&s.user, of)))
            .collect()
    }

    /// The gaps (nobody on call) within `range`.
    pub fn gaps(&self, range: Span) -> Vec<Span> {
        self.turns_borrowed(range)
            .into_iter()
            .filter(|t| t.user.is_none())
            .map(|t| t.span)
            .collect()
    }
}

/// The person of `crew` whom `shadow` follows: their `of` if on call, or
/// else the first of the crew; nobody while the shadow is on call themselves.
fn followed<'a>(shadow: &Shadow, crew: &OnDuty<'a>) -> Option<&'a PersonId> {
    if crew.contains(&shadow.user) {
        return None;
    }
    match &shadow.of {
        Some(of) => crew.people().find(|p| *p == of),
        None => crew.first(),
    }
}

/// The crew on call where `scheduled` is scheduled and the overrides
/// `applying` (in file order) apply: the seats rule of the module docs.
fn seats<'a>(scheduled: Option<&OnDuty<'a>>, applying: &[&'a Override]) -> Option<OnDuty<'a>> {
    if applying.is_empty() {
        return scheduled.cloned();
    }
    let Some(crew) = scheduled else {
        // A gap has no seats: only a full cover puts someone on call.
        return applying
            .iter()
            .rev()
            .find(|o| o.instead_of.is_none())
            .map(|o| OnDuty::one(&o.user));
    };
    let mut people: Vec<&'a PersonId> = Vec::with_capacity(crew.len());
    for seat in crew.people() {
        let holder = applying
            .iter()
            .rev()
            .find(|o| o.instead_of.as_ref().is_none_or(|x| x == seat))
            .map_or(seat, |o| &o.user);
        if !people.contains(&holder) {
            people.push(holder);
        }
    }
    match people[..] {
        [one] => Some(OnDuty::one(one)),
        _ => Some(OnDuty::Made(people)),
    }
}

/// Each person's stretches in `turns` (sorted, tiling), and the gaps: see
/// [`Rota::expand`].
fn people_tiles<'a>(turns: &[Tile<OnDuty<'a>>]) -> Vec<Tile<&'a PersonId>> {
    if turns.iter().all(|t| t.user.as_ref().is_none_or(|crew| crew.len() == 1)) {
        // Single people (the rule): merged turns are merged stretches.
        return turns
            .iter()
            .map(|t| Tile {
                span: t.span,
                user: t.user.as_ref().and_then(OnDuty::first),
            })
            .collect();
    }
    let mut out: Vec<Tile<&PersonId>> = Vec::with_capacity(turns.len() * 2);
    // The people on call up to the current tile's start, with the index of
    // their stretch in `out`.
    let mut open: Vec<(&PersonId, usize)> = Vec::new();
    for tile in turns {
        let Some(crew) = &tile.user else {
            open.clear();
            out.push(Tile {
                span: tile.span,
                user: None,
            });
            continue;
        };
        let mut now_open = Vec::with_capacity(crew.len());
        for person in crew.people() {
            match open.iter().find(|(p, _)| *p == person) {
                Some(&(_, i)) if out[i].span.end == tile.span.start => {
                    out[i].span.end = tile.span.end;
                    now_open.push((person, i));
                }
                _ => {
                    out.push(Tile {
                        span: tile.span,
                        user: Some(person),
                    });
                    now_open.push((person, out.len() - 1));
                }
            }
        }
        open = now_open;
    }
    out
}

/// `base` (tiling some range) with `top` (sorted, non-overlapping, within the
/// range) painted over it.
fn overlay<U: Clone>(base: &[Tile<U>], top: &[Tile<U>]) -> Vec<Tile<U>> {
    let mut out = Vec::with_capacity(base.len() + 2 * top.len());
    let mut top = top.iter().peekable();
    for tile in base {
        let mut cursor = tile.span.start;
        while let Some(t) = top.peek() {
            if t.span.start >= tile.span.end {
                break;
            }
            if t.span.start > cursor {
                out.push(Tile {
                    span: Span::new(cursor, t.span.start),
                    user: tile.user.clone(),
                });
            }
            let end = t.span.end.min(tile.span.end);
            let start = t.span.start.max(cursor);
            if end > start {
                out.push(Tile {
                    span: Span::new(start, end),
                    user: t.user.clone(),
                });
            }
            cursor = cursor.max(end);
            if t.span.end <= tile.span.end {
                top.next();
            } else {
                break;
            }
        }
        if cursor < tile.span.end {
            out.push(Tile {
                span: Span::new(cursor, tile.span.end),
                user: tile.user.clone(),
            });
        }
    }
    out
}

/// Merges neighbouring tiles that name the same person (or are both gaps).
pub fn merge<U: PartialEq>(mut tiles: Vec<Tile<U>>) -> Vec<Tile<U>> {
    // In place: a year of a busy rota is thousands of tiles.
    tiles.retain(|t| !t.span.is_empty());
    tiles.dedup_by(|next, last| {
        let touching = last.user == next.user && last.span.end == next.span.start;
        if touching {
            last.span.end = next.span.end;
        }
        touching
    });
    tiles
}

/// The parts of `tiles` inside `spans` (both sorted and non-overlapping).
fn intersect<U: Clone>(tiles: &[Tile<U>], spans: &[Span]) -> Vec<Tile<U>> {
    let mut out = Vec::new();
    let mut i = 0;
    for tile in tiles {
        while i < spans.len() && spans[i].end <= tile.span.start {
            i += 1;
        }
        let mut k = i;
        while k < spans.len() && spans[k].start < tile.span.end {
            let span = tile.span.intersect(&spans[k]);
            if !span.is_empty() {
                out.push(Tile {
                    span,
                    user: tile.user.clone(),
                });
            }
            k += 1;
        }
    }
    out
}
