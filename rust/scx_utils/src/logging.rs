//! Plain stderr logging for scheduler binaries: one line per message, no timestamps (journald
//! and the terminal add their own), libbpf's output routed through it.

use std::sync::atomic::{AtomicBool, Ordering};

static LIBBPF_VERBOSE: AtomicBool = AtomicBool::new(false);

fn libbpf_to_log(level: libbpf_rs::PrintLevel, msg: String) {
    use libbpf_rs::PrintLevel;
    let msg = msg.trim_end();
    match level {
        PrintLevel::Warn => log::warn!("libbpf: {msg}"),
        PrintLevel::Info => log::info!("libbpf: {msg}"),
        PrintLevel::Debug => {
            if LIBBPF_VERBOSE.load(Ordering::Relaxed) {
                log::debug!("libbpf: {msg}")
            }
        }
    }
}

/// Route libbpf's messages to the `log` crate: warnings and info always, debug output (the
/// verifier log among it) only when `verbose` is set.
pub fn init_libbpf_logging(verbose: bool) {
    LIBBPF_VERBOSE.store(verbose, Ordering::Relaxed);
    libbpf_rs::set_print(Some((libbpf_rs::PrintLevel::Debug, libbpf_to_log)));
}

struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let prefix = match r.level() {
                log::Level::Error => "error: ",
                log::Level::Warn => "warning: ",
                _ => "",
            };
            eprintln!("{prefix}{}", r.args());
        }
    }
    fn flush(&self) {}
}

/// Log to stderr (info and up, debug with `verbose`) and route libbpf's output there too. A
/// logger installed earlier is kept.
pub fn init_logging(verbose: bool) {
    static LOGGER: Stderr = Stderr;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(if verbose {
            log::LevelFilter::Debug
        } else {
            log::LevelFilter::Info
        });
    }
    init_libbpf_logging(verbose);
}
