//! What the runtime's answers mean, and the report printed at the end of
//! `cargo xtask conformance`.
//!
//! A failure is grouped by its cause, most specific first: an unresolved call
//! the VM logged while running the test (AtomVM names the missing function or
//! module there, while its `UndefinedFunctionError` names the caller), then the
//! exception and the frame that raised it, then a wrong result.

use super::{Answer, Build, ModuleResult, Status, Unit};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// Causes listed in the report (results.json has them all).
const TOP_CAUSES: usize = 30;
const TOP_UNRESOLVED: usize = 15;
/// Places named per cause.
const EXAMPLES: usize = 3;

/// How a test fared on the runtime.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub pass: bool,
    /// The group this failure counts in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The value or error the test produced instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub got: Option<String>,
    /// What the worker logged while running the test.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
}

impl Outcome {
    fn fail(cause: String, got: Option<String>, logs: Vec<String>) -> Outcome {
        Outcome {
            pass: false,
            cause: Some(cause),
            got,
            logs,
        }
    }
}

/// The JSON a test's route answers (written by `Conf.Check`).
#[derive(Debug, Default, Deserialize)]
struct Verdict {
    status: String,
    cause: Option<String>,
    kind: Option<String>,
    exception: Option<String>,
    frame: Option<String>,
    got: Option<String>,
}

/// Puts each kept unit's runtime outcome on it.
pub fn attach(units: &mut [Unit], build: &Build, answers: Vec<Answer>) {
    // Caller → callee for the calls the build already knew nothing answers.
    let callers: HashMap<&str, &str> = build
        .stdlib_unresolved
        .iter()
        .filter_map(|u| Some((u["caller"].as_str()?, u["target"].as_str()?)))
        .collect();
    let mut answers: HashMap<u32, Answer> = answers.into_iter().map(|a| (a.id, a)).collect();
    for unit in units.iter_mut().filter(|u| u.status == Status::Kept) {
        unit.runtime = Some(if !build.ok {
            Outcome::fail("build failed".into(), None, Vec::new())
        } else {
            match answers.remove(&unit.id) {
                Some(answer) => classify(answer, &callers),
                None => Outcome::fail("not run".into(), None, Vec::new()),
            }
        });
    }
}

fn classify(answer: Answer, callers: &HashMap<&str, &str>) -> Outcome {
    let verdict: Option<Verdict> = if answer.status == 200 {
        serde_json::from_str(&answer.body).ok()
    } else {
        None
    };
    if verdict.as_ref().is_some_and(|v| v.status == "pass") {
        return Outcome {
            pass: true,
            cause: None,
            got: None,
            logs: Vec::new(),
        };
    }
    let logs = answer.logs;
    if answer.status == 0 {
        let why = logs.first().cloned().unwrap_or_default();
        let cause = if why.starts_with("timeout") {
            "timeout"
        } else {
            "runner failed"
        };
        return Outcome::fail(cause.into(), None, logs);
    }
    if let Some(missing) = logs.iter().find_map(|l| missing_call(l)) {
        let got = verdict.and_then(|v| v.got);
        return Outcome::fail(format!("missing {missing}"), got, logs);
    }
    let Some(v) = verdict else {
        let crash = logs
            .iter()
            .find(|l| l.starts_with("** ("))
            .or(logs.first())
            .map(|l| crash_text(l).to_string())
            .unwrap_or_else(|| format!("HTTP {}", answer.status));
        return Outcome::fail(format!("crash: {crash}"), None, logs);
    };
    let cause = match v.cause.as_deref() {
        Some("wrong") => "wrong result".to_string(),
        Some("no_raise") => "did not raise".to_string(),
        Some("raised") => {
            let frame = v.frame.as_deref().unwrap_or("?");
            let what = v.exception.as_deref().or(v.kind.as_deref()).unwrap_or("?");
            match callers.get(frame.trim_start_matches(':')) {
                Some(target) if what == "UndefinedFunctionError" => {
                    format!("missing {} (per the build)", elixir_mfa(target))
                }
                // ErlangError wraps what Elixir has no exception for; the
                // raw reason (AtomVM's `unsupported`) is the telling part.
                _ => match v.got.as_deref() {
                    Some(reason) if what == "ErlangError" && reason.len() <= 40 => {
                        format!("{what} {reason} in {frame}")
                    }
                    _ => format!("{what} in {frame}"),
                },
            }
        }
        _ => "failure not reported".to_string(),
    };
    Outcome::fail(cause, v.got, logs)
}

/// The call named by AtomVM's "Warning: function m:f/a cannot be resolved."
/// or "Warning: module m cannot be resolved.", in Elixir's notation.
fn missing_call(line: &str) -> Option<String> {
    let rest = line
        .strip_prefix("Warning: ")?
        .strip_suffix(" cannot be resolved.")?;
    if let Some(module) = rest.strip_prefix("module ") {
        return Some(format!("module {}", elixir_module(module)));
    }
    let mfa = rest.strip_prefix("function ")?;
    let (module, fun) = mfa.split_once(':')?;
    Some(format!("{}.{fun}", elixir_module(module)))
}

/// `String` for `Elixir.String`, `:lists` for `lists`.
fn elixir_module(module: &str) -> String {
    match module.strip_prefix("Elixir.") {
        Some(name) => name.to_string(),
        None => format!(":{module}"),
    }
}

/// `:persistent_term.get/2` for the build's `persistent_term.get/2`; an
/// Elixir module (capitalised) stays as it is.
fn elixir_mfa(target: &str) -> String {
    if target.starts_with(|c: char| c.is_ascii_uppercase()) {
        target.to_string()
    } else {
        format!(":{target}")
    }
}

/// A worker log line without what differs per request:
/// "[id] GET /run/66: the VM trapped: ..." → "the VM trapped: ...".
fn crash_text(line: &str) -> &str {
    let line = match line.strip_prefix('[').and_then(|l| l.split_once("] ")) {
        Some((_, rest)) => rest,
        None => line,
    };
    match line
        .strip_prefix("GET /run/")
        .and_then(|l| l.split_once(": "))
    {
        Some((_, rest)) => rest,
        None => line,
    }
}

#[derive(Default)]
struct Counts {
    doctests: usize,
    skipped: usize,
    beam_fail: usize,
    beam: usize,
    folded: usize,
    runtime: usize,
}

impl Counts {
    fn of(units: &[Unit]) -> Counts {
        let mut c = Counts {
            doctests: units.len(),
            ..Counts::default()
        };
        for u in units {
            match u.status {
                Status::Skipped => c.skipped += 1,
                Status::BeamFail => c.beam_fail += 1,
                Status::Kept => {
                    c.beam += 1;
                    c.folded += usize::from(u.constant);
                    if u.runtime.as_ref().is_some_and(|o| o.pass) {
                        c.runtime += 1;
                    }
                }
            }
        }
        c
    }

    fn add(&mut self, other: &Counts) {
        self.doctests += other.doctests;
        self.skipped += other.skipped;
        self.beam_fail += other.beam_fail;
        self.beam += other.beam;
        self.folded += other.folded;
        self.runtime += other.runtime;
    }
}

fn pct(part: usize, whole: usize) -> String {
    if whole == 0 {
        "-".to_string()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

/// Counts by key, most frequent first, each with the first few distinct
/// places (docs or modules) it was seen in.
fn tally<'a>(items: impl Iterator<Item = (String, &'a str)>) -> Vec<(String, usize, String)> {
    let mut map: BTreeMap<String, (usize, Vec<&str>)> = BTreeMap::new();
    for (key, place) in items {
        let (n, places) = map.entry(key).or_default();
        *n += 1;
        if places.len() < EXAMPLES && !places.contains(&place) {
            places.push(place);
        }
    }
    let mut list: Vec<_> = map
        .into_iter()
        .map(|(k, (n, places))| (k, n, places.join(", ")))
        .collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    list
}

/// The whole report as text.
pub fn render(results: &[ModuleResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:>8} {:>7} {:>9} {:>5} {:>6} {:>7} {:>7}  build",
        "module", "doctests", "skipped", "beam-fail", "beam", "folded", "runtime", "pct"
    );
    let mut total = Counts::default();
    for r in results {
        let c = Counts::of(&r.units);
        total.add(&c);
        let build = match &r.build {
            None => "-".to_string(),
            Some(b) if !b.ok => "FAILED".to_string(),
            Some(b) => format!(
                "{} modules, {} KB, {:.1} s",
                b.modules,
                b.app_avm_bytes / 1024,
                b.seconds
            ),
        };
        let _ = writeln!(
            out,
            "{:<10} {:>8} {:>7} {:>9} {:>5} {:>6} {:>7} {:>7}  {build}",
            r.module,
            c.doctests,
            c.skipped,
            c.beam_fail,
            c.beam,
            c.folded,
            c.runtime,
            pct(c.runtime, c.beam)
        );
    }
    let _ = writeln!(
        out,
        "{:<10} {:>8} {:>7} {:>9} {:>5} {:>6} {:>7} {:>7}",
        "total",
        total.doctests,
        total.skipped,
        total.beam_fail,
        total.beam,
        total.folded,
        total.runtime,
        pct(total.runtime, total.beam)
    );
    out.push_str(
        "doctests: assertions extracted; beam: passing on the BEAM, the ones run on the runtime;\n\
         folded: of those, compiled into a constant on the host (run no stdlib code);\n\
         runtime: passing on atomvm.wasm; pct: runtime of beam\n",
    );

    let units = || results.iter().flat_map(|r| r.units.iter());
    let failures = tally(units().filter_map(|u| {
        let o = u.runtime.as_ref()?;
        Some((o.cause.clone()?, u.doc.as_str()))
    }));
    let n_failing: usize = failures.iter().map(|f| f.1).sum();
    let _ = writeln!(
        out,
        "\nruntime failures by cause ({n_failing} failing, {} causes; top {TOP_CAUSES}):",
        failures.len()
    );
    for (cause, n, places) in failures.iter().take(TOP_CAUSES) {
        let _ = writeln!(out, "  {n:>4}  {cause}   ({places})");
    }

    let skipped = tally(units().filter(|u| u.status == Status::Skipped).map(|u| {
        (
            u.reason.clone().unwrap_or_else(|| "?".into()),
            u.doc.as_str(),
        )
    }));
    let _ = writeln!(out, "\nskipped (run nowhere), by reason:");
    for (reason, n, places) in &skipped {
        let _ = writeln!(out, "  {n:>4}  {reason}   ({places})");
    }

    let beam_fails: Vec<&Unit> = units().filter(|u| u.status == Status::BeamFail).collect();
    let _ = writeln!(
        out,
        "\nfailing on the BEAM as extracted ({}; limits of the extraction):",
        beam_fails.len()
    );
    for u in beam_fails {
        let reason = u.reason.as_deref().unwrap_or("?");
        let _ = writeln!(out, "  {}: {}", u.doc, one_line(reason, 110));
    }

    let unresolved = tally(results.iter().flat_map(|r| {
        r.build
            .iter()
            .flat_map(|b| b.unresolved.iter())
            .map(|w| (called(w), r.module.as_str()))
    }));
    let _ = writeln!(
        out,
        "\ncalls in the tests that nothing on the runtime answers (build warnings; top {TOP_UNRESOLVED}):"
    );
    for (call, n, modules) in unresolved.iter().take(TOP_UNRESOLVED) {
        let _ = writeln!(out, "  {n:>4}  {call}   ({modules})");
    }
    for r in results {
        if let Some(Build {
            ok: false,
            error: Some(error),
            ..
        }) = &r.build
        {
            let _ = writeln!(out, "\n{}: the build failed:\n{error}", r.module);
        }
    }
    out
}

/// The callee and reason of an `unresolved:` warning:
/// "Conf.Tests.t_3/0 (the app) calls re.run/3: no module re ..." → "re.run/3: no module re ...".
fn called(warning: &str) -> String {
    match warning.split_once(" calls ") {
        Some((_, rest)) => rest.to_string(),
        None => warning.to_string(),
    }
}

fn one_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    match line.char_indices().nth(max) {
        Some((at, _)) => format!("{}...", &line[..at]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str, logs: &[&str]) -> Answer {
        Answer {
            id: 1,
            status,
            body: body.to_string(),
            logs: logs.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn logged_unresolved_calls_name_the_cause() {
        assert_eq!(
            missing_call(
                "Warning: function unicode:characters_to_nfd_binary/1 cannot be resolved."
            ),
            Some(":unicode.characters_to_nfd_binary/1".into())
        );
        assert_eq!(
            missing_call("Warning: module re cannot be resolved."),
            Some("module :re".into())
        );
        assert_eq!(
            missing_call("Warning: function Elixir.Foo:bar/2 cannot be resolved."),
            Some("Foo.bar/2".into())
        );
        assert_eq!(missing_call("Failed load module: re.beam"), None);
    }

    #[test]
    fn failures_are_grouped_most_specific_first() {
        let none = HashMap::new();
        let raised = r#"{"status":"fail","cause":"raised","exception":"UndefinedFunctionError","frame":"Regex.version/0","got":":undef"}"#;
        let o = classify(
            answer(
                200,
                raised,
                &[
                    "Failed load module: re.beam",
                    "Warning: module re cannot be resolved.",
                ],
            ),
            &none,
        );
        assert_eq!(o.cause.as_deref(), Some("missing module :re"));

        let callers = HashMap::from([("Regex.version/0", "re.version/0")]);
        let o = classify(answer(200, raised, &[]), &callers);
        assert_eq!(
            o.cause.as_deref(),
            Some("missing :re.version/0 (per the build)")
        );

        let o = classify(answer(200, raised, &[]), &none);
        assert_eq!(
            o.cause.as_deref(),
            Some("UndefinedFunctionError in Regex.version/0")
        );

        let wrong = r#"{"status":"fail","cause":"wrong","got":"[1]"}"#;
        let o = classify(answer(200, wrong, &[]), &none);
        assert_eq!(
            (o.cause.as_deref(), o.got.as_deref()),
            (Some("wrong result"), Some("[1]"))
        );

        let crash = ["[abc] GET /run/1 crashed", "** (ErlangError) boom"];
        let o = classify(answer(500, "{}", &crash), &none);
        assert_eq!(o.cause.as_deref(), Some("crash: ** (ErlangError) boom"));
        let trap = ["[abc] GET /run/66: the VM trapped: unreachable without a response"];
        let o = classify(answer(500, "{}", &trap), &none);
        assert_eq!(
            o.cause.as_deref(),
            Some("crash: the VM trapped: unreachable without a response")
        );

        let unsupported = r#"{"status":"fail","cause":"raised","exception":"ErlangError","frame":"Base.decode64/2","got":":unsupported"}"#;
        let o = classify(answer(200, unsupported, &[]), &none);
        assert_eq!(
            o.cause.as_deref(),
            Some("ErlangError :unsupported in Base.decode64/2")
        );

        let o = classify(answer(200, r#"{"status":"pass"}"#, &["noise"]), &none);
        assert!(o.pass && o.logs.is_empty());
    }
}
