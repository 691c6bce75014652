//! Android ART: its heap spaces are named (`[anon:dalvik-…]`, see
//! `names.rs`); its files are the boot image (`.art`: preinitialised
//! objects), compiled code (`.oat`, `.odex`: ELF objects) and verified
//! dex (`.vdex`).

use super::super::{Category, Class, class};
use crate::model::Region;

/// An ART file that is not an ELF object: `.art` images and `.vdex`.
pub(in super::super) fn art_file(r: &Region) -> Option<Class> {
    let name = r.path.view().name_raw();
    if name.ends_with(b".art") {
        return Some(class(
            Category::ManagedHeap,
            "an ART image: preinitialised Java heap objects mapped from a file",
            "art-image",
            "file name ends in .art",
            false,
        ));
    }
    if name.ends_with(b".vdex") {
        return Some(class(
            Category::MappedFile,
            "verified dex code (.vdex) ART runs or compiles",
            "art-vdex",
            "file name ends in .vdex",
            false,
        ));
    }
    None
}
