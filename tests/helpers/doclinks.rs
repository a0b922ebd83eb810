//! An offline dead-link check of rustdoc's output: every `href` and `src`
//! in the HTML pages of the named crates must lead to a file that exists
//! under the doc directory, and a `#fragment` to an `id` in that file.
//!
//! ```text
//! cargo run -p procwire-tests --bin doclinks -- target/doc procwire procwire_core ...
//! ```
//!
//! Links that leave the directory (`http:`, `https:`, `mailto:`) are not
//! followed. `doclinks.allow`, beside this file, lists links that are
//! known dead and not ours to fix (each with the reason); they are
//! counted, not reported. Prints each dead link with the page it is on, and exits 1 if
//! there is one, 2 for a bad command line or a crate with no pages.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

/// Links known dead and not ours to fix.
const ALLOW: &str = include_str!("doclinks.allow");

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((root, crates)) = args.split_first().filter(|(_, c)| !c.is_empty()) else {
        eprintln!("usage: doclinks DOC_DIR CRATE...");
        return ExitCode::from(2);
    };
    let root = Path::new(root);
    let mut pages = Vec::new();
    for name in crates {
        let dir = root.join(name);
        let before = pages.len();
        collect(&dir, &mut pages);
        if pages.len() == before {
            eprintln!("doclinks: no pages under {}", dir.display());
            return ExitCode::from(2);
        }
    }
    let allowed: BTreeSet<&str> =
        ALLOW.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let mut allowed_seen = 0usize;
    let mut ids: BTreeMap<PathBuf, Option<BTreeSet<String>>> = BTreeMap::new();
    let (mut links, mut dead) = (0usize, 0usize);
    for page in &pages {
        let Ok(html) = std::fs::read_to_string(page) else { continue };
        for link in attributes(&html, &["href", "src"]) {
            let Some((target, fragment)) = resolve(page, &link) else { continue };
            links += 1;
            let reason = if !target.starts_with(root) {
                Some("outside the doc directory")
            } else if !target.exists() {
                Some("no such file")
            } else if target.is_dir() {
                Some("a directory, not a page")
            } else if let Some(fragment) = fragment.filter(|f| !f.is_empty()) {
                let known = ids.entry(target.clone()).or_insert_with(|| page_ids(&target));
                match known {
                    Some(set) if !set.contains(&fragment) && !rustdoc_line_anchor(&fragment) => {
                        Some("no such id in the page")
                    }
                    _ => None,
                }
            } else {
                None
            };
            if reason.is_some() && allowed.contains(link.as_str()) {
                allowed_seen += 1;
            } else if let Some(reason) = reason {
                dead += 1;
                let shown = page.strip_prefix(root).unwrap_or(page);
                println!("{}: {link}: {reason}", shown.display());
            }
        }
    }
    println!(
        "doclinks: {} pages, {links} links, {dead} dead, {allowed_seen} allowed (doclinks.allow)",
        pages.len()
    );
    if dead == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Every `.html` file under `dir`.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "html") {
            out.push(path);
        }
    }
}

/// The values of the attributes `names` (double-quoted, as rustdoc
/// writes them), with `&amp;` and friends decoded.
fn attributes(html: &str, names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for name in names {
        let needle = format!(" {name}=\"");
        let mut rest = html;
        while let Some(at) = rest.find(&needle) {
            rest = &rest[at + needle.len()..];
            let Some(end) = rest.find('"') else { break };
            out.push(decode(&rest[..end]));
            rest = &rest[end..];
        }
    }
    out
}

fn decode(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
}

/// The file and fragment a link on `page` leads to, or `None` for a link
/// that leaves the documentation (a scheme) or is not a link.
fn resolve(page: &Path, link: &str) -> Option<(PathBuf, Option<String>)> {
    const SCHEMES: [&str; 6] = ["http:", "https:", "mailto:", "ftp:", "javascript:", "data:"];
    if link.is_empty() || SCHEMES.iter().any(|s| link.starts_with(s)) {
        return None;
    }
    let (path, fragment) = match link.split_once('#') {
        Some((p, f)) => (p, Some(f.to_string())),
        None => (link, None),
    };
    let path = path.split('?').next().unwrap_or("");
    let here = page.parent()?;
    let joined = if path.is_empty() { page.to_path_buf() } else { here.join(path) };
    Some((normalize(&joined), fragment))
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The `id`s of a page (`None` for a file that is not HTML).
fn page_ids(path: &Path) -> Option<BTreeSet<String>> {
    if path.extension().is_none_or(|e| e != "html") {
        return None;
    }
    let html = std::fs::read_to_string(path).ok()?;
    Some(attributes(&html, &["id"]).into_iter().collect())
}

/// The source pages' line anchors (`#42`, `#10-20`), made by script.
fn rustdoc_line_anchor(fragment: &str) -> bool {
    !fragment.is_empty() && fragment.chars().all(|c| c.is_ascii_digit() || c == '-')
}
