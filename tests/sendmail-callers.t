#!/bin/bash
# sendmail as real programs on Debian 12 call it (../shared/callers.md): each
# row replays the caller's exact argument vector and the shape of the message
# it writes, and checks the envelope and the bytes the smarthost received.
. "$(dirname "$0")/lib/lib.sh"

# ----------------------------------------------------------------- helpers
. "$(dirname "$0")/lib/sendmail.sh"

start_smtpd "$T/s" --plain || bail_out "smtpd did not start"
write_conf "$T/conf" "$SMTP_PORT" 'tls = "none"' 'from = "me@example.org"'
N=0

# row NAME INPUT ARGS...: pipe INPUT into sendmail ARGS (after -C); exit 0,
# one message arrives: its files are $M.msg and $M.env.
row() {
	local name=$1 input=$2
	shift 2
	_run "$SENDMAIL" -C "$T/conf" "$@" <"$input"
	is "$LAST_STATUS" 0 "$name: exit 0" || diag "$(cat "$T/last.err")"
	N=$((N + 1))
	M=$T/s/$(printf %04d "$N")
	if ! smtp_wait "$T/s" "$N" 5; then
		fail "$name: message delivered"
		N=$(smtp_count "$T/s")
	fi
}
DATE='Date: Thu, 26 Nov 2026 10:00:00 +0000'

# ------------------------------------------------------------------ cron
# runs as the job's user with a minimal environment; MAILTO with a comma
lf "From: root (Cron Daemon)" "To: a@x.org,b@y.org" "Subject: Cron <root@vm> /usr/local/bin/backup" \
	"MIME-Version: 1.0" "Content-Type: text/plain; charset=UTF-8" "Content-Transfer-Encoding: 8bit" \
	"X-Cron-Env: <SHELL=/bin/sh>" "X-Cron-Env: <HOME=/root>" "X-Cron-Env: <PATH=/usr/bin:/bin>" \
	"X-Cron-Env: <LOGNAME=root>" "" "backup: 3 files copied" "." "done" >"$T/cron.in"
crlf "From: Cron Daemon <me@example.org>" "To: a@x.org,b@y.org" "Subject: Cron <root@vm> /usr/local/bin/backup" \
	"MIME-Version: 1.0" "Content-Type: text/plain; charset=UTF-8" "Content-Transfer-Encoding: 8bit" \
	"X-Cron-Env: <SHELL=/bin/sh>" "X-Cron-Env: <HOME=/root>" "X-Cron-Env: <PATH=/usr/bin:/bin>" \
	"X-Cron-Env: <LOGNAME=root>" "" "backup: 3 files copied" "." "done" >"$T/cron.exp"
row "cron" "$T/cron.in" -FCronDaemon -i -B8BITMIME -oem "a@x.org,b@y.org"
env_is "cron" "$M.env" me@example.org a@x.org b@y.org
check_gen "cron" "$M.msg" "$T/cron.exp" Date Message-ID

# cron itself, with its minimal environment (no -C: POSTIE_CONF)
_run env -i HOME=/root PATH=/usr/bin:/bin LOGNAME=root SHELL=/bin/sh POSTIE_CONF="$T/conf" \
	"$SENDMAIL" -FCronDaemon -i -B8BITMIME -oem "a@x.org,b@y.org" <"$T/cron.in"
is "$LAST_STATUS" 0 "cron, minimal environment: exit 0" || diag "$(cat "$T/last.err")"
N=$((N + 1)) M=$T/s/$(printf %04d "$N")
smtp_wait "$T/s" "$N" 5
env_is "cron, minimal environment" "$M.env" me@example.org a@x.org b@y.org
check_gen "cron, minimal environment" "$M.msg" "$T/cron.exp" Date Message-ID

# ------------------------------------------------------------------- atd
# stdin is a regular file, stdout /dev/null; no From, Date, Message-ID
lf "Subject: Output from your job        7" "To: root" "" "job output" "line 2" >"$T/atd.in"
crlf "Subject: Output from your job        7" "To: root@example.org" "From: root <me@example.org>" "" \
	"job output" "line 2" >"$T/atd.exp"
_run "$SENDMAIL" -C "$T/conf" -i root <"$T/atd.in" >/dev/null
is "$LAST_STATUS" 0 "atd: exit 0"
N=$((N + 1)) M=$T/s/$(printf %04d "$N")
smtp_wait "$T/s" "$N" 5
env_is "atd" "$M.env" me@example.org root@example.org
check_gen "atd" "$M.msg" "$T/atd.exp"

# --------------------------------------------------------------- anacron
# NO -i: ".." loses a dot, a lone "." ends the message
lf "From: Anacron <root>" "To: root" 'Content-Type: text/plain; charset="ANSI_X3.4-1968"' \
	"Subject: Anacron job 'cron.daily' on vm" "" "/etc/cron.daily/logrotate:" "..hidden line" \
	"line after" "." "this must be dropped" "and this" >"$T/anacron.in"
crlf "From: Anacron <me@example.org>" "To: root@example.org" 'Content-Type: text/plain; charset="ANSI_X3.4-1968"' \
	"Subject: Anacron job 'cron.daily' on vm" "" "/etc/cron.daily/logrotate:" ".hidden line" \
	"line after" >"$T/anacron.exp"
row "anacron" "$T/anacron.in" -FAnacron -odi root
env_is "anacron" "$M.env" me@example.org root@example.org
check_gen "anacron" "$M.msg" "$T/anacron.exp"

# -------------------------------------------------------------- bsd-mailx
lf "To: bob@x.org" "Cc: Carol <carol@y.org>" "Bcc: dave@z.org" "Subject: mailx test" "" \
	"hello from mailx" >"$T/mailx.in"
crlf "To: bob@x.org" "Cc: Carol <carol@y.org>" "Subject: mailx test" "From: root <me@example.org>" "" \
	"hello from mailx" >"$T/mailx.exp"
row "bsd-mailx" "$T/mailx.in" -i -t
env_is "bsd-mailx" "$M.env" me@example.org bob@x.org carol@y.org dave@z.org
check_gen "bsd-mailx (Bcc removed)" "$M.msg" "$T/mailx.exp"

# ----------------------------------------------------------------- s-nail
lf "$DATE" "To: bob@x.org, carol@y.org" "Subject: s-nail test" "User-Agent: s-nail v14.9.24" \
	"MIME-Version: 1.0" "Content-Type: text/plain; charset=us-ascii" "Content-Transfer-Encoding: 7bit" \
	"" "body" >"$T/snail.in"
crlf "$DATE" "To: bob@x.org, carol@y.org" "Subject: s-nail test" "User-Agent: s-nail v14.9.24" \
	"MIME-Version: 1.0" "Content-Type: text/plain; charset=us-ascii" "Content-Transfer-Encoding: 7bit" \
	"From: Jane Doe <jane@x.org>" "" "body" >"$T/snail.exp"
row "s-nail" "$T/snail.in" -i -F "Jane Doe" -f jane@x.org -- bob@x.org carol@y.org
env_is "s-nail" "$M.env" jane@x.org bob@x.org carol@y.org
check_gen "s-nail" "$M.msg" "$T/snail.exp" Message-ID

# -------------------------------------------------------- mailutils mail
# raw UTF-8 Subject; -f root@shorthost must be rewritten
lf "To: bob@x.org" "Bcc: hidden@z.org" "Subject: Grüße ✓ from vm" "$DATE" "MIME-Version: 1.0" \
	"Content-Type: text/plain; charset=UTF-8" "Content-Transfer-Encoding: 8bit" "" \
	"Ünïcödé body ✓" >"$T/mailutils.in"
crlf "To: bob@x.org" "Subject: Grüße ✓ from vm" "$DATE" "MIME-Version: 1.0" \
	"Content-Type: text/plain; charset=UTF-8" "Content-Transfer-Encoding: 8bit" \
	"From: root <me@example.org>" "" "Ünïcödé body ✓" >"$T/mailutils.exp"
row "mailutils" "$T/mailutils.in" -oi -f root@vm -t
env_is "mailutils (root@vm rewritten)" "$M.env" me@example.org bob@x.org hidden@z.org
check_gen "mailutils (8-bit Subject untouched)" "$M.msg" "$T/mailutils.exp" Message-ID

# ------------------------------------------------------------------- mutt
# complete message: passed on byte for byte
crlf "$DATE" "From: Alice Example <alice@x.org>" "To: bob@x.org" "Cc: carol@y.org" \
	"Subject: =?utf-8?Q?Caf=C3=A9?=" "Message-ID: <20261126100000.GA1234@x.org>" "MIME-Version: 1.0" \
	"Content-Type: text/plain; charset=utf-8" "Content-Disposition: inline" \
	"Content-Transfer-Encoding: 8bit" "User-Agent: Mutt/2.2.9 (2022-11-12)" "" "Café ☕" "." \
	"..two dots" "" >"$T/mutt.exp"
tr -d '\r' <"$T/mutt.exp" >"$T/mutt.in"
row "mutt" "$T/mutt.in" -oem -oi -f alice@x.org -B8BITMIME -N failure,delay -R hdrs -- bob@x.org carol@y.org
env_is "mutt" "$M.env" alice@x.org bob@x.org carol@y.org
cmp_file "$M.msg" "$T/mutt.exp" "mutt: bytes received (nothing added or changed)"

# --------------------------------------------------------- git send-email
crlf "From: Alice <alice@x.org>" "To: bob@x.org" "Cc: carol@y.org" "Subject: [PATCH 1/2] fix the thing" \
	"$DATE" "Message-ID: <20261126100000.1234-1-alice@x.org>" "X-Mailer: git-send-email 2.39.2" \
	"MIME-Version: 1.0" "Content-Transfer-Encoding: 8bit" "" "---" " file.c | 2 +-" \
	"diff --git a/file.c b/file.c" "--- a/file.c" "+++ b/file.c" "@@ -1 +1 @@" "-." "+.." >"$T/git1.exp"
tr -d '\r' <"$T/git1.exp" >"$T/git1.in"
row "git send-email (argv)" "$T/git1.in" -i -f alice@x.org bob@x.org carol@y.org
env_is "git send-email (argv)" "$M.env" alice@x.org bob@x.org carol@y.org
cmp_file "$M.msg" "$T/git1.exp" "git send-email (argv): bytes received"

# -t plus argv: union, each recipient once (folded Cc, a duplicate, a Bcc only in argv)
lf "From: Alice <alice@x.org>" "To: bob@x.org, dave@z.org" "Cc: carol@y.org," "	Bob <bob@x.org>" \
	"Subject: [PATCH 2/2] more" "$DATE" "Message-ID: <20261126100000.1234-2-alice@x.org>" "" \
	"patch" >"$T/git2.in"
tr '\n' '\r' <"$T/git2.in" | sed 's/\r/\r\n/g' >"$T/git2.exp"
row "git send-email (-t + argv)" "$T/git2.in" -t -i dave@z.org
env_is "git send-email (-t + argv): union, no duplicates" "$M.env" me@example.org bob@x.org carol@y.org dave@z.org
cmp_file "$M.msg" "$T/git2.exp" "git send-email (-t + argv): bytes received"

# ------------------------------------------------------------ PHP mail()
# via sh -c; PHP's own header lines end in LF, the user's extra headers in
# CRLF, the body in LF
printf 'To: bob@x.org\nSubject: PHP test\nFrom: webmaster@x.org\r\nReply-To: webmaster@x.org\r\nX-Mailer: PHP/8.2.7\r\n\nLine one\nLine two\n' >"$T/php.in"
crlf "To: bob@x.org" "Subject: PHP test" "From: webmaster@x.org" "Reply-To: webmaster@x.org" \
	"X-Mailer: PHP/8.2.7" "" "Line one" "Line two" >"$T/php.exp"
_run sh -c "'$SENDMAIL' -C '$T/conf' -t -i -fbounce@x.org" <"$T/php.in"
is "$LAST_STATUS" 0 "PHP mail(): exit 0"
N=$((N + 1)) M=$T/s/$(printf %04d "$N")
smtp_wait "$T/s" "$N" 5
env_is "PHP mail()" "$M.env" bounce@x.org bob@x.org
check_gen "PHP mail() (mixed CRLF/LF: all CRLF)" "$M.msg" "$T/php.exp"

# ------------------------------------------------------------- PHPMailer
lf "$DATE" "To: Bob <bob@x.org>" "From: App <app@x.org>" "Bcc: audit@z.org" "Subject: Your order" \
	"Message-ID: <abc123@x.org>" "X-Mailer: PHPMailer 6.8.0 (https://github.com/PHPMailer/PHPMailer)" \
	"MIME-Version: 1.0" "Content-Type: text/plain; charset=iso-8859-1" "" "Thanks for your order." >"$T/phpmailer.in"
crlf "$DATE" "To: Bob <bob@x.org>" "From: App <app@x.org>" "Subject: Your order" \
	"Message-ID: <abc123@x.org>" "X-Mailer: PHPMailer 6.8.0 (https://github.com/PHPMailer/PHPMailer)" \
	"MIME-Version: 1.0" "Content-Type: text/plain; charset=iso-8859-1" "" "Thanks for your order." >"$T/phpmailer.exp"
row "PHPMailer" "$T/phpmailer.in" -t -i -oi -fapp@x.org -t
env_is "PHPMailer (duplicate -t)" "$M.env" app@x.org bob@x.org audit@z.org
cmp_file "$M.msg" "$T/phpmailer.exp" "PHPMailer: bytes received (Bcc removed)"

# ---------------------------------------------------------- Symfony Mailer
crlf "From: shop@x.org" "To: bob@x.org" "Subject: Symfony" "$DATE" "Message-ID: <sym1@x.org>" \
	"MIME-Version: 1.0" "Content-Type: text/plain; charset=utf-8" "Content-Transfer-Encoding: quoted-printable" \
	"" "Hello =C3=A9" >"$T/symfony.exp"
row "Symfony Mailer (argv)" "$T/symfony.exp" -i "-f<shop@x.org>" -- bob@x.org
env_is "Symfony Mailer (-f'<s>')" "$M.env" shop@x.org bob@x.org
cmp_file "$M.msg" "$T/symfony.exp" "Symfony Mailer: bytes received"

# ------------------------------------------------------------ SwiftMailer
# without -i it doubles leading dots itself
lf "Message-ID: <swift@x.org>" "$DATE" "Subject: Swift" "From: shop@x.org" "To: bob@x.org" \
	"Bcc: carol@y.org" "MIME-Version: 1.0" "Content-Type: text/plain; charset=utf-8" "" \
	"..leading dot" ".." "end" >"$T/swift.in"
crlf "Message-ID: <swift@x.org>" "$DATE" "Subject: Swift" "From: shop@x.org" "To: bob@x.org" \
	"MIME-Version: 1.0" "Content-Type: text/plain; charset=utf-8" "" \
	".leading dot" "." "end" >"$T/swift.exp"
row "SwiftMailer" "$T/swift.in" -t -fshop@x.org
env_is "SwiftMailer" "$M.env" shop@x.org bob@x.org carol@y.org
cmp_file "$M.msg" "$T/swift.exp" "SwiftMailer: bytes received (un-stuffed, Bcc removed)"

# ------------------------------------------------------------------- sudo
# NO -i; To: root and From: a bare user name (issue 12: To: root gets @domain in the header too)
lf "To: root" "From: alice" "Auto-Submitted: auto-generated" "Subject: *** SECURITY information for vm ***" "" \
	"vm : Nov 26 10:00:00 : alice : user NOT in sudoers ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls" \
	>"$T/sudo.in"
crlf "To: root@example.org" "From: me@example.org" "Auto-Submitted: auto-generated" "Subject: *** SECURITY information for vm ***" "" \
	"vm : Nov 26 10:00:00 : alice : user NOT in sudoers ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls" \
	>"$T/sudo.exp"
row "sudo" "$T/sudo.in" -t
env_is "sudo (root qualified)" "$M.env" me@example.org root@example.org
check_gen "sudo (bare From rewritten)" "$M.msg" "$T/sudo.exp"

# --------------------------------------------------------------- logwatch
lf "To: root" "From: logwatch@vm" "Subject: Logwatch for vm (Linux)" "MIME-Version: 1.0" \
	"Content-Transfer-Encoding: 7bit" 'Content-Type: text/plain; charset="iso-8859-1"' "" \
	" ################### Logwatch 7.8 (01/22/23) ####################" "        Processing Initiated: Thu Nov 26 10:00:00 2026" \
	" ###################### Logwatch End #########################" >"$T/logwatch.in"
crlf "To: root@example.org" "From: me@example.org" "Subject: Logwatch for vm (Linux)" "MIME-Version: 1.0" \
	"Content-Transfer-Encoding: 7bit" 'Content-Type: text/plain; charset="iso-8859-1"' "" \
	" ################### Logwatch 7.8 (01/22/23) ####################" "        Processing Initiated: Thu Nov 26 10:00:00 2026" \
	" ###################### Logwatch End #########################" >"$T/logwatch.exp"
row "logwatch" "$T/logwatch.in" -t
env_is "logwatch" "$M.env" me@example.org root@example.org
check_gen "logwatch (user@shorthost From rewritten)" "$M.msg" "$T/logwatch.exp"

# --------------------------------------------------- unattended-upgrades
lf "Subject: unattended-upgrades result for vm: True" "To: root@vm" "MIME-Version: 1.0" \
	'Content-Type: text/plain; charset="utf-8"' "Content-Transfer-Encoding: 8bit" "" \
	"Unattended upgrade result: All upgrades installed" >"$T/uu.in"
crlf "Subject: unattended-upgrades result for vm: True" "To: root@vm" "MIME-Version: 1.0" \
	'Content-Type: text/plain; charset="utf-8"' "Content-Transfer-Encoding: 8bit" \
	"From: root <me@example.org>" "" "Unattended upgrade result: All upgrades installed" >"$T/uu.exp"
row "unattended-upgrades" "$T/uu.in" -oi -t
env_is "unattended-upgrades (root@shorthost qualified)" "$M.env" me@example.org root@example.org
check_gen "unattended-upgrades" "$M.msg" "$T/uu.exp"

# ------------------------------------------------------------------ mdadm
lf "From: mdadm monitoring <root>" "To: root" "Subject: Fail event on /dev/md0:vm" "" \
	"This is an automatically generated mail message from mdadm" "running on vm" >"$T/mdadm.in"
crlf "From: mdadm monitoring <me@example.org>" "To: root@example.org" "Subject: Fail event on /dev/md0:vm" "" \
	"This is an automatically generated mail message from mdadm" "running on vm" >"$T/mdadm.exp"
row "mdadm" "$T/mdadm.in" -t
env_is "mdadm" "$M.env" me@example.org root@example.org
check_gen "mdadm" "$M.msg" "$T/mdadm.exp"

# --------------------------------------------------------------- fail2ban
# NO -i; the body has no final newline
printf '%s\n' "Subject: [Fail2Ban] sshd: banned 192.0.2.7 from vm" "$DATE" "From: Fail2Ban <fail2ban@x.org>" \
	"To: root@x.org" "" "Hi," "" "The IP 192.0.2.7 has just been banned by Fail2Ban after" \
	"5 attempts against sshd." "" "Regards," "" >"$T/fail2ban.in"
printf 'Fail2Ban' >>"$T/fail2ban.in"
crlf "Subject: [Fail2Ban] sshd: banned 192.0.2.7 from vm" "$DATE" "From: Fail2Ban <fail2ban@x.org>" \
	"To: root@x.org" "" "Hi," "" "The IP 192.0.2.7 has just been banned by Fail2Ban after" \
	"5 attempts against sshd." "" "Regards," "" "Fail2Ban" >"$T/fail2ban.exp"
row "fail2ban" "$T/fail2ban.in" -f fail2ban@x.org root@x.org
env_is "fail2ban" "$M.env" fail2ban@x.org root@x.org
check_gen "fail2ban (last line arrives complete)" "$M.msg" "$T/fail2ban.exp" Message-ID

# ------------------------------------------------------------ systemd-cron
lf "$DATE" "From: root (systemd-cron)" "To: root" "Subject: [vm] result of cron-daily-backup.service" \
	"Content-Type: text/plain; charset=utf-8" "Content-Transfer-Encoding: 8bit" "Auto-Submitted: auto-generated" \
	"" '● cron-daily-backup.service - [Cron] "backup"' "     Active: failed" >"$T/sdcron.in"
crlf "$DATE" "From: systemd-cron <me@example.org>" "To: root@example.org" "Subject: [vm] result of cron-daily-backup.service" \
	"Content-Type: text/plain; charset=utf-8" "Content-Transfer-Encoding: 8bit" "Auto-Submitted: auto-generated" \
	"" '● cron-daily-backup.service - [Cron] "backup"' "     Active: failed" >"$T/sdcron.exp"
row "systemd-cron" "$T/sdcron.in" -i -B8BITMIME root
env_is "systemd-cron" "$M.env" me@example.org root@example.org
check_gen "systemd-cron" "$M.msg" "$T/sdcron.exp" Message-ID

# ------------------------------------------------- logcheck/mime-construct
lf "To: logcheck@x.org" "Subject: vm 2026-11-26 10:02 System Events" "MIME-Version: 1.0" \
	"Content-Type: text/plain; charset=us-ascii" "Content-Transfer-Encoding: 7bit" "" \
	"System Events" "=-=-=-=-=-=-=" "Nov 26 10:01:00 vm kernel: something happened" >"$T/logcheck.in"
crlf "To: logcheck@x.org" "Subject: vm 2026-11-26 10:02 System Events" "MIME-Version: 1.0" \
	"Content-Type: text/plain; charset=us-ascii" "Content-Transfer-Encoding: 7bit" \
	"From: root <me@example.org>" "" \
	"System Events" "=-=-=-=-=-=-=" "Nov 26 10:01:00 vm kernel: something happened" >"$T/logcheck.exp"
row "logcheck" "$T/logcheck.in" -oi logcheck@x.org
env_is "logcheck" "$M.env" me@example.org logcheck@x.org
check_gen "logcheck" "$M.msg" "$T/logcheck.exp"

is "$(smtp_count "$T/s")" "$N" "every caller's message arrived once"
is "$(mailq_of "$T/conf")" "Mail queue is empty" "nothing left in the queue"

done_testing
