//! Cases: one rule firing on one subject, with an id that stays the same
//! night after night so supervision teams can record outcomes against it.

use sha2::{Digest, Sha256};

/// `case_id` = the first 16 hex characters of SHA-256(`rule_id|subject key`),
/// where the subject key is the rule's subject values joined by `|`.
pub fn case_id(rule_id: &str, subject: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(rule_id.as_bytes());
    for part in subject {
        h.update(b"|");
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())[..16].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_id_is_sha256_of_rule_and_subject() {
        // sha256("deceased_recipient|220102195001011230")
        let id = case_id("deceased_recipient", &["220102195001011230"]);
        let mut h = Sha256::new();
        h.update(b"deceased_recipient|220102195001011230");
        assert_eq!(id, hex::encode(h.finalize())[..16]);
        assert_eq!(id.len(), 16);
        assert_ne!(id, case_id("deceased_recipient", &["220102195001011231"]));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(case_id("r", &["ab", "c"]), case_id("r", &["a", "bc"]));
    }
}
