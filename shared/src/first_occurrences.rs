//! The first row of the file with each number, in 12 bytes a number.
//!
//! The splitter holds one entry per distinct number of the file, so this
//! map sets its memory on a large file. A general hash map of `u64` to `u64`
//! takes 17 bytes a bucket in a power-of-two table that is up to half empty
//! (272 MB for 10 million rows); this one keeps the keys and the rows in
//! two arrays sized for the rows the file has (see docs/decisions.md).

use std::collections::HashMap;

/// No E.164 key reaches it: 15 digits are below 10^15.
const EMPTY: u64 = u64::MAX;
/// A row beyond `u32` keeps its number in `beyond_u32`.
const BEYOND_U32: u32 = u32::MAX;

/// The first row of the file with each number; later ones are duplicates.
#[derive(Debug, Default)]
pub struct FirstOccurrences {
    keys: Vec<u64>,
    rows: Vec<u32>,
    len: usize,
    beyond_u32: HashMap<u64, u64>,
}

impl FirstOccurrences {
    /// Room for `numbers` numbers without growing.
    pub fn with_capacity(numbers: u64) -> Self {
        let mut first = FirstOccurrences::default();
        first.resize(slots_for(usize::try_from(numbers).unwrap_or(usize::MAX)));
        first
    }

    /// The earlier row with the number of this [`crate::phone::e164_key`],
    /// or None when this row is the first.
    pub fn earlier_row(&mut self, key: u64, row: u64) -> Option<u64> {
        debug_assert_ne!(key, EMPTY);
        if slots_for(self.len + 1) > self.keys.len() {
            self.resize(slots_for(self.len + 1).max(2 * self.keys.len()));
        }
        let slot = self.slot_of(key);
        if self.keys[slot] == key {
            return Some(match self.rows[slot] {
                BEYOND_U32 => self.beyond_u32[&key],
                row => u64::from(row),
            });
        }
        self.place(slot, key, row);
        self.len += 1;
        None
    }

    /// The slot that holds `key`, or the empty one where it would go.
    fn slot_of(&self, key: u64) -> usize {
        let slots = self.keys.len();
        let mut slot = home(key, slots);
        while self.keys[slot] != key && self.keys[slot] != EMPTY {
            slot = if slot + 1 == slots { 0 } else { slot + 1 };
        }
        slot
    }

    fn place(&mut self, slot: usize, key: u64, row: u64) {
        self.keys[slot] = key;
        self.rows[slot] = match u32::try_from(row) {
            Ok(row) if row != BEYOND_U32 => row,
            _ => {
                self.beyond_u32.insert(key, row);
                BEYOND_U32
            }
        };
    }

    fn resize(&mut self, slots: usize) {
        let keys = std::mem::replace(&mut self.keys, vec![EMPTY; slots]);
        let rows = std::mem::replace(&mut self.rows, vec![0; slots]);
        for (key, row) in keys.into_iter().zip(rows).filter(|(key, _)| *key != EMPTY) {
            let slot = self.slot_of(key);
            self.keys[slot] = key;
            self.rows[slot] = row;
        }
    }
}

/// Slots for `numbers` entries: at most four in five full, so that a
/// linear probe stays a few steps long.
fn slots_for(numbers: usize) -> usize {
    numbers.saturating_add(numbers / 4).max(16)
}

/// Where the probe for `key` starts: the key mixed (numbers of a file are
/// often consecutive), then scaled to the table without a division.
fn home(key: u64, slots: usize) -> usize {
    let mut mixed = key ^ (key >> 33);
    mixed = mixed.wrapping_mul(0xff51_afd7_ed55_8ccd);
    mixed ^= mixed >> 33;
    ((u128::from(mixed) * slots as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The same answers as a plain map, through every growth of the table.
        #[test]
        fn answers_as_a_hash_map_does(keys in prop::collection::vec(0u64..2_000, 0..3_000)) {
            let mut first = FirstOccurrences::default();
            let mut reference = HashMap::new();
            for (row, key) in keys.into_iter().enumerate() {
                let row = row as u64 + 2;
                let expected = match reference.entry(key) {
                    std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(row);
                        None
                    }
                };
                prop_assert_eq!(first.earlier_row(key, row), expected);
            }
        }
    }

    #[test]
    fn a_table_sized_for_the_file_does_not_grow() {
        let mut first = FirstOccurrences::with_capacity(10_000);
        let slots = first.keys.len();
        for key in 0..10_000 {
            assert_eq!(first.earlier_row(14_155_550_000 + key, key + 2), None);
        }
        assert_eq!(first.keys.len(), slots);
        assert_eq!(first.earlier_row(14_155_550_000, 20_000), Some(2));
    }

    #[test]
    fn rows_beyond_u32_keep_their_number() {
        let mut first = FirstOccurrences::default();
        let far = u64::from(u32::MAX) + 7;
        assert_eq!(
            first.earlier_row(442_079_460_000, u64::from(u32::MAX)),
            None
        );
        assert_eq!(first.earlier_row(14_155_552_671, far), None);
        assert_eq!(first.earlier_row(14_155_552_671, far + 1), Some(far));
        assert_eq!(
            first.earlier_row(442_079_460_000, far + 2),
            Some(u64::from(u32::MAX))
        );
    }
}
