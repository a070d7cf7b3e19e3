//! `elixir-workers inspect FILE.avm [--json]`

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The archive to show
    #[arg(value_name = "FILE.avm")]
    pub file: PathBuf,

    /// Print one JSON document on stdout instead of text
    #[arg(long)]
    pub json: bool,
}

/// What `inspect` shows; also the shape of `--json`.
#[derive(Debug, Serialize)]
pub struct Report {
    pub size: usize,
    pub sections: Vec<SectionReport>,
}

#[derive(Debug, Serialize)]
pub struct SectionReport {
    pub name: String,
    pub flags: u32,
    pub flag_names: Vec<&'static str>,
    pub offset: u64,
    pub size: u32,
    pub payload_size: usize,
    pub chunks: Vec<ChunkReport>,
}

#[derive(Debug, Serialize)]
pub struct ChunkReport {
    pub id: String,
    pub offset: u64,
    pub size: u32,
}

fn flag_names(flags: u32) -> Vec<&'static str> {
    let mut v = Vec::new();
    if flags & avm::archive::BEAM_START_FLAG != 0 {
        v.push("start");
    }
    if flags & avm::archive::BEAM_CODE_FLAG != 0 {
        v.push("code");
    }
    if flags & avm::archive::NORMAL_FILE_FLAG != 0 {
        v.push("data");
    }
    v
}

fn chunk_id(id: &avm::ChunkId) -> String {
    id.iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

/// Reads an archive into a report.
pub fn report(bytes: &[u8]) -> Result<Report, avm::Error> {
    let archive = avm::Archive::parse(bytes)?;
    let sections = archive
        .sections
        .into_iter()
        .map(|s| SectionReport {
            flags: s.flags,
            flag_names: flag_names(s.flags),
            offset: s.offset,
            size: s.size,
            payload_size: s.payload.len(),
            chunks: s
                .chunks
                .iter()
                .map(|c| ChunkReport {
                    id: chunk_id(&c.id),
                    offset: c.offset,
                    size: c.size,
                })
                .collect(),
            name: s.name,
        })
        .collect();
    Ok(Report {
        size: bytes.len(),
        sections,
    })
}

/// The readable dump: one line per section, one indented line per chunk.
pub fn render_text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "archive: {} bytes, {} sections",
        r.size,
        r.sections.len()
    );
    for s in &r.sections {
        let _ = writeln!(
            out,
            "section {} flags {} ({}) offset {} size {}",
            s.name,
            s.flags,
            s.flag_names.join("|"),
            s.offset,
            s.size
        );
        for c in &s.chunks {
            let _ = writeln!(out, "  chunk {} offset {} size {}", c.id, c.offset, c.size);
        }
    }
    let _ = writeln!(
        out,
        "end offset {}",
        r.size.saturating_sub(avm::archive::END.len())
    );
    out
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let r = report(&bytes).map_err(|e| e.with_file(&args.file))?;
    let text = if args.json {
        let mut s = serde_json::to_string_pretty(&r).context("cannot render JSON")?;
        s.push('\n');
        s
    } else {
        render_text(&r)
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // A closed pipe (`inspect x.avm | head`) exits 0: main.rs decides.
        Err(e) => Err(e).context("cannot write to stdout"),
    }
}
