//! `elixir-workers new`: renders the project templates (`crates/scaffold/templates/**`,
//! embedded in the binary at build time) with tera into a fresh directory.
//!
//! This crate owns name validation, the template table and the rendering of
//! the files a project needs (`pipeline` also uses it to recreate a missing
//! `wrangler.jsonc` or `package.json`). It must never spawn processes (the
//! CLI asks `pipeline` to run `npm install`), never prompt, and never write
//! into a directory that already exists: a project appears whole or not at all.

use std::fmt;
use std::path::{Path, PathBuf};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/templates.rs"));
}

/// The port `wrangler dev` listens on in a generated project.
pub const DEV_PORT: u16 = 8797;

/// The wrangler version written into a generated `package.json`.
/// The last wrangler 4 release that runs on Node 20 (4.87 requires Node 22).
pub const WRANGLER_VERSION: &str = "4.86.0";

/// The compatibility date written into a generated `wrangler.jsonc`.
pub const COMPATIBILITY_DATE: &str = "2025-09-01";

/// Placeholder in template paths replaced by the application name.
const APP_PLACEHOLDER: &str = "__app__";

/// Words Elixir reserves: a module or function named after them cannot be written.
const RESERVED: &[&str] = &[
    "true", "false", "nil", "when", "and", "or", "not", "in", "fn", "do", "end", "catch", "rescue",
    "after", "else",
];

/// Top-level modules an application module must not shadow: Elixir's own,
/// and the framework's namespace.
const TAKEN_MODULES: &[&str] = &[
    "Access",
    "Agent",
    "Application",
    "Atom",
    "Base",
    "Bitwise",
    "Calendar",
    "Code",
    "Date",
    "DateTime",
    "Elixir",
    "ElixirWorkers",
    "Enum",
    "Exception",
    "File",
    "Float",
    "Function",
    "GenServer",
    "IO",
    "Inspect",
    "Integer",
    "Kernel",
    "Keyword",
    "List",
    "Macro",
    "Map",
    "MapSet",
    "Module",
    "NaiveDateTime",
    "Node",
    "Path",
    "Port",
    "Process",
    "Protocol",
    "Range",
    "Record",
    "Regex",
    "Registry",
    "Stream",
    "String",
    "StringIO",
    "Supervisor",
    "System",
    "Task",
    "Time",
    "Tuple",
    "URI",
    "Version",
];

/// What went wrong, without the context.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The application name breaks a naming rule (the text says which).
    InvalidName(String),
    /// The `--module` value is not an Elixir alias.
    InvalidModule(String),
    /// The target directory already exists.
    DirectoryExists,
    /// Reading or writing a file failed.
    Io,
    /// A template failed to render (a bug in the embedded templates).
    Template(String),
    /// No template with this name is embedded.
    UnknownTemplate,
}

/// The one error type of this crate: a kind plus the path it concerns.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    path: Option<PathBuf>,
    source: Option<std::io::Error>,
}

impl Error {
    fn new(kind: ErrorKind) -> Self {
        Error {
            kind,
            path: None,
            source: None,
        }
    }

    fn at(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error {
            kind: ErrorKind::Io,
            path: Some(path.into()),
            source: Some(source),
        }
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::InvalidName(why) => write!(f, "invalid application name: {why}")?,
            ErrorKind::InvalidModule(why) => write!(f, "invalid module name: {why}")?,
            ErrorKind::DirectoryExists => write!(f, "destination already exists")?,
            ErrorKind::Io => write!(f, "file operation failed")?,
            ErrorKind::Template(why) => write!(f, "template failed to render: {why}")?,
            ErrorKind::UnknownTemplate => write!(f, "no such template")?,
        }
        if let Some(path) = &self.path {
            write!(f, ": {}", path.display())?;
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

/// Options for [`generate`], already taken from the command line.
#[derive(Debug, Clone)]
pub struct NewOptions {
    /// The application name (`my_app`).
    pub name: String,
    /// The directory to create; it must not exist.
    pub path: PathBuf,
    /// The application module; defaults to the camelized name (`MyApp`).
    pub module: Option<String>,
}

/// What [`generate`] created.
#[derive(Debug, Clone)]
pub struct Generated {
    pub dir: PathBuf,
    pub name: String,
    pub module: String,
    /// Relative paths of the files written, sorted.
    pub files: Vec<String>,
}

/// Checks an application name: lowercase, starts with a letter, then letters,
/// digits or underscores, not an Elixir reserved word, and its module must not
/// shadow one of Elixir's.
pub fn validate_name(name: &str) -> Result<(), Error> {
    let bad = |why: String| Err(Error::new(ErrorKind::InvalidName(why)));
    let Some(first) = name.chars().next() else {
        return bad("the name is empty".into());
    };
    if !first.is_ascii_lowercase() {
        return bad(format!("`{name}` must start with a lowercase letter"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return bad(format!(
            "`{name}` contains `{c}`; use lowercase letters, digits and underscores"
        ));
    }
    if RESERVED.contains(&name) {
        return bad(format!("`{name}` is an Elixir reserved word"));
    }
    let module = module_from_name(name);
    if TAKEN_MODULES.contains(&module.as_str()) {
        return bad(format!(
            "its module `{module}` would shadow Elixir's own `{module}`"
        ));
    }
    Ok(())
}

/// Checks a module alias such as `MyApp` or `Acme.Shop`.
pub fn validate_module(module: &str) -> Result<(), Error> {
    let bad = |why: String| Err(Error::new(ErrorKind::InvalidModule(why)));
    if module.is_empty() {
        return bad("the module name is empty".into());
    }
    for part in module.split('.') {
        let mut chars = part.chars();
        match chars.next() {
            Some(c) if c.is_ascii_uppercase() => {}
            _ => {
                return bad(format!(
                    "`{module}`: each part must start with an uppercase letter"
                ))
            }
        }
        if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
            return bad(format!("`{module}` contains `{c}`"));
        }
    }
    let top = module.split('.').next().unwrap_or(module);
    if TAKEN_MODULES.contains(&top) {
        return bad(format!("`{module}` would shadow Elixir's own `{top}`"));
    }
    Ok(())
}

/// `my_app` → `MyApp`, the way `Macro.camelize/1` does it for plain names.
pub fn module_from_name(name: &str) -> String {
    name.split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// A wrangler worker name: lowercase letters, digits and dashes.
pub fn worker_name(name: &str) -> String {
    name.replace('_', "-")
}

fn context(name: &str, module: &str) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("app", name);
    ctx.insert("module", module);
    ctx.insert("worker_name", &worker_name(name));
    ctx.insert("port", &DEV_PORT);
    ctx.insert("compatibility_date", COMPATIBILITY_DATE);
    ctx.insert("wrangler_version", WRANGLER_VERSION);
    ctx.insert("toolchain_version", env!("CARGO_PKG_VERSION"));
    ctx
}

fn render(template_path: &str, source: &str, ctx: &tera::Context) -> Result<String, Error> {
    tera::Tera::one_off(source, ctx, false).map_err(|e| {
        // tera keeps the useful part of the message in the source chain.
        let mut why = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            why.push_str(": ");
            why.push_str(&s.to_string());
            source = s.source();
        }
        Error::new(ErrorKind::Template(why)).at(template_path)
    })
}

/// Where a template lands in the project: the `__app__` placeholder becomes
/// the name and `_gitignore` becomes `.gitignore` (a real `.gitignore` inside
/// `crates/scaffold/templates/` would apply to this repository).
fn output_path(template_path: &str, name: &str) -> String {
    let path = template_path.replace(APP_PLACEHOLDER, name);
    match path.rsplit_once('/') {
        Some((dir, "_gitignore")) => format!("{dir}/.gitignore"),
        None if path == "_gitignore" => ".gitignore".into(),
        _ => path,
    }
}

/// The embedded template paths, sorted (for tests and `--help` text).
pub fn template_paths() -> impl Iterator<Item = &'static str> {
    embedded::TEMPLATES.iter().map(|(path, _)| *path)
}

/// Renders one top-level project file (`wrangler.jsonc`, `package.json`,
/// `.gitignore`) for an application name, as `new` would write it.
pub fn render_project_file(file: &str, name: &str) -> Result<String, Error> {
    let template = if file == ".gitignore" {
        "_gitignore"
    } else {
        file
    };
    let (path, source) = embedded::TEMPLATES
        .iter()
        .find(|(path, _)| *path == template)
        .ok_or_else(|| Error::new(ErrorKind::UnknownTemplate).at(file))?;
    render(path, source, &context(name, &module_from_name(name)))
}

/// Creates a new project. The files are rendered into a private directory
/// next to the destination and renamed into place at the end, so a failure
/// leaves nothing behind.
pub fn generate(opts: &NewOptions) -> Result<Generated, Error> {
    validate_name(&opts.name)?;
    let module = match &opts.module {
        Some(m) => {
            validate_module(m)?;
            m.clone()
        }
        None => module_from_name(&opts.name),
    };
    let dest = &opts.path;
    if dest.symlink_metadata().is_ok() {
        return Err(Error::new(ErrorKind::DirectoryExists).at(dest));
    }
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".elixir-workers-new-")
        .tempdir_in(&parent)
        .map_err(|e| Error::io(&parent, e))?;
    // A directory created normally (not the 0700 temp dir itself) so the
    // project gets the user's usual permissions.
    let root = staging.path().join("project");
    std::fs::create_dir(&root).map_err(|e| Error::io(&root, e))?;

    let ctx = context(&opts.name, &module);
    let mut files = Vec::new();
    for (template_path, source) in embedded::TEMPLATES {
        let rel = output_path(template_path, &opts.name);
        let text = render(template_path, source, &ctx)?;
        let target = root.join(&rel);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::write(&target, text).map_err(|e| Error::io(&target, e))?;
        files.push(rel);
    }
    files.sort();

    if dest.symlink_metadata().is_ok() {
        return Err(Error::new(ErrorKind::DirectoryExists).at(dest));
    }
    std::fs::rename(&root, dest).map_err(|e| Error::io(dest, e))?;
    Ok(Generated {
        dir: dest.clone(),
        name: opts.name.clone(),
        module,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("my_app").is_ok());
        assert!(validate_name("app2").is_ok());
        for bad in [
            "",
            "MyApp",
            "2app",
            "_app",
            "my-app",
            "my app",
            "end",
            "nil",
            "enum",
            "elixir_workers",
            "é",
        ] {
            let err = validate_name(bad).unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::InvalidName(_)),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn modules() {
        assert_eq!(module_from_name("my_app"), "MyApp");
        assert_eq!(module_from_name("app2_x"), "App2X");
        assert!(validate_module("Acme.Shop").is_ok());
        for bad in ["", "acme", "Acme.", "Acme-Shop", "Enum", "Kernel.Foo"] {
            assert!(validate_module(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths() {
        assert_eq!(
            output_path("lib/__app__/router.ex", "shop"),
            "lib/shop/router.ex"
        );
        assert_eq!(output_path("_gitignore", "shop"), ".gitignore");
    }

    #[test]
    fn every_template_renders() {
        let ctx = context("my_app", "MyApp");
        for (path, source) in embedded::TEMPLATES {
            let text = render(path, source, &ctx).unwrap();
            assert!(!text.contains("{{"), "{path} left a placeholder");
        }
        assert!(render_project_file("wrangler.jsonc", "my_app")
            .unwrap()
            .contains("\"my-app\""));
    }

    #[test]
    fn refuses_existing_directory_and_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("taken");
        std::fs::create_dir(&dest).unwrap();
        let err = generate(&NewOptions {
            name: "taken".into(),
            path: dest.clone(),
            module: None,
        })
        .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::DirectoryExists);
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }
}
