fn main() -> anyhow::Result<()> {
    scx_utils::BpfBuilder::new()?
        .include_dir(scx_pelt::BPF_INCLUDE_DIR)
        .enable_intf("src/bpf/intf.h", "bpf_intf.rs")
        .enable_skel("src/bpf/main.bpf.c", "bpf")
        .build()
}
