//! The `VmFlags:` line of smaps: two-letter codes, one per `vm_flags` bit.
//!
//! The table is every mnemonic the kernel's `show_smap_vma_flags()` has
//! printed from 3.8 to 6.18. Codes we do not know are kept, not dropped.

/// A known `VmFlags` code: its mnemonic and what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlagInfo {
    /// The two letters the kernel prints.
    pub code: &'static str,
    /// The kernel flag name.
    pub flag: &'static str,
    /// Plain words.
    pub meaning: &'static str,
}

macro_rules! flags {
    ($($code:literal $flag:literal $meaning:literal),* $(,)?) => {
        /// Every known code, in the kernel's bit order where it has one.
        pub const KNOWN_FLAGS: &[FlagInfo] = &[
            $(FlagInfo { code: $code, flag: $flag, meaning: $meaning }),*
        ];
    };
}

flags! {
    "rd" "VM_READ" "readable",
    "wr" "VM_WRITE" "writable",
    "ex" "VM_EXEC" "executable",
    "sh" "VM_SHARED" "shared",
    "mr" "VM_MAYREAD" "may become readable",
    "mw" "VM_MAYWRITE" "may become writable",
    "me" "VM_MAYEXEC" "may become executable",
    "ms" "VM_MAYSHARE" "may share",
    "gd" "VM_GROWSDOWN" "stack segment grows down",
    "pf" "VM_PFNMAP" "pure PFN range (device memory, no struct page)",
    "dw" "VM_DENYWRITE" "writes to the mapped file are denied",
    "lo" "VM_LOCKED" "pages are locked in memory (mlock)",
    "io" "VM_IO" "memory-mapped I/O area",
    "sr" "VM_SEQ_READ" "sequential read advised (MADV_SEQUENTIAL)",
    "rr" "VM_RAND_READ" "random read advised (MADV_RANDOM)",
    "dc" "VM_DONTCOPY" "not copied on fork (MADV_DONTFORK)",
    "de" "VM_DONTEXPAND" "cannot be expanded by mremap",
    "ac" "VM_ACCOUNT" "counted against the commit limit",
    "nr" "VM_NORESERVE" "no swap space reserved (MAP_NORESERVE)",
    "ht" "VM_HUGETLB" "hugetlbfs pages",
    "sf" "VM_SYNC" "synchronous page faults (MAP_SYNC, DAX)",
    "nl" "VM_NONLINEAR" "non-linear mapping (remap_file_pages, removed in 4.0)",
    "ar" "VM_ARCH_1" "architecture-specific flag",
    "wf" "VM_WIPEONFORK" "wiped in the child on fork (MADV_WIPEONFORK)",
    "dd" "VM_DONTDUMP" "not included in core dumps",
    "sd" "VM_SOFTDIRTY" "soft-dirty (written since last clear_refs)",
    "mm" "VM_MIXEDMAP" "mixed map (struct pages and raw PFNs)",
    "hg" "VM_HUGEPAGE" "huge pages advised (MADV_HUGEPAGE)",
    "nh" "VM_NOHUGEPAGE" "no huge pages (MADV_NOHUGEPAGE)",
    "mg" "VM_MERGEABLE" "KSM may merge its pages (MADV_MERGEABLE)",
    "um" "VM_UFFD_MISSING" "userfaultfd tracks missing pages",
    "uw" "VM_UFFD_WP" "userfaultfd write-protect tracking",
    "mp" "VM_MPX" "Intel MPX bounds tables (removed in 5.6)",
    "bt" "VM_ARM64_BTI" "ARM64 branch target identification",
    "mt" "VM_MTE" "ARM64 memory tagging enabled",
    "ui" "VM_UFFD_MINOR" "userfaultfd minor fault tracking",
    "ss" "VM_SHADOW_STACK" "shadow stack",
    "sl" "VM_SEALED" "sealed (mseal)",
    "lf" "VM_LOCKONFAULT" "locked on fault (mlock2 MLOCK_ONFAULT)",
    "dp" "VM_DROPPABLE" "droppable under memory pressure",
}

/// Finds the index of a known code.
#[inline]
pub fn flag_index(code: &[u8]) -> Option<usize> {
    if code.len() != 2 {
        return None;
    }
    KNOWN_FLAGS.iter().position(|f| f.code.as_bytes() == code)
}

/// Parsed `VmFlags:` value: a bitset of known codes plus the raw text, from
/// which unknown codes can be listed.
///
/// ```
/// use maplens_core::parse::VmFlags;
/// let f = VmFlags::parse(b"rd wr mr mw me ac zz ");
/// assert!(f.has("rd") && f.has("ac") && !f.has("ex"));
/// assert_eq!(f.unknown().collect::<Vec<_>>(), vec![&b"zz"[..]]);
/// assert_eq!(f.codes().count(), 7);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct VmFlags<'a> {
    known: u64,
    unknown: bool,
    raw: &'a [u8],
}

impl<'a> VmFlags<'a> {
    /// Parses the text after `VmFlags:`.
    pub fn parse(raw: &'a [u8]) -> Self {
        let mut known = 0u64;
        let mut unknown = false;
        // The kernel prints each code as `"%c%c "`: read such triplets of
        // two lowercase letters and a space by table, and whatever is left
        // (the last code, odd spacing) by splitting.
        let mut i = 0;
        while let Some(&[a, b, b' ']) = raw.get(i..i + 3)
            && a.is_ascii_lowercase()
            && b.is_ascii_lowercase()
        {
            match CODE_INDEX[usize::from(a - b'a') * 26 + usize::from(b - b'a')] {
                0xff => unknown = true,
                x => known |= 1 << x,
            }
            i += 3;
        }
        for code in raw[i..]
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|c| !c.is_empty())
        {
            match fast_index(code) {
                Some(i) => known |= 1 << i,
                None => unknown = true,
            }
        }
        VmFlags {
            known,
            unknown,
            raw,
        }
    }

    /// Rebuilds a parse from its parts ([`VmFlags::known_bits`],
    /// [`VmFlags::has_unknown`] and [`VmFlags::raw`] of an earlier parse of
    /// `raw`), so that a stored text need not be parsed again.
    pub(crate) const fn from_parts(known: u64, unknown: bool, raw: &'a [u8]) -> Self {
        VmFlags {
            known,
            unknown,
            raw,
        }
    }

    /// True when some code is not in [`KNOWN_FLAGS`].
    pub const fn has_unknown(&self) -> bool {
        self.unknown
    }

    /// True when the known code `code` is set.
    pub fn has(&self, code: &str) -> bool {
        flag_index(code.as_bytes()).is_some_and(|i| self.known & (1 << i) != 0)
    }

    /// Bitset of known flags, bit `i` for `KNOWN_FLAGS[i]`.
    pub const fn known_bits(&self) -> u64 {
        self.known
    }

    /// The raw text after `VmFlags:`.
    pub const fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Every code in the order printed.
    pub fn codes(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.raw
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|c| !c.is_empty())
    }

    /// Codes not in [`KNOWN_FLAGS`].
    pub fn unknown(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let any = self.unknown;
        self.codes().filter(move |c| any && fast_index(c).is_none())
    }
}

/// `CODE_INDEX[(a - 'a') * 26 + (b - 'a')]` is the index in
/// [`KNOWN_FLAGS`] of the code `ab`, or `0xff`.
static CODE_INDEX: [u8; 26 * 26] = {
    let mut t = [0xffu8; 26 * 26];
    let mut i = 0;
    while i < KNOWN_FLAGS.len() {
        let c = KNOWN_FLAGS[i].code.as_bytes();
        assert!(c.len() == 2 && c[0].is_ascii_lowercase() && c[1].is_ascii_lowercase());
        t[(c[0] - b'a') as usize * 26 + (c[1] - b'a') as usize] = i as u8;
        i += 1;
    }
    t
};

#[inline(always)]
fn fast_index(code: &[u8]) -> Option<usize> {
    if code.len() != 2 {
        return None;
    }
    let k = u16::from_be_bytes([code[0], code[1]]);
    macro_rules! m {
        ($($s:literal => $i:literal),*) => {
            match &k.to_be_bytes() {
                $($s => Some($i),)*
                _ => None,
            }
        };
    }
    m!(b"rd" => 0, b"wr" => 1, b"ex" => 2, b"sh" => 3, b"mr" => 4, b"mw" => 5, b"me" => 6,
       b"ms" => 7, b"gd" => 8, b"pf" => 9, b"dw" => 10, b"lo" => 11, b"io" => 12, b"sr" => 13,
       b"rr" => 14, b"dc" => 15, b"de" => 16, b"ac" => 17, b"nr" => 18, b"ht" => 19, b"sf" => 20,
       b"nl" => 21, b"ar" => 22, b"wf" => 23, b"dd" => 24, b"sd" => 25, b"mm" => 26, b"hg" => 27,
       b"nh" => 28, b"mg" => 29, b"um" => 30, b"uw" => 31, b"mp" => 32, b"bt" => 33, b"mt" => 34,
       b"ui" => 35, b"ss" => 36, b"sl" => 37, b"lf" => 38, b"dp" => 39)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_index_agrees_with_table() {
        for (i, f) in KNOWN_FLAGS.iter().enumerate() {
            assert_eq!(fast_index(f.code.as_bytes()), Some(i), "{}", f.code);
            assert_eq!(flag_index(f.code.as_bytes()), Some(i));
        }
        assert_eq!(KNOWN_FLAGS.len(), 40);
    }

    /// The triplet reader and the split give the same flags, whatever the
    /// spacing.
    #[test]
    fn parse_agrees_with_split() {
        let split = |raw: &[u8]| {
            let mut known = 0u64;
            let mut unknown = false;
            for c in raw
                .split(|&b| b == b' ' || b == b'\t')
                .filter(|c| !c.is_empty())
            {
                match fast_index(c) {
                    Some(i) => known |= 1 << i,
                    None => unknown = true,
                }
            }
            (known, unknown)
        };
        for raw in [
            &b"rd wr mr mw me ac "[..],
            b"rd wr mr mw me ac",
            b"rd  wr\tex zz mr",
            b"rd wr zz ",
            b"r d wr",
            b"RD wr ",
            b"rdx wr ",
            b"",
            b" ",
            b"dp lf sl ss ui mt bt mp uw um mg nh hg mm sd dd wf ar nl sf ht nr ac de dc rr sr io lo dw pf gd ms me mw mr sh ex wr rd ",
        ] {
            let v = VmFlags::parse(raw);
            assert_eq!((v.known, v.unknown), split(raw), "{raw:?}");
        }
    }
}
