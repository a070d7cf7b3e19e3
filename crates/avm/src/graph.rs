//! The module graph and tree-shaking.
//!
//! A candidate module is kept when it is reachable from the start module
//! through imports, or through any atom (atom table or literal table) that
//! names a candidate — the rule atomvm_packbeam's `prune` uses, which keeps
//! modules only called dynamically (`apply/3`, `Module.fun` on a variable, a
//! module stored in a literal) as long as their name appears as an atom.
//!
//! Protocol implementations are the one kind of module no atom names: an
//! unconsolidated protocol finds `Enumerable.Range` or `String.Chars.Point`
//! at run time by concatenating its own name with the value's type. So when
//! a protocol (a module exporting `__protocol__/1`) is kept, its
//! implementations (modules exporting `__impl__/1` named `<Protocol>.<Type>`)
//! are kept too: every one the application or the framework defines, and a
//! stdlib one when its type is a built-in type (`Integer`, `List`, ...) or a
//! kept module (`Enumerable.Range` once `Range` is kept).

use std::collections::{HashMap, VecDeque};

use crate::beam::Beam;
use crate::error::{Error, ErrorKind, Result};

mod functions;
pub use functions::{prune_functions, ExternalCall, FunctionPruned, ModuleCode};

/// What one module refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRefs {
    pub name: String,
    /// Modules named in `ImpT`.
    pub imports: Vec<String>,
    /// Every atom of `AtU8` and of the literal table.
    pub atoms: Vec<String>,
    /// Exports `__protocol__/1`: a protocol.
    pub is_protocol: bool,
    /// Exports `__impl__/1`: a protocol implementation.
    pub is_impl: bool,
}

impl ModuleRefs {
    /// Collects a module's references; inflates the literal table with at
    /// most `inflate_cap` bytes.
    pub fn from_beam(beam: &Beam<'_>, inflate_cap: usize) -> Result<Self> {
        let mut atoms: Vec<String> = beam.atoms().iter().map(|a| (*a).to_owned()).collect();
        for a in beam.literal_atoms_with_cap(inflate_cap)? {
            if !atoms.contains(&a) {
                atoms.push(a);
            }
        }
        Ok(ModuleRefs {
            name: beam.module_name().to_owned(),
            imports: beam
                .imported_modules()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            atoms,
            is_protocol: beam.exports_fun("__protocol__", 1),
            is_impl: beam.exports_fun("__impl__", 1),
        })
    }
}

/// A kept module and the module that first reached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub name: String,
    /// `None` for the start module.
    pub kept_by: Option<String>,
}

/// The result of [`prune`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// Kept modules in breadth-first order from the start module.
    pub kept: Vec<Kept>,
    /// Candidates nobody reaches, in input order.
    pub dropped: Vec<String>,
}

impl Pruned {
    pub fn is_kept(&self, name: &str) -> bool {
        self.kept.iter().any(|k| k.name == name)
    }
}

/// The types whose protocol implementations an unconsolidated protocol can
/// dispatch to without any struct module: `impl_for/1`'s guard clauses.
const BUILTIN_TYPES: &[&str] = &[
    "Atom",
    "BitString",
    "Float",
    "Function",
    "Integer",
    "List",
    "Map",
    "PID",
    "Port",
    "Reference",
    "Tuple",
    "Any",
];

/// Keeps what `start` reaches through imports or atoms naming a candidate,
/// and the protocol implementations a kept protocol can dispatch to (see the
/// module documentation); `own(i)` says whether module `i` is the user's
/// (every implementation it defines is kept with its protocol).
/// Deterministic: within one module, imports are followed before atoms, each
/// in table order; implementations follow in input order.
pub fn prune(modules: &[ModuleRefs], start: &str) -> Result<Pruned> {
    prune_with(modules, start, |_| false)
}

/// [`prune`], with `own` marking the modules whose every protocol
/// implementation is kept along with its protocol.
pub fn prune_with(
    modules: &[ModuleRefs],
    start: &str,
    own: impl Fn(usize) -> bool,
) -> Result<Pruned> {
    let index: HashMap<&str, usize> = modules
        .iter()
        .enumerate()
        .map(|(i, m)| (m.name.as_str(), i))
        .collect();
    let Some(&s) = index.get(start) else {
        return Err(Error::new(ErrorKind::UnknownStartModule {
            module: start.to_owned(),
        }));
    };
    let mut kept_by: Vec<Option<Option<usize>>> = vec![None; modules.len()];
    kept_by[s] = Some(None);
    let mut order = vec![s];
    let impls = implementations(modules);
    let mut queue = VecDeque::from([s]);
    loop {
        while let Some(i) = queue.pop_front() {
            let m = &modules[i];
            for name in m.imports.iter().chain(&m.atoms) {
                if let Some(&j) = index.get(name.as_str()) {
                    if kept_by[j].is_none() {
                        kept_by[j] = Some(Some(i));
                        order.push(j);
                        queue.push_back(j);
                    }
                }
            }
        }
        for &(i, protocol, ty) in &impls {
            if kept_by[i].is_some() || kept_by[protocol].is_none() {
                continue;
            }
            let for_kept = index
                .get(format!("Elixir.{ty}").as_str())
                .is_some_and(|&t| kept_by[t].is_some());
            if own(i) || BUILTIN_TYPES.contains(&ty) || for_kept {
                kept_by[i] = Some(Some(protocol));
                order.push(i);
                queue.push_back(i);
            }
        }
        if queue.is_empty() {
            break;
        }
    }
    let kept = order
        .iter()
        .map(|&i| Kept {
            name: modules[i].name.clone(),
            kept_by: kept_by[i].flatten().map(|p| modules[p].name.clone()),
        })
        .collect();
    let dropped = modules
        .iter()
        .zip(&kept_by)
        .filter(|(_, k)| k.is_none())
        .map(|(m, _)| m.name.clone())
        .collect();
    Ok(Pruned { kept, dropped })
}

/// Each protocol implementation with its protocol and type: the longest
/// protocol name that prefixes it (`String.Chars.Point` is `String.Chars`'s).
fn implementations(modules: &[ModuleRefs]) -> Vec<(usize, usize, &str)> {
    modules
        .iter()
        .enumerate()
        .filter(|(_, m)| m.is_impl)
        .filter_map(|(i, m)| {
            modules
                .iter()
                .enumerate()
                .filter(|(_, p)| p.is_protocol)
                .filter_map(|(pi, p)| {
                    let rest = m.name.strip_prefix(p.name.as_str())?.strip_prefix('.')?;
                    Some((pi, rest))
                })
                .max_by_key(|(_, rest)| std::cmp::Reverse(rest.len()))
                .map(|(pi, ty)| (i, pi, ty))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, imports: &[&str], atoms: &[&str]) -> ModuleRefs {
        ModuleRefs {
            name: name.into(),
            imports: imports.iter().map(|s| s.to_string()).collect(),
            atoms: atoms.iter().map(|s| s.to_string()).collect(),
            is_protocol: false,
            is_impl: false,
        }
    }

    fn protocol(name: &str) -> ModuleRefs {
        ModuleRefs {
            is_protocol: true,
            ..m(name, &[], &[])
        }
    }

    fn implementation(name: &str) -> ModuleRefs {
        ModuleRefs {
            is_impl: true,
            ..m(name, &[], &[])
        }
    }

    #[test]
    fn a_kept_protocol_keeps_the_implementations_it_can_dispatch_to() {
        let mods = [
            m(
                "app",
                &["Elixir.Enumerable", "Elixir.String.Chars"],
                &["Elixir.Range"],
            ),
            protocol("Elixir.Enumerable"),
            protocol("Elixir.String.Chars"),
            protocol("Elixir.Inspect"),
            m("Elixir.Range", &[], &[]),
            m("Elixir.Date", &[], &[]),
            implementation("Elixir.Enumerable.Range"),
            implementation("Elixir.Enumerable.List"),
            implementation("Elixir.Enumerable.Date"),
            implementation("Elixir.String.Chars.Point"),
            implementation("Elixir.String.Chars.Integer"),
            implementation("Elixir.Inspect.Integer"),
            m("Elixir.Point", &[], &[]),
        ];
        // Only the app's `String.Chars.Point` counts as the user's.
        let p = prune_with(&mods, "app", |i| i == 9).unwrap();
        let kept: Vec<_> = p.kept.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(
            kept,
            [
                "app",
                "Elixir.Enumerable",
                "Elixir.String.Chars",
                "Elixir.Range",
                "Elixir.Enumerable.Range",
                "Elixir.Enumerable.List",
                "Elixir.String.Chars.Point",
                "Elixir.String.Chars.Integer",
            ]
        );
        assert_eq!(p.kept[4].kept_by.as_deref(), Some("Elixir.Enumerable"));
        // No kept Date, no kept Inspect: their implementations stay out.
        assert!(!p.is_kept("Elixir.Enumerable.Date") && !p.is_kept("Elixir.Inspect.Integer"));
    }

    #[test]
    fn an_implementation_keeps_what_it_reaches_and_unlocks_more() {
        // Keeping `Enumerable.Stream` (its type is kept) reaches `Date`,
        // which in turn makes `Enumerable.Date` dispatchable.
        let mods = [
            m("app", &["Elixir.Enumerable", "Elixir.Stream"], &[]),
            protocol("Elixir.Enumerable"),
            m("Elixir.Stream", &[], &[]),
            ModuleRefs {
                imports: vec!["Elixir.Date".into()],
                ..implementation("Elixir.Enumerable.Stream")
            },
            m("Elixir.Date", &[], &[]),
            implementation("Elixir.Enumerable.Date"),
        ];
        let p = prune(&mods, "app").unwrap();
        assert!(p.is_kept("Elixir.Date") && p.is_kept("Elixir.Enumerable.Date"));
        assert!(p.dropped.is_empty(), "{:?}", p.dropped);
    }

    #[test]
    fn keeps_through_imports_and_atoms() {
        let mods = [
            m("app", &["lists"], &["app", "dyn"]),
            m("lists", &[], &["lists"]),
            m("dyn", &["maps"], &["dyn"]),
            m("maps", &[], &[]),
            m("unused", &["lists"], &[]),
        ];
        let p = prune(&mods, "app").unwrap();
        let names: Vec<_> = p.kept.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["app", "lists", "dyn", "maps"]);
        assert_eq!(p.kept[0].kept_by, None);
        assert_eq!(p.kept[3].kept_by.as_deref(), Some("dyn"));
        assert_eq!(p.dropped, ["unused"]);
        assert!(p.is_kept("dyn") && !p.is_kept("unused"));
    }

    #[test]
    fn unknown_start_is_an_error() {
        let err = prune(&[m("a", &[], &[])], "b").unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::UnknownStartModule { module } if module == "b"));
    }
}
