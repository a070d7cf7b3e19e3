//! Terminal output for the pipeline commands: global flags, cargo-style
//! status lines and warnings on stderr, an indicatif spinner (only on a
//! terminal), colour rules, and the rendering of build summaries.
//!
//! `--json` output goes to stdout only; everything else goes to stderr.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pipeline::summary::{display_module, Summary};
use pipeline::Event;
use std::io::IsTerminal as _;
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal, unless NO_COLOR is set
    #[default]
    Auto,
    Always,
    Never,
}

/// Flags every pipeline command takes. They are accepted before the
/// subcommand (`elixir-workers --json build`) and after it
/// (`elixir-workers build --json`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// Print the result as one JSON document on stdout
    #[arg(long)]
    pub json: bool,
    /// Say more (repeat for even more)
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print only warnings and errors
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// When to use colour
    #[arg(long, value_enum, value_name = "WHEN")]
    pub color: Option<ColorChoice>,
}

impl GlobalArgs {
    /// Combines the flags given before and after the subcommand.
    pub fn merge(&self, other: &GlobalArgs) -> GlobalArgs {
        GlobalArgs {
            json: self.json || other.json,
            verbose: self.verbose.max(other.verbose),
            quiet: self.quiet || other.quiet,
            color: other.color.or(self.color),
        }
    }
}

pub struct Ui {
    pub json: bool,
    pub quiet: bool,
    pub verbose: u8,
    color: bool,
    bar: ProgressBar,
}

impl Ui {
    pub fn new(flags: &GlobalArgs) -> Ui {
        let stderr_tty = std::io::stderr().is_terminal();
        let color = match flags.color.unwrap_or_default() {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                stderr_tty
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var("TERM").map_or(true, |t| t != "dumb")
            }
        };
        // A spinner only where someone watches it.
        let bar = if stderr_tty && !flags.quiet {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        Ui {
            json: flags.json,
            quiet: flags.quiet,
            verbose: flags.verbose,
            color,
            bar,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn line(&self, text: String) {
        if self.bar.is_hidden() {
            eprintln!("{text}");
        } else {
            self.bar.println(text);
        }
    }

    /// `   Compiling my_app (2 files)`, right-aligned like cargo's.
    pub fn status(&self, action: &str, detail: &str) {
        if self.quiet {
            return;
        }
        self.line(format!(
            "{} {detail}",
            self.paint("1;32", &format!("{action:>12}"))
        ));
        if !self.bar.is_hidden() {
            self.bar.set_message(format!("{action} {detail}"));
            self.bar.enable_steady_tick(Duration::from_millis(100));
        }
    }

    pub fn warn(&self, message: &str) {
        self.line(format!("{}: {message}", self.paint("1;33", "warning")));
    }

    pub fn note(&self, message: &str) {
        if !self.quiet {
            self.line(message.to_string());
        }
    }

    /// Stops the spinner before the final output.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Draws one pipeline event, and hands the terminal over (clears the
    /// progress line for good) once the step named `handover` starts: from
    /// there on wrangler draws its own output.
    pub fn event_until(&self, event: pipeline::Event, handover: &str) {
        let hands_over = matches!(&event, Event::Step { action, .. } if *action == handover);
        self.event(event);
        if hands_over {
            self.finish();
        }
    }

    /// Draws one pipeline event.
    pub fn event(&self, event: pipeline::Event) {
        match event {
            Event::Step { action, detail } => self.status(action, &detail),
            Event::Warning(w) => self.warn(&w),
            Event::Output(text) => {
                // Compiler warnings: shown as Elixir printed them.
                if !self.quiet {
                    self.line(text);
                }
            }
            Event::RebuildFailed(err) => {
                self.line(format!("{}: {err}", self.paint("1;31", "error")));
                self.note("the previous build keeps serving; fix the error and save again");
            }
            Event::Runtime(p) => self.progress(p),
            Event::Rebuilt(summary) => {
                let what = if summary.packed {
                    "archive replaced"
                } else {
                    "archive unchanged"
                };
                self.status(
                    "Rebuilt",
                    &format!("{} in {} ms ({what})", summary.project, summary.elapsed_ms),
                );
            }
        }
    }

    /// Draws the progress of a runtime build, download or install: steps as
    /// status lines, counted work as a bar (on a terminal).
    pub fn progress(&self, p: ew_runtime::Progress) {
        use ew_runtime::Progress;
        match p {
            Progress::Step { action, detail } => self.status(action, &detail),
            Progress::Note(note) => self.note(&format!("{}: {note}", self.paint("1;36", "note"))),
            Progress::Start { what, total, bytes } => {
                if self.bar.is_hidden() || self.quiet {
                    return;
                }
                let template = match (total.is_some(), bytes) {
                    (true, true) => "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} ({eta})",
                    (true, false) => "{spinner} {msg} [{bar:30}] {pos}/{len} ({eta})",
                    (false, _) => "{spinner} {msg} {bytes}",
                };
                self.bar.set_style(
                    ProgressStyle::with_template(template)
                        .expect("a valid template")
                        .progress_chars("=> "),
                );
                self.bar.set_length(total.unwrap_or(0));
                self.bar.set_position(0);
                self.bar.set_message(what);
            }
            Progress::Advance(done) => self.bar.set_position(done),
            Progress::Finish => {
                self.bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"),
                );
            }
        }
    }

    /// Prints a JSON document on stdout.
    pub fn print_json<T: serde::Serialize>(&self, value: &T) -> anyhow::Result<()> {
        use std::io::Write as _;
        let text = serde_json::to_string_pretty(value)?;
        // An error (a closed pipe) goes up; main treats EPIPE as success.
        writeln!(std::io::stdout().lock(), "{text}")?;
        Ok(())
    }

    /// The human summary of a build, on stderr.
    pub fn summary(&self, s: &Summary) {
        self.finish();
        if let Some(explain) = &s.explain {
            // On stdout, so that it pipes (`build --explain | grep Enum`);
            // a closed pipe only cuts the listing short.
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            let kept: Vec<_> = explain.iter().filter(|f| f.kept).collect();
            let dropped: Vec<_> = explain.iter().filter(|f| !f.kept).collect();
            let _ = writeln!(out, "kept ({}):", kept.len());
            for f in kept {
                let by = match (&f.why, &f.kept_by) {
                    (Some(why), _) => why.clone(),
                    (None, Some(by)) => format!("kept by {}", display_module(by)),
                    (None, None) => "startup module".to_string(),
                };
                let _ = writeln!(
                    out,
                    "  {:<44} {:<9} {by}",
                    display_module(&f.module),
                    format!("{:?}", f.origin).to_lowercase()
                );
            }
            let _ = writeln!(out, "dropped ({}):", dropped.len());
            for f in dropped {
                let why = if f.unsupported {
                    "dropped: needs sockets, distribution or crypto, which the WASI runtime lacks"
                } else {
                    "dropped"
                };
                let _ = writeln!(
                    out,
                    "  {:<44} {:<9} {why}",
                    display_module(&f.module),
                    format!("{:?}", f.origin).to_lowercase()
                );
            }
            if !s.stdlib_unresolved.is_empty() {
                let _ = writeln!(
                    out,
                    "calls in the framework's and stdlib's own code that this runtime cannot answer ({}; they fail only if reached):",
                    s.stdlib_unresolved.len()
                );
                for u in &s.stdlib_unresolved {
                    let _ = writeln!(out, "  {u}");
                }
            }
        }
        if self.quiet {
            return;
        }
        let what = match (s.compiled, s.packed) {
            (false, false) => "up to date",
            (true, _) | (false, true) => "built",
        };
        self.status(
            "Finished",
            &format!("{} {what} in {} ms", s.project, s.elapsed_ms),
        );
        self.finish();
        let m = &s.modules;
        eprintln!("  startup      {}", display_module(&s.startup_module));
        eprintln!(
            "  modules      {} (app {}, framework {}, stdlib {}); {} dropped, {} unusable under WASI",
            m.total, m.app, m.framework, m.stdlib, m.dropped, m.unsupported
        );
        for f in &s.files {
            eprintln!(
                "  {:<40} {:>10} B  ({} B gzipped)",
                f.path,
                group(f.bytes),
                group(f.gzip_bytes)
            );
        }
        if s.opcodes.handled > 0 {
            eprintln!(
                "  interpreter  {} of its {} opcodes (those the archive's code uses)",
                s.opcodes.kept, s.opcodes.handled
            );
        }
        if s.natives.named > 0 {
            eprintln!(
                "  natives      {} of its {} BIFs and NIFs (those the archive imports or names)",
                s.natives.kept, s.natives.named
            );
        }
        eprintln!(
            "  gzipped total {} B (Workers limits: free 3 MB, paid 10 MB)",
            group(s.gzip_total_bytes)
        );
    }
}

/// 198952 → `198,952`.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
