//! The module graph and tree-shaking.
//!
//! A candidate module is kept when it is reachable from the start module
//! through imports, or through any atom (atom table or literal table) that
//! names a candidate — the rule atomvm_packbeam's `prune` uses, which keeps
//! modules only called dynamically (`apply/3`, `Module.fun` on a variable, a
//! module stored in a literal) as long as their name appears as an atom.

use std::collections::{HashMap, VecDeque};

use crate::beam::Beam;
use crate::error::{Error, ErrorKind, Result};

/// What one module refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRefs {
    pub name: String,
    /// Modules named in `ImpT`.
    pub imports: Vec<String>,
    /// Every atom of `AtU8` and of the literal table.
    pub atoms: Vec<String>,
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

/// Keeps what `start` reaches through imports or atoms naming a candidate.
/// Deterministic: within one module, imports are followed before atoms, each
/// in table order.
pub fn prune(modules: &[ModuleRefs], start: &str) -> Result<Pruned> {
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
    let mut queue = VecDeque::from([s]);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, imports: &[&str], atoms: &[&str]) -> ModuleRefs {
        ModuleRefs {
            name: name.into(),
            imports: imports.iter().map(|s| s.to_string()).collect(),
            atoms: atoms.iter().map(|s| s.to_string()).collect(),
        }
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
