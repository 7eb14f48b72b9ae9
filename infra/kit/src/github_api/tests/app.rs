//! A GitHub App's installation tokens: minted for a JWT signed with the App's key, accepted
//! until they expire, refused for any other key, installation or App.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::{get, get_with, serve};
use crate::github_api::{AppKey, GitHubApi, Limits};

const PRIVATE_KEY: &str =
    include_str!("../../../../../tests/fixtures/github-app/app.private-key.pem");
const PUBLIC_KEY: &str =
    include_str!("../../../../../tests/fixtures/github-app/app.public-key.pem");
const OTHER_KEY: &str =
    include_str!("../../../../../tests/fixtures/github-app/other.private-key.pem");

fn jwt(private_key: &str, iss: Value, lifetime_s: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("now")
        .as_secs();
    let claims = json!({"iat": now - 60, "exp": now + lifetime_s, "iss": iss});
    let key = EncodingKey::from_rsa_pem(private_key.as_bytes()).expect("key");
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).expect("sign")
}

async fn mint(api: &GitHubApi, installation: u64, jwt: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/app/installations/{installation}/access_tokens",
            api.url
        ))
        .header("authorization", format!("Bearer {jwt}"))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let body = serde_json::from_slice(&response.bytes().await.expect("body")).expect("json");
    (status, body)
}

fn app_limits(ttl: Duration) -> Limits {
    let mut app = AppKey::new("12345", 678, PUBLIC_KEY);
    app.token_ttl = ttl;
    Limits {
        app: Some(app),
        ..Limits::default()
    }
}

#[tokio::test]
async fn a_signed_jwt_mints_a_token_that_works_until_it_expires() {
    let api = serve(app_limits(Duration::from_secs(2))).await;
    let (status, body) = mint(&api, 678, &jwt(PRIVATE_KEY, json!("12345"), 540)).await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().expect("token").to_string();
    assert!(token.starts_with("ghs_") && token.len() == 40, "{token}");
    let expires: chrono::DateTime<chrono::Utc> = body["expires_at"]
        .as_str()
        .expect("expires_at")
        .parse()
        .expect("a time");
    assert!(expires > chrono::Utc::now(), "{expires}");
    let auth = format!("Bearer {token}");
    let got = get_with(&api, "/repos/acme/shop", &[("authorization", &auth)]).await;
    assert_eq!(got.status, 200);
    // The configured token still works too.
    assert_eq!(get(&api, "/repos/acme/shop").await.status, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = get_with(&api, "/repos/acme/shop", &[("authorization", &auth)]).await;
    assert_eq!(expired.status, 401);
    // GitHub takes the App id as a number too.
    let (status, _) = mint(&api, 678, &jwt(PRIVATE_KEY, json!(12345), 540)).await;
    assert_eq!(status, 201);
    let stats = api.stats();
    assert_eq!(stats.app_tokens_minted, 2);
    assert_eq!(stats.endpoint("/app/installations/{id}/access_tokens"), 2);
}

#[tokio::test]
async fn minting_is_refused_as_github_refuses_it() {
    let api = serve(app_limits(Duration::from_secs(3600))).await;
    let undecodable = json!("A JSON web token could not be decoded");
    let (status, body) = mint(&api, 678, &jwt(OTHER_KEY, json!("12345"), 540)).await;
    assert_eq!((status, &body["message"]), (401, &undecodable));
    let (status, body) = mint(&api, 678, "test-token").await;
    assert_eq!((status, &body["message"]), (401, &undecodable));
    let (status, _) = mint(&api, 678, &jwt(PRIVATE_KEY, json!("999"), 540)).await;
    assert_eq!(status, 401);
    let (status, body) = mint(&api, 678, &jwt(PRIVATE_KEY, json!("12345"), 3600)).await;
    assert_eq!(status, 401);
    assert!(body["message"]
        .as_str()
        .expect("message")
        .contains("too far in the future"));
    let (status, _) = mint(&api, 679, &jwt(PRIVATE_KEY, json!("12345"), 540)).await;
    assert_eq!(status, 404);
    // A JWT is not an installation token.
    let app_jwt = format!("Bearer {}", jwt(PRIVATE_KEY, json!("12345"), 540));
    let got = get_with(&api, "/repos/acme/shop", &[("authorization", &app_jwt)]).await;
    assert_eq!(got.status, 401);
    // Without an App configured the route is GitHub's 404.
    let plain = serve(Limits::default()).await;
    let (status, _) = mint(&plain, 678, &jwt(PRIVATE_KEY, json!("12345"), 540)).await;
    assert_eq!(status, 404);
    assert_eq!(api.stats().app_tokens_minted, 0);
}
