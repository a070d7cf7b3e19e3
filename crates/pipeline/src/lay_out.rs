//! Writing what wrangler serves and reads: the JS shim, `budget.js`,
//! `assets.js` and `durable_objects.js` in `_build/worker/src/`, the boot
//! image with the worker's copy of
//! `atomvm.wasm`, and the project's `wrangler.jsonc` and `package.json` when
//! it has none. Each file is rewritten only when its bytes change.

use crate::atomic::write as write_atomically;
use crate::framework;
use crate::project::Project;
use crate::runtime::Runtime;
use crate::sizes::gzip_len;
use crate::state::{self, FileStamp, State, WasmStamp};
use crate::{Event, Reporter};
use anyhow::{Context as _, Result};
use ew_runtime::digest::sha256_hex;

/// Writes the JS shim into `_build/worker/src/` where it differs, with
/// `budget.js` from the project's settings, `assets.js` from how its
/// static assets are wired and `durable_objects.js` from the Durable Object
/// classes its wrangler config says the worker defines.
pub(crate) fn lay_out_worker(project: &Project, assets: &crate::assets::Wiring) -> Result<()> {
    let worker = project.worker_dir();
    let src_dir = worker.join("src");
    std::fs::create_dir_all(&src_dir)
        .with_context(|| format!("could not create {}", src_dir.display()))?;
    anyhow::ensure!(
        !framework::worker_files().is_empty(),
        "this elixir-workers binary was built without the worker shim \
         (crates/pipeline/worker/src/ was empty when it was compiled); rebuild it from a complete checkout"
    );
    for (rel, bytes) in framework::worker_files() {
        let to = src_dir.join(rel);
        if std::fs::read(&to).is_ok_and(|old| old == *bytes) {
            continue;
        }
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
        }
        write_atomically(&to, bytes)?;
    }
    let generated = [
        ("budget.js", project.settings()?.budget.to_js()),
        ("assets.js", assets.to_js()),
        (
            "durable_objects.js",
            durable_objects_js(&project.durable_object_classes()?),
        ),
    ];
    for (name, text) in generated {
        let path = src_dir.join(name);
        if std::fs::read(&path).ok().as_deref() != Some(text.as_bytes()) {
            write_atomically(&path, text.as_bytes())?;
        }
    }

    Ok(())
}

/// `src/durable_objects.js`: a class exported for each of `classes`, each
/// running the app with the object's event and storage (`durable.js`).
pub fn durable_objects_js(classes: &[String]) -> String {
    let mut text = String::from(
        "// Written by `elixir-workers build`: the Durable Object classes the\n\
         // worker defines (durable_objects.bindings in wrangler.jsonc without\n\
         // script_name), each served by the app.\n",
    );
    if classes.is_empty() {
        text.push_str("export {};\n");
        return text;
    }
    text.push_str(
        "import { objectClass } from \"./durable.js\";\nimport { app } from \"./app.js\";\n",
    );
    for class in classes {
        let name = serde_json::to_string(class).expect("a string serializes");
        text.push_str(&format!(
            "export const {class} = objectClass({name}, app);\n"
        ));
    }
    text
}

/// Boots the VM on the archive ([`crate::boot`]) and writes `boot.bin` with
/// the worker's copy of `atomvm.wasm`, which carries the image's build id,
/// when the runtime's module or the archive changed. A failed boot stops the
/// build: the worker would fail the same way on every isolate.
pub(crate) fn lay_out_boot(
    project: &Project,
    runtime: &Runtime,
    state: &mut State,
) -> Result<WasmStamp> {
    let worker = project.worker_dir();
    let from = runtime.wasm();
    let to = worker.join("atomvm.wasm");
    let image_path = project.boot_image_path();
    let meta = from
        .metadata()
        .with_context(|| format!("could not read {}", from.display()))?;
    let source = state::SourceMeta {
        path: from.display().to_string(),
        size: meta.len(),
        mtime_ns: state::mtime_ns(&meta),
    };
    let archive_path = project.archive_path();
    let archive_sha = state
        .archive
        .as_ref()
        .filter(|a| a.matches(&archive_path))
        .map(|a| a.sha256.clone());
    let written = state.wasm.as_ref().filter(|w| {
        w.tool == state::tool_key()
            && w.source == source
            && Some(&w.archive) == archive_sha.as_ref()
            && w.copy.matches(&to)
            && w.image.matches(&image_path)
    });
    if let Some(w) = written {
        return Ok(w.clone());
    }
    let wasm =
        std::fs::read(&from).with_context(|| format!("could not read {}", from.display()))?;
    let avm = std::fs::read(&archive_path)
        .with_context(|| format!("could not read {}", archive_path.display()))?;
    let image = crate::boot::boot(&wasm, &avm).with_context(|| {
        format!(
            "{} does not boot on the runtime (every request on Workers would fail the same way)",
            project.relative(&archive_path)
        )
    })?;
    let served = crate::boot::worker_module(&wasm, &avm, &image)
        .with_context(|| format!("{}: cannot make the worker's copy", from.display()))?;
    let wasm = served.wasm;
    let image_bytes = image.encode();
    write_atomically(&image_path, &image_bytes)?;
    write_atomically(&to, &wasm)?;
    let stamp = WasmStamp {
        tool: state::tool_key().to_string(),
        source,
        archive: sha256_hex(&avm),
        copy: FileStamp::of(&to, &wasm)?,
        gzip_bytes: gzip_len(&wasm),
        image: FileStamp::of(&image_path, &image_bytes)?,
        image_gzip_bytes: gzip_len(&image_bytes),
        opcodes: served.opcodes,
        natives: served.natives,
    };
    state.wasm = Some(stamp.clone());
    Ok(stamp)
}

/// Writes `wrangler.jsonc` (with an empty `public/` when there is none) and
/// `package.json` when the project has none.
pub(crate) fn ensure_project_files(project: &Project, report: Reporter<'_>) -> Result<()> {
    let name = if scaffold::validate_name(&project.name).is_ok() {
        project.name.clone()
    } else {
        "app".to_string()
    };
    if project.wrangler_config().is_none() {
        let text = scaffold::render_project_file("wrangler.jsonc", &name)?;
        write_atomically(&project.root.join("wrangler.jsonc"), text.as_bytes())?;
        report(Event::Step {
            action: "Created",
            detail: "wrangler.jsonc".into(),
        });
        // The template's `assets` names public/; wrangler refuses to start
        // when that directory is missing.
        let public = project.root.join("public");
        if !public.exists() {
            std::fs::create_dir_all(&public)
                .with_context(|| format!("could not create {}", public.display()))?;
        }
    }
    let package = project.root.join("package.json");
    if !package.exists() {
        let text = scaffold::render_project_file("package.json", &name)?;
        write_atomically(&package, text.as_bytes())?;
        report(Event::Step {
            action: "Created",
            detail: "package.json".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_exports_a_class_for_each_object_class_it_defines() {
        let config = serde_json::json!({
            "durable_objects": {"bindings": [
                {"name": "COUNTER", "class_name": "Counter"},
                {"name": "OTHER_COUNTER", "class_name": "Counter"},
                {"name": "ROOMS", "class_name": "Room"},
                {"name": "REMOTE", "class_name": "Elsewhere", "script_name": "other-worker"}
            ]}
        });
        let classes = crate::project::durable_object_classes(&config);
        assert_eq!(classes, ["Counter", "Room"]);
        let js = durable_objects_js(&classes);
        assert!(
            js.contains("export const Counter = objectClass(\"Counter\", app);\n"),
            "{js}"
        );
        assert!(
            js.contains("export const Room = objectClass(\"Room\", app);\n"),
            "{js}"
        );
        assert!(!js.contains("Elsewhere"), "{js}");

        let none = durable_objects_js(&crate::project::durable_object_classes(&serde_json::json!(
            {}
        )));
        assert!(none.ends_with("export {};\n"), "{none}");
        assert!(
            !none.contains("import"),
            "no object, nothing of durable.js loaded: {none}"
        );
    }
}
