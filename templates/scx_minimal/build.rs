// Compile src/bpf/main.bpf.c against the headers scx_utils and scx_pelt ship, and generate its
// skeleton (OUT_DIR/bpf_skel.rs) and the bindings of src/bpf/intf.h (OUT_DIR/bpf_intf.rs).
fn main() -> anyhow::Result<()> {
    scx_utils::BpfBuilder::new()?
        .include_dir(scx_pelt::BPF_INCLUDE_DIR)
        .enable_intf("src/bpf/intf.h", "bpf_intf.rs")
        .enable_skel("src/bpf/main.bpf.c", "bpf")
        .build()
}
