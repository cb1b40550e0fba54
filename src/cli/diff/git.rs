//! The rota folder as it is at a git commit, read with the `git` command
//! into memory: the same files `config::load_dir` would read from a
//! checkout of that commit (the folder's `*.yaml` and `*.yml`, not its
//! subfolders, in name order), named `REF:path/file.yaml` so that a problem
//! in one says where it is. Nothing is written to disk, so nothing is left
//! to clean up.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// Files as `config::load_sources` takes them: (name, contents).
pub type Sources = Vec<(String, Vec<u8>)>;

/// The rota files of `folder` (a folder inside a git work tree) at
/// `reference`, as (name, contents), with the folder's name there
/// (`REF:path/`); or why not.
pub fn read_folder(folder: &Path, reference: &str) -> Result<(String, Sources), String> {
    if reference.starts_with('-') {
        // It would be read as an option of git's.
        return Err(format!("`{reference}` is not a git reference"));
    }
    let prefix = git(folder, &["rev-parse", "--show-prefix"]).map_err(|e| {
        format!(
            "{} is not inside a git repository, so `{reference}` cannot be read from it ({e}); give --base a folder instead",
            folder.display()
        )
    })?;
    let prefix = String::from_utf8_lossy(&prefix).trim_end_matches('\n').to_string();
    let commit = git(
        folder,
        &["rev-parse", "--verify", "--quiet", &format!("{reference}^{{commit}}")],
    )
    .map_err(|_| {
        format!(
            "`{reference}` is neither a folder nor a commit of the git repository of {}",
            folder.display()
        )
    })?;
    let commit = String::from_utf8_lossy(&commit).trim().to_string();
    let shown = |name: &str| format!("{reference}:{prefix}{name}");
    // `--full-tree`: run from a subfolder, ls-tree would otherwise list only
    // what lies under that subfolder's path within the tree it is given.
    let listing = git(folder, &["ls-tree", "-z", "--full-tree", &format!("{commit}:{prefix}")])
        .map_err(|_| format!("there is no folder {prefix} at `{reference}`"))?;
    let mut files = Vec::new();
    for entry in listing.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        // `<mode> SP <type> SP <object> TAB <name>`
        let Some((meta, name)) = entry.split_once('\t') else {
            return Err(format!("unexpected `git ls-tree` line: {entry}"));
        };
        let mut meta = meta.split(' ');
        let (mode, kind, object) = (meta.next(), meta.next(), meta.next());
        let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        if !yaml || kind != Some("blob") {
            continue;
        }
        if mode == Some("120000") {
            return Err(format!(
                "{} is a symbolic link, which --base REF does not follow: compare two folders instead",
                shown(name)
            ));
        }
        let Some(object) = object else {
            return Err(format!("unexpected `git ls-tree` line: {entry}"));
        };
        files.push((name.to_string(), object.to_string()));
    }
    if files.is_empty() {
        return Err(format!("no rota files (*.yaml or *.yml) in {}", shown("")));
    }
    // `load_dir` reads in path order; git lists in byte order of the names,
    // which is the same, but nothing depends on that.
    files.sort();
    let objects: Vec<&str> = files.iter().map(|(_, o)| o.as_str()).collect();
    let contents = cat_blobs(folder, &objects)?;
    let files = files
        .into_iter()
        .zip(contents)
        .map(|((name, _), bytes)| (shown(&name), bytes))
        .collect();
    Ok((shown(""), files))
}

/// Runs git in `dir`; its standard output, or its standard error as the
/// reason it failed.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

/// The contents of `objects` (blob ids), in order, through one `git
/// cat-file --batch`.
fn cat_blobs(dir: &Path, objects: &[&str]) -> Result<Vec<Vec<u8>>, String> {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run git: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped");
    let request: String = objects.iter().map(|o| format!("{o}\n")).collect();
    // Written from a thread: git answers while it reads, and a large
    // folder's answer would fill the pipe before the request is all sent.
    let writer = std::thread::spawn(move || stdin.write_all(request.as_bytes()));
    let mut answer = Vec::new();
    let read = child.stdout.take().expect("piped").read_to_end(&mut answer);
    let written = writer
        .join()
        .map_err(|_| "git cat-file: the writer panicked".to_string())?;
    let output = child.wait_with_output().map_err(|e| format!("git cat-file: {e}"))?;
    if let Err(e) = read.and(written) {
        return Err(format!("git cat-file: {e}"));
    }
    if !output.status.success() {
        return Err(format!(
            "git cat-file: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    // Each answer: `<object> SP <type> SP <size> LF <contents> LF`.
    let mut out = Vec::with_capacity(objects.len());
    let mut rest = answer.as_slice();
    for object in objects {
        let bad = || format!("git cat-file: unexpected answer for {object}");
        let line_end = rest.iter().position(|b| *b == b'\n').ok_or_else(bad)?;
        let header = String::from_utf8_lossy(&rest[..line_end]).to_string();
        let mut fields = header.split(' ');
        if fields.next() != Some(*object) || fields.next() != Some("blob") {
            return Err(bad());
        }
        let size: usize = fields.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let body = rest.get(line_end + 1..line_end + 1 + size).ok_or_else(bad)?;
        out.push(body.to_vec());
        rest = rest.get(line_end + 2 + size..).ok_or_else(bad)?;
    }
    Ok(out)
}
