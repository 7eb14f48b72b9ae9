#!/usr/bin/env bash
# Seeds the fuzz corpora from tests/fixtures (real payloads), so the fuzzer starts from inputs
# that reach deep into each parser. Idempotent: files are named by content hash.
#   fuzz/seed.sh            # writes fuzz/corpus/<target>/
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")"
FIXTURES=../tests/fixtures

put() { # TARGET FILE: copy FILE's bytes (from stdin when FILE is -) into the target's corpus
  local dir="corpus/$1" tmp
  mkdir -p "$dir"
  tmp=$(mktemp)
  if [[ $2 == - ]]; then cat >"$tmp"; else cat -- "$2" >"$tmp"; fi
  mv -- "$tmp" "$dir/seed-$(sha1sum "$tmp" | cut -c1-16)"
}

# github: the first byte selects the event (the order of EVENTS in fuzz_targets/github.rs).
events=(pull_request pull_request_review pull_request_review_comment issue_comment push
        deployment deployment_status workflow_run issues ping release
        dependabot_alert code_scanning_alert secret_scanning_alert)
for i in "${!events[@]}"; do
  dir="$FIXTURES/github/${events[$i]}"
  [[ -d $dir ]] || continue
  for f in "$dir"/*.json; do
    { printf "\\x$(printf '%02x' "$i")"; cat -- "$f"; } | put github -
  done
done
# Every GitHub payload under every event too: mismatched shapes are what a parser meets first.
for f in "$FIXTURES"/github/*/*.json; do
  for i in 0 4 6; do
    { printf "\\x$(printf '%02x' "$i")"; cat -- "$f"; } | put github -
  done
done

for f in "$FIXTURES"/pagerduty/*.json; do put pagerduty "$f"; done
for f in "$FIXTURES"/jira/*.json; do put jira "$f"; done
for f in "$FIXTURES"/linear/*.json; do put linear "$f"; done

# gitlab and bitbucket: the first byte selects the event (EVENTS / KEYS in their fuzz targets);
# each fixture under the event it is, and under a push, whose shape it is not.
gitlab_seed() { # INDEX FILE
  { printf "\\x$(printf '%02x' "$1")"; cat -- "$2"; } | put gitlab -
}
gitlab_seed 0 "$FIXTURES/gitlab/go-gitlab.merge_request.json"
gitlab_seed 0 "$FIXTURES/gitlab/go-gitlab.group_merge_request.json"
gitlab_seed 1 "$FIXTURES/gitlab/doc.push_hook.json"
gitlab_seed 2 "$FIXTURES/gitlab/doc.note_hook.merge_request.json"
gitlab_seed 3 "$FIXTURES/gitlab/go-gitlab.deployment.json"
gitlab_seed 4 "$FIXTURES/gitlab/go-gitlab.pipeline.json"
gitlab_seed 5 "$FIXTURES/gitlab/doc.issue_hook.incident.json"
for f in "$FIXTURES"/gitlab/*.json; do gitlab_seed 1 "$f"; done
bitbucket_seed() { # INDEX FILE
  { printf "\\x$(printf '%02x' "$1")"; cat -- "$2"; } | put bitbucket -
}
bitbucket_seed 5 "$FIXTURES/bitbucket/cloud.pullrequest_approved.json"
bitbucket_seed 6 "$FIXTURES/bitbucket/cloud.pullrequest_changes_request_created.json"
bitbucket_seed 7 "$FIXTURES/bitbucket/cloud.pullrequest_comment_created.json"
bitbucket_seed 1 "$FIXTURES/bitbucket/bbs-plugin.pullrequest_created.json"
bitbucket_seed 3 "$FIXTURES/bitbucket/bbs-plugin.pullrequest_fulfilled.fulfilledPayload.json"
bitbucket_seed 4 "$FIXTURES/bitbucket/bbs-plugin.pullrequest_rejected.json"
bitbucket_seed 0 "$FIXTURES/bitbucket/bbs-plugin.repo_push.signed_payload.json"
bitbucket_seed 9 "$FIXTURES/bitbucket/dc.pr_opened.json"
bitbucket_seed 9 "$FIXTURES/bitbucket/bbs-plugin.server.pr_opened.newPRPayload_v10.json"
bitbucket_seed 12 "$FIXTURES/bitbucket/dc.pr_merged.json"
bitbucket_seed 15 "$FIXTURES/bitbucket/dc.pr_reviewer_needs_work.json"
bitbucket_seed 16 "$FIXTURES/bitbucket/dc.pr_comment_added.json"
bitbucket_seed 8 "$FIXTURES/bitbucket/dc.repo_refs_changed.json"
bitbucket_seed 8 "$FIXTURES/bitbucket/bbs-plugin.server.repo_refs_changed.pushPayload.json"
bitbucket_seed 8 "$FIXTURES/bitbucket/bbs-plugin.server.repo_refs_changed.pushPayload_v10.json"
for f in "$FIXTURES"/argocd/*.json; do put argocd "$f"; done

cat <<'JSON' | put generic_deployment -
{"repo":"acme/api","environment":"production","sha":"0123456789abcdef0123456789abcdef01234567","status":"success","started_at":"2026-10-05T10:00:00Z","finished_at":"2026-10-05T10:05:00Z","id":"run-1"}
JSON
cat <<'JSON' | put generic_deployment -
{"repo":"acme/web","environment":"prod","sha":"89abcdef0123456789abcdef0123456789abcdef","status":"failure","finished_at":"2026-10-05T10:05:00+02:00"}
JSON
cat <<'JSON' | put generic_incident -
{"id":"inc-1","title":"errors up","service":"acme/api","severity":"sev2","opened_at":"2026-10-05T11:00:00Z","resolved_at":null,"deployment_sha":null}
JSON
cat <<'JSON' | put generic_incident -
{"id":"inc-2","service":"checkout","opened_at":"2026-10-05T11:00:00Z","resolved_at":"2026-10-05T12:30:00.5Z","deployment_sha":"0123456789abcdef0123456789abcdef01234567"}
JSON

# signature: "<header>\n<body>", the vectors of tests/fixtures/signatures/vectors.json.
printf 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\nHello, World!' | put signature -
{ printf 'v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd\n'
  cat "$FIXTURES/pagerduty/go-pagerduty.webhookv3_test.priority_updated.body.json"; } | put signature -
{ printf 'v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5, v0=00,v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd\n'
  cat "$FIXTURES/pagerduty/go-pagerduty.webhookv3_test.priority_updated.body.json"; } | put signature -
printf 'sha256=\n' | put signature -

# config: the examples of DEPLOY.md and config.rs's shapes.
cat <<'YAML' | put config -
org: acme
timezone: Europe/Berlin
environments:
  production: ["production", "prod"]
deploy_workflows: ["Deploy*"]
teams:
  payments: { members: [alice, bob], repos: [acme/payments-api] }
services:
  checkout: { repos: [acme/payments-api], pagerduty: [PA2P440] }
digest:
  email: { from: metrics@example.com, to: [vp-eng@example.com] }
  slack: { channel: "#engineering-metrics" }
YAML
cat <<'YAML' | put config -
org: Acme
timezone: America/New_York
bots: ["dependabot[bot]", "Renovate*"]
incidents: { github_label: Incident, blame_window: 36h }
rework: { labels: [hotfix], branches: ["fix/**"], revert_titles: ["Revert *", "Rollback*"] }
severity:
  pagerduty_urgency: { high: sev1, low: sev3 }
  pagerduty_priority: { P1: sev1, P2: sev2 }
teams:
  Web: { members: [Carol], repos: [Acme/Web, acme/web-admin] }
services:
  web: { repos: [acme/web], pagerduty: [PX1, px2] }
YAML
printf 'org: acme\n' | put config -
printf '{"org": "acme", "timezone": "UTC", "teams": {"a": {"repos": ["x/y"]}}}' | put config -
echo "seeded: $(for d in corpus/*/; do printf '%s=%s ' "$(basename "$d")" "$(ls "$d" | wc -l)"; done)"
