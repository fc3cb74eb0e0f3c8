//! The passes anchored on a rare byte or literal: e-mail addresses (`@`), NMEA sentences (`$G`) and
//! JSON latitude/longitude members (`"lat`), found with `memchr`/`memmem` and then validated.

use memchr::memmem;

fn local_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn domain_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'.'
}

/// Endings that look like a top-level domain but are file names (`icon@2x.png`).
const FILE_ENDINGS: [&[u8]; 9] = [b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"css", b"js", b"ico"];

/// E-mail addresses: a local part of 1–64 characters, `@`, and a domain of at least two labels
/// (1–63 letters, digits or inner dashes each) ending in an alphabetic top-level domain.
pub(crate) fn emails(b: &[u8], mut found: impl FnMut(usize, usize)) {
    let mut covered = 0usize;
    for at in memchr::memchr_iter(b'@', b) {
        if at < covered {
            continue;
        }
        let mut start = at;
        while start > 0 && local_char(b[start - 1]) && at - start < 64 {
            start -= 1;
        }
        if start > 0 && local_char(b[start - 1]) {
            continue; // longer than 64
        }
        while start < at && b[start] == b'.' {
            start += 1;
        }
        if start == at {
            continue;
        }
        let mut end = at + 1;
        while end < b.len() && domain_char(b[end]) && end - at <= 253 {
            end += 1;
        }
        while end > at + 1 && matches!(b[end - 1], b'.' | b'-') {
            end -= 1;
        }
        if valid_domain(&b[at + 1..end]) {
            found(start, end);
            covered = end;
        }
    }
}

fn valid_domain(d: &[u8]) -> bool {
    if d.is_empty() || d.len() > 253 {
        return false;
    }
    let mut labels = 0;
    let mut last: &[u8] = &[];
    for label in d.split(|c| *c == b'.') {
        if label.is_empty() || label.len() > 63 || label[0] == b'-' || label[label.len() - 1] == b'-' {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2
        && last.len() >= 2
        && last.iter().all(u8::is_ascii_alphabetic)
        && !FILE_ENDINGS.iter().any(|e| last.eq_ignore_ascii_case(e))
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// The longest NMEA 0183 sentence, `$` to the end of the checksum.
const NMEA_MAX: usize = 82;

/// NMEA 0183 sentences carrying a position: talker GP/GN/GL/GA/GB/GQ, sentence GGA, GNS, RMC or GLL,
/// a valid `*hh` checksum (XOR of the characters between `$` and `*`) and non-empty, in-range
/// latitude and longitude fields.
pub(crate) fn nmea(b: &[u8], finder: &memmem::Finder<'_>, mut found: impl FnMut(usize, usize)) {
    for start in finder.find_iter(b) {
        if let Some(end) = nmea_sentence(b, start) {
            found(start, end);
        }
    }
}

fn nmea_sentence(b: &[u8], start: usize) -> Option<usize> {
    let head = b.get(start..start + 7)?;
    if !matches!(head[2], b'P' | b'N' | b'L' | b'A' | b'B' | b'Q') || head[6] != b',' {
        return None;
    }
    let kind = &head[3..6];
    // Field positions of latitude (then N/S, longitude, E/W) after the address field.
    let lat_field = match kind {
        b"GGA" | b"GNS" => 2,
        b"RMC" => 3,
        b"GLL" => 1,
        _ => return None,
    };
    let limit = (start + NMEA_MAX).min(b.len());
    let star = start + 1 + memchr::memchr(b'*', b.get(start + 1..limit)?)?;
    let body = &b[start + 1..star];
    if !body.iter().all(|c| (0x20..0x7f).contains(c) && *c != b'$') {
        return None;
    }
    let checksum = body.iter().fold(0u8, |acc, c| acc ^ c);
    let (hi, lo) = (hex(*b.get(star + 1)?)?, hex(*b.get(star + 2)?)?);
    if (hi << 4 | lo) != checksum {
        return None;
    }
    let mut fields = body.split(|c| *c == b',').skip(lat_field);
    let (lat, ns, lon, ew) = (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
    let position =
        nmea_angle(lat, 2, 90) && matches!(ns, b"N" | b"S") && nmea_angle(lon, 3, 180) && matches!(ew, b"E" | b"W");
    position.then_some(star + 3)
}

/// `ddmm.mmmm` (or `dddmm.mmmm`): degrees within `max`, minutes under 60.
fn nmea_angle(field: &[u8], degree_digits: usize, max: u32) -> bool {
    let Some(point) = field.iter().position(|c| *c == b'.') else { return false };
    if point != degree_digits + 2 || !field.iter().enumerate().all(|(i, c)| i == point || c.is_ascii_digit()) {
        return false;
    }
    let value = |s: &[u8]| s.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    value(&field[..degree_digits]) <= max && value(&field[degree_digits..point]) < 60
}

/// The fewest decimals a JSON coordinate needs (its key says what it is; 3 decimals ≈ 110 m).
const JSON_DECIMALS: usize = 3;
/// How far apart the latitude and longitude members may be.
const JSON_WINDOW: usize = 96;

/// JSON members `"lat"`/`"latitude"` with a number (possibly quoted) and, within [`JSON_WINDOW`]
/// bytes before or after, `"lon"`/`"lng"`/`"long"`/`"longitude"`, both in range and with at least
/// [`JSON_DECIMALS`] decimals. Reports the span covering both members.
pub(crate) fn json_positions(
    b: &[u8],
    lat_finder: &memmem::Finder<'_>,
    lon_finders: &[memmem::Finder<'_>; 2],
    mut found: impl FnMut(usize, usize),
) {
    let mut covered = 0usize;
    for key in lat_finder.find_iter(b) {
        if key < covered {
            continue;
        }
        let Some((lat, lat_end)) = member(b, key, &[b"\"lat\"", b"\"latitude\""]) else { continue };
        if lat.abs() > 90.0 {
            continue;
        }
        let from = key.saturating_sub(JSON_WINDOW);
        let to = (lat_end + JSON_WINDOW).min(b.len());
        let lon = lon_finders.iter().flat_map(|f| f.find_iter(&b[from..to]).map(move |i| from + i)).find_map(|k| {
            member(b, k, &[b"\"lon\"", b"\"lng\"", b"\"long\"", b"\"longitude\""]).map(|(v, end)| (k, v, end))
        });
        let Some((lon_key, lon, lon_end)) = lon else { continue };
        if lon.abs() > 180.0 || (lat == 0.0 && lon == 0.0) {
            continue;
        }
        let (start, end) = (key.min(lon_key), lat_end.max(lon_end));
        found(start, end);
        covered = end;
    }
}

/// A member `"key": number` (or `"key": "number"`) at `at`, for one of `keys`: its value and end.
fn member(b: &[u8], at: usize, keys: &[&[u8]]) -> Option<(f64, usize)> {
    let key = keys.iter().find(|k| b[at..].starts_with(k))?;
    let mut p = at + key.len();
    let skip_ws = |p: &mut usize| {
        while b.get(*p).is_some_and(|c| c.is_ascii_whitespace()) {
            *p += 1;
        }
    };
    skip_ws(&mut p);
    if b.get(p) != Some(&b':') {
        return None;
    }
    p += 1;
    skip_ws(&mut p);
    let quoted = b.get(p) == Some(&b'"');
    if quoted {
        p += 1;
    }
    let num_start = p;
    if b.get(p) == Some(&b'-') {
        p += 1;
    }
    while b.get(p).is_some_and(u8::is_ascii_digit) {
        p += 1;
    }
    if b.get(p) != Some(&b'.') {
        return None;
    }
    p += 1;
    let frac_start = p;
    while b.get(p).is_some_and(u8::is_ascii_digit) {
        p += 1;
    }
    if p - frac_start < JSON_DECIMALS {
        return None;
    }
    let value: f64 = std::str::from_utf8(&b[num_start..p]).ok()?.parse().ok()?;
    if quoted {
        if b.get(p) != Some(&b'"') {
            return None;
        }
        p += 1;
    }
    Some((value, p))
}
