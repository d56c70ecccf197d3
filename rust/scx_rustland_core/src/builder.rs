//! The build.rs side: compile the shipped BPF program into the scheduler's crate.

use anyhow::{anyhow, Context, Result};
use std::path::PathBuf;

/// Writes the BPF program this crate ships into `OUT_DIR/scx_rustland_core/` and builds it with
/// [`scx_utils::BpfBuilder`], so that the skeleton (`OUT_DIR/bpf_skel.rs`, included by
/// [`rustland_skel!`](crate::rustland_skel)) is generated in the scheduler's own crate.
///
/// ```no_run
/// // build.rs
/// fn main() -> anyhow::Result<()> {
///     scx_rustland_core::RustLandBuilder::new()?.build()
/// }
/// ```
pub struct RustLandBuilder {
    inner: scx_utils::BpfBuilder,
    src: PathBuf,
}

impl RustLandBuilder {
    /// Find clang, unpack scx_utils' headers and write this crate's BPF source.
    pub fn new() -> Result<Self> {
        let out = PathBuf::from(
            std::env::var_os("OUT_DIR")
                .ok_or_else(|| anyhow!("OUT_DIR is unset: call RustLandBuilder from build.rs"))?,
        );
        let dir = out.join("scx_rustland_core");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for (name, text) in [
            ("main.bpf.c", crate::BPF_SOURCE),
            ("intf.h", crate::BPF_INTF),
        ] {
            let path = dir.join(name);
            // Rewriting an identical file would make Cargo rebuild every time.
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        Ok(Self {
            inner: scx_utils::BpfBuilder::new()?,
            src: dir.join("main.bpf.c"),
        })
    }

    /// Add an extra clang flag for the BPF compile.
    pub fn cflag(mut self, flag: impl Into<String>) -> Self {
        self.inner = self.inner.cflag(flag);
        self
    }

    /// Compile the program and generate its skeleton as `OUT_DIR/bpf_skel.rs`.
    pub fn build(self) -> Result<()> {
        self.inner.enable_skel(self.src, "bpf").build()
    }
}
