#!/bin/sh
# Reports one Bitbucket Pipelines deployment to Flowmeter's generic webhook
# (POST <FLOWMETER_WEBHOOK_URL>/deployments, docs/API.md), signed like every generic delivery:
# X-Flowmeter-Signature-256: sha256=<hex HMAC-SHA256 of the exact bytes sent>.
# POSIX sh, curl and openssl only (no jq). See README.md beside this file.
#
#   report-deployment.sh start     records the deployment's start (run it first in the step)
#   report-deployment.sh [status]  sends the report; status is success, failure or error, by
#                                  default success when $BITBUCKET_EXIT_CODE is 0, else failure
#
# Reads: FLOWMETER_WEBHOOK_URL, FLOWMETER_WEBHOOK_SECRET (secured repository or workspace
# variables), BITBUCKET_REPO_FULL_NAME, BITBUCKET_COMMIT, BITBUCKET_BUILD_NUMBER,
# BITBUCKET_DEPLOYMENT_ENVIRONMENT (FLOWMETER_ENVIRONMENT overrides it), BITBUCKET_STEP_UUID,
# BITBUCKET_EXIT_CODE; FLOWMETER_DRY_RUN=1 prints the body and its signature instead of sending.
set -eu

started_file="${FLOWMETER_STARTED_FILE:-${BITBUCKET_CLONE_DIR:-.}/.flowmeter-started-at}"
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

if [ "${1:-}" = start ]; then
  now > "$started_file"
  exit 0
fi

fail() { echo "report-deployment: $*" >&2; exit 1; }
need() { eval "[ -n \"\${$1:-}\" ]" || fail "$1 is not set"; }

# JSON string contents: backslashes and double quotes escaped; control characters refused
# (Flowmeter refuses them in every field).
json_escape() {
  case "$1" in
    *[[:cntrl:]]*) fail "a value contains a control character" ;;
  esac
  printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'
}

status="${1:-}"
if [ -z "$status" ]; then
  if [ "${BITBUCKET_EXIT_CODE:-0}" = 0 ]; then status=success; else status=failure; fi
fi
case "$status" in
  success | failure | error) ;;
  *) fail "status must be success, failure or error, not '$status'" ;;
esac

for v in BITBUCKET_REPO_FULL_NAME BITBUCKET_COMMIT BITBUCKET_BUILD_NUMBER; do need "$v"; done
environment="${FLOWMETER_ENVIRONMENT:-${BITBUCKET_DEPLOYMENT_ENVIRONMENT:-}}"
[ -n "$environment" ] || fail "no environment: run in a deployment step or set FLOWMETER_ENVIRONMENT"

repo="bitbucket.org/$BITBUCKET_REPO_FULL_NAME"
finished_at=$(now)
started_at=""
if [ -r "$started_file" ]; then started_at=$(cat "$started_file"); fi
# A re-run step is a new deployment (another step UUID); curl's retries of this one are not.
step=$(printf '%s' "${BITBUCKET_STEP_UUID:-}" | tr -d '{}')
id="bbp-$BITBUCKET_BUILD_NUMBER${step:+-$step}"

body=$(printf '{"repo":"%s","environment":"%s","sha":"%s","status":"%s",' \
  "$(json_escape "$repo")" "$(json_escape "$environment")" \
  "$(json_escape "$BITBUCKET_COMMIT")" "$status")
if [ -n "$started_at" ]; then body="$body\"started_at\":\"$(json_escape "$started_at")\","; fi
body="$body\"finished_at\":\"$finished_at\",\"id\":\"$(json_escape "$id")\"}"

# The file signed is the file sent (--data-binary @file), byte for byte.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
printf '%s' "$body" > "$tmp"

need FLOWMETER_WEBHOOK_SECRET
# OpenSSL prints "SHA2-256(stdin)= <hex>" (3.x) or "(stdin)= <hex>": keep the hex.
signature=$(openssl dgst -sha256 -hmac "$FLOWMETER_WEBHOOK_SECRET" < "$tmp" | sed 's/^.*= //')

if [ "${FLOWMETER_DRY_RUN:-}" = 1 ]; then
  printf '%s\nX-Flowmeter-Signature-256: sha256=%s\n' "$body" "$signature"
  exit 0
fi
need FLOWMETER_WEBHOOK_URL
curl --fail --silent --show-error --max-time 30 \
  --retry 5 --retry-delay 5 \
  -X POST "${FLOWMETER_WEBHOOK_URL%/}/deployments" \
  -H 'Content-Type: application/json' \
  -H "X-Flowmeter-Signature-256: sha256=$signature" \
  --data-binary @"$tmp"
echo
