// scx_rustland_core ships the BPF half: write it into OUT_DIR, compile it and generate its
// skeleton (OUT_DIR/bpf_skel.rs) in this crate.
fn main() -> anyhow::Result<()> {
    scx_rustland_core::RustLandBuilder::new()?.build()
}
