//! The reading side of the stats socket: `--monitor`, `scxstats`, tests.

use super::{FieldMeta, Table, STATS_DIR};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A connection to one scheduler's stats socket.
#[derive(Debug)]
pub struct StatsClient {
    scheduler: String,
    writer: UnixStream,
    reader: BufReader<UnixStream>,
}

/// The socket path of `scheduler` under `dir` (normally [`STATS_DIR`]).
pub fn socket_path(dir: &Path, scheduler: &str) -> PathBuf {
    dir.join(scheduler).join("stats")
}

/// Schedulers with a stats socket under `dir`, sorted by name. Sockets nobody answers on (left
/// by a killed process) are left out.
pub fn list_running(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| UnixStream::connect(e.path().join("stats")).is_ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

impl StatsClient {
    /// Connect to `scheduler`'s socket under `dir`; a clear error when it does not run.
    pub fn connect(dir: &Path, scheduler: &str) -> Result<Self> {
        let path = socket_path(dir, scheduler);
        let stream = UnixStream::connect(&path).map_err(|e| match e.kind() {
            ErrorKind::NotFound | ErrorKind::ConnectionRefused => anyhow!(
                "{scheduler} is not running (nothing answers on {}); start it first",
                path.display()
            ),
            ErrorKind::PermissionDenied => anyhow!(
                "cannot open {}: stats sockets are root's only (run as root)",
                path.display()
            ),
            _ => anyhow!("connecting to {}: {e}", path.display()),
        })?;
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .context("setting a read timeout")?;
        Ok(Self {
            scheduler: scheduler.to_string(),
            reader: BufReader::new(stream.try_clone().context("cloning the socket")?),
            writer: stream,
        })
    }

    /// Send one request object, return the response's payload (an error when `ok` is false or
    /// the scheduler went away).
    pub fn request(&mut self, req: &Value) -> Result<Value> {
        let mut line = serde_json::to_vec(req)?;
        line.push(b'\n');
        let gone = || anyhow!("{} stopped (its stats socket closed)", self.scheduler);
        // A server that is full answers "too many clients" and hangs up without reading, so
        // the write can fail while that answer waits to be read: read it either way, and say
        // the scheduler stopped only when there is no answer.
        let _ = self.writer.write_all(&line);
        let mut resp = String::new();
        match self.reader.read_line(&mut resp) {
            Ok(n) if n > 0 => {}
            _ => return Err(gone()),
        }
        let v: Value = serde_json::from_str(&resp)
            .with_context(|| format!("{} answered something that is not JSON", self.scheduler))?;
        if v["ok"] != true {
            bail!(
                "{} refused the request: {}",
                self.scheduler,
                v["error"].as_str().unwrap_or("no reason given")
            );
        }
        Ok(v)
    }

    /// `info`: name, version, pid, attached, attaches, uptime.
    pub fn info(&mut self) -> Result<Value> {
        self.request(&json!({"req": "info"}))
    }

    /// `meta`: the fields and their descriptions.
    pub fn meta(&mut self) -> Result<Vec<FieldMeta>> {
        let v = self.request(&json!({"req": "meta"}))?;
        serde_json::from_value(v["fields"].clone()).context("reading the field descriptions")
    }

    /// `stats`: the latest snapshot (`Value::Null` before the scheduler's first refresh).
    pub fn stats(&mut self) -> Result<Value> {
        Ok(self.request(&json!({"req": "stats"}))?["stats"].clone())
    }
}

/// `--monitor`: print `scheduler`'s stats every `interval` until it stops (then return `Ok`), as
/// a table or, with `json`, one JSON object a line (`{"scheduler":…,"stats":{…}}`).
pub fn monitor(scheduler: &str, interval: Duration, json_lines: bool) -> Result<()> {
    monitor_in(Path::new(STATS_DIR), scheduler, interval, json_lines, None)
}

/// [`monitor`] with the socket directory given, stopping after `count` reports if set.
pub fn monitor_in(
    dir: &Path,
    scheduler: &str,
    interval: Duration,
    json_lines: bool,
    count: Option<u64>,
) -> Result<()> {
    let mut client = StatsClient::connect(dir, scheduler)?;
    let mut table = Table::new(scheduler, client.meta()?);
    let mut printed = 0;
    let mut next = Instant::now();
    loop {
        let stats = match client.stats() {
            Ok(s) => s,
            Err(e) => {
                log::info!("{e:#}");
                return Ok(());
            }
        };
        if !stats.is_null() {
            let out = if json_lines {
                serde_json::to_string(&json!({"scheduler": scheduler, "stats": stats}))?
            } else {
                table.render(&stats)
            };
            println!("{out}");
            printed += 1;
            if count.is_some_and(|c| printed >= c) {
                return Ok(());
            }
        }
        next += interval;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}
