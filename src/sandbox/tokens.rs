//! Card tokens: issued for tokenizeMode ENABLED (or ASKFORCONSENT with consent), bound to the
//! client id that created them, accepted back as `paymentMethod.paymentMethodId`.

use std::collections::{HashMap, VecDeque};

use super::cards::CardProfile;

/// How many tokens the vault keeps; beyond it the oldest issued is forgotten (a later
/// saved-card pay with it is PARAM_ILLEGAL, as for an unknown token).
pub const MAX_TOKENS: usize = 10_000;

/// The vault of issued tokens.
#[derive(Debug, Default)]
pub struct Vault {
    tokens: HashMap<String, (String, CardProfile)>,
    /// Tokens, oldest first.
    issued: VecDeque<String>,
}

impl Vault {
    /// Stores a card for a client and returns its token. The same card (by fingerprint) for
    /// the same client keeps its token.
    pub fn issue(&mut self, client_id: &str, card: &CardProfile) -> String {
        if let Some((token, _)) = self
            .tokens
            .iter()
            .find(|(_, (c, p))| c == client_id && p.fingerprint == card.fingerprint)
        {
            return token.clone();
        }
        while self.issued.len() >= MAX_TOKENS {
            if let Some(old) = self.issued.pop_front() {
                self.tokens.remove(&old);
            }
        }
        let token = format!("ctok_{}", uuid::Uuid::new_v4().simple());
        self.tokens
            .insert(token.clone(), (client_id.to_owned(), card.clone()));
        self.issued.push_back(token.clone());
        token
    }

    /// The card behind a token, only for the client it was issued to.
    pub fn card(&self, client_id: &str, token: &str) -> Option<&CardProfile> {
        self.tokens
            .get(token)
            .filter(|(c, _)| c == client_id)
            .map(|(_, p)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_the_client() {
        let mut v = Vault::default();
        let p = CardProfile::from_number("4054695723100768", "X");
        let t = v.issue("A", &p);
        assert_eq!(v.issue("A", &p), t);
        assert!(v.card("A", &t).is_some());
        assert!(v.card("B", &t).is_none());
    }

    #[test]
    fn the_oldest_token_goes_beyond_the_limit() {
        let mut v = Vault::default();
        let p = CardProfile::from_number("4054695723100768", "X");
        let first = v.issue("client-0", &p);
        for i in 1..=MAX_TOKENS {
            v.issue(&format!("client-{i}"), &p);
        }
        assert_eq!(v.tokens.len(), MAX_TOKENS);
        assert!(v.card("client-0", &first).is_none());
        assert!(
            v.card(&format!("client-{MAX_TOKENS}"), v.issued.back().unwrap())
                .is_some()
        );
    }
}
