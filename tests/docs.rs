//! The documentation runs as written: the README and the user guide under `docs/src/`.
//!
//! - every complete flow example (a YAML block with top-level `name:` and `steps:`) is written
//!   out and passes `apoflow validate` (the real binary); a block whose first line is
//!   `# file: PATH` is written at PATH, so partials and `body_file:` resolve as the text says;
//! - every repository path the docs name (in inline code or a link) exists;
//! - every relative link reaches a file, and every `#anchor` a heading of that page;
//! - `docs/src/SUMMARY.md` lists every page, and the book builds with mdBook.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Parser, Tag, TagEnd};
use support::{Scratch, apoflow_in, both, code, copy_dir, repo};

/// A Markdown file of the docs, by its path relative to the repository.
struct Page {
    rel: String,
    text: String,
}

impl Page {
    /// The 1-based line of byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset].matches('\n').count() + 1
    }
}

/// README.md and every page under docs/src/.
fn pages() -> Vec<Page> {
    let root = repo();
    let mut rels = vec!["README.md".to_owned()];
    for entry in fs::read_dir(root.join("docs/src")).expect("docs/src exists") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".md") {
            rels.push(format!("docs/src/{name}"));
        }
    }
    rels.sort();
    rels.into_iter()
        .map(|rel| Page {
            text: fs::read_to_string(root.join(&rel)).expect("readable page"),
            rel,
        })
        .collect()
}

/// A fenced code block: its info string, text and the line it starts on.
struct Block {
    lang: String,
    text: String,
    line: usize,
}

fn code_blocks(page: &Page) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (event, range) in Parser::new(&page.text).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                open = Some(Block {
                    lang: info.split_whitespace().next().unwrap_or("").to_owned(),
                    text: String::new(),
                    line: page.line_of(range.start),
                });
            }
            Event::Text(text) => {
                if let Some(block) = open.as_mut() {
                    block.text.push_str(&text);
                }
            }
            Event::End(TagEnd::CodeBlock) => blocks.extend(open.take()),
            _ => {}
        }
    }
    blocks
}

/// Whether a YAML block is a complete flow (not a fragment of one).
fn is_flow(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("name:")) && text.lines().any(|l| l.starts_with("steps:"))
}

#[test]
fn every_complete_flow_example_validates() {
    let project = Scratch::new();
    // Copies, not links: what a flow names must be inside the project.
    for shared in ["fixtures", "checklists", "schema", "flows/_partials"] {
        copy_dir(&repo().join(shared), &project.path().join(shared));
    }

    let mut written = Vec::new();
    for page in pages() {
        for block in code_blocks(&page) {
            if !matches!(block.lang.as_str(), "yaml" | "yml") || !is_flow(&block.text) {
                continue;
            }
            let at = format!("{}:{}", page.rel, block.line);
            let rel = match block
                .text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# file: "))
            {
                Some(path) => path.trim().to_owned(),
                None => format!(
                    "doc-examples/{}-{}.yaml",
                    page.rel.replace(['/', '.'], "_"),
                    block.line
                ),
            };
            project.write(&rel, &block.text);
            written.push((rel, at));
        }
    }
    assert!(
        written.len() >= 3,
        "found only {} flow examples: {written:?}",
        written.len()
    );
    let mut args = vec!["validate"];
    args.extend(written.iter().map(|(rel, _)| rel.as_str()));
    let out = apoflow_in(project.path(), &args, &[]);
    let origins: Vec<String> = written
        .iter()
        .map(|(rel, at)| format!("  {rel} is the example at {at}"))
        .collect();
    assert_eq!(
        code(&out),
        0,
        "a flow example in the docs does not validate:\n{}\n{}",
        both(&out),
        origins.join("\n")
    );
}

/// The top-level entries of the repository that docs may name (not build output).
fn top_level_entries() -> BTreeSet<String> {
    fs::read_dir(repo())
        .expect("repository")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| !matches!(name.as_str(), "target" | ".git"))
        .collect()
}

/// Whether an inline code span reads as a path in the repository (not a placeholder, a
/// command, or an example of the user's own file).
fn repo_path(span: &str, tops: &BTreeSet<String>) -> Option<String> {
    if span.contains(|c: char| " …*<>{}$|,=()".contains(c)) || span.contains("..") {
        return None;
    }
    let path = span.split(['#', ':']).next().unwrap_or(span);
    let first = path.split('/').next().unwrap_or(path);
    (tops.contains(first) && (path.contains('/') || path.contains('.'))).then(|| path.to_owned())
}

#[test]
fn every_repository_path_the_docs_name_exists() {
    let tops = top_level_entries();
    let mut missing = Vec::new();
    for page in pages() {
        let mut in_block = false;
        for (event, range) in Parser::new(&page.text).into_offset_iter() {
            match event {
                Event::Start(Tag::CodeBlock(_)) => in_block = true,
                Event::End(TagEnd::CodeBlock) => in_block = false,
                Event::Code(span) if !in_block => {
                    if let Some(path) = repo_path(&span, &tops)
                        && !repo().join(&path).exists()
                    {
                        missing.push(format!(
                            "{}:{}: `{span}`",
                            page.rel,
                            page.line_of(range.start)
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the docs name paths that do not exist:\n{}",
        missing.join("\n")
    );
}

/// The anchor a heading gets (GitHub's and mdBook's rule: lower case, letters, digits, `-` and
/// `_` kept, spaces to `-`, the rest dropped).
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut heading: Option<String> = None;
    for event in Parser::new(text) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => out.extend(heading.take().map(|h| slug(&h))),
            _ => {}
        }
    }
    out
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    for page in pages() {
        let dir = repo()
            .join(&page.rel)
            .parent()
            .expect("a folder")
            .to_owned();
        for (event, range) in Parser::new(&page.text).into_offset_iter() {
            let Event::Start(Tag::Link { dest_url, .. }) = event else {
                continue;
            };
            if dest_url.contains("://") || dest_url.starts_with("mailto:") {
                continue;
            }
            let at = format!("{}:{}", page.rel, page.line_of(range.start));
            let (file, anchor) = dest_url.split_once('#').unwrap_or((&dest_url, ""));
            let target: PathBuf = if file.is_empty() {
                repo().join(&page.rel)
            } else {
                dir.join(file)
            };
            if !target.exists() {
                broken.push(format!("{at}: {dest_url} (no such file)"));
                continue;
            }
            if !anchor.is_empty() {
                let text = fs::read_to_string(&target).unwrap_or_default();
                if !anchors(&text).contains(anchor) {
                    broken.push(format!("{at}: {dest_url} (no such heading)"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_summary_lists_every_page() {
    let src = repo().join("docs/src");
    let summary = fs::read_to_string(src.join("SUMMARY.md")).expect("SUMMARY.md");
    let mut listed = BTreeSet::new();
    for event in Parser::new(&summary) {
        if let Event::Start(Tag::Link { dest_url, .. }) = event {
            listed.insert(dest_url.into_string());
        }
    }
    let pages: BTreeSet<String> = pages()
        .into_iter()
        .filter_map(|p| p.rel.strip_prefix("docs/src/").map(str::to_owned))
        .filter(|p| p != "SUMMARY.md")
        .collect();
    assert_eq!(
        listed, pages,
        "docs/src/SUMMARY.md and the pages in docs/src differ"
    );
    // One title per page: a page that starts with anything but a top-level heading reads oddly
    // in the book's navigation.
    for page in pages {
        let text = fs::read_to_string(src.join(&page)).expect("page");
        let first = Parser::new(&text).find_map(|e| match e {
            Event::Start(Tag::Heading { level, .. }) => Some(level),
            _ => None,
        });
        assert_eq!(
            first,
            Some(HeadingLevel::H1),
            "{page} does not start with a `# ` title"
        );
    }
}

#[test]
fn the_book_builds() {
    let out_dir = Scratch::new();
    let out = std::process::Command::new("mdbook")
        .arg("build")
        .arg(repo().join("docs"))
        .arg("--dest-dir")
        .arg(out_dir.path())
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => panic!(
            "mdbook could not run ({e}): install it with `cargo install mdbook --locked` \
             (.ci/run does)"
        ),
    };
    assert!(out.status.success(), "mdbook build failed:\n{}", both(&out));
    // mdBook reports some mistakes (a bad book.toml key, a missing page) and still exits 0.
    let logged = both(&out);
    let complaints: Vec<&str> = logged
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("WARN"))
        .collect();
    assert!(complaints.is_empty(), "mdbook complained:\n{logged}");
    assert!(Path::new(&out_dir.path().join("tutorial.html")).exists());
}
