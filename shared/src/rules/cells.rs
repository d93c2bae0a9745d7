//! How a cell holds its values: several joined by Google's `:::`, a
//! phone cell's several numbers, and the `'` that keeps a value text.

/// Whether a value may be a number at all: `n/a`, `-` and `none` hold none.
pub(crate) fn has_digits(value: &str) -> bool {
    value.bytes().any(|b| b.is_ascii_digit())
}

/// Google's separator between several values of one cell.
pub(crate) const MULTI_VALUE: &str = ":::";

/// Whether a cell joins several values with [`MULTI_VALUE`]. Most cells
/// hold no colon, and a byte scan costs far less than setting up a
/// substring search for every cell of every row.
pub(crate) fn joins_values(cell: &str) -> bool {
    cell.as_bytes().contains(&b':') && cell.contains(MULTI_VALUE)
}

/// The first of a cell's values, trimmed.
pub(crate) fn first_value(cell: &str) -> &str {
    if joins_values(cell) {
        values(cell).next().unwrap_or("").trim()
    } else {
        cell
    }
}

/// The values of a cell, untrimmed: one, or several joined by [`MULTI_VALUE`].
pub(crate) fn values(cell: &str) -> impl Iterator<Item = &str> {
    let joined = joins_values(cell);
    let one = (!joined).then_some(cell);
    let many = joined.then(|| cell.split(MULTI_VALUE));
    one.into_iter().chain(many.into_iter().flatten())
}

/// A value without the `'` that tools such as Apollo put first so that
/// spreadsheets keep it as text.
pub(crate) fn without_text_marker(value: &str) -> &str {
    value.strip_prefix('\'').map_or(value, str::trim_start)
}

/// The numbers one phone cell holds: several when Google joined them with
/// `:::`, or when `/`, `;` or ` or ` separates parts that each have the
/// digits of a whole number (so `030/1234567` stays one number).
pub(crate) fn phone_parts(cell: &str) -> PhoneParts<'_> {
    if joins_values(cell) {
        let parts: Vec<&str> = values(cell)
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .collect();
        return PhoneParts::Many(parts.into_iter());
    }
    let bytes = cell.as_bytes();
    let may_join = memchr::memchr2(b'/', b';', bytes).is_some()
        || (memchr::memchr2(b'o', b'O', bytes).is_some()
            && (cell.contains(" or ") || cell.contains(" OR ")));
    if may_join {
        let parts: Vec<&str> = cell
            .split(['/', ';'])
            .flat_map(|part| part.split(" or "))
            .flat_map(|part| part.split(" OR "))
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .collect();
        let digits = |part: &str| part.bytes().filter(u8::is_ascii_digit).count();
        if parts.len() > 1 && parts.iter().all(|part| digits(part) >= 7) {
            return PhoneParts::Many(parts.into_iter());
        }
    }
    PhoneParts::One(Some(cell))
}

/// The first number of a phone cell, as the column plan samples it.
pub(crate) fn first_number(cell: &str) -> &str {
    phone_parts(without_text_marker(cell.trim()))
        .next()
        .unwrap_or("")
}

pub(crate) enum PhoneParts<'a> {
    One(Option<&'a str>),
    Many(std::vec::IntoIter<&'a str>),
}

impl<'a> Iterator for PhoneParts<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        match self {
            PhoneParts::One(cell) => cell.take(),
            PhoneParts::Many(parts) => parts.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_cell_splits_only_where_every_part_is_a_whole_number() {
        let cases: [(&str, &[&str]); 8] = [
            ("+1 415 555 0100", &["+1 415 555 0100"]),
            ("030/1234567", &["030/1234567"]),
            (
                "(415) 555-0100 / 415.555.0101",
                &["(415) 555-0100", "415.555.0101"],
            ),
            ("4155550100;4155550101", &["4155550100", "4155550101"]),
            (
                "415-555-0100 or 415-555-0101",
                &["415-555-0100", "415-555-0101"],
            ),
            ("4155550100 OR ext 12", &["4155550100 OR ext 12"]),
            (
                " +14155550100 ::: ::: +14155550101 ",
                &["+14155550100", "+14155550101"],
            ),
            ("time: 9-5", &["time: 9-5"]),
        ];
        for (cell, parts) in cases {
            assert_eq!(phone_parts(cell).collect::<Vec<_>>(), parts, "{cell}");
        }
        assert_eq!(
            first_number("'+1 415 555 0100 ::: 415 555 0101"),
            "+1 415 555 0100"
        );
    }
}
