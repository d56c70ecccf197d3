//! The consumer side of a BPF_MAP_TYPE_RINGBUF, read through its memory mapping so that one
//! record can be taken at a time without a callback or an allocation.
//!
//! The kernel's layout: page 0 holds the consumer position (written by us); from page 1 on,
//! the producer position page, then the data area mapped twice in a row so that a record that
//! wraps around is still contiguous. Each record starts with an 8-byte header: the length with
//! a "busy" bit (still being written) and a "discard" bit, and a page offset we do not need.

use anyhow::{bail, Result};
use libbpf_rs::MapCore;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

const BUSY_BIT: u32 = 1 << 31;
const DISCARD_BIT: u32 = 1 << 30;
const HDR_SZ: u64 = 8;

/// A shared mapping of a map, unmapped on drop.
pub(crate) struct Mmap {
    ptr: *mut u8,
    len: usize,
}

impl Mmap {
    pub(crate) fn new(
        fd: BorrowedFd<'_>,
        len: usize,
        writable: bool,
        offset: usize,
    ) -> Result<Self> {
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: a fresh shared mapping of a map descriptor; the kernel checks the range.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                offset as libc::off_t,
            )
        };
        if ptr == libc::MAP_FAILED {
            bail!("mmap: {}", std::io::Error::last_os_error());
        }
        Ok(Self {
            ptr: ptr as *mut u8,
            len,
        })
    }

    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: unmapping what new() mapped.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}

pub(crate) struct RingConsumer {
    cons: Mmap,
    prod: Mmap,
    mask: u64,
    page: usize,
}

impl RingConsumer {
    pub(crate) fn new(map: &dyn MapCore) -> Result<Self> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let size = map.max_entries() as usize;
        if !size.is_power_of_two() || size < page {
            bail!("ring buffer size {size} is not a power of two of at least a page");
        }
        let cons = Mmap::new(map.as_fd(), page, true, 0)?;
        let prod = Mmap::new(map.as_fd(), page + 2 * size, false, page)?;
        Ok(Self {
            cons,
            prod,
            mask: size as u64 - 1,
            page,
        })
    }

    fn cons_pos(&self) -> &AtomicU64 {
        // SAFETY: the consumer position is an aligned u64 at the start of its page.
        unsafe { &*(self.cons.ptr() as *const AtomicU64) }
    }

    fn prod_pos(&self) -> &AtomicU64 {
        // SAFETY: the producer position is an aligned u64 at the start of its page.
        unsafe { &*(self.prod.ptr() as *const AtomicU64) }
    }

    pub(crate) fn has_data(&self) -> bool {
        self.cons_pos().load(Ordering::Relaxed) < self.prod_pos().load(Ordering::Acquire)
    }

    /// Copy the next committed record into `out` (records of another size are skipped).
    pub(crate) fn pop<T: Copy>(&mut self, out: &mut T) -> bool {
        loop {
            let cons = self.cons_pos().load(Ordering::Relaxed);
            let prod = self.prod_pos().load(Ordering::Acquire);
            if cons >= prod {
                return false;
            }
            // SAFETY: the header of the record at `cons` lies in the data area (double
            // mapped, so `off + len` never runs past the mapping for len <= size).
            let hdr = unsafe { self.prod.ptr().add(self.page + (cons & self.mask) as usize) };
            let len_word = unsafe { &*(hdr as *const AtomicU32) }.load(Ordering::Acquire);
            if len_word & BUSY_BIT != 0 {
                return false;
            }
            let len = (len_word & !(BUSY_BIT | DISCARD_BIT)) as u64;
            let next = cons + ((len + HDR_SZ + 7) & !7);
            let wanted = len_word & DISCARD_BIT == 0 && len as usize == std::mem::size_of::<T>();
            if wanted {
                // SAFETY: the record holds size_of::<T>() committed bytes after its header.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        hdr.add(HDR_SZ as usize),
                        out as *mut T as *mut u8,
                        len as usize,
                    )
                };
            }
            self.cons_pos().store(next, Ordering::Release);
            if wanted {
                return true;
            }
        }
    }
}
