//! Severities: the installation's 3 to 5 human names (default `minor`,
//! `major`, `critical`, lowest first), and how each source's levels map onto
//! them.

use std::collections::BTreeMap;

/// The installation's severities and the mapping of source levels onto them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Severities {
    /// Lowest first.
    names: Vec<String>,
    /// Source level (lower case) → one of `names`.
    aliases: BTreeMap<String, String>,
    /// For a level nobody mapped.
    default: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeverityError {
    #[error("give 3 to 5 severities, lowest first (found {0})")]
    Count(usize),
    #[error("severity `{0}` is listed twice")]
    Duplicate(String),
    #[error("`{level}` is mapped to `{target}`, which is not one of the severities")]
    UnknownTarget { level: String, target: String },
}

impl Default for Severities {
    fn default() -> Severities {
        let names = ["minor", "major", "critical"].map(String::from).to_vec();
        Severities::new(names, BTreeMap::new(), None).expect("the defaults are valid")
    }
}

impl Severities {
    /// `names` lowest first; `aliases` map source levels onto them, on top of
    /// the built-in mapping; `default` (else the middle name) takes the rest.
    pub fn new(
        names: Vec<String>,
        aliases: BTreeMap<String, String>,
        default: Option<String>,
    ) -> Result<Severities, SeverityError> {
        if !(3..=5).contains(&names.len()) {
            return Err(SeverityError::Count(names.len()));
        }
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(SeverityError::Duplicate(n.clone()));
            }
        }
        let lowest = names[0].clone();
        let middle = names[names.len() / 2].clone();
        let highest = names[names.len() - 1].clone();
        // The sources' usual levels: PagerDuty's critical/error/warning/info,
        // Alertmanager's and Grafana's `severity` label conventions.
        let mut map: BTreeMap<String, String> = [
            ("critical", &highest),
            ("page", &highest),
            ("fatal", &highest),
            ("emergency", &highest),
            ("error", &middle),
            ("high", &middle),
            ("warning", &lowest),
            ("warn", &lowest),
            ("low", &lowest),
            ("info", &lowest),
            ("none", &lowest),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
        for n in &names {
            map.insert(n.to_lowercase(), n.clone());
        }
        for (level, target) in aliases {
            if !names.contains(&target) {
                return Err(SeverityError::UnknownTarget { level, target });
            }
            map.insert(level.to_lowercase(), target);
        }
        let default = match default {
            Some(d) if !names.contains(&d) => {
                return Err(SeverityError::UnknownTarget {
                    level: "(default)".into(),
                    target: d,
                });
            }
            Some(d) => d,
            None => middle,
        };
        Ok(Severities {
            names,
            aliases: map,
            default,
        })
    }

    /// The installation's name for a source's level (`None`: the default).
    pub fn map(&self, level: Option<&str>) -> &str {
        level
            .and_then(|l| self.aliases.get(&l.trim().to_lowercase()))
            .unwrap_or(&self.default)
    }

    /// Lowest first.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// 0 for the lowest.
    pub fn rank(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_mapping() {
        let s = Severities::default();
        assert_eq!(s.map(Some("critical")), "critical");
        assert_eq!(s.map(Some("ERROR")), "major");
        assert_eq!(s.map(Some("warning")), "minor");
        assert_eq!(s.map(Some("info")), "minor");
        assert_eq!(s.map(Some("something")), "major");
        assert_eq!(s.map(None), "major");
    }

    #[test]
    fn five_levels_and_aliases() {
        let names = ["info", "minor", "major", "high", "critical"]
            .map(String::from)
            .to_vec();
        let aliases = [("sev1".to_string(), "critical".to_string())].into_iter().collect();
        let s = Severities::new(names, aliases, None).unwrap();
        assert_eq!(s.map(Some("sev1")), "critical");
        assert_eq!(s.map(Some("error")), "major");
        assert_eq!(s.map(Some("high")), "high");
        assert!(Severities::new(vec!["a".into(), "b".into()], BTreeMap::new(), None).is_err());
    }
}
