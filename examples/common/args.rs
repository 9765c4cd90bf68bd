//! The examples' command lines, parsed strictly: `--help` prints the usage; an unknown flag, a
//! missing or malformed value, or a port outside 1–65535 is an error with exit status 2.
//! Flags are `--name value` or `--name=value`; switches take no value.
#![allow(dead_code)] // each example uses the part it needs

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

/// One flag an example accepts.
pub struct Flag {
    /// `--port`.
    pub name: &'static str,
    /// What its value is (`N`, `URL`), or `None` for a switch.
    pub value: Option<&'static str>,
    /// One line of help, with the default.
    pub help: &'static str,
    /// Whether it may be given more than once.
    pub repeat: bool,
}

/// A flag that takes a value.
pub const fn value(name: &'static str, value: &'static str, help: &'static str) -> Flag {
    Flag {
        name,
        value: Some(value),
        help,
        repeat: false,
    }
}

/// A flag that takes a value and may be given several times.
pub const fn repeated(name: &'static str, value: &'static str, help: &'static str) -> Flag {
    Flag {
        name,
        value: Some(value),
        help,
        repeat: true,
    }
}

/// A switch.
pub const fn switch(name: &'static str, help: &'static str) -> Flag {
    Flag {
        name,
        value: None,
        help,
        repeat: false,
    }
}

/// The parsed command line.
pub struct Args {
    usage: String,
    given: HashMap<&'static str, Vec<Option<String>>>,
}

impl Args {
    /// Parses the process's arguments against `flags`; `about` is the usage's first line.
    /// Exits on `--help` (status 0) and on any error (status 2).
    pub fn parse(about: &str, flags: &[Flag]) -> Args {
        let args: Vec<String> = std::env::args().skip(1).collect();
        match Self::parse_from(about, flags, &args) {
            Ok(Some(args)) => args,
            Ok(None) => {
                print!("{}", usage(about, flags));
                std::process::exit(0);
            }
            Err(message) => fail(&message, &usage(about, flags)),
        }
    }

    /// Parses `args`; `Ok(None)` when help was asked for.
    pub fn parse_from(
        about: &str,
        flags: &[Flag],
        args: &[String],
    ) -> Result<Option<Args>, String> {
        let mut given = HashMap::new();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            if arg == "--help" || arg == "-h" {
                return Ok(None);
            }
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (arg.as_str(), None),
            };
            let Some(flag) = flags.iter().find(|f| f.name == name) else {
                return Err(format!("unknown argument {arg}"));
            };
            let value = match (flag.value, inline) {
                (None, None) => None,
                (None, Some(_)) => return Err(format!("{name} takes no value")),
                (Some(_), Some(v)) => Some(v),
                (Some(what), None) => match rest.next() {
                    Some(v) if !v.starts_with("--") => Some(v.clone()),
                    _ => return Err(format!("{name} needs a value ({what})")),
                },
            };
            let values: &mut Vec<Option<String>> = given.entry(flag.name).or_default();
            if !values.is_empty() && !flag.repeat {
                return Err(format!("{name} given twice"));
            }
            values.push(value);
        }
        Ok(Some(Args {
            usage: usage(about, flags),
            given,
        }))
    }

    /// Whether a switch was given.
    pub fn switch(&self, name: &str) -> bool {
        self.given.contains_key(name)
    }

    /// A flag's value as text, if given.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.given.get(name)?.first()?.as_deref()
    }

    /// Every value of a repeated flag, in order.
    pub fn texts(&self, name: &str) -> Vec<&str> {
        self.given
            .get(name)
            .map(|v| v.iter().filter_map(|v| v.as_deref()).collect())
            .unwrap_or_default()
    }

    /// A flag's value parsed as `T`, or `default`; a malformed value exits with status 2.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> T
    where
        T::Err: Display,
    {
        match self.text(name) {
            None => default,
            Some(v) => v
                .parse()
                .unwrap_or_else(|e| fail(&format!("{name} {v}: {e}"), &self.usage)),
        }
    }

    /// A count of at least 1 (threads, clients), if given.
    pub fn count(&self, name: &str) -> Option<usize> {
        let v = self.text(name)?;
        match v.parse::<usize>() {
            Ok(n) if n >= 1 => Some(n),
            _ => fail(
                &format!("{name} {v}: expected a whole number of at least 1"),
                &self.usage,
            ),
        }
    }

    /// A TCP port, 1–65535 (`allow_zero`: 0 too, for "any free port").
    pub fn port(&self, name: &str, default: u16, allow_zero: bool) -> u16 {
        match self.text(name) {
            None => default,
            Some(v) => parse_port(name, v, allow_zero).unwrap_or_else(|e| fail(&e, &self.usage)),
        }
    }
}

/// A port, 1–65535 (0 too with `allow_zero`), or the error line.
pub fn parse_port(name: &str, v: &str, allow_zero: bool) -> Result<u16, String> {
    match v.parse::<u16>() {
        Ok(0) if !allow_zero => Err(format!("{name} {v}: a port is 1-65535")),
        Ok(port) => Ok(port),
        Err(_) => Err(format!("{name} {v}: a port is a number from 1 to 65535")),
    }
}

/// The usage text for `flags`.
fn usage(about: &str, flags: &[Flag]) -> String {
    let mut text = format!("{about}\n\nOptions:\n");
    for flag in flags {
        let left = match flag.value {
            Some(v) => format!("{} {v}", flag.name),
            None => flag.name.to_string(),
        };
        text.push_str(&format!("  {left:<24} {}\n", flag.help));
    }
    text.push_str(&format!("  {:<24} print this help\n", "--help"));
    text
}

/// Prints `error: <message>` to standard error and exits with status 2: a value the parser
/// accepted but the example cannot use (a file that does not load, flags that must go together).
pub fn bad(message: impl Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2);
}

/// Prints `message` and the usage to standard error and exits with status 2.
fn fail(message: &str, usage: &str) -> ! {
    eprintln!("error: {message}\n\n{usage}");
    std::process::exit(2);
}

/// Exits with status 1 and a plain sentence when a server cannot listen at `addr` (an address
/// in use is the usual reason); otherwise gives the value back.
pub fn listening<T>(addr: impl Display, result: std::io::Result<T>) -> T {
    result.unwrap_or_else(|e| {
        match e.kind() {
            std::io::ErrorKind::AddrInUse => eprintln!("error: address {addr} is in use"),
            _ => eprintln!("error: cannot listen on {addr}: {e}"),
        }
        std::process::exit(1);
    })
}
