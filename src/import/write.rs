//! Turning a [`Plan`] into files for review: `people.yaml`, one team file
//! per team, `IMPORT.md`; and putting them in `--out` whole or not at all.
//!
//! Everything is written in the plan's order ([`Plan::sort`]) with nothing
//! that changes from run to run (no times of the import), so a second
//! import of the same source gives the same bytes. Strings people chose
//! (names, addresses) are written double-quoted with JSON's escapes, which
//! YAML reads the same; ids and times are ours and written bare. Comments
//! name the source object of each rota, layer, person and policy, with
//! anything that could end a comment early (a line break) made a space.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::Weekday;

use super::fetch::ImportError;
use super::plan::{Layer, Plan, Target, Team, TimeOfDay, Window};
use crate::domain::time::Rfc3339;

/// The files of a plan, by name, in name order.
pub fn render(plan: &Plan) -> Vec<(String, String)> {
    let mut files = vec![("IMPORT.md".to_string(), import_md(plan))];
    files.push(("people.yaml".to_string(), people(plan)));
    for team in &plan.teams {
        files.push((format!("{}.yaml", team.name), team_file(plan, team)));
    }
    files.sort();
    files
}

/// `s` double-quoted, escaped as JSON escapes it (valid YAML).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// `s` made safe for the rest of a comment line.
fn comment(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn people(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Imported from {} by `oncall import`; see IMPORT.md.",
        plan.source
    );
    out.push_str("people:\n");
    for p in &plan.people {
        let _ = writeln!(out, "  # {} user {}", plan.source, comment(&p.source_id));
        let _ = writeln!(out, "  {}:", p.id);
        let _ = writeln!(out, "    name: {}", quoted(&p.name));
        if let Some(email) = &p.email {
            let _ = writeln!(out, "    email: {}", quoted(email));
        }
        if let Some(phone) = &p.phone {
            let _ = writeln!(out, "    phone: {}", quoted(phone));
        }
        if let Some(tz) = p.timezone {
            let _ = writeln!(out, "    timezone: {}", tz.name());
        }
    }
    out
}

fn time_of_day((h, m): TimeOfDay) -> String {
    format!("\"{h:02}:{m:02}\"")
}

fn day(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

fn window(w: &Window) -> String {
    match *w {
        Window::Daily { from, to } => format!(
            "{{days: everyday, from: {}, to: {}}}",
            time_of_day(from),
            time_of_day(to)
        ),
        Window::Weekly {
            from: (fd, (fh, fm)),
            to: (td, (th, tm)),
        } => format!(
            "{{from: \"{} {fh:02}:{fm:02}\", to: \"{} {th:02}:{tm:02}\"}}",
            day(fd),
            day(td)
        ),
    }
}

/// A turn length as `every` writes it: the largest units that divide it.
pub fn every(seconds: i64) -> String {
    for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)] {
        if seconds % size == 0 && seconds / size <= 1000 {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

fn layer(out: &mut String, l: &Layer) {
    let _ = writeln!(out, "      # {}", comment(&l.comment));
    let members: Vec<String> = l
        .members
        .iter()
        .map(|g| match g.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        })
        .collect();
    let _ = writeln!(out, "      - members: [{}]", members.join(", "));
    if let Some(first) = &l.first {
        let _ = writeln!(out, "        first: {first}");
    }
    let _ = writeln!(out, "        start: {}", l.start.format("%Y-%m-%dT%H:%M:%S"));
    if let Some(end) = l.end {
        let _ = writeln!(out, "        end: {}", Rfc3339::new(end).as_str());
    }
    let _ = writeln!(out, "        every: {}", every(l.every_seconds));
    if !l.active.is_empty() {
        out.push_str("        active:\n");
        for w in &l.active {
            let _ = writeln!(out, "          - {}", window(w));
        }
    }
}

fn team_file(plan: &Plan, team: &Team) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Imported from {} ({}) by `oncall import`; see IMPORT.md.",
        plan.source,
        comment(&team.source)
    );
    let _ = writeln!(out, "team: {}", team.name);
    let _ = writeln!(out, "timezone: {}", team.timezone.name());
    out.push_str("rotas:\n");
    for rota in &team.rotas {
        let _ = writeln!(
            out,
            "  # {} schedule {} {}",
            plan.source,
            comment(&rota.source_id),
            comment(&quoted(&rota.source_name))
        );
        let _ = writeln!(out, "  {}:", rota.name);
        let _ = writeln!(out, "    description: {}", quoted(&rota.source_name));
        out.push_str("    layers:\n");
        for l in &rota.layers {
            layer(&mut out, l);
        }
    }
    if !team.overrides.is_empty() {
        out.push_str("overrides:\n");
        for o in &team.overrides {
            let _ = writeln!(
                out,
                "  - {{rota: {}, user: {}, from: {}, to: {}, reason: {}}}",
                o.rota,
                o.user,
                Rfc3339::new(o.from).as_str(),
                Rfc3339::new(o.to).as_str(),
                quoted(&format!("{} {}", plan.source, o.source_id))
            );
        }
    }
    if let Some(esc) = &team.escalation {
        let _ = writeln!(
            out,
            "# {} escalation policy {} {}",
            plan.source,
            comment(&esc.source_id),
            comment(&quoted(&esc.source_name))
        );
        out.push_str("escalation:\n  steps:\n");
        for step in &esc.steps {
            let targets: Vec<String> = step
                .notify
                .iter()
                .map(|t| match t {
                    Target::Rota(r) => format!("rota:{r}"),
                    Target::User(u) => format!("user:{u}"),
                    Target::Team(t) => format!("team:{t}"),
                })
                .collect();
            if step.after_minutes == 0 {
                let _ = writeln!(out, "    - notify: [{}]", targets.join(", "));
            } else {
                let _ = writeln!(out, "    - after: {}m", step.after_minutes);
                let _ = writeln!(out, "      notify: [{}]", targets.join(", "));
            }
        }
        let _ = writeln!(out, "  repeat: {}", esc.repeat);
    }
    out
}

/// The approximations, one a line, as `IMPORT.md` and stderr list them.
pub fn approximation_lines(plan: &Plan) -> Vec<String> {
    plan.approximations
        .iter()
        .map(|a| format!("{}: {}; {}", a.source_id, a.what, a.how))
        .collect()
}

fn import_md(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Imported from {}\n", plan.source);
    let rotas: usize = plan.teams.iter().map(|t| t.rotas.len()).sum();
    let _ = writeln!(
        out,
        "{} people, {} team(s), {} rota(s). Each rota, layer and escalation policy \
         names the {} object it came from in a comment above it.\n",
        plan.people.len(),
        plan.teams.len(),
        rotas,
        plan.source
    );
    out.push_str("## Approximations\n\n");
    if plan.approximations.is_empty() {
        out.push_str("None: everything was written exactly as the source has it.\n");
    } else {
        out.push_str("What the rota files cannot say exactly as the source does, and how it was written instead:\n\n");
        for line in approximation_lines(plan) {
            let _ = writeln!(out, "- {}", comment(&line));
        }
    }
    out
}

/// Whether `out` may be written: it must not exist, or be an empty folder,
/// or `force` must be given.
pub fn check_out(out: &Path, force: bool) -> Result<(), ImportError> {
    match std::fs::read_dir(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ImportError::new(format!("--out {}: {e}", out.display()))),
        Ok(mut entries) => {
            if entries.next().is_none() || force {
                Ok(())
            } else {
                Err(ImportError::new(format!(
                    "--out {} exists and is not empty; give --force to replace it, or another folder",
                    out.display()
                )))
            }
        }
    }
}

/// A folder beside `out` holding `files`, to be checked and then put in
/// place with [`put_in_place`]; removed when dropped unless put in place.
pub struct Staged {
    pub dir: PathBuf,
    out: PathBuf,
    done: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn beside(out: &Path, tag: &str) -> PathBuf {
    let name = out
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parent.join(format!(".{name}.{tag}-{}", std::process::id()))
}

pub fn stage(out: &Path, files: &[(String, String)]) -> Result<Staged, ImportError> {
    let dir = beside(out, "importing");
    let _ = std::fs::remove_dir_all(&dir);
    let fail = |e: std::io::Error| ImportError::new(format!("cannot write beside {}: {e}", out.display()));
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let staged = Staged {
        dir,
        out: out.to_path_buf(),
        done: false,
    };
    for (name, text) in files {
        std::fs::write(staged.dir.join(name), text).map_err(fail)?;
    }
    Ok(staged)
}

/// Replaces `out` with the staged folder: by renames, so `out` is at every
/// moment either the old folder or the new one.
pub fn put_in_place(mut staged: Staged) -> Result<(), ImportError> {
    let out = staged.out.clone();
    let fail = |e: std::io::Error| ImportError::new(format!("cannot put the files in {}: {e}", out.display()));
    let old = beside(&out, "replaced");
    let had_old = out.exists();
    if had_old {
        std::fs::rename(&out, &old).map_err(fail)?;
    }
    if let Err(e) = std::fs::rename(&staged.dir, &out) {
        if had_old {
            let _ = std::fs::rename(&old, &out);
        }
        return Err(fail(e));
    }
    staged.done = true;
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_lengths_in_the_largest_units_that_divide_them() {
        assert_eq!(every(604_800), "1w");
        assert_eq!(every(86_400 * 2), "2d");
        assert_eq!(every(43_200), "12h");
        assert_eq!(every(90_000), "25h");
        assert_eq!(every(3_605), "3605s");
        assert_eq!(every(5_400), "90m");
    }
}
