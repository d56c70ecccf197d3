//! Guest CPU/NUMA topology and the qemu arguments that describe it.

use anyhow::{bail, Context, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub sockets: u32,
    pub cores: u32,
    pub threads: u32,
    pub nodes: u32,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            sockets: 1,
            cores: 2,
            threads: 1,
            nodes: 1,
        }
    }
}

impl std::str::FromStr for Topology {
    type Err = anyhow::Error;

    /// `sockets=S,cores=C,threads=T[,nodes=N]` (missing keys default to 1) or
    /// `cpus=N[,nodes=M]` (one socket with N single-thread cores).
    fn from_str(s: &str) -> Result<Self> {
        let mut t = Topology {
            sockets: 1,
            cores: 1,
            threads: 1,
            nodes: 1,
        };
        let mut cpus = None;
        let mut explicit = false;
        for kv in s.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("topology item '{kv}' is not KEY=VALUE"))?;
            let n: u32 = v
                .trim()
                .parse()
                .with_context(|| format!("topology value '{v}' is not a number"))?;
            if n == 0 {
                bail!("topology value for '{k}' must be at least 1");
            }
            match k.trim() {
                "sockets" => (t.sockets, explicit) = (n, true),
                "cores" => (t.cores, explicit) = (n, true),
                "threads" => (t.threads, explicit) = (n, true),
                "nodes" => t.nodes = n,
                "cpus" => cpus = Some(n),
                other => bail!(
                    "unknown topology key '{other}' (use sockets, cores, threads, nodes or cpus)"
                ),
            }
        }
        if let Some(n) = cpus {
            if explicit {
                bail!("use either cpus=N or sockets/cores/threads, not both");
            }
            t.cores = n;
        }
        let total = t.cpus();
        if total > 64 {
            bail!("{total} CPUs is more than this tool supports under emulation (64)");
        }
        if t.nodes > 1 && t.sockets % t.nodes != 0 && total % t.nodes != 0 {
            bail!(
                "{} nodes cannot split {} sockets / {total} CPUs evenly",
                t.nodes,
                t.sockets
            );
        }
        Ok(t)
    }
}

impl std::fmt::Display for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sockets={},cores={},threads={},nodes={}",
            self.sockets, self.cores, self.threads, self.nodes
        )
    }
}

impl Topology {
    pub fn cpus(&self) -> u32 {
        self.sockets * self.cores * self.threads
    }

    /// qemu arguments for CPUs, memory and NUMA nodes. `memory_mib` is the total.
    pub fn qemu_args(&self, memory_mib: u32) -> Result<Vec<String>> {
        let mut a = vec![
            "-smp".to_string(),
            format!(
                "cpus={},sockets={},cores={},threads={}",
                self.cpus(),
                self.sockets,
                self.cores,
                self.threads
            ),
        ];
        if self.nodes <= 1 {
            a.extend(["-m".to_string(), format!("{memory_mib}M")]);
            return Ok(a);
        }
        let per_node = memory_mib / self.nodes;
        if per_node < 128 {
            bail!(
                "{memory_mib} MiB split over {} nodes leaves less than 128 MiB per node",
                self.nodes
            );
        }
        a.extend(["-m".to_string(), format!("{}M", per_node * self.nodes)]);
        // qemu numbers CPUs socket by socket, so contiguous ranges keep sockets whole
        // whenever the node count divides the socket count.
        let per = self.cpus() / self.nodes;
        for n in 0..self.nodes {
            let (first, last) = (n * per, n * per + per - 1);
            a.extend([
                "-object".to_string(),
                format!("memory-backend-ram,id=m{n},size={per_node}M"),
                "-numa".to_string(),
                format!("node,memdev=m{n},cpus={first}-{last},nodeid={n}"),
            ]);
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_args() {
        let t: Topology = "cpus=4".parse().unwrap();
        assert_eq!(t.cpus(), 4);
        assert_eq!(t.sockets, 1);
        let t: Topology = "sockets=2,cores=2,threads=2,nodes=2".parse().unwrap();
        let a = t.qemu_args(1024).unwrap().join(" ");
        assert!(a.contains("cpus=8,sockets=2,cores=2,threads=2"));
        assert!(a.contains("-m 1024M"));
        assert!(a.contains("memory-backend-ram,id=m1,size=512M"));
        assert!(a.contains("node,memdev=m1,cpus=4-7,nodeid=1"));
        assert!("sockets=3,nodes=2".parse::<Topology>().is_err());
        assert!("cpus=4,cores=2".parse::<Topology>().is_err());
        assert!("bogus=1".parse::<Topology>().is_err());
        assert!("cpus=4,nodes=2".parse::<Topology>().is_ok());
    }
}
