//! Finding a project and the paths inside it.

use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};

/// Files that mark a project root.
const WRANGLER_CONFIGS: &[&str] = &["wrangler.jsonc", "wrangler.json", "wrangler.toml"];

/// An elixir-workers project on disk.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    /// The application name (the root directory's name, made a valid name).
    pub name: String,
}

impl Project {
    /// Finds the project containing `start`: the nearest directory holding a
    /// wrangler config, else the nearest holding `lib/`.
    pub fn find(start: &Path) -> Result<Project> {
        let start = start
            .canonicalize()
            .with_context(|| format!("could not resolve {}", start.display()))?;
        let with_config = start
            .ancestors()
            .find(|dir| WRANGLER_CONFIGS.iter().any(|f| dir.join(f).is_file()));
        let root = with_config
            .or_else(|| start.ancestors().find(|dir| has_elixir_lib(dir)))
            .with_context(|| {
                format!(
                    "no elixir-workers project in {} or any parent (looked for wrangler.jsonc or lib/); \
                     create one with `elixir-workers new NAME`",
                    start.display()
                )
            })?;
        Ok(Project::at(root))
    }

    /// A project rooted exactly at `root`.
    pub fn at(root: &Path) -> Project {
        let dir_name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Project {
            root: root.to_path_buf(),
            name: app_name_from_dir(&dir_name),
        }
    }

    pub fn lib_dir(&self) -> PathBuf {
        self.root.join("lib")
    }
    pub fn build_dir(&self) -> PathBuf {
        self.root.join("_build")
    }
    /// Compiled application beams.
    pub fn ebin_dir(&self) -> PathBuf {
        self.build_dir().join("ebin")
    }
    /// The framework's beams, copied here so tests can run on the BEAM.
    pub fn framework_dir(&self) -> PathBuf {
        self.build_dir().join("framework")
    }
    /// What wrangler serves: app.avm, atomvm.wasm, src/.
    pub fn worker_dir(&self) -> PathBuf {
        self.build_dir().join("worker")
    }
    pub fn archive_path(&self) -> PathBuf {
        self.worker_dir().join("app.avm")
    }
    /// The VM booted on the archive at build time (`crate::boot`).
    pub fn boot_image_path(&self) -> PathBuf {
        self.worker_dir().join("boot.bin")
    }
    pub fn state_dir(&self) -> PathBuf {
        self.build_dir().join(".elixir-workers")
    }
    /// `path` as the user sees it in messages: relative to the root when
    /// it is under it.
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }
    pub fn wrangler_config(&self) -> Option<PathBuf> {
        WRANGLER_CONFIGS
            .iter()
            .map(|f| self.root.join(f))
            .find(|p| p.is_file())
    }

    /// The `.ex` files under `lib/`, sorted by path.
    pub fn sources(&self) -> Result<Vec<PathBuf>> {
        let lib = self.lib_dir();
        anyhow::ensure!(
            lib.is_dir(),
            "{} does not exist: put the application's .ex files there",
            lib.display()
        );
        let mut out = Vec::new();
        for entry in walkdir::WalkDir::new(&lib).sort_by_file_name() {
            let entry = entry.with_context(|| format!("could not list {}", lib.display()))?;
            if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "ex") {
                out.push(entry.into_path());
            }
        }
        anyhow::ensure!(!out.is_empty(), "no .ex files under {}", lib.display());
        Ok(out)
    }

    /// `elixir-workers.json` at the root (JSON with comments), or the
    /// defaults when there is none.
    pub fn settings(&self) -> Result<Settings> {
        let path = self.root.join("elixir-workers.json");
        if !path.is_file() {
            return Ok(Settings::default());
        }
        let value = crate::jsonc::read(&path)?;
        let settings: Settings = serde_json::from_value(value)
            .with_context(|| format!("{}: not a valid settings file", path.display()))?;
        if let Some(mb) = settings
            .budget
            .memory_mb
            .filter(|&mb| mb > Budget::MAX_MEMORY_MB)
        {
            anyhow::bail!(
                "{}: budget.memory_mb is {mb}, more than the VM's 32-bit memory holds (at most {})",
                path.display(),
                Budget::MAX_MEMORY_MB
            );
        }
        Ok(settings)
    }

    /// Makes sure wrangler loads `boot.bin` as bytes. wrangler loads `*.bin`
    /// as Data by default, but a project's own Data rule without
    /// `fallthrough: true` replaces that default. Projects made before the
    /// boot image have the scaffold's old rule, `"globs": ["**/*.avm"]`: that
    /// one string gets `"**/*.bin"` beside it, and nothing else in the file
    /// changes (its comments included); returns the file when it did so. Any
    /// other rule that keeps `boot.bin` out is an error naming the file.
    pub fn ensure_module_rules(&self) -> Result<Option<PathBuf>> {
        let Some(config) = self
            .wrangler_config()
            .filter(|p| p.extension().is_some_and(|e| e != "toml"))
        else {
            return Ok(None);
        };
        let value = crate::jsonc::read(&config)?;
        let Some(rules) = value.get("rules").and_then(|r| r.as_array()) else {
            return Ok(None);
        };
        let covers_bin = |glob: &str| {
            matches!(glob, "**/*" | "**" | "*.bin" | "**/*.bin" | "**/boot.bin")
                || glob.ends_with("/*.bin")
                || glob.ends_with("/boot.bin")
        };
        for rule in rules.iter().filter(|r| r["type"] == "Data") {
            let globs: Vec<&str> = rule["globs"]
                .as_array()
                .map(|g| g.iter().filter_map(|g| g.as_str()).collect())
                .unwrap_or_default();
            if globs.iter().any(|g| covers_bin(g)) {
                return Ok(None);
            }
            if rule["fallthrough"] == true {
                continue;
            }
            const OLD: &str = "\"**/*.avm\"";
            let text = std::fs::read_to_string(&config)
                .with_context(|| format!("could not read {}", config.display()))?;
            if globs == ["**/*.avm"] && text.matches(OLD).count() == 1 {
                let text = text.replacen(OLD, "\"**/*.avm\", \"**/*.bin\"", 1);
                crate::atomic::write(&config, text.as_bytes())?;
                return Ok(Some(config));
            }
            anyhow::bail!(
                "{}: the Data module rule with globs {globs:?} keeps wrangler from loading \
                 _build/worker/boot.bin (the app booted at build time); add \"**/*.bin\" to its globs",
                config.display()
            );
        }
        Ok(None)
    }

    /// The Durable Object classes the worker defines, from wrangler.jsonc or
    /// wrangler.json ([`durable_object_classes`]); a class
    /// name that is not a JavaScript identifier is an error naming it.
    pub fn durable_object_classes(&self) -> Result<Vec<String>> {
        let Some(config) = self
            .wrangler_config()
            .filter(|p| p.extension().is_some_and(|e| e != "toml"))
        else {
            return Ok(Vec::new());
        };
        let classes = durable_object_classes(&crate::jsonc::read(&config)?);
        for class in &classes {
            let mut chars = class.chars();
            let ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
            anyhow::ensure!(
                ok,
                "{}: the Durable Object class_name {class:?} is not a JavaScript class name \
                 (letters, digits, _ and $, not starting with a digit)",
                config.display()
            );
        }
        Ok(classes)
    }

    /// The dev port: `dev.port` in wrangler.jsonc/wrangler.json, else 8797.
    pub fn dev_port(&self) -> Result<u16> {
        if let Some(config) = self
            .wrangler_config()
            .filter(|p| p.extension().is_some_and(|e| e != "toml"))
        {
            let value = crate::jsonc::read(&config)?;
            if let Some(port) = value.get("dev").and_then(|d| d.get("port")) {
                let port = port
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .with_context(|| {
                        format!(
                            "{}: dev.port must be a port number, found {port}",
                            config.display()
                        )
                    })?;
                return Ok(port);
            }
        }
        Ok(scaffold::DEV_PORT)
    }
}

/// A `lib/` holding `.ex` files at its top or one level down (not, say,
/// the system's `/lib`).
fn has_elixir_lib(dir: &Path) -> bool {
    let is_ex = |p: &Path| p.extension().is_some_and(|e| e == "ex");
    let Ok(entries) = std::fs::read_dir(dir.join("lib")) else {
        return false;
    };
    entries.filter_map(|e| e.ok()).map(|e| e.path()).any(|p| {
        is_ex(&p)
            || (p.is_dir()
                && std::fs::read_dir(&p)
                    .map(|inner| inner.filter_map(|e| e.ok()).any(|e| is_ex(&e.path())))
                    .unwrap_or(false))
    })
}

/// `My-App` → `my_app`: the directory name as an application name.
fn app_name_from_dir(dir: &str) -> String {
    let mut name: String = dir
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name.insert_str(0, "app_");
    }
    name
}

/// The Durable Object classes a wrangler config (JSON) has this worker
/// define: the `class_name` of each `durable_objects.bindings` entry without
/// a `script_name` (one with it names another worker's class). Each name
/// once, in the config's order.
pub fn durable_object_classes(config: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let bindings = config["durable_objects"]["bindings"].as_array();
    for binding in bindings.into_iter().flatten() {
        if binding.get("script_name").is_some() {
            continue;
        }
        if let Some(class) = binding["class_name"].as_str() {
            if !out.iter().any(|c| c == class) {
                out.push(class.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_dirs() {
        assert_eq!(app_name_from_dir("my_app"), "my_app");
        assert_eq!(app_name_from_dir("My-App"), "my_app");
        assert_eq!(app_name_from_dir("1x"), "app_1x");
    }

    #[test]
    fn finds_root_from_a_subdirectory_and_reads_the_port() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("lib/deep")).unwrap();
        std::fs::write(
            tmp.path().join("wrangler.jsonc"),
            "{ // c\n \"dev\": { \"port\": 9001, },\n}",
        )
        .unwrap();
        let p = Project::find(&tmp.path().join("lib/deep")).unwrap();
        assert_eq!(p.root, tmp.path().canonicalize().unwrap());
        assert_eq!(p.dev_port().unwrap(), 9001);
    }

    #[test]
    fn a_class_name_that_is_no_js_name_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("lib")).unwrap();
        let config = tmp.path().join("wrangler.jsonc");
        let with = |class: &str| {
            format!(
                r#"{{ "durable_objects": {{ "bindings": [{{ "name": "X", "class_name": "{class}" }}] }} }}"#
            )
        };
        std::fs::write(&config, with("Counter_2")).unwrap();
        let p = Project::find(tmp.path()).unwrap();
        assert_eq!(p.durable_object_classes().unwrap(), ["Counter_2"]);
        std::fs::write(&config, with("2Counter")).unwrap();
        let err = format!("{:#}", p.durable_object_classes().unwrap_err());
        assert!(
            err.contains("\"2Counter\" is not a JavaScript class name"),
            "{err}"
        );
    }

    #[test]
    fn module_rules_must_load_the_boot_image() {
        let tmp = tempfile::tempdir().unwrap();
        let p = Project::at(tmp.path());
        let config = tmp.path().join("wrangler.jsonc");
        let rules = |rules: &str| {
            std::fs::write(
                &config,
                format!("{{ \"name\": \"x\", // c\n \"rules\": [{rules}] }}"),
            )
            .unwrap();
            p.ensure_module_rules()
        };
        // No rules (wrangler's defaults load *.bin), the scaffold's rule, a
        // rule that lets the default through, and a catch-all.
        assert!(p.ensure_module_rules().unwrap().is_none(), "no config");
        assert!(rules("").unwrap().is_none());
        let fine = [
            r#"{"type": "Data", "globs": ["**/*.bin"], "fallthrough": false}"#,
            r#"{"type": "Data", "globs": ["**/*.avm"], "fallthrough": true}"#,
            r#"{"type": "Text", "globs": ["**/*.avm"]}, {"type": "Data", "globs": ["**/*"]}"#,
        ];
        for r in fine {
            assert!(rules(r).unwrap().is_none(), "{r}");
        }
        // The rule projects made before the boot image have: the glob is
        // added in place, the comment stays, and the next check is content.
        let old = r#"{"type": "CompiledWasm", "globs": ["**/*.wasm"]}, {"type": "Data", "globs": ["**/*.avm"], "fallthrough": false}"#;
        assert_eq!(rules(old).unwrap(), Some(config.clone()));
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(
            text.contains(r#""globs": ["**/*.avm", "**/*.bin"]"#) && text.contains("// c"),
            "{text}"
        );
        assert!(p.ensure_module_rules().unwrap().is_none());
        // Any other rule that shadows the default is the user's to change.
        let err = rules(r#"{"type": "Data", "globs": ["data/**"]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("wrangler.jsonc") && err.contains("add \"**/*.bin\""),
            "{err}"
        );
    }

    #[test]
    fn budget_settings_reach_the_worker() {
        let budget: Budget =
            serde_json::from_str(r#"{"memory_mb": 2, "subrequests": 1000}"#).unwrap();
        let js = budget.to_js();
        assert!(
            js.contains("export const BUDGET = { memoryBytes: 2097152, subrequests: 1000 };"),
            "{js}"
        );
        assert!(serde_json::from_str::<Budget>(r#"{"subrequest": 1}"#).is_err());
    }
}

/// The project's own settings (`elixir-workers.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Calls the build cannot resolve are warnings, not errors (for code
    /// paths the user knows are never taken).
    pub allow_unresolved: bool,
    /// Modules kept whole whatever the shake finds (names as in
    /// `build --explain`, e.g. `Elixir.MyApp.Plugin`).
    pub keep: Vec<String>,
    /// What one run of the VM may spend before it is stopped.
    pub budget: Budget,
    /// Whether `public/` is served before the app runs or after it answers
    /// 404 (`crate::assets`).
    pub assets: AssetsSettings,
}

/// `"assets": {"mode": "assets_first" | "app_first"}` in `elixir-workers.json`:
/// the order of `public/` and the app (`crate::assets` wires it).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssetsSettings {
    pub mode: Mode,
}

/// Who answers a request first: the platform's asset server or the app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    AssetsFirst,
    AppFirst,
}

/// `"budget": {"reductions": N, "memory_mb": M, "subrequests": S}`: a run
/// past the first two is stopped and its request answered 500
/// `budget_exceeded` (the worker's `runtime.js` holds the defaults; 0 turns
/// a budget off); a fetch past the third answers the app
/// `subrequest_limit` (default 50, the Workers Free plan's limit, in the
/// worker's `fetch.js`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Budget {
    pub reductions: Option<u32>,
    pub memory_mb: Option<u32>,
    pub subrequests: Option<u32>,
}

impl Budget {
    /// The largest heap budget: the VM's memory is 32-bit.
    pub const MAX_MEMORY_MB: u32 = 4095;

    /// `src/budget.js`: the settings the project gives, for the worker to
    /// lay over its defaults.
    pub fn to_js(&self) -> String {
        let mut fields = Vec::new();
        if let Some(r) = self.reductions {
            fields.push(format!("reductions: {r}"));
        }
        if let Some(mb) = self.memory_mb {
            fields.push(format!("memoryBytes: {}", u64::from(mb) * 1024 * 1024));
        }
        if let Some(n) = self.subrequests {
            fields.push(format!("subrequests: {n}"));
        }
        format!(
            "// Written by `elixir-workers build` from the `budget` setting of\n\
             // elixir-workers.json; the worker's defaults fill in the rest.\n\
             export const BUDGET = {{ {} }};\n",
            fields.join(", ")
        )
    }
}
