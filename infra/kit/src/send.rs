//! Posting deliveries to a running server, as a careful webhook source does: 5xx answers and
//! connection errors are retried with exponential backoff; any other answer is final.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{Delivery, Rng};

/// When to retry a delivery, and how long to wait before each retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// The wait before the first retry; it doubles with each retry, up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Give up after this many attempts…
    pub max_attempts: Option<u32>,
    /// …or once a failed attempt ends this long after the first one started.
    pub deadline: Option<Duration>,
}

impl Retry {
    /// The wait before retry `n` (1 for the first): `first_delay · 2^(n-1)`, at most `max_delay`.
    pub fn delay(&self, n: u32) -> Duration {
        let doublings = n.saturating_sub(1).min(20);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }

    /// [`Retry::delay`] with "equal jitter": half of it, plus up to the other half drawn from
    /// `rng` (whole milliseconds).
    pub fn jittered_delay(&self, n: u32, rng: &mut Rng) -> Duration {
        let half = self.delay(n).as_millis() as u64 / 2;
        Duration::from_millis(half + rng.range(0, half as i64) as u64)
    }
}

/// A server's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How a delivery ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// A 2xx answer.
    Accepted(Answer),
    /// An answer that is neither 2xx nor 5xx: retrying would not change it.
    Rejected(Answer),
    /// Still a 5xx or no answer when [`Retry`] said stop; `last` is what the last attempt got.
    GaveUp { attempts: u32, last: String },
}

/// One attempt: when it started and ended, and its status (0: no answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub start: Instant,
    pub end: Instant,
    pub status: u16,
}

/// Posts deliveries to `base` (`http://host:port`); cheap to clone, and the clones share one
/// retry count.
#[derive(Clone, Debug)]
pub struct Sender {
    client: reqwest::Client,
    base: String,
    retry: Retry,
    retries: Arc<AtomicU64>,
}

impl Sender {
    pub fn new(client: reqwest::Client, base: impl Into<String>, retry: Retry) -> Sender {
        Sender {
            client,
            base: base.into(),
            retry,
            retries: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Retries made so far, by this sender and its clones.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Sends `delivery` until it is answered with anything but a 5xx, or [`Retry`] gives up.
    pub async fn send(&self, delivery: &Delivery) -> Sent {
        self.send_logged(delivery, None, |_| {}).await
    }

    /// [`Sender::send`], with the waits jittered from `jitter` (when given) and every attempt
    /// reported to `log`.
    pub async fn send_logged(
        &self,
        delivery: &Delivery,
        mut jitter: Option<&mut Rng>,
        mut log: impl FnMut(Attempt),
    ) -> Sent {
        let started = Instant::now();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let start = Instant::now();
            let outcome = self.attempt(delivery).await;
            let end = Instant::now();
            let status = outcome.as_ref().map_or(0, |a| a.status);
            log(Attempt { start, end, status });
            let last = match outcome {
                Ok(answer) if (200..300).contains(&answer.status) => return Sent::Accepted(answer),
                Ok(answer) if answer.status < 500 => return Sent::Rejected(answer),
                Ok(answer) => status_line(answer.status),
                Err(error) => error.to_string(),
            };
            let out_of_attempts = self.retry.max_attempts.is_some_and(|n| attempts >= n);
            let out_of_time = self.retry.deadline.is_some_and(|d| end > started + d);
            if out_of_attempts || out_of_time {
                return Sent::GaveUp { attempts, last };
            }
            self.retries.fetch_add(1, Ordering::Relaxed);
            let wait = match jitter.as_deref_mut() {
                Some(rng) => self.retry.jittered_delay(attempts, rng),
                None => self.retry.delay(attempts),
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// One POST: the answer, or why there was none.
    async fn attempt(&self, delivery: &Delivery) -> Result<Answer, reqwest::Error> {
        let mut request = self
            .client
            .post(format!("{}{}", self.base, delivery.path))
            .body(delivery.body.clone());
        for (name, value) in &delivery.headers {
            request = request.header(*name, value.as_str());
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        Ok(Answer { status, body })
    }
}

/// `503 Service Unavailable`, as reqwest prints a status.
fn status_line(status: u16) -> String {
    reqwest::StatusCode::from_u16(status).map_or_else(|_| status.to_string(), |s| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_jitter_stays_in_the_upper_half() {
        let retry = Retry {
            first_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
            max_attempts: None,
            deadline: None,
        };
        let ms: Vec<u128> = (1..=8).map(|n| retry.delay(n).as_millis()).collect();
        assert_eq!(ms, [50, 100, 200, 400, 800, 1600, 2000, 2000]);
        let mut rng = Rng::new(1);
        for n in 1..=8 {
            let full = retry.delay(n);
            let wait = retry.jittered_delay(n, &mut rng);
            assert!(wait >= full / 2 && wait <= full, "{wait:?} for {full:?}");
        }
    }
}
