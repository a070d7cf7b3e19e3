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

/// Parses and strips one module; checks `start/0` for the startup module.
fn process<'a>(
    path: &Path,
    bytes: &'a [u8],
    start: bool,
    cap: usize,
) -> Result<(&'a str, Stripped<'a>)> {
    let with_file = |e: Error| e.with_file(path);
    let beam = Beam::parse(bytes).map_err(with_file)?;
    let stripped = beam.strip(cap).map_err(with_file)?;
    if start && !beam.exports_fun("start", 0) {
        let mut err = Error::new(ErrorKind::StartNotExported {
            module: beam.module_name().to_owned(),
        });
        if let Some(expt) = beam.chunk(crate::beam::EXPT) {
            err = err.with_chunk(expt.id).with_offset(expt.offset);
        }
        return Err(err.with_file(path));
    }
    Ok((beam.module_name(), stripped))
}

/// One module parsed, checked and stripped, no longer tied to its input
/// bytes: for callers that read, prepare and drop one file at a time (the CLI
/// does, reusing one read buffer per thread), then [`assemble`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedModule {
    pub path: PathBuf,
    /// The module name (atom 1 of `AtU8`).
    pub name: String,
    pub start: bool,
    /// The stripped `FOR1` form, a multiple of 4 bytes long.
    pub form: Vec<u8>,
}

/// Parses and strips one `.beam` (see [`pack`]); errors carry `path`.
pub fn prepare(
    path: &Path,
    bytes: &[u8],
    start: bool,
    inflate_cap: usize,
) -> Result<PreparedModule> {
    let (name, stripped) = process(path, bytes, start, inflate_cap)?;
    Ok(PreparedModule {
        path: path.to_path_buf(),
        name: name.to_owned(),
        start,
        form: stripped.to_vec(),
    })
}

/// What the archive writer needs from a module, prepared or borrowed.
trait Entry {
    fn path(&self) -> &Path;
    fn name(&self) -> &str;
    fn start(&self) -> bool;
    fn form_len(&self) -> usize;
    fn write_form(&self, out: &mut Vec<u8>);
}

impl Entry for Module<'_> {
    fn path(&self) -> &Path {
        &self.input.path
    }
    fn name(&self) -> &str {
        self.name
    }
    fn start(&self) -> bool {
        self.input.start
    }
    fn form_len(&self) -> usize {
        self.stripped.len()
    }
    fn write_form(&self, out: &mut Vec<u8>) {
        self.stripped.write_to(out)
    }
}

impl Entry for PreparedModule {
    fn path(&self) -> &Path {
        &self.path
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn start(&self) -> bool {
        self.start
    }
    fn form_len(&self) -> usize {
        self.form.len()
    }
    fn write_form(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.form)
    }
}

fn file_name(p: &Path) -> &[u8] {
    p.file_name().unwrap_or(p.as_os_str()).as_encoded_bytes()
}

/// Puts items in archive order: the single start item first, the rest sorted
/// by file name (byte order; stable, so equal names keep input order).
fn archive_order<T>(
    items: Vec<T>,
    is_start: impl Fn(&T) -> bool,
    path: impl Fn(&T) -> &Path,
) -> Result<Vec<T>> {
    if items.is_empty() {
        return Err(Error::new(ErrorKind::NoInputs));
    }
    let (mut starts, mut rest): (Vec<T>, Vec<T>) = items.into_iter().partition(|i| is_start(i));
    if starts.is_empty() {
        return Err(Error::new(ErrorKind::NoStartModule));
    }
    if starts.len() > 1 {
        return Err(Error::new(ErrorKind::MultipleStartModules).with_file(path(&starts[1])));
    }
    rest.sort_by(|a, b| file_name(path(a)).cmp(file_name(path(b))));
    starts.extend(rest);
    Ok(starts)
}

/// Sorts `paths` (with the start flag of each) the way [`pack`] orders the
/// archive, so a caller preparing modules itself can report the same first
/// error as `pack` would.
pub fn archive_order_of(paths: Vec<(PathBuf, bool)>) -> Result<Vec<(PathBuf, bool)>> {
    archive_order(paths, |p| p.1, |p| &p.0)
}

/// Packs `inputs` into an archive laid out exactly as DESIGN.md specifies:
/// the startup module first (flags 3), then every other module sorted by file
/// name (byte order), each as `<module>.beam` where `<module>` is atom 1 of
/// its `AtU8`. Inputs are parsed and inflated on `opts.threads` threads; the
/// result does not depend on the thread count. When several inputs are
/// malformed, the error is the first one in archive order.
pub fn pack(inputs: &[PackInput], opts: &PackOptions) -> Result<Packed> {
    let order = archive_order(inputs.iter().collect(), |i| i.start, |i| &i.path)?;
    let modules = process_all(&order, opts)?;
    write_archive(&modules)
}

/// Writes already prepared modules (any order) as [`pack`] would.
pub fn assemble(modules: Vec<PreparedModule>) -> Result<Packed> {
    let modules = archive_order(modules, |m| m.start, |m| &m.path)?;
    write_archive(&modules)
}

/// Prepared modules in archive order, checked and laid out, not yet
/// written: [`Layout::write_to`] streams the archive to any writer without
/// building it in memory first (the CLI writes it straight to its temp file).
#[derive(Debug, Clone)]
pub struct Layout {
    modules: Vec<PreparedModule>,
    plan: Plan,
}

/// Orders and checks prepared modules; see [`Layout`].
pub fn layout(modules: Vec<PreparedModule>) -> Result<Layout> {
    let modules = archive_order(modules, |m| m.start, |m| &m.path)?;
    let plan = plan(&modules)?;
    Ok(Layout { modules, plan })
}

impl Layout {
    /// The archive's length in bytes.
    pub fn len(&self) -> usize {
        self.plan.total
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn warnings(&self) -> &[Warning] {
        &self.plan.warnings
    }

    /// The sections as they will be written.
    pub fn sections(&self) -> Vec<PackedSection> {
        self.modules
            .iter()
            .zip(&self.plan.names)
            .map(|(m, name)| PackedSection {
                name: name.clone(),
                path: m.path.clone(),
                flags: flags(m.start),
                size: archive::section_len(name, m.form.len()),
            })
            .collect()
    }

    /// Writes the archive: the same bytes [`assemble`] returns.
    pub fn write_to<W: std::io::Write + ?Sized>(&self, w: &mut W) -> std::io::Result<()> {
        w.write_all(HEADER)?;
        let mut head = Vec::with_capacity(64);
        for (m, name) in self.modules.iter().zip(&self.plan.names) {
            head.clear();
            archive::write_section_head(&mut head, name, flags(m.start), m.form.len());
            w.write_all(&head)?;
            w.write_all(&m.form)?;
            w.write_all(&[0; 3][..crate::beam::pad4(m.form.len()) - m.form.len()])?;
        }
        w.write_all(END)
    }
}

fn flags(start: bool) -> u32 {
    if start {
        BEAM_START_FLAG | BEAM_CODE_FLAG
    } else {
        BEAM_CODE_FLAG
    }
}

#[derive(Debug, Clone)]
struct Plan {
    names: Vec<String>,
    warnings: Vec<Warning>,
    total: usize,
}

/// Section names, duplicate check, warnings and the total length.
fn plan<M: Entry>(modules: &[M]) -> Result<Plan> {
    let mut warnings = Vec::new();
    let mut seen: std::collections::HashMap<&str, &Path> = std::collections::HashMap::new();
    let mut total = HEADER.len() + END.len();
    let mut names = Vec::with_capacity(modules.len());
    for m in modules {
        if let Some(first) = seen.insert(m.name(), m.path()) {
            return Err(Error::new(ErrorKind::DuplicateModule {
                module: m.name().to_owned(),
                first: first.to_path_buf(),
            })
            .with_file(m.path()));
        }
        let name = format!("{}.beam", m.name());
        if file_name(m.path()) != name.as_bytes() {
            warnings.push(Warning {
                path: m.path().to_path_buf(),
                kind: WarningKind::FileNameMismatch {
                    module: m.name().to_owned(),
                },
            });
        }
        total += archive::section_len(&name, m.form_len());
        names.push(name);
    }
    Ok(Plan {
        names,
        warnings,
        total,
    })
}

fn write_archive<M: Entry>(modules: &[M]) -> Result<Packed> {
    let Plan {
        names,
        warnings,
        total,
    } = plan(modules)?;
    let mut out = Vec::with_capacity(total);
    let mut sections = Vec::with_capacity(modules.len());
    out.extend_from_slice(HEADER);
    for (m, name) in modules.iter().zip(names) {
        let flags = flags(m.start());
        let at = out.len();
        archive::write_section_head(&mut out, &name, flags, m.form_len());
        m.write_form(&mut out);
        archive::pad_to_4(&mut out);
        sections.push(PackedSection {
            name,
            path: m.path().to_path_buf(),
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
    let cap = opts.inflate_cap;
    map_in_order(order, opts.threads, |input, _: &mut ()| module(input, cap))
        .into_iter()
        .collect()
}

/// Runs `f` over `items` on up to `threads` scoped threads (0: one per core)
/// and returns the results in input order, whatever the scheduling. Each
/// thread has its own scratch value `S` (the CLI keeps a reusable read buffer
/// there). Items are dealt round-robin, which spreads big and small modules
/// evenly. Shared by [`pack`] and by callers that read files themselves and
/// [`prepare`] them, so both report the earliest failing input.
pub fn map_in_order<T, S, R>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T, &mut S) -> R + Sync,
) -> Vec<R>
where
    T: Sync,
    S: Default,
    R: Send,
{
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(items.len())
    .max(1);
    if threads == 1 {
        let mut scratch = S::default();
        return items.iter().map(|i| f(i, &mut scratch)).collect();
    }
    let mut slots: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let f = &f;
                s.spawn(move || {
                    let mut scratch = S::default();
                    (t..items.len())
                        .step_by(threads)
                        .map(|k| (k, f(&items[k], &mut scratch)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (k, r) in h.join().expect("a worker thread panicked") {
                slots[k] = Some(r);
            }
        }
    });
    slots
        .into_iter()
        .map(|r| r.expect("every item processed"))
        .collect()
}

fn module(input: &PackInput, cap: usize) -> Result<Module<'_>> {
    let (name, stripped) = process(&input.path, &input.bytes, input.start, cap)?;
    Ok(Module {
        input,
        name,
        stripped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{atoms, form};

    /// A module named `name` exporting start/0 (atom 2) when `start`.
    fn module(name: &str, start: bool) -> Vec<u8> {
        let at = atoms(&[name, "start"]);
        let mut exp = vec![0, 0, 0, start as u8];
        if start {
            exp.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]);
        }
        form(&[(b"AtU8", &at), (b"Code", b"c"), (b"ExpT", &exp)])
    }

    fn input(path: &str, name: &str, start: bool) -> PackInput {
        PackInput {
            path: path.into(),
            bytes: module(name, start),
            start,
        }
    }

    fn names(p: &Packed) -> Vec<&str> {
        p.sections.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn start_first_then_sorted_by_file_name() {
        let inputs = [
            input("d/zz.beam", "zz", false),
            input("b/main.beam", "main", true),
            input("c/B.beam", "B", false),
            input("a/a.beam", "a", false),
        ];
        for threads in [1, 2, 3] {
            let p = pack(
                &inputs,
                &PackOptions {
                    threads,
                    ..Default::default()
                },
            )
            .unwrap();
            assert_eq!(names(&p), ["main.beam", "B.beam", "a.beam", "zz.beam"]);
            assert_eq!(p.sections[0].flags, 3);
            assert!(p.warnings.is_empty());
            let a = crate::Archive::parse(&p.bytes).unwrap();
            assert_eq!(a.sections.len(), 4);
            assert_eq!(
                p.bytes.len(),
                p.sections.iter().map(|s| s.size).sum::<usize>() + 24 + 16
            );
        }
    }

    #[test]
    fn file_name_mismatch_warns_and_uses_the_atom() {
        let p = pack(
            &[
                input("main.beam", "main", true),
                input("x/old_name.beam", "new_name", false),
            ],
            &PackOptions::default(),
        )
        .unwrap();
        assert_eq!(names(&p), ["main.beam", "new_name.beam"]);
        assert_eq!(p.warnings.len(), 1);
        assert_eq!(
            p.warnings[0].to_string(),
            "x/old_name.beam: file name differs from its module `new_name`; the section is named new_name.beam"
        );
    }

    #[test]
    fn input_set_errors() {
        let o = PackOptions::default();
        assert_eq!(pack(&[], &o).unwrap_err().kind(), &ErrorKind::NoInputs);
        assert_eq!(
            pack(&[input("a.beam", "a", false)], &o).unwrap_err().kind(),
            &ErrorKind::NoStartModule
        );
        let e = pack(
            &[input("a.beam", "a", true), input("b.beam", "b", true)],
            &o,
        )
        .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::MultipleStartModules);
        let e = pack(
            &[
                input("a.beam", "a", true),
                input("x/b.beam", "b", false),
                input("y/b.beam", "b", false),
            ],
            &o,
        )
        .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::DuplicateModule { module, .. } if module == "b"));
        assert_eq!(e.file(), Some(Path::new("y/b.beam")));
        let e = pack(
            &[
                input("a.beam", "a", false),
                PackInput {
                    start: true,
                    ..input("m.beam", "m", false)
                },
            ],
            &o,
        )
        .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::StartNotExported { module } if module == "m"));
        assert_eq!(e.chunk(), Some(*b"ExpT"));
    }

    #[test]
    fn earliest_bad_input_wins_regardless_of_threads() {
        let mut bad1 = input("b.beam", "b", false);
        bad1.bytes.truncate(10);
        let mut bad2 = input("c.beam", "c", false);
        bad2.bytes.truncate(10);
        let inputs = [input("a.beam", "a", true), bad2, bad1];
        for threads in [1, 2, 3] {
            let e = pack(
                &inputs,
                &PackOptions {
                    threads,
                    ..Default::default()
                },
            )
            .unwrap_err();
            assert_eq!(e.file(), Some(Path::new("b.beam")));
        }
    }

    #[test]
    fn prepare_and_assemble_equal_pack() {
        let inputs = [
            input("z.beam", "z", false),
            input("m.beam", "m", true),
            input("b.beam", "b", false),
        ];
        let packed = pack(&inputs, &PackOptions::default()).unwrap();
        let prepared: Vec<_> = inputs
            .iter()
            .rev()
            .map(|i| prepare(&i.path, &i.bytes, i.start, DEFAULT_INFLATE_CAP).unwrap())
            .collect();
        let laid = layout(prepared.clone()).unwrap();
        let mut streamed = Vec::new();
        laid.write_to(&mut streamed).unwrap();
        assert_eq!(streamed, packed.bytes);
        assert_eq!(laid.len(), packed.bytes.len());
        assert_eq!(laid.sections(), packed.sections);
        let assembled = assemble(prepared).unwrap();
        assert_eq!(assembled.bytes, packed.bytes);
        assert_eq!(assembled.sections, packed.sections);
        let order =
            archive_order_of(inputs.iter().map(|i| (i.path.clone(), i.start)).collect()).unwrap();
        let names: Vec<_> = order.iter().map(|(p, _)| p.to_str().unwrap()).collect();
        assert_eq!(names, ["m.beam", "b.beam", "z.beam"]);
    }
}
