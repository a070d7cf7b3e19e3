//! The build's check that every call it ships can be answered: each external
//! call of a reachable function (found by the function-level shake) must name
//! an exported function of a packed module, or a BIF or NIF of the runtime
//! (listed in its `runtime.json`). A call from the application (or the
//! framework) that cannot be answered stops the build, one line per call;
//! `--allow-unresolved` (or `"allow_unresolved"` in `elixir-workers.json`)
//! turns that into warnings. Calls that only the stdlib's own code makes are
//! not the user's to fix: they are counted and listed by `--explain`.

use crate::summary::{display_module, Origin, Unresolved};
use ew_runtime::locate::NativeFunctions;
use std::collections::HashSet;

fn mfa(m: &str, f: &str, a: u32) -> String {
    format!("{}.{f}/{a}", display_module(m))
}

/// Sorts the shake's external calls into those nothing answers, by origin.
/// `origin` gives a caller module's origin; `left_out` says why a module
/// is not shipped when the build left it out on purpose (for the message).
pub fn unresolved(
    external: &[avm::ExternalCall],
    native: &NativeFunctions,
    origin: impl Fn(&str) -> Origin,
    left_out: impl Fn(&str) -> Option<&'static str>,
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
        let u = Unresolved {
            caller: mfa(&call.caller, &call.function.0, call.function.1),
            origin: origin(&call.caller),
            target: mfa(m, f, *a),
            reason,
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
}
