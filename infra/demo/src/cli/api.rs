//! The read API of the dev server, as the demo's report reads it.

use std::time::Duration;

use serde_json::Value;

use super::options::{admin_token, api_token};

/// The dev server at `base`, with the read and admin tokens.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    token: String,
    pub(crate) admin: String,
}

impl Api {
    /// The dev server at `url`, with the tokens from the environment (or the demo's).
    pub(crate) fn new(url: &str) -> Result<Api, String> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Api {
            http,
            base: url.to_string(),
            token: api_token(),
            admin: admin_token(),
        })
    }

    /// `POST path` of a JSON body with the admin token; the JSON answer of a 2xx.
    pub(crate) async fn post_admin(&self, path: &str, body: &Value) -> Result<Value, String> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .json(body)
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        if !status.is_success() {
            return Err(format!("POST {path}: {status}: {answer}"));
        }
        Ok(answer)
    }

    /// `GET path?query` with the read token; the JSON answer of a 2xx.
    pub(crate) async fn get(&self, path: &str, query: &str) -> Result<Value, String> {
        let url = format!("{}{path}?{query}", self.base);
        let response = self
            .http
            .get(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        if !status.is_success() {
            return Err(format!("GET {path}?{query}: {status}: {body}"));
        }
        Ok(body)
    }
}
