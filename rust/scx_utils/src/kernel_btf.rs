//! Questions about a kernel's (or a BPF object's) BTF: does a kfunc exist, does a struct have a
//! member, what is an enum value. Compat decisions are made from these answers, never from the
//! kernel's version number, because distributions backport features.

use anyhow::{bail, Result};
use libbpf_rs::libbpf_sys;
use std::ffi::{CStr, CString};

const BTF_KIND_STRUCT: u32 = 4;
const BTF_KIND_ENUM: u32 = 6;
const BTF_KIND_FUNC: u32 = 12;
const BTF_KIND_ENUM64: u32 = 19;

/// A member of a BTF struct, as laid out in that BTF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub name: String,
    /// Offset in bytes from the start of the struct.
    pub offset: usize,
    /// Size in bytes, or `None` when BTF could not resolve it.
    pub size: Option<usize>,
    /// True for pointers (struct_ops callbacks are pointers).
    pub is_ptr: bool,
}

/// BTF loaded from the running kernel (`/sys/kernel/btf/vmlinux`) or borrowed from a BPF object.
pub struct KernelBtf {
    ptr: *mut libbpf_sys::btf,
    owned: bool,
}

impl Drop for KernelBtf {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: ptr came from btf__load_vmlinux_btf / btf__parse and is freed once.
            unsafe { libbpf_sys::btf__free(self.ptr) };
        }
    }
}

impl KernelBtf {
    /// Load the running kernel's BTF.
    pub fn load() -> Result<Self> {
        // SAFETY: plain libbpf call; a null return sets errno.
        let ptr = unsafe { libbpf_sys::btf__load_vmlinux_btf() };
        if ptr.is_null() {
            bail!(
                "cannot read the kernel's BTF ({}): a kernel built with CONFIG_DEBUG_INFO_BTF=y \
                 is required",
                std::io::Error::last_os_error()
            );
        }
        Ok(Self { ptr, owned: true })
    }

    /// Load BTF from a file: a vmlinux ELF or raw BTF (for tests and cross-kernel checks).
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let c = CString::new(path.as_os_str().as_encoded_bytes())?;
        // SAFETY: c is a valid C string; a null return sets errno.
        let ptr = unsafe { libbpf_sys::btf__parse(c.as_ptr(), std::ptr::null_mut()) };
        if ptr.is_null() {
            bail!(
                "cannot read BTF from {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            );
        }
        Ok(Self { ptr, owned: true })
    }

    /// Borrow the BTF of an opened BPF object. The object must outlive the returned value.
    pub(crate) fn of_object(obj: &libbpf_rs::OpenObject) -> Result<Self> {
        use libbpf_rs::AsRawLibbpf;
        // SAFETY: the object pointer is valid while `obj` lives.
        let ptr = unsafe { libbpf_sys::bpf_object__btf(obj.as_libbpf_object().as_ptr()) };
        if ptr.is_null() {
            bail!("the BPF object has no BTF: compile it with clang -g");
        }
        Ok(Self { ptr, owned: false })
    }

    fn find(&self, name: &str, kind: u32) -> Option<u32> {
        let c = CString::new(name).ok()?;
        // SAFETY: valid btf and C string.
        let id = unsafe { libbpf_sys::btf__find_by_name_kind(self.ptr, c.as_ptr(), kind) };
        (id > 0).then_some(id as u32)
    }

    fn type_by_id(&self, id: u32) -> &libbpf_sys::btf_type {
        // SAFETY: ids come from this BTF; libbpf returns a pointer into its type section.
        unsafe { &*libbpf_sys::btf__type_by_id(self.ptr, id) }
    }

    fn name_at(&self, off: u32) -> String {
        // SAFETY: offsets come from this BTF's types.
        let p = unsafe { libbpf_sys::btf__name_by_offset(self.ptr, off) };
        if p.is_null() {
            return String::new();
        }
        // SAFETY: libbpf returns a NUL-terminated string inside the BTF string section.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    fn kind(t: &libbpf_sys::btf_type) -> u32 {
        (t.info >> 24) & 0x1f
    }

    /// The type a FUNC, PTR, TYPEDEF or modifier refers to.
    fn referenced(t: &libbpf_sys::btf_type) -> u32 {
        // SAFETY: for these kinds the size/type union holds a type id; both arms are u32.
        unsafe { t.__bindgen_anon_1.type_ }
    }

    fn vlen(t: &libbpf_sys::btf_type) -> usize {
        (t.info & 0xffff) as usize
    }

    /// Does the kernel have a function (kfunc or other BTF-described function) of this name?
    pub fn has_func(&self, name: &str) -> bool {
        self.find(name, BTF_KIND_FUNC).is_some()
    }

    /// Does the kernel have `struct <name>`?
    pub fn has_struct(&self, name: &str) -> bool {
        self.find(name, BTF_KIND_STRUCT).is_some()
    }

    /// Does `struct <st>` have a member called `field`?
    pub fn struct_has_field(&self, st: &str, field: &str) -> bool {
        self.struct_members(st)
            .is_some_and(|members| members.iter().any(|m| m.name == field))
    }

    /// Is kfunc `name` described with the verifier-supplied trailing `struct bpf_prog_aux *`
    /// argument but without the `<name>_impl` twin the verifier then looks for? Kernels whose
    /// BTF was generated that way (Debian's 7.1 and 7.2 builds, for some kfuncs) refuse every
    /// call to such a kfunc.
    pub fn kfunc_uncallable(&self, name: &str) -> bool {
        let Some(id) = self.find(name, BTF_KIND_FUNC) else {
            return false;
        };
        if self.find(&format!("{name}_impl"), BTF_KIND_FUNC).is_some() {
            return false;
        }
        let proto = self.type_by_id(Self::referenced(self.type_by_id(id)));
        let n = Self::vlen(proto);
        if n == 0 {
            return false;
        }
        // SAFETY: a func_proto's params follow its header, vlen of them.
        let last = unsafe {
            let first =
                (proto as *const libbpf_sys::btf_type).add(1) as *const libbpf_sys::btf_param;
            &*first.add(n - 1)
        };
        // SAFETY: valid btf and type id.
        let ptr = unsafe { libbpf_sys::btf__resolve_type(self.ptr, last.type_) };
        if ptr <= 0 || Self::kind(self.type_by_id(ptr as u32)) != 2 {
            return false;
        }
        // SAFETY: valid btf and type id.
        let target = unsafe {
            libbpf_sys::btf__resolve_type(
                self.ptr,
                self.type_by_id(ptr as u32).__bindgen_anon_1.type_,
            )
        };
        target > 0 && self.name_at(self.type_by_id(target as u32).name_off) == "bpf_prog_aux"
    }

    /// Warnings, one per kfunc and ELF section, for the calls in a BPF object (its `.bpf.o`
    /// bytes) that make it fail to load on this kernel: calls not guarded by `bpf_ksym_exists()`
    /// to kfuncs this kernel cannot run (see [`kfunc_uncallable`](Self::kfunc_uncallable)).
    /// Each warning names the kfunc, the section (program) and the fix. Guarded calls load fine
    /// (libbpf leaves the kfunc unresolved, `bpf_ksym_exists()` is false and the verifier drops
    /// the call) and get no warning.
    ///
    /// A call counts as guarded when every path to it passes the non-zero side of a test of the
    /// kfunc's address, which is what `bpf_ksym_exists()` compiles to; the address is followed
    /// through register moves, not through the stack, and each function starts knowing nothing
    /// (so a check made by the caller, or kept in a stack variable, does not count).
    ///
    /// The check needs the ELF because libbpf keeps no relocations once an object is open:
    /// [`prepare_ops`](crate::prepare_ops) gets it from the skeleton (`scx_ops_skel!` embeds
    /// `OUT_DIR/<name>.bpf.o`), [`fit_ops`](Self::fit_ops) takes it as an argument.
    pub fn kfunc_call_warnings(&self, elf: &[u8]) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        for call in kfunc_calls(elf)?.iter().filter(|c| !c.guarded) {
            // The kernel matches "name___flavor" by "name".
            let base = call.kfunc.split("___").next().unwrap_or(&call.kfunc);
            if self.kfunc_uncallable(base) {
                warnings.push(format!(
                    "this kernel cannot run BPF calls to {base} (called unguarded in {}): its BTF \
                     lists the hidden bpf_prog_aux argument but no {base}_impl (BTF made by an \
                     older pahole), so loading will fail; guard the call with \
                     bpf_ksym_exists({}) or use a compat.bpf.h wrapper",
                    call.section, call.kfunc
                ));
            }
        }
        Ok(warnings)
    }

    /// Fit the ops struct in map `ops_map` of an opened object to this kernel, for tools that
    /// load arbitrary objects without a skeleton type (`scx_veristat`); schedulers use
    /// [`prepare_ops`](crate::prepare_ops). Does what `prepare_ops` does, through the object's BTF
    /// offsets: `exit_dump_len` and `hotplug_seq` set, requested flags set, members and flags
    /// this kernel lacks cleared; with the object's ELF (`.bpf.o` bytes) also the
    /// [`kfunc_call_warnings`](Self::kfunc_call_warnings). Returns the warnings.
    pub fn fit_ops(
        &self,
        obj: &mut libbpf_rs::OpenObject,
        ops_map: &str,
        opts: &crate::OpsOptions,
        hotplug_seq: Option<u64>,
        object_elf: Option<&[u8]>,
    ) -> Result<Vec<String>> {
        crate::ops::prepare_ops_for(obj, ops_map, opts, self, hotplug_seq, object_elf)
    }

    pub(crate) fn struct_members(&self, st: &str) -> Option<Vec<Member>> {
        let id = self.find(st, BTF_KIND_STRUCT)?;
        let t = self.type_by_id(id);
        let kflag = t.info >> 31 == 1;
        // SAFETY: a struct's members follow its btf_type header, vlen of them.
        let members = unsafe {
            let first = (t as *const libbpf_sys::btf_type).add(1) as *const libbpf_sys::btf_member;
            std::slice::from_raw_parts(first, Self::vlen(t))
        };
        Some(
            members
                .iter()
                .map(|m| {
                    let bits = if kflag {
                        m.offset & 0xff_ffff
                    } else {
                        m.offset
                    };
                    // SAFETY: valid btf and type id.
                    let size = unsafe { libbpf_sys::btf__resolve_size(self.ptr, m.type_) };
                    // SAFETY: valid btf and type id.
                    let resolved = unsafe { libbpf_sys::btf__resolve_type(self.ptr, m.type_) };
                    let is_ptr = resolved > 0 && Self::kind(self.type_by_id(resolved as u32)) == 2;
                    Member {
                        name: self.name_at(m.name_off),
                        offset: (bits / 8) as usize,
                        size: (size > 0).then_some(size as usize),
                        is_ptr,
                    }
                })
                .collect(),
        )
    }

    /// All values of `enum <name>` (32- or 64-bit), or `None` when the enum does not exist.
    pub fn enum_values(&self, name: &str) -> Option<Vec<(String, u64)>> {
        if let Some(id) = self.find(name, BTF_KIND_ENUM64) {
            let t = self.type_by_id(id);
            // SAFETY: enum64 entries follow the header, vlen of them.
            let vals = unsafe {
                let first =
                    (t as *const libbpf_sys::btf_type).add(1) as *const libbpf_sys::btf_enum64;
                std::slice::from_raw_parts(first, Self::vlen(t))
            };
            return Some(
                vals.iter()
                    .map(|e| {
                        let v = (u64::from(e.val_hi32) << 32) | u64::from(e.val_lo32);
                        (self.name_at(e.name_off), v)
                    })
                    .collect(),
            );
        }
        let id = self.find(name, BTF_KIND_ENUM)?;
        let t = self.type_by_id(id);
        // SAFETY: enum entries follow the header, vlen of them.
        let vals = unsafe {
            let first = (t as *const libbpf_sys::btf_type).add(1) as *const libbpf_sys::btf_enum;
            std::slice::from_raw_parts(first, Self::vlen(t))
        };
        Some(
            vals.iter()
                .map(|e| (self.name_at(e.name_off), u64::from(e.val as u32)))
                .collect(),
        )
    }

    /// The value of `value` in `enum <name>`, if both exist.
    pub fn enum_value(&self, name: &str, value: &str) -> Option<u64> {
        self.enum_values(name)?
            .into_iter()
            .find(|(n, _)| n == value)
            .map(|(_, v)| v)
    }
}

/// A kfunc call site in a BPF object, as its ELF relocations show it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KfuncCall {
    /// The kfunc as the object spells it (flavor suffix included, e.g. `name___v2`).
    pub kfunc: String,
    /// The ELF section holding the call: a program (`struct_ops/...`) or `.text` (subprograms).
    pub section: String,
    /// Whether the call is guarded with `bpf_ksym_exists()` (see `kfunc_calls`).
    pub guarded: bool,
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
fn c_str_at(b: &[u8], at: usize) -> String {
    let s = b.get(at..).unwrap_or_default();
    let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    String::from_utf8_lossy(&s[..end]).into_owned()
}

/// Every kfunc call of a BPF object (the bytes of its `.bpf.o`), one entry per kfunc and
/// section, and whether it is guarded.
///
/// The rule, shared with the C loader (`scx_loader_check_kfuncs()` in `scx/loader.h`): a call to
/// kfunc K is guarded when every path to it passes the non-zero side of a test of K's address.
/// `bpf_ksym_exists(K)` compiles to that address load (an `ld_imm64` with an `R_BPF_64_64`
/// relocation against K) followed by a conditional jump on the register; the call itself is a
/// `call` with an `R_BPF_64_32` relocation against K. libbpf sets the address to 0 when it cannot
/// resolve a weak kfunc, and the verifier then drops the guarded branch, as this analysis
/// assumes; an unguarded call stays reachable and the load fails. The analysis follows the
/// address through register moves but not through the stack, and starts each function (program
/// or subprogram) knowing nothing, so a call whose check was spilled to the stack or made by the
/// calling function counts as unguarded. Sections with several kfunc calls to the same K are
/// one entry, unguarded if any of the calls is.
pub fn kfunc_calls(elf: &[u8]) -> Result<Vec<KfuncCall>> {
    const SHT_SYMTAB: u32 = 2;
    const SHT_REL: u32 = 9;
    const SHF_EXECINSTR: u64 = 4;
    const STT_FUNC: u8 = 2;
    const R_BPF_64_64: u64 = 1;
    const R_BPF_64_32: u64 = 10;

    let bad = || anyhow::anyhow!("not a 64-bit little-endian BPF ELF object (a .bpf.o)");
    if elf.get(..4) != Some(b"\x7fELF") || elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        return Err(bad());
    }
    let shoff = le_u64(elf, 0x28).ok_or_else(bad)? as usize;
    let shentsize = le_u16(elf, 0x3a).ok_or_else(bad)? as usize;
    let shnum = le_u16(elf, 0x3c).ok_or_else(bad)? as usize;
    let shstrndx = le_u16(elf, 0x3e).ok_or_else(bad)? as usize;
    struct Sec {
        name: u32,
        kind: u32,
        flags: u64,
        off: usize,
        size: usize,
        link: usize,
        info: usize,
    }
    let secs = (0..shnum)
        .map(|i| {
            let h = shoff + i * shentsize;
            Some(Sec {
                name: le_u32(elf, h)?,
                kind: le_u32(elf, h + 4)?,
                flags: le_u64(elf, h + 8)?,
                off: le_u64(elf, h + 24)? as usize,
                size: le_u64(elf, h + 32)? as usize,
                link: le_u32(elf, h + 40)? as usize,
                info: le_u32(elf, h + 44)? as usize,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    let shstr = secs.get(shstrndx).ok_or_else(bad)?.off;
    let symtab = secs.iter().find(|s| s.kind == SHT_SYMTAB).ok_or_else(bad)?;
    let strtab = secs.get(symtab.link).ok_or_else(bad)?.off;
    let nsyms = symtab.size / 24;

    let mut calls = std::collections::BTreeMap::<(String, String), bool>::new();
    for (idx, target) in secs.iter().enumerate() {
        if target.flags & SHF_EXECINSTR == 0 || target.size % 8 != 0 {
            continue;
        }
        let code = elf
            .get(target.off..target.off + target.size)
            .ok_or_else(bad)?;
        // Extern (kfunc) relocations of this section by instruction: (kind, kfunc index).
        let mut names: Vec<String> = Vec::new();
        let mut relo = std::collections::HashMap::<usize, (u64, usize)>::new();
        for rel in secs.iter().filter(|s| s.kind == SHT_REL && s.info == idx) {
            for r in (0..rel.size / 16).map(|i| rel.off + i * 16) {
                let offset = le_u64(elf, r).ok_or_else(bad)? as usize;
                let info = le_u64(elf, r + 8).ok_or_else(bad)?;
                let sym = symtab.off + (info >> 32) as usize * 24;
                // Only undefined symbols: kfuncs (and extern variables), not subprograms or maps.
                if le_u16(elf, sym + 6).ok_or_else(bad)? != 0 {
                    continue;
                }
                let name = c_str_at(elf, strtab + le_u32(elf, sym).ok_or_else(bad)? as usize);
                let k = names.iter().position(|n| *n == name).unwrap_or_else(|| {
                    names.push(name);
                    names.len() - 1
                });
                relo.insert(offset / 8, (info & 0xffff_ffff, k));
            }
        }
        if !relo.values().any(|&(kind, _)| kind == R_BPF_64_32) {
            continue;
        }
        // Functions start knowing nothing: the section start and every function symbol in it.
        let mut entries = vec![0];
        for i in 0..nsyms {
            let sym = symtab.off + i * 24;
            let info = *elf.get(sym + 4).ok_or_else(bad)?;
            if info & 0xf == STT_FUNC && le_u16(elf, sym + 6) == Some(idx as u16) {
                entries.push(le_u64(elf, sym + 8).ok_or_else(bad)? as usize / 8);
            }
        }
        let section = c_str_at(elf, shstr + target.name as usize);
        for (k, guarded) in
            guarded_calls(code, &relo, names.len(), &entries, R_BPF_64_64, R_BPF_64_32)
        {
            let e = calls
                .entry((names[k].clone(), section.clone()))
                .or_insert(true);
            *e &= guarded;
        }
    }
    Ok(calls
        .into_iter()
        .map(|((kfunc, section), guarded)| KfuncCall {
            kfunc,
            section,
            guarded,
        })
        .collect())
}

/// What is known before an instruction: the kfuncs whose address was proven non-zero on every
/// path here, and which register holds which kfunc's address.
#[derive(Clone, PartialEq)]
struct Known {
    proven: Vec<bool>,
    regs: [Option<usize>; 11],
}

impl Known {
    /// Keep what both paths know.
    fn meet(&mut self, other: &Known) -> bool {
        let before = self.clone();
        for (a, b) in self.proven.iter_mut().zip(&other.proven) {
            *a &= *b;
        }
        for (a, b) in self.regs.iter_mut().zip(&other.regs) {
            if a != b {
                *a = None;
            }
        }
        *self != before
    }
}

/// The kfunc calls of one section's `code` and whether each is guarded (see [`kfunc_calls`]):
/// a forward must-analysis over the instructions from each function entry.
fn guarded_calls(
    code: &[u8],
    relo: &std::collections::HashMap<usize, (u64, usize)>,
    nkfuncs: usize,
    entries: &[usize],
    r_ld64: u64,
    r_call: u64,
) -> Vec<(usize, bool)> {
    let n = code.len() / 8;
    let mut state: Vec<Option<Known>> = vec![None; n];
    let mut work = Vec::new();
    for &e in entries.iter().filter(|&&e| e < n) {
        state[e] = Some(Known {
            proven: vec![false; nkfuncs],
            regs: [None; 11],
        });
        work.push(e);
    }
    let flow = |state: &mut Vec<Option<Known>>, work: &mut Vec<usize>, to: usize, k: Known| {
        if to >= n {
            return;
        }
        let changed = match &mut state[to] {
            Some(old) => old.meet(&k),
            slot @ None => {
                *slot = Some(k);
                true
            }
        };
        if changed {
            work.push(to);
        }
    };
    while let Some(i) = work.pop() {
        let Some(mut k) = state[i].clone() else {
            continue;
        };
        let insn = &code[i * 8..i * 8 + 8];
        let (op, dst, src) = (insn[0], (insn[1] & 0xf) as usize, (insn[1] >> 4) as usize);
        let off = i16::from_le_bytes([insn[2], insn[3]]) as isize;
        let imm = i32::from_le_bytes([insn[4], insn[5], insn[6], insn[7]]);
        let (dst, src) = (dst.min(10), src.min(10));
        let jump = |by: isize| (i as isize + 1 + by).max(0) as usize;
        match (op & 0x07, op) {
            // ld_imm64: a kfunc's address, or any other constant.
            (0x00, 0x18) => {
                k.regs[dst] = relo.get(&i).filter(|r| r.0 == r_ld64).map(|r| r.1);
                flow(&mut state, &mut work, i + 2, k);
            }
            // exit
            (0x05 | 0x06, 0x95 | 0x96) => {}
            // call (helper, kfunc or subprogram): r0-r5 are clobbered.
            (0x05 | 0x06, 0x85 | 0x86) => {
                k.regs[..6].fill(None);
                flow(&mut state, &mut work, i + 1, k);
            }
            // goto (JMP32's gotol takes its offset from imm)
            (0x05, 0x05) => flow(&mut state, &mut work, jump(off), k),
            (0x06, 0x06) => flow(&mut state, &mut work, jump(imm as isize), k),
            (0x05 | 0x06, _) => {
                let (mut taken, mut fall) = (k.clone(), k);
                // A test of a kfunc address against 0: which side knows it is not 0?
                if op & 0x08 == 0 && imm == 0 {
                    if let Some(kf) = fall.regs[dst] {
                        match op & 0xf0 {
                            0x10 | 0xb0 => fall.proven[kf] = true, // == 0, <= 0 (unsigned)
                            0x50 | 0x20 => taken.proven[kf] = true, // != 0, > 0 (unsigned)
                            _ => {}
                        }
                    }
                }
                flow(&mut state, &mut work, jump(off), taken);
                flow(&mut state, &mut work, i + 1, fall);
            }
            // mov64 dst, src keeps the address; every other ALU op or load replaces dst.
            (0x07, 0xbf) if imm == 0 && off == 0 => {
                k.regs[dst] = k.regs[src];
                flow(&mut state, &mut work, i + 1, k);
            }
            (0x00..=0x01 | 0x04 | 0x07, _) => {
                k.regs[dst] = None;
                flow(&mut state, &mut work, i + 1, k);
            }
            // atomics may write back into src (fetch) and r0 (cmpxchg)
            (0x03, _) => {
                if op & 0xe0 == 0xc0 {
                    k.regs[src] = None;
                    k.regs[0] = None;
                }
                flow(&mut state, &mut work, i + 1, k);
            }
            _ => flow(&mut state, &mut work, i + 1, k),
        }
    }
    relo.iter()
        .filter(|(_, r)| r.0 == r_call)
        .filter(|(&i, _)| i < n && code[i * 8] == 0x85)
        // Unreachable calls cannot fail a load: count them as guarded.
        .map(|(&i, r)| (r.1, state[i].as_ref().is_none_or(|k| k.proven[r.1])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host kernel has BTF but no sched_ext: good enough to test the lookups themselves.
    #[test]
    fn answers_questions_about_the_host_kernel() {
        let btf = KernelBtf::load().expect("the host kernel has BTF");
        assert!(btf.has_struct("task_struct"));
        assert!(btf.struct_has_field("task_struct", "pid"));
        assert!(!btf.struct_has_field("task_struct", "no_such_member"));
        assert!(!btf.has_struct("no_such_struct_anywhere"));
        assert!(btf.has_func("schedule"));
        assert_eq!(btf.enum_value("bpf_map_type", "BPF_MAP_TYPE_HASH"), Some(1));
        assert_eq!(btf.enum_value("bpf_map_type", "NO_SUCH_VALUE"), None);
        let members = btf.struct_members("list_head").unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(members[1].offset, 8);
        assert!(members[0].is_ptr);
    }

    fn insn(op: u8, dst: u8, src: u8, off: i16, imm: i32) -> Vec<u8> {
        let mut v = vec![op, dst | (src << 4)];
        v.extend(off.to_le_bytes());
        v.extend(imm.to_le_bytes());
        v
    }

    /// Run the analysis on hand-written code; `relo` marks (insn, kind, kfunc) with kind 1 for
    /// an address load and 10 for a call. Returns the guarded flag of each call, by insn.
    fn analyse(code: &[Vec<u8>], relo: &[(usize, u64, usize)]) -> Vec<(usize, bool)> {
        let code: Vec<u8> = code.concat();
        let relo = relo.iter().map(|&(i, k, f)| (i, (k, f))).collect();
        let mut got = guarded_calls(&code, &relo, 2, &[0], 1, 10);
        got.sort();
        got
    }

    const LD64: u8 = 0x18;
    const CALL: u8 = 0x85;
    const EXIT: u8 = 0x95;

    #[test]
    fn a_call_behind_a_test_of_its_address_is_guarded() {
        // r1 = &K; if r1 == 0 goto out; call K; out: exit
        let code = [
            insn(LD64, 1, 0, 0, 0),
            insn(0, 0, 0, 0, 0),
            insn(0x15, 1, 0, 1, 0),
            insn(CALL, 0, 1, 0, -1),
            insn(EXIT, 0, 0, 0, 0),
        ];
        assert_eq!(analyse(&code, &[(0, 1, 0), (3, 10, 0)]), vec![(0, true)]);
        // The same with the test inverted (if r1 != 0 goto call) and through a register copy.
        let code = [
            insn(LD64, 1, 0, 0, 0),
            insn(0, 0, 0, 0, 0),
            insn(0xbf, 6, 1, 0, 0),
            insn(0x55, 6, 0, 1, 0),
            insn(EXIT, 0, 0, 0, 0),
            insn(CALL, 0, 1, 0, -1),
            insn(EXIT, 0, 0, 0, 0),
        ];
        assert_eq!(analyse(&code, &[(0, 1, 0), (5, 10, 0)]), vec![(0, true)]);
    }

    #[test]
    fn a_call_some_path_reaches_untested_is_not_guarded() {
        // if r1 == 0 goto call; (the zero side reaches the call)
        let code = [
            insn(LD64, 1, 0, 0, 0),
            insn(0, 0, 0, 0, 0),
            insn(0x55, 1, 0, 1, 0),
            insn(CALL, 0, 1, 0, -1),
            insn(EXIT, 0, 0, 0, 0),
        ];
        assert_eq!(analyse(&code, &[(0, 1, 0), (3, 10, 0)]), vec![(0, false)]);
        // Tested, then a second call after the paths join: that one is not covered.
        let code = [
            insn(LD64, 1, 0, 0, 0),
            insn(0, 0, 0, 0, 0),
            insn(0x15, 1, 0, 1, 0),
            insn(CALL, 0, 1, 0, -1),
            insn(CALL, 0, 1, 0, -1),
            insn(EXIT, 0, 0, 0, 0),
        ];
        assert_eq!(
            analyse(&code, &[(0, 1, 0), (3, 10, 0), (4, 10, 0)]),
            vec![(0, false), (0, true)]
        );
        // The register was overwritten (here by a helper call) before the test: no proof.
        let code = [
            insn(LD64, 1, 0, 0, 0),
            insn(0, 0, 0, 0, 0),
            insn(CALL, 0, 0, 0, 5),
            insn(0x15, 1, 0, 1, 0),
            insn(CALL, 0, 1, 0, -1),
            insn(EXIT, 0, 0, 0, 0),
        ];
        assert_eq!(analyse(&code, &[(0, 1, 0), (4, 10, 0)]), vec![(0, false)]);
        // Testing kfunc 1 proves nothing about kfunc 0.
        let code = [
            insn(LD64, 1, 0, 0, 0),
            insn(0, 0, 0, 0, 0),
            insn(0x15, 1, 0, 1, 0),
            insn(CALL, 0, 1, 0, -1),
            insn(EXIT, 0, 0, 0, 0),
        ];
        assert_eq!(analyse(&code, &[(0, 1, 1), (3, 10, 0)]), vec![(0, false)]);
    }

    /// Anything but a BPF ELF object is refused with a message that says what was expected.
    #[test]
    fn kfunc_calls_refuses_what_is_not_an_object() {
        let err = kfunc_calls(b"not an ELF file").unwrap_err();
        assert!(err.to_string().contains(".bpf.o"), "{err}");
        let mut truncated = b"\x7fELF\x02\x01\x01".to_vec();
        truncated.resize(70, 0);
        assert!(kfunc_calls(&truncated).is_err());
    }
}
