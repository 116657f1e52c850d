//! Number parsing with Redis's exact rules (`string2ll`, `string2l`, `string2d`, `string2ld`), the
//! x87 long double INCRBYFLOAT computes in, and its `ld2string` formatting. Shared by the
//! protocol decoder and the commands.

use rustc_apfloat::ieee::{Double, X87DoubleExtended};
use rustc_apfloat::{Float, Round, Status};

/// Parses a signed 64-bit integer like Redis's `string2ll`: an optional `-`, digits, no `+`,
/// no leading zeros, no spaces, nothing else.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Parses an unsigned 64-bit cursor like Redis's `parseScanCursorOrReply` (`strtoull` with the
/// whole string consumed). Leading spaces or a sign are refused, as is an empty string.
pub fn parse_u64_cursor(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

/// A number as glibc's `strtod`/`strtold` reads it, once the grammar has been checked.
enum Lexed {
    Infinite {
        negative: bool,
    },
    /// A finite number rewritten in the canonical form `rustc_apfloat` parses: an optional
    /// `-`, then `digits[.digits]e<exp>` or `0x<hexdigits>[.hexdigits]p<exp>`.
    Finite(String),
}

/// Exponents beyond this cannot matter: a string shorter than 5120 bytes shifts its value by
/// fewer than 5120 decimal (20480 binary) places, and 80-bit long doubles end near 2^±16445.
/// Clamping keeps `1e99999999999999999999` an overflow instead of an exponent parse failure.
const EXP_CLAMP: i64 = 100_000;

/// Checks `s` against the grammar of C's `strtod`/`strtold` (glibc, "C" locale) with the whole
/// string consumed, as Redis's `string2d`/`string2ld` require: an optional sign, then `inf`,
/// `infinity` (any case), a decimal number with an optional exponent, or a hexadecimal one
/// (`0x1.8p3`, the binary exponent optional). NaN and leading spaces are refused, as Redis does.
fn lex(s: &[u8]) -> Option<Lexed> {
    if s.is_empty() || s[0].is_ascii_whitespace() || s[0] == 0x0b {
        return None;
    }
    let (negative, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(Lexed::Infinite { negative });
    }
    let hex = body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x';
    let (digits_of, mantissa, exp_marker): (fn(&u8) -> bool, &[u8], u8) = if hex {
        (u8::is_ascii_hexdigit, &body[2..], b'p')
    } else {
        (u8::is_ascii_digit, body, b'e')
    };
    // The mantissa: digits with at most one point, at least one digit.
    let int_len = mantissa.iter().take_while(|c| digits_of(c)).count();
    let mut pos = int_len;
    let mut frac_len = 0;
    if mantissa.get(pos) == Some(&b'.') {
        frac_len = mantissa[pos + 1..].iter().take_while(|c| digits_of(c)).count();
        pos += 1 + frac_len;
    }
    if int_len + frac_len == 0 {
        return None;
    }
    let (digits, rest) = mantissa.split_at(pos);
    // The exponent: a marker, an optional sign, at least one decimal digit (strtold would
    // leave an incomplete exponent unconsumed, which Redis refuses as trailing junk).
    let mut exp: i64 = 0;
    if !rest.is_empty() {
        if (rest[0] | 0x20) != exp_marker {
            return None;
        }
        let (exp_negative, exp_digits) = match rest.get(1) {
            Some(b'-') => (true, &rest[2..]),
            Some(b'+') => (false, &rest[2..]),
            _ => (false, &rest[1..]),
        };
        if exp_digits.is_empty() || !exp_digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        for &d in exp_digits {
            exp = (exp * 10 + (d - b'0') as i64).min(EXP_CLAMP);
        }
        if exp_negative {
            exp = -exp;
        }
    }
    let mut out = String::with_capacity(digits.len() + 12);
    if negative {
        out.push('-');
    }
    if hex {
        out.push_str("0x");
    }
    // The grammar check above admits only ASCII here.
    out.push_str(std::str::from_utf8(digits).ok()?);
    out.push(exp_marker as char);
    out.push_str(itoa::Buffer::new().format(exp));
    Some(Lexed::Finite(out))
}

/// Parses `s` like glibc with `errno` checks as Redis does: overflow (`±HUGE_VAL` with
/// ERANGE) and underflow to zero are refused, a denormal result is accepted.
fn parse_ieee<F: Float>(s: &[u8]) -> Option<F> {
    match lex(s)? {
        Lexed::Infinite { negative } => Some(if negative { -F::INFINITY } else { F::INFINITY }),
        Lexed::Finite(text) => {
            let r = F::from_str_r(&text, Round::NearestTiesToEven).ok()?;
            let out_of_range =
                r.status.contains(Status::OVERFLOW) || (r.status.contains(Status::UNDERFLOW) && r.value.is_zero());
            (!out_of_range && !r.value.is_nan()).then_some(r.value)
        }
    }
}

/// Parses a double like Redis's `string2d` (`strtod` with the whole string consumed, no
/// leading space, no NaN, no overflow or underflow to zero; hex floats and `inf` accepted).
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let v: Double = parse_ieee(s)?;
    Some(f64::from_bits(v.to_bits() as u64))
}

/// Redis's `MAX_LONG_DOUBLE_CHARS`: `string2ld` refuses inputs of this length or longer.
pub const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// A C `long double` as Redis has it on x86-64: the x87 80-bit extended format (64-bit
/// significand, 15-bit exponent). INCRBYFLOAT computes in it, so its replies (`5.6 + 5000` is
/// `5005.60000000000000009`) can only be reproduced with the same format, not with `f64`.
#[derive(Debug, Clone, Copy)]
pub struct LongDouble(X87DoubleExtended);

impl LongDouble {
    pub const ZERO: LongDouble = LongDouble(X87DoubleExtended::ZERO);

    /// Parses like Redis's `string2ld`: at most 5119 bytes, `strtold`'s grammar with the whole
    /// string consumed, no leading space, no NaN, no overflow, no underflow to zero.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.len() >= MAX_LONG_DOUBLE_CHARS {
            return None;
        }
        parse_ieee(s).map(LongDouble)
    }

    /// The sum, rounded to nearest-even as the x87 unit does (an overflow gives infinity).
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, other: LongDouble) -> LongDouble {
        LongDouble(self.0.add_r(other.0, Round::NearestTiesToEven).value)
    }

    /// False for infinities and NaN.
    pub fn is_finite(self) -> bool {
        self.0.is_finite()
    }

    /// Formats like Redis's `ld2string(.., LD_STR_HUMAN)`: `printf("%.17Lf")` (fixed notation,
    /// correctly rounded half-to-even from the exact binary value), then trailing zeros and a
    /// trailing point removed, and `-0` written as `0`. Finite values only.
    pub fn to_human(self) -> String {
        let bits = self.0.to_bits();
        let negative = (bits >> 79) & 1 == 1;
        let biased = ((bits >> 64) & 0x7fff) as i64;
        let significand = bits as u64;
        // value = significand * 2^shift; a zero biased exponent (denormal) counts as 1.
        let shift = biased.max(1) - 16383 - 63;
        let mut text = if shift >= 0 {
            // An integer: its 17 fraction digits are zeros, which the trimming removes.
            big_decimal(significand, shift as u32)
        } else {
            // The fraction needs rounding: round(significand * 10^17 / 2^-shift) fits in
            // u128, since significand * 10^17 < 2^121.
            let scaled = significand as u128 * 100_000_000_000_000_000u128;
            let n = shr_round_even(scaled, (-shift) as u32);
            let digits = n.to_string();
            let digits = format!("{:0>18}", digits);
            let (int, frac) = digits.split_at(digits.len() - 17);
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                int.to_string()
            } else {
                format!("{}.{}", int, frac)
            }
        };
        if negative && text != "0" {
            text.insert(0, '-');
        }
        text
    }
}

/// `v >> n`, rounded to nearest with ties to even.
fn shr_round_even(v: u128, n: u32) -> u128 {
    if n == 0 {
        return v;
    }
    if n >= 128 {
        // v < 2^127 here (at most 2^121), below half of 2^n: rounds to zero.
        return 0;
    }
    let q = v >> n;
    let rem = v & ((1u128 << n) - 1);
    let half = 1u128 << (n - 1);
    if rem > half || (rem == half && q & 1 == 1) {
        q + 1
    } else {
        q
    }
}

/// The decimal digits of `m * 2^shift` (up to about 4933 digits for the largest long double).
fn big_decimal(m: u64, shift: u32) -> String {
    // Little-endian base-2^32 limbs.
    let mut limbs: Vec<u32> = vec![0; (shift / 32) as usize];
    let wide = (m as u128) << (shift % 32);
    limbs.extend([wide as u32, (wide >> 32) as u32, (wide >> 64) as u32]);
    while limbs.last() == Some(&0) {
        limbs.pop();
    }
    // Peel off nine decimal digits at a time.
    let mut chunks = Vec::new();
    while !limbs.is_empty() {
        let mut rem = 0u64;
        for limb in limbs.iter_mut().rev() {
            let cur = (rem << 32) | *limb as u64;
            *limb = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        chunks.push(rem as u32);
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
    }
    let mut out = String::with_capacity(chunks.len() * 9);
    match chunks.pop() {
        Some(top) => out.push_str(&top.to_string()),
        None => return "0".into(),
    }
    for c in chunks.iter().rev() {
        out.push_str(&format!("{:09}", c));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b"1 "), None);
        assert_eq!(parse_i64(b""), None);
        assert_eq!(parse_i64(b"1a"), None);
    }

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"abc"), None);
        assert_eq!(parse_f64(b"0x1p-2"), Some(0.25));
        assert_eq!(parse_f64(b"1e400"), None);
        assert_eq!(parse_f64(b"1e-400"), None);
        assert_eq!(parse_f64(b"5e-324"), Some(5e-324));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        assert_eq!(parse_f64(b"5."), Some(5.0));
        assert_eq!(parse_f64(b"1e"), None);
    }

    fn incr(a: &str, b: &str) -> Option<String> {
        let v = LongDouble::parse(a.as_bytes())?.add(LongDouble::parse(b.as_bytes())?);
        v.is_finite().then(|| v.to_human())
    }

    #[test]
    fn long_double_sums() {
        assert_eq!(incr("5.6", "5000").as_deref(), Some("5005.60000000000000009"));
        assert_eq!(incr("10.5", "0.1").as_deref(), Some("10.6"));
        assert_eq!(incr("0", "-0.0").as_deref(), Some("0"));
        assert_eq!(incr("-0.0", "-0.0").as_deref(), Some("0"));
        assert_eq!(incr("0", "0x1p-18").as_deref(), Some("0.00000381469726562"));
        assert_eq!(incr("0", "-1e-30").as_deref(), Some("0"));
        assert_eq!(incr("0", "1e4932"), incr("1e4932", "-0"));
        assert_eq!(incr("1e4932", "1e4932"), None);
        assert_eq!(incr("inf", "-inf"), None);
        assert!(LongDouble::parse(b"1e5000").is_none());
        assert!(LongDouble::parse(b"1e-5000").is_none());
        assert!(LongDouble::parse(b"0e-5000").is_some());
        assert!(LongDouble::parse(b"0x1p-16445").is_some());
        assert!(LongDouble::parse(b"1\x002").is_none());
        assert!(LongDouble::parse(&[b'1'; MAX_LONG_DOUBLE_CHARS]).is_none());
        assert_eq!(big_decimal(1, 64), "18446744073709551616");
        assert_eq!(big_decimal(0, 3), "0");
    }
}
