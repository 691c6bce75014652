//! The owned region record.

use std::sync::Arc;

use crate::parse::{
    DeletedSuffix, Dev, Entry, FIELD_COUNT, Field, FieldValue, KnownValues, PathKind, Pathname,
    Perms, SmapsBlock, VmFlags,
};

/// A region's name as the kernel printed it (raw bytes, escapes and the
/// ` (deleted)` suffix included), with decoded views, and what a
/// ` (deleted)` suffix was found to mean ([`DeletedSuffix`]).
#[derive(Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct RegionPath(Box<[u8]>, DeletedSuffix);

impl RegionPath {
    /// From raw bytes (a ` (deleted)` suffix unchecked).
    pub fn new(raw: &[u8]) -> Self {
        RegionPath(raw.into(), DeletedSuffix::Unchecked)
    }
    /// Records what the ` (deleted)` suffix means, once checked.
    pub fn set_suffix(&mut self, suffix: DeletedSuffix) {
        self.1 = suffix;
    }
    /// The borrowed view with all the decoding helpers.
    pub fn view(&self) -> Pathname<'_> {
        Pathname::new(&self.0).with_suffix(self.1)
    }
    /// Raw bytes as printed.
    pub fn raw(&self) -> &[u8] {
        &self.0
    }
    /// The kind of name.
    pub fn kind(&self) -> PathKind<'_> {
        self.view().kind()
    }
    /// True when unnamed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The ` (deleted)` flag.
    pub fn deleted(&self) -> bool {
        self.view().deleted()
    }
    /// Decoded name (no ` (deleted)`, `\012` → newline), lossy UTF-8.
    pub fn display(&self) -> String {
        String::from_utf8_lossy(&self.view().decoded()).into_owned()
    }
    /// Raw name, lossy UTF-8 (keeps `\012` and ` (deleted)`): one line.
    pub fn raw_lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
    /// The last path component of the decoded name (`libc.so.6`).
    pub fn basename(&self) -> String {
        let d = self.view().decoded();
        let b = d.rsplit(|&c| c == b'/').next().unwrap_or(&d);
        String::from_utf8_lossy(b).into_owned()
    }
}

impl std::fmt::Debug for RegionPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

/// The known smaps figures of a region, stored without their zeros: most
/// of a region's 20-odd figures are 0, and 60,000 regions held as
/// [`KnownValues`] (216 bytes each) made a third of maplens's memory. The
/// first [`SparseValues::INLINE`] non-zero values are kept inline (real
/// regions have 3 to 13, most at most 9), so a region's figures are mostly
/// one allocation, and one of more than 128 bytes: glibc keeps smaller
/// freed blocks on fast lists that it later sweeps one by one.
/// Reads like [`KnownValues`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SparseValues {
    /// The fields printed (bit `Field as u32`).
    present: u32,
    /// The fields printed with a value other than 0.
    nonzero: u32,
    /// The values of the `nonzero` fields, in [`Field::ALL`] order: the
    /// first ones here (the rest 0) …
    inline: [u64; SparseValues::INLINE],
    /// … and any beyond those.
    spill: Box<[u64]>,
}

impl SparseValues {
    /// How many non-zero values are kept inline.
    pub const INLINE: usize = 9;

    /// Copies the figures of a parsed block.
    ///
    /// ```
    /// use maplens_core::model::SparseValues;
    /// use maplens_core::parse::{Field, KnownValues};
    /// let mut k = KnownValues::default();
    /// k.set(Field::Size, 1 << 40);
    /// k.set(Field::Rss, 0);
    /// k.set(Field::Swap, 8);
    /// let s = SparseValues::new(&k);
    /// assert_eq!(s.get(Field::Size), Some(1 << 40));
    /// assert_eq!(s.get(Field::Rss), Some(0));
    /// assert_eq!(s.get(Field::Pss), None);
    /// assert_eq!(s.get_or_zero(Field::Swap), 8);
    /// assert_eq!(s.to_known(), k);
    /// assert_eq!(s.iter().collect::<Vec<_>>(), k.iter().collect::<Vec<_>>());
    /// // More non-zero figures than are kept inline.
    /// let mut k = KnownValues::default();
    /// for (i, &f) in Field::ALL.iter().enumerate() {
    ///     k.set(f, i as u64 + 1);
    /// }
    /// let s = SparseValues::new(&k);
    /// assert!(Field::ALL.len() > SparseValues::INLINE);
    /// for (i, &f) in Field::ALL.iter().enumerate() {
    ///     assert_eq!(s.get(f), Some(i as u64 + 1));
    /// }
    /// assert_eq!(s.to_known(), k);
    /// ```
    pub fn new(k: &KnownValues) -> SparseValues {
        let (all, present) = k.raw_parts();
        let mut nonzero = 0u32;
        let mut values = [0u64; FIELD_COUNT];
        let mut n = 0;
        // (An absent field's value is 0.)
        for (i, &v) in all.iter().enumerate() {
            if v != 0 {
                nonzero |= 1 << i;
                values[n] = v;
                n += 1;
            }
        }
        debug_assert_eq!(nonzero & !present, 0);
        let mut inline = [0u64; SparseValues::INLINE];
        let k = n.min(SparseValues::INLINE);
        inline[..k].copy_from_slice(&values[..k]);
        SparseValues {
            present,
            nonzero,
            inline,
            spill: values[k..n].into(),
        }
    }

    /// The value (kB for sizes), or `None` when the kernel did not print it.
    #[inline]
    pub fn get(&self, f: Field) -> Option<u64> {
        self.has(f).then(|| self.get_or_zero(f))
    }

    /// The value, 0 when absent.
    #[inline]
    pub fn get_or_zero(&self, f: Field) -> u64 {
        let bit = 1u32 << f as u32;
        if self.nonzero & bit == 0 {
            return 0;
        }
        let i = (self.nonzero & (bit - 1)).count_ones() as usize;
        match self.inline.get(i) {
            Some(&v) => v,
            None => self.spill[i - SparseValues::INLINE],
        }
    }

    /// True when the field was printed.
    #[inline]
    pub const fn has(&self, f: Field) -> bool {
        self.present & (1 << f as u32) != 0
    }

    /// Present fields with their values, in [`Field::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Field, u64)> + '_ {
        Field::ALL
            .iter()
            .filter_map(move |&f| self.get(f).map(|v| (f, v)))
    }

    /// The figures as a [`KnownValues`].
    pub fn to_known(&self) -> KnownValues {
        let mut k = KnownValues::default();
        for (f, v) in self.iter() {
            k.set(f, v);
        }
        k
    }
}

impl From<&KnownValues> for SparseValues {
    fn from(k: &KnownValues) -> Self {
        SparseValues::new(k)
    }
}

impl std::fmt::Debug for SparseValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (k.key(), v)))
            .finish()
    }
}

/// Owned smaps figures of one region (or of the rollup).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Smaps {
    /// Known numeric fields (kB, or bare numbers for `THPeligible` and
    /// `ProtectionKey`).
    pub known: SparseValues,
    /// `VmFlags` codes as printed, when present, parsed once: see
    /// [`Smaps::vmflags`] and [`Smaps::flags`].
    vmflags: Option<FlagsText>,
    /// Android `Name:` value.
    pub name: Option<Box<[u8]>>,
    /// Fields with keys maplens does not know, in order: `(key, value)`.
    /// Values are kB numbers when the kernel printed `kB`, else text.
    pub extra: Vec<(Box<str>, ExtraValue)>,
}

/// The value of a field maplens does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(untagged))]
pub enum ExtraValue {
    /// `N kB` or a bare number.
    Number(u64),
    /// Text.
    Text(String),
}

/// A `VmFlags` text and its parse. Most regions of a process print one of
/// a few texts, so one copy of each is shared ([`FlagsTexts`]).
#[derive(Clone, Debug, PartialEq, Eq)]
struct FlagsText {
    text: Arc<str>,
    known: u64,
    unknown: bool,
}

impl FlagsText {
    fn new(text: Arc<str>) -> FlagsText {
        let f = VmFlags::parse(text.as_bytes());
        FlagsText {
            known: f.known_bits(),
            unknown: f.has_unknown(),
            text,
        }
    }
}

/// The `VmFlags` texts seen so far while building one snapshot, so that
/// each distinct text is stored and parsed once. Bounded: past
/// [`FlagsTexts::MAX`] distinct texts (only a forged input has that many)
/// each further one is kept on its own.
#[derive(Debug, Default)]
pub(crate) struct FlagsTexts {
    seen: std::collections::HashMap<Box<[u8]>, FlagsText>,
    /// The texts asked for lately: most processes print a handful, and
    /// comparing a few costs less than hashing one.
    recent: Vec<(Box<[u8]>, FlagsText)>,
    /// The slot of `recent` the next new text takes.
    next: usize,
}

impl FlagsTexts {
    const MAX: usize = 4096;

    fn get(&mut self, raw: &[u8]) -> FlagsText {
        const RECENT: usize = 8;
        let raw = raw.trim_ascii();
        if let Some((_, f)) = self.recent.iter().find(|(t, _)| **t == *raw) {
            return f.clone();
        }
        let f = match self.seen.get(raw) {
            Some(f) => f.clone(),
            None => {
                let f = FlagsText::new(String::from_utf8_lossy(raw).into());
                if self.seen.len() < Self::MAX {
                    self.seen.insert(raw.into(), f.clone());
                }
                f
            }
        };
        let entry = (raw.into(), f.clone());
        if self.recent.len() < RECENT {
            self.recent.push(entry);
        } else {
            self.recent[self.next] = entry;
            self.next = (self.next + 1) % RECENT;
        }
        f
    }
}

impl Smaps {
    /// Copies a parsed block.
    pub fn from_block(b: &SmapsBlock<'_>) -> Smaps {
        Smaps::from_block_in(b, &mut FlagsTexts::default())
    }

    /// Copies a parsed block, sharing its `VmFlags` text with the regions
    /// before it that printed the same.
    pub(crate) fn from_block_in(b: &SmapsBlock<'_>, texts: &mut FlagsTexts) -> Smaps {
        let extra = if b.unknown_fields == 0 {
            Vec::new()
        } else {
            b.unknown()
                .map(|f| {
                    let v = match f.value {
                        FieldValue::Kb(n) | FieldValue::Number(n) => ExtraValue::Number(n),
                        FieldValue::Text(t) => {
                            ExtraValue::Text(String::from_utf8_lossy(t).into_owned())
                        }
                    };
                    (String::from_utf8_lossy(f.key).into(), v)
                })
                .collect()
        };
        Smaps {
            known: SparseValues::new(&b.known),
            vmflags: b.vmflags.map(|v| texts.get(v.raw())),
            name: b.name.map(Into::into),
            extra,
        }
    }

    /// A field in kB (0 when absent).
    #[inline]
    pub fn kb(&self, f: Field) -> u64 {
        self.known.get_or_zero(f)
    }

    /// The `VmFlags` codes as printed (trimmed), when present.
    pub fn vmflags(&self) -> Option<&str> {
        self.vmflags.as_ref().map(|f| &*f.text)
    }

    /// The parsed `VmFlags` (parsed once, when the region was read).
    ///
    /// ```
    /// use maplens_core::model::Snapshot;
    /// use maplens_core::parse::Mode;
    /// let text = b"00400000-00401000 r-xp 00000000 08:01 7 /bin/x\nVmFlags: rd ex mr zz \n";
    /// let s = Snapshot::from_text("smaps", text, Mode::Strict).unwrap();
    /// let m = s.regions[0].smaps.as_deref().unwrap();
    /// assert_eq!(m.vmflags(), Some("rd ex mr zz"));
    /// let f = m.flags().unwrap();
    /// assert!(f.has("ex") && !f.has("wr"));
    /// assert_eq!(f.unknown().collect::<Vec<_>>(), [b"zz"]);
    /// ```
    pub fn flags(&self) -> Option<VmFlags<'_>> {
        self.vmflags
            .as_ref()
            .map(|f| VmFlags::from_parts(f.known, f.unknown, f.text.as_bytes()))
    }

    /// USS: `Private_Clean + Private_Dirty` (kB).
    pub fn uss(&self) -> u64 {
        self.kb(Field::PrivateClean) + self.kb(Field::PrivateDirty)
    }
}

/// One region of a process's address space, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Permissions.
    pub perms: Perms,
    /// File offset (see [`crate::parse::Header::offset`]).
    pub offset: u64,
    /// Device.
    pub dev: Dev,
    /// Inode (0: none).
    pub inode: u64,
    /// Name as printed.
    pub path: RegionPath,
    /// 1-based line of the header in the text it was read from.
    pub line: u32,
    /// smaps figures, when read from smaps.
    pub smaps: Option<Box<Smaps>>,
}

impl Region {
    /// Copies a parsed entry.
    pub fn from_entry(e: &Entry<'_>) -> Region {
        Region::from_entry_in(e, &mut FlagsTexts::default())
    }

    /// Copies a parsed entry, sharing its `VmFlags` text with the regions
    /// before it ([`FlagsTexts`]).
    pub(crate) fn from_entry_in(e: &Entry<'_>, texts: &mut FlagsTexts) -> Region {
        let h = &e.header;
        Region {
            start: h.start,
            end: h.end,
            perms: h.perms,
            offset: h.offset,
            dev: h.dev,
            inode: h.inode,
            path: RegionPath::new(h.path.raw()),
            line: u32::try_from(e.line).unwrap_or(u32::MAX),
            smaps: e
                .smaps
                .as_ref()
                .map(|b| Box::new(Smaps::from_block_in(b, texts))),
        }
    }

    /// Size in bytes.
    #[inline]
    pub const fn size(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// The kind of name.
    pub fn kind(&self) -> PathKind<'_> {
        self.path.kind()
    }

    /// An smaps figure in kB, `None` without smaps or when not printed.
    pub fn kb(&self, f: Field) -> Option<u64> {
        self.smaps.as_ref().and_then(|s| s.known.get(f))
    }

    /// Identity that stays the same while a region grows or gets touched:
    /// start address, file identity and offset. Used to match regions across
    /// snapshots.
    pub fn identity(&self) -> (u64, Dev, u64, u64) {
        (self.start, self.dev, self.inode, self.offset)
    }
}
