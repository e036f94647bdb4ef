#!/bin/bash
# tests/lib/pop3ns.sh SERVER DIR PORT: runs Courier's POP3 server or popa3d,
# unpacked from Debian's packages (tests/lib/unpack-debs), inside the mount
# and pid namespaces that tests/lib/pop3servers.sh makes for it
# (unshare --mount --pid --fork --kill-child): this script is the
# namespace's first process, and when it dies, everything in it does.
#
# Both servers have their paths compiled in (/etc/courier, /run/courier,
# /usr/lib/courier, /etc/pam.d, /var/mail, ...), so the namespace gets them
# by overlays that the rest of the machine never sees:
#   /usr   the unpacked packages' /usr over the system's (read-only)
#   /etc   DIR/etc over the system's: a passwd, group and shadow of the
#          test's own (no entry of the machine's), the servers' configuration
#          and PAM files (read-only)
#   /run   an empty tmpfs (Courier's authdaemon socket)
#   popa3d: /var/mail is DIR/mail, and /var/lib has DIR/varlib over it
# SERVER: courier (couriertcpd on 127.0.0.1:PORT, authdaemond with
# DIR/etc/courier/authdaemonrc) or popa3d (tests/lib/inetd.py on
# 127.0.0.1:PORT running popa3d per connection).  Logs in DIR/*.log.
set -u
server=$1 dir=$2 port=$3
roots=$(dirname "$0")/../.debs/root
roots=$(cd "$roots" && pwd) || exit 1
lib=$(cd "$(dirname "$0")" && pwd)

mount --make-rprivate / || exit 1
lower=
for p in "$roots"/*/; do
	[ -d "$p/usr" ] && lower="$lower${p%/}/usr:"
done
mount -t overlay overlay -o "lowerdir=${lower}/usr" /usr || exit 1
mount -t overlay overlay -o "lowerdir=$dir/etc:/etc" /etc || exit 1
mount -t tmpfs -o mode=0755 tmpfs /run || exit 1

case $server in
courier)
	if [ -f "$dir/userdb.secret" ]; then
		# userdb: the CRAM-MD5 secret and the database, by Courier's own tools.
		pw=$(head -n 1 "$dir/userdb.secret")
		hm=$(printf '%s\n%s\n' "$pw" "$pw" | /usr/sbin/userdbpw -hmac-md5) || exit 1
		sed -i "s/\$/|hmac-md5pw=$hm/" "$dir/etc/courier/userdb"
		/usr/sbin/makeuserdb -f "$dir/etc/courier/userdb" >>"$dir/makeuserdb.log" 2>&1 || exit 1
	fi
	mkdir -p /run/courier/authdaemon
	/usr/lib/courier/courier-authlib/authdaemond >>"$dir/authdaemond.log" 2>&1 &
	for _ in $(seq 100); do [ -S /run/courier/authdaemon/socket ] && break; sleep 0.05; done
	# What /etc/courier/pop3d and pop3d-ssl set, for couriertcpd's children.
	set -a
	# shellcheck disable=SC1091
	. "$dir/pop3d.env"
	set +a
	/usr/sbin/couriertcpd -address=127.0.0.1 -maxprocs=20 -maxperip=20 -nodnslookup \
		-noidentlookup "$port" /usr/lib/courier/courier/courierpop3login \
		/usr/lib/courier/courier/courierpop3d Maildir >>"$dir/couriertcpd.log" 2>&1 &
	;;
popa3d)
	mount --bind "$dir/mail" /var/mail || exit 1
	mount -t overlay overlay -o "lowerdir=$dir/varlib:/var/lib" /var/lib || exit 1
	/usr/bin/python3 "$lib/inetd.py" --host 127.0.0.1 --port "$port" -- /usr/sbin/popa3d \
		>>"$dir/popa3d.log" 2>&1 &
	;;
*)
	echo "pop3ns.sh: no server $server" >&2
	exit 64
	;;
esac
wait
