//! The program headers of the ELF objects a process has mapped, tied to
//! their mappings: read from the files for a live process, from a bundle's
//! record for a captured one ([`crate::source::elf`]).

use crate::parse::elf::ElfHeaders;

use super::Region;

/// The headers of one mapped ELF object and where it is mapped.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ElfObject {
    /// First address of the region that maps the ELF header (the object's
    /// lowest mapping).
    pub start: u64,
    /// Inode of the mapped file, as in maps.
    pub inode: u64,
    /// File offset of the ELF header: 0, or where a library stored inside
    /// an APK or zip begins.
    pub offset: u64,
    /// The program headers.
    pub headers: ElfHeaders,
}

impl ElfObject {
    /// True when `r` is the region this object's header was read from.
    pub fn is_at(&self, r: &Region) -> bool {
        r.start == self.start && r.inode == self.inode && r.offset == self.offset
    }
}

/// The object whose header region is `r`, in `objects` sorted by `start`.
pub fn elf_at<'a>(objects: &'a [ElfObject], r: &Region) -> Option<&'a ElfObject> {
    let i = objects.partition_point(|o| o.start < r.start);
    objects.get(i).filter(|o| o.is_at(r))
}
