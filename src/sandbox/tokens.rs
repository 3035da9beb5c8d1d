//! Card tokens: issued for tokenizeMode ENABLED (or ASKFORCONSENT with consent), bound to the
//! client id that created them, accepted back as `paymentMethod.paymentMethodId`.

use std::collections::HashMap;

use super::cards::CardProfile;

/// The vault of issued tokens.
#[derive(Debug, Default)]
pub struct Vault {
    tokens: HashMap<String, (String, CardProfile)>,
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
        let token = format!("ctok_{}", uuid::Uuid::new_v4().simple());
        self.tokens
            .insert(token.clone(), (client_id.to_owned(), card.clone()));
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
        let p = CardProfile::from_number("4054695723100768", "X").unwrap();
        let t = v.issue("A", &p);
        assert_eq!(v.issue("A", &p), t);
        assert!(v.card("A", &t).is_some());
        assert!(v.card("B", &t).is_none());
    }
}
