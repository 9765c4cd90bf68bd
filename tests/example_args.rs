//! The examples' shared command-line parser: strict, with a usage on `--help`.

#[path = "../examples/common/args.rs"]
mod args;

use args::{Args, parse_port, switch, value};

const FLAGS: [args::Flag; 3] = [
    value("--port", "N", "port"),
    value("--threads", "N", "threads"),
    switch("--quick", "fewer runs"),
];

fn parse(line: &[&str]) -> Result<Option<Args>, String> {
    let line: Vec<String> = line.iter().map(|s| s.to_string()).collect();
    Args::parse_from("test", &FLAGS, &line)
}

#[test]
fn values_switches_and_both_spellings() {
    let a = parse(&["--port", "9000", "--quick", "--threads=2"])
        .unwrap()
        .unwrap();
    assert_eq!(a.text("--port"), Some("9000"));
    assert_eq!(a.text("--threads"), Some("2"));
    assert!(a.switch("--quick"));
    assert_eq!(a.port("--port", 1, false), 9000);
    assert_eq!(a.count("--threads"), Some(2));
    let none = parse(&[]).unwrap().unwrap();
    assert_eq!(none.port("--port", 8080, false), 8080);
    assert!(!none.switch("--quick"));
}

#[test]
fn help_is_asked_for() {
    assert!(parse(&["--help"]).unwrap().is_none());
    assert!(parse(&["--port", "1", "-h"]).unwrap().is_none());
}

#[test]
fn mistakes_are_errors_not_ignored() {
    for (line, error) in [
        (&["--prot", "9000"][..], "unknown argument --prot"),
        (&["9000"], "unknown argument 9000"),
        (&["--port"], "--port needs a value (N)"),
        (&["--port", "--quick"], "--port needs a value (N)"),
        (&["--quick=yes"], "--quick takes no value"),
        (&["--port", "1", "--port", "2"], "--port given twice"),
    ] {
        assert_eq!(parse(line).err().as_deref(), Some(error), "{line:?}");
    }
}

#[test]
fn ports_are_1_to_65535() {
    assert_eq!(parse_port("--port", "65535", false), Ok(65535));
    assert_eq!(parse_port("--port", "0", true), Ok(0));
    for bad in ["0", "65536", "99999", "-1", "80x", ""] {
        assert!(parse_port("--port", bad, false).is_err(), "{bad}");
    }
}
