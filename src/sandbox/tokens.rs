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
    /// (client id, card fingerprint) → its token, so issuing does not walk every token.
    by_card: HashMap<(String, String), String>,
    /// Tokens, oldest first.
    issued: VecDeque<String>,
    /// Tokens issued or forgotten since [`Vault::take_changed`] (for the state file).
    changed: Vec<String>,
}

impl Vault {
    /// Stores a card for a client and returns its token. The same card (by fingerprint) for
    /// the same client keeps its token.
    pub fn issue(&mut self, client_id: &str, card: &CardProfile) -> String {
        let key = (client_id.to_owned(), card.fingerprint.clone());
        if let Some(token) = self.by_card.get(&key) {
            return token.clone();
        }
        while self.issued.len() >= MAX_TOKENS {
            if let Some(old) = self.issued.pop_front() {
                if let Some((client, card)) = self.tokens.remove(&old) {
                    self.by_card.remove(&(client, card.fingerprint));
                }
                self.changed.push(old);
            }
        }
        let token = format!("ctok_{}", uuid::Uuid::new_v4().simple());
        self.keep(token.clone(), (client_id.to_owned(), card.clone()));
        self.changed.push(token.clone());
        token
    }

    /// Keeps `token` for a client's card, as the newest.
    fn keep(&mut self, token: String, (client, card): (String, CardProfile)) {
        self.by_card
            .insert((client.clone(), card.fingerprint.clone()), token.clone());
        self.tokens.insert(token.clone(), (client, card));
        self.issued.push_back(token);
    }

    /// How many tokens are kept.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// The tokens issued or forgotten since the last call, in that order.
    pub fn take_changed(&mut self) -> Vec<String> {
        std::mem::take(&mut self.changed)
    }

    /// A token's row for the state file (its client id and card profile); `None` when the
    /// token is not kept.
    pub fn row(&self, token: &str) -> Option<Vec<u8>> {
        let entry = self.tokens.get(token)?;
        serde_json::to_vec(entry).ok()
    }

    /// The vault of saved rows (oldest first), as [`Vault::row`] made them.
    pub fn restore(rows: Vec<(String, Vec<u8>)>) -> Result<Self, String> {
        let mut vault = Vault::default();
        for (token, row) in rows {
            let entry: (String, CardProfile) = serde_json::from_slice(row.as_slice())
                .map_err(|e| format!("token {token}: unreadable row: {e}"))?;
            vault.keep(token, entry);
        }
        Ok(vault)
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
    fn a_restored_vault_keeps_the_cards_and_their_order() {
        let mut v = Vault::default();
        let p = CardProfile::from_number("4054695723100768", "X");
        let a = v.issue("A", &p);
        let b = v.issue("B", &p);
        assert_eq!(v.take_changed(), [a.clone(), b.clone()]);
        let rows = [&a, &b].map(|t| (t.clone(), v.row(t).unwrap())).to_vec();
        let mut restored = Vault::restore(rows).unwrap();
        assert_eq!(restored.card("A", &a), Some(&p));
        assert_eq!(restored.issued, [a.clone(), b]);
        assert_eq!(restored.issue("A", &p), a, "the same card keeps its token");
        let err = Vault::restore(vec![("t".into(), b"{".to_vec())]).unwrap_err();
        assert!(err.starts_with("token t:"), "{err}");
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
        let again = v.issue("client-0", &p);
        assert_ne!(again, first, "a forgotten card gets a new token");
        assert_eq!(v.by_card.len(), MAX_TOKENS);
    }
}
