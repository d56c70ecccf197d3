fn main() -> anyhow::Result<()> {
    scx_utils::BpfBuilder::new()?
        .enable_skel("src/bpf/main.bpf.c", "bpf")
        .build()
}
