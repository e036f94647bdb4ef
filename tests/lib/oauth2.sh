# tests/lib/oauth2.sh: what the OAuth 2.0 tests (tests/oauth2-*.t) share.
# Source it after lib.sh; start_authserver first.

# o2_events PATTERN: how many lines of the authorization server's events match.
o2_events() { grep -c -E -- "$1" "$AUTH_SPOOL/events" 2>/dev/null; }

# o2_admin CALL: an admin call on the authorization server (e.g. "revoke",
# "set?fail=503"); fails when it does not answer 200.
o2_admin() {
	curl -s -f --cacert "$T/certs/ca.pem" -o /dev/null "$AUTH_URL/admin/$1"
}

# o2_expire FILE: the token file's access token has expired (for Postie) and
# the server no longer takes it either.
o2_expire() {
	"$PY" - "$1" <<'EOF' || return 1
import json, sys, time
p = sys.argv[1]
with open(p) as f:
    d = json.load(f)
d["obtained_at"] = int(time.time()) - 4000
d["expires_at"] = int(time.time()) - 400
with open(p, "w") as f:
    json.dump(d, f)
EOF
	o2_admin expire
}

# o2_field FILE KEY: a string field of a token file.
o2_field() {
	"$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$1" "$2"
}

# o2_authorize OUT CMD ARGS...: runs an --authorize command in the background
# with stdout and stderr in OUT, waits for the address it prints, opens it as
# a browser would (the authorize endpoint approves at once and redirects to
# the loopback listener), and waits for the command. Sets O2_STATUS.
o2_authorize() {
	local out=$1 pid url red
	shift
	"$@" </dev/null >"$out" 2>&1 &
	pid=$!
	if ! wait_for "grep -q '$AUTH_URL/authorize?' '$out' 2>/dev/null" 20; then
		kill "$pid" 2>/dev/null
		wait "$pid"
		O2_STATUS=255
		return 1
	fi
	url=$(grep -o "$AUTH_URL/authorize?[^ ]*" "$out" | head -n 1)
	red=$(curl -s --cacert "$T/certs/ca.pem" -o /dev/null -w '%{redirect_url}' "$url")
	curl -s -o /dev/null --max-time 20 "$red"
	wait "$pid"
	O2_STATUS=$?
}

# o2_no_secrets NAME DIR...: passes if no token, code or client secret the
# authorization server issued or knows (its spool's "secrets", plus the
# words in $O2_MORE_SECRETS) appears in any file under DIR, the token files
# (*.json), the server's own spool and the files named in $O2_NO_SCAN
# (where a test keeps a client secret) excepted.
o2_no_secrets() {
	local name=$1 pats=$T/o2-secret-patterns hits ex=() f
	shift
	for f in $O2_NO_SCAN; do ex+=(--exclude="$f"); done
	cat "$AUTH_SPOOL/secrets" >"$pats" 2>/dev/null
	for w in $O2_MORE_SECRETS; do echo "$w" >>"$pats"; done
	if [ ! -s "$pats" ]; then
		fail "$name" "no secrets known to look for"
		return 1
	fi
	hits=$(grep -r -l -F -f "$pats" --exclude='*.json' --exclude='o2-secret-patterns' "${ex[@]}" \
		--exclude-dir="$(basename "$AUTH_SPOOL")" "$@" 2>/dev/null)
	if [ -n "$hits" ]; then
		fail "$name" "secrets found in:" $hits
		return 1
	fi
	pass "$name ($(wc -l <"$pats") secrets looked for)"
}

# o2_smtpd DIR [smtpd.py options]: start_smtpd with implicit TLS, XOAUTH2 and
# OAUTHBEARER checked at the authorization server's introspection endpoint.
o2_smtpd() {
	local dir=$1
	shift
	start_smtpd "$dir" --tls --oauth-introspect "$AUTH_URL/introspect" \
		--oauth-cafile "$T/certs/ca.pem" "$@"
}

# o2_smtp_section NAME PORT TOKEN_FILE [LINE...]: an smtp section that logs in
# as alice on 127.0.0.1:PORT (implicit TLS) with the grant of the test client
# postie-test; each LINE ('key = "value"') is added to it.
o2_smtp_section() {
	local name=$1 port=$2 tok=$3 l
	shift 3
	printf 'smtp "%s" {\n\thost = "127.0.0.1"\n\tport = %s\n\ttls = "tls"\n\tuser = "alice"\n' \
		"$name" "$port"
	printf '\toauth2_token_url = "%s/token"\n\toauth2_authorize_url = "%s/authorize"\n' \
		"$AUTH_URL" "$AUTH_URL"
	printf '\toauth2_client_id = "postie-test"\n\toauth2_token_file = "%s"\n' "$tok"
	for l in "$@"; do printf '\t%s\n' "$l"; done
	echo "}"
}
