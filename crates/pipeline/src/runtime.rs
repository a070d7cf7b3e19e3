//! The runtime a build uses: located by `ew_runtime` (`$ELIXIR_WORKERS_RUNTIME`,
//! else the user cache under the binary's runtime id), and built on the spot
//! when it is missing and the machine has the toolchain to build it.

use crate::{Event, Reporter};
use anyhow::Result;

pub use ew_runtime::{Origin, Runtime, RUNTIME_ENV};

/// The runtime to build with. When none is installed (and
/// `$ELIXIR_WORKERS_RUNTIME` is unset) it is built from AtomVM's pinned
/// source, saying so, if clang, wasi-libc and gperf are on this machine;
/// otherwise the error names the two commands that get one.
pub fn ensure(report: Reporter<'_>) -> Result<Runtime> {
    match Runtime::locate() {
        Ok(rt) => Ok(rt),
        Err(missing) => {
            let env_set = std::env::var_os(RUNTIME_ENV).is_some_and(|v| !v.is_empty());
            if env_set || !ew_runtime::toolchain::available() {
                return Err(missing);
            }
            report(Event::Warning(format!(
                "no AtomVM runtime {} installed; building it now from AtomVM's source \
                 (once per version of elixir-workers)",
                ew_runtime::runtime_id()
            )));
            build(&ew_runtime::BuildOptions::default(), report)
        }
    }
}

/// `ew_runtime::build` with its progress forwarded as [`Event::Runtime`].
pub fn build(opts: &ew_runtime::BuildOptions, report: Reporter<'_>) -> Result<Runtime> {
    // The runtime build reports from its compile threads; the pipeline's
    // reporter is single-threaded, so progress goes through a channel and
    // is forwarded here.
    let (tx, rx) = std::sync::mpsc::channel::<ew_runtime::Progress>();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            let tx = std::sync::Mutex::new(tx);
            ew_runtime::build(opts, &move |p| {
                let _ = tx.lock().map(|tx| tx.send(p));
            })
        });
        for p in rx {
            report(Event::Runtime(p));
        }
        worker.join().expect("the runtime build does not panic")
    })
}
