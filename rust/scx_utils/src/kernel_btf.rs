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

    /// Names of all functions of this BTF. In an opened BPF object these are its programs and
    /// the kfuncs it calls, as spelled there (flavor suffixes included): libbpf gives the kfunc
    /// declarations global linkage when it opens the object, so they cannot be told apart here.
    pub(crate) fn func_names(&self) -> Vec<String> {
        // SAFETY: valid btf.
        let count = unsafe { libbpf_sys::btf__type_cnt(self.ptr) };
        (1..count)
            .map(|id| (id, self.type_by_id(id)))
            .filter(|(_, t)| Self::kind(t) == BTF_KIND_FUNC)
            .map(|(_, t)| self.name_at(t.name_off))
            .collect()
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
}
