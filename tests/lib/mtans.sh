#!/bin/bash
# tests/lib/mtans.sh SERVER DIR: runs Postfix or Exim, unpacked from
# Debian's packages (tests/lib/unpack-debs), inside the mount and pid
# namespaces that tests/lib/mta.sh makes for it (unshare --mount --pid
# --fork --kill-child): this script is the namespace's first process, and
# when it dies, everything in it does.  Neither package is installed: each
# would replace the system MTA.
#
# Both have their paths compiled in (/usr/lib/postfix, /etc/postfix,
# /usr/sbin/exim4), so the namespace gets them by overlays that the rest of
# the machine never sees:
#   /usr   the unpacked packages' /usr over the system's (read-only)
#   /etc   DIR/etc over the packages' /etc and the system's: the test's own
#          passwd and group (root, and the server's throwaway user and
#          group, which exist nowhere else and only for this run), the
#          server's configuration
#   /run   an empty tmpfs
# SERVER: postfix (master -d -s, with /etc/postfix/main.cf and master.cf
# from DIR/etc) or exim (exim4 -bdf with
# DIR/exim.conf).  Logs in DIR/*.log.
set -u
server=$1 dir=$2
roots=$(dirname "$0")/../.debs/root
roots=$(cd "$roots" && pwd) || exit 1

mount --make-rprivate / || exit 1
usr= etc=
for p in "$roots"/*/; do
	case ${p%/} in
	*/postfix | */exim4-*) ;;
	*) continue ;;
	esac
# This shell stays the namespace's process 1: the servers change their
# credentials, which clears the SIGKILL that --kill-child set for them; it
# is this shell's to get, and the namespace dies with it.
wait
	[ -d "$p/usr" ] && usr="$usr${p%/}/usr:"
	[ -d "$p/etc" ] && etc="$etc${p%/}/etc:"
done
mount -t overlay overlay -o "lowerdir=${usr}/usr" /usr || exit 1
mount -t overlay overlay -o "lowerdir=$dir/etc:${etc}/etc" /etc || exit 1
mount -t tmpfs -o mode=0755 tmpfs /run || exit 1

case $server in
postfix)
	# master in the foreground, logging to its stdout (maillog_file =
	# /dev/stdout); the queue's directories were made by tests/lib/mta.sh,
	# so postfix-script's checks (a second each) are not needed.
	/usr/lib/postfix/sbin/master -d -s >>"$dir/postfix.log" 2>&1 &
	;;
exim)
	/usr/sbin/exim4 -C "$dir/exim.conf" -bdf -q30m -oP "$dir/exim.pid" >>"$dir/exim.log" 2>&1 &
	;;
*)
	echo "mtans.sh: no server $server" >&2
	exit 64
	;;
esac
# This shell stays the namespace's process 1: the servers change their
# credentials, which clears the SIGKILL that --kill-child set for them; it
# is this shell's to get, and the namespace dies with it.
wait
