//! The two orders the store needs among its payments, kept so that neither a pay nor a sweep
//! walks them all: by creation time, finished ones apart (which payment to forget first when
//! the store is full: the oldest finished, else the oldest), and by the time of the next
//! time-driven transition (which payments a sweep must tick).
//!
//! The store tells the index where each payment it changed now stands ([`Place`]); a payment
//! the index has not been told about is in neither order.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use jiff::Timestamp;

/// Where one payment stands in the orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// When it was created.
    pub created: Timestamp,
    /// Whether nothing can happen to it any more ([`super::payment::Payment::is_finished`]).
    pub finished: bool,
    /// When a tick can first change it ([`super::payment::Payment::next_due`]).
    pub due: Option<Timestamp>,
}

/// A position in one order: the time, then the id (so equal times keep a fixed order).
type Key = (Timestamp, Arc<str>);

/// The payments by age (finished and unfinished apart) and by due time. Each payment's id is
/// allocated once and shared by the orders it is in.
#[derive(Debug, Default)]
pub struct PaymentIndex {
    places: HashMap<Arc<str>, Place>,
    finished: BTreeSet<Key>,
    unfinished: BTreeSet<Key>,
    due: BTreeSet<Key>,
}

impl PaymentIndex {
    /// Puts payment `id` at `place` (adding it, or moving it from where it was).
    pub fn set(&mut self, id: &str, place: Place) {
        let id: Arc<str> = match self.places.get_key_value(id) {
            Some((_, old)) if *old == place => return,
            Some((known, _)) => {
                let known = known.clone();
                self.unlink(&known);
                known
            }
            None => Arc::from(id),
        };
        let age = (place.created, id.clone());
        if place.finished {
            self.finished.insert(age);
        } else {
            self.unfinished.insert(age);
        }
        if let Some(due) = place.due {
            self.due.insert((due, id.clone()));
        }
        self.places.insert(id, place);
    }

    /// Takes payment `id` out of every order.
    pub fn remove(&mut self, id: &str) {
        if let Some((id, _)) = self.places.get_key_value(id) {
            let id = id.clone();
            self.unlink(&id);
            self.places.remove(&id);
        }
    }

    /// Takes `id` out of the ordered sets (its place stays in `places`).
    fn unlink(&mut self, id: &Arc<str>) {
        let Some(place) = self.places.get(id) else {
            return;
        };
        let age = (place.created, id.clone());
        if place.finished {
            self.finished.remove(&age);
        } else {
            self.unfinished.remove(&age);
        }
        if let Some(due) = place.due {
            self.due.remove(&(due, id.clone()));
        }
    }

    /// The payment to forget first: the oldest finished one, else the oldest.
    pub fn victim(&self) -> Option<&str> {
        self.finished
            .first()
            .or_else(|| self.unfinished.first())
            .map(|(_, id)| &**id)
    }

    /// The payments due at or before `now`, earliest first.
    pub fn due_by(&self, now: Timestamp) -> Vec<Arc<str>> {
        self.due
            .iter()
            .take_while(|(due, _)| *due <= now)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// How many payments it holds.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.places.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn place(created: i64, finished: bool, due: Option<i64>) -> Place {
        Place {
            created: at(created),
            finished,
            due: due.map(at),
        }
    }

    fn due(index: &PaymentIndex, now: i64) -> Vec<String> {
        index
            .due_by(at(now))
            .iter()
            .map(|id| id.to_string())
            .collect()
    }

    #[test]
    fn the_victim_is_the_oldest_finished_else_the_oldest() {
        let mut index = PaymentIndex::default();
        assert_eq!(index.victim(), None);
        index.set("b", place(2, false, None));
        index.set("a", place(1, false, None));
        index.set("c", place(3, false, None));
        assert_eq!(index.victim(), Some("a"));
        index.set("c", place(3, true, None));
        index.set("b", place(2, true, None));
        assert_eq!(index.victim(), Some("b"), "finished first, oldest of them");
        // A finished payment reopened (a cancel the buyer paid after) is unfinished again.
        index.set("b", place(2, false, None));
        assert_eq!(index.victim(), Some("c"));
        index.remove("c");
        assert_eq!(index.victim(), Some("a"));
        index.remove("a");
        index.remove("b");
        assert_eq!((index.victim(), index.len()), (None, 0));
    }

    #[test]
    fn due_lists_what_is_due_by_then_earliest_first_at_its_latest_place() {
        let mut index = PaymentIndex::default();
        index.set("late", place(0, false, Some(50)));
        index.set("soon", place(1, false, Some(10)));
        index.set("never", place(2, true, None));
        index.set("also", place(3, false, Some(10)));
        assert_eq!(due(&index, 9), Vec::<String>::new());
        assert_eq!(due(&index, 10), ["also", "soon"]);
        assert_eq!(due(&index, 60), ["also", "soon", "late"]);
        // Moved: only its new due time counts.
        index.set("soon", place(1, false, Some(70)));
        index.set("also", place(3, true, None));
        assert_eq!(due(&index, 60), ["late"]);
        assert_eq!(due(&index, 70), ["late", "soon"]);
        index.remove("late");
        assert_eq!(due(&index, 100), ["soon"]);
        assert_eq!(index.len(), 3);
    }

    #[test]
    fn setting_the_same_place_twice_changes_nothing() {
        let mut index = PaymentIndex::default();
        index.set("a", place(1, false, Some(5)));
        index.set("a", place(1, false, Some(5)));
        assert_eq!(due(&index, 5), ["a"]);
        index.remove("a");
        assert_eq!(due(&index, 5), Vec::<String>::new());
        assert_eq!(index.victim(), None);
    }
}
