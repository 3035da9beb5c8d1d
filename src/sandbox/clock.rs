//! The virtual clock: real time plus an offset that the control API advances, so expiry and
//! the notification retry schedule (hours long) are testable in milliseconds.

use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};

/// Real time shifted by an offset that only grows.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// The current virtual time.
    pub fn now(&self) -> Timestamp {
        let offset = SignedDuration::from_millis(self.offset_ms.load(Ordering::Relaxed));
        Timestamp::now()
            .saturating_add(offset)
            .unwrap_or(Timestamp::MAX)
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: SignedDuration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX).max(0);
        let _ = self
            .offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                Some(o.saturating_add(ms))
            });
    }

    /// How far ahead of real time it is, in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// A clock `offset_ms` milliseconds ahead of real time (a resumed sandbox's).
    pub fn with_offset_ms(offset_ms: i64) -> Self {
        Clock {
            offset_ms: AtomicI64::new(offset_ms.max(0)),
        }
    }

    /// Back to real time.
    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::Relaxed);
    }
}

/// Formats a time as APO does: ISO 8601 with an offset, second precision (`…T12:01:01+00:00`).
pub fn iso(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_forward_only() {
        let c = Clock::default();
        let before = c.now();
        c.advance(SignedDuration::from_hours(2));
        assert!(c.now().duration_since(before) >= SignedDuration::from_hours(2));
        c.advance(SignedDuration::from_hours(-5));
        assert!(c.now().duration_since(before) >= SignedDuration::from_hours(2));
        c.reset();
        assert!(c.now().duration_since(before) < SignedDuration::from_hours(1));
    }

    #[test]
    fn iso_has_offset() {
        let t: Timestamp = "2025-03-17T02:22:52Z".parse().unwrap();
        assert_eq!(iso(t), "2025-03-17T02:22:52+00:00");
    }
}
