//! The namespace registry file, `<dir>/namespaces.json`:
//!
//! ```json
//! {"version":1,"namespaces":[{"id":"<32 hex>","title":"SESSIONS","index":16}]}
//! ```
//!
//! Written whole on every change: to a temporary file, fsynced, renamed over the old one, and
//! the folder fsynced, so a crash leaves either the old or the new registry, never a mix.

use serde_json::{json, Value};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "namespaces.json";
const VERSION: u64 = 1;

/// One namespace as the file records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub title: String,
    pub index: usize,
}

pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Reads the registry; an absent file is an empty registry.
pub fn load(path: &Path) -> Result<Vec<Record>, String> {
    let text = match fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let bad = |why: &str| format!("{} is not a valid namespace registry: {why}", path.display());
    let v: Value = serde_json::from_slice(&text).map_err(|e| bad(&e.to_string()))?;
    if v.get("version").and_then(Value::as_u64) != Some(VERSION) {
        return Err(bad("unknown version"));
    }
    let list = v
        .get("namespaces")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no namespaces array"))?;
    list.iter()
        .map(|n| {
            let id = n.get("id").and_then(Value::as_str);
            let title = n.get("title").and_then(Value::as_str);
            let index = n.get("index").and_then(Value::as_u64);
            match (id, title, index) {
                (Some(id), Some(title), Some(index)) => Ok(Record {
                    id: id.to_string(),
                    title: title.to_string(),
                    index: index as usize,
                }),
                _ => Err(bad("an entry lacks id, title or index")),
            }
        })
        .collect()
}

/// Replaces the registry atomically.
pub fn save(path: &Path, records: &[Record]) -> std::io::Result<()> {
    let list: Vec<Value> = records
        .iter()
        .map(|r| json!({"id": r.id, "title": r.title, "index": r.index}))
        .collect();
    let body = serde_json::to_vec(&json!({"version": VERSION, "namespaces": list}))?;
    let tmp = path.with_extension("json.tmp");
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        // The rename itself must reach the disk too.
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = path_in(dir.path());
        assert_eq!(load(&p).unwrap(), Vec::new());
        let recs = vec![Record {
            id: "0123456789abcdef0123456789abcdef".into(),
            title: "SESSIONS \"quoted\" ✓".into(),
            index: 16,
        }];
        save(&p, &recs).unwrap();
        assert_eq!(load(&p).unwrap(), recs);
        fs::write(&p, b"{\"version\":1}").unwrap();
        assert!(load(&p).unwrap_err().contains("no namespaces array"));
    }
}
