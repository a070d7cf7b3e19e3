//! Workers Static Assets: the files of `public/` served by Cloudflare
//! without running the app. The `assets` setting of `elixir-workers.json`
//! chooses the order: `assets_first` (the default) lets the platform answer
//! any path that names a file before the worker runs; `app_first` runs the
//! worker on every request (`run_worker_first: true`) and the worker hands a
//! GET or HEAD the app answers 404 to the assets binding (`index.js`).
//!
//! [`wire`] makes the project's `wrangler.jsonc` agree with the setting by
//! inserting text at offsets found in the comment-free copy
//! ([`crate::jsonc::strip`]): the `assets` object when there is none and the
//! project has `public/`, or the one `run_worker_first` value inside an
//! existing one. Nothing else in the file changes.

use crate::project::{AssetsSettings, Mode, Project};
use anyhow::{Context as _, Result};
use std::ops::Range;
use std::path::PathBuf;

/// The binding an app-first worker falls through to, and the config file
/// when `wire` changed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wiring {
    pub fallthrough: Option<String>,
    pub updated: Option<PathBuf>,
}

impl Wiring {
    /// `src/assets.js`: what the worker's `index.js` reads.
    pub fn to_js(&self) -> String {
        let value = match &self.fallthrough {
            Some(binding) => format!(
                "{{ binding: {} }}",
                serde_json::Value::from(binding.as_str())
            ),
            None => "null".into(),
        };
        format!(
            "// Written by `elixir-workers build` from the `assets` setting of\n\
             // elixir-workers.json: with a binding, a GET or HEAD the app answers\n\
             // 404 is handed to Workers Static Assets (app first).\n\
             export const ASSETS = {value};\n"
        )
    }
}

/// What `new` writes and `build` inserts: `public/` behind the `ASSETS` binding.
const DIRECTORY: &str = "./public";
const BINDING: &str = "ASSETS";

/// Makes `wrangler.jsonc` (or `wrangler.json`) serve `public/` the way the
/// setting says; see the module documentation. A `wrangler.toml` is left as
/// it is (an app-first worker then assumes the binding is `ASSETS`).
pub fn wire(project: &Project, settings: &AssetsSettings) -> Result<Wiring> {
    let app_first = settings.mode == Mode::AppFirst;
    let Some(config) = project.wrangler_config() else {
        return Ok(Wiring::default());
    };
    if config.extension().is_some_and(|e| e == "toml") {
        return Ok(Wiring {
            fallthrough: app_first.then(|| BINDING.to_string()),
            updated: None,
        });
    }
    let text = std::fs::read_to_string(&config)
        .with_context(|| format!("could not read {}", config.display()))?;
    let json = crate::jsonc::strip(&text)
        .with_context(|| format!("{} is not valid JSONC", config.display()))?;
    crate::jsonc::parse(&text)
        .with_context(|| format!("{} is not valid JSONC", config.display()))?;
    let open = json
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .filter(|&i| json[i] == b'{')
        .with_context(|| format!("{}: the config is not a JSON object", config.display()))?;
    let top = members(&json, open);
    let Some((_, assets)) = top.iter().find(|(k, _)| k == "assets") else {
        if !project.root.join("public").is_dir() {
            anyhow::ensure!(
                !app_first,
                "elixir-workers.json: assets.mode is app_first, but {} has no `assets` \
                 and the project has no public/ directory to serve",
                config.display()
            );
            return Ok(Wiring::default());
        }
        let worker_first = if app_first {
            ", \"run_worker_first\": true"
        } else {
            ""
        };
        let comma = if top.is_empty() { "" } else { "," };
        let insert = format!(
            "\n  // The files of public/, served by Workers Static Assets (added by\n  \
             // `elixir-workers build`; elixir-workers.json's `assets` setting\n  \
             // sets run_worker_first).\n  \
             \"assets\": {{ \"directory\": \"{DIRECTORY}\", \"binding\": \"{BINDING}\"{worker_first} }}{comma}"
        );
        let mut edited = text.clone();
        edited.insert_str(open + 1, &insert);
        crate::atomic::write(&config, edited.as_bytes())?;
        return Ok(Wiring {
            fallthrough: app_first.then(|| BINDING.to_string()),
            updated: Some(config),
        });
    };
    anyhow::ensure!(
        json[assets.start] == b'{',
        "{}: `assets` is not an object",
        config.display()
    );
    let inner = members(&json, assets.start);
    let value_of = |key: &str| {
        inner.iter().find(|(k, _)| k == key).map(|(_, r)| {
            (
                r.clone(),
                serde_json::from_slice::<serde_json::Value>(&json[r.clone()]).ok(),
            )
        })
    };
    let binding = value_of("binding").and_then(|(_, v)| v?.as_str().map(str::to_string));
    let edit = match value_of("run_worker_first") {
        // An array of route patterns is the user's finer choice: kept.
        Some((_, Some(serde_json::Value::Array(_)))) => None,
        Some((range, Some(serde_json::Value::Bool(now)))) if now != app_first => {
            Some((range, app_first.to_string()))
        }
        Some(_) => None,
        None if app_first => Some((
            assets.start + 1..assets.start + 1,
            " \"run_worker_first\": true,".into(),
        )),
        None => None,
    };
    if app_first && binding.is_none() {
        anyhow::bail!(
            "elixir-workers.json: assets.mode is app_first, but the `assets` of {} has no \
             binding for the worker to fall through to; add \"binding\": \"{BINDING}\" to it",
            config.display()
        );
    }
    let updated = match edit {
        Some((range, with)) => {
            let mut edited = text.clone();
            edited.replace_range(range, &with);
            crate::atomic::write(&config, edited.as_bytes())?;
            Some(config)
        }
        None => None,
    };
    Ok(Wiring {
        fallthrough: binding.filter(|_| app_first),
        updated,
    })
}

/// The members of the object whose `{` is at `open` in comment-free JSON:
/// each key (as written) with the byte range of its value.
fn members(json: &[u8], open: usize) -> Vec<(String, Range<usize>)> {
    let mut out = Vec::new();
    let mut i = open + 1;
    loop {
        while i < json.len() && (json[i].is_ascii_whitespace() || json[i] == b',') {
            i += 1;
        }
        if i >= json.len() || json[i] != b'"' {
            return out;
        }
        let key_end = string_end(json, i);
        let key = String::from_utf8_lossy(&json[i + 1..key_end - 1]).into_owned();
        i = key_end;
        while i < json.len() && (json[i].is_ascii_whitespace() || json[i] == b':') {
            i += 1;
        }
        let start = i;
        i = value_end(json, i);
        out.push((key, start..i));
    }
}

/// Just past the string whose opening quote is at `at`.
fn string_end(json: &[u8], at: usize) -> usize {
    let mut i = at + 1;
    while i < json.len() && json[i] != b'"' {
        i += if json[i] == b'\\' { 2 } else { 1 };
    }
    (i + 1).min(json.len())
}

/// Just past the value starting at `at`.
fn value_end(json: &[u8], at: usize) -> usize {
    match json.get(at) {
        Some(b'"') => string_end(json, at),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = at;
            while i < json.len() {
                match json[i] {
                    b'"' => {
                        i = string_end(json, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            i
        }
        _ => {
            let mut i = at;
            while i < json.len()
                && !matches!(json[i], b',' | b'}' | b']')
                && !json[i].is_ascii_whitespace()
            {
                i += 1;
            }
            i
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER_CONFIG: &str = "// my worker\n{\n  \"name\": \"x\", // the name\n  /* block\n     comment */\n  \"vars\": { \"A\": \"{\\\"assets\\\": 1}\" },\n}\n";

    fn project_with(config: &str, public: bool) -> (tempfile::TempDir, Project) {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("wrangler.jsonc"), config).unwrap();
        if public {
            std::fs::create_dir(tmp.path().join("public")).unwrap();
        }
        let project = Project::at(tmp.path());
        (tmp, project)
    }

    fn config_of(p: &Project) -> String {
        std::fs::read_to_string(p.root.join("wrangler.jsonc")).unwrap()
    }

    fn setting(mode: Mode) -> AssetsSettings {
        AssetsSettings { mode }
    }

    #[test]
    fn inserts_assets_keeping_the_rest_of_the_file() {
        let (_tmp, p) = project_with(USER_CONFIG, true);
        let wiring = wire(&p, &setting(Mode::AssetsFirst)).unwrap();
        assert_eq!(wiring.fallthrough, None);
        assert!(wiring.updated.is_some());
        let text = config_of(&p);
        // Every byte of the original is still there, in order: the insertion
        // is the only change.
        let inserted = text.len() - USER_CONFIG.len();
        let at = text.find("\n  // The files of public/").unwrap();
        assert_eq!(
            format!("{}{}", &text[..at], &text[at + inserted..]),
            USER_CONFIG
        );
        let value = crate::jsonc::parse(&text).unwrap();
        assert_eq!(
            value["assets"],
            serde_json::json!({"directory": "./public", "binding": "ASSETS"})
        );
        assert_eq!(value["name"], "x");
        // A second build finds it and changes nothing.
        assert_eq!(
            wire(&p, &setting(Mode::AssetsFirst)).unwrap(),
            Wiring::default()
        );
        assert_eq!(config_of(&p), text);
    }

    #[test]
    fn no_public_dir_no_assets() {
        let (_tmp, p) = project_with(USER_CONFIG, false);
        assert_eq!(
            wire(&p, &setting(Mode::AssetsFirst)).unwrap(),
            Wiring::default()
        );
        assert_eq!(config_of(&p), USER_CONFIG);
        let err = wire(&p, &setting(Mode::AppFirst)).unwrap_err().to_string();
        assert!(err.contains("no public/"), "{err}");
    }

    #[test]
    fn app_first_sets_only_run_worker_first() {
        let (_tmp, p) = project_with(USER_CONFIG, true);
        let wiring = wire(&p, &setting(Mode::AppFirst)).unwrap();
        assert_eq!(wiring.fallthrough.as_deref(), Some("ASSETS"));
        let value = crate::jsonc::parse(&config_of(&p)).unwrap();
        assert_eq!(value["assets"]["run_worker_first"], true);

        // An existing object with the user's binding name and a comment:
        // the value flips in place both ways, nothing else moves.
        let own = "{\n  \"assets\": { // static\n    \"directory\": \"./site\", \"binding\": \"STATIC\",\n    \"run_worker_first\": false\n  }\n}\n";
        let (_tmp, p) = project_with(own, false);
        let wiring = wire(&p, &setting(Mode::AppFirst)).unwrap();
        assert_eq!(wiring.fallthrough.as_deref(), Some("STATIC"));
        assert_eq!(config_of(&p), own.replace("false", "true"));
        let wiring = wire(&p, &setting(Mode::AssetsFirst)).unwrap();
        assert_eq!(wiring.fallthrough, None);
        assert_eq!(config_of(&p), own);

        // Absent: added at the front of the object.
        let bare = "{ \"assets\": { \"directory\": \"./public\", \"binding\": \"ASSETS\" } }";
        let (_tmp, p) = project_with(bare, false);
        wire(&p, &setting(Mode::AppFirst)).unwrap();
        assert_eq!(
            config_of(&p),
            "{ \"assets\": { \"run_worker_first\": true, \"directory\": \"./public\", \"binding\": \"ASSETS\" } }"
        );

        // No binding: nothing for the worker to fall through to.
        let unbound = "{ \"assets\": { \"directory\": \"./public\" } }";
        let (_tmp, p) = project_with(unbound, false);
        let err = wire(&p, &setting(Mode::AppFirst)).unwrap_err().to_string();
        assert!(err.contains("add \"binding\""), "{err}");
        assert_eq!(config_of(&p), unbound);
    }

    #[test]
    fn the_worker_module_names_the_binding() {
        let on = Wiring {
            fallthrough: Some("ASSETS".into()),
            updated: None,
        };
        assert!(on
            .to_js()
            .contains("export const ASSETS = { binding: \"ASSETS\" };"));
        assert!(Wiring::default()
            .to_js()
            .contains("export const ASSETS = null;"));
        let settings: AssetsSettings = serde_json::from_str(r#"{"mode": "app_first"}"#).unwrap();
        assert_eq!(settings.mode, Mode::AppFirst);
        assert!(serde_json::from_str::<AssetsSettings>(r#"{"mode": "first"}"#).is_err());
    }
}
