//! `stats`: what the generator produces, without sending it.

use std::collections::BTreeMap;
use std::time::Instant;

use flowmeter_demo::report;
use flowmeter_demo::truth::quantile;

use super::options::{generate, Options};

/// Prints what the generator produces per kind, the ground truth, and each team's weeks.
pub(crate) fn stats(o: &Options) {
    let started = Instant::now();
    let org = generate(o);
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    let mut bytes = 0;
    for d in &org.deliveries {
        let event = match d.github_event() {
            "" => d.delivery.path.to_string(),
            github => format!("github {github}"),
        };
        *by_kind.entry(event).or_default() += 1;
        bytes += d.delivery.body.len();
    }
    println!(
        "seed {} · {} → {} · {} deliveries ({:.1} MB) generated in {:.2}s · struggling team: {}",
        org.seed,
        org.first_week,
        org.last_week,
        org.deliveries.len(),
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        org.struggling_team
    );
    for (kind, n) in by_kind {
        println!("  {kind:<40} {n}");
    }
    let all_repos: Vec<String> = org.teams.iter().flat_map(|t| t.repos.clone()).collect();
    let truth = org.truth.dora(&all_repos, org.from(), org.to());
    println!(
        "  truth: {} deployments, {} attempts, {} failed, {} lead times (p50 {})",
        truth.deployments,
        truth.attempts,
        truth.failed,
        truth.lead_times.len(),
        report::duration(quantile(&truth.lead_times, 0.5))
    );
    let weeks = org.weeks();
    for team in &org.teams {
        let mut line = format!("  {:<10}", team.name);
        for w in &weeks {
            let d = org
                .truth
                .dora(&team.repos, w.monday_date(), w.sunday_date());
            let p = org
                .truth
                .pull_requests(&team.members, w.monday_date(), w.sunday_date());
            line.push_str(&format!(
                " {:>2}/{:<2}{:>5}",
                d.failed,
                d.attempts,
                report::duration(quantile(&p.pickups, 0.5))
            ));
        }
        println!("{line}");
    }
}
