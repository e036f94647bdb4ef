#!/usr/bin/python3
"""Writes the seed corpus of the fuzz targets: tests/fuzz/corpus/TARGET/NAME.

Realistic inputs first (what the callers in callers.md send), then the
hostile ones.  Run it again after changing it; files it no longer makes are
left alone (libFuzzer-minimised inputs can live next to these).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

corpus = {t: {} for t in ("header", "address", "rfc2047", "mboxrd", "bs", "message")}


def add(target, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    corpus[target][name] = data


# ---------------------------------------------------------------- headers
HEADERS = {
    "cron": "From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> run-parts /etc/cron.daily\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n"
            "X-Cron-Env: <SHELL=/bin/sh>\nX-Cron-Env: <HOME=/root>\nX-Cron-Env: <PATH=/usr/bin:/bin>\n"
            "X-Cron-Env: <LOGNAME=root>\n\n",
    "atd": "Subject: Output from your job        7\nTo: alice\n\n",
    "anacron": "From: Anacron <root>\nTo: root\nSubject: Anacron job 'cron.daily' on host\n"
               "Content-Type: text/plain; charset=\"ANSI_X3.4-1968\"\n\n",
    "mailx": "To: a@example.com, b@example.com\nCc: c@example.com\nBcc: secret@example.com\n"
             "Subject: hello\nUser-Agent: mail (GNU Mailutils 3.15)\n\n",
    "mailutils-utf8": "From: root@vm\nTo: bob@example.com\nSubject: caf\u00e9 \u2603 r\u00e9sum\u00e9\n\n",
    "mutt": "Date: Thu, 26 Nov 2026 15:08:17 +0100\nFrom: Jane Doe <jane@example.org>\n"
            "To: \"Smith, John\" <john@example.com>,\n\tteam@example.com\n"
            "Subject: =?utf-8?Q?R=C3=A9union?= tomorrow\nMessage-ID: <20261126140817.GA1234@host>\n"
            "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"xYzZY\"\n"
            "Content-Disposition: inline\nUser-Agent: Mutt/2.2.9 (2022-11-12)\n\n",
    "git-send-email": "From: Dev Eloper <dev@example.org>\nTo: list@example.org\n"
                      "Cc: Maintainer <m@example.org>,\n Reviewer <r@example.org>\n"
                      "Subject: [PATCH v2 3/7] net: fix the thing\n"
                      "Date: Thu, 26 Nov 2026 15:08:17 +0000\n"
                      "Message-Id: <20261126150817.1-3-dev@example.org>\n"
                      "In-Reply-To: <20261126150817.1-1-dev@example.org>\n"
                      "References: <20261126150817.1-1-dev@example.org>\n"
                      " <20261126150817.1-2-dev@example.org>\nMIME-Version: 1.0\n"
                      "Content-Transfer-Encoding: 8bit\n\n",
    "php-mail-crlf": "To: user@example.com\r\nSubject: Order #1234\r\nFrom: shop@example.com\r\n"
                     "Reply-To: shop@example.com\r\nX-Mailer: PHP/8.2.7\r\n"
                     "Content-Type: text/html; charset=UTF-8\r\n\r\n",
    "sudo": "To: root\nFrom: alice\nAuto-Submitted: auto-generated\n"
            "Subject: *** SECURITY information for host ***\n\n",
    "unattended-upgrades": "Subject: [host] unattended-upgrades result for host: SUCCESS\n"
                           "To: root\nContent-Type: text/plain; charset=\"utf-8\"\n"
                           "Content-Transfer-Encoding: quoted-printable\n\n",
    "mdadm": "From: mdadm monitoring <root>\nTo: root\nSubject: Fail event on /dev/md0:host\n\n",
    "fail2ban": "Subject: [Fail2Ban] sshd: banned 192.0.2.7 from host\nDate: Thu, 26 Nov 2026 15:08:17 +0000\n"
                "From: Fail2Ban <fail2ban@host>\nTo: admin@example.org\n\n",
    "resent": "Resent-From: a@example.org\nResent-To: b@example.org\nResent-Bcc: c@example.org\n"
              "From: x@example.org\nTo: y@example.org\nSubject: fwd\n\n",
    "received-long": "Received: from mail.example.org (mail.example.org [192.0.2.1])\n"
                     "\tby mx.example.com (Postfix) with ESMTPS id 4ABC123\n"
                     "\tfor <u@example.com>; Thu, 26 Nov 2026 15:08:17 +0000 (UTC)\n"
                     "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;\n"
                     " s=sel; h=from:to:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\n"
                     " b=" + "A" * 300 + "\n\n",
    # hostile
    "no-colon": "From: a@example.org\nThis line has no colon\nTo: b@example.org\n\n",
    "continuation-first": " folded first\nFrom: a@example.org\n\n",
    "nul-in-field": "From: a@example.org\nSubject: a\0b\n\n",
    "nul-in-continuation": "Subject: x\n y\0z\n w\nTo: b\n\n",
    "bare-cr": "From: a@example.org\rTo: b@example.org\rSubject: cr\r\r",
    "cr-cr-lf": "Subject: x\r\r\nTo: y\n\n",
    "invalid-utf8": "Subject: \xff\xfe\xc3\x28 \xe2\x28\xa1\nFrom: \xc0\xafroot\n\n",
    "latin1": "Subject: caf\xe9\nFrom: Andr\xe9 <andre@example.org>\n\n",
    "empty-value": "Subject:\nTo:   \nX-Empty:\t\n\n",
    "space-before-colon": "Subject : x\nTo\t: y\n\n",
    "many-fields": "".join("X-H%d: v%d\n" % (i, i) for i in range(300)) + "\n",
    "long-line": "Subject: " + "x" * 5000 + "\n\n",
    "long-fold": "References:" + "".join(" <%d@example.org>\n" % i for i in range(200)) + "\n",
    "no-blank-line": "From: a@example.org\nTo: b@example.org\nSubject: no end",
    "mbox-from": "From root@host Thu Nov 26 15:08:17 2026\nFrom: root\nTo: x\n\n",
    "colon-only": ":\n::\n: x\n\n",
}
for k, v in HEADERS.items():
    add("header", k, v)

# ---------------------------------------------------------------- addresses
ADDRS = [
    "root", "root (Cron Daemon)", "Anacron <root>", "root@localhost", "alice@vm",
    "a@example.com, b@example.com", "a@example.com,b@example.com,,c@example.com",
    "\"Smith, John\" <john@example.com>", "Jane Doe <jane@example.org>",
    "undisclosed-recipients:;", "Team: a@example.org, \"q x\"@example.org; d@example.org",
    "Empty:; , x@y.org", "Nested: a@b.org, Inner: c@d.org;;",
    "<@r1.example,@r2.example:user@host.example>", "user@[192.0.2.1]", "user@[IPv6:::1]",
    "=?utf-8?B?w6l0w6k=?= <e@example.org>", "=?iso-8859-1?Q?Andr=E9?= <andre@example.org>",
    "(comment) user@host.example (other comment)", "user(c1)@(c2)host.example",
    "\"a\\\"b\" <x@y.example>", "\"\\\\\" <bs@y.example>", "\"quoted local\"@example.org",
    "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
    "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
    "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
    "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
    "Chris Jones <c@(Chris's host.)public.example>",
    "(nested (comment) here) x@y.example", "\"unterminated <x@y.example>",
    "<unterminated@x.example", "a@b@c.example", "@nolocal.example", "nodomain@",
    "<@>", "<>", "< spaced @ x . example >", "first.last@sub.example.org",
    "x\r\n y@z.example", "Name\r\nBcc: evil@x.example <a@b.example>", "a@b.example\0hidden",
    "\xc3\xa9l\xc3\xa8ve <eleve@example.org>", "\xff\xfe <bad@example.org>",
    "\"\" <empty-name@example.org>", "   ", ",;:<>()[]\\.\"@",
    "Tab\tName <tab@example.org>", "Dots. In. Name <d@example.org>",
]
for i, a in enumerate(ADDRS):
    add("address", "a%02d" % i, a)

# ---------------------------------------------------------------- RFC 2047
WORDS = [
    "=?utf-8?B?w6nDqA==?=", "=?iso-8859-1?Q?Andr=E9?= Pirard", "=?UTF-8?Q?a_b?= =?UTF-8?Q?c?=",
    "=?windows-1252?Q?=80=9C?=", "Plain subject", "=?utf-8?X?abc?=", "=?utf-8?B?!!!?=",
    "=??B?abc?=", "=?utf-8?Q?=3D=3Fus-ascii=3FQ=3Fx=3F=3D?=", "=?utf-8?Q?unterminated",
    "=?us-ascii?q?lower?= and =?US-ASCII?Q?upper?=", "a =?utf-8?b?w6k=?=\r\n =?utf-8?b?w6g=?= b",
    "=?utf-8?B?" + "4pyT" * 30 + "?=", "=?utf-8*fr?Q?langue?=", "=?utf-8?Q?=00nul?=",
    "=?utf-8?B?/w==?=", "caf\u00e9 \u2603 \U0001F600", "\xff\xfe invalid", "=?=?=?=?", "?=?=?=",
    "=?unknown-8bit?B?/+4=?=", "=?utf-8?Q?trailing_space_?=  =?utf-8?Q?x?=",
    "Re: [list] =?UTF-8?B?0J/RgNC40LLQtdGC?= =?UTF-8?B?INC80LjRgA==?=",
]
for i, w in enumerate(WORDS):
    add("rfc2047", "w%02d" % i, w)

# ---------------------------------------------------------------- mboxrd
# byte 0: cut pattern and mode (bit 7 set: Maildir); byte 1: header buffer size choice
MSGS = {
    "plain": "Return-Path: <a@example.org>\r\nFrom: A <a@example.org>\r\nSubject: x\r\n\r\nHello\r\n",
    "from-lines": "From: a@example.org\r\n\r\nFrom the start\r\n>From quoted\r\n>>From twice\r\n"
                  "From\r\nFrom:\r\n>From\r\nFrom  two spaces\r\n",
    "from-first-body-line": "Subject: s\r\n\r\nFrom here\r\n",
    "no-final-newline": "From: b@example.org\r\n\r\nlast line",
    "lone-cr": "From: c@example.org\r\n\r\nline\rFrom x\r\n\r\r\n",
    "bounce": "Return-Path: <>\r\nFrom: MAILER-DAEMON@example.org\r\n\r\nbounced\r\n",
    "no-header": "\r\nbody only\r\nFrom x\r\n",
    "header-only": "From: x@example.org\r\nSubject: no body",
    "sender-spaces": "Return-Path: <\"a b\"@example.org>\r\n\r\nx\r\n",
    "nul": "From: n@example.org\r\n\r\na\0b\r\nFrom \0\r\n",
    "lf-only": "From: l@example.org\n\nFrom lf\n>From lf\n",
    "header-from-line": "From x@y Thu Nov 26 15:08:17 2026\r\nFrom: z@example.org\r\n\r\nbody\r\n",
    "long-gt": "S: x\r\n\r\n" + ">" * 100 + "From deep\r\n" + ">" * 40 + "Fro\r\n",
    "empty": "",
    "crlf-split": "A: b\r\n\r\n\r\n\r\n",
}
for i, (k, v) in enumerate(MSGS.items()):
    for mode, hsel in ((0, 0), (0x80, 0), (0, 3)):
        add("mboxrd", "%s-%d" % (k, mode | hsel), bytes([(i * 37 + mode) & 0xff, hsel]) + v.encode("utf-8", "surrogateescape"))

# ---------------------------------------------------------------- -bs
MSG = ("From: App <app@example.org>\r\nTo: user@example.com\r\nSubject: Welcome\r\n"
       "Date: Thu, 26 Nov 2026 15:08:17 +0000\r\nMessage-ID: <abc@example.org>\r\n"
       "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello!\r\n..dot\r\n")


def dialogue(*cmds):
    return "".join(c if c.endswith("\n") else c + "\r\n" for c in cmds)


BS = {
    "symfony": dialogue("HELO localhost", "MAIL FROM:<app@example.org>", "RCPT TO:<user@example.com>",
                        "DATA", MSG + ".", "MAIL FROM:<app@example.org>", "RCPT TO:<other@example.com>",
                        "DATA", MSG + ".", "QUIT"),
    "ehlo-rset": dialogue("EHLO client.example", "MAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME",
                          "RCPT TO:<b@example.org>", "RSET", "NOOP", "VRFY root", "HELP",
                          "MAIL FROM:<> ", "RCPT TO:<postmaster>", "DATA", "Subject: bounce\r\n\r\nx\r\n.",
                          "QUIT"),
    "swiftmailer-noi": dialogue("EHLO [127.0.0.1]", "MAIL FROM:<s@example.org>", "RCPT TO:<t@example.org>",
                                "RCPT TO:<team>", "DATA", "To: t@example.org\r\n\r\n..leading dot\r\n.\r\n",
                                "QUIT"),
    "tempfail": dialogue("HELO x", "MAIL FROM:<a@example.org>", "RCPT TO:<tempfail@example.org>", "DATA",
                         "Subject: t\r\n\r\nbody\r\n.", "MAIL FROM:<a@example.org>",
                         "RCPT TO:<ok@example.org>", "DATA", "Subject: ok\r\n\r\nbody\r\n.", "QUIT"),
    "reject": dialogue("HELO x", "MAIL FROM:<a@example.org>", "RCPT TO:<reject@example.org>", "DATA",
                       "Subject: r\r\n\r\nbody\r\n.", "MAIL FROM:<a@example.org>", "RCPT TO:<noauth@example.org>",
                       "DATA", "Subject: n\r\n\r\nbody\r\n.", "QUIT"),
    "errors": dialogue("DATA", "RCPT TO:<x@y.org>", "MAIL FROM:<bad address>", "MAIL FROM:a@example.org",
                       "MAIL FROM:<a@example.org>", "RCPT TO:<>", "RCPT TO:<a b@c>", "RCPT TO:<@r:u@h.org>",
                       "DATA", "STARTTLS", "AUTH PLAIN AGFAYg==", "BDAT 10", "FOO", "helo", "QUIT"),
    "long-line": dialogue("HELO x", "NOOP " + "x" * 2000, "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>",
                          "DATA", "Subject: long\r\n\r\n" + "y" * 3000 + "\r\n.", "QUIT"),
    "eof-in-data": dialogue("HELO x", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "DATA",
                            "Subject: cut\r\n\r\nno end"),
    "lf-only": "HELO x\nMAIL FROM:<a@example.org>\nRCPT TO:<b@example.org>\nDATA\nSubject: lf\n\nbody\n.\nQUIT\n",
    "nul-body": dialogue("HELO x", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "DATA",
                         "Subject: nul\r\n\r\na\0b\r\n.", "QUIT"),
    "nul-header": dialogue("HELO x", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "DATA",
                           "Subject: a\0b\r\n\r\nx\r\n.", "NOOP", "QUIT"),
    "8bit": dialogue("EHLO x", "MAIL FROM:<a@example.org> BODY=8BITMIME", "RCPT TO:<b@example.org>", "DATA",
                     "Subject: caf\u00e9\r\nFrom: root\r\n\r\n\u2603 \xff\xfe\r\n.", "QUIT"),
    "multipart-long": dialogue("HELO x", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "DATA",
                               "Content-Type: multipart/mixed; boundary=b\r\nMIME-Version: 1.0\r\n\r\n--b\r\n\r\n"
                               + "z" * 1200 + "\r\n--b--\r\n.", "QUIT"),
    "headerless": dialogue("HELO x", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "DATA",
                           "just a body line\r\nanother\r\n.", "QUIT"),
    "bcc": dialogue("HELO x", "MAIL FROM:<root>", "RCPT TO:<b@example.org>", "DATA",
                    "From: root\r\nBcc: hidden@example.org\r\nResent-Bcc: h2@example.org\r\n\r\nx\r\n.", "QUIT"),
    "cr-only": "HELO x\rMAIL FROM:<a@example.org>\rRCPT TO:<b@example.org>\rDATA\rSubject: cr\r\rbody\r.\rQUIT\r",
    "dot-split": dialogue("HELO x", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "DATA",
                          "Subject: d\r\n\r\n.\r", "QUIT"),
    "aliases": dialogue("HELO x", "MAIL FROM:<a@example.org>", "RCPT TO:<loop1>", "RCPT TO:<team>",
                        "RCPT TO:<postmaster@localhost>", "DATA", "Subject: al\r\n\r\nx\r\n.", "QUIT"),
}
for k, v in BS.items():
    add("bs", k, v)

# ---------------------------------------------------------------- message
# byte 0 flags: 01 -t  02 -i  04 -f  08 -a other  10 -F  20 argv rcpts  40 --subject  80 --attach
# then "SENDER\tNAME\tRCPTS\tSUBJECT\n", then the message


def m(flags, sender="", name="", rcpts="", subject="", body=""):
    return bytes([flags]) + ("%s\t%s\t%s\t%s\n" % (sender, name, rcpts, subject) + body).encode(
        "utf-8", "surrogateescape")


MESSAGE = {
    "cron": m(0x32, name="CronDaemon", rcpts="root,admin@example.org",
              body=HEADERS["cron"] + "/etc/cron.daily/logrotate:\nerror: x\n"),
    "atd": m(0x22, rcpts="alice", body=HEADERS["atd"] + "output\n"),
    "anacron-noi": m(0x30, name="Anacron", rcpts="root", body=HEADERS["anacron"] + "a\n.\nnot sent\n"),
    "mailx-t": m(0x07, sender="alice@example.org", body=HEADERS["mailx"] + "hi\n"),
    "mailutils": m(0x07, sender="root@vm", body=HEADERS["mailutils-utf8"] + "r\u00e9sum\u00e9\n"),
    "mutt": m(0x26, sender="jane@example.org", rcpts="john@example.com",
              body=HEADERS["mutt"] + "--xYzZY\nContent-Type: text/plain\n\nhi\n--xYzZY--\n"),
    "git": m(0x23, rcpts="list@example.org,m@example.org", body=HEADERS["git-send-email"] + "diff\n"),
    "php": m(0x07, sender="bounce@example.org", body=HEADERS["php-mail-crlf"] + "<p>x</p>\n"),
    "sudo": m(0x01, body=HEADERS["sudo"] + "alice : user NOT in sudoers\n"),
    "fail2ban": m(0x24, sender="fail2ban@host", rcpts="admin@example.org",
                  body=HEADERS["fail2ban"] + "banned\nno final newline"),
    "resent": m(0x03, body=HEADERS["resent"] + "x\n"),
    "subject-attach": m(0xe2, rcpts="a@example.org", subject="r\u00e9port \u2603", body="see attached\n"),
    "no-recipients-t": m(0x01, body="Subject: none\n\nbody\n"),
    "no-header": m(0x22, rcpts="a@example.org", body="just a body\nand more\n"),
    "no-blank": m(0x22, rcpts="a@example.org", body="Subject: s\nTo: a@example.org"),
    "nul-header": m(0x22, rcpts="a@example.org", body="Subject: a\0b\n\nx\n"),
    "nul-body": m(0x22, rcpts="a@example.org", body="Subject: n\n\na\0b\n"),
    "long-body": m(0x22, rcpts="a@example.org", body="Subject: l\n\n" + "x" * 2500 + "\n"),
    "long-body-encoded": m(0x22, rcpts="a@example.org",
                           body="Content-Transfer-Encoding: base64\n\n" + "QUFB" * 300 + "\n"),
    "long-header": m(0x22, rcpts="a@example.org", body="Subject: " + "h" * 1500 + "\n\nx\n"),
    "cr-only": m(0x22, rcpts="a@example.org", body="Subject: cr\r\rline\rFrom x\r"),
    "dot-lines": m(0x20, rcpts="a@example.org", body="S: x\n\n..a\n.b\n.\nafter\n"),
    "groups": m(0x01, body="To: Team: a@example.org, \"b c\"@example.org;, root\nCc: (x) y@localhost\n\nx\n"),
    "injection-f": m(0x24, sender="a@example.org>\tBcc: x", rcpts="b@example.org", body="x\n"),
    "account-other": m(0x2c, sender="root", rcpts="b@example.org", body="From: root\n\nx\n"),
    "from-rewrite": m(0x20, rcpts="b@example.org", body="From: Anacron <root>\nTo: b@example.org\n\nx\n"),
    "tempfail": m(0x20, rcpts="tempfail@example.org", body="S: t\n\nx\n"),
    "reject": m(0x20, rcpts="reject@example.org,ok@example.org", body="S: r\n\nx\n"),
    "never-queue": m(0x28, rcpts="tempfail@example.org", body="S: n\n\nx\n"),
    "mbox-from-line": m(0x20, rcpts="a@example.org", body="From root Thu Nov 26 15:08:17 2026\nSubject: m\n\nx\n"),
    "invalid-utf8-name": m(0x30, name="\xff\xfeName", rcpts="a@example.org", body="S: x\n\nx\n"),
    "encoded-word-name": m(0x30, name="=?utf-8?B?w6k=?=", rcpts="a@example.org", body="S: x\n\nx\n"),
    "null-sender": m(0x24, sender="<>", rcpts="a@example.org", body="S: x\n\nx\n"),
}
for k, v in MESSAGE.items():
    add("message", k, v)


def main():
    n = 0
    for target, files in corpus.items():
        d = os.path.join(OUT, target)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
            n += 1
    print("seed-corpus: %d files in %s" % (n, OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
