//! Every key the store builds, in one place, so that tenant isolation can be
//! checked by reading one file.
//!
//! Every partition key starts with `T#<tenant>#`. The tenant is checked to be
//! 1 to 128 of `[A-Za-z0-9._-]`, so it holds no `#` and that prefix names
//! exactly one tenant. Every other part that comes from data (a scope, a
//! number, an import id) is escaped so that it holds no `#` either: no value
//! can end a key segment early and make one key look like another, within a
//! tenant or across tenants.

use std::borrow::Cow;

use contact_import_core::ports::{PortError, PortResult};

/// Shards of the contacts-by-destination index per scope.
pub(crate) const SHARDS: u64 = 16;

pub(crate) const KEY_SK: &str = "#KEY";
pub(crate) const IMPORT_SK: &str = "#IMPORT";
pub(crate) const DNC_SK: &str = "#DNC";
pub(crate) const CHUNK_PREFIX: &str = "CHUNK#";
pub(crate) const CONTACT_PREFIX: &str = "C#";

/// A tenant fit to be a key segment, or a permanent error.
pub fn tenant(tenant: &str) -> PortResult<&str> {
    let ok = !tenant.is_empty()
        && tenant.len() <= 128
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(tenant)
    } else {
        Err(PortError::Permanent(format!(
            "`{tenant}` is not a tenant: 1 to 128 of letters, digits, '-', '_' and '.'"
        )))
    }
}

/// `part` with `%` and `#` percent-encoded: it holds no `#` afterwards, and
/// two different parts stay different.
pub fn escape(part: &str) -> Cow<'_, str> {
    if part.contains(['%', '#']) {
        Cow::Owned(part.replace('%', "%25").replace('#', "%23"))
    } else {
        Cow::Borrowed(part)
    }
}

/// The inverse of [`escape`].
pub fn unescape(part: &str) -> String {
    part.replace("%23", "#").replace("%25", "%")
}

/// The shard of a number: its digits as an integer, modulo [`SHARDS`]
/// (a hash of the text for anything that is not a short run of digits).
pub fn shard(e164: &str) -> u64 {
    let digits: String = e164.chars().filter(char::is_ascii_digit).collect();
    match digits.parse::<u64>() {
        Ok(n) if digits.len() <= 19 => n % SHARDS,
        _ => fnv1a(e164.as_bytes()) % SHARDS,
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The partition of one number in one scope: its dedupe key (`#KEY`) and,
/// in create mode, its contacts (`C#<id>`).
pub(crate) fn number_pk(tenant: &str, scope: &str, e164: &str) -> String {
    format!("T#{tenant}#N#{}#{}", escape(scope), escape(e164))
}

pub(crate) fn contact_sk(contact_id: &str) -> String {
    format!("{CONTACT_PREFIX}{contact_id}")
}

/// GSI1 partition: one shard of one scope's contacts.
pub(crate) fn gsi1_pk(tenant: &str, scope: &str, shard: u64) -> String {
    format!("T#{tenant}#S#{}#{shard}", escape(scope))
}

/// GSI3 partition: the contacts one import updated (but did not create) in one scope.
pub(crate) fn gsi3_pk(tenant: &str, import_id: &str, scope: &str) -> String {
    format!("T#{tenant}#U#{}#{}", escape(import_id), escape(scope))
}

/// The registry of a tenant's scopes; one item per scope, sorted by scope.
pub(crate) fn scopes_pk(tenant: &str) -> String {
    format!("T#{tenant}#SCOPES")
}

pub(crate) fn dnc_pk(tenant: &str, e164: &str) -> String {
    format!("T#{tenant}#DNC#{}", escape(e164))
}

/// The partition of one import: its record and its chunk markers.
pub(crate) fn import_pk(tenant: &str, import_id: &str) -> String {
    format!("T#{tenant}#I#{}", escape(import_id))
}

pub(crate) fn chunk_sk(index: u32) -> String {
    format!("{CHUNK_PREFIX}{index:06}")
}

/// GSI2 partition: a tenant's imports.
pub(crate) fn gsi2_pk(tenant: &str) -> String {
    format!("T#{tenant}#IMPORTS")
}

/// GSI2 sort key: by creation time, then id.
pub(crate) fn gsi2_sk(created_at: &str, import_id: &str) -> String {
    format!("{created_at}#{}", escape(import_id))
}

/// A page token of a tenant-wide listing: the scope and the last contact id.
pub(crate) fn page_token(scope: &str, contact_id: &str) -> String {
    format!("{}#{contact_id}", escape(scope))
}

/// `(scope, contact id)` of a page token; a bare contact id (no `#`) has no scope.
pub(crate) fn parse_page_token(token: &str) -> (Option<String>, &str) {
    match token.split_once('#') {
        Some((scope, id)) => (Some(unescape(scope)), id),
        None => (None, token),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_are_checked() {
        assert_eq!(tenant("acme-1.eu_x"), Ok("acme-1.eu_x"));
        for bad in ["", "a#b", "a b", "a/b", "é", &"x".repeat(129)] {
            assert!(tenant(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn escaped_parts_hold_no_separator_and_round_trip() {
        for part in ["list:Spring leads", "a#b", "100%#", "%23", "#", ""] {
            let escaped = escape(part);
            assert!(!escaped.contains('#'), "{part:?} -> {escaped:?}");
            assert_eq!(unescape(&escaped), part);
        }
        assert_ne!(escape("%23"), escape("#"), "escaping is injective");
    }

    #[test]
    fn user_text_cannot_build_another_key() {
        // A list name that spells the rest of another tenant's key.
        let forged = number_pk("a", "x#N#y", "+1");
        assert_ne!(forged, number_pk("a", "x", "N#y#+1"));
        assert!(forged.starts_with("T#a#N#"));
        assert_eq!(forged.matches('#').count(), 4, "{forged}");
        // Scope "s" of tenant "a" and scope "b#S#s" can never meet in GSI1.
        assert_ne!(gsi1_pk("a", "b#S#s", 1), gsi1_pk("a#b", "s", 1));
        assert!(tenant("a#b").is_err());
    }

    #[test]
    fn shards_spread_numbers() {
        assert_eq!(shard("+14155552671"), 14155552671 % 16);
        let used: std::collections::HashSet<u64> = (0..1000)
            .map(|i| shard(&format!("+1415555{i:04}")))
            .collect();
        assert_eq!(used.len(), SHARDS as usize);
        assert!(shard("not a number") < SHARDS);
    }

    #[test]
    fn page_tokens_round_trip() {
        let token = page_token("list:a#b", "imp-1-2");
        assert_eq!(
            parse_page_token(&token),
            (Some("list:a#b".to_owned()), "imp-1-2")
        );
        assert_eq!(parse_page_token("imp-1-2"), (None, "imp-1-2"));
    }

    #[test]
    fn chunk_markers_sort_by_index() {
        assert!(chunk_sk(9) < chunk_sk(10));
        assert_eq!(chunk_sk(7), "CHUNK#000007");
    }
}
