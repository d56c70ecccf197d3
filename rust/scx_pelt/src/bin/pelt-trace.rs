//! `pelt-trace`: replays a trace of PELT update steps and prints the state after each one.
//!
//! Starts from a zeroed state (`last_update_time` 0). Each input line is
//! `<now_ns> <load> <runnable> <running> <weight>` (unsigned decimals, separated by blanks):
//! the first four are the arguments of the kernel's load-sum update (`running` non-zero means
//! running), and `weight` is the argument of the average update that follows it when a period
//! boundary was crossed. After each line it prints
//! `<last_update_time> <load_sum> <runnable_sum> <util_sum> <period_contrib> <load_avg>
//! <runnable_avg> <util_avg>`. A malformed line (including an empty one) stops it with an error
//! naming the line number and exit status 1.

use scx_pelt::SchedAvg;
use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

/// Parses one input line into its five fields.
fn parse(line: &str) -> Result<[u64; 5], String> {
    let mut fields = [0u64; 5];
    let mut words = line.split_ascii_whitespace();
    for (i, name) in ["now_ns", "load", "runnable", "running", "weight"]
        .iter()
        .enumerate()
    {
        let word = words
            .next()
            .ok_or_else(|| format!("missing field {} ({name}); expected 5 fields", i + 1))?;
        if !word.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "field {} ({name}) is not an unsigned decimal: {word:?}",
                i + 1
            ));
        }
        fields[i] = word
            .parse()
            .map_err(|e| format!("field {} ({name}) {word:?}: {e}", i + 1))?;
    }
    if let Some(extra) = words.next() {
        return Err(format!(
            "unexpected sixth field {extra:?}; expected 5 fields"
        ));
    }
    Ok(fields)
}

fn run() -> Result<(), String> {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut sa = SchedAvg::new();
    for (idx, line) in stdin.lock().lines().enumerate() {
        let lineno = idx + 1;
        let line = line.map_err(|e| format!("line {lineno}: cannot read input: {e}"))?;
        let [now, load, runnable, running, weight] = match parse(&line) {
            Ok(f) => f,
            Err(e) => {
                let _ = out.flush();
                return Err(format!("line {lineno}: {e}"));
            }
        };
        sa.update(now, load, runnable, running != 0, weight);
        writeln!(
            out,
            "{} {} {} {} {} {} {} {}",
            sa.last_update_time,
            sa.load_sum,
            sa.runnable_sum,
            sa.util_sum,
            sa.period_contrib,
            sa.load_avg,
            sa.runnable_avg,
            sa.util_avg
        )
        .map_err(|e| format!("cannot write output: {e}"))?;
    }
    out.flush().map_err(|e| format!("cannot write output: {e}"))
}

fn main() -> ExitCode {
    if let Some(arg) = std::env::args().nth(1) {
        if arg == "-h" || arg == "--help" {
            println!(
                "usage: pelt-trace < TRACE\n\n\
                 Reads `<now_ns> <load> <runnable> <running> <weight>` lines and prints, after each,\n\
                 `<last_update_time> <load_sum> <runnable_sum> <util_sum> <period_contrib> \
                 <load_avg> <runnable_avg> <util_avg>`."
            );
            return ExitCode::SUCCESS;
        }
        eprintln!("pelt-trace: takes no arguments (input on stdin); see --help");
        return ExitCode::from(2);
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pelt-trace: {e}");
            ExitCode::FAILURE
        }
    }
}
