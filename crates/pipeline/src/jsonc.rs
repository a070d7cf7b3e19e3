//! JSONC (JSON with comments and trailing commas: `wrangler.jsonc`,
//! `elixir-workers.json`) read into serde_json values.
//!
//! The `json-strip-comments` crate blanks comments and trailing commas out
//! with spaces in place, so every byte keeps its offset and serde_json's line
//! and column in an error point into the file as written. Two things it does
//! differently from JSONC are handled or accepted here: it blanks the line
//! breaks inside a block comment too (they are put back, or every line after
//! such a comment would be misnumbered), and it also takes `#` to start a
//! line comment, so a file with one is read here where wrangler would refuse
//! it (wrangler then says so itself).
//!
//! Nothing here edits a file. The few edits `build` makes to a user's
//! `wrangler.jsonc` (a glob added to a rule, the `assets` object) are small
//! insertions of text at offsets found in the blanked copy [`strip`] gives,
//! so comments and formatting survive, and a parser with a syntax tree for
//! editing in place (the `jsonc-parser` crate's CST) is not needed; its
//! current release (0.34) also uses let chains, which need a newer Rust than
//! this workspace's 1.85.

use anyhow::{Context as _, Result};
use std::path::Path;

/// Reads and parses a JSONC file; the error names the file and position.
pub fn read(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read {}", path.display()))?;
    parse(&text).with_context(|| format!("{} is not valid JSONC", path.display()))
}

pub fn parse(text: &str) -> Result<serde_json::Value> {
    Ok(serde_json::from_slice(&strip(text)?)?)
}

/// `text` with its comments and trailing commas blanked out: plain JSON in
/// which every byte sits where it sits in `text`, so a position found in it
/// is a position in the file (how `crate::assets` edits in place).
pub fn strip(text: &str) -> Result<Vec<u8>> {
    let mut json = text.as_bytes().to_vec();
    json_strip_comments::strip_slice(&mut json)
        .context("a `/` outside a string does not start a comment")?;
    for (stripped, &original) in json.iter_mut().zip(text.as_bytes()) {
        if original == b'\n' {
            *stripped = b'\n';
        }
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_trailing_commas() {
        let v = parse(
            "{\n // a comment\n \"a\": \"http://x//y\", /* block\n comment */ \"b\": [1, 2,],\n}\n",
        )
        .unwrap();
        assert_eq!(v["a"], "http://x//y");
        assert_eq!(v["b"], serde_json::json!([1, 2]));
    }

    #[test]
    fn escaped_quote_in_string() {
        let v = parse(r#"{"a": "say \"hi\" // not a comment"}"#).unwrap();
        assert_eq!(v["a"], "say \"hi\" // not a comment");
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn error_points_into_the_file() {
        let err = error("{\n  // fine\n  \"a\": nope\n}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn lines_after_a_block_comment_keep_their_numbers() {
        let err = error("{\n  /* one\n     two\n     three */\n  \"a\": nope\n}");
        assert!(err.contains("line 5 column 9"), "{err}");
    }

    #[test]
    fn a_stray_slash_is_named() {
        let err = error("{\"a\": 1 / 2}");
        assert!(err.contains("does not start a comment"), "{err}");
    }
}
