//! Delivery faults (`/_sandbox/faults`): the unscoped set, and sets scoped to one payment
//! and/or one client so parallel flows do not see each other's faults.
//!
//! ```text
//! POST /_sandbox/faults {"drop_next": 1}                          unscoped (every delivery)
//! POST /_sandbox/faults {"paymentId": "P1", "drop_next": 1}       only deliveries of payment P1
//! POST /_sandbox/faults {"clientId": "SANDBOX_A", "delay_ms": 500} only deliveries to client A
//! ```
//! A delivery is governed by exactly one set: the most specific set whose scope matches it
//! (payment and client, then payment, then client), else the unscoped set. Posting a scope
//! replaces that scope's set; posting a scope with no fault removes it. A scoped set whose
//! counters ran out stays (showing zeros) until replaced or reset, and keeps governing its
//! deliveries.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One set of delivery faults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Drop the next N send attempts (recorded as failed attempts, so they are retried).
    pub drop_next: u32,
    /// Wait this long (real milliseconds) before every send.
    pub delay_ms: u64,
    /// Send the next N deliveries twice.
    pub duplicate_next: u32,
    /// Hold the next delivery and send it after the one that follows it (or when the faults
    /// are next set).
    pub reorder_next: bool,
}

/// Which deliveries a set of faults applies to; both absent is the unscoped set.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Scope {
    /// Only deliveries whose body has this `paymentId`.
    #[serde(rename = "paymentId")]
    pub payment_id: Option<String>,
    /// Only deliveries to this client id.
    #[serde(rename = "clientId")]
    pub client_id: Option<String>,
}

impl Scope {
    fn matches(&self, payment_id: Option<&str>, client_id: &str) -> bool {
        self.payment_id
            .as_deref()
            .is_none_or(|p| Some(p) == payment_id)
            && self.client_id.as_deref().is_none_or(|c| c == client_id)
    }

    /// A payment scope beats a client scope; both beat either alone.
    fn specificity(&self) -> u8 {
        2 * u8::from(self.payment_id.is_some()) + u8::from(self.client_id.is_some())
    }

    fn is_unscoped(&self) -> bool {
        self.payment_id.is_none() && self.client_id.is_none()
    }
}

/// The body of `POST /_sandbox/faults` (and its answer): a set of faults and its scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScopedFaults {
    /// See [`Scope::payment_id`].
    #[serde(rename = "paymentId", skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// See [`Scope::client_id`].
    #[serde(rename = "clientId", skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// See [`Faults::drop_next`].
    pub drop_next: u32,
    /// See [`Faults::delay_ms`].
    pub delay_ms: u64,
    /// See [`Faults::duplicate_next`].
    pub duplicate_next: u32,
    /// See [`Faults::reorder_next`].
    pub reorder_next: bool,
}

impl ScopedFaults {
    /// The fields `POST /_sandbox/faults` accepts.
    pub const FIELDS: &str =
        "paymentId, clientId, drop_next, delay_ms, duplicate_next, reorder_next";

    /// The scope and the faults.
    pub fn split(self) -> (Scope, Faults) {
        (
            Scope {
                payment_id: self.payment_id,
                client_id: self.client_id,
            },
            Faults {
                drop_next: self.drop_next,
                delay_ms: self.delay_ms,
                duplicate_next: self.duplicate_next,
                reorder_next: self.reorder_next,
            },
        )
    }
}

/// Every set of faults: the unscoped one and the scoped ones.
#[derive(Debug, Default)]
pub struct FaultBook {
    unscoped: Faults,
    scoped: BTreeMap<Scope, Faults>,
}

impl FaultBook {
    /// Replaces the set of `scope`; a scoped set without any fault is removed.
    pub fn set(&mut self, scope: Scope, faults: Faults) {
        if scope.is_unscoped() {
            self.unscoped = faults;
        } else if faults == Faults::default() {
            self.scoped.remove(&scope);
        } else {
            self.scoped.insert(scope, faults);
        }
    }

    /// The scope of the set governing a delivery of `payment_id` to `client_id`.
    pub fn scope_of(&self, payment_id: Option<&str>, client_id: &str) -> Scope {
        self.scoped
            .keys()
            .filter(|s| s.matches(payment_id, client_id))
            .max_by_key(|s| s.specificity())
            .cloned()
            .unwrap_or_default()
    }

    /// The set of `scope` (created empty if it is not there).
    pub fn get_mut(&mut self, scope: &Scope) -> &mut Faults {
        if scope.is_unscoped() {
            &mut self.unscoped
        } else {
            self.scoped.entry(scope.clone()).or_default()
        }
    }

    /// The unscoped faults at the top level (as before scopes existed) and the scoped sets
    /// under `scoped`: `{"drop_next": 0, …, "scoped": [{"paymentId": "P1", "clientId": null,
    /// "drop_next": 1, …}]}`.
    pub fn to_json(&self) -> Value {
        let mut out = json!(self.unscoped);
        let scoped: Vec<Value> = self
            .scoped
            .iter()
            .map(|(scope, f)| {
                let mut v = json!(scope);
                if let (Some(o), Value::Object(fields)) = (v.as_object_mut(), json!(f)) {
                    o.extend(fields);
                }
                v
            })
            .collect();
        out["scoped"] = Value::Array(scoped);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(payment: Option<&str>, client: Option<&str>) -> Scope {
        Scope {
            payment_id: payment.map(str::to_owned),
            client_id: client.map(str::to_owned),
        }
    }

    fn drop(n: u32) -> Faults {
        Faults {
            drop_next: n,
            ..Faults::default()
        }
    }

    #[test]
    fn the_most_specific_matching_set_governs() {
        let mut book = FaultBook::default();
        book.set(Scope::default(), drop(1));
        book.set(scope(None, Some("A")), drop(2));
        book.set(scope(Some("P1"), None), drop(3));
        book.set(scope(Some("P1"), Some("A")), drop(4));
        let n = |p: Option<&str>, c: &str| {
            let s = book.scope_of(p, c);
            book.scoped.get(&s).unwrap_or(&book.unscoped).drop_next
        };
        assert_eq!(n(Some("P1"), "A"), 4);
        assert_eq!(n(Some("P1"), "B"), 3);
        assert_eq!(n(Some("P2"), "A"), 2);
        assert_eq!(n(None, "A"), 2);
        assert_eq!(n(Some("P2"), "B"), 1);
        assert_eq!(n(None, "B"), 1);
    }

    #[test]
    fn scoped_sets_coexist_and_an_empty_one_is_removed() {
        let mut book = FaultBook::default();
        book.set(scope(Some("P1"), None), drop(1));
        book.set(scope(Some("P2"), None), drop(2));
        book.get_mut(&scope(Some("P1"), None)).drop_next -= 1;
        let v = book.to_json();
        assert_eq!(v["drop_next"], 0);
        assert_eq!(v["scoped"].as_array().unwrap().len(), 2);
        assert_eq!(v["scoped"][0]["paymentId"], "P1");
        assert_eq!(v["scoped"][0]["clientId"], Value::Null);
        assert_eq!(v["scoped"][0]["drop_next"], 0);
        assert_eq!(v["scoped"][1]["drop_next"], 2);
        book.set(scope(Some("P2"), None), Faults::default());
        assert_eq!(book.to_json()["scoped"].as_array().unwrap().len(), 1);
        // An unscoped set never touches the scoped ones.
        book.set(Scope::default(), drop(5));
        assert_eq!(book.get_mut(&scope(Some("P1"), None)).drop_next, 0);
        assert_eq!(book.get_mut(&Scope::default()).drop_next, 5);
    }

    #[test]
    fn the_request_body_splits_and_echoes() {
        let body: ScopedFaults =
            serde_json::from_str(r#"{"paymentId": "P1", "reorder_next": true}"#).unwrap();
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"paymentId": "P1", "drop_next": 0, "delay_ms": 0, "duplicate_next": 0,
                   "reorder_next": true})
        );
        let (s, f) = body.split();
        assert_eq!(s, scope(Some("P1"), None));
        assert!(f.reorder_next);
        assert!(serde_json::from_str::<ScopedFaults>(r#"{"payment_id": "P1"}"#).is_err());
        // Unscoped, the answer is exactly the old one.
        let body: ScopedFaults = serde_json::from_str(r#"{"drop_next": 1}"#).unwrap();
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"drop_next": 1, "delay_ms": 0, "duplicate_next": 0, "reorder_next": false})
        );
    }
}
