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

/// The replacements for OTP's `unicode_util` (at `otp`): the patched module
/// and [`TABLES`], made once into a directory of `cache` named by what they
/// are made from (the OTP module, the scripts and this tool). A directory
/// once there is never replaced, so builds running at the same time (the
/// cache is the user's) each find it whole or make their own copy; the
/// first rename wins. A failure is remembered beside it (`<key>.failed`,
/// with the reason), so that later builds do not start Elixir again for it.
pub fn compact_tables(root: &Path, cache: &Path, otp: &Path) -> Result<Vec<PathBuf>> {
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
    let key = &hex(&h.finalize())[..20];
    let dir = cache.join(key);
    let outputs = [
        dir.join(format!("{MODULE}.beam")),
        dir.join(format!("{TABLES}.beam")),
    ];
    if outputs.iter().all(|p| p.is_file()) {
        return Ok(outputs.to_vec());
    }
    let failed = cache.join(format!("{key}.failed"));
    if let Ok(reason) = std::fs::read_to_string(&failed) {
        anyhow::bail!(
            "{reason} (as in an earlier build; delete {} to try again)",
            failed.display()
        );
    }
    std::fs::create_dir_all(cache)
        .with_context(|| format!("could not create {}", cache.display()))?;
    make(root, cache, otp, &original, &dir).inspect_err(|e| {
        // Remembered only when written whole; a build that cannot write it
        // simply tries again next time.
        crate::atomic::write(&failed, format!("{e:#}").as_bytes()).ok();
    })?;
    Ok(outputs.to_vec())
}

/// Makes the two modules in a staging directory of `cache` and renames it
/// to `dir`, unless another build did first.
fn make(root: &Path, cache: &Path, otp: &Path, original: &[u8], dir: &Path) -> Result<()> {
    let staging = tempfile::Builder::new()
        .prefix(".unicode-")
        .tempdir_in(cache)
        .with_context(|| format!("could not create a directory in {}", cache.display()))?;
    let out = staging.path();
    let script = out.join("unicode_tables.exs");
    let lookup = out.join(format!("{TABLES}.erl"));
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
    let beam = avm::Beam::parse(original).map_err(|e| e.with_file(otp))?;
    let refs =
        avm::code::code_refs(&beam, avm::DEFAULT_INFLATE_CAP).map_err(|e| e.with_file(otp))?;
    let patched =
        avm::code::redirect(&beam, &refs, TABLE_FUNCTIONS, TABLES).map_err(|e| e.with_file(otp))?;
    std::fs::write(out.join(format!("{MODULE}.beam")), patched)
        .context("could not write the patched unicode_util")?;
    for scratch in [&script, &lookup] {
        std::fs::remove_file(scratch)
            .with_context(|| format!("could not remove {}", scratch.display()))?;
    }
    // Temporary directories are created 0700; this one is an ordinary one.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("could not set permissions on {}", out.display()))?;
    let made = staging.keep();
    if let Err(e) = std::fs::rename(&made, dir) {
        // Another build made it first: use theirs.
        std::fs::remove_dir_all(&made).ok();
        if !dir.join(format!("{TABLES}.beam")).is_file() {
            return Err(e).with_context(|| format!("could not rename into {}", dir.display()));
        }
    }
    Ok(())
}
