//! Abuses a stats socket the way a buggy or hostile client would, then checks that it still
//! answers: garbage, unknown requests, an oversized line, a client that never finishes its line,
//! a client that connects and stays silent, and 64 concurrent clients asking for stats.
//!
//!   stats-torture SOCKET
//!
//! Prints one `TORTURE <case> ok|FAIL <detail>` line per case and exits 1 if any failed.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn ask(path: &str, payload: &[u8]) -> Result<Value, String> {
    let mut s = UnixStream::connect(path).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    // The server may hang up without reading all of the request (an oversized one, or any
    // when it is full and turns the client away); its reply is still there to read.
    let wrote = s.write_all(payload);
    let mut line = String::new();
    let read = BufReader::new(s).read_line(&mut line);
    match (wrote, read) {
        (_, Ok(n)) if n > 0 => {}
        (Err(e), _) => return Err(format!("write: {e}")),
        (Ok(()), Err(e)) => return Err(format!("read: {e}")),
        (Ok(()), Ok(_)) => return Err("no reply".to_string()),
    }
    serde_json::from_str(&line).map_err(|e| format!("bad reply {line:?}: {e}"))
}

fn check(name: &str, ok: Result<bool, String>, failures: &mut u32) {
    match ok {
        Ok(true) => println!("TORTURE {name} ok"),
        Ok(false) => {
            println!("TORTURE {name} FAIL unexpected reply");
            *failures += 1
        }
        Err(e) => {
            println!("TORTURE {name} FAIL {e}");
            *failures += 1
        }
    }
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: stats-torture SOCKET");
    let mut failures = 0;
    // Silent clients and a half line: they hold connections the server must time out.
    let silent: Vec<_> = (0..4)
        .filter_map(|_| UnixStream::connect(&path).ok())
        .collect();
    let mut half = UnixStream::connect(&path).expect("connect");
    let _ = half.write_all(b"{\"req\":\"sta");

    check(
        "garbage",
        ask(&path, b"\x00\xff\xfe not json at all\n").map(|v| v["ok"] == false),
        &mut failures,
    );
    check(
        "unknown-request",
        ask(&path, b"{\"req\":\"reboot\"}\n").map(|v| v["ok"] == false),
        &mut failures,
    );
    check(
        "wrong-shape",
        ask(&path, b"[1,2,3]\n").map(|v| v["ok"] == false),
        &mut failures,
    );
    let huge = vec![b'{'; 1 << 20];
    check(
        "oversized",
        ask(&path, &huge).map(|v| v["ok"] == false),
        &mut failures,
    );
    // 64 clients at once; the server serves 16 at a time and turns the rest away politely, so
    // each client retries until it got its stats.
    let threads: Vec<_> = (0..64)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    match ask(&path, b"{\"req\":\"stats\"}\n") {
                        Ok(v) if v["ok"] == true => return Ok(true),
                        Ok(_) => std::thread::sleep(Duration::from_millis(50)),
                        Err(e) => return Err(e),
                    }
                }
                Err("never served".to_string())
            })
        })
        .collect();
    let results: Vec<Result<bool, String>> = threads
        .into_iter()
        .map(|t| t.join().unwrap_or(Err("panicked".into())))
        .collect();
    let served = results.iter().filter(|r| matches!(r, Ok(true))).count();
    let first_error = results.iter().find_map(|r| r.as_ref().err());
    check(
        "64-clients",
        if served == 64 {
            Ok(true)
        } else {
            Err(format!(
                "{served}/64 served (first error: {})",
                first_error.map_or("none", String::as_str)
            ))
        },
        &mut failures,
    );
    drop(silent);
    drop(half);
    check(
        "still-serving",
        ask(&path, b"{\"req\":\"info\"}\n").map(|v| v["ok"] == true && v["attached"] == true),
        &mut failures,
    );
    std::process::exit(i32::from(failures > 0));
}
