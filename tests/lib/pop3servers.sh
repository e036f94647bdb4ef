# shellcheck shell=bash
# tests/lib/pop3servers.sh: Courier's POP3 server and popa3d for popfetch's
# tests, sourced after tests/lib/lib.sh.  Both packages conflict with
# dovecot-pop3d (they provide pop3-server), so they are never installed:
# pop3servers_unpack fetches and unpacks them (tests/lib/unpack-debs into
# tests/.debs), and they run in namespaces of their own (tests/lib/pop3ns.sh)
# with their configuration in $T, on a free loopback port.  Needs root.
#
#   pop3servers_unpack
#       unpacks courier-pop, courier-base, courier-authlib,
#       courier-authdaemon, courier-authlib-userdb and popa3d (a no-op when
#       done); false, with a diagnostic, when it cannot.
#   start_courier BACKEND [USER:PASS]
#       Courier's couriertcpd + courierpop3login + courierpop3d, and
#       authdaemond with BACKEND: "userdb" (authuserdb; the user's
#       password also as hmac-md5pw, so CRAM-MD5 works) or "pam" (authpam,
#       which cannot check CRAM-MD5, offered anyway).  SASL PLAIN LOGIN
#       CRAM-MD5 and STLS (the certificate of make_certs) are offered.
#       Default user pc:secret.  Sets COURIER_PORT, COURIER_PID,
#       COURIER_MAILDIR (the user's Maildir), COURIER_DIR.
#   start_popa3d [USER:PASS]
#       popa3d (no CAPA, USER/PASS only, mbox in /var/mail) run per
#       connection by tests/lib/inetd.py.  Default user pa:secret.  Sets
#       POPA3D_PORT, POPA3D_PID, POPA3D_MBOX (the user's mailbox), POPA3D_DIR.
#   courier_put FILE / popa3d_put FILE
#       FILE as one new message (Maildir new/, or appended to the mbox with
#       a From_ line; popa3d serves what the mbox holds).
#   stop_courier / stop_popa3d
#
# Users run as nobody (uid 65534), as Dovecot's do here.

POP3_DEBS=$TOP/tests/.debs
POP3_PKGS="courier-pop courier-base courier-authlib courier-authdaemon courier-authlib-userdb popa3d"
_NS_UID=65534
_NS_GID=65534

pop3servers_unpack() {
	local err
	if ! err=$("$TOP/tests/lib/unpack-debs" "$POP3_DEBS" $POP3_PKGS 2>&1); then
		diag "cannot unpack the POP3 servers: $err"
		return 1
	fi
}

# _ns_etc DIR USER PASS: DIR/etc with a passwd, group and shadow of our own.
_ns_etc() {
	local d=$1 u=$2 pw=$3 hash
	mkdir -p "$d/etc" "$d/home/$u" || return 1
	hash=$(openssl passwd -6 "$pw") || return 1
	{
		echo "root:x:0:0:root:/root:/bin/sh"
		echo "popa3d:x:$_NS_UID:$_NS_GID:popa3d:/var/lib/popa3d:/usr/sbin/nologin"
		echo "courier:x:$_NS_UID:$_NS_GID:courier:/var/lib/courier:/usr/sbin/nologin"
		echo "nobody:x:$_NS_UID:$_NS_GID:nobody:/nonexistent:/usr/sbin/nologin"
		echo "$u:x:$_NS_UID:$_NS_GID:test user:$d/home/$u:/bin/sh"
	} >"$d/etc/passwd"
	{
		echo "root:x:0:"
		echo "mail:x:8:"
		echo "courier:x:$_NS_GID:"
		echo "nogroup:x:$_NS_GID:"
	} >"$d/etc/group"
	{
		echo "root:*:19000:0:99999:7:::"
		echo "popa3d:*:19000:0:99999:7:::"
		echo "courier:*:19000:0:99999:7:::"
		echo "nobody:*:19000:0:99999:7:::"
		echo "$u:$hash:19000:0:99999:7:::"
	} >"$d/etc/shadow"
	chmod 644 "$d/etc/passwd" "$d/etc/group"
	chmod 640 "$d/etc/shadow"
	chown "$_NS_UID:$_NS_GID" "$d/home/$u"
	# nobody must reach the home directory
	chmod 755 "$T" "$d" "$d/home"
}

# _ns_start NAME SERVER DIR: runs pop3ns.sh in new mount and pid namespaces on a
# free port; sets _NS_PORT and _NS_PID.
_ns_start() {
	local name=$1 server=$2 d=$3 try
	for try in 1 2 3; do
		_NS_PORT=$(free_port)
		# unshare ignores SIGTERM while it waits: this shell turns it into
		# the SIGKILL that ends unshare, whose --kill-child ends the namespace.
		bash -c 'unshare --mount --pid --fork --kill-child "$@" & u=$!
			trap "kill -KILL $u" TERM INT HUP
			wait $u' sh "$TOP/tests/lib/pop3ns.sh" "$server" "$d" "$_NS_PORT" \
			</dev/null >>"$d/ns.log" 2>&1 &
		_NS_PID=$!
		_register_pid "$_NS_PID"
		# Gone with the test script, even after kill -9.
		"$PY" "$TOP/tests/lib/watchdog.py" $$ "$_NS_PID" </dev/null >/dev/null 2>&1 &
		_register_pid $!
		if wait_for "port_open $_NS_PORT || ! _alive $_NS_PID" 20 && port_open "$_NS_PORT"; then
			return 0
		fi
		stop_server "$_NS_PID"
		grep -qi "in use" "$d"/*.log 2>/dev/null || break
	done
	diag "$name did not start:" "$(tail -n 20 "$d"/*.log 2>/dev/null)"
	return 1
}

start_courier() {
	local backend=$1 cred=${2:-pc:secret} d u pw
	u=${cred%%:*} pw=${cred#*:}
	d=$T/courier-$backend
	COURIER_DIR=$d
	make_certs "$T/certs" || return 1
	pop3servers_unpack || return 1
	rm -rf "$d"
	_ns_etc "$d" "$u" "$pw" || return 1
	mkdir -p "$d/etc/courier" "$d/etc/pam.d" || return 1
	cp "$POP3_DEBS/root/courier-pop/etc/pam.d/pop3" "$d/etc/pam.d/pop3" || return 1
	COURIER_MAILDIR=$d/home/$u/Maildir
	mkdir -p "$COURIER_MAILDIR/cur" "$COURIER_MAILDIR/new" "$COURIER_MAILDIR/tmp"
	chown -R "$_NS_UID:$_NS_GID" "$COURIER_MAILDIR"
	chmod -R go-rwx "$COURIER_MAILDIR"
	cat >"$d/etc/courier/authdaemonrc" <<EOF
authmodulelist="auth$backend"
authmodulelistorig="authuserdb authpam"
daemons=2
authdaemonvar=/run/courier/authdaemon
DEBUG_LOGIN=0
DEFAULTOPTIONS=""
LOGGEROPTS=""
EOF
	if [ "$backend" = userdb ]; then
		# pop3ns.sh adds hmac-md5pw (userdbpw) and builds the .dat files (makeuserdb).
		printf '%s\tuid=%s|gid=%s|home=%s|mail=%s|systempw=%s\n' "$u" "$_NS_UID" "$_NS_GID" \
			"$d/home/$u" "$COURIER_MAILDIR" "$(openssl passwd -6 "$pw")" >"$d/etc/courier/userdb"
		printf '%s\n' "$pw" >"$d/userdb.secret"
		chmod 600 "$d/etc/courier/userdb" "$d/userdb.secret"
	fi
	local pem=$d/pop3d.pem
	cat "$T/certs/server-chain.pem" >"$pem"
	cp "$T/certs/server.key" "$d/pop3d.key"
	chmod 600 "$d/pop3d.key"
	chown "$_NS_UID:$_NS_GID" "$d/pop3d.key"
	# couriertls (GnuTLS) wants DH parameters; RFC 7919's group is instant.
	openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out "$d/dhparams.pem" \
		2>/dev/null || return 1
	chmod 600 "$pem"
	chown "$_NS_UID:$_NS_GID" "$pem" "$d/dhparams.pem"
	cat >"$d/pop3d.env" <<EOF
POP3AUTH="PLAIN LOGIN CRAM-MD5"
POP3AUTH_TLS="PLAIN LOGIN CRAM-MD5"
POP3_PROXY=0
POP3_STARTTLS=YES
POP3_TLS_REQUIRED=0
COURIERTLS=/usr/bin/couriertls
TLS_CERTFILE=$pem
TLS_PRIVATE_KEYFILE=$d/pop3d.key
TLS_VERIFYPEER=NONE
TLS_DHPARAMS=$d/dhparams.pem
TLS_TRUSTCERTS=/etc/ssl/certs/ca-certificates.crt
MAILDIRPATH=Maildir
MIME_UNICODE_MESSAGE_TYPE=message/global
PATH=/usr/bin:/bin
SHELL=/bin/sh
EOF
	_ns_start "Courier ($backend)" courier "$d" || return 1
	COURIER_PORT=$_NS_PORT COURIER_PID=$_NS_PID
}

start_popa3d() {
	local cred=${1:-pa:secret} d u pw
	u=${cred%%:*} pw=${cred#*:}
	d=$T/popa3d
	POPA3D_DIR=$d
	pop3servers_unpack || return 1
	rm -rf "$d"
	_ns_etc "$d" "$u" "$pw" || return 1
	mkdir -p "$d/etc/pam.d" "$d/mail" "$d/varlib/popa3d" || return 1
	cp "$POP3_DEBS/root/popa3d/etc/pam.d/popa3d" "$d/etc/pam.d/popa3d" || return 1
	POPA3D_MBOX=$d/mail/$u
	: >"$POPA3D_MBOX"
	chown "$_NS_UID:$_NS_GID" "$POPA3D_MBOX"
	chmod 600 "$POPA3D_MBOX"
	chmod 1777 "$d/mail"
	_ns_start popa3d popa3d "$d" || return 1
	POPA3D_PORT=$_NS_PORT POPA3D_PID=$_NS_PID
}

courier_put() {
	local name
	_POSTIE_SEQ=$((_POSTIE_SEQ + 1))
	name=$(date +%s).P$$Q$_POSTIE_SEQ.test
	cp "$1" "$COURIER_MAILDIR/tmp/$name" && chown "$_NS_UID:$_NS_GID" "$COURIER_MAILDIR/tmp/$name" &&
		chmod 600 "$COURIER_MAILDIR/tmp/$name" &&
		mv "$COURIER_MAILDIR/tmp/$name" "$COURIER_MAILDIR/new/$name"
}
courier_count() { find "$COURIER_MAILDIR/new" "$COURIER_MAILDIR/cur" -type f | wc -l; }

# popa3d_put FILE: appended as an mbox message (FILE must end with a newline
# and hold no line starting with "From "; popa3d serves the stored bytes).
popa3d_put() {
	{
		echo "From sender@example.org Thu Nov 26 15:08:17 2026"
		cat "$1"
		echo
	} >>"$POPA3D_MBOX"
}
popa3d_count() { grep -c '^From ' "$POPA3D_MBOX"; }

stop_courier() { [ -z "${COURIER_PID:-}" ] || stop_server "$COURIER_PID"; COURIER_PID=; }
stop_popa3d() { [ -z "${POPA3D_PID:-}" ] || stop_server "$POPA3D_PID"; POPA3D_PID=; }
