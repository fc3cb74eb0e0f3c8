//! Lines of keys in a block-style YAML file (Open5GS, PyHSS configurations), so that every finding
//! points at the line of its own key, not at the first line that merely looks like it (a combined
//! Open5GS `sample.yaml` has `security:` under `mme:` and again under `amf:`).
//!
//! The YAML is parsed by serde for its values; this only walks indentation: comments and blank lines
//! are skipped, `- key: value` list items count as an item plus a key two columns further in, and a
//! path segment `name[n]` is the n-th item of the list under `name`.

/// One significant line: its indentation, its key (if any) and whether it starts a list item.
#[derive(Debug)]
struct Entry {
    indent: usize,
    key: Option<String>,
    item: bool,
    line: u32,
}

fn key_of(content: &str) -> Option<String> {
    let (k, _) = content.split_once(':')?;
    let k = k.trim().trim_matches(|c| c == '"' || c == '\'');
    (!k.is_empty() && !k.starts_with('[') && !k.starts_with('{')).then(|| k.to_string())
}

fn entries(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let content = raw.trim_start();
        if content.is_empty() || content.starts_with('#') || content.starts_with("---") {
            continue;
        }
        let indent = raw.len() - content.len();
        let line = i as u32 + 1;
        if let Some(rest) = content.strip_prefix('-').filter(|r| r.is_empty() || r.starts_with(' ')) {
            out.push(Entry { indent, key: None, item: true, line });
            let inner = rest.trim_start();
            if !inner.is_empty() {
                let inner_indent = indent + 1 + (rest.len() - inner.len());
                out.push(Entry { indent: inner_indent, key: key_of(inner), item: false, line });
            }
        } else {
            out.push(Entry { indent, key: key_of(content), item: false, line });
        }
    }
    out
}

/// The indices of the direct children of the node at `parent` (`None`: the document root).
fn children(es: &[Entry], parent: Option<usize>) -> Vec<usize> {
    let (start, base) = match parent {
        Some(p) => (p + 1, Some(es[p].indent)),
        None => (0, None),
    };
    let mut end = es.len();
    for (j, e) in es.iter().enumerate().skip(start) {
        if base.is_some_and(|b| e.indent <= b) {
            end = j;
            break;
        }
    }
    let Some(min) = es[start..end].iter().map(|e| e.indent).min() else { return vec![] };
    (start..end).filter(|&j| es[j].indent == min).collect()
}

/// The 1-based line of the key at `path` (`["amf", "sbi", "server[0]", "address"]`), or `None`.
pub fn line_of(text: &str, path: &[&str]) -> Option<u32> {
    let es = entries(text);
    let mut at: Option<usize> = None;
    for seg in path {
        let (name, index) = match seg.strip_suffix(']').and_then(|s| s.split_once('[')) {
            Some((n, i)) => (n, Some(i.parse::<usize>().ok()?)),
            None => (*seg, None),
        };
        let node = children(&es, at).into_iter().find(|&j| es[j].key.as_deref() == Some(name))?;
        at = Some(node);
        if let Some(n) = index {
            let item = children(&es, Some(node)).into_iter().filter(|&j| es[j].item).nth(n)?;
            at = Some(item);
        }
    }
    at.map(|j| es[j].line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_key_under_its_own_parent() {
        let text = "# c\nmme:\n  security:\n    integrity_order : [ EIA2 ]\n\namf:\n  sbi:\n    server:\n      - address: 127.0.0.5\n        port: 7777\n      - address: 127.0.0.6\n#  security:\n  security:\n    integrity_order : [ NIA2 ]\n";
        assert_eq!(line_of(text, &["mme", "security", "integrity_order"]), Some(4));
        assert_eq!(line_of(text, &["amf", "security", "integrity_order"]), Some(14));
        assert_eq!(line_of(text, &["amf", "sbi", "server[0]"]), Some(9));
        assert_eq!(line_of(text, &["amf", "sbi", "server[1]", "address"]), Some(11));
        assert_eq!(line_of(text, &["amf", "sbi", "server[0]", "port"]), Some(10));
        assert_eq!(line_of(text, &["amf", "sbi", "server[2]"]), None);
        assert_eq!(line_of(text, &["smf"]), None);
    }
}
