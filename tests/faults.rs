//! The riskiest paths under real failures: a fault-injecting stand-in sits between the
//! project's real DynamoDB client and DynamoDB Local, forwarding every request and, where a
//! test says so, answering as DynamoDB does when it fails (HTTP 500
//! `InternalServerError`, which the SDK retries and then reports) or holding a request back so
//! that two writers really race.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use flowmeter::derive::{Bucket, Scope};
use flowmeter::model::EntityKey;
use flowmeter::time::IsoWeek;
use flowmeter_e2e::http::{body_bytes, serve_loopback};
use flowmeter_e2e::{deliver, drain, fresh_store, table_snapshot, Delivery, GITHUB_SECRET};
use flowmeter_edge::aws_lambda_events::dynamodb::Event;
use flowmeter_edge::lambda_http::http::StatusCode;
use flowmeter_edge::pipeline::Pipeline;
use flowmeter_edge::store::Store;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use serde_json::json;
use tokio::sync::Notify;

/// What the stand-in does with one request, decided from its `X-Amz-Target` and body.
enum Fault {
    Pass,
    /// DynamoDB's answer to an internal failure: transient, retried by the SDK, then an error.
    Fail,
    /// Forwarded only once `release` is notified; `held` is notified when it arrives.
    Hold {
        held: Arc<Notify>,
        release: Arc<Notify>,
    },
}

type Rule = Box<dyn Fn(&str, &str) -> Fault + Send + Sync>;

#[derive(Clone)]
struct FaultyDynamo {
    endpoint: String,
    rule: Arc<Mutex<Rule>>,
}

impl FaultyDynamo {
    async fn start(upstream: String) -> FaultyDynamo {
        let rule: Arc<Mutex<Rule>> = Arc::new(Mutex::new(Box::new(|_, _| Fault::Pass)));
        let shared = rule.clone();
        let client = reqwest::Client::new();
        let address = serve_loopback(move |request| {
            forward(shared.clone(), client.clone(), upstream.clone(), request)
        })
        .await;
        FaultyDynamo {
            endpoint: format!("http://{address}"),
            rule,
        }
    }

    fn set(&self, rule: impl Fn(&str, &str) -> Fault + Send + Sync + 'static) {
        *self.rule.lock().expect("rule") = Box::new(rule);
    }

    /// Fails the requests `fails` picks (by target and body), passes the rest.
    fn fail_when(&self, fails: impl Fn(&str, &str) -> bool + Send + Sync + 'static) {
        self.set(move |target, body| {
            if fails(target, body) {
                Fault::Fail
            } else {
                Fault::Pass
            }
        });
    }

    /// A store on the same table as `direct`, whose requests go through the stand-in.
    async fn store_like(&self, direct: &Store) -> Store {
        let client = flowmeter_edge::settings::dynamodb_client_at(Some(&self.endpoint)).await;
        Store::new(client, direct.table().to_string())
    }
}

async fn forward(
    rule: Arc<Mutex<Rule>>,
    client: reqwest::Client,
    upstream: String,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body_bytes(body).await;
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = String::from_utf8_lossy(&body).to_string();
    let fault = (rule.lock().expect("rule"))(&target, &text);
    match fault {
        Fault::Fail => {
            let answer = json!({"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                                "message": "injected by the test"});
            let response = hyper::Response::builder()
                .status(500)
                .header("content-type", "application/x-amz-json-1.0")
                .body(Full::new(Bytes::from(answer.to_string())))
                .unwrap_or_default();
            return Ok(response);
        }
        Fault::Hold { held, release } => {
            held.notify_one();
            release.notified().await;
        }
        Fault::Pass => {}
    }
    let mut outgoing = client.post(format!("{upstream}{}", parts.uri.path()));
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            outgoing = outgoing.header(name.as_str(), value.as_bytes());
        }
    }
    let answer = match outgoing.body(body.to_vec()).send().await {
        Ok(answer) => answer,
        Err(_) => {
            return Ok(hyper::Response::builder()
                .status(502)
                .body(Full::default())
                .unwrap_or_default())
        }
    };
    let mut response = hyper::Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name.as_str(), value.as_bytes());
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    Ok(response.body(Full::new(bytes)).unwrap_or_default())
}

fn upstream() -> String {
    std::env::var("FLOWMETER_DYNAMODB_ENDPOINT").expect("run under infra/with-emulators.sh")
}

fn pr_opened(number: u64, created: &str) -> Delivery {
    let pr = json!({
        "number": number, "title": format!("Change {number}"), "body": null,
        "user": {"login": "alice", "type": "User"}, "draft": false,
        "created_at": created, "updated_at": created, "closed_at": null, "merged_at": null,
        "merge_commit_sha": null, "head": {"ref": format!("f-{number}"), "sha": format!("{number:0>40}")},
        "base": {"ref": "main"}, "additions": 1, "deletions": 1, "labels": [],
    });
    let body = json!({"action": "opened", "number": number, "pull_request": pr,
                      "repository": {"full_name": "acme/api", "default_branch": "main"}});
    Delivery::github(
        GITHUB_SECRET,
        "pull_request",
        &format!("d-{number}"),
        serde_json::to_vec(&body).expect("json"),
    )
}

async fn opened_in(store: &Store, scope: Scope, week: &str) -> u64 {
    let week: IsoWeek = week.parse().expect("week");
    store
        .rollups(&[(scope, week)])
        .await
        .expect("rollups")
        .first()
        .map_or(0, |r| r.2.prs_opened)
}

/// A store outage answers the webhook 503 (GitHub then shows the delivery failed, to be
/// redelivered), writes nothing, and the same delivery is stored once the store is back.
#[tokio::test]
async fn the_webhook_answers_503_while_the_store_fails_and_stores_the_redelivery() {
    let direct = fresh_store("webhook-503").await;
    let faulty = FaultyDynamo::start(upstream()).await;
    let through = faulty.store_like(&direct).await;
    faulty.fail_when(|target, _| target.ends_with("PutItem"));
    let before = table_snapshot(&direct).await;
    let delivery = pr_opened(1, "2026-10-06T10:00:00Z");
    let (status, answer) = deliver(&through, &delivery).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(table_snapshot(&direct).await, before, "nothing was written");
    faulty.set(|_, _| Fault::Pass);
    let (status, answer) = deliver(&through, &delivery).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["facts_written"], 1);
}

/// The stream records of the table, as the rollup function receives them.
async fn stream_event(store: &Store) -> Event {
    let mut records = Vec::new();
    let mut n = 0u64;
    for item in store.scan_all().await.expect("scan") {
        let (pk, sk) = flowmeter_edge::store::item_keys(&item);
        if !flowmeter_edge::store::keys::is_fact(&sk) {
            continue;
        }
        n += 1;
        let number: u64 = pk
            .rsplit('#')
            .next()
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        records.push(
            json!({"eventID": n.to_string(), "eventName": "INSERT", "awsRegion": "ddblocal",
            "eventSource": "aws:dynamodb",
            "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": sk}},
                         // Sequence numbers in PR order, so "the failing entity's record" is known.
                         "SequenceNumber": format!("{}", 1000 + number),
                         "SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES"}}),
        );
    }
    serde_json::from_value(json!({"Records": records})).expect("event")
}

/// One entity of a batch fails transiently: the other entities derive, the batch reports the
/// failing entity's first record (so Lambda checkpoints what came before), and the retry from
/// that record derives the rest. PRs 1, 2, 3 opened in 2026-W41: 3 opened when all is done.
#[tokio::test]
async fn a_partial_batch_failure_reports_its_first_failing_record_and_the_retry_completes() {
    let direct = fresh_store("partial-batch").await;
    for n in 1..=3 {
        let (status, _) = deliver(&direct, &pr_opened(n, "2026-10-06T10:00:00Z")).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let faulty = FaultyDynamo::start(upstream()).await;
    let through = faulty.store_like(&direct).await;
    faulty.fail_when(|_, body| body.contains("PR#acme/api#2\""));
    let event = stream_event(&direct).await;
    let response = flowmeter_edge::stream::handle_stream_event(&through, None, event.clone())
        .await
        .expect("handler");
    let failures: Vec<Option<String>> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failures, [Some("1002".to_string())], "PR 2's record");
    let projected = |n: u64| {
        let direct = direct.clone();
        async move {
            let key = EntityKey::PullRequest {
                repo: "acme/api".into(),
                number: n,
            };
            direct.projection(&key).await.expect("read").is_some()
        }
    };
    assert!(
        projected(1).await && projected(3).await,
        "the others derived"
    );
    assert!(!projected(2).await);
    assert_eq!(opened_in(&direct, Scope::Org, "2026-W41").await, 2);

    // Lambda's retry: the records from the reported one on, with the store healthy.
    faulty.set(|_, _| Fault::Pass);
    let mut retry = event;
    retry.records.retain(|r| {
        r.change
            .sequence_number
            .as_deref()
            .is_some_and(|s| s >= "1002")
    });
    let response = flowmeter_edge::stream::handle_stream_event(&through, None, retry)
        .await
        .expect("handler");
    assert!(response.batch_item_failures.is_empty());
    assert!(projected(2).await);
    assert_eq!(opened_in(&direct, Scope::Org, "2026-W41").await, 3);
}

/// Two recomputes of one bucket at once, for real: recompute A reads the bucket's version and
/// members, and its write is held back; meanwhile PR 2 is opened in the same week and its
/// run recomputes the bucket and writes. Released, A's compare-and-set loses (the version
/// moved), it recomputes from a fresh read and lands. The bucket counts both PRs: 2 (a stale
/// write landing last would leave 1).
#[tokio::test]
async fn two_recomputes_of_one_bucket_at_once_end_in_the_recomputation_of_all_members() {
    let direct = fresh_store("cas-race").await;
    let (status, _) = deliver(&direct, &pr_opened(1, "2026-10-06T10:00:00Z")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let mut poller = None;
    drain(&direct, &mut poller).await;
    let scope = Scope::Repo("acme/api".into());
    assert_eq!(opened_in(&direct, scope.clone(), "2026-W41").await, 1);

    let faulty = FaultyDynamo::start(upstream()).await;
    let through = faulty.store_like(&direct).await;
    let (held, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let rollup_writes = Arc::new(AtomicUsize::new(0));
    {
        let (held, release, writes) = (held.clone(), release.clone(), rollup_writes.clone());
        faulty.set(move |target, body| {
            let rollup_put = target.ends_with("PutItem")
                && body.contains("ROLLUP#repo:acme/api")
                && body.contains("2026-W41");
            if rollup_put && writes.fetch_add(1, Ordering::SeqCst) == 0 {
                Fault::Hold {
                    held: held.clone(),
                    release: release.clone(),
                }
            } else {
                Fault::Pass
            }
        });
    }
    let bucket = Bucket {
        scope: scope.clone(),
        week: "2026-W41".parse().expect("week"),
    };
    let config = flowmeter::config::OrgConfig::default();
    let a = {
        let (through, config, bucket) = (through.clone(), config.clone(), bucket.clone());
        tokio::spawn(async move {
            Pipeline::new(&through, config)
                .recompute_bucket(&bucket)
                .await
        })
    };
    held.notified().await;
    // B: PR 2 opened, derived through the stand-in (its rollup write is not held).
    let (status, _) = deliver(&direct, &pr_opened(2, "2026-10-07T10:00:00Z")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let changes = std::collections::BTreeMap::from([(
        EntityKey::PullRequest {
            repo: "acme/api".into(),
            number: 2,
        },
        chrono::DateTime::<chrono::Utc>::MIN_UTC,
    )]);
    Pipeline::new(&through, config.clone())
        .process(&changes)
        .await
        .expect("B derives");
    assert_eq!(opened_in(&direct, scope.clone(), "2026-W41").await, 2);
    release.notify_one();
    a.await
        .expect("task")
        .expect("A lands after losing the race");
    assert_eq!(opened_in(&direct, scope, "2026-W41").await, 2);
    // A's held write, B's, and A's retry: A lost once and recomputed.
    assert!(rollup_writes.load(Ordering::SeqCst) >= 3);
}
