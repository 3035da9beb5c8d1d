//! Signed notifications with APO's retry schedule, on the virtual clock, with fault injection.
//!
//! ```text
//! state ─Notice─► enqueue ─► Pending(next_due) ─ due on the virtual clock ─► send (signed POST)
//!                               ▲                                              │
//!                               └── not acknowledged: next_due += SCHEDULE[n] ─┤ HTTP 200 + SUCCESS body
//!                                   (8 attempts in all, then Failed)           ▼
//!                                                                          Delivered
//! ```
//! A delivery is acknowledged only by HTTP 200 with a JSON body whose `result.resultCode` is
//! `SUCCESS` and `result.resultStatus` is `S` (apo-api.md §7.3). Nothing is lost while the
//! receiver is down: the delivery stays pending and is retried. A background task wakes every
//! 100 ms, and at once when the clock is advanced or a notice is queued.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::clock::iso;
use super::payment::Notice;
use super::state::State;
use crate::apo::keys::PrivateKey;
use crate::apo::sign::{SignedParts, sign};

/// Wait before each send: 0, 2 min, 10 min, 10 min, 1 h, 2 h, 6 h, 15 h (apo-api.md §7.4).
pub const SCHEDULE: [SignedDuration; 8] = [
    SignedDuration::ZERO,
    SignedDuration::from_mins(2),
    SignedDuration::from_mins(10),
    SignedDuration::from_mins(10),
    SignedDuration::from_hours(1),
    SignedDuration::from_hours(2),
    SignedDuration::from_hours(6),
    SignedDuration::from_hours(15),
];

/// Delivery faults set through the control API.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Pending,
    Held,
    InFlight,
    Delivered,
    Failed,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Pending => "pending",
            Stage::Held => "held",
            Stage::InFlight => "in_flight",
            Stage::Delivered => "delivered",
            Stage::Failed => "failed",
        }
    }
}

#[derive(Debug)]
struct Attempt {
    at: Timestamp,
    outcome: String,
    acknowledged: bool,
}

#[derive(Debug)]
struct Delivery {
    id: u64,
    notice: Notice,
    body: Arc<Vec<u8>>,
    stage: Stage,
    next_due: Timestamp,
    attempts: Vec<Attempt>,
}

#[derive(Debug, Default)]
struct Book {
    deliveries: Vec<Delivery>,
    faults: Faults,
    next_id: u64,
}

struct Job {
    id: u64,
    url: String,
    client_id: String,
    body: Arc<Vec<u8>>,
    copies: u32,
}

/// The notification sender.
#[derive(Debug)]
pub struct Notifier {
    book: Mutex<Book>,
    wake: Notify,
    http: reqwest::Client,
    key: PrivateKey,
}

impl Notifier {
    /// A notifier signing with the sandbox's APO key.
    pub fn new(key: PrivateKey) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Notifier {
            book: Mutex::default(),
            wake: Notify::new(),
            http,
            key,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues notices for immediate sending.
    pub fn enqueue(&self, notices: Vec<Notice>, now: Timestamp) {
        if notices.is_empty() {
            return;
        }
        let mut book = self.lock();
        for notice in notices {
            book.next_id += 1;
            let id = book.next_id;
            let body = Arc::new(serde_json::to_vec(&notice.body).unwrap_or_default());
            book.deliveries.push(Delivery {
                id,
                notice,
                body,
                stage: Stage::Pending,
                next_due: now,
                attempts: Vec::new(),
            });
        }
        drop(book);
        self.wake.notify_one();
    }

    /// Wakes the delivery loop (after the clock moved).
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Replaces the faults; a delivery held for reordering is released.
    pub fn set_faults(&self, faults: Faults) {
        let mut book = self.lock();
        book.faults = faults;
        for d in &mut book.deliveries {
            if d.stage == Stage::Held {
                d.stage = Stage::Pending;
            }
        }
        drop(book);
        self.wake.notify_one();
    }

    /// Forgets every delivery and fault.
    pub fn reset(&self) {
        *self.lock() = Book::default();
    }

    /// Every delivery with its attempts, as JSON (for `/_sandbox/deliveries`).
    pub fn list(&self) -> Value {
        let book = self.lock();
        let items: Vec<Value> = book
            .deliveries
            .iter()
            .map(|d| {
                json!({
                    "id": d.id,
                    "notifyType": d.notice.notify_type,
                    "url": d.notice.url,
                    "paymentId": d.notice.body.get("paymentId"),
                    "state": d.stage.name(),
                    "nextAttemptAt": matches!(d.stage, Stage::Pending).then(|| iso(d.next_due)),
                    "attempts": d.attempts.iter().map(|a| json!({
                        "at": iso(a.at),
                        "outcome": a.outcome,
                        "acknowledged": a.acknowledged,
                    })).collect::<Vec<_>>(),
                    "body": d.notice.body,
                })
            })
            .collect();
        json!({ "faults": book.faults, "deliveries": items })
    }

    fn record(&self, id: u64, at: Timestamp, outcome: String, acknowledged: bool) {
        let mut book = self.lock();
        let Some(d) = book.deliveries.iter_mut().find(|d| d.id == id) else {
            return;
        };
        d.attempts.push(Attempt {
            at,
            outcome,
            acknowledged,
        });
        schedule_next(d, at, acknowledged);
    }

    fn take_due(&self, now: Timestamp) -> Vec<Vec<Job>> {
        let mut book = self.lock();
        let Book {
            deliveries, faults, ..
        } = &mut *book;
        let mut due = Vec::new();
        for d in deliveries.iter_mut() {
            if d.stage != Stage::Pending || d.next_due > now {
                continue;
            }
            if faults.drop_next > 0 {
                faults.drop_next -= 1;
                d.attempts.push(Attempt {
                    at: now,
                    outcome: "dropped (fault injection)".to_owned(),
                    acknowledged: false,
                });
                schedule_next(d, now, false);
                continue;
            }
            let copies = if faults.duplicate_next > 0 {
                faults.duplicate_next -= 1;
                2
            } else {
                1
            };
            d.stage = Stage::InFlight;
            due.push(Job {
                id: d.id,
                url: d.notice.url.clone(),
                client_id: d.notice.client_id.clone(),
                body: d.body.clone(),
                copies,
            });
        }
        if due.is_empty() {
            return Vec::new();
        }
        // Reorder: hold the first due delivery until a later one is due, then send the later
        // one first, in one sequential batch.
        let held: Vec<u64> = deliveries
            .iter()
            .filter(|d| d.stage == Stage::Held)
            .map(|d| d.id)
            .collect();
        if faults.reorder_next && held.is_empty() && due.len() > 1 {
            // Two already due together: send the first one last.
            faults.reorder_next = false;
            let first = due.remove(0);
            due.push(first);
            return vec![due];
        }
        if faults.reorder_next && held.is_empty() {
            faults.reorder_next = false;
            let first = due.remove(0);
            if let Some(d) = deliveries.iter_mut().find(|d| d.id == first.id) {
                d.stage = Stage::Held;
            }
            return due.into_iter().map(|j| vec![j]).collect();
        }
        if let Some(&held_id) = held.first() {
            let job = deliveries.iter_mut().find(|d| d.id == held_id).map(|d| {
                d.stage = Stage::InFlight;
                Job {
                    id: d.id,
                    url: d.notice.url.clone(),
                    client_id: d.notice.client_id.clone(),
                    body: d.body.clone(),
                    copies: 1,
                }
            });
            let mut batch = due;
            batch.extend(job);
            return vec![batch];
        }
        due.into_iter().map(|j| vec![j]).collect()
    }

    async fn send(&self, state: &State, job: &Job) {
        let delay = self.lock().faults.delay_ms;
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        for _ in 0..job.copies {
            let at = state.clock.now();
            let time = iso(at);
            let path = url::Url::parse(&job.url)
                .map(|u| match u.query() {
                    Some(q) => format!("{}?{q}", u.path()),
                    None => u.path().to_owned(),
                })
                .unwrap_or_else(|_| "/".to_owned());
            let signature = sign(
                &self.key,
                &SignedParts::post(&path, &job.client_id, &time, &job.body),
            );
            let sent = self
                .http
                .post(&job.url)
                .header("content-type", "application/json; charset=UTF-8")
                .header("client-id", &job.client_id)
                .header("request-time", &time)
                .header("signature", signature)
                .body(job.body.as_ref().clone())
                .send()
                .await;
            let (outcome, ack) = match sent {
                Err(e) => (format!("not delivered: {}", error_kind(&e)), false),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let body = resp.bytes().await.unwrap_or_default();
                    let ack = status == 200 && acknowledges(&body);
                    let what = if ack {
                        "acknowledged"
                    } else {
                        "not the SUCCESS acknowledgement"
                    };
                    (format!("HTTP {status}, {what}"), ack)
                }
            };
            self.record(job.id, at, outcome, ack);
        }
    }

    /// The delivery loop; runs until the sandbox shuts down.
    pub async fn run(self: Arc<Self>, state: Arc<State>) {
        loop {
            let notices = state.sweep();
            self.enqueue(notices, state.clock.now());
            for batch in self.take_due(state.clock.now()) {
                let me = self.clone();
                let st = state.clone();
                tokio::spawn(async move {
                    for job in &batch {
                        me.send(&st, job).await;
                    }
                    me.wake.notify_one();
                });
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }
}

fn schedule_next(d: &mut Delivery, at: Timestamp, acknowledged: bool) {
    d.stage = if acknowledged {
        Stage::Delivered
    } else if let Some(wait) = SCHEDULE.get(d.attempts.len()) {
        d.next_due = at.saturating_add(*wait).unwrap_or(at);
        Stage::Pending
    } else {
        Stage::Failed
    };
}

fn error_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    }
}

/// Whether an answer body is APO's fixed SUCCESS acknowledgement.
fn acknowledges(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .is_ok_and(|v| v["result"]["resultCode"] == "SUCCESS" && v["result"]["resultStatus"] == "S")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_totals_about_a_day() {
        let total: i64 = SCHEDULE.iter().map(|d| d.as_secs()).sum();
        assert_eq!(total, 22 * 60 + 24 * 3600);
    }

    fn notice(n: u32) -> Notice {
        Notice {
            notify_type: "PAYMENT_RESULT",
            url: "http://127.0.0.1:1/n".to_owned(),
            client_id: "C".to_owned(),
            body: json!({ "n": n }),
        }
    }

    fn key() -> PrivateKey {
        PrivateKey::from_text(crate::sandbox::SANDBOX_APO_PRIVATE_KEY).unwrap()
    }

    #[test]
    fn drop_counts_as_a_failed_attempt_and_schedules_the_retry() {
        let n = Notifier::new(key());
        let now = Timestamp::now();
        n.set_faults(Faults {
            drop_next: 1,
            ..Faults::default()
        });
        n.enqueue(vec![notice(1)], now);
        assert!(n.take_due(now).is_empty());
        let list = n.list();
        assert_eq!(
            list["deliveries"][0]["attempts"].as_array().unwrap().len(),
            1
        );
        assert!(
            n.take_due(now.saturating_add(SignedDuration::from_secs(119)).unwrap())
                .is_empty()
        );
        assert_eq!(
            n.take_due(now.saturating_add(SCHEDULE[1]).unwrap()).len(),
            1
        );
    }

    #[test]
    fn reorder_holds_one_until_the_next_or_until_released() {
        let n = Notifier::new(key());
        let now = Timestamp::now();
        n.set_faults(Faults {
            reorder_next: true,
            ..Faults::default()
        });
        n.enqueue(vec![notice(1)], now);
        assert!(n.take_due(now).is_empty());
        n.enqueue(vec![notice(2)], now);
        let batches = n.take_due(now);
        let ids: Vec<u64> = batches.iter().flatten().map(|j| j.id).collect();
        assert_eq!(ids, [2, 1]);
        // A lone held delivery is released when the faults are set again.
        n.set_faults(Faults {
            reorder_next: true,
            ..Faults::default()
        });
        n.enqueue(vec![notice(3)], now);
        assert!(n.take_due(now).is_empty());
        n.set_faults(Faults::default());
        assert_eq!(n.take_due(now).len(), 1);
    }

    #[test]
    fn only_the_success_body_acknowledges() {
        assert!(acknowledges(
            br#"{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}"#
        ));
        assert!(!acknowledges(b"OK"));
        assert!(!acknowledges(
            br#"{"result":{"resultCode":"PROCESS_FAIL","resultStatus":"F"}}"#
        ));
    }
}
