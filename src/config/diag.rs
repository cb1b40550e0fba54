//! Problems found in the rota files, each with the place it was written.

use std::fmt;

use super::yaml::Pos;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem: printed as `file:line:col: error: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub pos: Pos,
    pub severity: Severity,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.pos.line, self.pos.col, severity, self.message
        )
    }
}

/// Words longer than this are nobody's typo: [`did_you_mean`] suggests
/// nothing for them (the edit distance costs the product of the lengths).
const MAX_TYPO_CHARS: usize = 100;

/// The closest of `candidates` to `word`, if it is close enough to be a typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let n = word.chars().count();
    if n > MAX_TYPO_CHARS {
        return None;
    }
    let word = word.to_lowercase();
    candidates
        .into_iter()
        .filter_map(|c| {
            let m = c.chars().count();
            let limit = (m.max(n) / 3).max(1);
            // The distance is at least the difference in length.
            if m.abs_diff(n) > limit {
                return None;
            }
            let d = levenshtein(&word, &c.to_lowercase());
            (d <= limit).then_some((d, c))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Longer values are cut short when a message quotes them.
const MAX_QUOTED_CHARS: usize = 64;

/// A value from a file as a message quotes it: itself, or its first
/// `MAX_QUOTED_CHARS` characters and `…` (a message about a 10 MB value
/// need not repeat it).
pub fn shown(s: &str) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(MAX_QUOTED_CHARS) {
        None => s.into(),
        Some((cut, _)) => format!("{}…", &s[..cut]).into(),
    }
}

/// Edit distance where swapping two neighbouring letters counts as one edit
/// (the commonest typo: `emial`).
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(
            did_you_mean("mebmers", ["members", "start", "handoff"]),
            Some("members")
        );
        assert_eq!(did_you_mean("timzone", ["team", "timezone", "rotas"]), Some("timezone"));
        assert_eq!(did_you_mean("xyz", ["members", "start"]), None);
        assert_eq!(did_you_mean("emial", ["name", "email", "phone"]), Some("email"));
        assert_eq!(did_you_mean(&"x".repeat(10_000), ["x", "xx"]), None);
    }

    #[test]
    fn long_values_are_shown_cut() {
        assert_eq!(shown("Europe/Lndon"), "Europe/Lndon");
        assert_eq!(shown(&"é".repeat(64)), "é".repeat(64));
        assert_eq!(shown(&"é".repeat(65)), format!("{}…", "é".repeat(64)));
    }
}
