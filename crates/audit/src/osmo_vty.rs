//! The Osmocom VTY configuration format (`osmo-bsc.cfg`, `osmo-msc.cfg`, `osmo-sgsn.cfg`,
//! `osmo-hlr.cfg`), read into a tree of commands the way libosmocore's `config_from_file()` reads it
//! (libosmocore 1.7, `src/vty/command.c`):
//!
//! - A line is split into words at whitespace. Its indentation is its leading spaces and tabs; any other
//!   whitespace before the first word is an error.
//! - Blank lines, and lines whose first non-blank character is `!` or `#`, are comments wherever they
//!   are and whatever their indentation: they neither open nor close a node.
//! - Nesting follows indentation only, whatever its width: the first line indented deeper than a command
//!   fixes the indentation of that command's children, its siblings must repeat it exactly, and a line
//!   indented less closes nodes up to the ancestor whose children have exactly that indentation. An
//!   indentation that is not a prefix-extension of the enclosing one (a tab where a space was), or that
//!   lands between two levels, is refused, as libosmocore refuses the file.
//!
//! Which commands open a node depends on each program's command table; this reader does not know it and
//! treats any command followed by deeper lines as a node (libosmocore would refuse deeper lines after a
//! command that opens none, so a file it accepts is read the same).

/// One command of a VTY configuration with the commands of the node it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The words of the command.
    pub words: Vec<String>,
    /// 1-based line.
    pub line: u32,
    /// The commands of the node it opens (empty for a plain command).
    pub children: Vec<Command>,
}

impl Command {
    /// True when the command's words start with `prefix`.
    pub fn starts_with(&self, prefix: &[&str]) -> bool {
        self.words.len() >= prefix.len() && self.words.iter().zip(prefix).all(|(w, p)| w == p)
    }

    /// The command's words after `prefix`.
    pub fn args(&self, prefix: &[&str]) -> Vec<&str> {
        self.words.iter().skip(prefix.len()).map(String::as_str).collect()
    }
}

/// Compares two indentations as libosmocore does: one must extend the other.
fn indent_cmp(a: &str, b: &str, line: u32) -> Result<std::cmp::Ordering, String> {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if !long.starts_with(short) {
        return Err(format!(
            "line {line}: indentation {a:?} does not continue the enclosing indentation {b:?} (spaces and tabs mixed?)"
        ));
    }
    Ok(a.len().cmp(&b.len()))
}

struct Frame {
    command: Command,
    /// The indentation of this command's children, once the first one is seen.
    child_indent: Option<String>,
}

/// Parses a VTY configuration into its top-level commands (the config nodes at depth 0 with their
/// children).
pub fn parse(text: &str) -> Result<Vec<Command>, String> {
    let root = Command { words: Vec::new(), line: 0, children: Vec::new() };
    let mut stack = vec![Frame { command: root, child_indent: None }];
    fn close(stack: &mut Vec<Frame>) {
        let done = stack.pop().expect("a frame to close").command;
        stack.last_mut().expect("the root frame stays").command.children.push(done);
    }
    for (i, raw) in text.lines().enumerate() {
        let line = i as u32 + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let body = raw.trim_start_matches([' ', '\t']);
        let indent = &raw[..raw.len() - body.len()];
        if body.starts_with(char::is_whitespace) {
            return Err(format!("line {line}: indentation may hold only spaces and tabs"));
        }
        if body.trim().is_empty() || body.starts_with('!') || body.starts_with('#') {
            continue;
        }
        // Find the node this line belongs to.
        loop {
            let n = stack.len();
            match stack[n - 1].child_indent.clone() {
                None if n == 1 => {
                    stack[0].child_indent = Some(indent.to_string());
                    break;
                }
                None => {
                    let parent = stack[n - 2].child_indent.clone().unwrap_or_default();
                    if indent_cmp(indent, &parent, line)?.is_gt() {
                        stack[n - 1].child_indent = Some(indent.to_string());
                        break;
                    }
                    close(&mut stack);
                }
                Some(level) => match indent_cmp(indent, &level, line)? {
                    std::cmp::Ordering::Equal => break,
                    std::cmp::Ordering::Less if n > 1 => close(&mut stack),
                    std::cmp::Ordering::Less => {
                        return Err(format!("line {line}: indented less than the first command of the file"))
                    }
                    std::cmp::Ordering::Greater => {
                        return Err(format!(
                            "line {line}: indentation {indent:?} matches no enclosing node (between two levels)"
                        ))
                    }
                },
            }
        }
        let words = body.split_whitespace().map(str::to_string).collect();
        stack.push(Frame { command: Command { words, line, children: Vec::new() }, child_indent: None });
    }
    while stack.len() > 1 {
        close(&mut stack);
    }
    Ok(stack.pop().map(|f| f.command.children).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(cmds: &[Command]) -> String {
        cmds.iter()
            .map(|c| {
                let inner = shape(&c.children);
                if inner.is_empty() {
                    c.words.join(" ")
                } else {
                    format!("{}{{{inner}}}", c.words.join(" "))
                }
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    #[test]
    fn nesting_follows_indentation_of_any_width() {
        let one = "network\n a 1\n bts 0\n  type x\n  trx 0\n   arfcn 1\n b 2\nmsc 0\n c\n";
        let two = "network\n  a 1\n  bts 0\n    type x\n    trx 0\n      arfcn 1\n  b 2\nmsc 0\n  c\n";
        let tabs = "network\n\ta 1\n\tbts 0\n\t\ttype x\n\t\ttrx 0\n\t\t\tarfcn 1\n\tb 2\nmsc 0\n\tc\n";
        let want = "network{a 1;bts 0{type x;trx 0{arfcn 1}};b 2};msc 0{c}";
        for text in [one, two, tabs] {
            assert_eq!(shape(&parse(text).unwrap()), want, "{text:?}");
        }
    }

    #[test]
    fn comments_anywhere_keep_the_node_open() {
        let text = "network\n a 1\n# column-0 comment\n! another\n   ! deep comment\n\n \t \n b 2\r\nmsc 0\n";
        let cmds = parse(text).unwrap();
        assert_eq!(shape(&cmds), "network{a 1;b 2};msc 0");
        assert_eq!(cmds[0].children[1].line, 8);
    }

    #[test]
    fn inconsistent_indentation_is_refused_with_its_line() {
        let e = parse("network\n  a\n b\n").unwrap_err();
        assert!(e.starts_with("line 3:") && e.contains("between two levels"), "{e}");
        let e = parse("network\n  a\n\tb\n").unwrap_err();
        assert!(e.starts_with("line 3:") && e.contains("tabs"), "{e}");
        let e = parse("network\n\x0ba\n").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        let e = parse(" network\nmsc\n").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
    }
}
