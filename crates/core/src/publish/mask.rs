//! What files for people show of personal numbers: ID numbers and bank
//! cards masked (`220102********1234`, `621730******1106`) unless the
//! pipeline turns masking off. The Parquet for analysts keeps them whole.

use crate::idcard;

/// An ID number as supervision files show it, when masking is on.
pub fn shown_id(id: Option<&str>, mask: bool) -> Option<String> {
    id.map(|i| if mask { idcard::mask(i) } else { i.to_string() })
}

fn looks_like_id(s: &str) -> bool {
    let b = s.as_bytes();
    (b.len() == 18 || b.len() == 15)
        && b[..b.len() - 1].iter().all(u8::is_ascii_digit)
        && (b[b.len() - 1].is_ascii_digit() || b[b.len() - 1] == b'X')
}

/// A bank card number as supervision files show it: the issuer's first six
/// digits and the last four (`621730******1106`).
pub fn mask_account(account: &str) -> String {
    let chars: Vec<char> = account.chars().collect();
    if chars.len() <= 10 {
        return account.to_string();
    }
    chars.iter().enumerate().map(|(i, c)| if i < 6 || i >= chars.len() - 4 { *c } else { '*' }).collect()
}

/// Evidence keys that hold card numbers.
const ACCOUNT_KEYS: &[&str] = &["account_no", "account_nos"];

/// Evidence as supervision files show it: any value shaped like an ID
/// number, and every card number, masked.
pub fn shown_evidence(evidence: &str, mask: bool) -> serde_json::Map<String, serde_json::Value> {
    let mut map = match serde_json::from_str::<serde_json::Value>(evidence) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    if mask {
        for (k, v) in map.iter_mut() {
            if let serde_json::Value::String(s) = v {
                if ACCOUNT_KEYS.contains(&k.as_str()) {
                    *s = s.split(',').map(mask_account).collect::<Vec<_>>().join(",");
                } else if looks_like_id(s) {
                    *s = idcard::mask(s);
                }
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_ids_are_masked_and_other_values_kept() {
        let m = shown_evidence(r#"{"employee":"220102195001011230","plates":"吉A12345","n":3}"#, true);
        assert_eq!(m["employee"], "220102********1230");
        assert_eq!(m["plates"], "吉A12345");
        assert_eq!(m["n"], 3);
        let m = shown_evidence(r#"{"account_nos":"6217300000001106,6217300000002207"}"#, true);
        assert_eq!(m["account_nos"], "621730******1106,621730******2207");
        let m = shown_evidence(r#"{"employee":"220102195001011230"}"#, false);
        assert_eq!(m["employee"], "220102195001011230");
    }
}
