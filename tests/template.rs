//! Holds `template.yaml` and the code to each other, without AWS: every environment variable a
//! function's code reads is set for that function (and no secret is), every index the store
//! queries exists and is granted, the HTTP API routes are exactly the routes the handlers serve,
//! the domain events go from the rollup to the bus and through a rule and a queue to the
//! notifier, and the IAM roles stay least-privilege. A deploy is the wrong place to learn any of
//! these.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use flowmeter::model::EntityKey;
use flowmeter_edge::store::keys::Index;
use serde_yaml_ng::Value;

/// The template's text: `template.yaml`, or the file `FLOWMETER_TEMPLATE` names (to see these
/// checks fail on a deliberately broken copy without touching the real one).
fn template_text() -> String {
    let path = std::env::var("FLOWMETER_TEMPLATE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("template.yaml"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn template() -> Value {
    serde_yaml_ng::from_str(&template_text()).expect("template.yaml parses")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `!Ref X`, `!GetAtt X.Y`, `!Sub ...` parse as tagged values: (tag without `!`, inner value).
fn tagged(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(t) => Some((
            t.tag.to_string().trim_start_matches('!').to_string(),
            &t.value,
        )),
        _ => None,
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => match tagged(other) {
            Some((tag, inner)) => format!("!{tag} {}", text(inner)),
            None => format!("{other:?}"),
        },
    }
}

/// A string or a list of strings (IAM's Action and Resource take both).
fn list(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Sequence(items)) => items.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

fn resources(doc: &Value) -> &serde_yaml_ng::Mapping {
    doc.get("Resources")
        .and_then(Value::as_mapping)
        .expect("Resources")
}

/// The Lambda functions: short name (the crate directory, from CodeUri) → resource.
fn functions(doc: &Value) -> BTreeMap<String, (String, Value)> {
    let mut out = BTreeMap::new();
    for (id, resource) in resources(doc) {
        if resource.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().expect("logical id").to_string();
        let code_uri = resource["Properties"]["CodeUri"]
            .as_str()
            .expect("CodeUri is a plain path");
        let name = code_uri
            .strip_prefix("functions/")
            .unwrap_or_else(|| panic!("{id}: CodeUri {code_uri} is not functions/<crate>"));
        out.insert(name.to_string(), (id, resource.clone()));
    }
    out
}

/// The environment a function gets: Globals, then the function's own variables.
fn environment(doc: &Value, function: &Value) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let sources = [
        doc.get("Globals").and_then(|g| g.get("Function")),
        function.get("Properties"),
    ];
    for source in sources.into_iter().flatten() {
        if let Some(vars) = source
            .get("Environment")
            .and_then(|e| e.get("Variables"))
            .and_then(Value::as_mapping)
        {
            for (k, v) in vars {
                env.insert(k.as_str().expect("variable name").to_string(), text(v));
            }
        }
    }
    env
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The function crates' sources and the shared edge crate's, by crate directory name.
fn sources() -> BTreeMap<String, Vec<(PathBuf, String)>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(root().join("functions")).expect("functions/") {
        let dir = entry.expect("dir entry").path();
        let name = dir.file_name().expect("name").to_string_lossy().to_string();
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files);
        let texts = files
            .into_iter()
            .map(|p| {
                let t = std::fs::read_to_string(&p).expect("read source");
                (p, t)
            })
            .collect();
        out.insert(name, texts);
    }
    out
}

/// String literals that look like environment variable names: upper case, digits and `_`,
/// with at least one `_`. Deliberately wider than `env::var("…")` (names reach `env::var`
/// through helpers and closures too); what is not an environment variable is listed in
/// [`CLASSIFIED`] as such.
fn env_like_literals(source: &str) -> BTreeSet<String> {
    let bytes = source.as_bytes();
    let mut out = BTreeSet::new();
    for (i, _) in source.match_indices('"') {
        let rest = &bytes[i + 1..];
        let len = rest
            .iter()
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b'_')
            .count();
        if len >= 3 && rest.get(len) == Some(&b'"') {
            let name = &source[i + 1..i + 1 + len];
            if name.contains('_') && name.as_bytes()[0].is_ascii_uppercase() {
                out.insert(name.to_string());
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Read by these functions; the template must set it for each of them.
    Functions(&'static [&'static str]),
    /// A secret's local fallback (dev server, tests). In AWS secrets come from Secrets Manager,
    /// so the template must never set it.
    LocalSecret,
    /// Points at a local emulator; set in AWS it would send production traffic nowhere.
    LocalOnly,
    /// Set by Lambda itself in every execution environment.
    SetByLambda,
    /// Read with a default that is right in AWS (the extension's own port variable).
    Defaulted,
    /// A string constant that only looks like a variable name.
    NotAnEnvVar,
}

const ALL: &[&str] = &["webhook", "rollup", "api", "digest", "backfill", "notifier"];
const WITH_SECRETS: &[&str] = &["webhook", "api", "digest", "backfill", "notifier"];

/// Every env-like name in functions/**: where it is read and what the template must do.
const CLASSIFIED: &[(&str, Use)] = &[
    ("TABLE_NAME", Use::Functions(ALL)),
    ("FLOWMETER_SECRET_ARN", Use::Functions(WITH_SECRETS)),
    ("FLOWMETER_SECRETS_REVISION", Use::Functions(WITH_SECRETS)),
    ("FLOWMETER_GITHUB_SECRET", Use::LocalSecret),
    ("FLOWMETER_PAGERDUTY_SECRET", Use::LocalSecret),
    ("FLOWMETER_WEBHOOK_SECRET", Use::LocalSecret),
    ("FLOWMETER_JIRA_SECRET", Use::LocalSecret),
    ("FLOWMETER_JIRA_TOKEN", Use::LocalSecret),
    ("FLOWMETER_LINEAR_SECRET", Use::LocalSecret),
    ("FLOWMETER_GITLAB_TOKEN", Use::LocalSecret),
    ("FLOWMETER_GITLAB_SIGNING_TOKEN", Use::LocalSecret),
    ("FLOWMETER_BITBUCKET_SECRET", Use::LocalSecret),
    ("FLOWMETER_ARGOCD_TOKEN", Use::LocalSecret),
    ("FLOWMETER_API_TOKEN", Use::LocalSecret),
    ("FLOWMETER_ADMIN_TOKEN", Use::LocalSecret),
    ("FLOWMETER_SLACK_WEBHOOK_URL", Use::LocalSecret),
    ("FLOWMETER_TEAMS_WEBHOOK_URL", Use::LocalSecret),
    // The notifier's Slack app token (the secret's `slack_bot_token`).
    ("FLOWMETER_SLACK_BOT_TOKEN", Use::LocalSecret),
    // The notifier's named channels (a JSON object, as the secret's `channels`).
    ("FLOWMETER_CHANNELS", Use::LocalSecret),
    ("FLOWMETER_GITHUB_TOKEN", Use::LocalSecret),
    ("FLOWMETER_GITHUB_APP_ID", Use::LocalSecret),
    ("FLOWMETER_GITHUB_APP_PRIVATE_KEY", Use::LocalSecret),
    ("FLOWMETER_GITHUB_APP_INSTALLATION_ID", Use::LocalSecret),
    ("FLOWMETER_SHARE_SECRET", Use::LocalSecret),
    ("FLOWMETER_GATE_TOKEN", Use::LocalSecret),
    ("FLOWMETER_GITHUB_API_URL", Use::Functions(&["backfill"])),
    // The prefix the local App variables share, named in an error message.
    ("FLOWMETER_GITHUB_APP_", Use::NotAnEnvVar),
    ("FLOWMETER_DASHBOARD_URL", Use::Functions(&["digest"])),
    ("DIGEST_TIMEZONE", Use::Functions(&["digest"])),
    ("EVENT_BUS_NAME", Use::Functions(&["rollup"])),
    ("FLOWMETER_DYNAMODB_ENDPOINT", Use::LocalOnly),
    ("FLOWMETER_SES_ENDPOINT", Use::LocalOnly),
    ("FLOWMETER_EVENTBRIDGE_ENDPOINT", Use::LocalOnly),
    // Slack's Web API for the notifier's bot channels: a local stand-in; AWS uses the default.
    ("FLOWMETER_SLACK_API_URL", Use::LocalOnly),
    ("AWS_SESSION_TOKEN", Use::SetByLambda),
    ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", Use::Defaulted),
    ("NEW_AND_OLD_IMAGES", Use::NotAnEnvVar),
    ("TRIM_HORIZON", Use::NotAnEnvVar),
    ("AT_SEQUENCE_NUMBER", Use::NotAnEnvVar),
    ("AFTER_SEQUENCE_NUMBER", Use::NotAnEnvVar),
];

fn classification(name: &str) -> Option<Use> {
    CLASSIFIED.iter().find(|(n, _)| *n == name).map(|(_, u)| *u)
}

#[test]
fn every_environment_variable_the_code_reads_is_set_for_its_function() {
    let doc = template();
    let functions = functions(&doc);
    let sources = sources();

    // The template's functions are exactly the function crates (edge is the shared library).
    let crates: BTreeSet<&str> = sources
        .keys()
        .map(String::as_str)
        .filter(|c| *c != "edge")
        .collect();
    let deployed: BTreeSet<&str> = functions.keys().map(String::as_str).collect();
    assert_eq!(deployed, crates, "template functions vs functions/* crates");
    assert_eq!(deployed, ALL.iter().copied().collect(), "update ALL");

    // Every env-like literal in the sources is classified; one in a function's own crate must
    // be read by that function (or be local-only / set by Lambda).
    let mut seen = BTreeSet::new();
    let mut unclassified = Vec::new();
    for (crate_name, files) in &sources {
        for (path, source) in files {
            for name in env_like_literals(source) {
                seen.insert(name.clone());
                match classification(&name) {
                    None => unclassified.push(format!("{name} ({})", path.display())),
                    Some(Use::Functions(readers)) if crate_name != "edge" => assert!(
                        readers.contains(&crate_name.as_str()),
                        "{name} is read in {} but CLASSIFIED does not list {crate_name}",
                        path.display()
                    ),
                    Some(_) => {}
                }
            }
        }
    }
    assert!(
        unclassified.is_empty(),
        "new environment variables (or constants) in functions/: classify them in CLASSIFIED \
         and set them in template.yaml where they are read: {unclassified:?}"
    );
    let stale: Vec<&str> = CLASSIFIED
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !seen.contains(*n))
        .collect();
    assert!(stale.is_empty(), "no longer in the sources: {stale:?}");

    for (name, (id, function)) in &functions {
        let env = environment(&doc, function);
        for (var, usage) in CLASSIFIED {
            match usage {
                Use::Functions(readers) if readers.contains(&name.as_str()) => {
                    assert!(
                        env.contains_key(*var),
                        "{id} reads {var}; the template does not set it"
                    );
                }
                Use::LocalSecret => assert!(
                    !env.contains_key(*var),
                    "{id}: {var} is a secret; in AWS it belongs in the Secrets Manager secret"
                ),
                Use::LocalOnly => {
                    assert!(
                        !env.contains_key(*var),
                        "{id}: {var} is for the local stack only"
                    )
                }
                _ => {}
            }
        }
        // And the other way round: every variable the template sets is one the function reads
        // (or the secrets extension's own), so no setting is dead weight that looks like a knob.
        for var in env.keys() {
            let read = matches!(classification(var), Some(Use::Functions(readers)) if readers.contains(&name.as_str()));
            assert!(
                read || var.starts_with("PARAMETERS_SECRETS_EXTENSION_"),
                "{id} sets {var}, which the {name} function does not read"
            );
        }
    }
}

#[test]
fn the_env_scan_finds_names_however_they_reach_env_var() {
    let found = env_like_literals(
        r#"std::env::var("TABLE_NAME"); read("FLOWMETER_X_Y"); let s = "not one"; "GET"; "A_""#,
    );
    assert_eq!(
        found,
        BTreeSet::from(["TABLE_NAME".to_string(), "FLOWMETER_X_Y".to_string()])
    );
}

/// The indexes a source text queries: those of the store's index queries it calls.
fn queried_indexes(source: &str) -> BTreeSet<String> {
    flowmeter_edge::store::INDEX_QUERIES
        .iter()
        .filter(|(op, _)| source.contains(&format!(".{op}(")))
        .map(|(_, index)| index.name().to_string())
        .collect()
}

/// The index names a role's statements grant (`${Table.Arn}/index/<name>`).
fn granted_indexes(doc: &Value, role: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for statement in statements(doc, role) {
        for resource in list(statement.get("Resource")) {
            let t = text(resource);
            if let Some(name) = t.strip_prefix("!Sub ${Table.Arn}/index/") {
                out.insert(name.to_string());
            }
        }
    }
    out
}

#[test]
fn every_index_the_store_queries_exists_and_is_granted() {
    let doc = template();
    let table =
        flowmeter_edge::schema::table_definition(&template_text()).expect("table definition");
    let defined: BTreeSet<String> = table
        .global_secondary_indexes
        .iter()
        .map(|i| i.index_name.clone())
        .collect();
    let edge = root().join("functions/edge/src");
    let read = |file: &str| std::fs::read_to_string(edge.join(file)).expect("source");
    // A module's source: the file, or every file of its folder.
    let module = |name: &str| -> String {
        let dir = edge.join(name);
        if dir.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .expect("module folder")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "rs"))
                .collect();
            files.sort();
            assert!(!files.is_empty(), "{name}/ holds no source");
            files
                .iter()
                .map(|p| std::fs::read_to_string(p).expect("source"))
                .collect()
        } else {
            read(&format!("{name}.rs"))
        }
    };

    // Every index the store knows is in the template, keyed by the attributes the store
    // writes and queries.
    for index in Index::ALL {
        let defined = table
            .global_secondary_indexes
            .iter()
            .find(|i| i.index_name == index.name())
            .unwrap_or_else(|| panic!("{} is not in template.yaml", index.name()));
        let keys: Vec<&str> = defined
            .key_schema
            .iter()
            .map(|k| k.attribute_name.as_str())
            .collect();
        assert_eq!(
            keys,
            [index.pk_attribute(), index.sk_attribute()],
            "store::keys::Index::{index:?} keys on these attributes"
        );
    }
    let known: BTreeSet<String> = Index::ALL.iter().map(|i| i.name().to_string()).collect();
    assert_eq!(
        defined, known,
        "template.yaml's indexes vs store::keys::Index::ALL"
    );
    // Every listed query is one the store has.
    let queries = read("store/index.rs");
    for (op, _) in flowmeter_edge::store::INDEX_QUERIES {
        assert!(
            queries.contains(&format!("pub async fn {op}(")),
            "store::INDEX_QUERIES lists {op}, which store/index.rs does not define"
        );
    }

    // Each function's role grants the indexes its code queries.
    for (role, files) in [
        ("RollupRole", vec!["pipeline", "stream"]),
        ("ApiRole", vec!["api"]),
        ("DigestRole", vec!["digest"]),
    ] {
        let queried: BTreeSet<String> = files
            .iter()
            .flat_map(|f| queried_indexes(&module(f)))
            .collect();
        let granted = granted_indexes(&doc, role);
        let missing: Vec<&String> = queried.difference(&granted).collect();
        assert!(
            missing.is_empty(),
            "{role} lacks Query on index {missing:?}"
        );
        let undefined: Vec<&String> = granted.difference(&defined).collect();
        assert!(
            undefined.is_empty(),
            "{role} grants unknown index {undefined:?}"
        );
    }
}

#[test]
fn the_http_api_routes_are_the_routes_the_handlers_serve() {
    let doc = template();
    let functions = functions(&doc);
    let routes_of = |name: &str| -> BTreeSet<(String, String)> {
        let (_, function) = &functions[name];
        function["Properties"]["Events"]
            .as_mapping()
            .map(|events| {
                events
                    .values()
                    .filter(|e| e["Type"].as_str() == Some("HttpApi"))
                    .map(|e| {
                        let p = &e["Properties"];
                        assert_eq!(text(&p["ApiId"]), "!Ref HttpApi", "one API for all routes");
                        (text(&p["Method"]).to_uppercase(), text(&p["Path"]))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };

    let webhook: BTreeSet<(String, String)> = flowmeter_edge::webhook::ROUTES
        .iter()
        .map(|p| ("POST".to_string(), p.to_string()))
        .collect();
    // The JSON routes and the dashboard's static files (a greedy path under /dashboard/).
    let api: BTreeSet<(String, String)> = flowmeter_edge::api::ROUTES
        .iter()
        .chain(flowmeter_edge::api::DASHBOARD_ROUTES.iter())
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(routes_of("webhook"), webhook);
    assert_eq!(routes_of("api"), api);
    for name in ["rollup", "digest", "backfill", "notifier"] {
        assert!(routes_of(name).is_empty(), "{name} serves no HTTP route");
    }
    for (_, path) in webhook.iter().chain(&api) {
        assert!(
            !path.starts_with("/dev/"),
            "{path}: dev-server routes stay local"
        );
    }
}

/// The statements of a role's inline policies.
fn statements<'a>(doc: &'a Value, role: &str) -> Vec<&'a Value> {
    let resource = &resources(doc)[role];
    assert_eq!(resource["Type"].as_str(), Some("AWS::IAM::Role"), "{role}");
    list(resource["Properties"].get("Policies"))
        .into_iter()
        .flat_map(|p| list(p["PolicyDocument"].get("Statement")))
        .collect()
}

fn actions(doc: &Value, role: &str) -> BTreeSet<String> {
    statements(doc, role)
        .into_iter()
        .flat_map(|s| list(s.get("Action")))
        .map(text)
        .collect()
}

#[test]
fn roles_are_least_privilege() {
    let doc = template();
    every_role_is_scoped_without_wildcards(&doc);
    each_role_has_exactly_its_dynamodb_actions(&doc);
    only_the_secret_readers_may_read_the_secret(&doc);
}

/// No function takes SAM Policies; no role takes managed policies, wildcard actions or
/// wildcard resources.
fn every_role_is_scoped_without_wildcards(doc: &Value) {
    for (id, resource) in resources(doc) {
        let id = id.as_str().expect("id");
        let kind = resource["Type"].as_str().unwrap_or_default();
        if kind == "AWS::Serverless::Function" {
            // SAM's Policies would attach AWSLambdaBasicExecutionRole (logs on every group).
            assert!(
                resource["Properties"].get("Policies").is_none(),
                "{id}: give it an explicit Role instead of SAM Policies"
            );
            assert!(
                resource["Properties"].get("Role").is_some(),
                "{id}: no Role"
            );
        }
        if kind != "AWS::IAM::Role" {
            continue;
        }
        assert!(
            resource["Properties"].get("ManagedPolicyArns").is_none(),
            "{id}: managed policies are not scoped to this stack"
        );
        for statement in statements(doc, id) {
            assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{id}");
            for action in list(statement.get("Action")) {
                let action = text(action);
                assert!(!action.contains('*'), "{id}: wildcard action {action}");
            }
            let resources = list(statement.get("Resource"));
            assert!(!resources.is_empty(), "{id}: statement without Resource");
            for r in resources {
                let r = text(r);
                assert!(r != "*" && !r.ends_with(":*:*"), "{id}: resource {r}");
            }
        }
    }
}

/// The DynamoDB actions of each role are exactly the calls its function makes.
fn each_role_has_exactly_its_dynamodb_actions(doc: &Value) {
    let dynamodb = |role: &str| -> BTreeSet<String> {
        actions(doc, role)
            .into_iter()
            .filter(|a| a.starts_with("dynamodb:"))
            .collect()
    };
    let set =
        |items: &[&str]| -> BTreeSet<String> { items.iter().map(|s| s.to_string()).collect() };
    assert_eq!(dynamodb("WebhookRole"), set(&["dynamodb:PutItem"]));
    assert_eq!(
        dynamodb("ApiRole"),
        set(&[
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:Query",
            "dynamodb:PutItem"
        ])
    );
    assert_eq!(
        dynamodb("DigestRole"),
        set(&[
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem"
        ])
    );
    // Exactly the calls `Store` makes on the rollup's path (the pipeline, the stream handler
    // and the events outbox, whose marks are UpdateItems), plus reading the stream. No Scan:
    // that is the operator's reprocess only.
    assert_eq!(
        dynamodb("RollupRole"),
        set(&[
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:DescribeStream",
            "dynamodb:ListStreams"
        ])
    );
    // The notifier reads the config's routes and nothing else.
    assert_eq!(dynamodb("NotifierRole"), set(&["dynamodb:GetItem"]));
    // Facts, checkpoints and ETags, written as the webhook writes facts; the lease is an
    // UpdateItem. No Scan, no DeleteItem: a backfill only adds.
    assert_eq!(
        dynamodb("BackfillRole"),
        set(&[
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem"
        ])
    );
    assert!(actions(doc, "RollupRole").contains("sqs:SendMessage"));
    assert!(actions(doc, "DigestRole").contains("ses:SendEmail"));
}

/// Functions that read the secret: the ARN, the extension layer, and GetSecretValue on exactly
/// that secret; the rollup reads none.
fn only_the_secret_readers_may_read_the_secret(doc: &Value) {
    let functions = functions(doc);
    for name in WITH_SECRETS {
        let (id, function) = &functions[*name];
        let env = environment(doc, function);
        assert_eq!(
            env.get("FLOWMETER_SECRET_ARN").map(String::as_str),
            Some("!Ref Secret")
        );
        let layers: Vec<String> = list(function["Properties"].get("Layers"))
            .into_iter()
            .map(text)
            .collect();
        assert_eq!(layers, ["!Ref SecretsExtensionLayerArn"], "{id}");
        let role = text(&function["Properties"]["Role"]);
        let role = role
            .strip_prefix("!GetAtt ")
            .and_then(|r| r.strip_suffix(".Arn"))
            .expect("Role: !GetAtt <Role>.Arn");
        let grants: Vec<String> = statements(doc, role)
            .into_iter()
            .filter(|s| {
                list(s.get("Action"))
                    .iter()
                    .any(|a| text(a) == "secretsmanager:GetSecretValue")
            })
            .flat_map(|s| list(s.get("Resource")))
            .map(text)
            .collect();
        assert_eq!(grants, ["!Ref Secret"], "{role}");
    }
    let (_, rollup_fn) = &functions["rollup"];
    assert!(
        !statements(doc, "RollupRole")
            .iter()
            .any(|s| list(s.get("Action"))
                .iter()
                .any(|a| text(a).starts_with("secretsmanager:"))),
        "the rollup reads no secret"
    );
    assert!(rollup_fn["Properties"].get("Layers").is_none());
}

/// One key of each kind of entity a webhook writes facts for.
fn one_key_of_each_entity() -> [EntityKey; 4] {
    [
        EntityKey::PullRequest {
            repo: "acme/api".into(),
            number: 1,
        },
        EntityKey::Deployment {
            repo: "acme/api".into(),
            id: "gh:1".into(),
        },
        EntityKey::Incident { id: "pd:P1".into() },
        EntityKey::Branch {
            repo: "acme/api".into(),
            branch: "main".into(),
        },
    ]
}

/// Whether a role's conditioned write grants let it write partition `pk`.
fn role_may_write(doc: &Value, role: &str) -> impl Fn(&str) -> bool {
    let patterns: Vec<String> = statements(doc, role)
        .into_iter()
        .filter_map(|s| s.get("Condition"))
        .flat_map(|c| list(c["ForAllValues:StringLike"].get("dynamodb:LeadingKeys")))
        .map(text)
        .collect();
    assert!(!patterns.is_empty(), "{role}: no LeadingKeys condition");
    move |pk: &str| {
        patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => pk.starts_with(prefix),
            None => pk == p,
        })
    }
}

#[test]
fn the_backfill_role_writes_facts_checkpoints_and_etags_and_nothing_derived() {
    let doc = template();
    let may_write = role_may_write(&doc, "BackfillRole");
    for key in one_key_of_each_entity() {
        let pk = key.partition_key();
        assert!(may_write(&pk), "the backfill role may not write {pk}");
    }
    for pk in ["BACKFILL", "ETAG#/repos/acme/api/pulls/1"] {
        assert!(may_write(pk), "the backfill role may not write {pk}");
    }
    for other in [
        "CONFIG",
        "ROLLUP#org",
        "BUCKET#org|2026-W41",
        "REPO#acme/api",
        "DIGEST#acme#2026-W41",
    ] {
        assert!(!may_write(other), "the backfill role may write {other}");
    }
    let schedule = &resources(&doc)["BackfillSchedule"]["Properties"];
    assert_eq!(text(&schedule["ScheduleExpression"]), "rate(1 minute)");
    let function = &resources(&doc)["BackfillFunction"]["Properties"];
    assert_eq!(
        function["Timeout"].as_i64(),
        Some(900),
        "Lambda's longest run"
    );
    assert_eq!(function["ReservedConcurrentExecutions"].as_i64(), Some(1));
}

#[test]
fn the_webhook_role_may_write_every_entity_partition_and_nothing_else() {
    let doc = template();
    let patterns: Vec<String> = statements(&doc, "WebhookRole")
        .into_iter()
        .filter_map(|s| s.get("Condition"))
        .flat_map(|c| list(c["ForAllValues:StringLike"].get("dynamodb:LeadingKeys")))
        .map(text)
        .collect();
    assert!(
        !patterns.is_empty(),
        "the PutItem grant lost its LeadingKeys condition"
    );
    let matches = |pk: &str| {
        patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => pk.starts_with(prefix),
            None => pk == p,
        })
    };
    // Every kind of entity a webhook writes facts for. The match has no wildcard arm, so a new
    // kind of entity does not compile here until it is added to the list and the template.
    // Tickets come from the Jira and Linear webhooks only, applications from ArgoCD's, security
    // alerts from GitHub's alert events (no backfill writes them).
    let mut keys = one_key_of_each_entity().to_vec();
    keys.push(EntityKey::Ticket {
        id: "jira:ENG-1".into(),
    });
    keys.push(EntityKey::App {
        id: "argocd:api@prod".into(),
    });
    keys.push(EntityKey::Alert {
        repo: "acme/api".into(),
        id: "dependabot:20".into(),
    });
    for key in &keys {
        match key {
            EntityKey::PullRequest { .. }
            | EntityKey::Deployment { .. }
            | EntityKey::Incident { .. }
            | EntityKey::Branch { .. }
            | EntityKey::Ticket { .. }
            | EntityKey::App { .. }
            | EntityKey::Alert { .. } => {}
        }
        let pk = key.partition_key();
        assert!(matches(&pk), "the webhook role may not write {pk}");
    }
    for other in [
        "CONFIG",
        "ROLLUP#org",
        "BUCKET#org|2026-W41",
        "REPO#acme/api",
    ] {
        assert!(!matches(other), "the webhook role may write {other}");
    }
}

#[test]
fn the_stream_mapping_is_bounded_and_filtered_to_facts() {
    let doc = template();
    let functions = functions(&doc);
    let (_, rollup) = &functions["rollup"];
    let events = rollup["Properties"]["Events"].as_mapping().expect("Events");
    let stream = events
        .values()
        .find(|e| e["Type"].as_str() == Some("DynamoDB"))
        .expect("a DynamoDB stream event");
    let p = &stream["Properties"];
    assert_eq!(text(&p["Stream"]), "!GetAtt Table.StreamArn");
    assert_eq!(
        list(p.get("FunctionResponseTypes"))
            .into_iter()
            .map(text)
            .collect::<Vec<_>>(),
        ["ReportBatchItemFailures"]
    );
    assert_eq!(p["BisectBatchOnFunctionError"].as_bool(), Some(true));
    assert_eq!(
        p["BatchSize"].as_u64(),
        Some(flowmeter_edge::local_stream::BATCH_SIZE as u64),
        "the dev server's stream poller hands the handler batches of Lambda's size"
    );
    let retries = p["MaximumRetryAttempts"].as_i64().expect("bounded retries");
    assert!((0..=10).contains(&retries));
    assert!(p["MaximumRecordAgeInSeconds"].as_i64().is_some());
    assert_eq!(
        p["DestinationConfig"]["OnFailure"]["Type"].as_str(),
        Some("SQS")
    );
    let patterns: Vec<String> = list(p["FilterCriteria"].get("Filters"))
        .into_iter()
        .map(|f| text(&f["Pattern"]))
        .collect();
    let pattern: serde_json::Value =
        serde_json::from_str(patterns.first().expect("a filter")).expect("pattern is JSON");
    assert_eq!(
        pattern,
        serde_json::json!({"dynamodb":{"Keys":{"sk":{"S":[{"prefix":"FACT#"}]}}}}),
        "the local stream poller applies exactly this filter"
    );
    let timeout = rollup["Properties"]["Timeout"].as_i64().expect("Timeout");
    assert!(timeout <= 900);
}

#[test]
fn functions_are_arm64_on_al2023_with_json_logs_and_retention() {
    let doc = template();
    let globals = &doc["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(
        list(globals.get("Architectures"))
            .into_iter()
            .map(text)
            .collect::<Vec<_>>(),
        ["arm64"]
    );
    for (name, (id, function)) in functions(&doc) {
        let p = &function["Properties"];
        assert_eq!(
            function["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{id}: sam build must build it with cargo-lambda"
        );
        assert_eq!(
            p["CodeUri"].as_str(),
            Some(format!("functions/{name}").as_str())
        );
        assert!(root().join(format!("functions/{name}/Cargo.toml")).exists());
        assert!(
            p.get("Runtime").is_none() && p.get("Architectures").is_none(),
            "{id}"
        );
        assert!(
            p["MemorySize"].as_i64().is_some(),
            "{id}: choose its memory"
        );
        assert!(p["Timeout"].as_i64().is_some(), "{id}: choose its timeout");
        assert_eq!(
            p["LoggingConfig"]["LogFormat"].as_str(),
            Some("JSON"),
            "{id}"
        );
        let group = text(&p["LoggingConfig"]["LogGroup"]);
        let group = group.strip_prefix("!Ref ").expect("LogGroup: !Ref <group>");
        let retention = &resources(&doc)[group]["Properties"]["RetentionInDays"];
        assert_eq!(text(retention), "!Ref LogRetentionDays", "{id}");
    }
    let schedule = &resources(&doc)["DigestSchedule"]["Properties"];
    assert_eq!(text(&schedule["ScheduleExpression"]), "cron(0 9 ? * MON *)");
    assert_eq!(
        text(&schedule["ScheduleExpressionTimezone"]),
        "!Ref DigestTimezone"
    );
    let outputs = doc["Outputs"].as_mapping().expect("Outputs");
    for output in ["WebhookUrl", "ApiUrl"] {
        assert!(outputs.contains_key(output), "output {output}");
    }
}

/// The write actions of a DynamoDB grant (everything that can change an item).
const DYNAMODB_WRITES: &[&str] = &[
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
];

/// The LeadingKeys patterns of a conditioned DynamoDB grant, whose one condition operator must
/// be `operator`.
fn leading_keys(statement: &Value, operator: &str, what: &str) -> BTreeSet<String> {
    let condition = statement
        .get("Condition")
        .unwrap_or_else(|| panic!("{what} without a LeadingKeys condition"));
    let condition = condition.as_mapping().expect("Condition is a map");
    assert_eq!(condition.len(), 1, "{what}: one condition operator");
    let keys: BTreeSet<String> = list(
        condition
            .get(operator)
            .and_then(|c| c.get("dynamodb:LeadingKeys")),
    )
    .into_iter()
    .map(text)
    .collect();
    assert!(!keys.is_empty(), "{what}: no {operator} LeadingKeys");
    keys
}

#[test]
fn the_rollup_role_writes_only_under_the_prefixes_the_rollup_writes() {
    let doc = template();
    let outbox: BTreeSet<String> = [format!("{}*", flowmeter_edge::store::keys::OUTBOX)].into();
    let mut patterns: Option<BTreeSet<String>> = None;
    let mut marks_outbox = false;
    for statement in statements(&doc, "RollupRole") {
        let writes: Vec<String> = list(statement.get("Action"))
            .into_iter()
            .map(text)
            .filter(|a| DYNAMODB_WRITES.contains(&a.as_str()))
            .collect();
        if writes.is_empty() {
            continue;
        }
        let what = format!("RollupRole's {writes:?}");
        let keys = leading_keys(statement, "ForAllValues:StringLike", &what);
        // The outbox's marks (published, unpublished) are the rollup's only UpdateItems, and
        // only under OUTBOX#: an update can touch no projection, member or rollup.
        if writes.iter().any(|w| w == "dynamodb:UpdateItem") {
            assert_eq!(
                writes,
                ["dynamodb:UpdateItem"],
                "{what}: grant UpdateItem alone"
            );
            assert_eq!(keys, outbox, "the rollup updates outbox items only");
            marks_outbox = true;
            continue;
        }
        assert!(
            patterns.is_none() || patterns.as_ref() == Some(&keys),
            "the rollup's write statements disagree on their prefixes"
        );
        patterns = Some(keys);
    }
    let patterns = patterns.expect("RollupRole grants no DynamoDB writes");
    assert!(
        marks_outbox,
        "RollupRole cannot mark outbox items published"
    );
    assert!(
        patterns.is_superset(&outbox),
        "the rollup cannot write its events' outbox items (OUTBOX#<event id>)"
    );

    // Exactly the prefixes the code lists (store::ROLLUP_WRITE_PREFIXES, which
    // tests/derived_writes.rs checks against the items a pipeline run writes).
    let expected: BTreeSet<String> = flowmeter_edge::store::ROLLUP_WRITE_PREFIXES
        .iter()
        .map(|p| format!("{p}*"))
        .collect();
    assert_eq!(
        patterns, expected,
        "template.yaml vs store::ROLLUP_WRITE_PREFIXES"
    );

    let matches = |pk: &str| {
        patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => pk.starts_with(prefix),
            None => pk == p,
        })
    };
    // The keys the store builds for the rollup's items are inside the grant.
    let week: flowmeter::time::IsoWeek = "2026-W41".parse().expect("week");
    let scope = flowmeter::derive::Scope::parse("repo:acme/api").expect("scope");
    let bucket = flowmeter::derive::Bucket {
        scope: scope.clone(),
        week,
    };
    let entities = one_key_of_each_entity();
    let event_id = flowmeter::events::event_id(
        flowmeter::events::EventType::DeploymentFinished,
        &["DEP#acme/api#gh:1"],
    );
    for pk in entities.iter().map(EntityKey::partition_key).chain([
        flowmeter_edge::store::bucket_pk(&bucket),
        flowmeter_edge::store::rollup_pk(&scope),
        flowmeter_edge::store::keys::outbox_pk(&event_id),
    ]) {
        assert!(matches(&pk), "the rollup role may not write {pk}");
    }
    // And the items it must never touch are outside it.
    for other in ["CONFIG", "DIGEST#acme#2026-W41", "DIGEST#"] {
        assert!(!matches(other), "the rollup role may write {other}");
    }
}

/// The alarms of the template: logical id → properties.
fn alarms(doc: &Value) -> Vec<(String, &Value)> {
    resources(doc)
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .map(|(id, r)| (id.as_str().expect("id").to_string(), &r["Properties"]))
        .collect()
}

/// The metric queries of a metric-math alarm: (id, metric name, dimensions, period).
fn metric_stats(alarm: &Value) -> Vec<(String, String, BTreeMap<String, String>, i64)> {
    list(alarm.get("Metrics"))
        .into_iter()
        .filter_map(|m| {
            let stat = m.get("MetricStat")?;
            let metric = &stat["Metric"];
            assert_eq!(metric["Namespace"].as_str(), Some("AWS/ApiGateway"));
            assert_eq!(stat["Stat"].as_str(), Some("Sum"), "counts are summed");
            let dimensions = list(metric.get("Dimensions"))
                .into_iter()
                .map(|d| (text(&d["Name"]), text(&d["Value"])))
                .collect();
            Some((
                text(&m["Id"]),
                text(&metric["MetricName"]),
                dimensions,
                stat["Period"].as_i64().expect("Period"),
            ))
        })
        .collect()
}

#[test]
fn every_webhook_route_has_4xx_and_5xx_rate_alarms_on_its_own_metrics() {
    let doc = template();
    let http_api = &resources(&doc)["HttpApi"]["Properties"];
    assert!(
        http_api.get("StageName").is_none(),
        "the alarms watch the $default stage SAM creates when no StageName is set"
    );
    let functions = functions(&doc);
    let (_, webhook) = &functions["webhook"];
    let events = webhook["Properties"]["Events"]
        .as_mapping()
        .expect("Events");
    let alarms = alarms(&doc);

    for path in flowmeter_edge::webhook::ROUTES {
        // The route publishes its own metrics (detailed metrics are per route).
        let event = events
            .values()
            .find(|e| e["Properties"]["Path"].as_str() == Some(path))
            .unwrap_or_else(|| panic!("no event for {path}"));
        assert_eq!(
            event["Properties"]["RouteSettings"]["DetailedMetricsEnabled"].as_bool(),
            Some(true),
            "{path}: per-route metrics are off, so its alarms would see no data"
        );
        let route_dimensions: BTreeMap<String, String> = [
            ("ApiId", "!Ref HttpApi"),
            ("Stage", "$default"),
            ("Resource", path),
            ("Method", "POST"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();

        for errors in ["4xx", "5xx"] {
            let watching: Vec<&(String, &Value)> = alarms
                .iter()
                .filter(|(_, a)| {
                    metric_stats(a)
                        .iter()
                        .any(|(_, name, dims, _)| name == errors && *dims == route_dimensions)
                })
                .collect();
            assert_eq!(
                watching.len(),
                1,
                "POST {path}: expected one alarm on its {errors}, found {}",
                watching.len()
            );
            let (id, alarm) = watching[0];
            let stats = metric_stats(alarm);
            let find = |name: &str| {
                stats
                    .iter()
                    .find(|(_, n, dims, _)| n == name && *dims == route_dimensions)
                    .unwrap_or_else(|| panic!("{id}: no {name} of POST {path}"))
            };
            let (errors_id, _, _, errors_period) = find(errors);
            let (count_id, _, _, count_period) = find("Count");
            assert_eq!(errors_period, count_period, "{id}: one period for both");
            assert_eq!(stats.len(), 2, "{id}: the route's errors and requests only");

            // A rate: the one returned expression divides the errors by the requests.
            let returned: Vec<&Value> = list(alarm.get("Metrics"))
                .into_iter()
                .filter(|m| m["ReturnData"].as_bool() == Some(true))
                .collect();
            assert_eq!(returned.len(), 1, "{id}: one returned series");
            let expression = text(&returned[0]["Expression"]);
            assert!(
                expression.contains(&format!("/ {count_id}"))
                    && expression.contains(errors_id.as_str()),
                "{id}: {expression} is not {errors_id} / {count_id}"
            );
            let threshold = alarm["Threshold"].as_f64().expect("Threshold");
            assert!(
                threshold > 0.0 && threshold <= 100.0,
                "{id}: a percentage threshold, not {threshold}"
            );
            assert_eq!(
                text(&alarm["ComparisonOperator"]),
                "GreaterThanOrEqualToThreshold"
            );
            assert_eq!(
                text(&alarm["TreatMissingData"]),
                "notBreaching",
                "{id}: no traffic is no alarm"
            );
            for actions in ["AlarmActions", "OKActions"] {
                let targets: Vec<String> = list(alarm.get(actions)).into_iter().map(text).collect();
                assert_eq!(targets, ["!Ref AlarmTopic"], "{id}: {actions}");
            }
        }
    }
}

/// The role a function runs as (`Role: !GetAtt <Role>.Arn`).
fn role_of(function: &Value) -> String {
    let role = text(&function["Properties"]["Role"]);
    role.strip_prefix("!GetAtt ")
        .and_then(|r| r.strip_suffix(".Arn"))
        .expect("Role: !GetAtt <Role>.Arn")
        .to_string()
}

/// The logical ids of the template's IAM roles.
fn role_ids(doc: &Value) -> Vec<String> {
    resources(doc)
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::IAM::Role"))
        .map(|(id, _)| id.as_str().expect("id").to_string())
        .collect()
}

fn texts(value: Option<&Value>) -> Vec<String> {
    list(value).into_iter().map(text).collect()
}

#[test]
fn only_the_rollup_may_put_events_and_only_on_its_bus_as_flowmeter() {
    let doc = template();
    assert_eq!(
        resources(&doc)["EventBus"]["Type"].as_str(),
        Some("AWS::Events::EventBus")
    );
    let functions = functions(&doc);
    let (_, rollup) = &functions["rollup"];
    assert_eq!(role_of(rollup), "RollupRole");
    assert_eq!(
        environment(&doc, rollup)
            .get("EVENT_BUS_NAME")
            .map(String::as_str),
        Some("!GetAtt EventBus.Name"),
        "the rollup publishes to the stack's bus"
    );

    let mut grants = 0;
    for role in role_ids(&doc) {
        for statement in statements(&doc, &role) {
            let actions = texts(statement.get("Action"));
            let events: Vec<&String> = actions
                .iter()
                .filter(|a| a.starts_with("events:"))
                .collect();
            if events.is_empty() {
                continue;
            }
            assert_eq!(
                role, "RollupRole",
                "{role} may {events:?}: only the rollup puts events"
            );
            assert_eq!(actions, ["events:PutEvents"], "RollupRole: PutEvents alone");
            assert_eq!(
                texts(statement.get("Resource")),
                ["!GetAtt EventBus.Arn"],
                "RollupRole may put events on the stack's bus only"
            );
            let condition = statement["Condition"]
                .as_mapping()
                .expect("PutEvents is conditioned on the source");
            assert_eq!(condition.len(), 1, "one condition operator");
            assert_eq!(
                texts(
                    condition
                        .get("StringEquals")
                        .and_then(|c| c.get("events:source"))
                ),
                [flowmeter::events::SOURCE],
                "the rollup may put events of Flowmeter's source only"
            );
            grants += 1;
        }
    }
    assert_eq!(grants, 1, "the rollup's one PutEvents grant");
}

/// What Lambda's SQS event source mapping needs of the function's role.
const SQS_CONSUME: &[&str] = &[
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
];

#[test]
fn the_notifier_reads_the_config_and_the_secret_and_consumes_its_queue_only() {
    let doc = template();
    let functions = functions(&doc);
    let (_, notifier) = &functions["notifier"];
    let role = role_of(notifier);
    assert_eq!(role, "NotifierRole");

    let mut granted = BTreeSet::new();
    for statement in statements(&doc, &role) {
        let resources = texts(statement.get("Resource"));
        for action in texts(statement.get("Action")) {
            let (service, _) = action.split_once(':').expect("service:action");
            match service {
                "logs" => assert_eq!(resources, ["!GetAtt NotifierLogGroup.Arn"], "{action}"),
                "dynamodb" => {
                    assert_eq!(
                        action, "dynamodb:GetItem",
                        "the notifier only reads the config"
                    );
                    assert_eq!(resources, ["!GetAtt Table.Arn"], "the table, no index");
                    assert_eq!(
                        leading_keys(
                            statement,
                            "ForAllValues:StringEquals",
                            "NotifierRole's GetItem"
                        ),
                        BTreeSet::from([flowmeter_edge::store::keys::CONFIG_PK.to_string()]),
                        "the notifier reads the CONFIG item only"
                    );
                }
                "secretsmanager" => {
                    assert_eq!(action, "secretsmanager:GetSecretValue");
                    assert_eq!(resources, ["!Ref Secret"], "the stack's secret only");
                }
                "sqs" => {
                    assert!(
                        SQS_CONSUME.contains(&action.as_str()),
                        "NotifierRole may {action}: it only consumes its queue"
                    );
                    assert_eq!(resources, ["!GetAtt NotificationQueue.Arn"], "{action}");
                }
                other => panic!("NotifierRole may {action}: the notifier needs nothing of {other}"),
            }
            granted.insert(action);
        }
    }
    for action in SQS_CONSUME {
        assert!(
            granted.contains(*action),
            "the queue's event source needs {action}"
        );
    }
    for forbidden in [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "events:PutEvents",
        "sqs:SendMessage",
    ] {
        assert!(!granted.contains(forbidden), "NotifierRole may {forbidden}");
    }
    assert!(
        !granted.iter().any(|a| a.starts_with("events:")),
        "the notifier puts no events"
    );
}

/// One statement of the notification queue's policy: EventBridge may send, from the
/// notifier's rule only.
fn assert_only_the_rule_sends(policy_id: &str, statement: &Value) {
    assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{policy_id}");
    assert_eq!(
        texts(statement["Principal"].get("Service")),
        ["events.amazonaws.com"],
        "{policy_id}: EventBridge only"
    );
    assert_eq!(
        texts(statement.get("Action")),
        ["sqs:SendMessage"],
        "{policy_id}"
    );
    assert!(texts(statement.get("Resource")).contains(&"!GetAtt NotificationQueue.Arn".to_string()));
    let condition = statement["Condition"].as_mapping().expect("Condition");
    assert_eq!(condition.len(), 1, "{policy_id}: one condition operator");
    assert_eq!(
        texts(
            condition
                .get("ArnEquals")
                .and_then(|c| c.get("aws:SourceArn"))
        ),
        ["!GetAtt NotificationRule.Arn"],
        "{policy_id}: from the notifier's rule only"
    );
}

/// The notification dead-letter queue is encrypted and keeps a parked event 14 days, and a
/// parked event raises an alarm.
fn parked_notifications_are_kept_and_raise_an_alarm(doc: &Value) {
    let dlq = &resources(doc)["NotificationDeadLetterQueue"];
    assert_eq!(dlq["Type"].as_str(), Some("AWS::SQS::Queue"));
    assert_eq!(
        dlq["Properties"]["SqsManagedSseEnabled"].as_bool(),
        Some(true)
    );
    assert_eq!(
        dlq["Properties"]["MessageRetentionPeriod"].as_i64(),
        Some(14 * 86_400)
    );
    let watching: Vec<(String, &Value)> = alarms(doc)
        .into_iter()
        .filter(|(_, a)| {
            a["Namespace"].as_str() == Some("AWS/SQS")
                && a["MetricName"].as_str() == Some("ApproximateNumberOfMessagesVisible")
                && list(a.get("Dimensions")).iter().any(|d| {
                    text(&d["Name"]) == "QueueName"
                        && text(&d["Value"]) == "!GetAtt NotificationDeadLetterQueue.QueueName"
                })
        })
        .collect();
    assert_eq!(watching.len(), 1, "one alarm on the dead-letter queue");
    let (alarm_id, alarm) = &watching[0];
    let threshold = alarm["Threshold"].as_f64().expect("Threshold");
    match text(&alarm["ComparisonOperator"]).as_str() {
        "GreaterThanOrEqualToThreshold" => assert_eq!(threshold, 1.0, "{alarm_id}"),
        "GreaterThanThreshold" => assert_eq!(threshold, 0.0, "{alarm_id}"),
        other => panic!("{alarm_id}: {other}"),
    }
    assert_eq!(
        texts(alarm.get("AlarmActions")),
        ["!Ref AlarmTopic"],
        "{alarm_id}"
    );
}

#[test]
fn events_reach_the_notifier_through_a_rule_and_a_queue() {
    let doc = template();
    let all = resources(&doc);
    let of_type = |kind: &str| -> Vec<(&str, &Value)> {
        all.iter()
            .filter(|(_, r)| r["Type"].as_str() == Some(kind))
            .map(|(id, r)| (id.as_str().expect("id"), &r["Properties"]))
            .collect()
    };

    // The rule: every event of Flowmeter's source on the stack's bus, to the queue.
    let rules: Vec<(&str, &Value)> = of_type("AWS::Events::Rule")
        .into_iter()
        .filter(|(_, r)| {
            list(r.get("Targets"))
                .iter()
                .any(|t| text(&t["Arn"]) == "!GetAtt NotificationQueue.Arn")
        })
        .collect();
    assert_eq!(rules.len(), 1, "one rule feeds the notification queue");
    let (rule_id, rule) = rules[0];
    assert_eq!(rule_id, "NotificationRule");
    assert_eq!(text(&rule["EventBusName"]), "!Ref EventBus");
    assert_eq!(text(&rule["State"]), "ENABLED");
    let pattern = serde_json::to_value(&rule["EventPattern"]).expect("pattern as JSON");
    assert_eq!(
        pattern,
        serde_json::json!({ "source": [flowmeter::events::SOURCE] })
    );
    let targets = list(rule.get("Targets"));
    assert_eq!(targets.len(), 1, "{rule_id}: one target");
    assert_eq!(text(&targets[0]["Arn"]), "!GetAtt NotificationQueue.Arn");
    assert_eq!(
        text(&targets[0]["DeadLetterConfig"]["Arn"]),
        "!GetAtt NotificationDeadLetterQueue.Arn",
        "what the rule cannot deliver is parked and alarms"
    );

    // Only the rule may send to the queues.
    let policies: Vec<(&str, &Value)> = of_type("AWS::SQS::QueuePolicy")
        .into_iter()
        .filter(|(_, p)| texts(p.get("Queues")).contains(&"!Ref NotificationQueue".to_string()))
        .collect();
    assert_eq!(policies.len(), 1, "one policy of the notification queue");
    let (policy_id, policy) = policies[0];
    let statements = list(policy["PolicyDocument"].get("Statement"));
    assert!(!statements.is_empty(), "{policy_id}: no statement");
    for statement in statements {
        assert_only_the_rule_sends(policy_id, statement);
    }

    // The notifier: batches from the queue, failures reported per event.
    let functions = functions(&doc);
    let (id, notifier) = &functions["notifier"];
    let p = &notifier["Properties"];
    let timeout = p["Timeout"].as_i64().expect("Timeout");
    assert_eq!(timeout, 60, "{id}");
    let events: Vec<&Value> = p["Events"].as_mapping().expect("Events").values().collect();
    assert_eq!(events.len(), 1, "{id}: the queue is its one trigger");
    assert_eq!(events[0]["Type"].as_str(), Some("SQS"));
    let source = &events[0]["Properties"];
    assert_eq!(text(&source["Queue"]), "!GetAtt NotificationQueue.Arn");
    assert_eq!(source["BatchSize"].as_i64(), Some(100));
    let window = source["MaximumBatchingWindowInSeconds"]
        .as_i64()
        .expect("window");
    assert_eq!(window, 20);
    assert_eq!(
        texts(source.get("FunctionResponseTypes")),
        ["ReportBatchItemFailures"],
        "one failed event must not send its batch again"
    );

    // The queue: encrypted, long enough invisible, failures parked after five receives.
    let queue = &all["NotificationQueue"];
    assert_eq!(queue["Type"].as_str(), Some("AWS::SQS::Queue"));
    let queue = &queue["Properties"];
    assert_eq!(queue["SqsManagedSseEnabled"].as_bool(), Some(true));
    let visibility = queue["VisibilityTimeout"]
        .as_i64()
        .expect("VisibilityTimeout");
    assert!(
        visibility >= 6 * timeout + window,
        "visibility timeout {visibility} s < 6 × the notifier's {timeout} s + the {window} s window"
    );
    assert_eq!(
        text(&queue["RedrivePolicy"]["deadLetterTargetArn"]),
        "!GetAtt NotificationDeadLetterQueue.Arn"
    );
    assert_eq!(queue["RedrivePolicy"]["maxReceiveCount"].as_i64(), Some(5));

    parked_notifications_are_kept_and_raise_an_alarm(&doc);

    let outputs = doc["Outputs"].as_mapping().expect("Outputs");
    assert_eq!(
        text(&outputs["EventBusName"]["Value"]),
        "!GetAtt EventBus.Name"
    );
    assert_eq!(
        text(&outputs["EventBusArn"]["Value"]),
        "!GetAtt EventBus.Arn"
    );
}
