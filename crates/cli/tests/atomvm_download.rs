//! The download path of `runtime build` without `--atomvm-src`: AtomVM's
//! source archive is fetched (here from a server on 127.0.0.1 standing in
//! for GitHub, through `ELIXIR_WORKERS_ATOMVM_URL`), verified by the digest
//! of its file tree, and extracted; an archive whose tree differs by one
//! byte is refused and nothing is extracted. A test binary of its own: it
//! sets an environment variable.
//!
//! Needs the pinned archive (`$ATOMVM_SRC` or ../shared/third_party/).

use std::io::Read as _;
use std::path::Path;

/// The archive with one byte of one file changed (same names, same sizes).
fn tampered(archive: &Path, out: &Path) {
    let bytes = std::fs::read(archive).unwrap();
    let mut input = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    let mut output = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut changed = false;
    for entry in input.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut header = entry.header().clone();
        let path = entry.path().unwrap().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if !changed && path.ends_with("src/libAtomVM/globalcontext.c") {
            data[0] ^= 0x20;
            changed = true;
        }
        output.append_data(&mut header, &path, &data[..]).unwrap();
    }
    assert!(changed, "the archive has no globalcontext.c");
    std::fs::write(out, output.into_inner().unwrap().finish().unwrap()).unwrap();
}

#[test]
fn the_pinned_source_is_downloaded_and_verified_by_its_tree_digest() {
    let Some(archive) = test_support::atomvm_src().filter(|p| p.is_file()) else {
        return test_support::skip(
            "the_pinned_source_is_downloaded_and_verified_by_its_tree_digest",
            "no archive of AtomVM's pinned commit: set ATOMVM_SRC to one",
        );
    };
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    std::fs::copy(&archive, srv.join("pinned.tar.gz")).unwrap();
    tampered(&archive, &srv.join("tampered.tar.gz"));
    let server = test_support::serve_dir(&srv, std::time::Duration::from_secs(120));

    let build_dir = tmp.path().join("build");
    std::env::set_var(
        ew_runtime::identity::ATOMVM_URL_ENV,
        server.url("tampered.tar.gz"),
    );
    let err = ew_runtime::source::obtain(None, false, &build_dir, &|_| {}).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("is not AtomVM at"), "{msg}");
    assert!(msg.contains("nothing was extracted"), "{msg}");
    assert!(!build_dir
        .join(format!("src/AtomVM-{}", ew_runtime::ATOMVM_PIN))
        .exists());

    std::env::set_var(
        ew_runtime::identity::ATOMVM_URL_ENV,
        server.url("pinned.tar.gz"),
    );
    let steps = std::sync::Mutex::new(Vec::new());
    let src = ew_runtime::source::obtain(None, false, &build_dir, &|p| {
        if let ew_runtime::Progress::Step { action, .. } = p {
            steps.lock().unwrap().push(action);
        }
    })
    .unwrap();
    assert!(src.is_pinned());
    assert_eq!(src.commit.as_deref(), Some(ew_runtime::ATOMVM_PIN));
    assert!(src.root.join("src/libAtomVM/globalcontext.c").is_file());
    assert_eq!(*steps.lock().unwrap(), ["Downloading", "Verifying"]);

    // Extracted once: the next build takes it from the cache, no download.
    std::env::set_var(
        ew_runtime::identity::ATOMVM_URL_ENV,
        server.url("missing.tar.gz"),
    );
    let again = ew_runtime::source::obtain(None, false, &build_dir, &|_| {}).unwrap();
    assert_eq!(again.root, src.root);
}
