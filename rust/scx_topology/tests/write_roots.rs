//! `SCX_TOPO_WRITE_ROOTS=<dir> cargo test --test write_roots -- --ignored`
//! writes every generated machine's root to `<dir>/<name>` (for inspection,
//! for `scx_topology --sysfs-root` and for timing hwloc by hand).

mod common;

#[test]
#[ignore = "needs SCX_TOPO_WRITE_ROOTS=<dir>; a tool run by hand (see the crate README)"]
fn write_roots() {
    let dir = std::env::var_os("SCX_TOPO_WRITE_ROOTS")
        .filter(|v| !v.is_empty())
        .expect("SCX_TOPO_WRITE_ROOTS=<dir> is not set: nothing to write to");
    for m in common::machines() {
        let p = std::path::Path::new(&dir).join(&m.name);
        std::fs::create_dir_all(&p).unwrap();
        m.write(&p);
        println!("{}", p.display());
    }
}
