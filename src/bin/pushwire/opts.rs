//! The command lines of `pushwire token`, `cert`, `sub` and `pub`: `--name value`,
//! `--name=value`, switches, repeated flags; `--help`. A mistake is an error (exit 2).

use std::collections::BTreeMap;
use std::process::ExitCode;

/// One flag a command takes: its name, what its value is (`None` for a switch), its help.
pub struct Flag(pub &'static str, pub Option<&'static str>, pub &'static str);

/// A parsed command line.
pub struct Opts {
    given: BTreeMap<&'static str, Vec<String>>,
    pub free: Vec<String>,
}

/// Parses `args` against `flags`; `Err` carries the exit status (0 after `--help`, 2 on a
/// mistake, with the message printed).
pub fn parse(usage: &str, flags: &[Flag], args: &[String]) -> Result<Opts, ExitCode> {
    let help = || {
        let mut text = format!("{usage}\n\nOptions:\n");
        for Flag(name, value, about) in flags {
            let spelled = format!("{name} {}", value.unwrap_or(""));
            text.push_str(&format!("  {spelled:<28} {about}\n"));
        }
        text
    };
    let mut opts = Opts {
        given: BTreeMap::new(),
        free: Vec::new(),
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--help" || arg == "-h" {
            print!("{}", help());
            return Err(ExitCode::SUCCESS);
        }
        if !arg.starts_with("--") {
            opts.free.push(arg.clone());
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        let Some(Flag(name, value, _)) = flags.iter().find(|f| f.0 == name) else {
            return Err(bad(&format!("unknown argument {arg}"), &help()));
        };
        let given = match (value, inline) {
            (None, None) => String::new(),
            (None, Some(_)) => return Err(bad(&format!("{name} takes no value"), &help())),
            (Some(_), Some(v)) => v,
            (Some(what), None) => match rest.next() {
                Some(v) if !v.starts_with("--") => v.clone(),
                _ => return Err(bad(&format!("{name} needs a value ({what})"), &help())),
            },
        };
        opts.given.entry(name).or_default().push(given);
    }
    Ok(opts)
}

fn bad(message: &str, help: &str) -> ExitCode {
    eprintln!("pushwire: {message}\n\n{help}");
    ExitCode::from(2)
}

impl Opts {
    /// The last value of `name`.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.given.get(name)?.last().map(String::as_str)
    }

    /// Every value of a repeated `name`.
    pub fn texts(&self, name: &str) -> Vec<&str> {
        self.given
            .get(name)
            .map_or(Vec::new(), |v| v.iter().map(String::as_str).collect())
    }

    /// Whether switch `name` was given.
    pub fn switch(&self, name: &str) -> bool {
        self.given.contains_key(name)
    }

    /// `name` read by `parse`; its default when absent; a bad value is a message.
    pub fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.text(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("{name}: cannot read {v:?}")),
        }
    }
}

/// Prints `message` and returns exit status 2 (a bad command line) or 1 (a failure).
pub fn fail(message: &str, status: u8) -> ExitCode {
    eprintln!("pushwire: {message}");
    ExitCode::from(status)
}
