//! The deterministic helpers seeds build rows with: ids from natural keys,
//! dates from a fixed base, a random generator per (table, row), and picks.
//! Everything here gives the same values on every run and every machine.

use chrono::{DateTime, TimeDelta, Utc};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use uuid::Uuid;

/// Namespace of every seed id: fixed forever, so ids never change.
pub const ID_NAMESPACE: Uuid = Uuid::from_u128(0x8c3f_51d2_6a0e_4b7f_9d14_2e6b_c0a5_7f39);

/// The deterministic id of the row of `table` (schema-qualified) whose
/// natural key is `natural_key`; for composite keys join the parts with `/`.
///
/// A foreign key is `id(referenced table, referenced row's natural key)`.
pub fn id(table: &str, natural_key: &str) -> Uuid {
    let mut name = String::with_capacity(table.len() + 1 + natural_key.len());
    name.push_str(table);
    name.push(':');
    name.push_str(natural_key);
    Uuid::new_v5(&ID_NAMESPACE, name.as_bytes())
}

/// Every seeded date is an offset from this instant: 2025-01-06T09:00:00Z.
pub fn base_date() -> DateTime<Utc> {
    DateTime::from_timestamp(1_736_154_000, 0).unwrap_or_default()
}

/// [`base_date`] plus `minutes` (negative goes back in time).
pub fn at_minutes(minutes: i64) -> DateTime<Utc> {
    base_date() + TimeDelta::minutes(minutes)
}

/// The seed behind every generated value; change it and all fake data changes.
pub const SEED: u64 = 0x5eed_2025_0106_0900;

/// The random generator for row `index` of `table`: the same values on every
/// run and every machine, whatever batch the row falls in.
///
/// Xoshiro256++ is a fixed algorithm (unlike `StdRng`, which may change).
pub fn rng(table: &str, index: u64) -> Xoshiro256PlusPlus {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ SEED;
    for byte in table.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    Xoshiro256PlusPlus::seed_from_u64(splitmix64(hash ^ splitmix64(index)))
}

fn splitmix64(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `"Advanced Rust: Ownership"` → `"advanced-rust-ownership"`.
pub fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

/// Picks one entry of `weighted` with probability proportional to its weight.
pub fn weighted<'a, T, R: rand::RngExt + ?Sized>(rng: &mut R, choices: &'a [(T, u32)]) -> &'a T {
    let total: u32 = choices.iter().map(|(_, weight)| weight).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for (value, weight) in choices {
        if roll < *weight {
            return value;
        }
        roll -= weight;
    }
    &choices[choices.len() - 1].0
}

/// Picks one entry of a non-empty slice.
pub fn pick<'a, T, R: rand::RngExt + ?Sized>(rng: &mut R, items: &'a [T]) -> &'a T {
    let len = items.len() as u64;
    &items[rng.random_range(0..len.max(1)) as usize]
}

/// `count` distinct indices below `len`, in random order (`count` ≤ `len`).
pub fn distinct<R: rand::RngExt + ?Sized>(rng: &mut R, len: u64, count: usize) -> Vec<u64> {
    let mut chosen: Vec<u64> = Vec::with_capacity(count);
    while chosen.len() < count && (chosen.len() as u64) < len {
        let candidate = rng.random_range(0..len);
        if !chosen.contains(&candidate) {
            chosen.push(candidate);
        }
    }
    chosen
}
