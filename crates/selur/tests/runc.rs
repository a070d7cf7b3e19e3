//! Real containers: the guest driving `runc` with a busybox image made from
//! Debian's static busybox, checked against the runtime's own view, and
//! nothing left behind afterwards. Needs root, `runc` and `busybox-static`;
//! otherwise every test prints SKIPPED and returns.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use selur::{Bridge, ContainerState, ErrorKind, ImageStore, Limits, RuncBackend, RuncConfig};

const BUSYBOX: &str = "/bin/busybox";

fn runc_available() -> bool {
    // std has no euid accessor; the effective uid is the 2nd Uid: field.
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    let runc = Command::new("runc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let busybox = Path::new(BUSYBOX).is_file();
    if !(root && runc && busybox) {
        test_support::skip(
            "real-container test",
            &format!(
                "needs root ({root}), runc ({runc}) and {BUSYBOX} from busybox-static ({busybox})"
            ),
        );
        return false;
    }
    true
}

fn runc(root: &Path, args: &[&str]) -> String {
    let out = Command::new("runc")
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "runc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn runc_status(root: &Path, id: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&runc(root, &["state", id])).unwrap();
    v["status"].as_str().unwrap().to_string()
}

/// Ids `runc list` reports under `root` (an absent root lists nothing).
fn runc_ids(root: &Path) -> Vec<String> {
    if !root.exists() {
        return Vec::new();
    }
    let out = runc(root, &["list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or(serde_json::Value::Null);
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|c| c["id"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn pid_alive(pid: u64) -> bool {
    // A zombie is not alive: runc reaps nothing for us, but the container's
    // init is reparented and reaped by the kernel's subreaper chain.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

struct Setup {
    _images: tempfile::TempDir,
    images: PathBuf,
}

fn images() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::new(dir.path());
    // sleep as pid 1 ignores SIGTERM: stop must escalate to SIGKILL.
    store
        .add_busybox("busybox:latest", Path::new(BUSYBOX), &["sleep", "600"])
        .unwrap();
    // The same rootfs as a tarball image whose shell exits on SIGTERM.
    let tarball = dir.path().join("tarbox/1.tar");
    std::fs::create_dir_all(tarball.parent().unwrap()).unwrap();
    let mut b = tar::Builder::new(std::fs::File::create(&tarball).unwrap());
    b.follow_symlinks(false);
    b.append_dir_all(".", dir.path().join("busybox/latest/rootfs"))
        .unwrap();
    b.finish().unwrap();
    std::fs::write(
        dir.path().join("tarbox/1.json"),
        r#"{"cmd": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"], "env": ["PATH=/bin"]}"#,
    )
    .unwrap();
    let images = dir.path().to_path_buf();
    Setup {
        _images: dir,
        images,
    }
}

fn bridge(images: &Path, state: Option<PathBuf>) -> (Bridge, PathBuf) {
    let mut config = RuncConfig::new(images);
    config.state_dir = state;
    config.stop_grace = Duration::from_millis(300);
    let backend = RuncBackend::new(config).unwrap();
    let state_dir = backend.state_dir().to_path_buf();
    let b =
        Bridge::from_bytes_with(selur::GUEST_WASM, Box::new(backend), Limits::default()).unwrap();
    assert!(b.is_blocking());
    (b, state_dir)
}

#[test]
fn busybox_lifecycle_against_runc_state() {
    if !runc_available() {
        return;
    }
    let setup = images();
    let (mut b, state) = bridge(&setup.images, None);
    let root = state.join("runc");

    let id = b.create_container("busybox").unwrap();
    let bundle = state.join("bundles").join(id.as_str());
    assert!(bundle.join("config.json").is_file());
    assert_eq!(runc_status(&root, id.as_str()), "created");
    let info = b.inspect(&id).unwrap();
    assert_eq!(
        (info.state, info.image.as_str()),
        (ContainerState::Created, "busybox")
    );
    assert_eq!(info.runtime["status"], "created");

    b.start(&id).unwrap();
    let info = b.inspect(&id).unwrap();
    assert_eq!(info.state, ContainerState::Running);
    assert_eq!(info.runtime["backend"], "runc");
    assert_eq!(info.runtime["status"], "running");
    assert_eq!(runc_status(&root, id.as_str()), "running");
    assert_eq!(runc_ids(&root), vec![id.to_string()]);
    let pid = info.runtime["pid"].as_u64().unwrap();
    assert!(
        pid > 0 && pid_alive(pid),
        "container init {pid} is not running"
    );
    // The process really is busybox sleep inside the container.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(
        cmdline.starts_with(b"sleep\x00600"),
        "{:?}",
        String::from_utf8_lossy(&cmdline)
    );

    // Wrong-state refusals come from the guest before runc is touched.
    assert_eq!(b.delete(&id).unwrap_err().kind(), ErrorKind::InvalidRequest);
    assert_eq!(runc_status(&root, id.as_str()), "running");

    b.stop(&id).unwrap();
    assert_eq!(b.inspect(&id).unwrap().state, ContainerState::Stopped);
    assert_eq!(runc_status(&root, id.as_str()), "stopped");
    assert!(!pid_alive(pid), "pid {pid} survived stop");

    // Restart: runc cannot start a stopped container; the backend recreates it.
    b.start(&id).unwrap();
    let info = b.inspect(&id).unwrap();
    assert_eq!(
        (info.state, info.restart_count),
        (ContainerState::Running, 1)
    );
    let pid2 = info.runtime["pid"].as_u64().unwrap();
    assert!(pid2 != pid && pid_alive(pid2));
    b.stop(&id).unwrap();
    assert!(!pid_alive(pid2));

    b.delete(&id).unwrap();
    assert!(
        runc_ids(&root).is_empty(),
        "runc still lists {:?}",
        runc_ids(&root)
    );
    assert!(!bundle.exists(), "bundle left behind");
    assert!(b.list().unwrap().is_empty());

    // An image the store does not hold.
    let e = b.create_container("nginx:latest").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NetworkError);
    assert!(e.message().contains("could not be obtained"), "{e}");
    assert!(std::fs::read_dir(state.join("bundles"))
        .unwrap()
        .next()
        .is_none());

    drop(b);
    assert!(!state.exists(), "state dir {} left behind", state.display());
}

#[test]
fn tarball_image_stops_on_sigterm() {
    if !runc_available() {
        return;
    }
    let setup = images();
    let keep = tempfile::tempdir().unwrap();
    let state = keep.path().join("state");
    let (mut b, _) = bridge(&setup.images, Some(state.clone()));
    let root = state.join("runc");
    let id = b.create_named_container("tarbox:1", "tarbox-test").unwrap();
    assert!(
        state
            .join("bundles/tarbox-test/rootfs/bin/busybox")
            .is_file(),
        "tarball not unpacked"
    );
    b.start(&id).unwrap();
    let pid = b.inspect(&id).unwrap().runtime["pid"].as_u64().unwrap();
    assert!(pid_alive(pid));
    b.stop(&id).unwrap();
    assert_eq!(runc_status(&root, "tarbox-test"), "stopped");
    b.delete(&id).unwrap();
    assert!(runc_ids(&root).is_empty());
    assert!(!state.join("bundles/tarbox-test").exists());
}

#[test]
fn dropping_the_bridge_tears_down_running_containers() {
    if !runc_available() {
        return;
    }
    let setup = images();
    let (mut b, state) = bridge(&setup.images, None);
    let a = b.create_container("busybox").unwrap();
    let c = b.create_container("busybox").unwrap();
    b.start(&a).unwrap();
    let pid = b.inspect(&a).unwrap().runtime["pid"].as_u64().unwrap();
    let root = state.join("runc");
    let mut listed = runc_ids(&root);
    listed.sort();
    let mut want = vec![a.to_string(), c.to_string()];
    want.sort();
    assert_eq!(listed, want);
    drop(b);
    assert!(
        !pid_alive(pid),
        "running container {pid} outlived its bridge"
    );
    assert!(!state.exists(), "state dir left behind");
}

/// A runtime that never answers: each command is killed at the backend's
/// command timeout and the operation fails with `io_error` naming the
/// command, instead of blocking forever. Needs neither root nor runc.
#[test]
fn hung_runtime_is_killed_at_the_command_timeout() {
    use selur::Backend;
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake-runc");
    // `exec` so the kill reaches the sleeping process itself.
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir_all(images.join("hang/latest/rootfs")).unwrap();

    let mut config = RuncConfig::new(&images);
    config.runtime = fake.clone();
    config.state_dir = Some(dir.path().join("state"));
    config.command_timeout = Duration::from_millis(300);
    let mut backend = RuncBackend::new(config).unwrap();

    let t = std::time::Instant::now();
    let e = backend.create("hung", "hang:latest").unwrap_err();
    let took = t.elapsed();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.message().contains("did not finish within"), "{e}");
    assert!(e.message().contains(&fake.display().to_string()), "{e}");
    assert!(e.message().contains("spec --bundle"), "{e}");
    // Two bounded commands (the spec, then the clean-up delete), not a
    // 60-second hang; the bound is loose so a loaded machine still passes.
    assert!(took < Duration::from_secs(20), "create took {took:?}");
    // The killed runtimes were reaped: no zombie child of this process
    // named sleep is left.
    let me = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if stat.contains("(sleep)") && fields.get(1) == Some(&me.as_str()) {
            panic!("a runtime child is still there: {stat}");
        }
    }
}
