//! Why the kernel ended a scheduler, read from the report the BPF side leaves in the `scx_uei`
//! map (see `bpf/include/scx/user_exit_info.h` for the layout mirrored here).

use anyhow::{anyhow, Context, Result};
use libbpf_rs::{MapCore, MapFlags};

/// Name of the map that `SCX_UEI_DEFINE()` declares on the BPF side.
pub const UEI_MAP_NAME: &str = "scx_uei";

// Offsets into struct scx_uei; checked against the C header by a test.
const OFF_KIND: usize = 0;
const OFF_EXIT_CPU: usize = 4;
const OFF_EXIT_CODE: usize = 8;
const OFF_REASON: usize = 16;
const REASON_LEN: usize = 128;
const OFF_MSG: usize = OFF_REASON + REASON_LEN;
const MSG_LEN: usize = 1024;
const OFF_DUMP_LEN: usize = OFF_MSG + MSG_LEN;
const OFF_DUMP: usize = OFF_DUMP_LEN + 8;
pub(crate) const DUMP_CAPACITY: usize = 32768;
const UEI_SIZE: usize = OFF_DUMP + DUMP_CAPACITY;

/// Bit of the exit code by which the kernel asks user space to attach the scheduler again.
pub const ECODE_ACT_RESTART: u64 = 1 << 48;
/// Reason bit: a CPU came or went.
pub const ECODE_RSN_HOTPLUG: u64 = 1 << 32;

/// `enum scx_exit_kind`: how a scheduler ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// Still running: nothing recorded yet.
    None,
    /// Ended normally.
    Done,
    /// Unregistered from user space (the loader detached).
    Unregistered,
    /// The BPF scheduler ended itself (`scx_bpf_exit`).
    UnregisteredByBpf,
    /// The kernel unregistered it.
    UnregisteredByKernel,
    /// SysRq-S.
    SysRq,
    /// A parent scheduler ended (sub-schedulers).
    Parent,
    /// Killed together with a parent scheduler.
    ParentKill,
    /// A kernel-detected error.
    Error,
    /// The BPF scheduler reported an error (`scx_bpf_error`).
    ErrorBpf,
    /// The watchdog found a runnable task that was not run in time.
    ErrorStall,
    /// A task re-enqueued by the kernel could not be placed (7.3).
    ErrorReenq,
    /// The kernel's rescue path for stuck tasks failed (7.3).
    ErrorRescue,
    /// Other error kinds, by number.
    OtherError(i32),
    /// Other non-error kinds, by number.
    Other(i32),
}

impl ExitKind {
    /// Map the kernel's number.
    pub fn from_raw(kind: i32) -> Self {
        match kind {
            0 => Self::None,
            1 => Self::Done,
            64 => Self::Unregistered,
            65 => Self::UnregisteredByBpf,
            66 => Self::UnregisteredByKernel,
            67 => Self::SysRq,
            68 => Self::Parent,
            69 => Self::ParentKill,
            1024 => Self::Error,
            1025 => Self::ErrorBpf,
            1026 => Self::ErrorStall,
            1027 => Self::ErrorReenq,
            1028 => Self::ErrorRescue,
            k if k >= 1024 => Self::OtherError(k),
            k => Self::Other(k),
        }
    }

    /// Is this an error exit?
    pub fn is_error(self) -> bool {
        matches!(
            self,
            Self::Error
                | Self::ErrorBpf
                | Self::ErrorStall
                | Self::ErrorReenq
                | Self::ErrorRescue
                | Self::OtherError(_)
        )
    }

    /// The kernel's own name for the kind (`SCX_EXIT_ERROR_STALL`), or `SCX_EXIT_<number>` for
    /// kinds this crate does not know.
    pub fn name(self) -> String {
        match self {
            Self::None => "SCX_EXIT_NONE".into(),
            Self::Done => "SCX_EXIT_DONE".into(),
            Self::Unregistered => "SCX_EXIT_UNREG".into(),
            Self::UnregisteredByBpf => "SCX_EXIT_UNREG_BPF".into(),
            Self::UnregisteredByKernel => "SCX_EXIT_UNREG_KERN".into(),
            Self::SysRq => "SCX_EXIT_SYSRQ".into(),
            Self::Parent => "SCX_EXIT_PARENT".into(),
            Self::ParentKill => "SCX_EXIT_PARENT_KILL".into(),
            Self::Error => "SCX_EXIT_ERROR".into(),
            Self::ErrorBpf => "SCX_EXIT_ERROR_BPF".into(),
            Self::ErrorStall => "SCX_EXIT_ERROR_STALL".into(),
            Self::ErrorReenq => "SCX_EXIT_ERROR_REENQ".into(),
            Self::ErrorRescue => "SCX_EXIT_ERROR_RESCUE".into(),
            Self::OtherError(k) | Self::Other(k) => format!("SCX_EXIT_{k}"),
        }
    }

    /// The kernel's number for the kind.
    pub fn raw(self) -> i32 {
        match self {
            Self::None => 0,
            Self::Done => 1,
            Self::Unregistered => 64,
            Self::UnregisteredByBpf => 65,
            Self::UnregisteredByKernel => 66,
            Self::SysRq => 67,
            Self::Parent => 68,
            Self::ParentKill => 69,
            Self::Error => 1024,
            Self::ErrorBpf => 1025,
            Self::ErrorStall => 1026,
            Self::ErrorReenq => 1027,
            Self::ErrorRescue => 1028,
            Self::OtherError(k) | Self::Other(k) => k,
        }
    }

    /// The kind in plain words.
    pub fn describe(self) -> String {
        match self {
            Self::None => "still running".into(),
            Self::Done => "finished".into(),
            Self::Unregistered => "unregistered from user space".into(),
            Self::UnregisteredByBpf => "ended by the BPF scheduler itself".into(),
            Self::UnregisteredByKernel => "unregistered by the kernel".into(),
            Self::SysRq => "disabled by SysRq-S".into(),
            Self::Parent => "ended because its parent scheduler ended".into(),
            Self::ParentKill => "killed together with its parent scheduler".into(),
            Self::Error => "failed: the kernel found an error".into(),
            Self::ErrorBpf => "failed: the BPF scheduler reported an error".into(),
            Self::ErrorStall => {
                "failed: the kernel's watchdog found a runnable task stall (a task was not run in time)"
                    .into()
            }
            Self::ErrorReenq => "failed: a task the kernel re-enqueued could not be placed".into(),
            Self::ErrorRescue => "failed: the kernel's rescue path for stuck tasks failed".into(),
            Self::OtherError(k) => format!("failed (error kind {k})"),
            Self::Other(k) => format!("ended (kind {k})"),
        }
    }
}

/// The exit report.
#[derive(Debug, Clone)]
pub struct ExitInfo {
    /// How it ended.
    pub kind: ExitKind,
    /// The CPU that triggered the exit, -1 when unknown.
    pub exit_cpu: i32,
    /// Exit code: the scheduler's own code in the low 32 bits, reason and action bits above.
    pub exit_code: i64,
    /// The kernel's short reason.
    pub reason: String,
    /// The detailed message (from the kernel or `scx_bpf_error`).
    pub msg: String,
    /// The kernel's debug dump (on errors), possibly empty.
    pub dump: String,
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

impl ExitInfo {
    /// Parse the raw bytes of a `struct scx_uei`.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        if b.len() < UEI_SIZE {
            return Err(anyhow!(
                "exit report is {} bytes, expected {UEI_SIZE}: scx_utils and the BPF headers disagree",
                b.len()
            ));
        }
        let i32_at = |o: usize| i32::from_ne_bytes(b[o..o + 4].try_into().unwrap());
        let dump_len = (u32::from_ne_bytes(b[OFF_DUMP_LEN..OFF_DUMP_LEN + 4].try_into().unwrap())
            as usize)
            .min(DUMP_CAPACITY);
        Ok(Self {
            kind: ExitKind::from_raw(i32_at(OFF_KIND)),
            exit_cpu: i32_at(OFF_EXIT_CPU),
            exit_code: i64::from_ne_bytes(b[OFF_EXIT_CODE..OFF_EXIT_CODE + 8].try_into().unwrap()),
            reason: c_string(&b[OFF_REASON..OFF_REASON + REASON_LEN]),
            msg: c_string(&b[OFF_MSG..OFF_MSG + MSG_LEN]),
            dump: c_string(&b[OFF_DUMP..OFF_DUMP + dump_len]),
        })
    }

    /// Read the report from the `scx_uei` map that `SCX_UEI_DEFINE()` declared (a loaded
    /// skeleton's [`ScxSkel::uei_map`](crate::ScxSkel::uei_map)).
    pub fn read(map: &dyn MapCore) -> Result<Self> {
        let bytes = map
            .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)
            .context("reading the exit report")?
            .ok_or_else(|| anyhow!("the exit report map is empty"))?;
        Self::from_bytes(&bytes)
    }

    /// Has the kernel ended the scheduler? Cheap enough to poll a few times a second.
    pub fn has_exited(map: &dyn MapCore) -> bool {
        Self::read(map).is_ok_and(|e| e.kind != ExitKind::None)
    }

    /// Did the kernel ask for the scheduler to be attached again (e.g. after CPU hotplug)?
    pub fn should_restart(&self) -> bool {
        self.exit_code as u64 & ECODE_ACT_RESTART != 0
    }

    /// Print the report in plain words through `log`: the dump first on errors (it is long), then
    /// the kind, reason and message.
    pub fn report(&self, name: &str) {
        if self.kind == ExitKind::None {
            return;
        }
        if self.kind.is_error() && !self.dump.is_empty() {
            log::error!("{name}: debug dump from the kernel:\n{}", self.dump);
        }
        let line = format!(
            "{name}: scheduler {} (kind {} = {}, exit code {:#x})",
            self.kind.describe(),
            self.kind.name(),
            self.kind.raw(),
            self.exit_code
        );
        if self.kind.is_error() {
            log::error!("{line}");
        } else {
            log::info!("{line}");
        }
        if !self.reason.is_empty() {
            log::info!("{name}: reason: {}", self.reason);
        }
        if !self.msg.is_empty() {
            log::info!("{name}: message: {}", self.msg);
        }
        if self.should_restart() {
            let why = if self.exit_code as u64 & ECODE_RSN_HOTPLUG != 0 {
                " (CPU hotplug)"
            } else {
                ""
            };
            log::info!("{name}: the kernel asked for a restart{why}; attaching again");
        }
    }

    /// The process exit status this report calls for: 0 for an orderly end or a restart, 1 for an
    /// error, else the scheduler's own exit code (low 32 bits, truncated to a status byte).
    pub fn exit_status(&self) -> i32 {
        if self.kind.is_error() {
            1
        } else if self.should_restart() {
            0
        } else {
            (self.exit_code as u32 & 0xff) as i32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(kind: i32, code: i64, reason: &str, msg: &str, dump: &str) -> Vec<u8> {
        let mut b = vec![0u8; UEI_SIZE];
        b[OFF_KIND..OFF_KIND + 4].copy_from_slice(&kind.to_ne_bytes());
        b[OFF_EXIT_CPU..OFF_EXIT_CPU + 4].copy_from_slice(&3i32.to_ne_bytes());
        b[OFF_EXIT_CODE..OFF_EXIT_CODE + 8].copy_from_slice(&code.to_ne_bytes());
        b[OFF_REASON..OFF_REASON + reason.len()].copy_from_slice(reason.as_bytes());
        b[OFF_MSG..OFF_MSG + msg.len()].copy_from_slice(msg.as_bytes());
        b[OFF_DUMP_LEN..OFF_DUMP_LEN + 4].copy_from_slice(&(dump.len() as u32 + 1).to_ne_bytes());
        b[OFF_DUMP..OFF_DUMP + dump.len()].copy_from_slice(dump.as_bytes());
        b
    }

    #[test]
    fn stall_is_an_error_with_status_1() {
        let e = ExitInfo::from_bytes(&raw(
            1026,
            0,
            "runnable task stall",
            "stallme[42] failed to run",
            "d",
        ))
        .unwrap();
        assert_eq!(e.kind, ExitKind::ErrorStall);
        assert!(e.kind.describe().contains("stall"));
        assert_eq!(e.exit_status(), 1);
        assert_eq!(e.exit_cpu, 3);
        assert_eq!(e.msg, "stallme[42] failed to run");
        assert_eq!(e.dump, "d");
        assert!(!e.should_restart());
    }

    #[test]
    fn kinds_round_trip_with_their_kernel_names() {
        for raw in [
            0, 1, 64, 65, 66, 67, 68, 69, 1024, 1025, 1026, 1027, 1028, 1029, 70,
        ] {
            let k = ExitKind::from_raw(raw);
            assert_eq!(k.raw(), raw);
            assert!(k.name().starts_with("SCX_EXIT_"));
            assert_eq!(k.is_error(), raw >= 1024);
        }
        assert_eq!(ExitKind::from_raw(1026).name(), "SCX_EXIT_ERROR_STALL");
    }

    #[test]
    fn hotplug_restart_is_recognised() {
        let code = (ECODE_ACT_RESTART | ECODE_RSN_HOTPLUG) as i64;
        let e = ExitInfo::from_bytes(&raw(65, code, "", "", "")).unwrap();
        assert!(e.should_restart());
        assert_eq!(e.exit_status(), 0);
    }

    #[test]
    fn user_exit_code_becomes_the_status() {
        let e = ExitInfo::from_bytes(&raw(65, 7, "", "", "")).unwrap();
        assert_eq!(e.kind, ExitKind::UnregisteredByBpf);
        assert_eq!(e.exit_status(), 7);
        let e = ExitInfo::from_bytes(&raw(64, 0, "unregistered from user space", "", "")).unwrap();
        assert_eq!(e.exit_status(), 0);
    }

    #[test]
    fn short_buffer_is_an_error_not_a_panic() {
        assert!(ExitInfo::from_bytes(&[0u8; 16]).is_err());
    }

    /// C loaders report exits from the table in scx/exit_kinds.h: every kind must have the same
    /// name, number and words there as here, and so must kinds neither side knows.
    #[test]
    fn kinds_match_the_c_table() {
        let kinds = [
            0, 1, 64, 65, 66, 67, 68, 69, 1024, 1025, 1026, 1027, 1028, 1029, 70, 2,
        ];
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("kinds.c");
        let list = kinds.map(|k| k.to_string()).join(", ");
        std::fs::write(
            &src,
            format!(
                r#"#include "scx/exit_kinds.h"
int main(void) {{
    int kinds[] = {{{list}}};
    char name[64], words[256];
    for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {{
        scx_exit_kind_describe(kinds[i], name, sizeof(name), words, sizeof(words));
        printf("%d\t%s\t%s\n", kinds[i], name, words);
    }}
    /* Every entry of the table, so one that Rust lacks is caught too. */
    for (unsigned i = 0; i < sizeof(scx_exit_kinds) / sizeof(scx_exit_kinds[0]); i++)
        printf("%d\t%s\t%s\n", scx_exit_kinds[i].kind, scx_exit_kinds[i].name,
               scx_exit_kinds[i].words);
    return 0;
}}"#
            ),
        )
        .unwrap();
        let exe = dir.path().join("kinds");
        let inc = concat!(env!("CARGO_MANIFEST_DIR"), "/bpf/include");
        let st = std::process::Command::new("cc")
            .args(["-Wall", "-Werror", "-I", inc, "-o"])
            .arg(&exe)
            .arg(&src)
            .status()
            .expect("a C compiler (cc) is needed for this test");
        assert!(st.success());
        let out = std::process::Command::new(&exe).output().unwrap();
        let mut lines = 0;
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let f: Vec<&str> = line.split('\t').collect();
            let k = ExitKind::from_raw(f[0].parse().unwrap());
            assert_eq!(
                (f[1], f[2]),
                (k.name().as_str(), k.describe().as_str()),
                "kind {}: C and Rust disagree",
                f[0]
            );
            lines += 1;
        }
        assert_eq!(
            lines,
            kinds.len() + 13,
            "the C table should list the 13 known kinds"
        );
    }

    /// The offsets above must match the C header the BPF side uses.
    #[test]
    fn layout_matches_the_c_header() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("layout.c");
        std::fs::write(
            &src,
            r#"#include <stdio.h>
#include <stddef.h>
#include "scx/user_exit_info.h"
int main(void) {
    printf("%zu %zu %zu %zu %zu %zu %zu %zu\n", offsetof(struct scx_uei, kind),
        offsetof(struct scx_uei, exit_cpu), offsetof(struct scx_uei, exit_code),
        offsetof(struct scx_uei, reason), offsetof(struct scx_uei, msg),
        offsetof(struct scx_uei, dump_len), offsetof(struct scx_uei, dump), sizeof(struct scx_uei));
    return 0;
}"#,
        )
        .unwrap();
        let exe = dir.path().join("layout");
        let inc = concat!(env!("CARGO_MANIFEST_DIR"), "/bpf/include");
        let st = std::process::Command::new("cc")
            .args(["-I", inc, "-o"])
            .arg(&exe)
            .arg(&src)
            .status()
            .expect("a C compiler (cc) is needed for this test");
        assert!(st.success());
        let out = std::process::Command::new(&exe).output().unwrap();
        let got: Vec<usize> = String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(
            got,
            vec![
                OFF_KIND,
                OFF_EXIT_CPU,
                OFF_EXIT_CODE,
                OFF_REASON,
                OFF_MSG,
                OFF_DUMP_LEN,
                OFF_DUMP,
                UEI_SIZE
            ]
        );
    }
}
