//! Scheduler statistics: declared once as a plain struct, printed by the scheduler itself
//! (`--stats`), served on a UNIX socket to `--monitor`, `scxstats` and anything else that speaks
//! the protocol below, and exported in the OpenMetrics text format for Prometheus-style scrapers.
//!
//! # Declaring stats
//! ```
//! scx_utils::scx_stats! {
//!     /// What scx_example counts.
//!     pub struct ExampleStats {
//!         /// Tasks that found their previous CPU idle.
//!         counter idle_prev: u64,
//!         /// Tasks waiting in the shared queue right now.
//!         gauge queued: u64,
//!         /// Busy share of each domain's CPUs, in percent.
//!         gauge dom_busy_pct: Vec<f64>,
//!     }
//! }
//! use scx_utils::stats::Stats;
//! assert_eq!(ExampleStats::fields()[0].desc, "Tasks that found their previous CPU idle.");
//! ```
//! A `counter` only grows while the scheduler stays attached (readers show it as a rate); a
//! `gauge` is a current value. Fields may be numbers, strings, or vectors / string-keyed maps of
//! numbers (exported with an `index` / `key` label).
//!
//! # Protocol
//! The scheduler listens on `/run/scx/<scheduler>/stats` (a UNIX stream socket in a directory of
//! mode 0700: root only). A client writes one request per line, a JSON object, and reads one JSON
//! object per line back:
//!
//! | request | response |
//! |---|---|
//! | `{"req":"info"}` | `{"ok":true,"scheduler":"scx_rusty","version":"…","pid":42,"attached":true,"attaches":1,"uptime_s":12.5}` |
//! | `{"req":"meta"}` | `{"ok":true,"scheduler":"scx_rusty","fields":[{"name":"idle_prev","kind":"counter","desc":"…"},…]}` |
//! | `{"req":"stats"}` | `{"ok":true,"age_s":0.4,"stats":{"idle_prev":1234,…}}` (`stats` is `null` before the first refresh) |
//!
//! Anything else gets `{"ok":false,"error":"…"}` and the connection stays usable. A request line
//! longer than [`MAX_REQUEST`] bytes gets an error and the connection is closed; so is a client
//! that sends no complete request for [`CLIENT_IDLE`], and any client beyond [`MAX_CLIENTS`]
//! connected at once. None of this can block the scheduler: the server runs on its own threads
//! and only copies the latest snapshot, which the run loop refreshes at its tick.

mod client;
mod render;
mod server;

pub use client::{list_running, monitor, StatsClient};
pub use render::{openmetrics, Table};
pub use server::StatsServer;

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Longest request line the server accepts, newline included.
pub const MAX_REQUEST: usize = 4096;
/// Clients served at once; more are turned away with an error.
pub const MAX_CLIENTS: usize = 16;
/// A client that sends no complete request for this long is disconnected.
pub const CLIENT_IDLE: Duration = Duration::from_secs(10);
/// Where schedulers put their stats sockets: `<dir>/<scheduler>/stats`.
pub const STATS_DIR: &str = "/run/scx";

/// How a field's value behaves over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// Grows while the scheduler stays attached; shown as a rate.
    Counter,
    /// A current value.
    Gauge,
}

/// One field of a stats struct, as the protocol's `meta` request returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMeta {
    /// The field's name (the JSON key of its value).
    pub name: String,
    /// Counter or gauge.
    pub kind: FieldKind,
    /// One line describing it (from the field's doc comment).
    pub desc: String,
}

/// A stats struct: serialisable, with a description of each field. Implemented by
/// [`scx_stats!`](crate::scx_stats).
pub trait Stats: Serialize {
    /// The fields in declaration order.
    fn fields() -> Vec<FieldMeta>;
}

/// Stats for schedulers that keep none: serves an empty object.
impl Stats for () {
    fn fields() -> Vec<FieldMeta> {
        Vec::new()
    }
}

/// Declare a stats struct: each field is `counter` or `gauge`, with a one-line doc comment that
/// becomes its description for `--monitor`, `scxstats` and the OpenMetrics `HELP` line. See the
/// [module documentation](crate::stats) for an example.
#[macro_export]
macro_rules! scx_stats {
    (
        $(#[doc = $sdoc:literal])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])+
                $kind:ident $field:ident : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[doc = $sdoc])*
        #[derive(Debug, Clone, Default, PartialEq, $crate::serde::Serialize, $crate::serde::Deserialize)]
        #[serde(crate = "scx_utils::serde")]
        $vis struct $name {
            $(
                $(#[doc = $doc])+
                pub $field: $ty,
            )*
        }
        impl $crate::stats::Stats for $name {
            fn fields() -> ::std::vec::Vec<$crate::stats::FieldMeta> {
                ::std::vec![$(
                    $crate::stats::FieldMeta {
                        name: ::std::stringify!($field).to_string(),
                        kind: $crate::scx_stats!(@kind $kind),
                        desc: [$($doc),+].iter().map(|l| l.trim()).collect::<::std::vec::Vec<_>>().join(" "),
                    }
                ),*]
            }
        }
    };
    (@kind counter) => { $crate::stats::FieldKind::Counter };
    (@kind gauge) => { $crate::stats::FieldKind::Gauge };
}
