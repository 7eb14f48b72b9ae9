//! Unit tests of the steady-rate mode's planning and counting.

use super::*;

fn pr(repo: &str, number: u64, login: &str, merged: bool) -> Delivery {
    let kind = if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    let body = json!({"action": if merged { "closed" } else { "opened" }, "number": number,
        "pull_request": {"number": number, "user": {"login": login, "type": kind},
            "created_at": "2026-06-01T10:00:00Z",
            "merged_at": if merged { json!("2026-06-02T10:00:00Z") } else { Value::Null }},
        "repository": {"full_name": repo}});
    Delivery::github("s", "pull_request", "id", body.to_string().into_bytes())
}

#[test]
fn interleaving_keeps_each_repositorys_order_and_the_count() {
    // given two histories of 3 and 1 deliveries
    let all = vec![
        pr("o/a", 1, "dev", false),
        pr("o/a", 2, "dev", false),
        pr("o/a", 3, "dev", false),
        pr("o/b", 1, "dev", false),
    ];
    // when
    let schedule = interleave(all, 3);
    // then each at (j + ½) / n of the run: a's at ⅙, ½, ⅚, b's at ½ (after a's, the earlier
    // repository, on a tie); the first 3 of them
    let order: Vec<(String, u64)> = schedule
        .iter()
        .map(|d| {
            let v: Value = serde_json::from_slice(&d.body).unwrap_or(Value::Null);
            let repo = v["repository"]["full_name"].as_str().unwrap_or("?");
            (repo.to_string(), v["number"].as_u64().unwrap_or(0))
        })
        .collect();
    let expected = [("o/a", 1), ("o/a", 2), ("o/b", 1)].map(|(r, n)| (r.to_string(), n));
    assert_eq!(order, expected);
}

#[test]
fn a_prs_first_delivery_opens_it_its_merge_merges_it_and_bots_count_in_nothing() {
    let opened = pr("o/a", 1, "dev", false);
    let merged = pr("o/a", 1, "dev", true);
    let bot = pr("o/a", 2, "renovate[bot]", true);
    let body = |d: &Delivery| serde_json::from_slice::<Value>(&d.body).unwrap_or(Value::Null);
    assert_eq!(
        effect(&opened, &body(&opened)),
        [(Counter::PrsOpened, "1".to_string())]
    );
    assert_eq!(
        effect(&merged, &body(&merged)),
        [
            (Counter::PrsOpened, "1".to_string()),
            (Counter::PrsMerged, "1".to_string())
        ]
    );
    assert!(effect(&bot, &body(&bot)).is_empty());
}

#[test]
fn a_sample_needs_every_change_of_its_counter_sent_before_the_read() {
    // given a repository whose PR 1 opens, then merges, then PR 2 opens
    let plan = Plan::of(
        vec![
            pr("o/a", 1, "dev", false),
            pr("o/a", 1, "dev", true),
            pr("o/a", 2, "dev", false),
        ],
        1,
    );
    let opened: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.counter == Counter::PrsOpened)
        .collect();
    assert_eq!(
        opened.iter().map(|c| c.expected).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(plan.repos[0].totals.get(&Counter::PrsMerged), Some(&1));
    let (t0, read_end) = (Instant::now(), Instant::now() + Duration::from_secs(1));
    // when only the first delivery was sent before the read ended, PR 1's opening needs 1
    let timeline = Timeline {
        sent_at: vec![Some(t0), None, None],
    };
    assert_eq!(plan.needed(opened[0], &timeline, read_end), 1);
    // then once PR 2's opening was on its way too, a count of 1 could be PR 2's: it needs 2
    let timeline = Timeline {
        sent_at: vec![Some(t0), Some(t0), Some(t0)],
    };
    assert_eq!(plan.needed(opened[0], &timeline, read_end), 2);
}
