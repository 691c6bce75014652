use super::*;

#[test]
fn smoke() {
    let t = b"00400000-00401000 r-xp 00000000 08:01 12 /bin/true\n";
    let v: Vec<_> = Parser::new(t).collect();
    assert_eq!(v.len(), 1);
}
