//! The main thread's loop while the workers run: signals, through `signal-hook` on a mio poll
//! of its own, and the steps of a drain.

use crate::serve::{Live, TICK};
use mio::{Events, Interest, Poll, Token};
use pushwire::reactor::Running;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use std::io;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Where a drain stands.
#[derive(Clone, Copy, Debug)]
enum Drain {
    /// Serving.
    No,
    /// `/ready` answers `503`; the listeners close at `close_at`.
    Announced { since: Instant, close_at: Instant },
    /// The listeners are closed and every client was told where to resume; the workers stop
    /// when the last connection is gone.
    Closing { since: Instant },
}

/// Starts catching `SIGTERM`, `SIGINT` and `SIGHUP` (their default actions stop).
pub fn catch() -> io::Result<Signals> {
    Signals::new([SIGTERM, SIGINT, SIGHUP])
}

/// Waits for `signals` until the workers stop; the process's exit status.
pub fn wait(mut signals: Signals, live: &Live, running: Running) -> io::Result<ExitCode> {
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut signals, Token(0), Interest::READABLE)?;
    let mut events = Events::with_capacity(8);
    let mut drain = Drain::No;
    let mut reported = Instant::now();
    while !running.is_finished() {
        if let Err(e) = poll.poll(&mut events, Some(TICK)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let now = Instant::now();
        for signal in signals.pending() {
            match (signal, drain) {
                (SIGHUP, _) => {
                    log::info!("reloading signal=SIGHUP");
                    live.reload();
                }
                (_, Drain::No) => {
                    let name = if signal == SIGINT {
                        "SIGINT"
                    } else {
                        "SIGTERM"
                    };
                    live.lifecycle.drain();
                    log::info!(
                        "draining signal={name} drain_delay_ms={} shutdown_timeout_ms={} open={}",
                        live.drain_delay.as_millis(),
                        live.shutdown_timeout.as_millis(),
                        live.handle.open_connections()
                    );
                    drain = Drain::Announced {
                        since: now,
                        close_at: now + live.drain_delay,
                    };
                }
                _ => {
                    log::warn!(
                        "exiting reason=second_signal open={}",
                        live.handle.open_connections()
                    );
                    std::process::exit(1);
                }
            }
        }
        drain = step(live, drain, now, &mut reported);
        if let Drain::Announced { since, .. } | Drain::Closing { since } = drain {
            if now >= live.hard_deadline(since) {
                log::warn!(
                    "exiting reason=drain_timeout open={}",
                    live.handle.open_connections()
                );
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    running.join()?;
    match drain {
        Drain::No => {
            log::error!("stopped reason=workers_ended");
            Ok(ExitCode::FAILURE)
        }
        _ => {
            log::info!(
                "stopped reason=drained open={}",
                live.handle.open_connections()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The drain's next step at `now`: the listeners close once the delay has passed; progress is
/// logged every second.
fn step(live: &Live, drain: Drain, now: Instant, reported: &mut Instant) -> Drain {
    match drain {
        Drain::Announced { since, close_at } if now >= close_at => {
            live.handle.shutdown();
            log::info!(
                "drain step=listeners_closed open={}",
                live.handle.open_connections()
            );
            *reported = now;
            Drain::Closing { since }
        }
        Drain::Closing { .. } if now.duration_since(*reported) >= Duration::from_secs(1) => {
            log::info!("drain step=waiting open={}", live.handle.open_connections());
            *reported = now;
            drain
        }
        _ => drain,
    }
}
