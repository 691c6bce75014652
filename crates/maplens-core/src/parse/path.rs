//! The pathname column: raw bytes, the ` (deleted)` flag, `\012` decoding
//! and the typed kinds of names the kernel prints.
//!
//! The kernel prints file names with `seq_file_path(m, file, "\n")`, which
//! escapes only the newline, as the four bytes `\012`. A backslash is not
//! escaped, so a name that really contains `\012` cannot be told apart; we
//! keep the raw form next to the decoded one so nothing is lost. When the file
//! has been unlinked, `d_path()` appends ` (deleted)`.

use std::borrow::Cow;

const DELETED: &[u8] = b" (deleted)";
const NL_ESCAPE: &[u8] = b"\\012";

/// What a trailing ` (deleted)` means. The kernel appends it to the name of
/// an unlinked file, but a file may also be named so: only the file system
/// can tell (see [`crate::source`], which checks a live process's files and
/// records the answer in a capture bundle).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum DeletedSuffix {
    /// Not checked (a saved text): taken as the kernel's mark, but it may
    /// be part of the name.
    #[default]
    Unchecked,
    /// Checked: no file of that whole name has this inode; the kernel's mark.
    Kernel,
    /// Checked: the file's name ends in ` (deleted)`; it is not deleted.
    Name,
}

/// The name column of a region, exactly as the kernel printed it.
///
/// ```
/// use maplens_core::parse::{DeletedSuffix, Pathname, PathKind};
/// let p = Pathname::new(b"/tmp/new\\012line.bin (deleted)");
/// assert!(p.deleted());
/// assert!(p.deleted_unchecked());
/// assert_eq!(p.name_raw(), b"/tmp/new\\012line.bin");
/// assert_eq!(&*p.decoded(), b"/tmp/new\nline.bin");
/// assert_eq!(p.kind(), PathKind::File);
/// // A file really named `x (deleted)`:
/// let q = Pathname::new(b"/tmp/x (deleted)").with_suffix(DeletedSuffix::Name);
/// assert!(!q.deleted());
/// assert_eq!(&*q.decoded(), b"/tmp/x (deleted)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pathname<'a>(&'a [u8], DeletedSuffix);

impl<'a> Pathname<'a> {
    /// Wraps the raw bytes after the padding (a ` (deleted)` suffix
    /// unchecked).
    pub const fn new(raw: &'a [u8]) -> Self {
        Pathname(raw, DeletedSuffix::Unchecked)
    }

    /// The same name with what its ` (deleted)` suffix is known to mean.
    pub const fn with_suffix(self, suffix: DeletedSuffix) -> Self {
        Pathname(self.0, suffix)
    }

    /// What the ` (deleted)` suffix is known to mean (meaningless without
    /// one).
    pub const fn suffix(&self) -> DeletedSuffix {
        self.1
    }

    /// The bytes as printed, including any ` (deleted)` suffix and escapes.
    pub const fn raw(&self) -> &'a [u8] {
        self.0
    }

    /// No name: an unnamed anonymous mapping.
    pub const fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Ends in ` (deleted)` after a name, whatever it means.
    pub fn has_deleted_suffix(&self) -> bool {
        self.0.ends_with(DELETED) && self.0.len() > DELETED.len()
    }

    /// The kernel appended ` (deleted)`: the file was unlinked (or, for
    /// shared anonymous memory, memfd and SysV shm, never had a name).
    /// False for a file checked to be named so ([`DeletedSuffix::Name`]).
    pub fn deleted(&self) -> bool {
        self.has_deleted_suffix() && self.1 != DeletedSuffix::Name
    }

    /// A file taken as deleted on the kernel's word alone: marked deleted
    /// by the kernel, or a file whose name ends in ` (deleted)` (a saved
    /// text, where the file cannot be checked).
    pub fn deleted_unchecked(&self) -> bool {
        self.has_deleted_suffix()
            && self.1 == DeletedSuffix::Unchecked
            && self.kind() == PathKind::File
    }

    /// The raw name without the ` (deleted)` suffix (still escaped).
    pub fn name_raw(&self) -> &'a [u8] {
        if self.deleted() {
            &self.0[..self.0.len() - DELETED.len()]
        } else {
            self.0
        }
    }

    /// The name without ` (deleted)` and with `\012` turned back into a
    /// newline. Borrows when there is nothing to decode.
    pub fn decoded(&self) -> Cow<'a, [u8]> {
        decode_escapes(self.name_raw())
    }

    /// What kind of name this is.
    pub fn kind(&self) -> PathKind<'a> {
        PathKind::of(self.0)
    }
}

impl std::fmt::Debug for Pathname<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pathname({:?})", String::from_utf8_lossy(self.0))
    }
}

/// Turns every `\012` into `\n`. Borrows when there is none.
///
/// ```
/// use maplens_core::parse::decode_escapes;
/// assert_eq!(&*decode_escapes(b"a\\012b"), b"a\nb");
/// assert_eq!(&*decode_escapes(b"a\\b"), b"a\\b");
/// ```
pub fn decode_escapes(raw: &[u8]) -> Cow<'_, [u8]> {
    // Most names hold no backslash at all (and anonymous regions no name):
    // one byte search settles them, before any substring search is set up.
    if memchr::memchr(b'\\', raw).is_none() || memchr::memmem::find(raw, NL_ESCAPE).is_none() {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = memchr::memmem::find(rest, NL_ESCAPE) {
        out.extend_from_slice(&rest[..i]);
        out.push(b'\n');
        rest = &rest[i + NL_ESCAPE.len()..];
    }
    out.extend_from_slice(rest);
    Cow::Owned(out)
}

/// Escapes a name the way the kernel does (newline → `\012`). The inverse of
/// [`decode_escapes`] for names that do not contain a literal `\012`.
pub fn encode_escapes(name: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'\n', name).is_none() {
        return Cow::Borrowed(name);
    }
    let mut out = Vec::with_capacity(name.len() + 8);
    for &b in name {
        if b == b'\n' {
            out.extend_from_slice(NL_ESCAPE);
        } else {
            out.push(b);
        }
    }
    Cow::Owned(out)
}

/// The kinds of names the kernel prints in the last column.
///
/// Names borrowed from the input are raw bytes (not decoded).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum PathKind<'a> {
    /// No name: anonymous private or shared memory (`mmap(MAP_ANONYMOUS)`,
    /// large `malloc` blocks, thread stacks, arenas, …).
    Anonymous,
    /// A file: begins with `/` and is none of the special files below.
    File,
    /// `[heap]`: the `brk` area.
    Heap,
    /// `[stack]`: the main thread's stack.
    Stack,
    /// `[stack:TID]`: a thread's stack, on kernels 3.4 to 4.8.
    ThreadStack(u32),
    /// `[vdso]`: kernel code mapped into every process for fast syscalls.
    Vdso,
    /// `[vvar]`: data the vdso reads (clock, …).
    Vvar,
    /// `[vvar_vclock]`: clock pages of the vdso (kernel 6.13+).
    VvarVclock,
    /// `[vsyscall]`: the legacy fixed-address syscall page (x86_64).
    Vsyscall,
    /// `[vectors]`: the exception vector page (32-bit ARM).
    Vectors,
    /// `[sigpage]`: the signal return trampoline page (32-bit ARM).
    Sigpage,
    /// `[uprobes]`: the uprobes XOL area.
    Uprobes,
    /// `[rollup]`: the pseudo region of `smaps_rollup`.
    Rollup,
    /// `[anon:NAME]`: anonymous memory named with `PR_SET_VMA_ANON_NAME`
    /// (Android, or kernels with `CONFIG_ANON_VMA_NAME`).
    AnonNamed(&'a [u8]),
    /// `[anon_shmem:NAME]`: named shared anonymous memory.
    AnonShmemNamed(&'a [u8]),
    /// `/memfd:NAME (deleted)`: a `memfd_create()` file (name as given).
    Memfd(&'a [u8]),
    /// `/SYSV%08x (deleted)`: System V shared memory with this key.
    SysV(u32),
    /// `/dev/zero (deleted)`: shared anonymous memory
    /// (`MAP_SHARED|MAP_ANONYMOUS`), backed by an unlinked shmem file.
    DevZero,
    /// `/anon_hugepage (deleted)`: anonymous `MAP_HUGETLB` memory.
    AnonHugepage,
    /// `anon_inode:NAME`: a mapping of an anonymous-inode file (DMA-BUF,
    /// perf ring buffers, io_uring, KVM, …).
    AnonInode(&'a [u8]),
    /// Any other `[...]` name.
    OtherSpecial(&'a [u8]),
    /// A name that is none of the above and does not begin with `/`.
    Other,
}

impl<'a> PathKind<'a> {
    /// Classifies a raw name (as in [`Pathname::raw`]).
    ///
    /// ```
    /// use maplens_core::parse::PathKind;
    /// assert_eq!(PathKind::of(b"[stack:885]"), PathKind::ThreadStack(885));
    /// assert_eq!(PathKind::of(b"/SYSV0000abab (deleted)"), PathKind::SysV(0xabab));
    /// assert_eq!(PathKind::of(b"[anon:libc_malloc]"), PathKind::AnonNamed(b"libc_malloc"));
    /// assert_eq!(PathKind::of(b""), PathKind::Anonymous);
    /// ```
    pub fn of(raw: &'a [u8]) -> PathKind<'a> {
        match raw.first() {
            None => PathKind::Anonymous,
            Some(b'[') => Self::bracketed(raw),
            Some(b'/') => Self::slash(raw),
            Some(_) => match raw.strip_prefix(b"anon_inode:") {
                Some(name) => PathKind::AnonInode(name),
                None => PathKind::Other,
            },
        }
    }

    fn bracketed(raw: &'a [u8]) -> PathKind<'a> {
        match raw {
            b"[heap]" => return PathKind::Heap,
            b"[stack]" => return PathKind::Stack,
            b"[vdso]" => return PathKind::Vdso,
            b"[vvar]" => return PathKind::Vvar,
            b"[vvar_vclock]" => return PathKind::VvarVclock,
            b"[vsyscall]" => return PathKind::Vsyscall,
            b"[vectors]" => return PathKind::Vectors,
            b"[sigpage]" => return PathKind::Sigpage,
            b"[uprobes]" => return PathKind::Uprobes,
            b"[rollup]" => return PathKind::Rollup,
            _ => {}
        }
        let Some(inner) = raw.strip_prefix(b"[").and_then(|r| r.strip_suffix(b"]")) else {
            return PathKind::OtherSpecial(raw);
        };
        if let Some(name) = inner.strip_prefix(b"anon:") {
            return PathKind::AnonNamed(name);
        }
        if let Some(name) = inner.strip_prefix(b"anon_shmem:") {
            return PathKind::AnonShmemNamed(name);
        }
        if let Some(tid) = inner.strip_prefix(b"stack:")
            && !tid.is_empty()
            && tid.iter().all(u8::is_ascii_digit)
            && let Some(tid) = std::str::from_utf8(tid).ok().and_then(|s| s.parse().ok())
        {
            return PathKind::ThreadStack(tid);
        }
        PathKind::OtherSpecial(raw)
    }

    fn slash(raw: &'a [u8]) -> PathKind<'a> {
        let Some(name) = raw.strip_suffix(DELETED) else {
            return PathKind::File;
        };
        match name {
            b"/dev/zero" => return PathKind::DevZero,
            b"/anon_hugepage" => return PathKind::AnonHugepage,
            _ => {}
        }
        if let Some(m) = name.strip_prefix(b"/memfd:") {
            return PathKind::Memfd(m);
        }
        if let Some(key) = name.strip_prefix(b"/SYSV")
            && key.len() == 8
            && let Ok(s) = std::str::from_utf8(key)
            && let Ok(k) = u32::from_str_radix(s, 16)
        {
            return PathKind::SysV(k);
        }
        PathKind::File
    }

    /// A short stable identifier for the kind, used in JSON and filters.
    pub const fn tag(&self) -> &'static str {
        match self {
            PathKind::Anonymous => "anonymous",
            PathKind::File => "file",
            PathKind::Heap => "heap",
            PathKind::Stack => "stack",
            PathKind::ThreadStack(_) => "thread-stack",
            PathKind::Vdso => "vdso",
            PathKind::Vvar => "vvar",
            PathKind::VvarVclock => "vvar-vclock",
            PathKind::Vsyscall => "vsyscall",
            PathKind::Vectors => "vectors",
            PathKind::Sigpage => "sigpage",
            PathKind::Uprobes => "uprobes",
            PathKind::Rollup => "rollup",
            PathKind::AnonNamed(_) => "anon-named",
            PathKind::AnonShmemNamed(_) => "anon-shmem-named",
            PathKind::Memfd(_) => "memfd",
            PathKind::SysV(_) => "sysv-shm",
            PathKind::DevZero => "shared-anon",
            PathKind::AnonHugepage => "anon-hugepage",
            PathKind::AnonInode(_) => "anon-inode",
            PathKind::OtherSpecial(_) => "other-special",
            PathKind::Other => "other",
        }
    }

    /// Every tag [`PathKind::tag`] can return, for `--help` and validation.
    pub const ALL_TAGS: &'static [&'static str] = &[
        "anonymous",
        "file",
        "heap",
        "stack",
        "thread-stack",
        "vdso",
        "vvar",
        "vvar-vclock",
        "vsyscall",
        "vectors",
        "sigpage",
        "uprobes",
        "rollup",
        "anon-named",
        "anon-shmem-named",
        "memfd",
        "sysv-shm",
        "shared-anon",
        "anon-hugepage",
        "anon-inode",
        "other-special",
        "other",
    ];

    /// Memory the kernel itself provides (vdso, vvar, vsyscall, vectors,
    /// sigpage, uprobes).
    pub const fn is_kernel_provided(&self) -> bool {
        matches!(
            self,
            PathKind::Vdso
                | PathKind::Vvar
                | PathKind::VvarVclock
                | PathKind::Vsyscall
                | PathKind::Vectors
                | PathKind::Sigpage
                | PathKind::Uprobes
        )
    }
}
