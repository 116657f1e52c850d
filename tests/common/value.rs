//! A decoded RESP reply, for tests that read into a reply rather than compare its bytes.
//! Maps and sets are flattened to arrays (their exact shapes are checked on the bytes);
//! simple strings stay apart from bulk strings.

#[derive(Debug, Clone, PartialEq)]
pub enum V {
    /// `+...`
    Simple(String),
    /// `$n` (UTF-8, lossy).
    Str(String),
    Err(String),
    Int(i64),
    /// `,...` as sent.
    Double(String),
    /// `$-1`, `*-1`, `_`.
    Nil,
    /// `*`; and `%` (key, value, ...) and `~` flattened.
    Arr(Vec<V>),
}

impl V {
    /// The items of an array.
    #[track_caller]
    pub fn arr(&self) -> &[V] {
        match self {
            V::Arr(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }

    /// The text of a bulk string.
    #[track_caller]
    pub fn str(&self) -> &str {
        match self {
            V::Str(s) => s,
            other => panic!("not a bulk string: {other:?}"),
        }
    }

    /// The value of field `name` in a map reply (RESP2 flat array or RESP3 map), if any.
    pub fn field(&self, name: &str) -> Option<&V> {
        let V::Arr(items) = self else {
            panic!("not a map: {self:?}")
        };
        assert!(items.len().is_multiple_of(2), "odd map: {self:?}");
        items.chunks(2).find(|kv| kv[0] == V::Str(name.into())).map(|kv| &kv[1])
    }

    /// As `field`, for a field that must be there.
    #[track_caller]
    pub fn get(&self, name: &str) -> &V {
        self.field(name)
            .unwrap_or_else(|| panic!("no field {name} in {self:?}"))
    }

    #[track_caller]
    pub fn get_str(&self, name: &str) -> String {
        match self.get(name) {
            V::Str(s) => s.clone(),
            other => panic!("{name} is not a bulk string: {other:?}"),
        }
    }

    #[track_caller]
    pub fn get_int(&self, name: &str) -> i64 {
        match self.get(name) {
            V::Int(i) => *i,
            other => panic!("{name} is not an integer: {other:?}"),
        }
    }
}

/// Parses exactly one reply (RESP2 or RESP3); trailing bytes fail the test.
#[track_caller]
pub fn parse(b: &[u8]) -> V {
    let (v, n) = parse_at(b, 0, true);
    assert_eq!(
        n,
        b.len(),
        "trailing bytes after a reply: {:?}",
        String::from_utf8_lossy(b)
    );
    v
}

/// As `parse`, for a reply that must be RESP2: a RESP3 type fails the test.
#[track_caller]
pub fn parse_resp2(b: &[u8]) -> V {
    let (v, n) = parse_at(b, 0, false);
    assert_eq!(
        n,
        b.len(),
        "trailing bytes after a reply: {:?}",
        String::from_utf8_lossy(b)
    );
    v
}

fn parse_at(b: &[u8], at: usize, resp3: bool) -> (V, usize) {
    let le = at + b[at..].windows(2).position(|w| w == b"\r\n").expect("CRLF");
    let head = String::from_utf8_lossy(&b[at + 1..le]).into_owned();
    let next = le + 2;
    let kind = b[at];
    assert!(
        resp3 || matches!(kind, b'+' | b'-' | b':' | b'$' | b'*'),
        "a RESP3 type in a RESP2 reply: {:?}",
        String::from_utf8_lossy(&b[at..])
    );
    match kind {
        b'+' => (V::Simple(head), next),
        b'-' => (V::Err(head), next),
        b':' => (V::Int(head.parse().unwrap()), next),
        b',' => (V::Double(head), next),
        b'_' => (V::Nil, next),
        b'$' => {
            let n: i64 = head.parse().unwrap();
            if n < 0 {
                return (V::Nil, next);
            }
            let end = next + n as usize;
            assert_eq!(&b[end..end + 2], b"\r\n", "bulk string end");
            (V::Str(String::from_utf8_lossy(&b[next..end]).into_owned()), end + 2)
        }
        b'*' | b'~' | b'%' => {
            let n: i64 = head.parse().unwrap();
            if n < 0 {
                return (V::Nil, next);
            }
            let count = if kind == b'%' { 2 * n } else { n };
            let mut pos = next;
            let mut items = Vec::new();
            for _ in 0..count {
                let (v, p) = parse_at(b, pos, resp3);
                items.push(v);
                pos = p;
            }
            (V::Arr(items), pos)
        }
        t => panic!("unexpected RESP type {:?}", t as char),
    }
}
