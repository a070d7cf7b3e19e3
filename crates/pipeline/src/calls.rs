//! The build's check that every call it ships can be answered: each external
//! call of a reachable function (found by the function-level shake) must name
//! an exported function of a packed module, or a BIF or NIF of the runtime
//! (listed in its `runtime.json`). A call from the application (or the
//! framework) that cannot be answered stops the build, one line per call;
//! `--allow-unresolved` (or `"allow_unresolved"` in `elixir-workers.json`)
//! turns that into warnings. Calls that only the stdlib's own code makes are
//! not the user's to fix: they are counted and listed by `--explain`. But a
//! call the app makes happen is: when the app calls a stdlib function
//! (`File.read!/1`) whose own module's code leads to a call nothing answers
//! (`File.read/1` calls `:file.read_file/1`), that call is what the app's
//! call does, and it is the app's ([`AppReach`]). Paths that leave the module
//! the app called (a warning `IO.warn/2` would print, an exception's
//! message) stay the stdlib's.

use crate::summary::{display_module, Origin, Unresolved};
use avm::code::CodeRefs;
use ew_runtime::locate::NativeFunctions;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};

fn mfa(m: &str, f: &str, a: u32) -> String {
    format!("{}.{f}/{a}", display_module(m))
}

/// The functions of stdlib modules that the app's code reaches by calling
/// into the module and following that module's own local calls, each with
/// the app's function that calls in and the function it calls.
#[derive(Debug, Default)]
pub struct AppReach<'c> {
    /// (module, function, arity) → (the app's caller, the function it calls),
    /// both as `Module.fun/arity`; the keys borrow the modules' code.
    reached: HashMap<(&'c str, &'c str, u32), (String, String)>,
}

impl<'c> AppReach<'c> {
    /// `app_calls`: each external call of the app's shipped functions, as
    /// (caller module, caller function, arity, target). `stdlib_code` gives
    /// the code of a stdlib module (None for any other).
    pub fn new(
        app_calls: impl IntoIterator<Item = (&'c str, &'c str, u32, &'c (String, String, u32))>,
        stdlib_code: impl Fn(&str) -> Option<&'c CodeRefs>,
    ) -> AppReach<'c> {
        let mut reached = HashMap::new();
        let mut queue: VecDeque<(&str, &CodeRefs, usize)> = VecDeque::new();
        for (module, function, arity, (tm, tf, ta)) in app_calls {
            let Some(code) = stdlib_code(tm) else {
                continue;
            };
            let Some(f) = code.function(tf, *ta) else {
                continue;
            };
            let name = code.functions[f].name.as_str();
            if let Entry::Vacant(slot) = reached.entry((tm.as_str(), name, *ta)) {
                slot.insert((mfa(module, function, arity), mfa(tm, tf, *ta)));
                queue.push_back((tm.as_str(), code, f));
            }
        }
        while let Some((module, code, f)) = queue.pop_front() {
            let func = &code.functions[f];
            for (name, arity) in &func.local {
                let Some(g) = code.function(name, *arity) else {
                    continue;
                };
                let key = (module, code.functions[g].name.as_str(), *arity);
                if !reached.contains_key(&key) {
                    let why = reached[&(module, func.name.as_str(), func.arity)].clone();
                    reached.insert(key, why);
                    queue.push_back((module, code, g));
                }
            }
        }
        AppReach { reached }
    }

    fn get<'a>(
        &'a self,
        module: &'a str,
        function: &'a str,
        arity: u32,
    ) -> Option<&'a (String, String)> {
        let reached: &'a HashMap<(&'a str, &'a str, u32), (String, String)> = &self.reached;
        reached.get(&(module, function, arity))
    }
}

/// Sorts the shake's external calls into those nothing answers, by origin.
/// `origin` gives a caller module's origin; `left_out` says why a module
/// is not shipped when the build left it out on purpose (for the message).
/// A stdlib call in `app_reach` is the app's, named by the app's call.
pub fn unresolved(
    external: &[avm::ExternalCall],
    native: &NativeFunctions,
    origin: impl Fn(&str) -> Origin,
    left_out: impl Fn(&str) -> Option<&'static str>,
    app_reach: &AppReach<'_>,
) -> Vec<Unresolved> {
    let native: HashSet<&str> = native
        .bifs
        .iter()
        .chain(&native.nifs)
        .map(String::as_str)
        .collect();
    let mut out: Vec<Unresolved> = Vec::new();
    for call in external {
        let (m, f, a) = &call.target;
        if native.contains(format!("{m}:{f}/{a}").as_str()) {
            continue;
        }
        let reason = if call.not_exported {
            format!("{} does not export it", display_module(m))
        } else if let Some(why) = left_out(m) {
            format!("module {} is not shipped ({why})", display_module(m))
        } else {
            format!(
                "no module {} in the app, the framework or the stdlib, and no BIF or NIF of the runtime",
                display_module(m)
            )
        };
        let caller = mfa(&call.caller, &call.function.0, call.function.1);
        let (caller, origin, via) = match origin(&call.caller) {
            Origin::Stdlib => {
                match app_reach.get(&call.caller, &call.function.0, call.function.1) {
                    Some((app_caller, entry)) => (
                        app_caller.clone(),
                        Origin::App,
                        Some((entry.clone(), caller)),
                    ),
                    None => (caller, Origin::Stdlib, None),
                }
            }
            origin => (caller, origin, None),
        };
        let u = Unresolved {
            caller,
            origin,
            target: mfa(m, f, *a),
            reason,
            via,
        };
        if !out.contains(&u) {
            out.push(u);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use avm::code::FunctionRefs;

    fn call(caller: &str, target: (&str, &str, u32), not_exported: bool) -> avm::ExternalCall {
        avm::ExternalCall {
            caller: caller.into(),
            function: ("f".into(), 1),
            target: (target.0.into(), target.1.into(), target.2),
            not_exported,
        }
    }

    #[test]
    fn natives_answer_and_the_rest_is_named() {
        let native = NativeFunctions {
            bifs: vec!["erlang:length/1".into()],
            nifs: vec!["binary:split/2".into()],
        };
        let calls = [
            call("Elixir.App", ("erlang", "length", 1), false),
            call("Elixir.App", ("binary", "split", 2), false),
            call("Elixir.App", ("Elixir.String", "nope", 1), true),
            call("Elixir.App", ("unicode_util", "gc", 1), false),
            call("Elixir.IO", ("elixir_errors", "log", 4), false),
        ];
        let found = unresolved(
            &calls,
            &native,
            |m| {
                if m == "Elixir.App" {
                    Origin::App
                } else {
                    Origin::Stdlib
                }
            },
            |m| (m == "elixir_errors").then_some("Elixir's compiler"),
            &AppReach::default(),
        );
        let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "App.f/1 (the app) calls String.nope/1: String does not export it",
                "App.f/1 (the app) calls unicode_util.gc/1: no module unicode_util in the app, \
                 the framework or the stdlib, and no BIF or NIF of the runtime",
                "IO.f/1 (the stdlib) calls elixir_errors.log/4: module elixir_errors is not \
                 shipped (Elixir's compiler)",
            ]
        );
    }

    fn function(name: &str, local: &[&str], external: &[(&str, &str)]) -> FunctionRefs {
        FunctionRefs {
            name: name.into(),
            arity: 1,
            local: local.iter().map(|l| (l.to_string(), 1)).collect(),
            external: external
                .iter()
                .map(|(m, f)| (m.to_string(), f.to_string(), 1))
                .collect(),
            atoms: Vec::new(),
            applies: false,
            literals: Vec::new(),
            error_info: Vec::new(),
        }
    }

    /// The app calls File.read!/1; read!/1 calls read/1 (a local call),
    /// which calls file:read_file/1, which nothing answers: the app's call
    /// fails, so it is the app's. File.warn/1 calls IO.warn/1, whose own
    /// missing call stays the stdlib's: the app never called into IO.
    #[test]
    fn a_missing_call_the_app_reaches_through_the_module_it_calls_is_the_apps() {
        let file = CodeRefs {
            functions: vec![
                function("read!", &["read"], &[]),
                function("read", &[], &[("file", "read_file")]),
                function("warn", &[], &[("Elixir.IO", "warn")]),
                function("unused", &[], &[("file", "gone")]),
            ],
            exports: vec![("read!".into(), 1), ("read".into(), 1)],
            spans: Vec::new(),
            code_end: 0,
        };
        let target = ("Elixir.File".to_string(), "read!".to_string(), 1);
        let reach = AppReach::new([("Elixir.App", "load", 1, &target)], |m| {
            (m == "Elixir.File").then_some(&file)
        });
        let stdlib_call = |caller: &str, f: &str, target: (&str, &str, u32)| avm::ExternalCall {
            caller: caller.into(),
            function: (f.into(), 1),
            target: (target.0.into(), target.1.into(), target.2),
            not_exported: true,
        };
        let calls = [
            stdlib_call("Elixir.File", "read", ("file", "read_file", 1)),
            stdlib_call("Elixir.File", "read!", ("file", "format_error", 1)),
            stdlib_call("Elixir.File", "unused", ("file", "gone", 1)),
            stdlib_call("Elixir.IO", "warn", ("elixir_errors", "log", 4)),
        ];
        let found = unresolved(
            &calls,
            &NativeFunctions::default(),
            |m| {
                if m == "Elixir.App" {
                    Origin::App
                } else {
                    Origin::Stdlib
                }
            },
            |_| None,
            &reach,
        );
        let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "App.load/1 (the app) calls File.read!/1, through which File.read/1 calls \
                 file.read_file/1: file does not export it",
                "App.load/1 (the app) calls File.read!/1, which calls file.format_error/1: \
                 file does not export it",
                "File.unused/1 (the stdlib) calls file.gone/1: file does not export it",
                "IO.warn/1 (the stdlib) calls elixir_errors.log/4: elixir_errors does not export it",
            ]
        );
    }
}
