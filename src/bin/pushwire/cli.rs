//! `pushwire serve`'s command line: a flag per setting (`--history-events 100`,
//! `--history-events=100`; a switch `--ws-deflate` / `--no-ws-deflate`; a list flag repeated),
//! and `--config PATH`, `--check-config`, `--help`. Anything else is an error (exit 2).

use crate::config::{self, Error, Loaded, Origin, Raw, SETTINGS, Setting, value::Kind};

/// What the command line asked besides settings.
#[derive(Debug, Default)]
pub struct Serve {
    /// `--config PATH`.
    pub config: Option<String>,
    /// `--check-config`: print the effective configuration and exit.
    pub check: bool,
    /// `--help`.
    pub help: bool,
}

/// Flags spelled another way than their setting, kept for the command lines people already
/// type (`--allow-origin` repeated, as the first server took it).
const ALIASES: [(&str, &str); 3] = [
    ("--allow-origin", "allow_origins"),
    ("--trusted-proxy", "trusted_proxies"),
    ("--max-connections-per-address", "max_connections_per_ip"),
];

/// Reads `args` into `loaded` (flags over what is there).
pub fn parse(args: &[String], loaded: &mut Loaded) -> Result<Serve, Error> {
    let mut serve = Serve::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if arg.starts_with("--") => (flag, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let origin = Origin::Flag(flag.to_string());
        let mut value = |what: &str| match &inline {
            Some(v) => Ok(v.clone()),
            None => rest
                .next()
                .filter(|v| !v.starts_with("--"))
                .cloned()
                .ok_or_else(|| Error::new(&origin, "", format!("needs a value ({what})"))),
        };
        match flag {
            "--help" | "-h" => serve.help = true,
            "--check-config" => serve.check = true,
            "--config" => serve.config = Some(value("PATH")?),
            _ => {
                let (setting, negated) = lookup(flag).ok_or_else(|| {
                    Error::new(
                        &origin,
                        "",
                        "unknown argument (pushwire serve --help lists them)",
                    )
                })?;
                let raw = match (setting.kind, negated, &inline) {
                    (Kind::Bool, true, None) => Raw::One("false".into()),
                    (Kind::Bool, false, None) => Raw::One("true".into()),
                    (Kind::Bool, true, Some(_)) => {
                        return Err(Error::new(&origin, "", "takes no value"));
                    }
                    (Kind::List, _, _) => Raw::Many(vec![value("VALUE")?]),
                    _ => Raw::One(value("VALUE")?),
                };
                loaded.set(setting, raw, origin)?;
            }
        }
    }
    Ok(serve)
}

/// The setting a flag names, and whether it is a switch's `--no-` form.
fn lookup(flag: &str) -> Option<(&'static Setting, bool)> {
    if let Some((_, name)) = ALIASES.iter().find(|(alias, _)| *alias == flag) {
        return config::settings::find(name).map(|s| (s, false));
    }
    let name = flag.strip_prefix("--")?.replace('-', "_");
    if let Some(setting) = config::settings::find(&name) {
        return Some((setting, false));
    }
    let setting = config::settings::find(name.strip_prefix("no_")?)?;
    (setting.kind == Kind::Bool).then_some((setting, true))
}

/// `pushwire serve --help`.
pub fn usage() -> String {
    let mut out = String::from(
        "pushwire serve: the hub server (short polling, long-polling, Server-Sent Events and \
         WebSocket on one port)\n\n\
         Usage: pushwire [serve] [--config PATH] [--check-config] [--SETTING VALUE]...\n\n\
         Every setting may be given in the file (`name = value`), as PUSHWIRE_NAME in the \
         environment, or as --name on the command line; flags win over the environment, which \
         wins over the file. Switches: --name / --no-name.\n\n\
         Settings:\n",
    );
    for setting in SETTINGS {
        let what = match setting.kind {
            Kind::Bytes => "SIZE",
            Kind::Count => "N",
            Kind::Duration => "DURATION",
            Kind::MaybeDuration => "DURATION|off",
            Kind::Bool => "",
            Kind::Text => "VALUE",
            Kind::List => "VALUE...",
            Kind::Port => "PORT",
        };
        let flag = format!("{} {what}", config::flag_name(setting.name));
        out.push_str(&format!("  {flag:<36} {}\n", setting.help));
    }
    out
}
