//! Ctrl-C and SIGTERM handling shared by every scheduler's main loop.

use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Set when the process got SIGINT or SIGTERM. The main loop polls it and detaches.
#[derive(Clone, Debug)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// Install the signal handler (once per process).
    pub fn install() -> Result<Self> {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        ctrlc::set_handler(move || f.store(true, Ordering::Relaxed))
            .context("installing the SIGINT/SIGTERM handler")?;
        Ok(Self(flag))
    }

    /// Has a stop been requested?
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
