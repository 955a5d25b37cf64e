//! Identifiers the switch invents: Via branches (with the RFC 3261 magic
//! cookie), From/To tags and Call-IDs. Random enough to be globally unique,
//! cheap enough for thousands a second.

use rand::Rng;

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn token(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A Via branch: `z9hG4bK` + 20 random characters (100 bits).
pub fn branch() -> String {
    let mut s = String::with_capacity(27);
    s.push_str("z9hG4bK");
    s.push_str(&token(20));
    s
}

/// A From/To tag (64 bits).
pub fn tag() -> String {
    token(13)
}

/// A Call-ID for a dialog the switch starts (130 bits).
pub fn call_id() -> String {
    token(26)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn identifiers_have_their_form_and_do_not_repeat() {
        let b = branch();
        assert!(b.starts_with("z9hG4bK") && b.len() == 27);
        let set: HashSet<String> = (0..10_000).map(|_| call_id()).collect();
        assert_eq!(set.len(), 10_000);
        assert!(tag().chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
