//! The digit pass: finds runs of digits and separators with a skip search, then reads cards, IBANs,
//! national identity numbers and decimal coordinate pairs out of each run.
//!
//! A run is a maximal stretch of bytes in [`RUN_CLASS`] (digits, space, `+`, `,`, `-`, `.`, `/`). Only
//! runs at least `min_run` long matter. The search classifies 64 bytes at a time with word-wide
//! arithmetic (SWAR: no branches, no `unsafe`), finds where `min_run` class bytes in a row start with
//! a few shifts of the block's bit mask, and touches bytes one by one only to find a run's end.

use super::checks;

/// Bytes a run is made of: space and `+` through `9` (`+ , - . /` and the digits).
static RUN_CLASS: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = b'+';
    while c <= b'9' {
        t[c as usize] = true;
        c += 1;
    }
    t[b' ' as usize] = true;
    t
};

#[inline]
fn in_class(b: u8) -> bool {
    RUN_CLASS[usize::from(b)]
}

#[inline]
fn digit(b: u8) -> bool {
    b.is_ascii_digit()
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// One bit per byte of `word` (little-endian: bit i for byte i) set when the byte is in the class.
#[inline]
fn class_bits(word: u64) -> u64 {
    let low = word & !HIGH;
    // Per byte, without carries (every byte of `low` is under 0x80): the high bit of `low + (0x80 - k)`
    // is set when the byte is at least k.
    let at_least_plus = low + ONES * (0x80 - u64::from(b'+'));
    let above_nine = low + ONES * (0x80 - u64::from(b'9') - 1);
    let space = !((low ^ (ONES * u64::from(b' '))) + ONES * 0x7f);
    let high_bits = ((at_least_plus & !above_nine) | space) & !word & HIGH;
    // Gather the eight high bits into one byte.
    ((high_bits >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// The class mask of the 64 bytes at `base` (bytes past the end count as outside the class).
#[inline(always)]
fn block_mask(b: &[u8], base: usize) -> u64 {
    match b.get(base..base + 64) {
        Some(block) => {
            let mut mask = 0u64;
            for (k, chunk) in block.chunks_exact(8).enumerate() {
                let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
                mask |= class_bits(word) << (8 * k);
            }
            mask
        }
        None => b
            .get(base..)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .fold(0u64, |mask, (k, c)| mask | (u64::from(in_class(*c)) << k)),
    }
}

/// Calls `f(start, end)` for every maximal run of [`RUN_CLASS`] bytes at least `min_run` long, in order.
pub(crate) fn runs(b: &[u8], min_run: usize, f: impl FnMut(usize, usize)) {
    // The usual lengths get a copy of the search with the shifts known at compile time.
    match min_run {
        9 => runs_of::<9>(b, 9, f),
        10 => runs_of::<10>(b, 10, f),
        11 => runs_of::<11>(b, 11, f),
        13 => runs_of::<13>(b, 13, f),
        other => runs_of::<0>(b, other, f),
    }
}

/// [`runs`] for `min_run` (equal to `K` unless `K` is 0).
#[inline(always)]
fn runs_of<const K: usize>(b: &[u8], min_run: usize, mut f: impl FnMut(usize, usize)) {
    let k = if K == 0 { min_run.clamp(1, 64) } else { K };
    let n = b.len();
    let mut covered = 0usize; // runs found so far end before this
    let mut base = 0usize;
    let mut current = block_mask(b, 0);
    while base < n {
        let next = block_mask(b, base + 64);
        if current != 0 {
            // Bit p of `long`: bytes base+p .. base+p+k-1 are all in the class (the next block's
            // mask supplies the bytes past this one). Doubling: runs of len, then of len + step.
            let (mut long, mut ahead) = (current, next);
            let mut len = 1usize;
            while len < k {
                let step = len.min(k - len); // 1..=32
                long &= (long >> step) | (ahead << (64 - step));
                ahead &= ahead >> step;
                len += step;
            }
            let mut starts = long & !(long << 1);
            while starts != 0 {
                let start = base + starts.trailing_zeros() as usize;
                starts &= starts - 1;
                if start < covered {
                    continue;
                }
                let mut end = start + k;
                while end < n && in_class(b[end]) {
                    end += 1;
                }
                f(start, end);
                covered = end + 1;
            }
        }
        current = next;
        base += 64;
    }
}

/// Whether a number spanning `start..end` stands on its own: no letter, digit or underscore
/// touching it, and not the fraction or integer part of a decimal number (a comma next to it is a
/// list separator, as in CSV).
pub(crate) fn stands_alone(b: &[u8], start: usize, end: usize) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let before_ok = match start.checked_sub(1).map(|i| b[i]) {
        None => true,
        Some(c) if word(c) => false,
        Some(b'.') => !(start >= 2 && digit(b[start - 2])),
        Some(_) => true,
    };
    let after_ok = match b.get(end) {
        None => true,
        Some(&c) if word(c) => false,
        Some(b'.') => !b.get(end + 1).is_some_and(|c| digit(*c)),
        Some(_) => true,
    };
    before_ok && after_ok
}

/// A group of digits in a candidate, and the single separator before it (0 for the first).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Group {
    pub start: usize,
    pub end: usize,
    pub sep_before: u8,
}

impl Group {
    pub fn len(&self) -> usize {
        self.end - self.start
    }
}

/// The most groups one candidate holds; a longer chain is cut into several candidates.
const MAX_GROUPS: usize = 24;

/// Calls `f` with each chain of digit groups joined by single spaces or dashes in `b[start..end]`.
pub(crate) fn candidates(b: &[u8], start: usize, end: usize, mut f: impl FnMut(&[Group])) {
    let mut groups = [Group::default(); MAX_GROUPS];
    let mut i = start;
    while i < end {
        if !digit(b[i]) {
            i += 1;
            continue;
        }
        let mut count = 0usize;
        let mut sep = 0u8;
        loop {
            let group_start = i;
            while i < end && digit(b[i]) {
                i += 1;
            }
            groups[count] = Group { start: group_start, end: i, sep_before: sep };
            count += 1;
            let joined = i + 1 < end && (b[i] == b' ' || b[i] == b'-') && digit(b[i + 1]);
            if !joined || count == MAX_GROUPS {
                break;
            }
            sep = b[i];
            i += 1;
        }
        f(&groups[..count]);
    }
}

/// Copies the digits of `groups` into `buf`; returns how many (at most `buf.len()`).
fn gather(b: &[u8], groups: &[Group], buf: &mut [u8]) -> usize {
    let mut n = 0;
    for g in groups {
        for &c in &b[g.start..g.end] {
            if n == buf.len() {
                return n;
            }
            buf[n] = c;
            n += 1;
        }
    }
    n
}

/// Payment cards in a candidate: 13–19 digits over whole groups, Luhn-valid, with a plausible issuer.
/// Calls `found(start, end)`.
pub(crate) fn cards(b: &[u8], groups: &[Group], mut found: impl FnMut(usize, usize)) {
    let mut i = 0;
    while i < groups.len() {
        match card_from(b, groups, i) {
            Some(j) => {
                found(groups[i].start, groups[j].end);
                i = j + 1;
            }
            None => i += 1,
        }
    }
}

/// The last group of the card that starts at group `i`, if one does.
fn card_from(b: &[u8], groups: &[Group], i: usize) -> Option<usize> {
    // Every scheme's numbers start with 2 to 6.
    if !(b'2'..=b'6').contains(&b[groups[i].start]) {
        return None;
    }
    let mut digits = 0usize;
    for (j, group) in groups.iter().enumerate().skip(i) {
        digits += group.len();
        if digits > 19 {
            return None;
        }
        if digits < 13 {
            continue;
        }
        let mut buf = [0u8; 19];
        let n = gather(b, &groups[i..=j], &mut buf);
        let (start, end) = (groups[i].start, group.end);
        if checks::card_issuer_plausible(&buf[..n]) && checks::luhn(&buf[..n]) && stands_alone(b, start, end) {
            return Some(j);
        }
    }
    None
}

fn number(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |acc, d| acc.wrapping_mul(10).wrapping_add(u32::from(d - b'0')))
}

/// Whether groups `i..j` are not glued by dashes to their neighbours (`123-45-6789-1` is not an SSN).
fn dash_isolated(groups: &[Group], i: usize, j: usize) -> bool {
    groups[i].sep_before != b'-' && groups.get(j).is_none_or(|g| g.sep_before != b'-')
}

/// US SSNs written AAA-GG-SSSS in a candidate, within the issued ranges.
pub(crate) fn us_ssns(b: &[u8], groups: &[Group], mut found: impl FnMut(usize, usize)) {
    for i in 0..groups.len().saturating_sub(2) {
        let (a, g, s) = (groups[i], groups[i + 1], groups[i + 2]);
        if (a.len(), g.len(), s.len()) != (3, 2, 4) || g.sep_before != b'-' || s.sep_before != b'-' {
            continue;
        }
        if !dash_isolated(groups, i, i + 3) {
            continue;
        }
        let (area, group, serial) =
            (number(&b[a.start..a.end]), number(&b[g.start..g.end]), number(&b[s.start..s.end]));
        if checks::ssn_plausible(area, group, serial) && stands_alone(b, a.start, s.end) {
            found(a.start, s.end);
        }
    }
}

/// Swedish personnummer in a candidate: YYMMDD-NNNC, YYYYMMDD-NNNC or YYYYMMDDNNNC (century 18–20).
pub(crate) fn se_personnummer(b: &[u8], groups: &[Group], mut found: impl FnMut(usize, usize)) {
    let century_ok = |d: &[u8]| matches!(&d[..2], b"18" | b"19" | b"20");
    for i in 0..groups.len() {
        let g = groups[i];
        let mut ten = [0u8; 10];
        let span = if g.len() == 12 && dash_isolated(groups, i, i + 1) && century_ok(&b[g.start..]) {
            ten.copy_from_slice(&b[g.start + 2..g.end]);
            Some((g.start, g.end))
        } else if let Some(next) = groups.get(i + 1).filter(|n| n.len() == 4 && n.sep_before == b'-') {
            let date = match g.len() {
                6 => Some(&b[g.start..g.end]),
                8 if century_ok(&b[g.start..]) => Some(&b[g.start + 2..g.end]),
                _ => None,
            };
            match date {
                Some(date) if dash_isolated(groups, i, i + 2) => {
                    ten[..6].copy_from_slice(date);
                    ten[6..].copy_from_slice(&b[next.start..next.end]);
                    Some((g.start, next.end))
                }
                _ => None,
            }
        } else {
            None
        };
        if let Some((start, end)) = span {
            if checks::personnummer(&ten) && stands_alone(b, start, end) {
                found(start, end);
            }
        }
    }
}

/// Dutch BSNs: a lone group of 9 digits passing the 11-proof.
pub(crate) fn nl_bsns(b: &[u8], groups: &[Group], mut found: impl FnMut(usize, usize)) {
    if let [g] = groups {
        if g.len() == 9 && checks::eleven_proof(&b[g.start..g.end]) && stands_alone(b, g.start, g.end) {
            found(g.start, g.end);
        }
    }
}

/// The IBAN (`CCkk` then letters and digits, optionally in groups of four separated by single
/// spaces) that starts at most 24 bytes before `at` and reaches past it, if any.
pub(crate) fn iban_covering(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let first = at.saturating_sub(24);
    for c in first..at.saturating_sub(1) {
        let head = b.get(c..c + 4)?;
        let starts = head[0].is_ascii_uppercase()
            && head[1].is_ascii_uppercase()
            && digit(head[2])
            && digit(head[3])
            && (c == 0 || !b[c - 1].is_ascii_alphanumeric());
        if !starts {
            continue;
        }
        if let Some(end) = iban_at(b, c) {
            if end > at {
                return Some((c, end));
            }
        }
    }
    None
}

fn iban_at(b: &[u8], c: usize) -> Option<usize> {
    let length = checks::iban_length([b[c], b[c + 1]])?;
    let mut buf = [0u8; 34];
    let mut count = 0usize;
    let mut pos = c;
    while count < length {
        let ch = *b.get(pos)?;
        if ch.is_ascii_uppercase() || digit(ch) {
            buf[count] = ch;
            count += 1;
            pos += 1;
        } else if ch == b' ' && count.is_multiple_of(4) && b.get(pos + 1).is_some_and(|n| n.is_ascii_alphanumeric()) {
            pos += 1;
        } else {
            return None;
        }
    }
    if b.get(pos).is_some_and(|n| n.is_ascii_alphanumeric()) {
        return None;
    }
    checks::iban_mod97(&buf[..count]).then_some(pos)
}

/// A decimal number at `i` (optional sign, 1–3 integer digits, a point, at least one decimal):
/// its value, where it ends and how many decimals it has.
fn decimal(b: &[u8], i: usize, end: usize) -> Option<(f64, usize, usize)> {
    let mut p = i;
    let negative = match b.get(p) {
        Some(b'-') => {
            p += 1;
            true
        }
        Some(b'+') => {
            p += 1;
            false
        }
        _ => false,
    };
    let int_start = p;
    while p < end && digit(b[p]) {
        p += 1;
    }
    let int_len = p - int_start;
    if !(1..=3).contains(&int_len) || b.get(p) != Some(&b'.') {
        return None;
    }
    p += 1;
    let frac_start = p;
    while p < end && digit(b[p]) && p - frac_start < 12 {
        p += 1;
    }
    let decimals = p - frac_start;
    if decimals == 0 || p < end && digit(b[p]) {
        return None;
    }
    let whole = f64::from(number(&b[int_start..int_start + int_len]));
    let fraction = f64::from(number(&b[frac_start..p.min(frac_start + 9)])) / 10f64.powi(decimals.min(9) as i32);
    let value = whole + fraction;
    Some((if negative { -value } else { value }, p, decimals))
}

/// The fewest decimals a bare coordinate needs (4 decimals locate to about 11 m).
pub(crate) const PAIR_DECIMALS: usize = 4;

/// Latitude/longitude pairs such as `48.8584, 2.2945` in `b[start..end]`: each with at least
/// [`PAIR_DECIMALS`] decimals, latitude within ±90, longitude within ±180, not both zero.
pub(crate) fn decimal_pairs(b: &[u8], start: usize, end: usize, mut found: impl FnMut(usize, usize)) {
    // A pair has a point before a comma: most runs (integers, timestamps, dates) have neither.
    let Some(first_point) = memchr::memchr(b'.', &b[start..end]) else { return };
    if memchr::memchr(b',', &b[start + first_point..end]).is_none() {
        return;
    }
    let mut i = start;
    while i < end {
        let c = b[i];
        let can_start = (digit(c) || c == b'-' || c == b'+')
            && (i == 0 || !(digit(b[i - 1]) || b[i - 1] == b'.' || b[i - 1].is_ascii_alphabetic()));
        if !can_start {
            i += 1;
            continue;
        }
        let Some((lat, lat_end, lat_decimals)) = decimal(b, i, end) else {
            i += 1;
            continue;
        };
        let mut j = lat_end;
        while j < end && b[j] == b' ' {
            j += 1;
        }
        if j >= end || b[j] != b',' {
            i = lat_end;
            continue;
        }
        j += 1;
        while j < end && b[j] == b' ' {
            j += 1;
        }
        let Some((lon, lon_end, lon_decimals)) = decimal(b, j, end) else {
            i = lat_end;
            continue;
        };
        let ends_alone = match b.get(lon_end) {
            None => true,
            Some(&c) if c.is_ascii_alphanumeric() => false,
            Some(b'.') => !b.get(lon_end + 1).is_some_and(|c| digit(*c)),
            Some(_) => true,
        };
        if lat_decimals >= PAIR_DECIMALS
            && lon_decimals >= PAIR_DECIMALS
            && lat.abs() <= 90.0
            && lon.abs() <= 180.0
            && (lat != 0.0 || lon != 0.0)
            && ends_alone
        {
            found(i, lon_end);
            i = lon_end;
        } else {
            i = lat_end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_runs(b: &[u8], k: usize) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        runs(b, k, |s, e| v.push((s, e)));
        v
    }

    fn naive_runs(b: &[u8], k: usize) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if in_class(b[i]) {
                let s = i;
                while i < b.len() && in_class(b[i]) {
                    i += 1;
                }
                if i - s >= k {
                    v.push((s, i));
                }
            } else {
                i += 1;
            }
        }
        v
    }

    #[test]
    fn the_skip_search_finds_exactly_the_long_runs() {
        let samples: [&[u8]; 5] = [
            b"abc 4111 1111 1111 1111 def",
            b"0123456789",
            b"x123456789y1234567890z",
            b"           a",
            b"12,34.56-78 9 x 1",
        ];
        for s in samples {
            for k in 1..12 {
                assert_eq!(all_runs(s, k), naive_runs(s, k), "{:?} k={k}", String::from_utf8_lossy(s));
            }
        }
    }

    #[test]
    fn the_block_search_agrees_with_a_byte_by_byte_one_across_block_boundaries() {
        // A fixed pseudo-random mix of class and other bytes, long runs included, over many blocks.
        let alphabet = b"0123456789 -.,+/x\"a:";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut text = Vec::new();
        for _ in 0..3000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let c = alphabet[(state % alphabet.len() as u64) as usize];
            let repeat = if state.is_multiple_of(11) { (state >> 20) % 90 } else { 1 };
            text.extend(std::iter::repeat_n(c, repeat as usize));
        }
        for k in 1..=64 {
            for skip in [0, 1, 63, 64, 65] {
                let t = &text[skip..];
                assert_eq!(all_runs(t, k), naive_runs(t, k), "k={k} skip={skip}");
            }
        }
    }

    #[test]
    fn decimal_pairs_need_ranges_and_decimals() {
        let find = |s: &str| {
            let mut v = Vec::new();
            decimal_pairs(s.as_bytes(), 0, s.len(), |a, b| v.push((a, b)));
            v
        };
        assert_eq!(find("48.8584, 2.2945"), vec![(0, 15)]);
        assert_eq!(find("-33.8568,151.2153"), vec![(0, 17)]);
        assert!(find("48.85, 2.29").is_empty(), "too few decimals");
        assert!(find("98.8584, 2.2945").is_empty(), "latitude out of range");
        assert!(find("48.8584, 200.2945").is_empty(), "longitude out of range");
        assert!(find("0.0000, 0.0000").is_empty());
        assert!(find("1.2.48.8584, 2.2945").is_empty(), "part of a dotted number");
    }
}
