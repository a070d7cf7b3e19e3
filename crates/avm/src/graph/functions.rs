//! Function-level tree-shaking: [`prune_functions`], what `build` uses.

use std::collections::{HashMap, HashSet, VecDeque};

use super::{implementations, Kept, ModuleRefs, Pruned, BUILTIN_TYPES};
use crate::error::{Error, ErrorKind, Result};

/// A module for function-level shaking: its module-level references, and
/// its functions' references when its code could be decoded (`None`: the
/// module is one opaque unit, kept whole with everything it names).
#[derive(Debug, Clone)]
pub struct ModuleCode {
    pub refs: ModuleRefs,
    pub code: Option<crate::code::CodeRefs>,
}

/// A call the shake saw that no kept module answers: the target module is
/// not a candidate (a BIF or NIF of the runtime, or missing), or it is one
/// that does not export the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalCall {
    /// The calling module and function.
    pub caller: String,
    pub function: (String, u32),
    /// The called module, function and arity.
    pub target: (String, String, u32),
    /// The target module is a candidate that does not export it.
    pub not_exported: bool,
}

/// What [`prune_functions`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionPruned {
    pub pruned: Pruned,
    /// Why each kept module is kept, by module name, in `pruned.kept` order.
    pub why: Vec<String>,
    /// Calls from reachable functions that no candidate module exports.
    pub external: Vec<ExternalCall>,
    /// Per kept module, in `pruned.kept` order: which of its functions
    /// (`code.functions`) are reached, or `None` for a module whose code
    /// could not be read (kept whole).
    pub reached: Vec<Option<Vec<bool>>>,
}

fn display(name: &str) -> &str {
    name.strip_prefix("Elixir.").unwrap_or(name)
}

/// Function-level tree-shaking. From the start module's exports it follows,
/// function by function: local calls and funs, external calls into the
/// exported function they name, and atoms. An atom naming a candidate module
/// (the function's own included: `%__MODULE__{}` hands it to code that
/// calls it by name) keeps that module, and makes a root of each of its
/// exports whose name is an atom that a reached function holds, now or once
/// one is reached: a dynamic call (`apply`, `mod.fun(...)`) names its
/// function with an atom as it names its module. A call `native` says the VM answers
/// itself (a BIF or NIF) is no edge; an atom naming a protocol
/// implementation leaves it to the protocol rule, and the macros of a module
/// kept whole (`MACRO-*` exports) are no roots. A module is kept when one of its
/// functions is reached; a module whose code cannot be decoded is kept whole,
/// with everything it names. Protocol implementations follow their protocol
/// as in [`prune_with`].
pub fn prune_functions(
    modules: &[ModuleCode],
    start: &str,
    keep: &[String],
    own: impl Fn(usize) -> bool,
    user: impl Fn(usize) -> bool,
    native: impl Fn(&str, &str, u32) -> bool,
) -> Result<FunctionPruned> {
    let index: HashMap<&str, usize> = modules
        .iter()
        .enumerate()
        .map(|(i, m)| (m.refs.name.as_str(), i))
        .collect();
    let Some(&s) = index.get(start) else {
        return Err(Error::new(ErrorKind::UnknownStartModule {
            module: start.to_owned(),
        }));
    };
    let refs: Vec<ModuleRefs> = modules.iter().map(|m| m.refs.clone()).collect();
    let mut st = Walk {
        modules,
        index: &index,
        kept: vec![None; modules.len()],
        order: Vec::new(),
        all: vec![false; modules.len()],
        named: vec![false; modules.len()],
        held: HashSet::new(),
        waiting: HashMap::new(),
        visited: modules
            .iter()
            .map(|m| vec![false; m.code.as_ref().map_or(0, |c| c.functions.len())])
            .collect(),
        queue: VecDeque::new(),
        external: Vec::new(),
        native: &native,
        user: &user,
        names_built: false,
    };
    st.reach_all(s, None, "startup module".into());
    for name in keep {
        match index.get(name.as_str()) {
            Some(&k) => st.reach_all(k, None, "listed in the project's `keep` setting".into()),
            None => {
                return Err(Error::new(ErrorKind::UnknownStartModule {
                    module: name.clone(),
                }))
            }
        }
    }
    let impls = implementations(&refs);
    loop {
        while let Some((m, f)) = st.queue.pop_front() {
            st.visit(m, f);
        }
        let mut more = false;
        for &(i, protocol, ty) in &impls {
            if st.kept[i].is_some() || st.kept[protocol].is_none() {
                continue;
            }
            let for_kept = index
                .get(format!("Elixir.{ty}").as_str())
                .is_some_and(|&t| st.kept[t].is_some());
            if own(i) || BUILTIN_TYPES.contains(&ty) || for_kept {
                let why = format!(
                    "protocol {} can dispatch to it",
                    display(&refs[protocol].name)
                );
                st.reach_all(i, Some(protocol), why);
                more = true;
            }
        }
        if !more && st.queue.is_empty() {
            break;
        }
    }
    let kept = st
        .order
        .iter()
        .map(|&i| Kept {
            name: modules[i].refs.name.clone(),
            kept_by: st.kept[i]
                .as_ref()
                .and_then(|(by, _)| *by)
                .map(|p| modules[p].refs.name.clone()),
        })
        .collect();
    let why = st
        .order
        .iter()
        .map(|&i| {
            st.kept[i]
                .as_ref()
                .map(|(_, w)| w.clone())
                .unwrap_or_default()
        })
        .collect();
    let dropped = modules
        .iter()
        .zip(&st.kept)
        .filter(|(_, k)| k.is_none())
        .map(|(m, _)| m.refs.name.clone())
        .collect();
    let reached = st
        .order
        .iter()
        .map(|&i| modules[i].code.as_ref().map(|_| st.visited[i].clone()))
        .collect();
    Ok(FunctionPruned {
        pruned: Pruned { kept, dropped },
        why,
        external: st.external,
        reached,
    })
}

/// Whether `func` may make the name of a function to call at run time: it
/// makes atoms from text (`String.to_atom/1`, `:erlang.binary_to_atom/2`,
/// `List.to_existing_atom/1`, ...), or reads a module's functions
/// (`__info__`, `module_info`, `:erlang.get_module_info/1,2`).
fn builds_names(func: &crate::code::FunctionRefs) -> bool {
    const MAKERS: &[(&str, &str)] = &[
        ("erlang", "binary_to_atom"),
        ("erlang", "binary_to_existing_atom"),
        ("erlang", "list_to_atom"),
        ("erlang", "list_to_existing_atom"),
        ("erlang", "get_module_info"),
        ("Elixir.String", "to_atom"),
        ("Elixir.String", "to_existing_atom"),
        ("Elixir.List", "to_atom"),
        ("Elixir.List", "to_existing_atom"),
    ];
    func.external.iter().any(|(m, f, _)| {
        MAKERS.contains(&(m.as_str(), f.as_str())) || f == "__info__" || f == "module_info"
    }) || func
        .atoms
        .iter()
        .any(|a| a == "__info__" || a == "module_info")
}

struct Walk<'a> {
    modules: &'a [ModuleCode],
    /// Calls the VM answers itself: no edge.
    native: &'a dyn Fn(&str, &str, u32) -> bool,
    /// The user's own modules (the app's, not the framework's).
    user: &'a dyn Fn(usize) -> bool,
    /// A reached function of the user's builds function names at run time
    /// ([`builds_names`]): from then on an atom naming a module roots all of
    /// its exports.
    names_built: bool,
    index: &'a HashMap<&'a str, usize>,
    /// Per module: kept by which module, and why.
    kept: Vec<Option<(Option<usize>, String)>>,
    order: Vec<usize>,
    /// Every export of the module is a root.
    all: Vec<bool>,
    /// An atom names the module: its exports named by [`Walk::held`] atoms
    /// are roots.
    named: Vec<bool>,
    /// The atoms the reached functions hold.
    held: HashSet<String>,
    /// Exports of named modules waiting for an atom of their name: (module,
    /// arity, the module whose atom named it).
    waiting: HashMap<String, Vec<(usize, u32, usize)>>,
    visited: Vec<Vec<bool>>,
    queue: VecDeque<(usize, usize)>,
    external: Vec<ExternalCall>,
}

impl Walk<'_> {
    fn keep(&mut self, m: usize, by: Option<usize>, why: impl FnOnce() -> String) {
        if self.kept[m].is_none() {
            self.kept[m] = Some((by, why()));
            self.order.push(m);
        }
    }

    fn reach(
        &mut self,
        m: usize,
        name: &str,
        arity: u32,
        by: Option<usize>,
        why: impl FnOnce() -> String,
    ) {
        self.keep(m, by, why);
        match &self.modules[m].code {
            None => self.reach_all(m, by, String::new()),
            Some(code) => {
                if let Some(f) = code.function(name, arity) {
                    if !self.visited[m][f] {
                        self.visited[m][f] = true;
                        self.queue.push_back((m, f));
                    }
                }
            }
        }
    }

    fn reach_all(&mut self, m: usize, by: Option<usize>, why: String) {
        self.keep(m, by, || why);
        if self.all[m] {
            return;
        }
        self.all[m] = true;
        let module = &self.modules[m];
        match &module.code {
            Some(code) => {
                // Macros (`MACRO-name`) run in the compiler, never here.
                for (name, arity) in code.exports.clone() {
                    if !name.starts_with("MACRO-") {
                        self.reach(m, &name, arity, by, String::new);
                    }
                }
            }
            None => {
                // Its calls are not known: any of its atoms may name a
                // function it calls on a module handed to it.
                let modules = self.modules;
                for atom in &modules[m].refs.atoms {
                    self.hold(atom);
                }
                let module = &modules[m];
                let named: Vec<usize> = module
                    .refs
                    .imports
                    .iter()
                    .chain(&module.refs.atoms)
                    .filter_map(|n| self.index.get(n.as_str()).copied())
                    .collect();
                let from = display(&module.refs.name).to_string();
                for k in named {
                    self.reach_all(
                        k,
                        Some(m),
                        format!("named by {from} (not decoded: kept whole)"),
                    );
                }
            }
        }
    }

    fn visit(&mut self, m: usize, f: usize) {
        let module = &self.modules[m];
        let Some(code) = &module.code else { return };
        let func = &code.functions[f];
        let here = || {
            format!(
                "{}.{}/{}",
                display(&module.refs.name),
                func.name,
                func.arity
            )
        };
        for (name, arity) in &func.local {
            self.reach(m, name, *arity, None, String::new);
        }
        // Reflection functions return metadata: the types a consolidated
        // protocol lists, the module's own attributes. Their atoms are data.
        let reflection = matches!(
            func.name.as_str(),
            "__protocol__" | "__impl__" | "__info__" | "module_info"
        );
        if !self.names_built && !reflection && (self.user)(m) && builds_names(func) {
            self.names_built = true;
            let named: Vec<usize> = (0..self.modules.len()).filter(|&k| self.named[k]).collect();
            for k in named {
                self.reach_all(k, Some(m), String::new());
            }
        }
        for (tm, tf, ta) in func.reaches() {
            if (self.native)(tm, tf, ta) {
                continue;
            }
            match self.index.get(tm).copied() {
                Some(k) => {
                    let exported = match &self.modules[k].code {
                        Some(c) => c.exports.iter().any(|(n, a)| n == tf && *a == ta),
                        None => true,
                    };
                    if exported {
                        self.reach(k, tf, ta, Some(m), || {
                            format!("{} calls {}.{tf}/{ta}", here(), display(tm))
                        });
                    } else {
                        self.keep(k, Some(m), || format!("{} calls it", here()));
                        self.external.push(ExternalCall {
                            caller: module.refs.name.clone(),
                            function: (func.name.clone(), func.arity),
                            target: (tm.to_string(), tf.to_string(), ta),
                            not_exported: true,
                        });
                    }
                }
                None => self.external.push(ExternalCall {
                    caller: module.refs.name.clone(),
                    function: (func.name.clone(), func.arity),
                    target: (tm.to_string(), tf.to_string(), ta),
                    not_exported: false,
                }),
            }
        }
        for atom in func.atoms.iter().filter(|_| !reflection) {
            self.hold(atom);
            let Some(k) = self.index.get(atom.as_str()).copied() else {
                continue;
            };
            // A protocol implementation named in its (consolidated)
            // protocol's dispatch is kept by the protocol rule, which knows
            // whether its type can exist here.
            if self.modules[k].refs.is_impl && k != m {
                continue;
            }
            // Its own name counts too: `%__MODULE__{}` (whose `__struct__`
            // inspect and Exception.message/1 follow to `__struct__/0` and
            // `message/1`) or `GenServer.start_link(__MODULE__, ...)` hand
            // the module to code that calls it by name, and the functions
            // nothing reaches are cut from kept modules.
            self.name(k, m, || format!("an atom in {} names it", here()));
        }
    }

    /// A reached function holds `atom`: the named modules' exports of that
    /// name become roots.
    fn hold(&mut self, atom: &str) {
        if !self.held.contains(atom) {
            self.held.insert(atom.to_string());
            for (k, arity, by) in self.waiting.remove(atom).unwrap_or_default() {
                self.reach(k, atom, arity, Some(by), String::new);
            }
        }
    }

    /// An atom in a function of `by` names module `m`: it is kept, and each
    /// export whose name is a held atom is a root (see [`prune_functions`]).
    fn name(&mut self, m: usize, by: usize, why: impl FnOnce() -> String) {
        self.keep(m, Some(by), why);
        if self.names_built {
            return self.reach_all(m, Some(by), String::new());
        }
        if std::mem::replace(&mut self.named[m], true) || self.all[m] {
            return;
        }
        let modules = self.modules;
        let Some(code) = &modules[m].code else {
            return self.reach_all(m, Some(by), String::new());
        };
        for (name, arity) in &code.exports {
            if name.starts_with("MACRO-") {
                continue;
            }
            if self.held.contains(name) {
                self.reach(m, name, *arity, Some(by), String::new);
            } else {
                self.waiting
                    .entry(name.clone())
                    .or_default()
                    .push((m, *arity, by));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, atoms: &[&str]) -> ModuleRefs {
        ModuleRefs {
            name: name.into(),
            imports: Vec::new(),
            atoms: atoms.iter().map(|s| s.to_string()).collect(),
            is_protocol: false,
            is_impl: false,
        }
    }

    /// A module with decoded code: each function's atoms, every function
    /// exported.
    fn coded(name: &str, functions: &[(&str, u32, &[&str])]) -> ModuleCode {
        let functions: Vec<crate::code::FunctionRefs> = functions
            .iter()
            .map(|(f, a, atoms)| crate::code::FunctionRefs {
                name: f.to_string(),
                arity: *a,
                atoms: atoms.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            })
            .collect();
        ModuleCode {
            refs: m(name, &[]),
            code: Some(crate::code::CodeRefs {
                exports: functions
                    .iter()
                    .map(|f| (f.name.clone(), f.arity))
                    .collect(),
                spans: vec![0..0; functions.len()],
                functions,
                code_end: 0,
            }),
        }
    }

    #[test]
    fn an_atom_naming_a_module_roots_the_exports_whose_names_are_held_atoms() {
        // `start/0` names Plugin; `run/0`, reached after it, holds `greet`,
        // so Plugin's `greet/1` (every arity of it) becomes a root then, and
        // `other/0`, whose name no atom holds, does not. Lib's `helper/0`
        // is named before Lib is (`use/0` holds both atoms, `helper` first).
        let mods = [
            coded(
                "app",
                &[
                    ("start", 0, &["Elixir.Plugin"]),
                    ("run", 0, &["greet"]),
                    ("use", 0, &["helper", "lib"]),
                ],
            ),
            coded(
                "Elixir.Plugin",
                &[("greet", 1, &[]), ("greet", 2, &[]), ("other", 0, &[])],
            ),
            coded("lib", &[("helper", 0, &[]), ("unused", 0, &[])]),
        ];
        let p = prune_functions(&mods, "app", &[], |_| false, |_| true, |_, _, _| false).unwrap();
        let names: Vec<_> = p.pruned.kept.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["app", "Elixir.Plugin", "lib"]);
        assert_eq!(p.why[1], "an atom in app.start/0 names it");
        assert_eq!(p.reached[1], Some(vec![true, true, false]));
        assert_eq!(p.reached[2], Some(vec![true, false]));
    }

    #[test]
    fn app_code_that_makes_names_at_run_time_roots_every_export_of_named_modules() {
        // `start/0` names Plugin while nothing holds `greet`; `run/0` then
        // makes an atom from text (`String.to_atom/1` is
        // `:erlang.binary_to_atom/2`): Plugin keeps every export, and so does
        // Lib, named after that. In the framework (not the user's) the same
        // call changes nothing.
        let mut mods = vec![
            coded(
                "app",
                &[
                    ("start", 0, &["Elixir.Plugin"]),
                    ("run", 0, &[]),
                    ("later", 0, &["lib"]),
                ],
            ),
            coded("Elixir.Plugin", &[("greet", 1, &[]), ("other", 0, &[])]),
            coded("lib", &[("helper", 0, &[])]),
        ];
        if let Some(code) = mods[0].code.as_mut() {
            code.functions[1].external = vec![("erlang".into(), "binary_to_atom".into(), 2)];
        }
        let p = prune_functions(&mods, "app", &[], |_| false, |i| i == 0, |_, _, _| false).unwrap();
        assert_eq!(p.reached[1], Some(vec![true, true]));
        assert_eq!(p.reached[2], Some(vec![true]));
        let p = prune_functions(&mods, "app", &[], |_| false, |_| false, |_, _, _| false).unwrap();
        assert_eq!(p.reached[1], Some(vec![false, false]));
    }

    #[test]
    fn the_atoms_of_a_module_kept_whole_name_functions_too() {
        // `opaque` could not be decoded: it is kept whole, and its atom
        // `callback` may be the name it calls on the module the app hands it.
        let mods = [
            coded("app", &[("start", 0, &["Elixir.Plugin", "opaque"])]),
            coded("Elixir.Plugin", &[("callback", 1, &[]), ("other", 0, &[])]),
            ModuleCode {
                refs: m("opaque", &["opaque", "callback"]),
                code: None,
            },
        ];
        let p = prune_functions(&mods, "app", &[], |_| false, |_| true, |_, _, _| false).unwrap();
        let plugin = p
            .pruned
            .kept
            .iter()
            .position(|k| k.name == "Elixir.Plugin")
            .unwrap();
        assert_eq!(p.reached[plugin], Some(vec![true, false]));
    }
}
