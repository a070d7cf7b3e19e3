//! `atomvm-wasi/src/float_format.c` (the text of `float_to_list/2` and
//! `float_to_binary/2` on the runtime) against 9,419 outputs of the real
//! BEAM: `test/float_format_test.c`, built with the host's C compiler, reads
//! `test/float_format_golden.txt` (written by `float_format_golden.escript`)
//! and exits 1 on any mismatch. glibc's and wasi-libc's printf and strtod are
//! both correctly rounded, so the host build stands for the wasm one.

use std::path::Path;
use std::process::Command;

#[test]
fn float_format_writes_what_otp_writes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("atomvm-wasi");
    let out = tempfile::tempdir().unwrap();
    let exe = out.path().join("float_format_test");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let built = Command::new(&cc)
        .args(["-O2", "-std=c11", "-Wall", "-Werror", "-o"])
        .arg(&exe)
        .arg(dir.join("test/float_format_test.c"))
        .arg(dir.join("src/float_format.c"))
        .arg("-lm")
        .output()
        .unwrap_or_else(|e| panic!("running {cc} (a C compiler is needed to build the runtime): {e}"));
    assert!(
        built.status.success(),
        "{cc} failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let ran = Command::new(&exe)
        .arg(dir.join("test/float_format_golden.txt"))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&ran.stdout).into_owned()
        + &String::from_utf8_lossy(&ran.stderr);
    assert!(ran.status.success(), "{report}");
    assert!(report.contains("9419"), "expected all 9419 cases to be checked: {report}");
}
