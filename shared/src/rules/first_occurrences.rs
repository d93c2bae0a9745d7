//! The first row of the file with each number, in 8 bytes a number.
//!
//! The splitter holds one entry per distinct number of the file, so this
//! map sets its memory on a large file. A general hash map of `u64` to `u64`
//! takes 17 bytes a bucket in a power-of-two table that is up to half empty
//! (272 MB for 10 million rows). This one is a linear-probing table sized
//! for the rows the file has, whose slots keep only what a slot's place
//! does not tell already (a quotient table, see docs/decisions.md): a
//! number is mixed into another below 2^50 (every E.164 number is below
//! 10^15), whose high part picks its home slot; the slot keeps the low
//! part, how far past home it sits, and the row.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// Every E.164 key is below 10^15, which is below 2^50.
const KEY_BITS: u32 = 50;
const KEY_MASK: u64 = (1 << KEY_BITS) - 1;
/// How far past its home slot an entry may sit, in the bits that say it;
/// one that would sit farther keeps its row in the side map instead.
const SHIFT_BITS: u32 = 5;
const MAX_SHIFT: usize = (1 << SHIFT_BITS) - 1;
/// Set in every slot that holds an entry.
const OCCUPIED: u64 = 1 << 63;
/// The bits of a slot below the occupied bit and the shift: the low part
/// of the mixed number, then the row.
const PAYLOAD_BITS: u32 = 63 - SHIFT_BITS;

/// The first row of the file with each number; later ones are duplicates.
#[derive(Debug, Default)]
pub(crate) struct FirstOccurrences {
    slots: Vec<u64>,
    /// Bits of a slot's row: the rest of its payload holds the low part.
    row_bits: u32,
    len: usize,
    /// By mixed number, the rows of entries that have no slot (too far
    /// from home, or a key of 50 bits or more) or whose row does not fit
    /// in their slot.
    side: HashMap<u64, u64>,
}

/// Where a mixed number is, or would go.
enum Place {
    Slot(usize),
    /// A free slot, with the entry's shift and low part.
    Free(usize, usize, u64),
    /// No slot: the side map holds it, or would.
    Side,
}

impl FirstOccurrences {
    /// Room for `numbers` numbers without growing.
    pub fn with_capacity(numbers: u64) -> Self {
        let mut first = FirstOccurrences::default();
        first.resize(slots_for(usize::try_from(numbers).unwrap_or(usize::MAX)));
        first
    }

    /// The earlier row with the number of this [`crate::rules::phone::e164_key`],
    /// or None when this row is the first.
    pub(crate) fn earlier_row(&mut self, key: u64, row: u64) -> Option<u64> {
        if slots_for(self.len + 1) > self.slots.len() {
            self.resize(slots_for(self.len + 1).max(2 * self.slots.len()));
        }
        let mixed = mix(key);
        match self.place_of(mixed) {
            Place::Slot(slot) => Some(match row_of(self.slots[slot], self.row_bits) {
                Some(row) => row,
                None => self.side[&mixed],
            }),
            Place::Free(slot, shift, low) => {
                self.put(slot, shift, low, mixed, row);
                None
            }
            Place::Side => match self.side.entry(mixed) {
                Entry::Occupied(earlier) => Some(*earlier.get()),
                Entry::Vacant(slot) => {
                    slot.insert(row);
                    self.len += 1;
                    None
                }
            },
        }
    }

    /// The slot that holds `mixed`, or the free one it would take, or none.
    fn place_of(&self, mixed: u64) -> Place {
        let slots = self.slots.len();
        if mixed > KEY_MASK {
            return Place::Side;
        }
        let home = home_of(mixed, slots);
        let low = mixed - first_of(home, slots);
        let mut slot = home;
        for shift in 0..=MAX_SHIFT {
            let held = self.slots[slot];
            if held & OCCUPIED == 0 {
                return Place::Free(slot, shift, low);
            }
            if shift_of(held) == shift && low_of(held, self.row_bits) == low {
                return Place::Slot(slot);
            }
            slot = if slot + 1 == slots { 0 } else { slot + 1 };
        }
        Place::Side
    }

    fn put(&mut self, slot: usize, shift: usize, low: u64, mixed: u64, row: u64) {
        let in_side = (1 << self.row_bits) - 1;
        let kept = if row < in_side {
            row
        } else {
            self.side.insert(mixed, row);
            in_side
        };
        self.slots[slot] = OCCUPIED | (shift as u64) << PAYLOAD_BITS | low << self.row_bits | kept;
        self.len += 1;
    }

    /// Moves every entry to a table of `slots` slots.
    fn resize(&mut self, slots: usize) {
        let old_slots = std::mem::replace(&mut self.slots, vec![0; slots]);
        let mut side = std::mem::take(&mut self.side);
        let old_row_bits = self.row_bits;
        // The low part takes what the table's size leaves of 50 bits, and
        // the row the rest: room for rows up to 256 times the slots.
        let low_bits = u64::BITS - (KEY_MASK / slots as u64 + 1).leading_zeros();
        self.row_bits = PAYLOAD_BITS - low_bits;
        self.len = 0;
        let old_count = old_slots.len();
        for (slot, held) in old_slots.into_iter().enumerate() {
            if held & OCCUPIED == 0 {
                continue;
            }
            let home = (slot + old_count - shift_of(held)) % old_count;
            let mixed = first_of(home, old_count) + low_of(held, old_row_bits);
            let row = match row_of(held, old_row_bits) {
                Some(row) => row,
                None => side
                    .remove(&mixed)
                    .expect("a row its slot does not keep is in the side map"),
            };
            self.insert_new(mixed, row);
        }
        for (mixed, row) in side {
            self.insert_new(mixed, row);
        }
    }

    /// Inserts a mixed number known to be absent.
    fn insert_new(&mut self, mixed: u64, row: u64) {
        match self.place_of(mixed) {
            Place::Free(slot, shift, low) => self.put(slot, shift, low, mixed, row),
            Place::Side => {
                self.side.insert(mixed, row);
                self.len += 1;
            }
            Place::Slot(_) => unreachable!("an entry is moved once"),
        }
    }
}

/// How far past its home a slot's entry sits.
fn shift_of(held: u64) -> usize {
    (held >> PAYLOAD_BITS) as usize & MAX_SHIFT
}

/// The low part of a slot's mixed number.
fn low_of(held: u64, row_bits: u32) -> u64 {
    (held & ((1 << PAYLOAD_BITS) - 1)) >> row_bits
}

/// The row a slot keeps, or None where the side map keeps it.
fn row_of(held: u64, row_bits: u32) -> Option<u64> {
    let row = held & ((1 << row_bits) - 1);
    (row != (1 << row_bits) - 1).then_some(row)
}

/// Slots for `numbers` entries: at most four in five full, so that a
/// linear probe stays a few steps long.
fn slots_for(numbers: usize) -> usize {
    numbers.saturating_add(numbers / 4).max(16)
}

/// A key mixed, one to one: below 2^50 into another below 2^50 (numbers of
/// a file are often consecutive; the table needs them spread), any other
/// left as it is.
fn mix(key: u64) -> u64 {
    if key > KEY_MASK {
        return key;
    }
    let mut mixed = key ^ (key >> 25);
    mixed = mixed.wrapping_mul(0xff51_afd7_ed55_8ccd) & KEY_MASK;
    mixed ^= mixed >> 25;
    mixed = mixed.wrapping_mul(0xc4ce_b9fe_1a85_ec53) & KEY_MASK;
    mixed ^ (mixed >> 25)
}

/// The home slot of a mixed number: its high part, scaled to the table.
fn home_of(mixed: u64, slots: usize) -> usize {
    ((u128::from(mixed) * slots as u128) >> KEY_BITS) as usize
}

/// The least mixed number whose home is `home`.
fn first_of(home: usize, slots: usize) -> u64 {
    (((home as u128) << KEY_BITS).div_ceil(slots as u128)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The same answers as a plain map, through every growth of the table.
        #[test]
        fn answers_as_a_hash_map_does(
            keys in prop::collection::vec(
                prop_oneof![
                    8 => 0u64..2_000,
                    1 => (1u64 << 50) - 1_000..(1u64 << 50) + 1_000,
                    1 => u64::MAX - 500..=u64::MAX,
                ],
                0..3_000,
            )
        ) {
            let mut first = FirstOccurrences::default();
            let mut reference = HashMap::new();
            for (row, key) in keys.into_iter().enumerate() {
                let row = row as u64 + 2;
                let expected = match reference.entry(key) {
                    Entry::Occupied(e) => Some(*e.get()),
                    Entry::Vacant(e) => {
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
        let slots = first.slots.len();
        for key in 0..10_000 {
            assert_eq!(first.earlier_row(14_155_550_000 + key, key + 2), None);
        }
        assert_eq!(first.slots.len(), slots);
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

    /// In a full table some entries would sit farther from home than a
    /// slot can say, and some rows are too large for their slot: the side
    /// map keeps both, and every answer stays right.
    #[test]
    fn entries_the_slots_cannot_hold_are_kept_beside() {
        let numbers = 400_000;
        let mut first = FirstOccurrences::with_capacity(numbers);
        let slots = first.slots.len();
        let row_of = |i: u64| {
            if i.is_multiple_of(1_000) {
                1 << 40
            } else {
                i + 2
            }
        };
        let key_of = |i: u64| 442_079_460_000 + i * 7;
        for i in 0..numbers {
            assert_eq!(first.earlier_row(key_of(i), row_of(i)), None);
        }
        assert_eq!(first.slots.len(), slots, "sized for the numbers");
        let (beside, large_rows) = (first.side.len() as u64, numbers / 1_000);
        assert!(
            beside > large_rows,
            "besides the {large_rows} large rows, some entries sit too far from home"
        );
        for i in 0..numbers {
            assert_eq!(first.earlier_row(key_of(i), u64::MAX), Some(row_of(i)));
        }
        // And after the table grows.
        first.resize(2 * slots);
        for i in 0..numbers {
            assert_eq!(first.earlier_row(key_of(i), u64::MAX), Some(row_of(i)));
        }
        assert_eq!(first.len, numbers as usize);
    }

    #[test]
    fn mixing_keeps_numbers_apart() {
        let mixed: std::collections::HashSet<u64> = (0..100_000u64)
            .flat_map(|i| [i, KEY_MASK - i, 14_155_550_000 + i])
            .map(mix)
            .collect();
        assert_eq!(mixed.len(), 300_000);
        assert!(mixed.iter().all(|m| *m <= KEY_MASK));
    }
}
