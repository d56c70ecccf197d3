//! Runs the `pelt-trace` binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn trace(input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pelt-trace"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pelt-trace");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn sample_session() {
    // One period running, 1000 ns more (no-op), 31 more periods running, then idle 32.
    let out =
        trace("1048576 1 1 1 1024\n1049576 1 1 1 1024\n33554432 1 1 1 1024\n67108864 0 0 0 1024\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], "1048576 1002 1026048 1026048 0 21 21 21");
    assert_eq!(lines[1], lines[0], "under 1024 ns changes nothing");
    let last: Vec<u64> = lines[2].split(' ').map(|w| w.parse().unwrap()).collect();
    assert_eq!(&last[5..], &[512, 512, 512]);
    let idle: Vec<u64> = lines[3].split(' ').map(|w| w.parse().unwrap()).collect();
    assert_eq!(idle[0], 67108864);
    assert_eq!(idle[7], 256); // half of 512 after one half-life
}

#[test]
fn matches_library() {
    let mut sa = scx_pelt::SchedAvg::new();
    let mut input = String::new();
    let mut expected = String::new();
    let mut now = 0u64;
    for i in 0..500u64 {
        now += (i * 7919) % 3_000_000;
        let (load, running) = ((i % 3 != 0) as u64 * 2, i % 2);
        input.push_str(&format!("{now} {load} {load} {running} 1024\n"));
        sa.update(now, load, load, running != 0, 1024);
        expected.push_str(&format!(
            "{} {} {} {} {} {} {} {}\n",
            sa.last_update_time,
            sa.load_sum,
            sa.runnable_sum,
            sa.util_sum,
            sa.period_contrib,
            sa.load_avg,
            sa.runnable_avg,
            sa.util_avg
        ));
    }
    let out = trace(&input);
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
}

#[test]
fn malformed_line_names_its_number() {
    for bad in [
        "1 2 3",
        "1 2 3 4 5 6",
        "1 2 -3 4 5",
        "1 2 x 4 5",
        "",
        "99999999999999999999 1 1 1 1",
    ] {
        let out = trace(&format!(
            "1048576 1 1 1 1024\n2097152 1 1 1 1024\n{bad}\n3145728 1 1 1 1024\n"
        ));
        assert!(!out.status.success(), "{bad:?} accepted");
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("line 3"), "{bad:?}: {err}");
        // The lines before the bad one were printed.
        assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
    }
}
