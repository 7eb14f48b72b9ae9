//! The replay: every delivery posted through the kit's retrying sender by a few concurrent
//! senders, with a progress bar.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use flowmeter_demo::DemoDelivery;
use flowmeter_kit::{Retry, Sender, Sent};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::api::Api;

/// How the replay went: accepted deliveries, rejected ones `(index, status, answer)`, and the
/// retries it took.
pub(crate) struct ReplayStats {
    pub(crate) accepted: usize,
    pub(crate) rejected: Vec<(usize, u16, String)>,
    pub(crate) retries: u64,
}

/// How the replay retries: connection errors and 5xx, 8 attempts, waits doubling from 100 ms
/// to 3 s.
pub(crate) const RETRY: Retry = Retry {
    first_delay: Duration::from_millis(100),
    max_delay: Duration::from_secs(3),
    max_attempts: Some(8),
    deadline: None,
};

/// Posts every delivery, in order, from `senders` concurrent senders (Linear's signed with
/// `linear_secret` when sent).
pub(crate) async fn replay(
    api: &Api,
    deliveries: Arc<Vec<DemoDelivery>>,
    senders: usize,
    linear_secret: &str,
) -> ReplayStats {
    let total = deliveries.len();
    let bar =
        ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr_with_hz(5));
    if let Ok(style) = ProgressStyle::with_template(
        "  replay [{bar:36.cyan/blue}] {pos}/{len} deliveries · {per_sec} · ETA {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    let sender = Sender::new(api.http.clone(), api.base.clone(), RETRY);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (sender, deliveries, next, bar) = (
            sender.clone(),
            deliveries.clone(),
            next.clone(),
            bar.clone(),
        );
        let linear_secret = linear_secret.to_string();
        tasks.push(tokio::spawn(async move {
            let mut rejected = Vec::new();
            let mut accepted = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(d) = deliveries.get(i) else { break };
                // A Linear delivery is dated when it is sent.
                match sender.send(&d.delivery.sent_now(&linear_secret)).await {
                    Sent::Accepted(_) => accepted += 1,
                    Sent::Rejected(answer) => rejected.push((i, answer.status, answer.text())),
                    Sent::GaveUp { attempts, last } => {
                        rejected.push((i, 0, format!("gave up after {attempts} attempts: {last}")))
                    }
                }
                bar.inc(1);
            }
            (accepted, rejected)
        }));
    }
    let mut stats = ReplayStats {
        accepted: 0,
        rejected: Vec::new(),
        retries: 0,
    };
    for task in tasks {
        if let Ok((accepted, rejected)) = task.await {
            stats.accepted += accepted;
            stats.rejected.extend(rejected);
        }
    }
    bar.finish_and_clear();
    stats.retries = sender.retries();
    stats
}
