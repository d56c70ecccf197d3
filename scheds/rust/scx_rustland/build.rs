// The BPF half ships inside scx_rustland_core: write it into OUT_DIR, compile it and generate
// its skeleton (OUT_DIR/bpf_skel.rs) here, in this crate.
fn main() -> anyhow::Result<()> {
    scx_rustland_core::RustLandBuilder::new()?.build()
}
