//! freeDiameter configuration files (`freeDiameter.conf`, Open5GS's `configs/freeDiameter/*.conf`):
//! Diameter connections without TLS.
//!
//! The syntax is read as freeDiameter's parser reads it: `#` starts a comment anywhere outside a quoted
//! string, statements end with `;` whatever the line breaks, and `ConnectPeer = "id" { … };` holds the
//! peer's own statements. `No_TLS;` in a peer block means the connection to that peer is not protected
//! by TLS (freeDiameter: "assume transparent security instead of TLS") → `WA-NET-040`; the same
//! statement outside a block is reported too.

use std::path::Path;

use crate::report::{Location, Report};
use crate::AuditError;

/// One statement: its first line, its text (`ConnectTo = "127.0.0.8"`) and, for a block statement,
/// the statements inside the braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// 1-based line where it starts.
    pub line: u32,
    /// The text before `;` or `{`, whitespace collapsed, comments removed.
    pub text: String,
    /// Statements inside `{ … }`.
    pub block: Vec<Statement>,
}

impl Statement {
    /// The name before `=` (or the whole text for a flag such as `No_TLS`).
    pub fn name(&self) -> &str {
        self.text.split('=').next().unwrap_or("").trim()
    }

    /// The value after `=` with quotes removed (the first quoted string when there are several).
    pub fn value(&self) -> Option<String> {
        let v = self.text.split_once('=')?.1.trim();
        match v.strip_prefix('"') {
            Some(rest) => rest.split('"').next().map(str::to_string),
            None => Some(v.to_string()),
        }
    }
}

/// Splits a freeDiameter configuration into statements; `Err((line, message))` on broken syntax.
pub fn parse(text: &str) -> Result<Vec<Statement>, (u32, String)> {
    let mut top: Vec<Statement> = Vec::new();
    // The open block: its head statement and its statements.
    let mut open: Option<Statement> = None;
    let mut cur = String::new();
    let mut cur_line = 0u32;
    let mut line = 1u32;
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    let mut string_line = 0;
    while let Some(c) = chars.next() {
        if in_string {
            cur.push(c);
            match c {
                '"' => in_string = false,
                '\n' => line += 1,
                _ => {}
            }
            continue;
        }
        match c {
            '\n' => {
                line += 1;
                cur.push(' ');
            }
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        cur.push(' ');
                        break;
                    }
                }
            }
            '"' => {
                if cur.trim().is_empty() {
                    cur_line = line;
                }
                in_string = true;
                string_line = line;
                cur.push(c);
            }
            '{' => {
                if open.is_some() {
                    return Err((line, "a `{` inside a block (blocks do not nest)".into()));
                }
                let head = collapse(&cur);
                if head.is_empty() {
                    return Err((line, "a `{` without a statement before it".into()));
                }
                open = Some(Statement { line: cur_line, text: head, block: vec![] });
                cur.clear();
            }
            '}' => {
                let Some(mut b) = open.take() else {
                    return Err((line, "a `}` without its `{`".into()));
                };
                let rest = collapse(&cur);
                if !rest.is_empty() {
                    b.block.push(Statement { line: cur_line, text: rest, block: vec![] });
                }
                cur.clear();
                // The block statement still ends with `;`: keep it pending as the current statement.
                top.push(b);
                skip_to_semicolon(&mut chars, &mut line)?;
            }
            ';' => {
                let s = collapse(&cur);
                cur.clear();
                if s.is_empty() {
                    continue;
                }
                let st = Statement { line: cur_line, text: s, block: vec![] };
                match &mut open {
                    Some(b) => b.block.push(st),
                    None => top.push(st),
                }
            }
            c => {
                if cur.trim().is_empty() && !c.is_whitespace() {
                    cur_line = line;
                }
                cur.push(c);
            }
        }
    }
    if in_string {
        return Err((string_line, "a quoted string is not closed".into()));
    }
    if let Some(b) = open {
        return Err((b.line, format!("the block of `{}` is not closed with `}};`", b.text)));
    }
    if !collapse(&cur).is_empty() {
        return Err((cur_line, format!("`{}` does not end with `;`", collapse(&cur))));
    }
    Ok(top)
}

fn skip_to_semicolon(chars: &mut std::iter::Peekable<std::str::Chars>, line: &mut u32) -> Result<(), (u32, String)> {
    while let Some(&c) = chars.peek() {
        match c {
            ';' => {
                chars.next();
                return Ok(());
            }
            '\n' => *line += 1,
            c if c.is_whitespace() => {}
            _ => return Err((*line, "a block must end with `};`".into())),
        }
        chars.next();
    }
    Err((*line, "a block must end with `};`".into()))
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Audits a freeDiameter configuration file.
pub fn freediameter(path: &Path, report: &mut Report) -> Result<(), AuditError> {
    let text = std::fs::read_to_string(path).map_err(|e| AuditError::Io(path.display().to_string(), e))?;
    let file = path.display().to_string();
    let error = |message: String| AuditError::Import { origin: file.clone(), message };
    let statements = parse(&text).map_err(|(line, m)| error(format!("line {line}: {m}")))?;
    report.input("freediameter", &file);
    // Without `Identity`, freeDiameter uses the host's name.
    let identity = statements
        .iter()
        .find(|s| s.name() == "Identity")
        .and_then(Statement::value)
        .unwrap_or_else(|| "(Identity not set: the host name)".to_string());
    let at = |line: u32, path: String| Location { file: Some(file.clone()), line: Some(line), path };
    for s in &statements {
        match s.name() {
            "No_TLS" => report.raise(
                "WA-NET-040",
                "freediameter",
                at(s.line, "No_TLS".into()),
                format!("{identity}: `No_TLS` outside a peer block"),
            ),
            "ConnectPeer" => {
                let peer = s.value().unwrap_or_default();
                if let Some(flag) = s.block.iter().find(|b| b.name() == "No_TLS") {
                    let to = s.block.iter().find(|b| b.name() == "ConnectTo").and_then(Statement::value);
                    let to = to.map(|t| format!(" at {t}")).unwrap_or_default();
                    report.raise(
                        "WA-NET-040",
                        "freediameter",
                        at(s.line, format!("ConnectPeer \"{peer}\"")),
                        format!(
                            "{identity} connects to {peer}{to} with `No_TLS` (line {}): Diameter in clear",
                            flag.line
                        ),
                    );
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_blocks_and_comments() {
        let text = "Identity = \"a#b\"; # comment ; {\n# ConnectPeer = \"x\" { No_TLS; };\nConnectPeer = \"hss\"\n  { ConnectTo = \"127.0.0.8\";\n No_TLS; # why\n Port = 3868 } ;\nNoRelay;";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].value().as_deref(), Some("a#b"));
        assert_eq!((s[1].name(), s[1].line, s[1].value().as_deref()), ("ConnectPeer", 3, Some("hss")));
        let inner: Vec<_> = s[1].block.iter().map(|b| (b.name(), b.line)).collect();
        assert_eq!(inner, [("ConnectTo", 4), ("No_TLS", 5), ("Port", 6)]);
        assert_eq!(s[2].text, "NoRelay");
        assert_eq!(parse("Identity = \"x\"").unwrap_err().0, 1);
        assert!(parse("A = \"x;\nB;").unwrap_err().1.contains("not closed"));
        assert!(parse("P = \"x\" { A; ").unwrap_err().1.contains("not closed"));
        assert!(parse("P = \"x\" { A; } B;").unwrap_err().1.contains("`};`"));
    }
}
