//! Packing: BEAM inputs in, one `.avm` archive out.

use std::path::{Path, PathBuf};

use crate::archive::{self, BEAM_CODE_FLAG, BEAM_START_FLAG, END, HEADER};
use crate::beam::{Beam, Stripped, DEFAULT_INFLATE_CAP};
use crate::error::{Error, ErrorKind, Result};

/// One `.beam` file to pack.
#[derive(Debug, Clone)]
pub struct PackInput {
    /// Where the bytes came from: used for ordering (by file name), for
    /// errors and for warnings. Never read.
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    /// The startup module (flag 3, placed first). Exactly one input has it.
    pub start: bool,
}

/// Knobs for [`pack`].
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// Largest literal table (uncompressed) accepted; default 64 MiB.
    pub inflate_cap: usize,
    /// Worker threads for parsing and inflating; 0 = available parallelism.
    pub threads: usize,
}

impl Default for PackOptions {
    fn default() -> Self {
        PackOptions {
            inflate_cap: DEFAULT_INFLATE_CAP,
            threads: 0,
        }
    }
}

/// Something worth telling the user that does not stop packing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub path: PathBuf,
    pub kind: WarningKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarningKind {
    /// The file is not named `<module>.beam`; the section is named after the
    /// module's own atom so AtomVM can resolve it.
    FileNameMismatch { module: String },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            WarningKind::FileNameMismatch { module } => write!(
                f,
                "{}: file name differs from its module `{module}`; the section is named {module}.beam",
                self.path.display()
            ),
        }
    }
}

/// A section as written, for reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedSection {
    pub name: String,
    pub path: PathBuf,
    pub flags: u32,
    pub size: usize,
}

/// The archive and what went into it.
#[derive(Debug, Clone)]
pub struct Packed {
    pub bytes: Vec<u8>,
    pub sections: Vec<PackedSection>,
    pub warnings: Vec<Warning>,
}

struct Module<'a> {
    input: &'a PackInput,
    name: &'a str,
    stripped: Stripped<'a>,
}

fn process(input: &PackInput, cap: usize) -> Result<Module<'_>> {
    let with_file = |e: Error| e.with_file(&input.path);
    let beam = Beam::parse(&input.bytes).map_err(with_file)?;
    let stripped = beam.strip(cap).map_err(with_file)?;
    if input.start && !beam.exports_fun("start", 0) {
        let mut err = Error::new(ErrorKind::StartNotExported {
            module: beam.module_name().to_owned(),
        });
        if let Some(expt) = beam.chunk(crate::beam::EXPT) {
            err = err.with_chunk(expt.id).with_offset(expt.offset);
        }
        return Err(err.with_file(&input.path));
    }
    Ok(Module {
        input,
        name: beam.module_name(),
        stripped,
    })
}

fn file_name(p: &Path) -> &[u8] {
    p.file_name().unwrap_or(p.as_os_str()).as_encoded_bytes()
}

/// Packs `inputs` into an archive laid out exactly as DESIGN.md specifies:
/// the startup module first (flags 3), then every other module sorted by file
/// name (byte order), each as `<module>.beam` where `<module>` is atom 1 of
/// its `AtU8`. Inputs are parsed and inflated on `opts.threads` threads; the
/// result does not depend on the thread count.
pub fn pack(inputs: &[PackInput], opts: &PackOptions) -> Result<Packed> {
    if inputs.is_empty() {
        return Err(Error::new(ErrorKind::NoInputs));
    }
    let mut starts = inputs.iter().filter(|i| i.start);
    let start = starts
        .next()
        .ok_or_else(|| Error::new(ErrorKind::NoStartModule))?;
    if let Some(second) = starts.next() {
        return Err(Error::new(ErrorKind::MultipleStartModules).with_file(&second.path));
    }
    let mut order: Vec<&PackInput> = Vec::with_capacity(inputs.len());
    order.push(start);
    let mut rest: Vec<&PackInput> = inputs.iter().filter(|i| !i.start).collect();
    rest.sort_by(|a, b| file_name(&a.path).cmp(file_name(&b.path)));
    order.extend(rest);

    let modules = process_all(&order, opts)?;

    let mut warnings = Vec::new();
    let mut seen: std::collections::HashMap<&str, &Path> = std::collections::HashMap::new();
    let mut total = HEADER.len() + END.len();
    for m in &modules {
        if let Some(first) = seen.insert(m.name, &m.input.path) {
            return Err(Error::new(ErrorKind::DuplicateModule {
                module: m.name.to_owned(),
                first: first.to_path_buf(),
            })
            .with_file(&m.input.path));
        }
        let expected = format!("{}.beam", m.name);
        if file_name(&m.input.path) != expected.as_bytes() {
            warnings.push(Warning {
                path: m.input.path.clone(),
                kind: WarningKind::FileNameMismatch {
                    module: m.name.to_owned(),
                },
            });
        }
        total += archive::section_len(&expected, m.stripped.len());
    }

    let mut out = Vec::with_capacity(total);
    let mut sections = Vec::with_capacity(modules.len());
    out.extend_from_slice(HEADER);
    for m in &modules {
        let name = format!("{}.beam", m.name);
        let flags = if m.input.start {
            BEAM_START_FLAG | BEAM_CODE_FLAG
        } else {
            BEAM_CODE_FLAG
        };
        let at = out.len();
        archive::write_section_head(&mut out, &name, flags, m.stripped.len());
        m.stripped.write_to(&mut out);
        archive::pad_to_4(&mut out);
        sections.push(PackedSection {
            name,
            path: m.input.path.clone(),
            flags,
            size: out.len() - at,
        });
    }
    out.extend_from_slice(END);
    debug_assert_eq!(out.len(), total);
    Ok(Packed {
        bytes: out,
        sections,
        warnings,
    })
}

/// Parses and strips every input, in parallel, keeping input order. On
/// failure the error of the earliest failing input (in archive order) wins,
/// so the message does not depend on scheduling.
fn process_all<'a>(order: &[&'a PackInput], opts: &PackOptions) -> Result<Vec<Module<'a>>> {
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(order.len())
    .max(1);
    let cap = opts.inflate_cap;
    if threads == 1 {
        return order.iter().map(|i| process(i, cap)).collect();
    }
    // Interleaved assignment spreads big and small modules evenly.
    let mut slots: Vec<Option<Result<Module<'a>>>> = (0..order.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (t..order.len())
                        .step_by(threads)
                        .map(|k| (k, process(order[k], cap)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (k, r) in h.join().expect("pack worker panicked") {
                slots[k] = Some(r);
            }
        }
    });
    slots
        .into_iter()
        .map(|r| r.expect("every input processed"))
        .collect()
}
