//! Reading a secret kept in a file (an integration key, the API token, the
//! link secret): one line, so a bounded read. Without the bound, a setting
//! pointing at `/dev/zero` or a log file by mistake would hang `oncall
//! serve` and `oncall check` or fill the memory before any error is shown.

use std::io::{self, Read};
use std::path::Path;

/// The most a secret file may hold. Secrets here are a line of at most a few
/// hundred characters; this leaves room for comments-free PEM-sized values.
pub const LIMIT: u64 = 64 * 1024;

/// The file's text, trimmed of surrounding white space (a trailing newline
/// does not count). A file larger than [`LIMIT`] is refused with
/// `InvalidData` (callers name the file), after reading at most `LIMIT + 1` bytes.
pub fn read(path: &Path) -> io::Result<String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(LIMIT + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > LIMIT {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {} KiB: a secret file holds one line", LIMIT / 1024),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))?;
    Ok(text.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_read_trimmed() {
        let dir = std::env::temp_dir().join(format!("oncall-secret-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key");
        std::fs::write(&path, "  s3cret-value-0123\n").unwrap();
        assert_eq!(read(&path).unwrap(), "s3cret-value-0123");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_endless_file_is_refused_not_read_to_the_end() {
        // /dev/zero never ends: before the bound, this read never returned.
        let error = read(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("larger than 64 KiB"), "{error}");
    }

    #[test]
    fn a_file_just_at_the_limit_is_read() {
        let dir = std::env::temp_dir().join(format!("oncall-secret-limit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key");
        std::fs::write(&path, "k".repeat(LIMIT as usize)).unwrap();
        assert_eq!(read(&path).unwrap().len(), LIMIT as usize);
        std::fs::write(&path, "k".repeat(LIMIT as usize + 1)).unwrap();
        assert!(read(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
