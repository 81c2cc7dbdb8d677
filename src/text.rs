//! Text that came from outside (a server's manifest, a release folder, an ini file) made safe to show.
//!
//! A manifest is written by whoever controls the server. Its paths, versions and dates end up in
//! warnings, errors and `launcher.log`, and a terminal obeys what it is sent: ESC starts colour and
//! cursor sequences (a fake `demo app 2.0` line, a cleared screen, a retitled window), CR overwrites the
//! line, BEL rings, and bidi overrides and zero-width characters make one name look like another. This
//! module owns the list of such characters ([`is_hidden`], also used by the path rules) and the two
//! escapes: [`escape`] for a value quoted inside a message (nothing of it may start a new line), and
//! [`escape_output`] for a whole message at the point where it is written (our own line breaks stay).
//! It never decides what is shown; it only changes how unsafe characters are spelled.

use std::fmt::Write;

/// Characters that change how text is drawn without being visible themselves: bidi embeddings,
/// overrides and isolates, zero-width spaces and joiners, invisible operators, the byte-order mark,
/// line and paragraph separators, and the Unicode tag and interlinear-annotation characters.
pub fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// True for a character that must not reach a terminal or a log as it is.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_hidden(c)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// A value for quoting inside a message: every control and hidden character is spelled out
/// (`\x1b`, `\r`, `\n`, `\u{202e}`), so the value stays on its line and shows what it really holds.
pub fn escape(s: &str) -> String {
    if !s.chars().any(is_unsafe) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_unsafe(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// A whole message on its way to stderr: as [`escape`], but line breaks and tabs stay, because the
/// launcher's own multi-line messages use them. Values from outside are escaped where they are
/// quoted ([`escape`]); this is the last line of defence for any that are not.
pub fn escape_output(s: &str) -> String {
    if !s.chars().any(|c| is_unsafe(c) && c != '\n' && c != '\t') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_unsafe(c) && c != '\n' && c != '\t' {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// At most `max` lines of a list, then one line saying how many more there are: a hostile manifest
/// with 250,000 bad paths must not print 250,000 lines on every launch.
pub fn first_lines(lines: &[String], max: usize) -> String {
    let mut out = lines
        .iter()
        .take(max)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("\n");
    if lines.len() > max {
        let _ = write!(out, "\n  ... and {} more", lines.len() - max);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_and_hidden_characters_are_spelled_out() {
        assert_eq!(
            escape("a\u{1b}[2Jb\rc\u{7}d\u{202e}e\u{200b}f\ng"),
            "a\\x1b[2Jb\\rc\\x07d\\u{202e}e\\u{200b}f\\ng"
        );
        assert_eq!(escape("bin/über ñ.txt"), "bin/über ñ.txt");
        assert_eq!(
            escape_output("error: x\n  caused by: \u{1b}]0;t\u{7}"),
            "error: x\n  caused by: \\x1b]0;t\\x07"
        );
    }

    #[test]
    fn long_lists_are_cut_with_a_count() {
        let lines: Vec<String> = (0..25).map(|i| format!("  `{i}`")).collect();
        let s = first_lines(&lines, 10);
        assert_eq!(s.lines().count(), 11);
        assert!(s.ends_with("... and 15 more"), "{s}");
        assert_eq!(first_lines(&lines[..3], 10).lines().count(), 3);
    }
}
