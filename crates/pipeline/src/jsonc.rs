//! Just enough JSONC (JSON with comments and trailing commas, the format of
//! `wrangler.jsonc`) to read a few settings with serde_json.
//!
//! No maintained crate in the workspace parses JSONC; comments and trailing
//! commas are blanked out here (keeping byte offsets, so serde_json's line and
//! column in an error still point into the original file).

use anyhow::{Context as _, Result};
use std::path::Path;

/// Reads and parses a JSONC file; the error names the file and position.
pub fn read(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read {}", path.display()))?;
    parse(&text).with_context(|| format!("{} is not valid JSONC", path.display()))
}

pub fn parse(text: &str) -> Result<serde_json::Value> {
    Ok(serde_json::from_str(&strip(text))?)
}

/// Replaces comments and trailing commas with spaces.
fn strip(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    let mut in_string = false;
    // Index of the last comma seen outside strings with only blanks after it.
    let mut pending_comma: Option<usize> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                pending_comma = None;
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    out[i] = b' ';
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let start = i;
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                let end = (i + 2).min(bytes.len());
                for (j, byte) in out.iter_mut().enumerate().take(end).skip(start) {
                    if bytes[j] != b'\n' {
                        *byte = b' ';
                    }
                }
                i = end;
            }
            b',' => {
                pending_comma = Some(i);
                i += 1;
            }
            b'}' | b']' => {
                if let Some(c) = pending_comma.take() {
                    out[c] = b' ';
                }
                i += 1;
            }
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            _ => {
                pending_comma = None;
                i += 1;
            }
        }
    }
    // Only ASCII bytes were replaced by ASCII spaces, so this stays UTF-8.
    String::from_utf8(out).expect("stripping keeps UTF-8")
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

    #[test]
    fn error_points_into_the_file() {
        let err = parse("{\n  // fine\n  \"a\": nope\n}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
    }
}
