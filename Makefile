# ocirt-rootless build. `make` builds the runtime; `make check` runs the
# whole suite (as root it creates an unprivileged test user and runs every
# test as that user); `make demo` builds a busybox bundle and runs it.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
VERSION := 0.1.0
CC ?= cc
PKG_CONFIG ?= pkg-config

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes \
	-Wstrict-prototypes -Wformat=2 -Wformat-nonliteral -Wswitch-enum \
	-Wswitch-default -Wno-missing-field-initializers
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE -DOCR_VERSION=\"$(VERSION)\" \
	$(WARNINGS) $(CFLAGS) $(shell $(PKG_CONFIG) --cflags jansson libseccomp libcap)
LIBS := $(shell $(PKG_CONFIG) --libs jansson libseccomp libcap)

BUILD ?= build
RUNTIME := $(BUILD)/ocirt-rootless

CORE_SRCS := $(filter-out src/main.c src/cmd-%.c, $(wildcard src/*.c))
CMD_SRCS := src/main.c $(wildcard src/cmd-*.c)
CORE_OBJS := $(CORE_SRCS:src/%.c=$(BUILD)/obj/%.o)
CMD_OBJS := $(CMD_SRCS:src/%.c=$(BUILD)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%)

.PHONY: all install clean check check-unit check-bats check-asan demo deps \
	bundle format format-check bench

all: $(RUNTIME)

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libocr.a: $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(RUNTIME): $(CMD_OBJS) $(BUILD)/libocr.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(CMD_OBJS) $(BUILD)/libocr.a $(LIBS)

$(BUILD)/unit/%: tests/unit/%.c $(BUILD)/libocr.a tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(BUILD)/libocr.a $(LIBS)

install: $(RUNTIME)
	install -D -m 0755 $(RUNTIME) $(DESTDIR)$(BINDIR)/ocirt-rootless
	install -D -m 0644 ocirt-rootless.1 $(DESTDIR)$(MANDIR)/man1/ocirt-rootless.1

# Debian build and test dependencies (run as root).
deps:
	scripts/install-deps.sh

# A busybox-static bundle in $(BUILD)/bundle, made by the unprivileged user.
bundle: $(RUNTIME)
	scripts/make-bundle.sh $(BUILD)/bundle

demo: $(RUNTIME)
	scripts/demo.sh

check-unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do $$t || exit 1; done

# The binaries of this BUILD (check-asan's too) are the ones tested.
check: $(RUNTIME) $(UNIT_BINS)
	OCIRT=$(abspath $(RUNTIME)) OCIRT_UNIT_DIR=$(abspath $(BUILD)/unit) tests/run-tests.sh

check-asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" check

FORMAT_SRCS = $(wildcard src/*.[ch] net/*.[ch] helpers/newuidmap-shim/*.c tests/unit/*.[ch] tests/tools/*.c fuzz/*.[ch])

format:
	clang-format -i $(FORMAT_SRCS)

format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

# The network helper is a prerequisite further down, where it is defined.
bench: $(RUNTIME)
	OCIRT=$(abspath $(RUNTIME)) OCIRT_NET_HELPER=$(abspath $(NET_HELPER)) bench/run.sh

clean:
	rm -rf build build-asan

# newuidmap-shim: the id-map helper for hosts without shadow's newuidmap
# (helpers/newuidmap-shim/README.md). Its trusted code is its own file plus
# src/subid.c and src/error.c; libsubid is dlopen()ed when installed.
SHIM := $(BUILD)/newuidmap-shim
SHIM_SRCS := helpers/newuidmap-shim/newuidmap-shim.c src/subid.c src/error.c
SHIM_HARDEN := -fPIE -pie -fstack-protector-strong -D_FORTIFY_SOURCE=2 -Wl,-z,relro,-z,now
.PHONY: shim install-shim
all: $(SHIM)
check: $(SHIM)
shim: $(SHIM)
$(SHIM): $(SHIM_SRCS) src/subid.h src/error.h Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SHIM_HARDEN) -iquote src $(LDFLAGS) -o $@ $(SHIM_SRCS) $(shell $(PKG_CONFIG) --libs libcap) -ldl
# As root: the shim with the two capabilities it needs (not setuid).
install-shim: $(SHIM)
	install -D -m 0755 $(SHIM) $(DESTDIR)$(BINDIR)/newuidmap-shim
	setcap cap_setuid,cap_setgid+ep $(DESTDIR)$(BINDIR)/newuidmap-shim

# libFuzzer targets (fuzz/, clang with ASan + UBSan): `make fuzz` runs each
# for FUZZ_SECONDS (default 60) and fails on a crash, leak or timeout;
# `make fuzz-quick` is the same for 10 s each (CI). Crash inputs land in
# $(FUZZ_BUILD)/artifacts/; a fixed one goes to fuzz/regressions/TARGET/,
# which tests/unit/test-fuzz-regressions replays in the normal build.
FUZZ_CC ?= clang
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := spec process state idmap mountopts signal
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz-%)
# Only the code under test (and what it links against) is instrumented.
FUZZ_OBJS := $(patsubst %,$(FUZZ_BUILD)/obj/%.o,spec state mount idmap signals utils resolve error log \
	$(if $(wildcard src/subid.c),subid))
.PHONY: fuzz fuzz-quick fuzz-build
fuzz-build:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) CFLAGS="-O1 -g -fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
		$(FUZZ_OBJS)
	$(MAKE) $(FUZZ_BINS)
$(FUZZ_BUILD)/fuzz-%: fuzz/fuzz-%.c fuzz/fuzz-targets.h $(FUZZ_OBJS)
	$(FUZZ_CC) $(ALL_CFLAGS) -O1 -g -fsanitize=fuzzer $(FUZZ_SAN) -iquote src -o $@ $< \
		$(FUZZ_OBJS) $(LIBS)
fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)
fuzz-quick:
	$(MAKE) fuzz FUZZ_SECONDS=10
# The replay test has every committed input compiled in, so it runs from
# any directory (run-tests.sh copies unit tests alone).
FUZZ_INPUTS := $(sort $(wildcard fuzz/regressions/*/* fuzz/corpus/*/*))
$(BUILD)/fuzz-inputs.h: fuzz/embed.sh $(FUZZ_INPUTS)
	@mkdir -p $(dir $@)
	fuzz/embed.sh $(FUZZ_INPUTS) >$@.tmp && mv $@.tmp $@
$(BUILD)/unit/test-fuzz-regressions: tests/unit/test-fuzz-regressions.c $(BUILD)/fuzz-inputs.h \
		fuzz/fuzz-targets.h $(BUILD)/libocr.a tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -iquote src -iquote $(BUILD) $(LDFLAGS) -o $@ $< $(BUILD)/libocr.a $(LIBS)

# Cgroups (src/cgroup*.c): libm for the cpu.shares -> cpu.weight fit. The
# systemd manager dlopen()s libsystemd.so.0 only when it is used.
LIBS += -lm

# ocirt-rootless-net: the libslirp network helper (net/, issue 7), started
# by create for --network slirp. GLib and libslirp are linked into it
# only, never into the runtime; it shares src/utils.c (with src/resolve.c,
# which write_proc_file uses) and src/error.c.
NET_HELPER := $(BUILD)/ocirt-rootless-net
NET_SRCS := $(wildcard net/*.c)
NET_OBJS := $(NET_SRCS:net/%.c=$(BUILD)/net/%.o) $(BUILD)/net/utils.o $(BUILD)/net/resolve.o $(BUILD)/net/error.o
NET_PKGS := glib-2.0 slirp libseccomp libcap jansson
.PHONY: net-helper
all: $(NET_HELPER)
check: $(NET_HELPER)
bench: $(NET_HELPER)
net-helper: $(NET_HELPER)
$(BUILD)/net/%.o: net/%.c net/net.h src/utils.h src/error.h Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -iquote src $(shell $(PKG_CONFIG) --cflags $(NET_PKGS)) -c -o $@ $<
$(BUILD)/net/%.o: src/%.c src/utils.h src/resolve.h src/error.h Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
$(NET_HELPER): $(NET_OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(NET_OBJS) $(shell $(PKG_CONFIG) --libs $(NET_PKGS))
install: install-net
.PHONY: install-net
install-net: $(NET_HELPER)
	install -D -m 0755 $(NET_HELPER) $(DESTDIR)$(BINDIR)/ocirt-rootless-net

# `bundle` unpacks image layers with libarchive: image.c includes its headers
# and dlopen()s libarchive.so.13 when it unpacks, because linking it made
# every start slower (`ocirt-rootless --version`: 1.0 ms, 2.7 ms linked).
ALL_CFLAGS += $(shell $(PKG_CONFIG) --cflags libarchive)

# The VM tier (tests/vm/README.md): the cgroup tests with real systemd and
# cgroup v2 in a Debian 12 guest under qemu TCG. As root (debootstrap);
# the image is cached in /var/tmp/ocirt-vm.
.PHONY: check-vm
check-vm: $(RUNTIME)
	tests/vm/run-vm.sh $(RUNTIME)

# recvtty (tests/tools/recvtty.c): the receiving end of --console-socket and
# of a seccomp listenerPath for the bats tests; run-tests.sh copies it next
# to the runtime and exports OCIRT_RECVTTY.
check: $(BUILD)/recvtty
$(BUILD)/recvtty: tests/tools/recvtty.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<

# Rootless network throughput against slirp4netns and pasta (bench/net.sh;
# iperf3, slirp4netns and passt installed). Not part of check.
.PHONY: bench-net
bench-net: $(RUNTIME) $(NET_HELPER)
	OCIRT=$(abspath $(RUNTIME)) OCIRT_NET_HELPER=$(abspath $(NET_HELPER)) bench/net.sh

# Layered rootfs cost: plain directory vs kernel overlayfs vs fuse-overlayfs
# (bench/overlay.sh; not part of make check).
.PHONY: bench-overlay
bench-overlay: $(RUNTIME)
	OCIRT=$(abspath $(RUNTIME)) bench/overlay.sh

# no-openat2 (tests/tools/no-openat2.c): runs a command with openat2
# answering ENOSYS, as on kernels < 5.6, for tests/bats/compat.bats;
# run-tests.sh copies it next to the runtime and exports OCIRT_NO_OPENAT2.
check: $(BUILD)/no-openat2
$(BUILD)/no-openat2: tests/tools/no-openat2.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(shell $(PKG_CONFIG) --libs libseccomp)
