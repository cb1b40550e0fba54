//! A rota: layers of hand-off rotations, active windows, and overrides,
//! expanded into who is on call over any window of time.
//!
//! The composition, at any instant `t`:
//! 1. each layer is *on* at `t` when `t` is at or after its start, before
//!    its end (if it has one) and inside one of its active windows (a layer
//!    without windows is always active); it then names the member of the
//!    hand-off in force at `t`;
//! 2. the scheduled person is the one named by the *last* layer that is on;
//!    where no layer is on, the rota has a gap;
//! 3. an override applies at `t` when `t` is in its span and, for a swap
//!    (`instead_of`), the scheduled person is the one it replaces; the last
//!    applicable override (in file order) names the person on call.
//!
//! Every instant therefore maps to exactly one person or to a gap.
//!
//! Shadows (people learning the rota) sit beside this, never in it: a
//! [`Shadow`] follows the person on call (one named person, or whoever it
//! is) and [`Rota::shadow_tiles`] says when, paired with whom. A shadow never
//! changes a tile, so a gap with a shadow present is still a gap.

use chrono_tz::Tz;

use super::handoff::Handoffs;
use super::time::{Instant, LocalReader, Span};
use super::window::{ActiveWindow, active_spans, is_active};

/// A person's identifier, the key under `people:`.
pub type PersonId = String;

/// One rotation of members handing over at [`Handoffs`] instants.
#[derive(Debug)]
pub struct Layer {
    pub members: Vec<PersonId>,
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
    /// A swap: cover only where this person is scheduled.
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

/// A stretch of time with one person on call, or nobody (`user == None`, a gap).
///
/// The expansion works on tiles that borrow the person from the rota
/// (`Tile<&PersonId>`, see [`Rota::expand_borrowed`]): a tile is copied at
/// every step (each layer, each override), and copying a name each time was
/// much of the cost of `oncall shifts` over a year of many rotas.
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

impl Layer {
    /// The member on call at `t` if this layer is on at `t`.
    pub fn member_at(&self, t: Instant) -> Option<&PersonId> {
        if self.end.is_some_and(|end| t >= end) {
            return None;
        }
        let j = self.handoffs.index_at(t)?;
        if !self.active.is_empty() && !is_active(self.handoffs.tz(), &self.active, t) {
            return None;
        }
        Some(&self.members[(j % self.members.len() as u64) as usize])
    }

    /// The stretches of `range` when this layer is on, with its member,
    /// sorted and not overlapping.
    pub fn tiles(&self, range: Span) -> Vec<Tile<&PersonId>> {
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
                let user = &self.members[(j % self.members.len() as u64) as usize];
                tiles.push(Tile { span, user: Some(user) });
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
    /// Who the layers schedule at `t`, before overrides.
    pub fn scheduled_at(&self, t: Instant) -> Option<&PersonId> {
        self.layers.iter().rev().find_map(|l| l.member_at(t))
    }

    /// Who is on call at `t`, overrides applied; `None` is a gap.
    pub fn on_call_at(&self, t: Instant) -> Option<&PersonId> {
        let scheduled = self.scheduled_at(t);
        let covering = self
            .overrides
            .iter()
            .rev()
            .find(|o| o.span.contains(t) && o.instead_of.as_ref().is_none_or(|x| Some(x) == scheduled));
        match covering {
            Some(o) => Some(&o.user),
            None => scheduled,
        }
    }

    /// The tiles of `range` before overrides: exactly tiling it, gaps included,
    /// neighbours with the same person merged.
    pub fn scheduled(&self, range: Span) -> Vec<Tile<&PersonId>> {
        let mut timeline = vec![Tile {
            span: range,
            user: None,
        }];
        for layer in &self.layers {
            timeline = overlay(&timeline, &layer.tiles(range));
        }
        merge(timeline)
    }

    /// The tiles of `range`: exactly tiling it, gaps included, overrides
    /// applied, neighbours with the same person merged.
    pub fn expand(&self, range: Span) -> Vec<Tile> {
        self.expand_borrowed(range).iter().map(Tile::to_owned).collect()
    }

    /// [`Rota::expand`], the people borrowed from the rota.
    pub fn expand_borrowed(&self, range: Span) -> Vec<Tile<&PersonId>> {
        if range.is_empty() {
            return Vec::new();
        }
        let scheduled = self.scheduled(range);
        if !self.overrides.iter().any(|o| !o.span.intersect(&range).is_empty()) {
            // Already merged; most rotas have no override in a given window.
            return scheduled;
        }
        let mut timeline = scheduled.clone();
        for o in &self.overrides {
            let span = o.span.intersect(&range);
            if span.is_empty() {
                continue;
            }
            let cover: Vec<Tile<&PersonId>> = match &o.instead_of {
                None => vec![Tile {
                    span,
                    user: Some(&o.user),
                }],
                Some(x) => scheduled
                    .iter()
                    .filter(|t| t.user == Some(x))
                    .map(|t| t.span.intersect(&span))
                    .filter(|s| !s.is_empty())
                    .map(|span| Tile {
                        span,
                        user: Some(&o.user),
                    })
                    .collect(),
            };
            timeline = overlay(&timeline, &cover);
        }
        merge(timeline)
    }

    /// The shadows' stretches within `range`: each shadow (in the order
    /// written) is paired with the person on call wherever that person is the
    /// one they follow, within their span. Nobody shadows a gap, and nobody
    /// shadows themselves.
    pub fn shadow_tiles(&self, range: Span) -> Vec<ShadowTile> {
        if self.shadows.is_empty() || range.is_empty() {
            return Vec::new();
        }
        let tiles = self.expand_borrowed(range);
        let mut out = Vec::new();
        for shadow in &self.shadows {
            let within = match shadow.span {
                Some(span) => span.intersect(&range),
                None => range,
            };
            if within.is_empty() {
                continue;
            }
            for tile in &tiles {
                let Some(on_call) = tile.user else { continue };
                if *on_call == shadow.user || shadow.of.as_ref().is_some_and(|of| of != on_call) {
                    continue;
                }
                let span = tile.span.intersect(&within);
                if !span.is_empty() {
                    out.push(ShadowTile {
                        span,
                        user: shadow.user.clone(),
                        of: on_call.clone(),
                    });
                }
            }
        }
        out
    }

    /// Who shadows whom at `t`: (shadow, the person on call they follow).
    pub fn shadows_at(&self, t: Instant) -> Vec<(&PersonId, &PersonId)> {
        let Some(on_call) = self.on_call_at(t) else {
            return Vec::new();
        };
        self.shadows
            .iter()
            .filter(|s| s.span.is_none_or(|span| span.contains(t)))
            .filter(|s| s.user != *on_call && s.of.as_ref().is_none_or(|of| of == on_call))
            .map(|s| (&s.user, on_call))
            .collect()
    }

    /// The gaps (nobody on call) within `range`.
    pub fn gaps(&self, range: Span) -> Vec<Span> {
        self.expand_borrowed(range)
            .into_iter()
            .filter(|t| t.user.is_none())
            .map(|t| t.span)
            .collect()
    }
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
