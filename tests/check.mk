# tests/check.mk: the proof under sanitizers, valgrind and fuzzing.
# Included by the top Makefile; also works as `make -f Makefile -f tests/check.mk TARGET`.
#
#   make check-asan       everything built with ASan+UBSan in build-asan/ (the in-tree
#                         build is untouched), then the whole suite run against it
#   make check-valgrind   the integration tests with every sendmail and popfetch run
#                         under valgrind memcheck (tests/lib/valgrind-wrap)
#   make fuzz             each libFuzzer target in tests/fuzz for FUZZ_SECONDS (60);
#                         a crash fails and stays in tests/fuzz/bin/crash-*
#   make fuzz-build       only build the libFuzzer targets (clang)
#   make fuzz-drivers     the same targets as plain programs that replay files
#                         (any compiler; used by tests/hostile-fuzz-corpus.t)
#
# Every variable here starts with FUZZ_, ASAN_ or VG_ so as not to clash.

# ---------------------------------------------------------------- fuzzing

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := tests/fuzz
FUZZ_BIN     := $(FUZZ_DIR)/bin
FUZZ_TARGETS := header address rfc2047 mboxrd bs message
# Flags for every run: an input taking 10 s or 2 GB is a finding too.
FUZZ_RUNFLAGS ?= -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
FUZZ_MAXLEN_header  := 16384
FUZZ_MAXLEN_address := 4096
FUZZ_MAXLEN_rfc2047 := 4096
FUZZ_MAXLEN_mboxrd  := 8192
FUZZ_MAXLEN_bs      := 16384
FUZZ_MAXLEN_message := 16384
# sendmail prints its errors on stderr: close it (libFuzzer and sanitizer reports still show)
FUZZ_QUIET_bs       := -close_fd_mask=2
FUZZ_QUIET_message  := -close_fd_mask=2

# Library code the targets call: common/, sendmail/ without main.c, smtp*.c, serverinfo.c
# (the libcurl layer, replaced by the stand-in in fuzz_sendmail.c), and
# popfetch's message filter.
FUZZ_LIB_SRC := $(sort $(wildcard common/*.c)) \
	$(filter-out sendmail/main.c sendmail/smtp.c sendmail/smtptx.c sendmail/serverinfo.c,$(sort $(wildcard sendmail/*.c))) \
	popfetch/msgfilter.c
FUZZ_HDRS    := $(wildcard common/*.h sendmail/*.h popfetch/*.h) \
	$(FUZZ_DIR)/fuzz.h $(FUZZ_DIR)/fuzz_sendmail.h
FUZZ_INC     := -Icommon -Isendmail -Ipopfetch -I$(FUZZ_DIR)
FUZZ_PKGFLAGS := $(shell pkg-config --cflags libcurl libconfuse 2>/dev/null)
FUZZ_PKGLIBS  := $(shell pkg-config --libs libcurl libconfuse 2>/dev/null)
# The project's warnings and definitions, as the top Makefile sets them.
FUZZ_WARN    := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wstrict-prototypes \
	-Wmissing-prototypes -Wshadow -Wcast-qual -Wsign-compare -Wformat=2 \
	-Wpointer-arith -Wno-format-nonliteral \
	-DSYSCONFDIR=\"/etc\" -DPOSTIE_VERSION=\"fuzz\"
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g $(FUZZ_WARN) $(FUZZ_SAN) $(FUZZ_INC) $(FUZZ_PKGFLAGS)

# Extra objects per target (besides fuzz_NAME.o).
FUZZ_EXTRA_bs      := fuzz_sendmail
FUZZ_EXTRA_message := fuzz_sendmail

# Two builds of the same sources, each in its own object directory:
#   lf/   clang, libFuzzer: binaries bin/fuzz_NAME
#   drv/  any compiler, driver.c's main(): binaries bin/drv/fuzz_NAME
FUZZ_LF_CFLAGS  := $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link
FUZZ_LF_LDFLAGS := $(FUZZ_SAN) -fsanitize=fuzzer
FUZZ_DRV_CC     ?= $(CC)
# ASan+UBSan for the drivers when the compiler and its runtime have them.
FUZZ_DRV_SAN    ?= $(shell printf 'int main(void){return 0;}' | $(FUZZ_DRV_CC) $(FUZZ_SAN) \
	-x c -o /dev/null - >/dev/null 2>&1 && echo '$(FUZZ_SAN)')
FUZZ_DRV_CFLAGS := -O1 -g $(FUZZ_WARN) $(FUZZ_DRV_SAN) $(FUZZ_INC) $(FUZZ_PKGFLAGS)
FUZZ_DRV_LDFLAGS = $(FUZZ_DRV_SAN)

fuzz-have-cc:
	@command -v $(FUZZ_CC) >/dev/null || { echo "fuzz: $(FUZZ_CC) not found: apt-get install clang libclang-rt-14-dev (or make fuzz FUZZ_CC=clang-NN)"; exit 1; }

$(FUZZ_BIN)/lf/%.o: %.c $(FUZZ_HDRS) | fuzz-have-cc
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_LF_CFLAGS) -c -o $@ $<

$(FUZZ_BIN)/drv/%.o: %.c $(FUZZ_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_DRV_CC) $(FUZZ_DRV_CFLAGS) -c -o $@ $<

$(FUZZ_BIN)/lf/libpostie-fuzz.a: $(FUZZ_LIB_SRC:%.c=$(FUZZ_BIN)/lf/%.o)
	rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_BIN)/drv/libpostie-fuzz.a: $(FUZZ_LIB_SRC:%.c=$(FUZZ_BIN)/drv/%.o)
	rm -f $@
	$(AR) rcs $@ $^

# $(call FUZZ_LINK,NAME,OBJDIR,BINDIR,CC,LDFLAGS,MORE-OBJECTS)
define FUZZ_LINK
$(3)/fuzz_$(1): $(2)/$(FUZZ_DIR)/fuzz_$(1).o \
    $(patsubst %,$(2)/$(FUZZ_DIR)/%.o,$(FUZZ_EXTRA_$(1)) $(6)) $(2)/libpostie-fuzz.a
	$$($(4)) $$($(5)) -o $$@ $$^ $$(FUZZ_PKGLIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_LINK,$(t),$(FUZZ_BIN)/lf,$(FUZZ_BIN),FUZZ_CC,FUZZ_LF_LDFLAGS,)))
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_LINK,$(t),$(FUZZ_BIN)/drv,$(FUZZ_BIN)/drv,FUZZ_DRV_CC,FUZZ_DRV_LDFLAGS,driver)))

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_BIN)/fuzz_%)
fuzz-drivers: $(FUZZ_TARGETS:%=$(FUZZ_BIN)/drv/fuzz_%)

# make fuzz: each target for FUZZ_SECONDS; new inputs go to bin/corpus-NAME (the
# seed corpus in git is only read); `make -j2 fuzz` runs two targets at a time.
fuzz: $(FUZZ_TARGETS:%=fuzz-run-%)
	@echo "fuzz: $(FUZZ_TARGETS): $(FUZZ_SECONDS) s each, no finding"

fuzz-run-%: $(FUZZ_BIN)/fuzz_%
	@mkdir -p $(FUZZ_BIN)/corpus-$*
	@tmp=$$(mktemp -d "$$( [ -w /dev/shm ] && echo /dev/shm || echo $${TMPDIR:-/tmp} )/postie-fuzz.XXXXXX") || exit 1; \
	mkdir $$tmp/art; \
	echo "fuzz: $* for $(FUZZ_SECONDS) s (log in $(FUZZ_BIN)/fuzz_$*.log)"; \
	POSTIE_FUZZ_TMP=$$tmp/spool ./$(FUZZ_BIN)/fuzz_$* $(FUZZ_RUNFLAGS) $(FUZZ_QUIET_$*) \
		-max_len=$(FUZZ_MAXLEN_$*) -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$$tmp/art/ \
		$(FUZZ_BIN)/corpus-$* $(FUZZ_DIR)/corpus/$* $(wildcard $(FUZZ_DIR)/regressions/$*) \
		>$(FUZZ_BIN)/fuzz_$*.log 2>&1; \
	rc=$$?; new=; \
	for f in $$tmp/art/*; do \
		[ -f "$$f" ] || continue; \
		b=$$(basename "$$f" | sed 's/^\(crash\|leak\|timeout\|oom\)-/\1-$*-/'); \
		mv "$$f" $(FUZZ_BIN)/$$b; new="$$new $(FUZZ_BIN)/$$b"; \
	done; \
	rm -rf "$$tmp"; \
	sed -n -e 's/^stat::number_of_executed_units: */runs /p' -e 's/^stat::peak_rss_mb: */peak RSS MB /p' \
		-e 's/.*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/cov \1 ft \2 corpus \3/p' \
		$(FUZZ_BIN)/fuzz_$*.log | tail -n 3 | tr '\n' ' ' | sed 's/^/fuzz: $*: /; s/ *$$/\n/'; \
	if [ $$rc != 0 ] || [ -n "$$new" ]; then \
		echo "fuzz: $*: FAILED (exit $$rc); the end of its log:"; \
		grep -a -v -E '^#[0-9]+|^INFO:' $(FUZZ_BIN)/fuzz_$*.log | tail -n 60 | sed 's/^/    /'; \
		for f in $$new; do echo "fuzz: $*: reproduce: ./$(FUZZ_BIN)/fuzz_$* $$f"; done; \
		exit 1; \
	fi

fuzz-clean:
	rm -rf $(FUZZ_BIN)

# ------------------------------------------------------------ check-asan

ASAN_DIR     ?= build-asan
ASAN_CFLAGS  ?= -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -O1 -g
ASAN_LDFLAGS ?= -fsanitize=address,undefined
# Reports go to files (one per process, ASAN_DIR/sanitizer-logs/) so that a
# finding in a process no test watches (a daemon, a background runner) is not
# lost, and the tests' stderr checks see only what the programs print; every
# finding also aborts the process.  Any report fails check-asan.  Tests can
# tell from POSTIE_SANITIZER=asan that RSS is not the program's own and that
# valgrind cannot run these binaries.
ASAN_LOGS     = $(CURDIR)/$(ASAN_DIR)/sanitizer-logs
ASAN_ENV      = POSTIE_SANITIZER=asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:log_path=$(ASAN_LOGS)/asan \
	UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$(ASAN_LOGS)/ubsan
# Scripts to leave out under ASan (none so far); e.g. ASAN_SKIP=tests/bench.t
ASAN_SKIP    ?=
ASAN_TESTS    = tests/unit/run.t $(filter-out $(ASAN_SKIP),$(sort $(wildcard tests/*.t)))

# A fresh copy of the sources (git's view: tracked and untracked files, not
# ignored ones, so no object or binary of the in-tree build), built there.
check-asan:
	rm -rf $(ASAN_DIR)
	mkdir -p $(ASAN_DIR)
	echo '*' >$(ASAN_DIR)/.gitignore
	tests/lib/copy-sources $(ASAN_DIR) '($(ASAN_DIR)|tests/fuzz/bin)/'
	$(MAKE) -C $(ASAN_DIR) CC="$(CC)" CFLAGS="$(ASAN_CFLAGS)" LDFLAGS="$(ASAN_LDFLAGS)" \
		all $(UNIT_BIN)
	mkdir -p $(ASAN_LOGS) && chmod 1777 $(ASAN_LOGS)
	@cd $(ASAN_DIR) && env $(ASAN_ENV) prove $(ASAN_TESTS); rc=$$?; \
	logs=$$(find $(ASAN_LOGS) -type f -size +0 | sort); \
	if [ -n "$$logs" ]; then \
		rc=1; echo "check-asan: $$(echo "$$logs" | wc -l) sanitizer reports in $(ASAN_LOGS); the distinct ones:"; \
		for f in $$logs; do \
			sum=$$(grep -a -m 1 -E 'SUMMARY|runtime error' $$f); \
			case " $$seen " in *" $$(echo "$$sum" | cksum | cut -d' ' -f1) "*) continue ;; esac; \
			seen="$$seen $$(echo "$$sum" | cksum | cut -d' ' -f1)"; \
			echo "---- $$f"; head -n 40 $$f | sed 's/^/    /'; \
		done; \
	fi; \
	[ $$rc = 0 ] && echo "check-asan: all tests pass, no sanitizer report" || echo "check-asan: FAILED"; \
	exit $$rc

# -------------------------------------------------------- check-valgrind

VG_TESTS ?= $(sort $(wildcard tests/*.t))

# The wrappers live in a temp dir as VGDIR/sendmail and VGDIR/popfetch; every run
# writes VGDIR/logs/vg.PID.log, and any error found (non-empty log) fails.  Tests
# see POSTIE_SANITIZER=valgrind (RSS and timings are valgrind's, not the program's).
check-valgrind: all
	@command -v valgrind >/dev/null || { echo "check-valgrind: valgrind not installed"; exit 1; }
	@vg=$$(mktemp -d "$${TMPDIR:-/tmp}/postie-vg.XXXXXX") || exit 1; \
	mkdir -p $$vg/logs; \
	cp tests/lib/valgrind-wrap $$vg/sendmail; cp tests/lib/valgrind-wrap $$vg/popfetch; \
	mkdir -p $$vg/argv0; chmod 755 $$vg $$vg/sendmail $$vg/popfetch; chmod 1777 $$vg/logs $$vg/argv0; \
	printf '%s\n' "POSTIE_REAL_SENDMAIL=$(CURDIR)/sendmail/sendmail" \
		"POSTIE_REAL_POPFETCH=$(CURDIR)/popfetch/popfetch" \
		"POSTIE_VALGRIND_LOGS=$$vg/logs" >$$vg/valgrind-wrap.conf; \
	POSTIE_SENDMAIL=$$vg/sendmail POSTIE_POPFETCH=$$vg/popfetch POSTIE_SANITIZER=valgrind \
	POSTIE_CMD_TIMEOUT=$${POSTIE_CMD_TIMEOUT:-180} prove $(VG_TESTS); rc=$$?; \
	runs=$$(ls $$vg/logs | wc -l); bad=$$(find $$vg/logs -type f -size +0 | sort); \
	echo "check-valgrind: $$runs runs under valgrind"; \
	for f in $$bad; do echo "check-valgrind: errors in $$f:"; sed 's/^/    /' $$f | head -n 80; done; \
	if [ -n "$$bad" ]; then rc=1; echo "check-valgrind: FAILED: valgrind found errors"; \
	elif [ "$$runs" = 0 ]; then rc=1; echo "check-valgrind: FAILED: no run went through valgrind (does tests/lib/lib.sh honour POSTIE_SENDMAIL and POSTIE_POPFETCH?)"; fi; \
	[ -n "$$bad" ] || rm -rf "$$vg"; \
	exit $$rc

.PHONY: fuzz fuzz-build fuzz-drivers fuzz-clean fuzz-have-cc check-asan check-valgrind
