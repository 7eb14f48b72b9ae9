//! The six Lambda binaries as Lambda runs them, not only their handlers: each built `bootstrap`
//! (the workspace's debug build) polls a Lambda Runtime API emulator (`cargo lambda watch
//! --only-lambda-apis`, cargo-lambda from PyPI, which `make deps` installs into `.venv-lambda`),
//! with the environment the template gives it, its secrets read through a stand-in for the
//! Parameters and Secrets Lambda Extension, against DynamoDB Local and the SES emulator. The
//! events are the shapes AWS sends: an API Gateway HTTP API (payload 2.0) event, a function URL
//! request, a DynamoDB stream batch built from the table's real stream records, and the
//! EventBridge Scheduler input of the template. What the handler tests cannot see is covered
//! here: event (de)serialisation by lambda_http and lambda_runtime, the Runtime API protocol,
//! environment handling, and init failures.
//!
//! The binaries are the ones `cargo build --workspace --all-targets` makes (the feature set of
//! `make test`, so nothing compiles twice); `cargo lambda watch` only emulates the control
//! plane, it does not build (its own `cargo run -p …` would build each function with another
//! feature set). Skips, saying so, only when cargo-lambda is nowhere to be found and
//! `FLOWMETER_CARGO_LAMBDA` is unset; `make test` sets it, so in CI it runs.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use flowmeter_devserver::LocalEventBus;
use flowmeter_e2e::http::{reply, serve_loopback, ses_emails};
use flowmeter_e2e::slack_standin::SlackStandIn;
use flowmeter_e2e::{fresh_store, Delivery};
use flowmeter_edge::local_stream::local_request;
use flowmeter_edge::store::{item_keys, Store, PROJECTION_SK};
use flowmeter_kit::github_api::{GitHubApi, Limits, RestHistory};
use hyper::body::Incoming;
use serde_json::{json, Value};

/// The functions, by binary (= cargo-lambda function) name.
const WEBHOOK: &str = "flowmeter-webhook";
const ROLLUP: &str = "flowmeter-rollup";
const API: &str = "flowmeter-api";
const DIGEST: &str = "flowmeter-digest";
const BACKFILL: &str = "flowmeter-backfill";
const NOTIFIER: &str = "flowmeter-notifier";

/// The template's logical ids of the six functions, to read their environment from it.
const FUNCTIONS: [(&str, &str); 6] = [
    (WEBHOOK, "WebhookFunction"),
    (ROLLUP, "RollupFunction"),
    (API, "ApiFunction"),
    (DIGEST, "DigestFunction"),
    (BACKFILL, "BackfillFunction"),
    (NOTIFIER, "NotifierFunction"),
];

/// The bus the rollup publishes to (the template's `EVENT_BUS_NAME`), served locally.
const BUS: &str = "flowmeter-lambda-events";

const GITHUB_SECRET: &str = "lambda-runtime-github-secret";
const API_TOKEN: &str = "lambda-runtime-read-token";
const SECRET_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:flowmeter/secrets-AbCdEf";
/// What Lambda puts in `AWS_SESSION_TOKEN`; the extension wants it back in a header.
const SESSION_TOKEN: &str = "lambda-session-token";

/// A real GitHub capture (tests/fixtures/README.md, CIB): PR #117 of
/// robvanderleek/create-issue-branch, opened 2020-03-23T06:36:20Z, merged 06:46:56Z (ISO week
/// 2020-W13).
const MERGED_PR: &str =
    "tests/fixtures/github/pull_request/create-issue-branch.pull_request.closed.merged.json";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// cargo-lambda: `FLOWMETER_CARGO_LAMBDA` (set by the Makefile; must then exist), else the
/// repository's `.venv-lambda`, else `cargo-lambda` on PATH.
fn cargo_lambda() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FLOWMETER_CARGO_LAMBDA").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "FLOWMETER_CARGO_LAMBDA={} does not exist: run `make deps`",
            path.display()
        );
        return Some(path);
    }
    let venv = repo().join(".venv-lambda/bin/cargo-lambda");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("cargo-lambda"))
            .find(|p| p.is_file())
    })
}

/// The directory of the debug binaries: the test binary is `<target>/debug/deps/<name>`.
fn debug_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("target/debug")
}

/// Brings the four binaries up to date with the exact invocation (and so the feature set) of
/// `make test`'s build step: a no-op there, and never a second compilation of the dependencies.
/// (Checkouts that share one CARGO_TARGET_DIR share `target/debug/<name>` too: the last one to
/// build wins, and cargo's mtime check may take another checkout's newer build for fresh.)
fn build_binaries() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--workspace", "--all-targets"])
        .current_dir(repo())
        .status()
        .expect("run cargo build");
    assert!(
        status.success(),
        "cargo build --workspace --all-targets failed"
    );
    for (name, _) in FUNCTIONS {
        let path = debug_dir().join(name);
        assert!(path.is_file(), "{} was not built", path.display());
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A child process that is killed when the test ends, its output in a log file.
struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(name: &str, mut command: Command) -> Process {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lambda_runtime");
        std::fs::create_dir_all(&dir).expect("log dir");
        let log = dir.join(format!("{name}-{}.log", std::process::id()));
        let file = std::fs::File::create(&log).expect("log file");
        let err = file.try_clone().expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Process { child, log }
    }

    fn output(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for the process to end by itself; `None` if it is still running after `limit`
    /// (a hang guard, generous on a loaded machine, not a timing assertion).
    /// Async, so that the stand-ins on this test's runtime keep answering meanwhile.
    async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A stand-in for the AWS Parameters and Secrets Lambda Extension: `GET /secretsmanager/get`
/// answers the GetSecretValue JSON of [`SECRET_ARN`] to callers that present the session token,
/// as the extension does.
async fn start_secrets_extension(secret: Value) -> u16 {
    let answer = json!({
        "ARN": SECRET_ARN,
        "Name": "flowmeter/secrets",
        "VersionId": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
        "SecretString": secret.to_string(),
        "VersionStages": ["AWSCURRENT"],
        "CreatedDate": "2026-11-23T18:00:00.000000+00:00",
    })
    .to_string();
    let address = serve_loopback(move |request: hyper::Request<Incoming>| {
        let answer = answer.clone();
        async move {
            let token_ok = request
                .headers()
                .get("x-aws-parameters-secrets-token")
                .is_some_and(|t| t == SESSION_TOKEN);
            // The ARN percent-encoded, as the extension's clients must send it.
            let expected = flowmeter_edge::secrets::extension_url(0, SECRET_ARN);
            let id_ok = expected.split_once('?').map(|(_, q)| q) == request.uri().query();
            let (status, body) = if request.uri().path() != "/secretsmanager/get" {
                (404, "not found".to_string())
            } else if !token_ok {
                (
                    401,
                    "missing or wrong X-Aws-Parameters-Secrets-Token".into(),
                )
            } else if !id_ok {
                (400, "ResourceNotFoundException".into())
            } else {
                (200, answer)
            };
            Ok::<_, Infallible>(reply(status, "application/json", body, None))
        }
    })
    .await;
    address.port()
}

/// The variable names a function's `Environment` gets in template.yaml (Globals and its own).
fn template_environment(logical_id: &str) -> Vec<String> {
    let template: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(flowmeter_edge::schema::TEMPLATE).expect("template.yaml");
    let names = |v: Option<&serde_yaml_ng::Value>| -> Vec<String> {
        v.and_then(|v| v.get("Environment"))
            .and_then(|e| e.get("Variables"))
            .and_then(|v| v.as_mapping())
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = names(template.get("Globals").and_then(|g| g.get("Function")));
    let function = template
        .get("Resources")
        .and_then(|r| r.get(logical_id))
        .unwrap_or_else(|| panic!("template.yaml has no {logical_id}"));
    assert_eq!(
        function.get("Type").and_then(|t| t.as_str()),
        Some("AWS::Serverless::Function")
    );
    out.extend(names(function.get("Properties")));
    out
}

/// The emulator and the functions running against it.
struct Lambda {
    port: u16,
    table: String,
    extension_port: u16,
    /// The local GitHub REST API the backfill function reads.
    github_url: String,
    /// The local EventBridge the rollup publishes to.
    bus_endpoint: String,
    http: reqwest::Client,
    functions: BTreeMap<String, Process>,
    _emulator: Process,
}

impl Lambda {
    async fn start(
        cargo_lambda: &Path,
        table: &str,
        extension_port: u16,
        github_url: &str,
        bus_endpoint: &str,
    ) -> Lambda {
        let port = free_port();
        let mut command = Command::new(cargo_lambda);
        command
            .args(["lambda", "watch", "--only-lambda-apis", "--ignore-changes"])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            // An invoke left unanswered (a function that died) ends with 408, not a hang.
            .args(["--timeout", "120"])
            .args(FUNCTIONS.iter().flat_map(|(name, _)| ["-p", name]))
            .arg("--manifest-path")
            .arg(repo().join("Cargo.toml"))
            .current_dir(repo());
        let mut emulator = Process::spawn("cargo-lambda-watch", command);
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = emulator.exited() {
                panic!(
                    "cargo lambda watch exited ({status}) before listening:\n{}",
                    emulator.output()
                );
            }
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch did not listen on :{port}:\n{}",
                emulator.output()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Lambda {
            port,
            table: table.to_string(),
            extension_port,
            github_url: github_url.to_string(),
            bus_endpoint: bus_endpoint.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(150))
                .build()
                .expect("http client"),
            functions: BTreeMap::new(),
            _emulator: emulator,
        }
    }

    /// The environment Lambda gives `name`: its own variables, the template's (with this run's
    /// values), and the two local endpoints. Nothing is inherited from the test process.
    fn environment(&self, name: &str) -> BTreeMap<String, String> {
        let (_, logical_id) = FUNCTIONS
            .iter()
            .find(|(n, _)| *n == name)
            .expect("a known function");
        let memory = match name {
            WEBHOOK | DIGEST | BACKFILL | NOTIFIER => "256",
            _ => "512",
        };
        let mut env: BTreeMap<String, String> = [
            (
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{}/.rt/{name}", self.port),
            ),
            ("AWS_LAMBDA_FUNCTION_NAME", name.to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory.into()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/02/[$LATEST]0".into()),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            // DynamoDB Local accepts any alphanumeric key and checks no signature.
            ("AWS_ACCESS_KEY_ID", "local".into()),
            ("AWS_SECRET_ACCESS_KEY", "local".into()),
            ("AWS_SESSION_TOKEN", SESSION_TOKEN.into()),
            (
                "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
                self.extension_port.to_string(),
            ),
            ("RUST_LOG", "info".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for key in template_environment(logical_id) {
            let value = match key.as_str() {
                "TABLE_NAME" => self.table.clone(),
                "FLOWMETER_SECRET_ARN" => SECRET_ARN.into(),
                "FLOWMETER_SECRETS_REVISION" => "1".into(),
                "PARAMETERS_SECRETS_EXTENSION_LOG_LEVEL" => "warn".into(),
                "DIGEST_TIMEZONE" => "UTC".into(),
                "FLOWMETER_DASHBOARD_URL" => "https://metrics.acme.example/".into(),
                "FLOWMETER_GITHUB_API_URL" => self.github_url.clone(),
                "EVENT_BUS_NAME" => BUS.into(),
                other => panic!(
                    "template.yaml gives {logical_id} {other}: teach tests/lambda_runtime.rs \
                     the value a deployment would have"
                ),
            };
            env.insert(key, value);
        }
        env.insert(
            "FLOWMETER_EVENTBRIDGE_ENDPOINT".into(),
            self.bus_endpoint.clone(),
        );
        for key in ["FLOWMETER_DYNAMODB_ENDPOINT", "FLOWMETER_SES_ENDPOINT"] {
            let value = std::env::var(key)
                .unwrap_or_else(|_| panic!("{key} is not set: run under infra/with-emulators.sh"));
            env.insert(key.to_string(), value);
        }
        env
    }

    fn spawn(&self, name: &str, env: &BTreeMap<String, String>) -> Process {
        let mut command = Command::new(debug_dir().join(name));
        command.env_clear().envs(env).current_dir(repo());
        Process::spawn(name, command)
    }

    /// Starts `name` as Lambda would: the process, which then polls the Runtime API.
    fn start_function(&mut self, name: &str) {
        let process = self.spawn(name, &self.environment(name));
        self.functions.insert(name.to_string(), process);
    }

    /// Sends `request` to the emulator and waits for the answer, failing at once (with the
    /// function's log) if the function process dies meanwhile.
    async fn send(&mut self, name: &str, request: reqwest::RequestBuilder) -> reqwest::Response {
        let call = request.send();
        tokio::pin!(call);
        loop {
            tokio::select! {
                response = &mut call => {
                    return response.unwrap_or_else(|e| panic!("invoke {name}: {e}"));
                }
                _ = tokio::time::sleep(Duration::from_millis(100)) => {
                    let process = self.functions.get_mut(name).expect("function started");
                    if let Some(status) = process.exited() {
                        panic!("{name} exited ({status}) during the invocation:\n{}", process.output());
                    }
                }
            }
        }
    }

    /// The Lambda Invoke API (`POST /2015-03-31/functions/<name>/invocations`): the function's
    /// result as JSON.
    async fn invoke(&mut self, name: &str, event: &Value) -> Value {
        let url = format!(
            "http://127.0.0.1:{}/2015-03-31/functions/{name}/invocations",
            self.port
        );
        let request = self.http.post(url).json(event);
        let response = self.send(name, request).await;
        let status = response.status();
        let text = response.text().await.expect("invoke answer");
        let log = self.log(name);
        assert!(status.is_success(), "invoke {name}: {status} {text}\n{log}");
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("invoke {name}: not JSON ({e}): {text}\n{log}"))
    }

    fn log(&self, name: &str) -> String {
        self.functions
            .get(name)
            .map(Process::output)
            .unwrap_or_default()
    }
}

/// An API Gateway HTTP API event, payload format 2.0, as API Gateway sends it for `route`
/// (`"POST /webhooks/github"`): the shape of the AWS documentation's example, with lower-cased
/// header names, `rawQueryString` and `queryStringParameters`, and a text body.
fn http_api_event(route: &str, query: &str, headers: &[(&str, &str)], body: Option<&str>) -> Value {
    let (method, path) = route.split_once(' ').expect("METHOD /path");
    let mut header_map = serde_json::Map::new();
    for (k, v) in [
        ("accept", "*/*"),
        ("content-length", &body.map_or(0, str::len).to_string()),
        ("host", "abcdef1234.execute-api.us-east-1.amazonaws.com"),
        ("user-agent", "GitHub-Hookshot/a1b2c3d"),
        (
            "x-amzn-trace-id",
            "Root=1-67891233-abcdef012345678912345678",
        ),
        ("x-forwarded-for", "192.0.2.10"),
        ("x-forwarded-port", "443"),
        ("x-forwarded-proto", "https"),
    ] {
        header_map.insert(k.to_string(), json!(v));
    }
    for (k, v) in headers {
        header_map.insert(k.to_ascii_lowercase(), json!(v));
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": query,
        "headers": header_map,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abcdef1234",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.10",
                "userAgent": "GitHub-Hookshot/a1b2c3d"
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": route,
            "stage": "$default",
            "time": "02/Dec/2026:16:00:00 +0000",
            "timeEpoch": 1_796_227_200_000_i64
        },
        "isBase64Encoded": false
    });
    if !query.is_empty() {
        // The queries here need no percent-decoding.
        let params: serde_json::Map<String, Value> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        event["queryStringParameters"] = Value::Object(params);
    }
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    event
}

/// The signed headers GitHub sends with `body` (the kit's).
fn github_headers(body: &str, delivery: &str, secret: &str) -> Vec<(&'static str, String)> {
    Delivery::github(secret, "pull_request", delivery, body.as_bytes().to_vec()).headers
}

fn borrowed<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    headers.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A DynamoDB Streams call on DynamoDB Local (JSON protocol; no signature is checked).
async fn streams(http: &reqwest::Client, op: &str, body: Value) -> Value {
    let endpoint = std::env::var("FLOWMETER_DYNAMODB_ENDPOINT").expect("endpoint");
    let target = if op == "DescribeTable" {
        "DynamoDB_20120810"
    } else {
        "DynamoDBStreams_20120810"
    };
    let response = local_request(http, &endpoint, &format!("{target}.{op}"))
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{op}: {e}"));
    let status = response.status();
    let value: Value = response
        .json()
        .await
        .unwrap_or_else(|e| panic!("{op}: {e}"));
    assert!(status.is_success(), "{op}: {status} {value}");
    value
}

/// The table's fact records as the rollup's event source mapping hands them over: every stream
/// record so far, filtered to `FACT#` sort keys (the template's FilterCriteria), each with the
/// `eventSourceARN` Lambda adds, in one `{"Records": [...]}` batch.
async fn stream_batch(store: &Store) -> Value {
    let http = reqwest::Client::new();
    let table = streams(&http, "DescribeTable", json!({"TableName": store.table()})).await;
    let arn = table["Table"]["LatestStreamArn"]
        .as_str()
        .expect("the table has a stream")
        .to_string();
    let stream = streams(&http, "DescribeStream", json!({"StreamArn": arn})).await;
    let mut records = Vec::new();
    for shard in stream["StreamDescription"]["Shards"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let iterator = streams(
            &http,
            "GetShardIterator",
            json!({"StreamArn": arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await;
        let mut next = iterator["ShardIterator"].as_str().map(str::to_string);
        while let Some(it) = next {
            let page = streams(&http, "GetRecords", json!({"ShardIterator": it})).await;
            let batch = page["Records"].as_array().cloned().unwrap_or_default();
            if batch.is_empty() {
                break;
            }
            records.extend(batch);
            next = page["NextShardIterator"].as_str().map(str::to_string);
        }
    }
    let facts: Vec<Value> = records
        .into_iter()
        .filter(|r| {
            r.pointer("/dynamodb/Keys/sk/S")
                .and_then(Value::as_str)
                .is_some_and(|sk| sk.starts_with("FACT#"))
        })
        .map(|mut r| {
            r["eventSourceARN"] = json!(arn);
            r
        })
        .collect();
    json!({ "Records": facts })
}

/// The sort keys of the items whose partition key begins with `prefix`.
async fn sort_keys(store: &Store, prefix: &str) -> Vec<String> {
    let items = store.scan_prefix(prefix).await.expect("scan");
    items.iter().map(|item| item_keys(item).1).collect()
}

#[tokio::test]
async fn the_six_functions_answer_real_events_under_the_lambda_runtime_api() {
    let Some(cargo_lambda) = cargo_lambda() else {
        println!(
            "SKIPPED: cargo-lambda not found (FLOWMETER_CARGO_LAMBDA unset, no .venv-lambda, \
             not on PATH); `make deps` installs it and `make test` runs this test"
        );
        return;
    };
    build_binaries();
    let store = fresh_store("lambda").await;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let recipient = format!("lambda-{}-{nanos}@acme.example", std::process::id());
    let platform = SlackStandIn::start().await;
    let mut lambda = started_lambda(&cargo_lambda, &store, &recipient, &platform).await;

    // Webhook, HTTP API event: a signed delivery is accepted and its fact is in the table.
    let body = std::fs::read_to_string(repo().join(MERGED_PR)).expect("fixture");
    let headers = github_headers(&body, "lambda-delivery-1", GITHUB_SECRET);
    let pr_key = "PR#robvanderleek/create-issue-branch#117";
    the_webhook_writes_a_signed_delivery(&mut lambda, &store, &body, &headers, pr_key).await;
    the_webhook_refuses_a_forged_signature(&mut lambda, &body).await;
    a_redelivery_through_the_function_url_writes_nothing(&mut lambda, &body, &headers).await;
    the_rollup_projects_the_streamed_fact(&mut lambda, &store, pr_key).await;
    the_api_reports_the_merged_pr_to_the_token_only(&mut lambda).await;
    the_digest_emails_this_run_s_recipient(&mut lambda, &recipient).await;
    the_backfill_continues_a_started_backfill_to_its_end(&mut lambda, &store).await;
    the_notifier_posts_a_queued_event_to_its_routed_channel(&mut lambda, &platform).await;

    init_errors_end_the_process_with_the_cause(&lambda).await;
}

/// The local GitHub REST API, serving the history of [`MERGED_PR`]'s delivery; kept running
/// for the test's life.
async fn github_api() -> &'static GitHubApi {
    static API: tokio::sync::OnceCell<GitHubApi> = tokio::sync::OnceCell::const_new();
    API.get_or_init(|| async {
        let body: Value = serde_json::from_str(
            &std::fs::read_to_string(repo().join(MERGED_PR)).expect("fixture"),
        )
        .expect("JSON");
        let history = RestHistory::from_webhooks([("pull_request", &body)]);
        GitHubApi::start(history, Limits::default())
            .await
            .expect("GitHub API")
    })
    .await
}

/// The org config (digest emailed to `recipient`), the secrets extension, and the emulator
/// with the six functions started.
async fn started_lambda(
    cargo_lambda: &Path,
    store: &Store,
    recipient: &str,
    platform: &SlackStandIn,
) -> Lambda {
    store
        .put_config(&format!(
            "org: acme\ntimezone: UTC\ndigest:\n  email: {{ from: metrics@acme.example, to: [{recipient}] }}\nnotifications:\n  routes:\n    - {{ channel: platform, events: [deployment.failed] }}\n"
        ))
        .await
        .expect("config");
    let extension = start_secrets_extension(json!({
        "github": GITHUB_SECRET,
        "api_token": API_TOKEN,
        "admin_token": "lambda-runtime-admin-token",
        "github_token": "test-token",
        "channels": {"platform": {"slack_webhook_url": platform.url}},
    }))
    .await;
    let github = github_api().await;
    let bus = LocalEventBus::start(BUS).await.expect("local bus");
    let mut lambda = Lambda::start(
        cargo_lambda,
        store.table(),
        extension,
        &github.url,
        &bus.endpoint(),
    )
    .await;
    for (name, _) in FUNCTIONS {
        lambda.start_function(name);
    }
    lambda
}

async fn the_webhook_writes_a_signed_delivery(
    lambda: &mut Lambda,
    store: &Store,
    body: &str,
    headers: &[(&'static str, String)],
    pr_key: &str,
) {
    let event = http_api_event("POST /webhooks/github", "", &borrowed(headers), Some(body));
    let answer = lambda.invoke(WEBHOOK, &event).await;
    assert_eq!(answer["statusCode"], 202, "{answer}");
    let reply: Value =
        serde_json::from_str(answer["body"].as_str().unwrap_or_default()).expect("JSON body");
    assert_eq!(reply["facts_written"], 1, "{reply}");
    let facts: Vec<String> = sort_keys(store, pr_key)
        .await
        .into_iter()
        .filter(|sk| sk.starts_with("FACT#"))
        .collect();
    assert_eq!(facts.len(), 1, "one fact of PR 117: {facts:?}");
}

async fn the_webhook_refuses_a_forged_signature(lambda: &mut Lambda, body: &str) {
    // A signature made with another secret: 401, nothing written.
    let forged = github_headers(body, "lambda-delivery-2", "not-the-secret");
    let event = http_api_event("POST /webhooks/github", "", &borrowed(&forged), Some(body));
    let answer = lambda.invoke(WEBHOOK, &event).await;
    assert_eq!(answer["statusCode"], 401, "{answer}");
}

async fn a_redelivery_through_the_function_url_writes_nothing(
    lambda: &mut Lambda,
    body: &str,
    headers: &[(&'static str, String)],
) {
    // The same delivery through the emulator's function URL (an HTTP request turned into the
    // function URL event): a redelivery, accepted, writing nothing.
    let mut request = lambda.http.post(format!(
        "http://127.0.0.1:{}/lambda-url/{WEBHOOK}/webhooks/github",
        lambda.port
    ));
    for (k, v) in headers {
        request = request.header(*k, v);
    }
    let response = lambda.send(WEBHOOK, request.body(body.to_string())).await;
    assert_eq!(response.status().as_u16(), 202);
    let reply: Value = response.json().await.expect("JSON body");
    assert_eq!(reply["facts_written"], 0, "{reply}");
}

async fn the_rollup_projects_the_streamed_fact(lambda: &mut Lambda, store: &Store, pr_key: &str) {
    // Rollup, DynamoDB stream event built from the table's stream: no failures, and the PR's
    // projection is written.
    let batch = stream_batch(store).await;
    let records = batch["Records"].as_array().map_or(0, Vec::len);
    assert_eq!(records, 1, "one fact record on the stream: {batch}");
    let answer = lambda.invoke(ROLLUP, &batch).await;
    assert_eq!(
        answer,
        json!({"batchItemFailures": []}),
        "{}",
        lambda.log(ROLLUP)
    );
    let projections: Vec<String> = sort_keys(store, pr_key)
        .await
        .into_iter()
        .filter(|sk| sk == PROJECTION_SK)
        .collect();
    assert_eq!(projections.len(), 1, "the PR's projection: {projections:?}");
}

async fn the_api_reports_the_merged_pr_to_the_token_only(lambda: &mut Lambda) {
    // Api, HTTP API event with the read token: 200 JSON counting the one merged PR of 2020-W13.
    let query = "scope=org&from=2020-03-23&to=2020-03-29";
    let auth = format!("Bearer {API_TOKEN}");
    let event = http_api_event(
        "GET /v1/pull-requests",
        query,
        &[("authorization", &auth)],
        None,
    );
    let answer = lambda.invoke(API, &event).await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let content_type = answer["headers"]["content-type"]
        .as_str()
        .unwrap_or_default();
    assert!(content_type.starts_with("application/json"), "{answer}");
    let report: Value =
        serde_json::from_str(answer["body"].as_str().unwrap_or_default()).expect("JSON body");
    // PR 117: opened 2020-03-23T06:36:20Z, merged ten minutes later, no review, no comment.
    assert_eq!(report["scope"], "org", "{report}");
    assert_eq!(report["opened"], 1, "{report}");
    assert_eq!(report["merged"], 1, "{report}");
    assert_eq!(
        report["weeks"],
        json!([{"week": "2020-W13", "merged": 1, "review_latency_p50_seconds": null, "first_time_pass_rate": 1.0}]),
        "{report}"
    );
    // Without the token: 401.
    let event = http_api_event("GET /v1/pull-requests", query, &[], None);
    let answer = lambda.invoke(API, &event).await;
    assert_eq!(answer["statusCode"], 401, "{answer}");
}

async fn the_digest_emails_this_run_s_recipient(lambda: &mut Lambda, recipient: &str) {
    // Digest, the Scheduler's input for Monday 2020-03-30 09:00 UTC: reports 2020-W13 and the
    // SES emulator holds one email to this run's recipient.
    let event = json!({"source": "schedule", "scheduled_time": "2020-03-30T09:00:00Z"});
    let answer = lambda.invoke(DIGEST, &event).await;
    assert_eq!(answer["week"], "2020-W13", "{answer}");
    let message_id = answer["email_message_id"].as_str().unwrap_or_default();
    assert!(!message_id.is_empty(), "{answer}");
    let held = ses_emails(&lambda.http).await;
    let mine: Vec<&Value> = held
        .iter()
        .filter(|e| e.to_string().contains(recipient))
        .collect();
    assert_eq!(mine.len(), 1, "emails to {recipient}: {mine:?}");
    let email = mine[0];
    assert_eq!(email["messageId"], message_id, "{email}");
    assert_eq!(email["destination"]["to"], json!([recipient]), "{email}");
    assert_eq!(email["from"], "metrics@acme.example", "{email}");
    let subject = email["subject"].as_str().unwrap_or_default();
    assert!(
        subject.starts_with("acme weekly digest, 23–29 Mar 2020"),
        "{subject}"
    );
}

/// Backfill, the Scheduler's tick: the running backfill (as `POST /v1/backfill` records it)
/// is picked up, read from the local GitHub REST API to its end and released; its facts are
/// in the table. A second tick finds nothing to do.
async fn the_backfill_continues_a_started_backfill_to_its_end(lambda: &mut Lambda, store: &Store) {
    let repo = "robvanderleek/create-issue-branch".to_string();
    let since = chrono::NaiveDate::from_ymd_opt(2020, 3, 1).expect("date");
    let job = flowmeter_edge::backfill::start(store, &[repo], since, chrono::Utc::now())
        .await
        .expect("store")
        .expect("no other backfill running");
    let tick = json!({"source": "schedule"});
    let answer = lambda.invoke(BACKFILL, &tick).await;
    assert_eq!(
        answer,
        json!([{"id": job.id, "state": "done", "stop": "finished"}]),
        "{answer}"
    );
    let stored = store.backfill(&job.id).await.expect("read").expect("job");
    assert_eq!(stored.repos[0].pulls_read, 1, "{stored:?}");
    assert!(stored.repos[0].facts > 0, "{stored:?}");
    let answer = lambda.invoke(BACKFILL, &tick).await;
    assert_eq!(answer, json!([]), "{answer}");
}

/// How an init-error case spoils a function's environment.
type EnvChange = fn(&mut BTreeMap<String, String>);

/// A function that cannot start must say why and exit (Lambda then reports the init error and
/// retries on a fresh container), not sit polling with a configuration that cannot work.
/// Notifier, an SQS batch as the notification queue delivers it (the EventBridge rule's events
/// as message bodies): the failed deployment goes to the routed Slack channel; a body that is
/// not a Flowmeter event is dropped, not retried; nothing is reported failed.
async fn the_notifier_posts_a_queued_event_to_its_routed_channel(
    lambda: &mut Lambda,
    platform: &SlackStandIn,
) {
    let detail = json!({
        "id": "evt_0123456789abcdef0123456789abcdef", "type": "deployment.failed",
        "occurred_at": "2026-12-01T10:05:00Z", "org": "acme", "repo": "acme/api",
        "environment": "production", "teams": [], "severity": null,
        "deployment": {"id": "gh:7", "repo": "acme/api", "environment": "production",
            "source_environment": "production", "sha": "0123456789abcdef0123456789abcdef01234567",
            "workflow": "deploy", "state": "failure", "started_at": "2026-12-01T10:00:00Z",
            "finished_at": "2026-12-01T10:05:00Z", "duration_seconds": 300.0,
            "url": "https://github.com/acme/api/commit/0123456789abcdef0123456789abcdef01234567"}
    });
    let envelope = json!({"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "deployment.failed", "source": "flowmeter", "account": "123456789012",
        "time": "2026-12-01T10:05:00Z", "region": "us-east-1", "resources": [], "detail": detail});
    let record = |id: &str, body: String| {
        json!({"messageId": id, "receiptHandle": format!("handle-{id}"), "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764583500000",
                "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1764583500001"},
            "messageAttributes": {}, "md5OfBody": "0", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:flowmeter-notifications",
            "awsRegion": "us-east-1"})
    };
    let batch = json!({"Records": [
        record("m-1", envelope.to_string()),
        record("m-2", "not an event".into()),
    ]});
    let answer = lambda.invoke(NOTIFIER, &batch).await;
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    let sent = platform.accepted();
    assert_eq!(sent.len(), 1, "{sent:?}\n{}", lambda.log(NOTIFIER));
    assert!(sent[0].to_string().contains("acme/api"), "{}", sent[0]);
    assert!(lambda.log(NOTIFIER).contains("queued message dropped"));
}

async fn init_errors_end_the_process_with_the_cause(lambda: &Lambda) {
    let cases: [(&str, &str, EnvChange, &str); 3] = [
        (
            WEBHOOK,
            "TABLE_NAME unset",
            |env| {
                env.remove("TABLE_NAME");
            },
            "TABLE_NAME",
        ),
        (
            ROLLUP,
            "TABLE_NAME empty",
            |env| {
                env.insert("TABLE_NAME".into(), String::new());
            },
            "TABLE_NAME",
        ),
        (
            API,
            "the extension refuses the session token",
            |env| {
                env.insert("AWS_SESSION_TOKEN".into(), "another-token".into());
            },
            "HTTP 401",
        ),
    ];
    for (name, case, change, cause) in cases {
        let mut env = lambda.environment(name);
        change(&mut env);
        let mut process = lambda.spawn(name, &env);
        let status = process.wait_exit(Duration::from_secs(60)).await;
        let output = process.output();
        let status = status.unwrap_or_else(|| {
            panic!("{name} ({case}) is still running instead of failing its init:\n{output}")
        });
        assert!(!status.success(), "{name} ({case}): {status}\n{output}");
        assert!(
            output.contains(cause),
            "{name} ({case}) must name {cause:?}:\n{output}"
        );
    }
}
