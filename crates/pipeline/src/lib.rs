//! The elixir-workers pipeline: `build` (compile with elixirc, collect,
//! tree-shake through avm's module graph, pack, lay out `_build/worker/`),
//! `dev` and `deploy` (wrangler), `package` (a CI artifact), `test` (the
//! app's ExUnit tests, [`exunit`]) and `doctor`.
//!
//! This is the only crate that spawns processes, and all of that goes through
//! [`process`]. It never parses command lines and never draws to the
//! terminal: progress goes out as [`Event`]s through a callback and results
//! come back as values the CLI renders.

pub mod assets;
pub mod boot;
pub mod build;
pub mod calls;
pub mod collect;
pub mod compile;
pub mod compile_server;
pub mod deploy;
pub mod dev;
pub mod doctor;
pub mod exunit;
pub mod framework;
pub mod jsonc;
pub mod lay_out;
pub mod pack;
pub mod package;
pub mod process;
pub mod project;
pub mod protocols;
pub mod runtime;
pub mod sizes;
pub mod state;
pub mod summary;
pub mod toolchain;
pub mod unicode;
pub mod wrangler;

pub use build::{build, BuildOptions};
pub use ew_runtime::atomic;
pub use process::ToolFailed;
pub use project::Project;
pub use runtime::Runtime;
pub use summary::Summary;

/// Progress reported while a command runs.
#[derive(Debug, Clone)]
pub enum Event {
    /// A step starts, cargo style: `Compiling my_app (2 files)`.
    Step {
        action: &'static str,
        detail: String,
    },
    /// Something the user should know that does not stop the build.
    Warning(String),
    /// Text a tool printed that the user should see (compiler warnings).
    Output(String),
    /// `dev --watch`: a rebuild failed; the previous build keeps serving.
    RebuildFailed(String),
    /// `dev --watch`: a rebuild finished.
    Rebuilt(Box<Summary>),
    /// Progress of a runtime build or install.
    Runtime(ew_runtime::Progress),
}

/// `npm install` in `dir` (used by `new`, whose crate must not spawn).
pub fn npm_install(dir: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    process::Cmd::tool(process::NPM, dir)?
        .args(["install", "--no-audit", "--no-fund"])
        .capture()
        .context("npm install failed")?;
    Ok(())
}

/// The progress callback every operation takes.
pub type Reporter<'a> = &'a mut dyn FnMut(Event);
