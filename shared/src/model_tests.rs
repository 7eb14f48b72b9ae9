use super::*;

#[test]
fn partition_keys_round_trip() {
    let keys = [
        EntityKey::PullRequest {
            repo: "acme/api".into(),
            number: 42,
        },
        EntityKey::Deployment {
            repo: "acme/api".into(),
            id: "gen:abc#1".into(),
        },
        EntityKey::Incident {
            id: "gh:acme/api#7".into(),
        },
        EntityKey::Branch {
            repo: "acme/api".into(),
            branch: "feature/x#y".into(),
        },
        EntityKey::Ticket {
            id: "jira:ENG-1".into(),
        },
        EntityKey::Ticket {
            id: "linear:ENG-1#x".into(),
        },
        EntityKey::App {
            id: "argocd:guestbook@guestbook-prod".into(),
        },
        EntityKey::App {
            id: "argocd:a#b@c".into(),
        },
    ];
    for key in keys {
        assert_eq!(
            EntityKey::from_partition_key(&key.partition_key()),
            Some(key.clone())
        );
    }
    assert_eq!(EntityKey::from_partition_key("ROLLUP#org"), None);
    let app = EntityKey::App {
        id: "argocd:guestbook@guestbook-prod".into(),
    };
    assert_eq!(app.partition_key(), "APP#argocd:guestbook@guestbook-prod");
}

#[test]
fn a_very_long_branch_is_keyed_by_its_hash_and_the_key_is_a_fixed_point() {
    let long = EntityKey::Branch {
        repo: "acme/api".into(),
        branch: "x".repeat(3_000),
    };
    let pk = long.partition_key();
    assert_eq!(pk.len(), "BR#acme/api#~".len() + 32);
    let back = EntityKey::from_partition_key(&pk).expect("entity");
    assert_eq!(
        back.partition_key(),
        pk,
        "the stream's entity keys the same partition"
    );
    let other = EntityKey::Branch {
        repo: "acme/api".into(),
        branch: format!("{}y", "x".repeat(2_999)),
    };
    assert_ne!(other.partition_key(), pk);
    let short = EntityKey::Branch {
        repo: "acme/api".into(),
        branch: "b".repeat(MAX_KEYED_BRANCH_BYTES),
    };
    assert!(short
        .partition_key()
        .ends_with(&"b".repeat(MAX_KEYED_BRANCH_BYTES)));
}

#[test]
fn a_commit_stored_before_messages_were_kept_decodes_and_stays_as_stored() {
    // given a commit as push facts stored it before this version
    let stored = r#"{"sha":"abc","authored_at":"2026-10-05T10:00:00Z","author_login":"alice"}"#;
    // when it is read back
    let commit: Commit = serde_json::from_str(stored).expect("decodes");
    // then it has no message, and writes back byte for byte
    assert_eq!(commit.message, None);
    assert_eq!(serde_json::to_string(&commit).expect("json"), stored);
}

#[test]
fn a_message_share_is_the_push_budget_over_its_commits() {
    assert_eq!(commit_message_share(0), MAX_COMMIT_MESSAGE_BYTES);
    assert_eq!(commit_message_share(1), MAX_COMMIT_MESSAGE_BYTES);
    assert_eq!(commit_message_share(32), 1_024);
    assert_eq!(commit_message_share(33), 992);
    assert_eq!(commit_message_share(1_024), MIN_COMMIT_MESSAGE_BYTES);
    assert_eq!(commit_message_share(1_025), 0);
    assert_eq!(capped_commit_message("ENG-1 fix", 0), None);
    assert_eq!(capped_commit_message("", 1_024), None);
    assert_eq!(capped_commit_message("é", 1), None);
    assert_eq!(capped_commit_message("a\nb", 3).as_deref(), Some("a\n"));
    assert_eq!(capped_commit_message("a\u{1}b", 6).as_deref(), Some("a"));
}
