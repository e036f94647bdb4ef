# shellcheck shell=bash
# Real smarthosts for the sendmail tests: Postfix and Exim from Debian's
# packages, unpacked (tests/lib/unpack-debs into tests/.debs, never
# installed: each would replace the system MTA) and run in mount and pid
# namespaces of their own (tests/lib/mtans.sh) on free loopback ports.
# Both relay everything to an aiosmtpd sink (tests/lib/smtpd.py), where the
# tests compare bytes and envelopes.  Source it after lib.sh and
# sendmail.sh; needs root (namespaces, Postfix's master).
#
#   mta_unpack                  fetch and unpack the packages (skip_all if impossible)
#   start_sink DIR              the aiosmtpd sink: SINK_PORT, SINK_DIR
#   sink_got NAME NNNN FILE     the sink's message NNNN is FILE, but for Received, Date, Message-ID
#   start_postfix [OPTIONS]     Postfix with Dovecot SASL (start_dovecot --sasl
#                               first): POSTFIX_PORT (STARTTLS, as 587),
#                               POSTFIX_TLS_PORT (implicit TLS, as 465),
#                               POSTFIX_DIR; OPTIONS are main.cf lines
#   start_exim [OPTIONS]        Exim with AUTH PLAIN and LOGIN (user alice,
#                               password $MTA_PW): EXIM_PORT (STARTTLS),
#                               EXIM_DIR; OPTIONS are main-section lines
# The servers are stopped at exit (the namespace dies with its first process).

# sink_got NAME NNNN EXPECTED: the sink's message NNNN equals EXPECTED once
# the fields added on the way (the relay's Received, our Date and
# Message-ID) are taken out (check_gen).
cat >"$T/noreceived.py" <<'PY'
import re, sys
d = open(sys.argv[1], "rb").read()
end = d.find(b"\r\n\r\n")
head, body = d[:end + 2], d[end + 2:]
fields = re.split(rb"\r\n(?![ \t])", head.rstrip(b"\r\n"))
keep = [f for f in fields if not f.lower().startswith(b"received:")]
open(sys.argv[2], "wb").write(b"".join(f + b"\r\n" for f in keep) + body)
PY
sink_got() {
	"$PY" "$T/noreceived.py" "$SINK_DIR/$2.msg" "$T/noreceived.msg"
	check_gen "$1" "$T/noreceived.msg" "$3"
}

MTA_DEBS=$TOP/tests/.debs
MTA_PKGS="postfix exim4-base exim4-config exim4-daemon-light"
MTA_PW=${MTA_PW:-Mta-Pw-0f-alice}

mta_unpack() {
	local err p have=1
	require_root "Postfix and Exim run in namespaces of their own"
	command -v unshare >/dev/null || skip_all "unshare (util-linux) is not installed"
	# Unpacked already (make deps, or an earlier script): apt-cache is slow.
	for p in $MTA_PKGS; do
		compgen -G "$MTA_DEBS/root/$p/.unpacked-*" >/dev/null || have=
	done
	[ -n "$have" ] && return 0
	if ! err=$("$TOP/tests/lib/unpack-debs" "$MTA_DEBS" $MTA_PKGS 2>&1); then
		# CI gets them from make deps; without the network here, say so.
		skip_all "cannot unpack $MTA_PKGS: $err"
	fi
}

start_sink() {
	start_smtpd "$1" || return 1
	SINK_PORT=$SMTP_PORT SINK_DIR=$1 SINK_PID=$SMTP_PID
}

# _mta_etc DIR USER UID: DIR/etc with a passwd and group of the namespace's
# own: root, and USER (uid = gid = UID) with its group, plus postdrop.
_mta_etc() {
	local d=$1 user=$2 uid=$3
	mkdir -p "$d/etc" || return 1
	printf 'root:x:0:0:root:/root:/bin/sh\n%s:x:%d:%d:%s:/nonexistent:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' \
		"$user" "$uid" "$uid" "$user" >"$d/etc/passwd"
	printf 'root:x:0:\n%s:x:%d:\npostdrop:x:%d:\nnogroup:x:65534:\n' "$user" "$uid" "$((uid + 1))" \
		>"$d/etc/group"
	printf 'root:*:19000:0:99999:7:::\n%s:*:19000:0:99999:7:::\n' "$user" >"$d/etc/shadow"
	chmod 644 "$d/etc/passwd" "$d/etc/group"
	chmod 600 "$d/etc/shadow"
}

# _mta_dirs: the servers' unprivileged processes must reach $T.
_mta_dirs() { chmod 755 "$T"; }

# _mta_run NAME DIR: tests/lib/mtans.sh NAME DIR in new namespaces; sets _MTA_PID.
_mta_run() {
	# unshare ignores SIGTERM while it waits: the shell makes it a SIGKILL,
	# and --kill-child ends the namespace with unshare.
	bash -c 'unshare --mount --pid --fork --kill-child -- bash "$@" & u=$!
		trap "kill -KILL $u" TERM INT HUP
		wait $u' sh "$TOP/tests/lib/mtans.sh" "$1" "$2" </dev/null >>"$2/ns.log" 2>&1 &
	_MTA_PID=$!
	_register_pid "$_MTA_PID"
	# Gone with the test script, even after kill -9.
	"$PY" "$TOP/tests/lib/watchdog.py" $$ "$_MTA_PID" </dev/null >/dev/null 2>&1 &
	_register_pid $!
}

# A uid no account on this machine has, for this run only.
_mta_uid() { echo $((2000000 + ($$ % 100000) * 4 + ${1:-0})); }

start_postfix() {
	local d=$T/postfix ports uid l
	[ -n "${DOVECOT_SASL_PORT:-}" ] || { diag "start_postfix: start_dovecot --sasl first"; return 1; }
	uid=$(_mta_uid 0)
	_mta_dirs
	# The queue's directories, owners and modes as postfix-files has them.
	mkdir -p "$d/queue/pid" "$d/data" || return 1
	for l in active bounce corrupt defer deferred flush hold incoming private saved trace \
		maildrop public; do
		mkdir -p "$d/queue/$l" && chown "$uid:$uid" "$d/queue/$l" && chmod 700 "$d/queue/$l" ||
			return 1
	done
	chown "$uid:$uid" "$d/data" && chmod 700 "$d/data" &&
		chgrp "$((uid + 1))" "$d/queue/maildrop" "$d/queue/public" &&
		chmod 730 "$d/queue/maildrop" && chmod 710 "$d/queue/public" || return 1
	_mta_etc "$d" "postfix-t$$" "$uid" || return 1
	mkdir -p "$d/etc/postfix"
	mapfile -t ports < <(free_port 2)
	POSTFIX_PORT=${ports[0]} POSTFIX_TLS_PORT=${ports[1]} POSTFIX_DIR=$d
	# main.cf: relay everything to the sink, for SASL clients only.
	cat >"$d/etc/postfix/main.cf" <<EOF
compatibility_level = 3.6
mail_owner = postfix-t$$
setgid_group = postdrop
queue_directory = $d/queue
data_directory = $d/data
maillog_file = /dev/stdout
myhostname = postfix.example.net
mydomain = example.net
mydestination =
local_transport = error:local delivery is disabled
alias_maps =
alias_database =
relayhost = [127.0.0.1]:$SINK_PORT
smtp_dns_support_level = disabled
smtp_tls_security_level = none
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
smtpd_banner = \$myhostname ESMTP Postfix (postie test)
smtpd_tls_cert_file = $T/certs/server-chain.pem
smtpd_tls_key_file = $T/certs/server.key
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:$DOVECOT_SASL_PORT
smtpd_helo_required = yes
smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_limit = 10
smtpd_timeout = 3s
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 200
anvil_rate_time_unit = 1s
message_size_limit = 20480000
maximal_queue_lifetime = 1h
delay_warning_time = 0
biff = no
EOF
	for l in "$@"; do echo "$l" >>"$d/etc/postfix/main.cf"; done
	# master.cf: the package's, no chroot, with our two listeners.
	{
		echo "127.0.0.1:$POSTFIX_PORT inet n - n - - smtpd"
		echo "127.0.0.1:$POSTFIX_TLS_PORT inet n - n - - smtpd -o smtpd_tls_wrappermode=yes"
		sed -n '/^pickup/,$p' "$MTA_DEBS/root/postfix/usr/share/postfix/master.cf.dist" |
			sed -E '/^(maildrop|uucp|ifmail|bsmtp|scalemail-backend|mailman)[[:space:]]/,$d' |
			awk '$1 !~ /^#/ && NF >= 8 { $5 = "n" } { print }'
	} >"$d/etc/postfix/master.cf"
	_mta_run postfix "$d"
	POSTFIX_PID=$_MTA_PID
	if ! wait_for "! _alive $POSTFIX_PID || (port_open $POSTFIX_PORT && port_open $POSTFIX_TLS_PORT)" 20 ||
		! _alive "$POSTFIX_PID"; then
		diag "postfix did not start:" "$(tail -n 20 "$d/ns.log" "$d/postfix.log" 2>/dev/null)"
		return 1
	fi
}

# postfix_log: Postfix's log.
postfix_log() { cat "$T/postfix/postfix.log" 2>/dev/null; }

start_exim() {
	local d=$T/exim uid l
	uid=$(_mta_uid 2)
	_mta_dirs
	mkdir -p "$d/spool" "$d/log" || return 1
	# Exim has its user's name compiled in; here it is this run's throwaway uid.
	_mta_etc "$d" Debian-exim "$uid" || return 1
	chown -R "$uid:$uid" "$d/spool" "$d/log" || return 1
	EXIM_PORT=$(free_port) EXIM_DIR=$d
	{
		cat <<EOF2
primary_hostname = exim.example.net
keep_environment =
qualify_domain = example.net
exim_user = Debian-exim
exim_group = Debian-exim
spool_directory = $d/spool
log_file_path = $d/log/%slog
daemon_smtp_ports = $EXIM_PORT
local_interfaces = 127.0.0.1
host_lookup =
rfc1413_hosts =
tls_advertise_hosts = *
tls_certificate = $T/certs/server-chain.pem
tls_privatekey = $T/certs/server.key
auth_advertise_hosts = \${if eq{\$tls_in_cipher}{}{}{*}}
acl_smtp_rcpt = acl_rcpt
received_header_text = Received: from \$sender_rcvhost by \$primary_hostname (postie test)
log_selector = +smtp_connection
EOF2
		for l in "$@"; do echo "$l"; done
		cat <<EOF2

begin acl
acl_rcpt:
  accept authenticated = *
  deny message = relay not permitted

begin routers
sink:
  driver = manualroute
  domains = *
  route_list = * 127.0.0.1
  self = send
  transport = sink_smtp

begin transports
sink_smtp:
  driver = smtp
  port = $SINK_PORT
  allow_localhost
  hosts_avoid_tls = *

begin retry
* * F,1h,1m

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and {{eq{\$auth2}{alice}}{eq{\$auth3}{$MTA_PW}}}}
  server_set_id = \$auth2
login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = \${if and {{eq{\$auth1}{alice}}{eq{\$auth2}{$MTA_PW}}}}
  server_set_id = \$auth1
EOF2
	} >"$d/exim.conf"
	_mta_run exim "$d"
	EXIM_PID=$_MTA_PID
	if ! wait_for "! _alive $EXIM_PID || port_open $EXIM_PORT" 20 || ! _alive "$EXIM_PID"; then
		diag "exim did not start:" "$(tail -n 20 "$d/ns.log" "$d/exim.log" "$d"/log/* 2>/dev/null)"
		return 1
	fi
}

# exim_log: Exim's main log.
exim_log() { cat "$T/exim/log/mainlog" 2>/dev/null; }
