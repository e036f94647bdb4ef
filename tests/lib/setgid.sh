# shellcheck shell=bash
# A setgid sendmail built by hand, for the tests that need one without the
# whole install-system (tests/sendmail-system.t, tests/oauth2-system.t;
# tests/lib/system.sh is the full install).  Source after lib.sh, then
#   setgid_build TAG [MAKE ARGS...]
# Needs root (skips the test otherwise).  Creates the system group $GRP and
# the users $U1 and $U2 (names from TAG and the pid; removed at exit), and
# builds sendmail with SYSCONFDIR=$T/etc in $T/src, installed setgid $GRP
# (2755, as install-system does) as $T/bin/sendmail.

[ "$(id -u)" = 0 ] || skip_all "needs root to create users and a setgid binary"
command -v useradd >/dev/null || skip_all "no useradd"

setgid_build() {
	local tag=$1
	shift
	GRP=postie$tag$$
	U1=p${tag}1u$$
	U2=p${tag}2u$$
	trap 'cleanup_users; _postie_exit' EXIT
	groupadd --system "$GRP" || bail_out "groupadd failed"
	useradd --no-create-home --home-dir /nonexistent --shell /bin/sh "$U1" || bail_out "useradd failed"
	useradd --no-create-home --home-dir /nonexistent --shell /bin/sh "$U2" || bail_out "useradd failed"
	chmod 755 "$T"
	mkdir -p "$T/src" "$T/etc" "$T/bin"
	cp -r "$TOP/Makefile" "$TOP/common" "$TOP/sendmail" "$T/src/"
	rm -f "$T"/src/common/*.o "$T"/src/common/*.a "$T"/src/sendmail/*.o "$T/src/sendmail/sendmail"
	if ! make -s -C "$T/src" "$@" SYSCONFDIR="$T/etc" sendmail/sendmail >"$T/build.log" 2>&1; then
		bail_out "build failed: $(tail -5 "$T/build.log")"
	fi
	install -o root -g "$GRP" -m 2755 "$T/src/sendmail/sendmail" "$T/bin/sendmail"
}

cleanup_users() {
	userdel "$U1" 2>/dev/null
	userdel "$U2" 2>/dev/null
	groupdel "$GRP" 2>/dev/null
}
