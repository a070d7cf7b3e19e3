//! OTP's `unicode_util` with compact tables. Its decomposition, composition
//! and case tables are function clauses, about 260 KB of an archive that
//! normalises a string, which `inspect/1` of an atom does (through
//! `String.Tokenizer`), and so does every `raise` with a message. The
//! build replaces those three functions' bodies with calls into
//! `ew_unicode` (`unicode/ew_unicode.erl`), whose tables are binaries made
//! from the user's own `unicode_util` by `unicode/unicode_tables.exs`. That
//! script reads the tables out of the module's code, and checks each answer
//! of the compiled `ew_unicode` against the original, so an OTP whose
//! module it cannot read is left as it is (with a warning), never changed.

use crate::process::{Cmd, ELIXIR};
use anyhow::{Context as _, Result};
use ew_runtime::digest::hex;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

const GENERATOR: &str = include_str!("unicode/unicode_tables.exs");
const LOOKUP: &str = include_str!("unicode/ew_unicode.erl");

/// The module whose tables are replaced, and the one that answers for them.
pub const MODULE: &str = "unicode_util";
pub const TABLES: &str = "ew_unicode";

/// The functions of `unicode_util` that become calls into [`TABLES`].
pub const TABLE_FUNCTIONS: &[(&str, u32)] =
    &[("unicode_table", 1), ("compose_pair", 2), ("case_table", 1)];

const STAMP: &str = "stamp";

/// The replacements for OTP's `unicode_util` (at `otp`): the patched module
/// and [`TABLES`], in `dir`, made there unless `dir` holds them for the same
/// `unicode_util` and the same tool already.
pub fn compact_tables(root: &Path, dir: &Path, otp: &Path) -> Result<Vec<PathBuf>> {
    let original =
        std::fs::read(otp).with_context(|| format!("could not read {}", otp.display()))?;
    let mut h = Sha256::new();
    for part in [
        crate::state::tool_key().as_bytes(),
        GENERATOR.as_bytes(),
        LOOKUP.as_bytes(),
        &original,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    let key = hex(&h.finalize());
    let outputs = [
        dir.join(format!("{MODULE}.beam")),
        dir.join(format!("{TABLES}.beam")),
    ];
    let current = std::fs::read_to_string(dir.join(STAMP)).is_ok_and(|s| s == key);
    if current && outputs.iter().all(|p| p.is_file()) {
        return Ok(outputs.to_vec());
    }
    crate::atomic::write_dir(dir, |out| {
        let scratch = tempfile::Builder::new()
            .prefix(".unicode-")
            .tempdir_in(out.parent().unwrap_or(Path::new(".")))
            .context("could not create a directory for the unicode tables' script")?;
        let script = scratch.path().join("unicode_tables.exs");
        let lookup = scratch.path().join(format!("{TABLES}.erl"));
        for (path, text) in [(&script, GENERATOR), (&lookup, LOOKUP)] {
            std::fs::write(path, text)
                .with_context(|| format!("could not write {}", path.display()))?;
        }
        Cmd::tool(ELIXIR, root)?
            .arg(&script)
            .arg(otp)
            .arg(&lookup)
            .arg(out.join(format!("{TABLES}.beam")))
            .capture()
            .with_context(|| format!("reading the tables of {}", otp.display()))?;
        let beam = avm::Beam::parse(&original).map_err(|e| e.with_file(otp))?;
        let refs =
            avm::code::code_refs(&beam, avm::DEFAULT_INFLATE_CAP).map_err(|e| e.with_file(otp))?;
        let patched = avm::code::redirect(&beam, &refs, TABLE_FUNCTIONS, TABLES)
            .map_err(|e| e.with_file(otp))?;
        std::fs::write(out.join(format!("{MODULE}.beam")), patched)
            .context("could not write the patched unicode_util")?;
        std::fs::write(out.join(STAMP), &key).context("could not write the tables' stamp")?;
        Ok(())
    })?;
    Ok(outputs.to_vec())
}
