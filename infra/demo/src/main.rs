//! `flowmeter-demo`: replays the sample org through a Flowmeter dev server and reports its
//! engineering health.
//!
//! ```text
//! flowmeter-demo config --out PATH          write the org config (FLOWMETER_CONFIG)
//! flowmeter-demo run --url URL              replay, wait for rollups, report, write the digest
//! flowmeter-demo stack --devserver BIN      start BIN on a free port, then `run` against it
//! flowmeter-demo stats                      what the generator produces, without sending it
//! ```
//!
//! Common options: `--seed N` (`DEMO_SEED`, default 2026), `--now RFC3339` (`DEMO_NOW`, default
//! the current time), `--activity X` (`DEMO_ACTIVITY`, PR rate multiplier, default 1), `--senders N`
//! (default 12), `--out DIR` (default `out`), `--keep` (`DEMO_KEEP=1`; `stack`:
//! keep the server running after the report, until Ctrl-C). Tokens and secrets come from
//! `FLOWMETER_API_TOKEN`, `FLOWMETER_ADMIN_TOKEN`, `FLOWMETER_{GITHUB,PAGERDUTY,WEBHOOK}_SECRET`
//! when set, else the demo's own.

mod cli;

use std::process::ExitCode;

use crate::cli::options::{parse_args, usage};
use crate::cli::{run, stack, stats, write_config, Phases};

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = match options.command.as_str() {
        "config" => write_config(&options),
        "stats" => {
            stats::stats(&options);
            Ok(())
        }
        "run" => match options.url.clone() {
            Some(url) => run(&options, &url, &mut Phases::new(), None).await,
            None => Err(format!("run needs --url\n{}", usage())),
        },
        "stack" => stack::stack(&options).await,
        _ => Err(usage()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flowmeter-demo: {e}");
            ExitCode::FAILURE
        }
    }
}
