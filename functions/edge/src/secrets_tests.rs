use super::*;
use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

/// A real answer's shape (GetSecretValue, as the extension relays it).
fn answer(secret_string: &str) -> String {
    serde_json::json!({
        "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:flowmeter/secrets-AbCdEf",
        "Name": "flowmeter/secrets",
        "VersionId": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
        "SecretString": secret_string,
        "VersionStages": ["AWSCURRENT"],
        "CreatedDate": "2026-11-23T18:00:00.000000+00:00",
    })
    .to_string()
}

#[test]
fn parses_the_secret_string_of_the_extension_answer() {
    let body = answer(
        r#"{"github":"gh","pagerduty":"pd","generic":"gen","api_token":"read","admin_token":"admin","slack_webhook_url":"https://hooks.slack.example/T/B/x"}"#,
    );
    let (secrets, unknown) = parse_extension_response(&body).expect("parse");
    assert_eq!(
        secrets,
        Secrets {
            github: "gh".into(),
            pagerduty: "pd".into(),
            generic: "gen".into(),
            jira_secret: String::new(),
            jira_token: String::new(),
            linear_secret: String::new(),
            gitlab_token: String::new(),
            gitlab_signing_token: String::new(),
            bitbucket_secret: String::new(),
            argocd_token: String::new(),
            api_token: "read".into(),
            admin_token: "admin".into(),
            gate_token: String::new(),
            slack_webhook_url: "https://hooks.slack.example/T/B/x".into(),
            teams_webhook_url: String::new(),
            slack_bot_token: String::new(),
            github_token: String::new(),
            github_app_id: String::new(),
            github_app_private_key: String::new(),
            github_app_installation_id: String::new(),
            share_secret: String::new(),
            channels: ChatChannels::new(),
            channels_error: String::new(),
        }
    );
    assert!(unknown.is_empty());
}

#[test]
fn the_secret_holds_the_notifier_s_channels() {
    let (secrets, unknown) = parse_secret_string(
        r#"{"api_token":"read","channels":{"platform":{"slack_webhook_url":"https://hooks.slack.com/services/T/B/x"},"qa":{"teams_webhook_url":"https://prod.workflows.example/x?sig=y"}}}"#,
    )
    .expect("parse");
    assert!(unknown.is_empty(), "channels is a known key: {unknown:?}");
    assert_eq!(secrets.channels.len(), 2);
    assert_eq!(
        secrets.channels["platform"].slack_webhook_url,
        "https://hooks.slack.com/services/T/B/x"
    );
    assert!(secrets.present_keys().contains(&CHANNELS_KEY));
    for (bad, says) in [
        (r#"{"channels":{"x":{}}}"#, "channels.x: has none of"),
        (
            r#"{"channels":{"x":{"slack_webhook_url":"ftp://h/secret"}}}"#,
            "channels.x.slack_webhook_url: not an http(s) URL",
        ),
        (r#"{"channels":["x"]}"#, "channels: must be an object"),
        (
            r#"{"channels":{"x":{"slack_url":"https://h/secret"}}}"#,
            "channels: must be an object",
        ),
        (
            r#"{"channels":{"x":"https://h/secret"}}"#,
            "channels: must be an object",
        ),
        (
            r#"{"channels":{"x":{"slack_bot_token":"xoxb-h/secret"}}}"#,
            "unknown field `slack_bot_token`",
        ),
        (
            r##"{"channels":{"ok":{"slack_channel":"#fine"},"x":{"slack_channel":"https://h/secret"}}}"##,
            "channels.x.slack_channel: not a Slack channel name",
        ),
    ] {
        let (secrets, _) = parse_secret_string(bad).expect("the rest of the secret reads");
        assert!(secrets.channels.is_empty(), "{bad}");
        let err = secrets.channels_error;
        assert!(err.contains(says), "{bad}: {err}");
        assert!(!err.contains("h/secret"), "no error quotes a URL: {err}");
    }
    let local = from_vars(|name| {
        (name == "FLOWMETER_CHANNELS")
            .then(|| r#"{"deploys":{"slack_webhook_url":"http://127.0.0.1:9/hook"}}"#.into())
    });
    assert_eq!(
        local.channels["deploys"].slack_webhook_url,
        "http://127.0.0.1:9/hook"
    );
    assert!(channels_from_text("{nope").is_err());
}

#[test]
fn a_channel_may_be_a_slack_channel_the_bot_token_posts_to() {
    let (secrets, unknown) = parse_secret_string(
        r##"{"slack_bot_token":"xoxb-1-2-s3cr3t","channels":{"deploys":{"slack_channel":"#platform-deploys"},"by-id":{"slack_channel":"C0123ABCD","teams_webhook_url":"https://t.example/x"},"hook":{"slack_webhook_url":"https://hooks.slack.com/services/T/B/x"}}}"##,
    )
    .expect("parse");
    assert!(unknown.is_empty(), "{unknown:?}");
    assert_eq!(secrets.slack_bot_token, "xoxb-1-2-s3cr3t");
    assert!(secrets.present_keys().contains(&"slack_bot_token"));
    assert!(!format!("{secrets:?}").contains("s3cr3t"));
    let deploys = &secrets.channels["deploys"];
    assert_eq!(deploys.slack_channel, "#platform-deploys");
    assert_eq!(
        deploys.slack_bot_token, "xoxb-1-2-s3cr3t",
        "set on every channel"
    );
    assert_eq!(secrets.channels["hook"].slack_bot_token, "xoxb-1-2-s3cr3t");
    assert_eq!(secrets.channels["by-id"].slack_channel, "C0123ABCD");

    let local = from_vars(|name| match name {
        "FLOWMETER_CHANNELS" => Some(r##"{"deploys":{"slack_channel":"#deploys"}}"##.into()),
        "FLOWMETER_SLACK_BOT_TOKEN" => Some("xoxb-local".into()),
        _ => None,
    });
    assert_eq!(local.channels["deploys"].slack_bot_token, "xoxb-local");
    let without = from_vars(|name| {
        (name == "FLOWMETER_CHANNELS").then(|| r##"{"d":{"slack_channel":"d"}}"##.into())
    });
    assert_eq!(without.channels["d"].slack_bot_token, "");
}

#[test]
fn slack_channel_names_and_ids() {
    for good in [
        "#platform-deploys",
        "platform-deploys",
        "#ops_2.eu",
        "C0123ABCD",
        "G01234567AB",
        &format!("#{}", "a".repeat(80)),
    ] {
        assert!(is_slack_channel(good), "{good}");
    }
    for bad in [
        "",
        "#",
        "#Platform",
        "#with space",
        "@alice",
        "https://hooks.slack.com/services/T/B/x",
        "xoxb-1-2-AbCdEf",
        "C012",
        "##two",
        &"a".repeat(81),
    ] {
        assert!(!is_slack_channel(bad), "{bad}");
    }
}

#[test]
fn missing_keys_are_empty_and_unknown_keys_are_reported_not_refused() {
    let (secrets, unknown) =
        parse_extension_response(&answer(r#"{"github":"gh","githb":"typo"}"#)).expect("parse");
    assert_eq!(secrets.github, "gh");
    assert_eq!(secrets.api_token, "");
    assert_eq!(secrets.present_keys(), vec!["github"]);
    assert_eq!(unknown, vec!["githb".to_string()]);
}

#[test]
fn bad_secrets_are_errors_that_do_not_quote_the_value() {
    for (body, expect) in [
        (answer("not json at all: s3cr3t"), "JSON object"),
        (answer(r#"["s3cr3t"]"#), "JSON object"),
        (answer(r#"{"github": 12345}"#), "key github"),
        (
            r#"{"ARN":"x","SecretBinary":"czNjcjN0"}"#.to_string(),
            "no SecretString",
        ),
        ("<html>".to_string(), "not a GetSecretValue answer"),
    ] {
        let err = parse_extension_response(&body).expect_err("must fail");
        let text = err.to_string();
        assert!(text.contains(expect), "{text}");
        assert!(
            !text.contains("s3cr3t") && !text.contains("12345"),
            "{text}"
        );
    }
}

#[test]
fn debug_output_names_keys_but_never_values() {
    let secrets = from_vars(|name| (name == "FLOWMETER_API_TOKEN").then(|| "tok3n".into()));
    let text = format!("{secrets:?}");
    assert!(
        text.contains("api_token") && !text.contains("tok3n"),
        "{text}"
    );
    let secrets = from_vars(|name| {
        name.starts_with("FLOWMETER_GITHUB_APP_")
            .then(|| "s3cr3t-app".into())
    });
    let text = format!("{secrets:?}");
    assert!(
        text.contains("github_app_private_key") && !text.contains("s3cr3t-app"),
        "{text}"
    );
}

#[test]
fn env_fallback_reads_the_readme_variables() {
    let vars: HashMap<&str, &str> = HashMap::from([
        ("FLOWMETER_GITHUB_SECRET", "gh"),
        ("FLOWMETER_PAGERDUTY_SECRET", "pd"),
        ("FLOWMETER_WEBHOOK_SECRET", "gen"),
        ("FLOWMETER_JIRA_SECRET", "jira"),
        ("FLOWMETER_JIRA_TOKEN", "jira-token"),
        ("FLOWMETER_LINEAR_SECRET", "linear"),
        ("FLOWMETER_GITLAB_TOKEN", "gl"),
        ("FLOWMETER_GITLAB_SIGNING_TOKEN", "gl-sign"),
        ("FLOWMETER_BITBUCKET_SECRET", "bb"),
        ("FLOWMETER_ARGOCD_TOKEN", "argo"),
        ("FLOWMETER_API_TOKEN", "read"),
        ("FLOWMETER_ADMIN_TOKEN", "admin"),
        ("FLOWMETER_GATE_TOKEN", "gate"),
        (
            "FLOWMETER_SLACK_WEBHOOK_URL",
            "https://hooks.slack.example/x",
        ),
        (
            "FLOWMETER_TEAMS_WEBHOOK_URL",
            "https://teams.example/workflows?sig=x",
        ),
        ("FLOWMETER_SLACK_BOT_TOKEN", "xoxb-1-2-x"),
        ("FLOWMETER_GITHUB_TOKEN", "ghp_x"),
        ("FLOWMETER_GITHUB_APP_ID", "12345"),
        (
            "FLOWMETER_GITHUB_APP_PRIVATE_KEY",
            "-----BEGIN RSA PRIVATE KEY-----",
        ),
        ("FLOWMETER_GITHUB_APP_INSTALLATION_ID", "678"),
        ("FLOWMETER_SHARE_SECRET", "share"),
    ]);
    let secrets = from_vars(|name| vars.get(name).map(|v| v.to_string()));
    assert_eq!(secrets.present_keys(), KEYS.to_vec());
    assert_eq!(secrets.generic, "gen");
    assert_eq!(secrets.jira_token, "jira-token");
    assert_eq!(secrets.slack_webhook_url, "https://hooks.slack.example/x");
    assert_eq!(secrets.github_token, "ghp_x");
    assert_eq!(secrets.github_app_installation_id, "678");
    assert_eq!(secrets.share_secret, "share");
    assert_eq!(from_vars(|_| None), Secrets::default());
}

#[test]
fn the_url_encodes_the_arn() {
    assert_eq!(
        extension_url(2773, "arn:aws:secretsmanager:us-east-1:1:secret:a/b-XyZ"),
        "http://localhost:2773/secretsmanager/get?secretId=arn%3Aaws%3Asecretsmanager%3Aus-east-1%3A1%3Asecret%3Aa%2Fb-XyZ"
    );
}

/// A stand-in for the extension on a loopback port: answers each connection with the next
/// canned response and records the request lines and token headers it saw.
fn fake_extension(responses: Vec<(u16, String)>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for (status, body) in responses {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            reader.read_line(&mut line).expect("request line");
            seen.push(line.trim().to_string());
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).expect("header");
                if header.trim().is_empty() {
                    break;
                }
                if header
                    .to_ascii_lowercase()
                    .starts_with("x-aws-parameters-secrets-token:")
                {
                    seen.push(header.trim().to_string());
                }
            }
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(reply.as_bytes()).expect("reply");
            let _ = stream.flush();
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
        }
        seen
    });
    (port, handle)
}

#[tokio::test]
async fn fetch_waits_for_an_extension_that_is_not_ready_yet() {
    let (port, server) = fake_extension(vec![
        (400, "not ready to serve traffic, please wait".into()),
        (200, answer(r#"{"generic":"gen"}"#)),
    ]);
    let (secrets, _) = fetch_from_extension(port, "arn:aws:secretsmanager:r:1:secret:s", "sess")
        .await
        .expect("fetch");
    assert_eq!(secrets.generic, "gen");
    let seen = server.join().expect("server");
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen[0].starts_with(
        "GET /secretsmanager/get?secretId=arn%3Aaws%3Asecretsmanager%3Ar%3A1%3Asecret%3As HTTP/1.1"
    ));
    assert_eq!(
        seen[1].to_ascii_lowercase(),
        "x-aws-parameters-secrets-token: sess"
    );
}

#[tokio::test]
async fn fetch_gives_up_at_once_on_a_refusal() {
    let (port, server) = fake_extension(vec![(403, "AccessDeniedException".into())]);
    let err = fetch_from_extension(port, "s", "sess")
        .await
        .expect_err("403 is final");
    assert!(err.to_string().contains("403"), "{err}");
    server.join().expect("server");
}

#[test]
fn keys_list_matches_the_struct() {
    let all: BTreeSet<&str> = KEYS.iter().copied().collect();
    let json = serde_json::to_value(KEYS.iter().map(|k| (*k, "v")).collect::<HashMap<_, _>>())
        .expect("json");
    let (secrets, unknown) = parse_secret_string(&json.to_string()).expect("parse");
    assert!(unknown.is_empty());
    assert_eq!(secrets.present_keys().len(), all.len());
}
