//! What the report shows, read back from the API: each team's numbers, and the digest.

use std::path::Path;

use flowmeter_demo::report::TeamNumbers;
use flowmeter_demo::DemoOrg;
use serde_json::Value;

use super::api::Api;
use super::options::env;
use super::write_file;

/// The numbers of one team (`scope`: `team:<name>`, or `org`) the report shows.
pub(crate) async fn team_numbers(
    api: &Api,
    org: &DemoOrg,
    scope: &str,
    name: &str,
) -> Result<TeamNumbers, String> {
    let weeks = org.weeks();
    let (from, to) = (org.from(), org.to());
    let recent_from = weeks
        .len()
        .checked_sub(3)
        .and_then(|i| weeks.get(i))
        .map_or(from, |w| w.monday_date());
    let earlier_to = recent_from.pred_opt().unwrap_or(from);
    let last = org.last_week;
    let previous = last.prev();
    let q = |f: chrono::NaiveDate, t: chrono::NaiveDate| format!("scope={scope}&from={f}&to={t}");
    let whole = q(from, to);
    let recent = q(recent_from, to);
    let earlier = q(from, earlier_to);
    Ok(TeamNumbers {
        name: name.to_string(),
        dora: api.get("/v1/dora", &whole).await?,
        cycle: api.get("/v1/cycle-time", &whole).await?,
        prs: api.get("/v1/pull-requests", &whole).await?,
        recent_dora: api.get("/v1/dora", &recent).await?,
        earlier_dora: api.get("/v1/dora", &earlier).await?,
        recent_prs: api.get("/v1/pull-requests", &recent).await?,
        earlier_prs: api.get("/v1/pull-requests", &earlier).await?,
        last_week_prs: api
            .get(
                "/v1/pull-requests",
                &q(last.monday_date(), last.sunday_date()),
            )
            .await?,
        previous_week_prs: api
            .get(
                "/v1/pull-requests",
                &q(previous.monday_date(), previous.sunday_date()),
            )
            .await?,
    })
}

/// `POST /dev/digest?week=…` (admin token); writes `out/digest.{html,txt}` and
/// `out/slack.json` (the Block Kit messages, posted or not).
/// Returns what it wrote and the digest's verdict: `(team, reasons)` per flagged team.
pub(crate) async fn digest(
    api: &Api,
    org: &DemoOrg,
    out: &Path,
) -> Result<(String, Vec<(String, String)>), String> {
    let week = org.last_week.to_string();
    let response = api
        .http
        .post(format!("{}/dev/digest?week={week}", api.base))
        .bearer_auth(&api.admin)
        .send()
        .await
        .map_err(|e| format!("POST /dev/digest: {e}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| format!("POST /dev/digest: {e}"))?;
    if !status.is_success() {
        return Err(format!("POST /dev/digest?week={week}: {status}: {body}"));
    }
    let attention: Vec<(String, String)> = body
        .get("attention")
        .and_then(Value::as_array)
        .map(|flagged| {
            flagged
                .iter()
                .map(|a| {
                    let field = |name: &str| a[name].as_str().unwrap_or_default().to_string();
                    (field("team"), field("summary"))
                })
                .collect()
        })
        .unwrap_or_default();
    // What went to Slack, or (no webhook configured, as in the demo) what would have.
    let slack = ["slack", "slack_preview"]
        .iter()
        .filter_map(|field| body.get(field))
        .find(|messages| messages.as_array().is_some_and(|m| !m.is_empty()))
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    let pretty = serde_json::to_string_pretty(&slack).map_err(|e| e.to_string())?;
    write_file(&out.join("slack.json"), pretty.as_bytes())?;
    let mut html = body.get("html").and_then(Value::as_str).map(str::to_string);
    let mut text = body.get("text").and_then(Value::as_str).map(str::to_string);
    if let (None, Some(id), Some(ses)) = (
        &html,
        body.get("email_message_id").and_then(Value::as_str),
        env("FLOWMETER_SES_ENDPOINT"),
    ) {
        // The email went to the SES emulator; its store has the bodies.
        let store: Value = api
            .http
            .get(format!("{ses}/store"))
            .send()
            .await
            .map_err(|e| format!("SES emulator store: {e}"))?
            .json()
            .await
            .map_err(|e| format!("SES emulator store: {e}"))?;
        if let Some(email) = store
            .get("emails")
            .and_then(Value::as_array)
            .and_then(|emails| emails.iter().find(|e| e["messageId"] == id))
        {
            html = email
                .pointer("/body/html")
                .and_then(Value::as_str)
                .map(str::to_string);
            text = email
                .pointer("/body/text")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
    }
    let mut written = vec![out.join("slack.json").display().to_string()];
    if let Some(html) = html {
        write_file(&out.join("digest.html"), html.as_bytes())?;
        written.push(out.join("digest.html").display().to_string());
    }
    if let Some(text) = text {
        write_file(&out.join("digest.txt"), text.as_bytes())?;
        written.push(out.join("digest.txt").display().to_string());
    }
    Ok((
        format!("digest of {week} written: {}", written.join(", ")),
        attention,
    ))
}
