//! `pushwire serve`'s configuration: defaults, then a TOML file (`--config PATH` or
//! `PUSHWIRE_CONFIG`), then `PUSHWIRE_<NAME>` environment variables, then flags — each layer
//! over the one before. Every value remembers where it came from, so that an error names the
//! file and line, the variable or the flag, and `--check-config` can say it.

mod check;
pub mod settings;
pub mod value;

pub use check::{Listeners, check, verifier};
pub use settings::{Config, SETTINGS, Setting, Slot};

use std::collections::BTreeMap;
use std::fmt;

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Default,
    File { path: String, line: usize },
    Env(String),
    Flag(String),
}

impl Origin {
    /// Which layer wins: flags over the environment over the file over the defaults.
    pub fn rank(&self) -> u8 {
        match self {
            Origin::Default => 0,
            Origin::File { .. } => 1,
            Origin::Env(_) => 2,
            Origin::Flag(_) => 3,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => write!(f, "default"),
            Origin::File { path, line } => write!(f, "{path}:{line}"),
            Origin::Env(var) => write!(f, "{var}"),
            Origin::Flag(flag) => write!(f, "{flag}"),
        }
    }
}

/// A configuration that cannot be used: where, which setting, and why.
#[derive(Debug)]
pub struct Error {
    pub origin: Origin,
    pub key: String,
    pub message: String,
}

impl Error {
    pub fn new(origin: &Origin, key: &str, message: impl Into<String>) -> Self {
        Error {
            origin: origin.clone(),
            key: key.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.origin, self.message)
        } else {
            write!(f, "{}: {}: {}", self.origin, self.key, self.message)
        }
    }
}

/// A value as given, before it is read by its setting's kind.
#[derive(Clone, Debug)]
pub enum Raw {
    One(String),
    Many(Vec<String>),
}

/// The configuration with the origin of every value that is not a default.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub config: Config,
    pub origins: BTreeMap<&'static str, Origin>,
}

impl Loaded {
    /// Where `name`'s value came from.
    pub fn origin(&self, name: &str) -> Origin {
        self.origins.get(name).cloned().unwrap_or(Origin::Default)
    }

    /// Whether `name` was given anywhere.
    pub fn given(&self, name: &str) -> bool {
        self.origins.contains_key(name)
    }

    /// Sets `setting` from `raw`, given at `origin` (a later layer replaces; within the
    /// command line, a repeated list flag adds).
    pub fn set(
        &mut self,
        setting: &'static Setting,
        raw: Raw,
        origin: Origin,
    ) -> Result<(), Error> {
        let append = matches!(
            (&origin, self.origins.get(setting.name)),
            (Origin::Flag(_), Some(Origin::Flag(_)))
        );
        apply(&mut self.config, setting, raw, append)
            .map_err(|message| Error::new(&origin, setting.name, message))?;
        self.origins.insert(setting.name, origin);
        Ok(())
    }
}

/// Reads `raw` into `setting`'s slot of `config`.
fn apply(config: &mut Config, setting: &Setting, raw: Raw, append: bool) -> Result<(), String> {
    use value::Kind;
    let one = |raw: &Raw| match raw {
        Raw::One(text) => Ok(text.clone()),
        Raw::Many(_) => Err("expected one value, not a list".to_string()),
    };
    let number = |text: &str| match setting.kind {
        Kind::Bytes => value::bytes(text),
        _ => value::count(text),
    };
    let size = |n: u64| usize::try_from(n).map_err(|_| format!("{n} is too large"));
    match (setting.slot)(config) {
        Slot::Usize(slot) => *slot = size(number(&one(&raw)?)?)?,
        Slot::U64(slot) => *slot = number(&one(&raw)?)?,
        Slot::Port(slot) => *slot = value::port(&one(&raw)?)?,
        Slot::Limit(slot) => {
            let text = one(&raw)?;
            *slot = match text.trim() {
                "off" => usize::MAX,
                other => size(value::count(other)?)?,
            };
        }
        Slot::Dur(slot) => *slot = value::duration(&one(&raw)?)?,
        Slot::MaybeDur(slot) => {
            let text = one(&raw)?;
            *slot = match text.trim() {
                "off" => None,
                other => Some(value::duration(other)?),
            };
        }
        Slot::Bool(slot) => *slot = value::boolean(&one(&raw)?)?,
        Slot::MaybeBool(slot) => *slot = Some(value::boolean(&one(&raw)?)?),
        Slot::Text(slot) => *slot = one(&raw)?,
        Slot::MaybeText(slot) => {
            let text = one(&raw)?;
            *slot = (!text.is_empty()).then_some(text);
        }
        Slot::List(slot) => {
            let items = match raw {
                Raw::Many(items) => items,
                // The environment's way of writing a list.
                Raw::One(text) => text
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            };
            if append {
                slot.extend(items);
            } else {
                *slot = items;
            }
        }
    }
    Ok(())
}

/// Reads the TOML file at `path` (`text` is its contents) into `loaded`.
pub fn read_file(loaded: &mut Loaded, path: &str, text: &str) -> Result<(), Error> {
    use toml::Spanned;
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let table: BTreeMap<Spanned<String>, Spanned<toml::Value>> =
        toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(s.start));
            let origin = Origin::File {
                path: path.into(),
                line,
            };
            Error::new(&origin, "", e.message().trim().to_string())
        })?;
    for (key, value) in table {
        let origin = Origin::File {
            path: path.into(),
            line: line_of(key.span().start),
        };
        let name = key.get_ref().as_str();
        let Some(setting) = settings::find(name) else {
            let why = match value.get_ref() {
                toml::Value::Table(_) => "unknown section (settings are top-level keys)",
                _ => "unknown key",
            };
            return Err(Error::new(&origin, name, why));
        };
        let raw = toml_raw(value.get_ref()).map_err(|m| Error::new(&origin, name, m))?;
        loaded.set(setting, raw, origin)?;
    }
    Ok(())
}

/// A TOML value as text (or a list of texts).
fn toml_raw(value: &toml::Value) -> Result<Raw, String> {
    let text = |v: &toml::Value| match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        toml::Value::Float(x) => Ok(x.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!("expected a value, got {}", other.type_str())),
    };
    match value {
        toml::Value::Array(items) => {
            Ok(Raw::Many(items.iter().map(text).collect::<Result<_, _>>()?))
        }
        other => Ok(Raw::One(text(other)?)),
    }
}

/// The flag of a setting.
pub fn flag_name(name: &str) -> String {
    format!("--{}", name.replace('_', "-"))
}

/// Reads every `PUSHWIRE_<NAME>` variable `env` has into `loaded`; returns the variables that
/// name no setting (warned about, not fatal: other programs may use the prefix).
pub fn read_env(
    loaded: &mut Loaded,
    vars: impl Iterator<Item = (String, String)>,
) -> Result<Vec<String>, Error> {
    let mut unknown = Vec::new();
    for (var, text) in vars {
        let Some(name) = var.strip_prefix("PUSHWIRE_") else {
            continue;
        };
        let name = name.to_ascii_lowercase();
        match settings::find(&name) {
            Some(setting) => loaded.set(setting, Raw::One(text), Origin::Env(var))?,
            // Not settings, but read by the commands themselves.
            None if matches!(name.as_str(), "config" | "token" | "url") => {}
            None => unknown.push(var),
        }
    }
    Ok(unknown)
}

/// The effective configuration as TOML, each value with where it came from; the password of a
/// Redis URL is not shown.
pub fn render(loaded: &Loaded) -> String {
    let mut out = String::from("# pushwire serve: the effective configuration\n");
    for setting in SETTINGS {
        let mut config = loaded.config.clone();
        let mut shown = show(setting, (setting.slot)(&mut config));
        if setting.name == "redis" {
            shown = redact_url(&shown);
        }
        let origin = loaded.origin(setting.name);
        match shown {
            Some(value) => out.push_str(&format!("{} = {value}", setting.name)),
            None => out.push_str(&format!("# {} (unset)", setting.name)),
        }
        out.push_str(&format!("  # {origin}\n"));
    }
    out
}

/// A slot's value as TOML; `None` when unset.
fn show(setting: &Setting, slot: Slot<'_>) -> Option<String> {
    let quote = |s: &str| format!("{s:?}");
    let number = |n: u64| match setting.kind {
        value::Kind::Bytes => quote(&value::show_bytes(n)),
        _ => n.to_string(),
    };
    Some(match slot {
        Slot::Usize(n) => number(*n as u64),
        Slot::U64(n) => number(*n),
        Slot::Port(n) => n.to_string(),
        Slot::Limit(n) if *n == usize::MAX => quote("off"),
        Slot::Limit(n) => n.to_string(),
        Slot::Dur(d) => quote(&value::show_duration(*d)),
        Slot::MaybeDur(d) => quote(&d.map_or("off".to_string(), value::show_duration)),
        Slot::Bool(b) => b.to_string(),
        Slot::MaybeBool(b) => (*b)?.to_string(),
        Slot::Text(t) => quote(t),
        Slot::MaybeText(t) => quote(t.as_deref()?),
        Slot::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| quote(i))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// `redis://user:secret@host` as `redis://user:***@host`.
fn redact_url(shown: &Option<String>) -> Option<String> {
    let text = shown.as_ref()?;
    let Some((scheme, rest)) = text.split_once("://") else {
        return Some(text.clone());
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                "***".to_string()
            };
            Some(format!("{scheme}://{masked}@{host}"))
        }
        None => Some(text.clone()),
    }
}
