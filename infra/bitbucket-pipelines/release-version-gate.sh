#!/bin/sh
# Flowmeter's release-version gate for Bitbucket Pipelines (infra/bitbucket-pipelines/README.md):
# asks POST <ApiUrl>/v1/gates/release-version whether this step's commit may go to its
# deployment environment, prints the answer, and fails the step when a Jira ticket going there
# has no fix version. Needs only POSIX sh and curl.
#
# Exit status: 0 allowed, 1 blocked (the message names the tickets), 2 the gate could not
# answer (not configured, unreachable, or it refused the request; the answer is printed).
#
# Variables: FLOWMETER_API_URL and FLOWMETER_GATE_TOKEN (secured); the environment is
# $FLOWMETER_GATE_ENVIRONMENT, else the step's $BITBUCKET_DEPLOYMENT_ENVIRONMENT; the repository
# $FLOWMETER_REPO, else bitbucket.org/$BITBUCKET_REPO_FULL_NAME; the commit $BITBUCKET_COMMIT.
set -u

repo=${FLOWMETER_REPO:-bitbucket.org/${BITBUCKET_REPO_FULL_NAME:-}}
environment=${FLOWMETER_GATE_ENVIRONMENT:-${BITBUCKET_DEPLOYMENT_ENVIRONMENT:-}}
sha=${BITBUCKET_COMMIT:-}
api=${FLOWMETER_API_URL:-}
token=${FLOWMETER_GATE_TOKEN:-}

for name in api token repo environment sha; do
  eval "value=\$$name"
  case $value in
    '' | bitbucket.org/) echo "flowmeter gate: $name is not set (see infra/bitbucket-pipelines/README.md)" >&2; exit 2 ;;
  esac
done
# The three values go into JSON unescaped: only the characters repository names, environment
# names and shas use are let through.
for value in "$repo" "$environment" "$sha"; do
  case $value in
    *[!A-Za-z0-9._/:@-]*) echo "flowmeter gate: '$value' has a character the gate does not take" >&2; exit 2 ;;
  esac
done

answer=$(mktemp) && headers=$(mktemp) || exit 2
trap 'rm -f "$answer" "$headers"' EXIT
status=$(curl -sS --retry 3 --max-time 30 -o "$answer" -D "$headers" -w '%{http_code}' \
  -X POST "${api%/}/v1/gates/release-version" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -H 'Accept: text/plain' \
  --data "{\"repo\":\"$repo\",\"environment\":\"$environment\",\"sha\":\"$sha\"}") || {
  echo "flowmeter gate: could not reach $api" >&2
  exit 2
}
cat "$answer"
if [ "$status" != 200 ]; then
  echo "flowmeter gate: the gate answered HTTP $status" >&2
  exit 2
fi
if grep -qi '^flowmeter-gate: *allowed' "$headers"; then
  exit 0
fi
exit 1
