//! Repeating what a user wrote in a message, bounded: a value can be a
//! megabyte long, and a message that repeats it whole is a megabyte too.

use std::borrow::Cow;

/// The characters of a value that a message repeats.
pub(crate) const ECHO_CHARS: usize = 40;

/// `value` as a message repeats it: whole when it has at most
/// [`ECHO_CHARS`] characters, else its first [`ECHO_CHARS`] followed by
/// `… (N characters)`, so that the reader sees it was cut and by how much.
pub fn echo(value: &str) -> Cow<'_, str> {
    match value.char_indices().nth(ECHO_CHARS) {
        None => Cow::Borrowed(value),
        Some((cut, _)) => Cow::Owned(format!(
            "{}… ({} characters)",
            &value[..cut],
            value.chars().count()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_repeated_whole() {
        assert_eq!(echo(""), "");
        let exact = "x".repeat(ECHO_CHARS);
        assert!(matches!(echo(&exact), Cow::Borrowed(v) if v == exact));
    }

    #[test]
    fn long_values_keep_a_marked_prefix_and_their_length() {
        let long = "a".repeat(1_000_000);
        assert_eq!(
            echo(&long),
            format!("{}… (1000000 characters)", "a".repeat(ECHO_CHARS))
        );
        // Counted and cut in characters, never inside one.
        let wide = "日".repeat(ECHO_CHARS + 1);
        assert_eq!(
            echo(&wide),
            format!(
                "{}… ({} characters)",
                "日".repeat(ECHO_CHARS),
                ECHO_CHARS + 1
            )
        );
    }
}
