fn main() {
    for p in std::env::args().skip(1) {
        let data = std::fs::read(&p).unwrap();
        match maplens_core::parse::parse_all(&data, maplens_core::parse::Mode::Strict) {
            Ok(x) => {
                let size: u64 = x.entries.iter().map(|e| e.header.size()).sum();
                let unk: usize = x
                    .entries
                    .iter()
                    .filter_map(|e| e.smaps)
                    .map(|s| s.unknown_fields as usize)
                    .sum();
                println!(
                    "{:?} {} regions size={}kB unknown_fields={} {}",
                    x.format,
                    x.entries.len(),
                    size / 1024,
                    unk,
                    p
                )
            }
            Err(e) => println!("ERR {p}: {e}"),
        }
    }
}
