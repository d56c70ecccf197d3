//! `SCX_TOPO_WRITE_ROOTS=<dir> cargo test --test write_roots -- --ignored`
//! writes every generated machine's root to `<dir>/<name>` (for inspection,
//! for `scx_topology --sysfs-root` and for timing hwloc by hand).

mod common;

#[test]
#[ignore]
fn write_roots() {
    let Some(dir) = std::env::var_os("SCX_TOPO_WRITE_ROOTS") else {
        println!("SCX_TOPO_WRITE_ROOTS not set; nothing written");
        return;
    };
    for m in common::machines() {
        let p = std::path::Path::new(&dir).join(&m.name);
        std::fs::create_dir_all(&p).unwrap();
        m.write(&p);
        println!("{}", p.display());
    }
}
