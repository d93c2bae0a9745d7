//! Laying text out for an 80-column terminal.

/// The width every text line keeps within.
pub const WIDTH: usize = 80;

/// `n` and the noun that goes with it: `1 row`, `2 rows`.
pub fn plural(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `text` on one line: control characters (a line break inside a quoted
/// cell, a tab) become spaces.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` on one line, cut to at most `width` characters with a `…`.
pub fn cut(text: &str, width: usize) -> String {
    let text = one_line(text);
    if text.chars().count() <= width {
        return text;
    }
    let mut kept: String = text.chars().take(width.saturating_sub(1)).collect();
    kept.push('…');
    kept
}

/// `text` cut to `width` and padded with spaces to exactly `width`.
pub fn fit(text: &str, width: usize) -> String {
    let text = cut(text, width);
    let pad = width - text.chars().count();
    text + &" ".repeat(pad)
}

/// `text` in lines of at most [`WIDTH`] characters, broken between words;
/// the first line starts with `first`, the others with `rest`. A word
/// longer than a line gets a line of its own.
pub fn wrap(text: &str, first: &str, rest: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_owned();
    let mut empty = true;
    for word in one_line(text).split_whitespace() {
        let fits = line.chars().count() + 1 + word.chars().count() <= WIDTH;
        if !empty && !fits {
            lines.push(std::mem::replace(&mut line, rest.to_owned()));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    lines.push(line);
    lines
}

/// Items joined by `separator`, in lines of at most [`WIDTH`] characters,
/// each line starting with `indent`; an item longer than a line is cut.
pub fn flow(items: &[String], separator: &str, indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = indent.to_owned();
    let room = WIDTH.saturating_sub(indent.chars().count());
    for item in items {
        let item = &cut(item, room);
        let empty = line.len() == indent.len();
        let needed = if empty { 0 } else { separator.chars().count() } + item.chars().count();
        if !empty && line.chars().count() + needed > WIDTH {
            lines.push(std::mem::replace(&mut line, indent.to_owned()));
        } else if !empty {
            line.push_str(separator);
        }
        line.push_str(item);
    }
    if line.len() > indent.len() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_and_fit_count_characters() {
        assert_eq!(cut("Código Postal", 20), "Código Postal");
        assert_eq!(cut("Código Postal", 6), "Códig…");
        assert_eq!(fit("a\tb", 5), "a b  ");
        assert_eq!(fit("abcdefgh", 4), "abc…");
    }

    #[test]
    fn wrap_keeps_lines_within_the_width() {
        let text = "word ".repeat(40);
        let lines = wrap(&text, "  - ", "    ");
        assert!(lines.len() > 1);
        assert!(
            lines.iter().all(|l| l.chars().count() <= WIDTH),
            "{lines:?}"
        );
        assert!(lines[0].starts_with("  - word") && lines[1].starts_with("    word"));
        assert_eq!(wrap("", "> ", "  "), ["> "]);
    }

    #[test]
    fn flow_breaks_between_items() {
        let items: Vec<String> = (0..30).map(|i| format!("item_{i}")).collect();
        let lines = flow(&items, ", ", "  ");
        assert!(lines.len() > 1);
        assert!(lines
            .iter()
            .all(|l| l.chars().count() <= WIDTH && l.starts_with("  item_")));
        assert_eq!(lines.join(" ").matches("item_").count(), 30);
        assert!(flow(&[], ", ", "  ").is_empty());
        let long = ["x".repeat(100), "y".into()];
        let lines = flow(&long, ", ", "    ");
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].chars().count(), WIDTH);
        assert!(lines[0].ends_with('…') && lines[1] == "    y");
    }
}
