#!/bin/bash
# make demo (tests/demo.sh) on a newcomer's machine: it installs what it runs
# and nothing more, it works, and it leaves nothing behind.
#
# The demo runs under strace -f: every program it executes and every file it
# opens under /usr must come from a package `make demo` installs (or their
# dependencies, or the base system), and each of the packages it installs
# must be used; every file or directory it creates must lie in its demo
# directory or its temp directory, and that temp directory must be gone at
# the end.  strace returns only when every traced process has ended, so a
# server or a connection keeper left running shows as a timeout.
. "$(dirname "$0")/lib/lib.sh"

require_root "Dovecot runs as root"
command -v strace >/dev/null || skip_all "strace not installed"

# The packages of `make demo`: the ensure-deps line of `make -n demo`.
deps=$(make -s -C "$TOP" -n demo | sed -n 's|^.*tests/lib/ensure-deps ||p' | head -n 1)
like "$deps" '[a-z]' "make -n demo: installs packages with ensure-deps"
build=$(make -s -C "$TOP" -n -p 2>/dev/null | sed -n 's/^DEPS_BUILD := //p' | head -n 1)
for p in clang valgrind libclang-rt-14-dev swaks mandoc; do
	[[ " $deps " == *" $p "* ]] && fail "make demo does not install $p" || pass "make demo does not install $p"
done

# The demo, traced; its temp directory inside ours, reachable by Dovecot.
chmod 755 "$T"
mkdir -m 755 "$T/tmp"
D=$T/demo
# Under ASan or valgrind (make check-asan, check-valgrind) the programs cannot
# be traced (LeakSanitizer refuses to run under ptrace): the demo runs
# untraced, and what only the trace shows is skipped.
trace=(strace -f -qq -o "$T/strace" -e trace=execve,open,openat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,symlink,symlinkat,mknodat,bind)
plain_binaries || trace=()
POSTIE_DEMO_DIR=$D POSTIE_TMPDIR=$T/tmp timeout -k 5 120 "${trace[@]}" \
	"$TOP/tests/demo.sh" >"$T/demo.out" 2>"$T/demo.err"
rc=$?
is "$rc" 0 "the demo runs${trace:+ (and every process it started has ended: strace returned)}" ||
	diag "$(tail -n 20 "$T/demo.out" "$T/demo.err")"
like "$(cat "$T/demo.out")" 'attachment report.csv \(text/csv\): identical to the file sent' \
	"the demo sends and fetches the attachment intact"
[ -s "$D/inbox.mbox" ] && pass "the mbox is in the demo directory" || fail "the mbox is in the demo directory"
[ -d "$D/state/postie/popfetch" ] && pass "popfetch's state is in the demo directory" ||
	fail "popfetch's state is in the demo directory"
is "$(ls -A "$T/tmp")" "" "the demo's temp directory is removed"

# Nothing of the demo's in root's default state and queue directories.
is "$(ls -d /var/lib/postie/popfetch/demo_* /var/spool/postie/*demo* 2>/dev/null)" "" \
	"nothing left in /var/lib/postie or /var/spool/postie"
if [ -z "${trace:-}" ]; then
	skip "what the demo creates and runs (strace)" "the programs run under a sanitizer or valgrind"
	done_testing
	exit 0
fi

# What the demo created: successful creating calls, their path arguments.
"$PY" - "$T/strace" >"$T/created" <<'PY'
import re, sys
create = re.compile(r'^\d+ +(mkdir|mkdirat|rename|renameat2?|link|linkat|symlink|symlinkat|mknodat|open|openat)\((.*)\) += (\d+)')
for line in open(sys.argv[1], errors="replace"):
    m = create.match(line)
    if not m:
        continue
    call, args = m.group(1), m.group(2)
    if call.startswith("open") and "O_CREAT" not in args:
        continue
    paths = re.findall(r'"((?:[^"\\]|\\.)*)"', args)
    # the target: the last path of rename/link/symlink, the only one otherwise
    if paths:
        print(paths[-1])
PY
# Relative paths are the temp directory's (lib.sh works there) or the demo's.
outside=$(grep '^/' "$T/created" | grep -v -E "^($T/|/dev/|/proc/)" | sort -u)
is "$outside" "" "the demo creates nothing outside its demo and temp directories"
like "$(grep -c . "$T/created")" '^[1-9]' "...of the $(grep -c . "$T/created") files and directories it created"

# What the demo ran and read from the system: the packages owning those files
# (from dpkg's file lists; merged /usr: /usr/lib/x is dpkg's /lib/x).
"$PY" - "$T/strace" >"$T/used-pkgs" <<'PY'
import glob, os, re, sys
owners = {}
for lst in glob.glob("/var/lib/dpkg/info/*.list"):
    pkg = os.path.basename(lst)[:-5].split(":")[0]
    for path in open(lst, errors="replace"):
        owners.setdefault(path.rstrip("\n"), set()).add(pkg)
used = set()
call = re.compile(r'^\d+ +(?:execve|open|openat)\((?:AT_FDCWD, )?"(/(?:usr|bin|sbin|lib)[^"]*)"[^)]*\) += \d+')
for line in open(sys.argv[1], errors="replace"):
    m = call.match(line)
    if m:
        used.add(m.group(1))
# Modules that .pth files import at python's start (setuptools' _distutils_hack)
# are there because their package happens to be installed, not because the
# demo needs them.
pth_mods = set()
for f in used:
    if f.endswith(".pth") and os.path.isfile(f):
        for l in open(f, errors="replace"):
            for a, b in re.findall(r'^import (\w+)|__import__\([\'"](\w+)', l):
                pth_mods.add(a or b)
pkgs = set()
for f in used:
    # Regular files only (a directory listed is no use of every package with
    # a file in it), and not the .pth files site.py opens of whatever is installed.
    if not os.path.isfile(f) or f.endswith(".pth"):
        continue
    m = re.match(r'.*/dist-packages/(\w+)', f)
    if m and m.group(1) in pth_mods:
        continue
    # A module's compiled cache stands for its source, which dpkg knows.
    m = re.match(r'^(.*)/__pycache__/(\w+)\.cpython-\d+\.pyc$', f)
    if m:
        f = "%s/%s.py" % m.groups()
    for cand in (f, os.path.realpath(f)):
        for c in (cand, re.sub(r'^/usr(/(?:lib|bin|sbin)/)', r'\1', cand)):
            if c in owners:
                pkgs |= owners[c]
                break
        else:
            continue
        break
print("\n".join(sorted(pkgs)))
PY
like "$(cat "$T/used-pkgs")" 'dovecot-core' "the demo's files map to packages (dovecot-core among them)"
# The packages make demo installs and the base system, with what they depend on.
base=$(dpkg-query -W -f='${Package} ${Essential} ${Priority}\n' |
	awk '$2 == "yes" || $3 == "required" || $3 == "important" { print $1 }')
# shellcheck disable=SC2086
apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
	--no-replaces --no-enhances $deps $base 2>/dev/null | grep -v '^ ' | sed 's/:.*//' |
	sort -u >"$T/closure"
is "$(comm -23 "$T/used-pkgs" "$T/closure" | tr '\n' ' ')" "" \
	"everything the demo runs comes from the packages make demo installs, their dependencies or the base system"
unused=
for p in $deps; do
	[[ " $build " == *" $p "* ]] && continue	# the build's, not the demo's
	grep -qx "$p" "$T/used-pkgs" || unused="$unused $p"
done
is "$unused" "" "every package make demo installs for the demo is used by it"

done_testing
