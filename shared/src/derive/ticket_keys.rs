//! Ticket keys named in code: `PAY-142` in a PR title, `pay-142-fix-refunds` as a head branch,
//! `Fixes PAY-142` in a commit message. Only the configured project keys match (config
//! `tickets:`): a bare `[A-Z]+-\d+` would take `UTF-8`, `ISO-8601` or `SHA-256` for tickets.

use crate::config::TicketProject;

/// Tickets one PR links to at most: a PR body listing hundreds of keys (a release PR's
/// changelog) would otherwise cost a link write per key on every change of the PR.
pub const MAX_TICKETS_PER_PR: usize = 50;

/// The ticket entity ids (`jira:PAY-142`, `linear:ENG-7`) the texts name among the configured
/// projects, in order of first appearance, each once, at most [`MAX_TICKETS_PER_PR`]. A key
/// configured for both trackers names a ticket in each.
pub fn tickets_named<'a>(
    texts: impl IntoIterator<Item = &'a str>,
    projects: &[TicketProject],
) -> Vec<String> {
    if projects.is_empty() {
        return Vec::new();
    }
    let mut keys: Vec<String> = projects.iter().map(|p| p.key.clone()).collect();
    keys.sort();
    keys.dedup();
    let mut found: Vec<String> = Vec::new();
    for text in texts {
        for key in ticket_keys_in(text, &keys) {
            let project = key.rsplit_once('-').map_or("", |(p, _)| p);
            for configured in projects.iter().filter(|p| p.key == project) {
                let id = format!("{}:{key}", configured.source.prefix());
                if found.len() < MAX_TICKETS_PER_PR && !found.contains(&id) {
                    found.push(id);
                }
            }
        }
    }
    found
}

/// The ticket keys `text` names among `projects` (upper-case project keys), upper-cased, in
/// order of first appearance, each once. A key matches case-insensitively (branch names are
/// often lower-case) when it starts at a word boundary, is followed by `-` and digits, and the
/// digits are not followed by a letter or digit: `PAY-142` and `pay-142-fix` do,
/// `XPAY-142`, `PAY-142a` and `PAY-` do not.
pub fn ticket_keys_in(text: &str, projects: &[String]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let bytes = text.as_bytes();
    for (start, _) in text.char_indices() {
        let at_boundary = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        if !at_boundary {
            continue;
        }
        for project in projects {
            let end = start + project.len();
            let Some(candidate) = text.get(start..end) else {
                continue;
            };
            if !candidate.eq_ignore_ascii_case(project) || bytes.get(end) != Some(&b'-') {
                continue;
            }
            let digits = bytes[end + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let after = text[end + 1 + digits..].chars().next();
            if digits == 0 || digits > 9 || after.is_some_and(char::is_alphanumeric) {
                continue;
            }
            let number = &text[end + 1..end + 1 + digits];
            // `PAY-007` is Jira's `PAY-7`.
            let number = number.trim_start_matches('0');
            if number.is_empty() {
                continue;
            }
            let key = format!("{project}-{number}");
            if !found.contains(&key) {
                found.push(key);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn projects() -> Vec<String> {
        vec!["PAY".into(), "ENG".into()]
    }

    #[test]
    fn configured_keys_match_in_titles_branches_and_messages() {
        assert_eq!(
            ticket_keys_in("PAY-142: refund retries (and ENG-7)", &projects()),
            ["PAY-142", "ENG-7"]
        );
        assert_eq!(
            ticket_keys_in("pay-142-fix-refunds", &projects()),
            ["PAY-142"]
        );
        assert_eq!(
            ticket_keys_in("feature/ENG-12_login\n\nFixes PAY-3, pay-3.", &projects()),
            ["ENG-12", "PAY-3"]
        );
        assert_eq!(ticket_keys_in("[PAY-0042]", &projects()), ["PAY-42"]);
    }

    #[test]
    fn look_alikes_do_not_match() {
        for text in [
            "UTF-8 and SHA-256",
            "XPAY-142",
            "PAY-142a",
            "PAY-",
            "PAY-0",
            "PAY142",
            "ENGINE-4",
            "PAY-1234567890",
            "",
        ] {
            assert_eq!(
                ticket_keys_in(text, &projects()),
                Vec::<String>::new(),
                "{text}"
            );
        }
    }

    #[test]
    fn tickets_are_named_in_their_configured_trackers() {
        use crate::model::TicketSource::{Jira, Linear};
        let project = |source, key: &str| TicketProject {
            source,
            key: key.into(),
            team: "payments".into(),
        };
        let projects = [
            project(Jira, "PAY"),
            project(Linear, "ENG"),
            project(Jira, "ENG"),
        ];
        // given a title, a branch and a commit message naming PAY-1, ENG-2 and PAY-1 again
        let texts = ["PAY-1: refunds", "eng-2-login", "Fixes PAY-1"];
        // then each ticket is named once, ENG-2 in both trackers configuring ENG
        assert_eq!(
            tickets_named(texts, &projects),
            ["jira:PAY-1", "linear:ENG-2", "jira:ENG-2"]
        );
        assert!(tickets_named(texts, &[]).is_empty());
        // and a changelog naming hundreds of tickets links the first MAX_TICKETS_PER_PR
        let changelog: String = (1..=500).map(|n| format!("PAY-{n} ")).collect();
        let named = tickets_named([changelog.as_str()], &projects);
        assert_eq!(named.len(), MAX_TICKETS_PER_PR);
        assert_eq!(named.first().map(String::as_str), Some("jira:PAY-1"));
    }

    #[test]
    fn hostile_text_is_scanned_without_panicking() {
        let text = "ü€PAY-1😀pay-2\u{0}ENG-3\u{202e}";
        assert_eq!(
            ticket_keys_in(text, &projects()),
            ["PAY-1", "PAY-2", "ENG-3"]
        );
        assert_eq!(ticket_keys_in("éPAY-5 PAY-5", &projects()), ["PAY-5"]);
    }
}
