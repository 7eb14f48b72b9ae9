//! One steady-rate run: send on schedule while probing the samples' counters, then sort the
//! freshness out, check the model and the table, and report (stderr summaries, the JSON line).

use super::*;

/// Freshness of one set of samples, in seconds, sorted.
pub(super) fn stats(sorted: &[f64]) -> Value {
    json!({
        "sampled": sorted.len(),
        "p50_s": round(percentile(sorted, 0.50), 3),
        "p99_s": round(percentile(sorted, 0.99), 3),
        "max_s": round(sorted.last().copied().unwrap_or(0.0), 3),
    })
}

/// The samples sorted out: freshness per counter and in all (seconds, sorted), unreflected.
pub(super) struct Freshness {
    by_counter: BTreeMap<Counter, Vec<f64>>,
    all: Vec<f64>,
    unreflected: usize,
}

pub(super) fn sort_out(plan: &Plan, outcomes: &[Outcome]) -> Freshness {
    let mut f = Freshness {
        by_counter: BTreeMap::new(),
        all: Vec::new(),
        unreflected: 0,
    };
    for outcome in outcomes {
        let change = &plan.changes[outcome.change];
        let Some(seen) = outcome.seen else {
            f.unreflected += 1;
            continue;
        };
        let seconds = seen
            .saturating_duration_since(outcome.accepted)
            .as_secs_f64();
        f.by_counter
            .entry(change.counter)
            .or_default()
            .push(seconds);
        f.all.push(seconds);
    }
    for values in f.by_counter.values_mut() {
        values.sort_by(f64::total_cmp);
    }
    f.all.sort_by(f64::total_cmp);
    f
}

/// After convergence: every repository's counters against the changes the plan counted.
async fn check_model(plan: &Plan, client: &reqwest::Client, base: &str) -> Vec<String> {
    let mut mismatches = Vec::new();
    for repo in &plan.repos {
        for report in [Report::PullRequests, Report::Dora] {
            let answer = match read_report(client, base, repo, report).await {
                Ok(answer) => answer.unwrap_or(Value::Null),
                Err(e) => {
                    mismatches.push(format!("{}: {e}", repo.name));
                    continue;
                }
            };
            for counter in COUNTERS.into_iter().filter(|c| c.report() == report) {
                let want = repo.totals.get(&counter).copied().unwrap_or(0);
                let got = counter.value(&answer);
                if got != want {
                    mismatches.push(format!(
                        "{} {}: read {got}, the plan counted {want}",
                        repo.name,
                        counter.name()
                    ));
                }
            }
        }
    }
    mismatches
}

/// Busy polls of the stream consumer: how long they took and how many records they handled.
pub(super) fn report_polls(state: &PollState) {
    let mut ms: Vec<f64> = state.busy_polls.iter().map(|(ms, _)| *ms).collect();
    ms.sort_by(f64::total_cmp);
    let mut records: Vec<f64> = state.busy_polls.iter().map(|(_, n)| *n as f64).collect();
    records.sort_by(f64::total_cmp);
    let busy_s = ms.iter().sum::<f64>() / 1000.0;
    eprintln!(
        "stream polls that handled records: {} (busy {busy_s:.1} s in all); duration p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; records per poll p50 {:.0}, max {:.0}",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(0.0),
        percentile(&records, 0.5),
        records.last().copied().unwrap_or(0.0),
    );
}

/// Freshness by when the sample was accepted, in `step`-second slices of the run.
pub(super) fn report_phases(prober: &Prober, start: Instant, step: f64) {
    let mut phases: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for o in &prober.outcomes {
        let Some(seen) = o.seen else { continue };
        let phase = (o.accepted.saturating_duration_since(start).as_secs_f64() / step) as u64;
        phases
            .entry(phase)
            .or_default()
            .push(seen.duration_since(o.accepted).as_secs_f64());
    }
    eprintln!("freshness by when the delivery was accepted:");
    for (phase, values) in &mut phases {
        values.sort_by(f64::total_cmp);
        let from = *phase as f64 * step;
        eprintln!(
            "  {:>4.0}-{:<4.0} s: {:>4} samples, p50 {:.2} s, p99 {:.2} s, max {:.2} s",
            from,
            from + step,
            values.len(),
            percentile(values, 0.5),
            percentile(values, 0.99),
            values.last().copied().unwrap_or(0.0)
        );
    }
}

pub(super) fn report_freshness(f: &Freshness, plan: &Plan, prober: &Prober) {
    eprintln!(
        "freshness: {} changes counted, {} sampled: {} seen, {} unreflected; {} probe reads ({} failed)",
        plan.changes.len(),
        plan.samples(),
        f.all.len(),
        f.unreflected,
        prober.reads,
        prober.read_errors
    );
    for (counter, values) in &f.by_counter {
        eprintln!(
            "  {:<12} {:>4} samples: p50 {:.2} s, p99 {:.2} s, max {:.2} s",
            counter.name(),
            values.len(),
            percentile(values, 0.5),
            percentile(values, 0.99),
            values.last().copied().unwrap_or(0.0)
        );
    }
    eprintln!(
        "  {:<12} {:>4} samples: p50 {:.2} s, p99 {:.2} s, max {:.2} s (target: p99 <= {TARGET_P99_S} s)",
        "all",
        f.all.len(),
        percentile(&f.all, 0.5),
        percentile(&f.all, 0.99),
        f.all.last().copied().unwrap_or(0.0)
    );
}

/// What the sending phase left: the senders' log, the prober with its outcomes, and when the
/// last delivery was accepted.
pub(super) struct Sent {
    log: SenderLog,
    prober: Prober,
    started: Instant,
    send_s: f64,
    last_delivery: Instant,
}

/// Sends the schedule at the steady rate while the prober watches the sampled changes; returns
/// once every sample is settled.
async fn send_and_probe(
    plan: &Arc<Plan>,
    (client, base): (&reqwest::Client, &str),
    options: &SteadyOptions,
    timeline: &Arc<Mutex<Timeline>>,
    poll_state: Arc<Mutex<PollState>>,
) -> Result<Sent, String> {
    let (accepted_tx, accepted_rx) = mpsc::unbounded_channel();
    let dispatched = Arc::new(AtomicUsize::new(0));
    let prober = Prober::new(
        plan.clone(),
        timeline.clone(),
        client.clone(),
        base.to_string(),
    );
    let prober = tokio::spawn(probe(
        prober,
        accepted_rx,
        (options.poll, options.timeout),
        (dispatched.clone(), poll_state),
    ));
    let send_started = Instant::now();
    let log = dispatch(
        plan.clone(),
        client.clone(),
        base.to_string(),
        options,
        timeline.clone(),
        accepted_tx,
        dispatched,
    )
    .await?;
    let prober = prober.await.map_err(|e| e.to_string())?;
    let last_delivery = log.last_accepted().unwrap_or_else(Instant::now);
    let send_s = last_delivery.duration_since(send_started).as_secs_f64();
    eprintln!(
        "sent {} requests ({} accepted) in {send_s:.1} s ({:.1}/s); waiting for the stream to drain",
        log.attempts.len(),
        log.accepted,
        log.accepted as f64 / send_s.max(1e-9)
    );
    Ok(Sent {
        log,
        prober,
        started: send_started,
        send_s,
        last_delivery,
    })
}

/// What the run measured besides the samples, for the final JSON line.
pub(super) struct Figures {
    deliveries: usize,
    send_s: f64,
    ingest: Usage,
    rollup: Usage,
    convergence_s: f64,
    model_mismatches: usize,
}

pub(super) fn final_line(
    options: &SteadyOptions,
    figures: &Figures,
    log: &SenderLog,
    freshness: &Freshness,
    v: &Verification,
) -> Value {
    let per = |milli: u64| round(milli as f64 / 1000.0 / figures.deliveries as f64, 3);
    let latencies = log.sorted_latencies();
    let all = stats(&freshness.all);
    let by_counter: serde_json::Map<String, Value> = freshness
        .by_counter
        .iter()
        .map(|(c, values)| (c.name().to_string(), stats(values)))
        .collect();
    let (ingest, rollup) = (figures.ingest, figures.rollup);
    json!({
        "mode": "steady",
        "rate_per_s": options.rate,
        "warmup_s": options.warmup,
        "deliveries": figures.deliveries,
        "lost": v.lost_deliveries,
        "throughput_per_s": round(log.accepted as f64 / figures.send_s.max(1e-9), 1),
        "p50_ms": round(percentile(&latencies, 0.50), 2),
        "p99_ms": round(percentile(&latencies, 0.99), 2),
        "freshness_sampled": all["sampled"],
        "freshness_p50_s": all["p50_s"],
        "freshness_p99_s": all["p99_s"],
        "freshness_max_s": all["max_s"],
        "freshness_p99_within_5s": !freshness.all.is_empty()
            && percentile(&freshness.all, 0.99) <= TARGET_P99_S,
        "freshness_unreflected": freshness.unreflected,
        "freshness_model_mismatches": figures.model_mismatches,
        "freshness_poll_ms": options.poll.as_millis() as u64,
        "stream_window_ms": options.stream_window.as_millis() as u64,
        "freshness_by_counter": by_counter,
        "wcu_per_delivery": per(ingest.write_milli + rollup.write_milli),
        "rcu_per_delivery": per(ingest.read_milli + rollup.read_milli),
        "convergence_s": round(figures.convergence_s, 2),
        "rollups_equal_recompute": v.rollups_equal(),
    })
}

/// One phase against one table: the stack started, the schedule sent and probed, the stream
/// drained, the model checked, the stack stopped.
pub(super) struct Phase {
    sent: Sent,
    state: PollState,
    convergence_s: f64,
    model_mismatches: Vec<String>,
    freshness: Freshness,
    usage: (Usage, Usage),
}

async fn run_phase(
    stores: &Stores,
    plan: &Arc<Plan>,
    options: &SteadyOptions,
) -> Result<Phase, String> {
    let server = Server::start(stores.webhook.clone(), stores.read.clone()).await?;
    let poller = Poller::start_with_window(stores.rollup.clone(), options.stream_window);
    let base = format!("http://{}", server.address);
    let client = load::http_client(options.senders * 2)?;
    let timeline = Arc::new(Mutex::new(Timeline {
        sent_at: vec![None; plan.schedule.len()],
    }));
    let ingest_before = load::meter(&stores.webhook);
    let rollup_before = load::meter(&stores.rollup);
    let sent = send_and_probe(
        plan,
        (&client, &base),
        options,
        &timeline,
        poller.state.clone(),
    )
    .await?;
    let (state, convergence_s) = load::await_convergence(&poller, sent.last_delivery).await?;
    let model_mismatches = check_model(plan, &client, &base).await;
    poller.stop().await;
    server.stop().await;
    let usage = (
        load::meter(&stores.webhook).since(ingest_before),
        load::meter(&stores.rollup).since(rollup_before),
    );
    let freshness = sort_out(plan, &sent.prober.outcomes);
    Ok(Phase {
        sent,
        state,
        convergence_s,
        model_mismatches,
        freshness,
        usage,
    })
}

/// The same traffic for `options.warmup` seconds against a table of its own; its figures are
/// printed and not counted.
async fn warm_up(options: &SteadyOptions) -> Result<(), String> {
    let stores = Stores::create("warmup").await?;
    let plan = Arc::new(Plan::new(options, options.warmup));
    eprintln!(
        "warm-up: {} deliveries at {}/s against a table of its own (not counted)",
        plan.schedule.len(),
        options.rate
    );
    let phase = run_phase(&stores, &plan, options).await?;
    let all = &phase.freshness.all;
    eprintln!(
        "warm-up done: freshness p50 {:.2} s, p99 {:.2} s, max {:.2} s over {} samples; stream converged {:.2} s after its last delivery",
        percentile(all, 0.5),
        percentile(all, 0.99),
        all.last().copied().unwrap_or(0.0),
        all.len(),
        phase.convergence_s
    );
    Ok(())
}

/// Runs the steady-rate load; returns the final JSON line and whether every check passed.
pub async fn run(stores: &Stores, options: &SteadyOptions) -> Result<(Value, bool), String> {
    if options.warmup > 0.0 {
        warm_up(options).await?;
    }
    let plan = Arc::new(Plan::new(options, options.seconds));
    let expected = load::expected_keys(&plan.schedule)?;
    let n = plan.schedule.len();
    eprintln!(
        "steady: {n} deliveries over {} repositories at {}/s ({:.0} s); {} counted changes, every {} sampled: {} samples; reads every {} ms",
        plan.repos.len(),
        options.rate,
        n as f64 / options.rate,
        plan.changes.len(),
        options.sample_every,
        plan.samples(),
        options.poll.as_millis()
    );
    let phase = run_phase(stores, &plan, options).await?;
    let (sent, state) = (&phase.sent, &phase.state);
    eprintln!(
        "stream: {} records in {} polls ({} failed polls); converged {:.2} s after the last delivery",
        state.records, state.polls, state.failed_polls, phase.convergence_s
    );
    report_polls(state);
    report_phases(&sent.prober, sent.started, 20.0);
    report_freshness(&phase.freshness, &plan, &sent.prober);
    for m in phase.model_mismatches.iter().take(10) {
        eprintln!("  model mismatch: {m}");
    }
    sent.log.report_attempts();
    let v = verify(&stores.admin, &expected).await?;
    v.report();
    let passed = v.lost_deliveries == 0
        && v.extra_facts == 0
        && v.rollups_equal()
        && sent.log.rejected.is_empty()
        && sent.log.gave_up == 0
        && phase.freshness.unreflected == 0
        && phase.model_mismatches.is_empty();
    let figures = Figures {
        deliveries: n,
        send_s: sent.send_s,
        ingest: phase.usage.0,
        rollup: phase.usage.1,
        convergence_s: phase.convergence_s,
        model_mismatches: phase.model_mismatches.len(),
    };
    Ok((
        final_line(options, &figures, &sent.log, &phase.freshness, &v),
        passed,
    ))
}
