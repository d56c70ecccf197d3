//! The build.rs side: compile a scheduler's BPF code and generate what its Rust code needs.
//!
//! ```no_run
//! // build.rs of a scheduler crate with `scx_utils = { features = ["build"] }` in
//! // [build-dependencies]:
//! fn main() -> anyhow::Result<()> {
//!     scx_utils::BpfBuilder::new()?
//!         .enable_intf("src/bpf/intf.h", "bpf_intf.rs")
//!         .enable_skel("src/bpf/main.bpf.c", "bpf")
//!         .build()
//! }
//! ```
//! The generated files land in `OUT_DIR`: `bpf_skel.rs` (the libbpf-rs skeleton, from
//! `enable_skel(_, "bpf")`), `bpf.bpf.o` (the object it embeds) and `bpf_intf.rs` (bindgen output
//! for the shared types). A copy of each object also goes to
//! `<target>/<profile>/bpf-objects/<crate>.bpf.o` for tools such as `scx_veristat`. The crate
//! also gets `env!("SCX_GIT_REV")`, the source revision, for its `--version`.

use crate::headers::extract_bpf_headers;
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Oldest clang that compiles sched_ext BPF code reliably (BTF tags, CO-RE, -mcpu=v3).
const MIN_CLANG: u32 = 16;

fn clang_major(clang: &Path) -> Option<u32> {
    let out = Command::new(clang).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let ver = text.split("version ").nth(1)?;
    ver.split('.').next()?.trim().parse().ok()
}

/// Choose the clang for BPF: `$BPF_CLANG` if set (it must be new enough), else the first of
/// `clang`, `clang-22` … `clang-16` on `PATH` whose version is at least 16.
pub fn find_bpf_clang() -> Result<PathBuf> {
    if let Some(c) = std::env::var_os("BPF_CLANG") {
        let c = PathBuf::from(c);
        return match clang_major(&c) {
            Some(v) if v >= MIN_CLANG => Ok(c),
            Some(v) => bail!(
                "BPF_CLANG={} is clang {v}; clang {MIN_CLANG} or newer is needed",
                c.display()
            ),
            None => bail!("BPF_CLANG={} does not run or is not clang", c.display()),
        };
    }
    let mut tried = Vec::new();
    let names = std::iter::once("clang".to_string())
        .chain((MIN_CLANG..=22).rev().map(|v| format!("clang-{v}")));
    for name in names {
        match clang_major(Path::new(&name)) {
            Some(v) if v >= MIN_CLANG => return Ok(PathBuf::from(name)),
            Some(v) => tried.push(format!("{name} ({v})")),
            None => {}
        }
    }
    let found = if tried.is_empty() {
        "none found".to_string()
    } else {
        format!("found only {}", tried.join(", "))
    };
    bail!(
        "no clang >= {MIN_CLANG} for BPF ({found}): install one (Debian 12: `apt-get install clang-19`) \
         or point BPF_CLANG at it"
    )
}

/// `git describe` of the source tree being built, or "unknown" outside a git checkout (e.g. a
/// crate from the registry). Exported to the crate as `env!("SCX_GIT_REV")` by [`BpfBuilder::build`].
fn git_revision() -> String {
    Command::new("git")
        .args(["describe", "--always", "--dirty", "--tags"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Builds a scheduler's BPF side from its build.rs. See the module docs for an example.
pub struct BpfBuilder {
    clang: PathBuf,
    include_dirs: Vec<PathBuf>,
    cflags: Vec<String>,
    out_dir: PathBuf,
    intf: Option<(PathBuf, String)>,
    skels: Vec<(PathBuf, String)>,
}

impl BpfBuilder {
    /// Find clang and unpack the shipped headers into `OUT_DIR`.
    ///
    /// Headers of other crates go on the path with [`include_dir`](Self::include_dir), e.g.
    /// `.include_dir(scx_pelt::BPF_INCLUDE_DIR)` for `#include <scx/pelt.bpf.h>`.
    pub fn new() -> Result<Self> {
        let out_dir = PathBuf::from(
            std::env::var_os("OUT_DIR")
                .ok_or_else(|| anyhow!("OUT_DIR is unset: call BpfBuilder from build.rs"))?,
        );
        let arch = match std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
            Ok("x86_64") | Err(_) => "x86".to_string(),
            Ok("aarch64") => "arm64".to_string(),
            Ok(other) => other.to_string(),
        };
        let [inc, arch_inc] = extract_bpf_headers(&out_dir.join("scx_utils_bpf"), &arch)?;
        Ok(Self {
            clang: find_bpf_clang()?,
            include_dirs: vec![inc, arch_inc],
            cflags: vec![
                "-mcpu=v3".into(),
                "-Wall".into(),
                "-Wno-compare-distinct-pointer-types".into(),
                "-Wno-missing-declarations".into(),
            ],
            out_dir,
            intf: None,
            skels: Vec::new(),
        })
    }

    /// Add a directory to the BPF (and bindgen) include path.
    pub fn include_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.include_dirs.push(dir.into());
        self
    }

    /// Add an extra clang flag for the BPF compile.
    pub fn cflag(mut self, flag: impl Into<String>) -> Self {
        self.cflags.push(flag.into());
        self
    }

    /// Generate Rust types for the header shared by BPF and user space into `OUT_DIR/<out>`.
    pub fn enable_intf(mut self, header: impl Into<PathBuf>, out: &str) -> Self {
        self.intf = Some((header.into(), out.to_string()));
        self
    }

    /// Compile `src` and generate its libbpf-rs skeleton as `OUT_DIR/<name>_skel.rs`.
    pub fn enable_skel(mut self, src: impl Into<PathBuf>, name: &str) -> Self {
        self.skels.push((src.into(), name.to_string()));
        self
    }

    fn include_args(&self) -> Vec<String> {
        self.include_dirs
            .iter()
            .map(|d| format!("-I{}", d.display()))
            .collect()
    }

    /// Copy a compiled object to `<target>/<profile>/bpf-objects/<crate>[_<name>].bpf.o`, a path
    /// that does not change from build to build (`OUT_DIR` carries a hash), for tools that look
    /// at every scheduler's BPF object such as `scx_veristat`. Skipped when `OUT_DIR` is not in
    /// Cargo's usual `<profile>/build/<crate>-<hash>/out` layout.
    fn publish_object(&self, obj: &Path, name: &str) -> Result<()> {
        let Some(profile) = self.out_dir.ancestors().nth(3).filter(|_| {
            self.out_dir.ancestors().nth(2).and_then(Path::file_name) == Some("build".as_ref())
        }) else {
            return Ok(());
        };
        let krate = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "bpf".into());
        let file = if name == "bpf" {
            format!("{krate}.bpf.o")
        } else {
            format!("{krate}_{name}.bpf.o")
        };
        let dir = profile.join("bpf-objects");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::copy(obj, dir.join(&file))
            .with_context(|| format!("copying {} to {}", obj.display(), dir.display()))?;
        Ok(())
    }

    /// Run everything that was enabled, and tell Cargo what to watch.
    pub fn build(self) -> Result<()> {
        if let Some((header, out)) = &self.intf {
            println!("cargo:rerun-if-changed={}", header.display());
            let bindings = bindgen::Builder::default()
                .header(header.to_string_lossy())
                .clang_args(self.include_args())
                .derive_default(true)
                .generate()
                .map_err(|e| anyhow!("bindgen failed on {}: {e}", header.display()))?;
            bindings
                .write_to_file(self.out_dir.join(out))
                .with_context(|| format!("writing {out}"))?;
        }
        for (src, name) in &self.skels {
            println!("cargo:rerun-if-changed={}", src.display());
            if let Some(dir) = src.parent() {
                println!("cargo:rerun-if-changed={}", dir.display());
            }
            let mut args = self.cflags.clone();
            args.extend(self.include_args());
            let obj = self.out_dir.join(format!("{name}.bpf.o"));
            libbpf_cargo::SkeletonBuilder::new()
                .source(src)
                .obj(&obj)
                .clang(&self.clang)
                .clang_args(args)
                .build_and_generate(self.out_dir.join(format!("{name}_skel.rs")))
                .map_err(|e| {
                    anyhow!(
                        "compiling {} with {}: {e:#}",
                        src.display(),
                        self.clang.display()
                    )
                })?;
            self.publish_object(&obj, name)?;
        }
        println!("cargo:rerun-if-env-changed=BPF_CLANG");
        println!("cargo:rustc-env=SCX_GIT_REV={}", git_revision());
        Ok(())
    }
}
