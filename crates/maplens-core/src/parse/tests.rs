//! Unit tests: one per pathname kind and per quirk of the kernel's output.
//!
//! Every line marked "real" is copied byte for byte from a file in
//! `tests/data/fixtures` (named next to it); lines marked "made up" have no
//! real example in the corpus.

use super::*;

fn one(line: &[u8]) -> Header<'_> {
    match parse_header(line) {
        Ok(h) => h,
        Err(e) => panic!("{:?}: {e:?}", String::from_utf8_lossy(line)),
    }
}

fn kind(line: &[u8]) -> PathKind<'_> {
    one(line).path.kind()
}

fn entries(text: &[u8]) -> Vec<Entry<'_>> {
    Parser::new(text).map(|r| r.unwrap()).collect()
}

fn errors(text: &[u8]) -> Vec<(usize, usize, ErrorKind)> {
    Parser::new(text)
        .filter_map(Result::err)
        .map(|e| (e.line, e.column, e.kind))
        .collect()
}

// ---- pathname kinds -------------------------------------------------------

#[test]
fn file() {
    // real: jc__x86_64-linux5-systemd-pid1.maps
    let h = one(b"55a9e753c000-55a9e7570000 r--p 00000000 fd:00 798126                     /usr/lib/systemd/systemd");
    assert_eq!(h.path.raw(), b"/usr/lib/systemd/systemd");
    assert_eq!(h.path.kind(), PathKind::File);
    assert_eq!((h.start, h.end), (0x55a9e753c000, 0x55a9e7570000));
    assert_eq!(h.perms.to_string(), "r--p");
    assert_eq!(
        (h.offset, h.dev, h.inode),
        (
            0,
            Dev {
                major: 0xfd,
                minor: 0
            },
            798126
        )
    );
    assert!(!h.path.deleted());
}

#[test]
fn heap() {
    // real: zteorange__armv7-linux4.1-uclibc-router-pc-sysv-devmem.maps (32-bit, column 49)
    let h = one(b"00031000-0004c000 rw-p 00031000 00:00 0          [heap]");
    assert_eq!(h.path.kind(), PathKind::Heap);
    assert_eq!(h.offset, 0x31000);
    // real: localcap__x86_64-linux6.18-python-oddnames.maps (64-bit, column 73)
    assert_eq!(
        kind(b"55e3fdade000-55e3fdaff000 rw-p 00000000 00:00 0                          [heap]"),
        PathKind::Heap
    );
}

#[test]
fn stack() {
    // real: arc-readonly-fs__android-arc-armv7-adbd-oldkernel.maps (old
    // kernels print vm_pgoff as the offset of anonymous memory)
    let h = one(b"bec72000-bec87000 rw-p befeb000 00:00 0          [stack]");
    assert_eq!(h.path.kind(), PathKind::Stack);
    assert_eq!(h.offset, 0xbefeb000);
}

#[test]
fn thread_stack() {
    // real: innofirmware__armv7-linux4.4-miner-stackTID.maps
    let h = one(b"b0101000-b0900000 rw-p 00000000 00:00 0          [stack:20824]");
    assert_eq!(h.path.kind(), PathKind::ThreadStack(20824));
    assert_eq!(h.path.kind().tag(), "thread-stack");
    // Not a TID: another special name.
    assert_eq!(
        PathKind::of(b"[stack:]"),
        PathKind::OtherSpecial(b"[stack:]")
    );
    assert_eq!(
        PathKind::of(b"[stack:12a]"),
        PathKind::OtherSpecial(b"[stack:12a]")
    );
    assert_eq!(
        PathKind::of(b"[stack:99999999999]"),
        PathKind::OtherSpecial(b"[stack:99999999999]")
    );
}

#[test]
fn kernel_provided_pages() {
    let cases: &[(&[u8], PathKind<'_>)] = &[
        // real: localcap__x86_64-linux6.18-python-oddnames.maps
        (b"7ffe2e37d000-7ffe2e37f000 r-xp 00000000 00:00 0                          [vdso]", PathKind::Vdso),
        // real: localcap__x86_64-linux6.18-python-hugetlb-threads.maps
        (b"7ffe2e379000-7ffe2e37d000 r--p 00000000 00:00 0                          [vvar]", PathKind::Vvar),
        // real: localcap__x86_64-linux6.18-python-oddnames.maps (6.13+)
        (b"7f7cd7d51000-7f7cd7d53000 r--p 00000000 00:00 0                          [vvar_vclock]", PathKind::VvarVclock),
        // real: jc__x86_64-linux5-systemd-pid1.maps (16-digit addresses)
        (b"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]", PathKind::Vsyscall),
        // real: vminfo__armhf-cat.smaps
        (b"ffff0000-ffff1000 r-xp 00000000 00:00 0          [vectors]", PathKind::Vectors),
        // real: vminfo__armhf-cat.smaps
        (b"be9f2000-be9f3000 r-xp 00000000 00:00 0          [sigpage]", PathKind::Sigpage),
        // made up: no capture in the corpus has a uprobes XOL area
        (b"7fffff7fe000-7fffff7ff000 r-xp 00000000 00:00 0                          [uprobes]", PathKind::Uprobes),
    ];
    for (line, want) in cases {
        let k = kind(line);
        assert_eq!(k, *want, "{}", String::from_utf8_lossy(line));
        assert!(k.is_kernel_provided());
    }
    assert!(!PathKind::Heap.is_kernel_provided());
}

#[test]
fn anon_named() {
    // real: aosp-libprocinfo__android-arm64-app.maps (space and parens inside)
    let h = one(b"12c00000-2ac00000 rw-p 00000000 00:05 10267643                           [anon:dalvik-main space (region space)]");
    assert_eq!(
        h.path.kind(),
        PathKind::AnonNamed(b"dalvik-main space (region space)")
    );
    assert_eq!((h.dev, h.inode), (Dev { major: 0, minor: 5 }, 10267643));
    // real: same file
    assert_eq!(
        kind(
            b"709ca000-709cb000 rw-p 00000000 00:00 0                                  [anon:.bss]"
        ),
        PathKind::AnonNamed(b".bss")
    );
}

#[test]
fn anon_shmem_named() {
    // made up: no capture has CONFIG_ANON_VMA_NAME shared memory
    assert_eq!(
        kind(b"7f3a1c000000-7f3a1c021000 rw-s 00000000 00:01 2048                       [anon_shmem:ring buf]"),
        PathKind::AnonShmemNamed(b"ring buf")
    );
}

#[test]
fn memfd_with_space_in_name() {
    // real: localcap__x86_64-linux6.18-python-oddnames.maps
    let h = one(b"7f7cd6d8f000-7f7cd6d9f000 rw-s 00000000 00:01 48                         /memfd:fixture memfd (deleted)");
    assert_eq!(h.path.kind(), PathKind::Memfd(b"fixture memfd"));
    assert!(h.path.deleted());
    assert_eq!(h.path.name_raw(), b"/memfd:fixture memfd");
    // real: krashpad__x86_64-rhel8-linux4.18-jdk8-gtk-wayland-i915-hserr.maps
    assert_eq!(
        kind(b"7fefef549000-7fefefd00000 rw-s 00000000 00:05 1218110                    /memfd:gdk-wayland (deleted)"),
        PathKind::Memfd(b"gdk-wayland")
    );
}

#[test]
fn sysv() {
    // real: localcap__x86_64-linux6.18-python-oddnames.maps
    assert_eq!(
        kind(b"7f7cd6d7f000-7f7cd6d8f000 rw-s 00000000 00:01 39                         /SYSV1234abcd (deleted)"),
        PathKind::SysV(0x1234abcd)
    );
    // real: zteorange__armv7-linux4.1-uclibc-router-pc-sysv-devmem.maps
    assert_eq!(
        kind(b"68000000-68020000 rw-s 00000000 00:05 32769      /SYSV0000abab (deleted)"),
        PathKind::SysV(0xabab)
    );
    // Not 8 hex digits, or not deleted: an ordinary file.
    assert_eq!(PathKind::of(b"/SYSV1234 (deleted)"), PathKind::File);
    assert_eq!(PathKind::of(b"/SYSV1234abcd"), PathKind::File);
}

#[test]
fn dev_zero_and_anon_hugepage() {
    // real: localcap__x86_64-linux6.18-python-oddnames.maps
    assert_eq!(
        kind(b"7f7cd6d9f000-7f7cd6da7000 rw-s 00000000 00:01 47                         /dev/zero (deleted)"),
        PathKind::DevZero
    );
    // real: localcap__x86_64-linux6.18-python-hugetlb-threads.maps
    assert_eq!(
        kind(b"7fadcee00000-7fadcf000000 rw-s 00000000 00:11 19680                      /anon_hugepage (deleted)"),
        PathKind::AnonHugepage
    );
    assert_eq!(PathKind::of(b"/dev/zero"), PathKind::File);
}

#[test]
fn anon_inode() {
    // real: gracker-systraceanalysis__android-arm64-app.smaps
    let h = one(b"7912ae6000-7912b03000 rw-s 00000000 00:0a 11957                          anon_inode:dmabuf332");
    assert_eq!(h.path.kind(), PathKind::AnonInode(b"dmabuf332"));
    assert_eq!(h.dev.minor, 0xa);
}

#[test]
fn unnamed_anonymous() {
    // real: aosp-libprocinfo__android-arm64-app.maps, with the kernel's
    // trailing blank after the inode
    let h = one(b"5ff1d6f000-5ff1d71000 rw-p 00000000 00:00 0 ");
    assert!(h.path.is_empty());
    assert_eq!(h.path.kind(), PathKind::Anonymous);
    // real: dlhiddensym__x86_64-openjdk8-tomcat.maps, trimmed (no blank)
    let h = one(b"100000000-1001c0000 rw-p 00000000 00:00 0");
    assert!(h.path.is_empty());
    assert_eq!((h.start, h.end), (0x1_0000_0000, 0x1_001c_0000));
}

#[test]
fn other_special_and_other() {
    // made up: no other bracketed name appears in the corpus
    assert_eq!(
        kind(
            b"7f0000000000-7f0000001000 r--p 00000000 00:00 0                          [io_uring]"
        ),
        PathKind::OtherSpecial(b"[io_uring]")
    );
    // An unclosed bracket is still "other special".
    assert_eq!(PathKind::of(b"[heap"), PathKind::OtherSpecial(b"[heap"));
    // made up: a name not starting with `/` or `[`
    assert_eq!(PathKind::of(b"socket:[1234]"), PathKind::Other);
    assert_eq!(PathKind::ALL_TAGS.len(), 22);
    // real: smaps_rollup's pseudo region
    // (prometheus-procfs__x86_64-alertmanager-smaps_rollup.smaps)
    let h =
        one(b"00400000-ffffffffff601000 ---p 00000000 00:00 0                          [rollup]");
    assert_eq!(h.path.kind(), PathKind::Rollup);
    assert_eq!(h.end, 0xffffffffff601000);
}

// ---- names: spaces, bytes, (deleted), \012 --------------------------------

#[test]
fn spaces_inside_and_at_the_end() {
    // real: localcap__x86_64-linux6.18-python-oddnames.maps (two spaces)
    let h = one(b"7f7cd7d42000-7f7cd7d44000 r--p 00000000 fe:00 10010709                   /tmp/cap/dir with spaces/file with  spaces.bin");
    assert_eq!(
        h.path.raw(),
        b"/tmp/cap/dir with spaces/file with  spaces.bin"
    );
    // made up: trailing blanks are part of the name when the text was not trimmed
    let h =
        one(b"00400000-0040b000 r-xp 00000000 08:05 1234                               /tmp/x  ");
    assert_eq!(h.path.raw(), b"/tmp/x  ");
    let e = entries(b"00400000-0040b000 r-xp 00000000 08:05 1234 /tmp/x  \n");
    assert_eq!(e[0].header.path.raw(), b"/tmp/x  ");
}

#[test]
fn non_utf8_bytes() {
    // made up: the corpus has no such name; the kernel prints the bytes as is
    let line = b"7f0000000000-7f0000001000 r--p 00000000 08:01 77                         /tmp/caf\xe9\xff\x01 x";
    let h = one(line);
    assert_eq!(h.path.raw(), b"/tmp/caf\xe9\xff\x01 x");
    assert_eq!(h.path.kind(), PathKind::File);
    assert_eq!(&*h.path.decoded(), b"/tmp/caf\xe9\xff\x01 x");
}

#[test]
fn deleted_split() {
    // real: localcap__x86_64-linux6.18-python-oddnames.maps
    let h = one(b"7f7cd70ca000-7f7cd70cc000 r--p 00000000 fe:00 10010711                   /tmp/cap/dir with spaces/to be deleted.bin (deleted)");
    assert!(h.path.deleted());
    assert_eq!(
        h.path.name_raw(),
        b"/tmp/cap/dir with spaces/to be deleted.bin"
    );
    assert_eq!(
        &*h.path.decoded(),
        b"/tmp/cap/dir with spaces/to be deleted.bin"
    );
    assert_eq!(h.path.kind(), PathKind::File);
    // A name that is only " (deleted)" is not split into an empty name.
    let p = Pathname::new(b" (deleted)");
    assert!(!p.deleted());
    assert_eq!(p.name_raw(), b" (deleted)");
    // "(deleted)" without the blank is part of the name.
    assert!(!Pathname::new(b"/a(deleted)").deleted());
}

#[test]
fn newline_escape_decoded_raw_kept() {
    // real: localcap__x86_64-linux6.18-python-oddnames.maps
    let h = one(b"7f7cd7bbb000-7f7cd7bbd000 r--p 00000000 fe:00 10010710                   /tmp/cap/dir with spaces/new\\012line.bin");
    assert_eq!(h.path.raw(), b"/tmp/cap/dir with spaces/new\\012line.bin");
    assert_eq!(
        &*h.path.decoded(),
        b"/tmp/cap/dir with spaces/new\nline.bin"
    );
    assert!(matches!(h.path.decoded(), std::borrow::Cow::Owned(_)));
    assert!(matches!(
        Pathname::new(b"/x").decoded(),
        std::borrow::Cow::Borrowed(_)
    ));
    assert_eq!(&*encode_escapes(b"a\nb\n"), b"a\\012b\\012");
    assert_eq!(&*decode_escapes(b"\\012\\012"), b"\n\n");
    assert_eq!(&*decode_escapes(b"\\01"), b"\\01");
}

// ---- numbers: address widths, devices ----------------------------------

#[test]
fn address_widths() {
    // 8 digits, real: vminfo__armhf-cat.smaps
    let h = one(b"ffff0000-ffff1000 r-xp 00000000 00:00 0          [vectors]");
    assert_eq!((h.start, h.end, h.size()), (0xffff0000, 0xffff1000, 0x1000));
    // 9 digits, real: aosp-libprocinfo__android-arm64-app.maps (9-digit offset too)
    let h = one(b"730000000-736620000 rw-p 730000000 00:00 0 ");
    assert_eq!(
        (h.start, h.end, h.offset),
        (0x7_3000_0000, 0x7_3662_0000, 0x7_3000_0000)
    );
    // 16 digits, real: kylinsoong-jvm__x86_64-rhel5-linux2.6.18-jdk7-hserr.maps
    // (the 8 MB vsyscall of 2.6.18)
    let h = one(b"ffffffffff600000-ffffffffffe00000 ---p 00000000 00:00 0 ");
    assert_eq!(h.size(), 8 << 20);
    // 17 digits do not fit.
    assert!(parse_header(b"1ffffffffff600000-ffffffffffe00000 ---p 00000000 00:00 0").is_err());
    // Leading zeros beyond 16 digits are still too many digits.
    assert!(parse_header(b"00000000000000000-1 ---p 00000000 00:00 0").is_err());
}

#[test]
fn three_digit_device_major() {
    // real: aosp-libprocinfo__android-arm64-app.maps
    let h = one(b"6fb5d000-6fd6e000 rw-p 00000000 103:1d 639511                            /data/dalvik-cache/arm64/system@framework@boot.art");
    assert_eq!(
        h.dev,
        Dev {
            major: 0x103,
            minor: 0x1d
        }
    );
    assert_eq!(h.dev.to_string(), "103:1d");
    // real: krashpad__x86_64-rhel10-linux6.12-jdk25-hserr-wsstripped.maps
    let h = one(b"7fa396190000-7fa396192000 rw-p 00032000 103:03 26072755                  /usr/lib64/ld-linux-x86-64.so.2");
    assert_eq!((h.dev.major, h.dev.minor, h.offset), (0x103, 3, 0x32000));
}

// ---- smaps fields ---------------------------------------------------------

#[test]
fn unknown_key_preserved() {
    // made up: HugePFNMap is not in the corpus (a newer kernel's key)
    let text = b"7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \nRss:                   4 kB\nHugePFNMap:            0 kB\nFutureThing:   some text\nLocked:                0 kB\n";
    let e = entries(text);
    let s = e[0].smaps.as_deref().unwrap();
    assert_eq!(s.unknown_fields, 2);
    let unknown: Vec<_> = s.unknown().collect();
    assert_eq!(unknown.len(), 2);
    assert_eq!(
        (unknown[0].key, unknown[0].value),
        (&b"HugePFNMap"[..], FieldValue::Kb(0))
    );
    assert_eq!(
        (unknown[1].key, unknown[1].value),
        (&b"FutureThing"[..], FieldValue::Text(b"some text"))
    );
    let keys: Vec<_> = s.fields().map(|f| f.key).collect();
    assert_eq!(
        keys,
        vec![&b"Rss"[..], b"HugePFNMap", b"FutureThing", b"Locked"]
    );
    assert_eq!(s.known.get(Field::Locked), Some(0));
    assert_eq!(s.known.get(Field::Swap), None);
}

#[test]
fn thp_eligible_with_tabs() {
    // real: isatispro-mm__armv7-raspbian-linux5-thp-tabs.smaps
    let f = smaps::parse_field(b"THPeligible:\t\t0").unwrap();
    assert_eq!(
        (f.key, f.value),
        (&b"THPeligible"[..], FieldValue::Number(0))
    );
    // real: jc__x86_64-linux5-systemd-pid1.smaps, the whole block
    let text = b"55a9e753c000-55a9e7570000 r--p 00000000 fd:00 798126                     /usr/lib/systemd/systemd
Size:                208 kB
KernelPageSize:        4 kB
MMUPageSize:           4 kB
Rss:                 208 kB
Pss:                 104 kB
Shared_Clean:        208 kB
Shared_Dirty:          0 kB
Private_Clean:         0 kB
Private_Dirty:         0 kB
Referenced:          208 kB
Anonymous:             0 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
ShmemPmdMapped:        0 kB
FilePmdMapped:        0 kB
Shared_Hugetlb:        0 kB
Private_Hugetlb:       0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
THPeligible:\t\t0
VmFlags: rd mr mw me dw sd 
";
    let e = entries(text);
    let s = e[0].smaps.as_deref().unwrap();
    assert_eq!(s.known.get(Field::ThpEligible), Some(0));
    assert_eq!(s.known.get(Field::Pss), Some(104));
    assert_eq!(s.known.get(Field::FilePmdMapped), Some(0));
    assert_eq!(s.known.iter().count(), 21);
    assert_eq!(s.first_line, 2);
    assert!(s.vmflags.unwrap().has("dw"));
    assert_eq!(s.raw.split(|&b| b == b'\n').count(), 22);
    assert_eq!(detect_format(text), Format::Smaps);
}

#[test]
fn protection_key() {
    // made up: no capture in the corpus has protection keys
    let text = b"7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \nSize:                  4 kB\nProtectionKey:         3\nVmFlags: rd wr mr mw me ac \n";
    let es = entries(text);
    let s = es[0].smaps.as_deref().unwrap();
    assert_eq!(s.known.get(Field::ProtectionKey), Some(3));
}

#[test]
fn every_field_key_round_trips() {
    for (i, f) in Field::ALL.iter().enumerate() {
        assert_eq!(Field::from_key(f.key().as_bytes()), Some(*f));
        assert_eq!(*f as usize, i);
        assert!(!f.doc().is_empty());
    }
    assert_eq!(Field::from_key(b"rss"), None);
    assert_eq!(Field::from_key(b"Rss "), None);
    assert_eq!(Field::from_key(b""), None);
    assert_eq!(Field::from_key(b"SizeX"), None);
}

#[test]
fn vmflags_every_known_code_and_an_unknown_one() {
    let mut line = b"VmFlags:".to_vec();
    for f in KNOWN_FLAGS {
        line.push(b' ');
        line.extend_from_slice(f.code.as_bytes());
    }
    line.extend_from_slice(b" zz ");
    let text = [
        b"00400000-00401000 r--p 00000000 08:01 7 /bin/x\n".as_slice(),
        &line,
        b"\n",
    ]
    .concat();
    let e = entries(&text);
    let v = e[0].smaps.as_deref().unwrap().vmflags.unwrap();
    for f in KNOWN_FLAGS {
        assert!(v.has(f.code), "{}", f.code);
    }
    assert_eq!(v.known_bits(), (1u64 << KNOWN_FLAGS.len()) - 1);
    assert_eq!(v.unknown().collect::<Vec<_>>(), vec![&b"zz"[..]]);
    assert_eq!(v.codes().count(), KNOWN_FLAGS.len() + 1);
    assert!(!v.has("zz"));
    // real: prometheus-procfs__x86_64-alertmanager-trimmed.smaps ([vsyscall])
    let v = VmFlags::parse(b"rd ex ");
    assert_eq!(v.codes().collect::<Vec<_>>(), vec![&b"rd"[..], b"ex"]);
    assert_eq!(v.unknown().count(), 0);
    // An empty VmFlags line still yields (empty) flags.
    let e = entries(b"00400000-00401000 r--p 00000000 08:01 7 /bin/x\nVmFlags:\n");
    assert_eq!(
        e[0].smaps
            .as_deref()
            .unwrap()
            .vmflags
            .unwrap()
            .codes()
            .count(),
        0
    );
}

#[test]
fn android_name_line() {
    // real: gracker-systraceanalysis__android-arm64-app.smaps
    let text = b"12c00000-135c0000 rw-p 00000000 00:00 0                                  [anon:dalvik-main space (region space)]
Name:           [anon:dalvik-main space (region space)]
Size:               9984 kB
";
    let es = entries(text);
    let s = es[0].smaps.as_deref().unwrap();
    assert_eq!(
        s.name,
        Some(&b"[anon:dalvik-main space (region space)]"[..])
    );
    assert_eq!(s.unknown_fields, 0);
    assert_eq!(s.unknown().count(), 0);
    assert_eq!(s.known.get(Field::Size), Some(9984));
}

#[test]
fn oldest_six_field_smaps() {
    // real: hikvision__arm32-linux2.6-uclibc-busybox-init-6field.smaps
    let text = b"00008000-0005a000 r-xp 00000000 01:00 72         /bin/busybox
Size:               328 kB
Rss:                 48 kB
Shared_Clean:        32 kB
Shared_Dirty:         0 kB
Private_Clean:       16 kB
Private_Dirty:        0 kB
00062000-00063000 rw-p 00052000 01:00 72         /bin/busybox
Size:                 4 kB
Rss:                  4 kB
Shared_Clean:         0 kB
Shared_Dirty:         0 kB
Private_Clean:        0 kB
Private_Dirty:        4 kB
";
    assert_eq!(detect_format(text), Format::Smaps);
    let e = entries(text);
    assert_eq!(e.len(), 2);
    let s = e[0].smaps.as_deref().unwrap();
    assert_eq!(s.known.iter().count(), 6);
    assert_eq!(s.known.get(Field::Pss), None);
    assert!(s.vmflags.is_none());
    assert_eq!(e[1].line, 8);
    assert_eq!(
        e[1].smaps
            .as_deref()
            .unwrap()
            .known
            .get(Field::PrivateDirty),
        Some(4)
    );
}

// ---- text-level quirks ----------------------------------------------------

#[test]
fn trimmed_trailing_whitespace_and_missing_final_newline() {
    // real: the last three lines of dlhiddensym__x86_64-openjdk8-tomcat.maps
    // (trimmed, no final newline)
    let text = b"7fffd5c2a000-7fffd5c2e000 r--p 00000000 00:00 0                          [vvar]
7fffd5c2e000-7fffd5c30000 r-xp 00000000 00:00 0                          [vdso]
ffffffffff600000-ffffffffff601000 r-xp 00000000 00:00 0                  [vsyscall]";
    let e = entries(text);
    assert_eq!(e.len(), 3);
    assert_eq!(e[2].header.path.kind(), PathKind::Vsyscall);
    // An smaps block whose last line has no newline.
    let e = entries(b"00400000-00401000 r--p 00000000 08:01 7 /bin/x\nRss: 4 kB\nVmFlags: rd");
    let s = e[0].smaps.as_deref().unwrap();
    assert_eq!(s.raw, b"Rss: 4 kB\nVmFlags: rd");
    assert!(s.vmflags.unwrap().has("rd"));
}

#[test]
fn crlf() {
    // real lines (localcap oddnames smaps), made CRLF
    let text = b"55b2eea03000-55b2eea04000 r--p 00000000 fe:00 18504                      /root/.pyenv/versions/3.11.7/bin/python3.11\r\nSize:                  4 kB\r\nRss:                   4 kB\r\nVmFlags: rd mr mw me \r\n7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \r\n";
    let p = Parser::new(text);
    assert!(p.crlf());
    let e: Vec<_> = p.map(Result::unwrap).collect();
    assert_eq!(e.len(), 2);
    assert_eq!(
        e[0].header.path.raw(),
        b"/root/.pyenv/versions/3.11.7/bin/python3.11"
    );
    let s = e[0].smaps.as_deref().unwrap();
    assert_eq!(s.known.get(Field::Rss), Some(4));
    assert_eq!(s.fields().count(), 3);
    assert!(e[1].header.path.is_empty());
    assert_eq!(detect_format(text), Format::Smaps);
    // Without CRLF on the first line, a final `\r` is part of the name.
    let e = entries(b"00400000-00401000 r--p 00000000 08:01 7 /bin/x\n00401000-00402000 r--p 00000000 08:01 7 /bin/y\r\n");
    assert_eq!(e[1].header.path.raw(), b"/bin/y\r");
}

#[test]
fn hotspot_trailer_ignored() {
    // real: the end of krashpad__x86_64-rhel10-linux6.12-jdk25-hserr-wsstripped.maps
    let text = b"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\nTotal number of mappings: 188\n";
    let p = parse_all(text, Mode::Strict).unwrap();
    assert_eq!((p.entries.len(), p.ignored, p.skipped), (1, 1, 0));
    // It also ends an smaps block.
    let text =
        b"00400000-00401000 r--p 00000000 08:01 7 /bin/x\nRss: 4 kB\nTotal number of mappings: 1\n";
    let p = parse_all(text, Mode::Strict).unwrap();
    assert_eq!((p.entries.len(), p.ignored), (1, 1));
    assert_eq!(p.entries[0].smaps.as_deref().unwrap().raw, b"Rss: 4 kB");
}

#[test]
fn blank_lines_are_skipped() {
    let e = entries(b"\n  \n00400000-00401000 r--p 00000000 08:01 7 /bin/x\n\n\n00401000-00402000 r--p 00000000 08:01 7 /bin/y\n");
    assert_eq!((e[0].line, e[1].line), (3, 6));
    assert_eq!(e[1].byte_offset, 53);
    assert!(parse_all(b"", Mode::Strict).unwrap().entries.is_empty());
    assert_eq!(detect_format(b""), Format::Maps);
}

#[test]
fn rollup() {
    // real: prometheus-procfs__x86_64-alertmanager-smaps_rollup.smaps (head)
    let text = b"00400000-ffffffffff601000 ---p 00000000 00:00 0                          [rollup]\nRss:               29948 kB\nPss:               29944 kB\n";
    assert_eq!(detect_format(text), Format::SmapsRollup);
    let p = parse_all(text, Mode::Strict).unwrap();
    assert_eq!(p.format, Format::SmapsRollup);
    assert_eq!(
        p.entries[0].smaps.as_deref().unwrap().known.get(Field::Pss),
        Some(29944)
    );
}

// ---- errors: kind, line, 1-based byte column ------------------------------

#[test]
fn every_error_kind_with_line_and_column() {
    let ok = b"00400000-00401000 r--p 00000000 08:01 7 /bin/x\n";
    let cases: &[(&[u8], usize, ErrorKind)] = &[
        // the end address is not hex: column of the end
        (
            b"00400000-zz401000 r--p 00000000 08:01 7 /bin/x",
            10,
            ErrorKind::BadAddress,
        ),
        // no blank after the range
        (
            b"00400000-00401000r--p 00000000 08:01 7 /bin/x",
            18,
            ErrorKind::BadAddress,
        ),
        // 17 digits: column of the number
        (
            b"00400000-00000000000401000 r--p 00000000 08:01 7 /bin/x",
            10,
            ErrorKind::BadAddress,
        ),
        (
            b"00401000-00400000 r--p 00000000 08:01 7 /bin/x",
            1,
            ErrorKind::EndBeforeStart,
        ),
        (
            b"00400000-00401000 r--q 00000000 08:01 7 /bin/x",
            19,
            ErrorKind::BadPerms,
        ),
        (
            b"00400000-00401000 r-- 00000000 08:01 7 /bin/x",
            19,
            ErrorKind::BadPerms,
        ),
        (
            b"00400000-00401000 r--p  00000000 08:01 7 /bin/x",
            24,
            ErrorKind::BadOffset,
        ),
        (
            b"00400000-00401000 r--p 0000g000 08:01 7 /bin/x",
            28,
            ErrorKind::BadOffset,
        ),
        (
            b"00400000-00401000 r--p 00000000 0801 7 /bin/x",
            37,
            ErrorKind::BadDevice,
        ),
        (
            b"00400000-00401000 r--p 00000000 08:zz 7 /bin/x",
            36,
            ErrorKind::BadDevice,
        ),
        // a 9-digit major does not fit: column of the major
        (
            b"00400000-00401000 r--p 00000000 123456789:01 7 /bin/x",
            33,
            ErrorKind::BadDevice,
        ),
        (
            b"00400000-00401000 r--p 00000000 08:01 x /bin/x",
            39,
            ErrorKind::BadInode,
        ),
        (
            b"00400000-00401000 r--p 00000000 08:01 7x /bin/x",
            40,
            ErrorKind::BadInode,
        ),
        // an inode above u64: column of the inode
        (
            b"00400000-00401000 r--p 00000000 08:01 99999999999999999999 /x",
            39,
            ErrorKind::BadInode,
        ),
    ];
    for (line, col, kind) in cases {
        let text = [ok.as_slice(), line, b"\n", ok].concat();
        let errs = errors(&text);
        assert_eq!(
            errs,
            vec![(2, *col, *kind)],
            "{}",
            String::from_utf8_lossy(line)
        );
        let e = parse_all(&text, Mode::Strict).unwrap_err();
        assert_eq!(e.text, *line);
        assert!(
            e.to_string()
                .starts_with(&format!("line 2, column {col}: "))
        );
        let p = parse_all(&text, Mode::Lenient).unwrap();
        assert_eq!((p.entries.len(), p.skipped), (2, 1));
    }
}

#[test]
fn field_errors() {
    let text = b"Rss: 4 kB
00400000-00401000 r--p 00000000 08:01 7 /bin/x
Rss:  lots kB
not a field
Pss: 4 kB
";
    let errs = errors(text);
    assert_eq!(
        errs,
        vec![
            (1, 1, ErrorKind::FieldBeforeHeader),
            // column of the value that is not a number
            (3, 7, ErrorKind::BadField),
            (4, 1, ErrorKind::BadField),
        ]
    );
    // The region is still yielded with its good fields, after its errors.
    let items: Vec<_> = Parser::new(text).collect();
    assert_eq!(items.len(), 4);
    let e = items[3].as_ref().unwrap();
    assert_eq!(e.smaps.as_deref().unwrap().known.get(Field::Pss), Some(4));
    assert_eq!(e.smaps.as_deref().unwrap().known.get(Field::Rss), None);
}

#[test]
fn fields_under_a_bad_header_belong_to_it() {
    let text = b"00400000-00401000 r--q 00000000 08:01 7 /bin/x\nRss: 4 kB\nPss: 4 kB\n00401000-00402000 r--p 00000000 08:01 7 /bin/y\nRss: 8 kB\n";
    let items: Vec<_> = Parser::new(text).collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].as_ref().unwrap_err().kind, ErrorKind::BadPerms);
    assert_eq!(items[1].as_ref().unwrap().line, 4);
}

#[test]
fn lenient_counts_and_keeps_the_first_errors() {
    let mut text = b"00400000-00401000 r--p 00000000 08:01 7 /bin/x\n".to_vec();
    for _ in 0..30 {
        text.extend_from_slice(b"bogus\n");
    }
    text.extend_from_slice(b"zz\n00401000-00402000 r--p 00000000 08:01 7 /bin/y\n");
    // `bogus` lines follow a header: they are field lines without a key.
    let p = parse_all(&text, Mode::Lenient).unwrap();
    assert_eq!(p.entries.len(), 2);
    assert_eq!(p.skipped, 31);
    assert_eq!(p.errors.len(), Parsed::KEPT_ERRORS);
    assert_eq!(p.errors[0].line, 2);
    assert_eq!(p.errors[19].line, 21);
    assert!(p.errors.iter().all(|e| e.kind == ErrorKind::BadField));
    let e = parse_all(&text, Mode::Strict).unwrap_err();
    assert_eq!((e.line, e.column, e.kind), (2, 1, ErrorKind::BadField));
}

#[test]
fn many_errors_in_one_block_are_linear() {
    // 200,000 bad lines under one header: drained from a queue, not by
    // shifting a Vec (which took minutes).
    let mut text = b"00400000-00401000 r--p 00000000 08:01 7 /bin/x\n".to_vec();
    for _ in 0..200_000 {
        text.extend_from_slice(b"x\n");
    }
    let t = std::time::Instant::now();
    let p = parse_all(&text, Mode::Lenient).unwrap();
    assert_eq!((p.entries.len(), p.skipped), (1, 200_000));
    assert!(t.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn looks_like_header_and_foreign() {
    assert!(header::looks_like_header(b"0-0"));
    assert!(!header::looks_like_header(b"Rss: 4 kB"));
    assert!(!header::looks_like_header(b"-1"));
    assert!(is_foreign(b"Total number of mappings: 5"));
    assert!(!is_foreign(b"Total: 5"));
}

#[test]
fn foreign_lines_are_not_fast_fields() {
    for p in FOREIGN_PREFIXES {
        let line = [*p, b" 5\n"].concat();
        assert!(smaps::fast_field(&line, false).is_none());
    }
}

#[test]
fn fast_field_agrees_with_parse_field() {
    let lines: &[&[u8]] = &[
        b"Rss:                   4 kB",
        b"Rss:\t4 kB",
        b"THPeligible:\t\t0",
        b"THPeligible:           1",
        b"Private_Hugetlb:    2048 kB",
        b"Rss:  18446744073709551615 kB",
        b"Rss:  18446744073709551616 kB",
        b"Rss: 4 kB ",
        b"Rss: 4  kB",
        b"Rss\0: 4 kB",
        b"Rs: 4 kB",
        b"Rsss: 4 kB",
        b"Rss: 4 kb",
        b"Rss: kB",
        b"ProtectionKey:         0",
        b"Private_Dirty:         8 kB",
    ];
    for l in lines {
        for (term, crlf) in [
            (&b"\n"[..], false),
            (b"", false),
            (b"\r\n", true),
            (b"\r", true),
        ] {
            let text = [*l, term].concat();
            if let Some((f, v, len)) = smaps::fast_field(&text, crlf) {
                assert_eq!(len, text.len(), "{l:?}");
                let slow = smaps::parse_field(l).unwrap();
                assert_eq!(Field::from_key(slow.key), Some(f));
                assert!(matches!(slow.value, FieldValue::Kb(x) | FieldValue::Number(x) if x == v));
            }
        }
    }
    assert!(smaps::fast_field(b"Rss: 4 kB\n", false).is_some());
    assert!(smaps::fast_field(b"Rss: 4 kB\r\n", false).is_none());
}

/// Every region costs this much in `parse_all`'s vector: keep an eye on it
/// (it bounds the throughput of `parse_all` on maps text, whose lines are
/// ~80 bytes).
#[test]
fn entry_size() {
    assert!(std::mem::size_of::<Entry<'_>>() <= 384);
}

#[test]
fn garbage_under_a_maps_line_does_not_make_it_smaps() {
    // A malformed line after a maps line used to become an empty smaps
    // block, so the whole text was taken for smaps (residency columns of
    // zeros). It is an error, and the text stays maps.
    let text = b"00400000-00401000 r-xp 00000000 08:01 12 /bin/true\n\
                 this is not a maps line\n\
                 00401000-00402000 rw-p 00001000 08:01 12 /bin/true\n";
    let p = parse_all(text, Mode::Lenient).unwrap();
    assert_eq!(p.format, Format::Maps);
    assert_eq!(p.skipped, 1);
    assert_eq!(p.errors[0].line, 2);
    assert!(p.entries.iter().all(|e| e.smaps.is_none()));
}

#[test]
fn maps_entries_stay_small() {
    // Maps text has no smaps block; the entry must not pay for one.
    assert!(std::mem::size_of::<Entry<'_>>() <= 128);
}

// ---- the kernel's own text: HeaderText, FieldLine, whole_regions -----------

/// Every fixture: `HeaderText` gives each header's columns as printed (they
/// read back to the `Header`'s values), `lines` agrees with `fields` on
/// every block, and the text parsed in pieces cut by `whole_regions` gives
/// the same entries as the whole.
#[test]
fn raw_text_accessors_agree_with_the_parser_on_every_fixture() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/fixtures");
    let mut files = 0;
    for f in std::fs::read_dir(&dir).unwrap() {
        let path = f.unwrap().path();
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("maps" | "smaps" | "smaps_rollup")
        ) {
            continue;
        }
        let text = std::fs::read(&path).unwrap();
        let whole: Vec<_> = Parser::new(&text).filter_map(Result::ok).collect();
        for e in &whole {
            let at = &text[e.byte_offset..];
            let t = HeaderText::parse(at).unwrap_or_else(|| panic!("{path:?}: {}", e.line));
            let hex = |s: &[u8]| u64::from_str_radix(std::str::from_utf8(s).unwrap(), 16).unwrap();
            assert_eq!((hex(t.start), hex(t.end)), (e.header.start, e.header.end));
            assert_eq!(t.perms, e.header.perms.as_bytes());
            assert_eq!(hex(t.offset), e.header.offset);
            let (ma, mi) = t
                .dev
                .split_at(t.dev.iter().position(|&b| b == b':').unwrap());
            assert_eq!(
                (hex(ma), hex(&mi[1..])),
                (u64::from(e.header.dev.major), u64::from(e.header.dev.minor))
            );
            assert_eq!(
                std::str::from_utf8(t.inode)
                    .unwrap()
                    .parse::<u64>()
                    .unwrap(),
                e.header.inode
            );
            assert!(at.starts_with(t.start));
            if let Some(b) = e.smaps.as_deref() {
                let lines: Vec<_> = b.lines().collect();
                let fields: Vec<_> = b.fields().collect();
                assert_eq!(lines.len(), fields.len(), "{path:?}: {}", e.line);
                for (l, f) in lines.iter().zip(&fields) {
                    assert_eq!((l.key, l.value()), (f.key, f.value), "{path:?}");
                    assert_eq!(l.field(), Field::from_key(f.key));
                    if let FieldValue::Kb(v) | FieldValue::Number(v) = f.value {
                        let d = std::str::from_utf8(l.digits()).unwrap();
                        assert_eq!(d.parse::<u64>().unwrap(), v, "{path:?}");
                    }
                }
            }
        }
        // In pieces of 4 KiB, carried as a reader of /proc would.
        let mut pieces: Vec<Entry<'_>> = Vec::new();
        let mut carry: Vec<u8> = Vec::new();
        let mut owned: Vec<Vec<u8>> = Vec::new();
        for piece in text.chunks(4096) {
            carry.extend_from_slice(piece);
            let n = whole_regions(&carry);
            owned.push(carry[..n].to_vec());
            carry.drain(..n);
        }
        owned.push(carry);
        for part in &owned {
            pieces.extend(Parser::new(part).filter_map(Result::ok).map(|mut e| {
                e.byte_offset = 0;
                e.line = 0;
                if let Some(b) = e.smaps.as_mut() {
                    b.first_line = 0;
                }
                e
            }));
        }
        let whole: Vec<_> = whole
            .into_iter()
            .map(|mut e| {
                e.byte_offset = 0;
                e.line = 0;
                if let Some(b) = e.smaps.as_mut() {
                    b.first_line = 0;
                }
                e
            })
            .collect();
        assert_eq!(pieces, whole, "{path:?}");
        files += 1;
    }
    assert!(files > 20, "{files} fixtures");
}

#[test]
fn header_text_keeps_the_kernels_digits() {
    // made up: 36-bit addresses, a 3-digit major (Android), a big inode
    let t = HeaderText::parse(
        b"000400000-000401000 r-xs 0000000000001000 103:1d 18446744073709551615  /x",
    )
    .unwrap();
    assert_eq!(
        (t.start, t.end, t.perms, t.offset, t.dev, t.inode),
        (
            &b"000400000"[..],
            &b"000401000"[..],
            &b"r-xs"[..],
            &b"0000000000001000"[..],
            &b"103:1d"[..],
            &b"18446744073709551615"[..]
        )
    );
    // Trimmed text: nothing after the inode.
    let t = HeaderText::parse(b"7f00-7f01 ---p 00000000 00:00 0").unwrap();
    assert_eq!((t.end, t.inode), (&b"7f01"[..], &b"0"[..]));
    for bad in [
        &b""[..],
        b"Rss: 4 kB",
        b"7f00-7e00 ---p 00000000 00:00 0",
        b"7f00-7f01 ---p 0 00:00 x",
    ] {
        assert_eq!(HeaderText::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn field_lines_split_any_layout() {
    let text = b"00400000-00401000 r--p 00000000 08:01 7 /bin/x\r\n\
                 Rss:\t 0012 kB\r\n\
                 A_very_long_key_name_here:  5 kB\r\n\
                 bad key: 3\r\n\
                 Rss:  99999999999999999999999 kB\r\n\
                 THPeligible:    1\r\n";
    // (The bad lines are reported first, then the region.)
    let e = Parser::new(text).find_map(Result::ok).unwrap();
    let b = e.smaps.as_deref().unwrap();
    let l: Vec<_> = b.lines().collect();
    let got: Vec<_> = l
        .iter()
        .map(|l| (l.key, l.text, l.digits(), l.field()))
        .collect();
    assert_eq!(
        got,
        [
            (&b"Rss"[..], &b"0012 kB"[..], &b"0012"[..], Some(Field::Rss)),
            (b"A_very_long_key_name_here", b"5 kB", b"5", None),
            (
                b"Rss",
                b"99999999999999999999999 kB",
                b"99999999999999999999999",
                Some(Field::Rss)
            ),
            (b"THPeligible", b"1", b"1", Some(Field::ThpEligible)),
        ]
    );
    let f: Vec<_> = b.fields().collect();
    assert_eq!(f.len(), l.len());
    for (l, f) in l.iter().zip(&f) {
        assert_eq!((l.key, l.value()), (f.key, f.value));
    }
}

/// A line over [`MAX_LINE`] is rejected by the fast and the general path
/// alike, in maps and in smaps (a header or a field line), and the error
/// keeps only the line's start; the lines around it are read as usual.
#[test]
fn lines_over_the_limit_are_errors_on_both_paths() {
    let long_name = |n: usize| {
        let mut l = b"00400000-00401000 r-xp 00000000 08:01 7 /".to_vec();
        l.resize(l.len() + n, b'a');
        l.push(b'\n');
        l
    };
    let ok = b"00500000-00501000 rw-p 00000000 00:00 0\n".to_vec();
    let mut field = b"Rss: ".to_vec();
    field.resize(field.len() + MAX_LINE, b'1');
    field.extend_from_slice(b" kB\n");
    type Case = (Vec<u8>, Vec<(usize, ErrorKind)>, usize);
    let cases: [Case; 3] = [
        // Just at the limit: a region (the line is MAX_LINE + 42 with its
        // address part, so the name is cut to fit).
        ([long_name(MAX_LINE - 42), ok.clone()].concat(), vec![], 2),
        (
            [long_name(MAX_LINE), ok.clone()].concat(),
            vec![(1, ErrorKind::LineTooLong)],
            1,
        ),
        (
            [ok.clone(), field, ok.clone()].concat(),
            vec![(2, ErrorKind::LineTooLong)],
            2,
        ),
    ];
    for (text, errors, regions) in cases {
        for parser in [Parser::new(&text), Parser::new(&text).without_fast_paths()] {
            let items: Vec<_> = parser.collect();
            let errs: Vec<_> = items
                .iter()
                .filter_map(|i| i.as_ref().err())
                .map(|e| (e.line, e.kind))
                .collect();
            assert_eq!(errs, errors);
            assert!(
                items
                    .iter()
                    .filter_map(|i| i.as_ref().err())
                    .all(|e| e.text.len() <= 4096)
            );
            assert_eq!(items.iter().filter(|i| i.is_ok()).count(), regions);
        }
    }
}
