//! Redis's glob matcher (`stringmatchlen` in util.c), byte for byte, for KEYS, SCAN MATCH and
//! CONFIG GET.
//!
//! Rules: `*` any run, `?` one byte, `[abc]`, `[^a]`, `[a-z]` (reversed ranges allowed), `\x`
//! escapes, an unterminated `[` matches as if closed. The C quirks are kept on purpose, since
//! clients see them: range ends compare as signed `char` (`[a-\xff]` does not match `\xc3`),
//! `[]` never matches, `[^]` matches any byte, `[a-]` eats the closing bracket, `]` first in a
//! class is not a literal, `!` does not negate.
//!
//! Two guards keep hostile patterns cheap: Redis's `skipLongerMatches` (once the rest of a
//! pattern fails from every position, no earlier `*` can help, so the search stops instead of
//! backtracking exponentially) and Redis's nesting limit (1000), so that a pattern of many
//! stars cannot exhaust the stack; both change results exactly as they do in Redis.

const MAX_NESTING: usize = 1000;

/// True when `string` matches `pattern`.
pub fn matches(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip = false;
    match_impl(pattern, string, nocase, &mut skip, 0)
}

#[inline]
fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

#[inline]
fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// A byte as C's signed `char`.
#[inline]
fn signed(b: u8) -> i8 {
    b as i8
}

/// `tolower` on a signed char: only ASCII letters change (negative values are left alone, as
/// glibc's table does in the C locale).
#[inline]
fn lower(c: i8) -> i8 {
    if c >= 0 {
        (c as u8).to_ascii_lowercase() as i8
    } else {
        c
    }
}

fn match_impl(pattern: &[u8], string: &[u8], nocase: bool, skip: &mut bool, nesting: usize) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    let (mut p, mut s) = (0usize, 0usize);
    while p < pattern.len() && s < string.len() {
        match pattern[p] {
            b'*' => {
                while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true;
                }
                while s < string.len() {
                    if match_impl(&pattern[p + 1..], &string[s..], nocase, skip, nesting + 1) {
                        return true;
                    }
                    if *skip {
                        return false;
                    }
                    s += 1;
                }
                *skip = true;
                return false;
            }
            b'?' => s += 1,
            b'[' => {
                p += 1;
                let not = at(pattern, p) == b'^';
                if not {
                    p += 1;
                }
                let c = string[s];
                let mut matched = false;
                loop {
                    let left = pattern.len().saturating_sub(p);
                    if at(pattern, p) == b'\\' && left >= 2 {
                        p += 1;
                        if pattern[p] == c {
                            matched = true;
                        }
                    } else if at(pattern, p) == b']' && left >= 1 {
                        break;
                    } else if left == 0 {
                        // Unterminated class: step back so the common `p += 1` below lands
                        // on the end of the pattern.
                        p -= 1;
                        break;
                    } else if left >= 3 && pattern[p + 1] == b'-' {
                        // C compares `char`s, signed on the platforms Redis ships for: bytes
                        // >= 0x80 are negative, so `[a-\xff]` is the range -1..=97 and does
                        // not match 0xc3, while `[\x80-\xff]` (-128..=-1) does.
                        let (mut start, mut end) = (signed(pattern[p]), signed(pattern[p + 2]));
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        let mut ch = signed(c);
                        if nocase {
                            start = lower(start);
                            end = lower(end);
                            ch = lower(ch);
                        }
                        p += 2;
                        if ch >= start && ch <= end {
                            matched = true;
                        }
                    } else if eq(pattern[p], c, nocase) {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s += 1;
            }
            b'\\' => {
                if pattern.len() - p >= 2 {
                    p += 1;
                }
                if !eq(pattern[p], string[s], nocase) {
                    return false;
                }
                s += 1;
            }
            other => {
                if !eq(other, string[s], nocase) {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
        if s == string.len() {
            while at(pattern, p) == b'*' && p < pattern.len() {
                p += 1;
            }
            break;
        }
    }
    p >= pattern.len() && s == string.len()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_cases() {
        let t = |p: &str, s: &str| matches(p.as_bytes(), s.as_bytes(), false);
        assert!(t("*", "anything"));
        assert!(t("foo*", "foobar"));
        assert!(!t("foo*", "fo"));
        assert!(t("h?llo", "hello"));
        assert!(t("h[ae]llo", "hallo"));
        assert!(!t("h[ae]llo", "hillo"));
        assert!(t("h[^e]llo", "hallo"));
        assert!(!t("h[^e]llo", "hello"));
        assert!(t("h[a-b]llo", "hbllo"));
        assert!(t("h[b-a]llo", "hallo"));
        assert!(t("a\\*b", "a*b"));
        assert!(!t("a\\*b", "axb"));
        assert!(t("[abc", "a"));
        assert!(t("*a*", "bab"));
        assert!(!t("", "a"));
        assert!(t("", ""));
        assert!(t("a*", "a"));
        assert!(t("[\\]]", "]"));
        assert!(matches(b"HELLO", b"hello", true));
    }

    #[test]
    fn ranges_compare_as_signed_char() {
        assert!(!matches(b"[a-\xff]", b"\xc3", false));
        assert!(matches(b"[a-\xff]", b"\xff", false));
        assert!(matches(b"[a-\xff]", b"0", false));
        assert!(matches(b"[\x80-\xff]", b"\xc3", false));
        assert!(!matches(b"[\x80-\xff]", b"a", false));
        assert!(matches(b"[\x80-!]", b"\x00", false));
        assert!(!matches(b"[\x80-!]", b"A", false));
        assert!(!matches(b"[a-\xff]", b"\xc3", true));
    }

    #[test]
    fn hostile_patterns_are_cheap() {
        let s = "a".repeat(60);
        let p = format!("{}b", "a*".repeat(30));
        assert!(!matches(p.as_bytes(), s.as_bytes(), false));
        let deep = "*a".repeat(100_000);
        assert!(!matches(deep.as_bytes(), "a".repeat(100).as_bytes(), false));
    }
}
