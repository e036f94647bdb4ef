# shellcheck shell=bash
# The system install for the multi-user tests (tests/security-*.t); source
# it after lib.sh:
#   . "$(dirname "$0")/lib/system.sh"
#
# Needs root.  Creates a throwaway group $GRP and two throwaway users $U1
# and $U2 (names unique to this run), copies the sources to $T/src and runs
# `make install-system` there into a temporary prefix:
#   $SM        $T/usr/sbin/sendmail (setgid $GRP), $MAILQ the mailq link
#   $CONF      $T/etc/postie.conf (root:$GRP 0640; rewrite it with put_conf)
#   $SPOOL     $T/spool (root:$GRP 2770, tmp/ and failed/)
#   $LOGF      $T/log/postie.log (root:$GRP 0620)
#   $H1 $H2    a private directory of each user (their files, their input)
# At exit the users' leftover processes (a -odb runner, say) are stopped by
# pid, then the users and the group are removed.
#
#   as U CMD...        run CMD as user U (setpriv: no PAM, no session)
#   as_exec U CMD...   the same, replacing the shell: `as_exec U CMD &` makes
#                      $! the command's own pid
#   put_conf TEXT      the system configuration (mode and group kept): domain
#                      example.org, no aliases, log $SYS_LOG (default "none"),
#                      queue_dir $SPOOL, connection_cache $SYS_CACHE (0), TEXT
#   spool_ids          queue ids in $SPOOL, oldest first

[ "$(id -u)" = 0 ] || skip_all "needs root to create users and a setgid install"
command -v useradd >/dev/null && command -v setpriv >/dev/null || skip_all "no useradd or setpriv"

# Names free on this machine, unique to this run.
_sys_name() {
	local n i
	for i in 1 2 3 4 5 6 7 8 9; do
		n=$1$$$RANDOM
		n=${n:0:30}
		getent passwd "$n" >/dev/null || getent group "$n" >/dev/null || { echo "$n"; return 0; }
	done
	return 1
}
GRP=$(_sys_name ptg) && U1=$(_sys_name pta) && U2=$(_sys_name ptb) || bail_out "no free user names"

_sys_cleanup() {
	local u pid
	for u in "$U1" "$U2"; do
		getent passwd "$u" >/dev/null || continue
		for pid in $(ps -u "$u" -o pid= 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
		wait_for "[ -z \"\$(ps -u '$u' -o pid= 2>/dev/null)\" ]" 5
		userdel "$u" 2>/dev/null
	done
	getent group "$GRP" >/dev/null && groupdel "$GRP" 2>/dev/null
}
trap '_sys_cleanup; _postie_exit' EXIT

useradd --no-create-home --home-dir /nonexistent --shell /bin/sh "$U1" || bail_out "useradd failed"
useradd --no-create-home --home-dir /nonexistent --shell /bin/sh "$U2" || bail_out "useradd failed"
UID1=$(id -u "$U1")
UID2=$(id -u "$U2")
chmod 755 "$T"

SM=$T/usr/sbin/sendmail
MAILQ=$T/usr/bin/mailq
CONF=$T/etc/postie.conf
SPOOL=$T/spool
LOGF=$T/log/postie.log
H1=$T/home1
H2=$T/home2

mkdir -p "$T/src" "$T/etc"
cp -r "$TOP/Makefile" "$TOP/common" "$TOP/sendmail" "$TOP/popfetch" "$TOP/etc" "$TOP/man" "$T/src/"
rm -f "$T"/src/*/*.o "$T"/src/common/*.a "$T/src/sendmail/sendmail" "$T/src/popfetch/popfetch"
# make install copies etc/postie.conf only when there is none: start from an empty one.
: >"$CONF"
if ! make -s -j2 -C "$T/src" install-system PREFIX="$T/usr" SYSCONFDIR="$T/etc" \
    SPOOLDIR="$SPOOL" LOGFILE="$LOGF" POSTIE_GROUP="$GRP" >"$T/build.log" 2>&1; then
	bail_out "make install-system failed: $(tail -5 "$T/build.log")"
fi
getent group "$GRP" >/dev/null || bail_out "install-system did not create the group"
install -d -o "$U1" -g "$U1" -m 700 "$H1"
install -d -o "$U2" -g "$U2" -m 700 "$H2"

as() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups --reset-env -- "$@"
}

as_exec() {
	local u=$1
	shift
	exec setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups --reset-env -- "$@"
}

put_conf() {
	printf 'domain = "example.org"\naliases = ""\nlog = "%s"\nqueue_dir = "%s"\nconnection_cache = %s\n%s\n' \
		"${SYS_LOG:-none}" "$SPOOL" "${SYS_CACHE:-0}" "$1" >"$CONF"
}

spool_ids() { ls "$SPOOL" | sed -n 's/\.env$//p' | sort; }
