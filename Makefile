# vpp-ipfix: the two commands of README.md, and the pieces they are made of.
#
#   make demo   set up, build, run the flowprobe-like C exporter over UDP to nfdump's
#               nfcapd for a few seconds, and compare what it sent with what nfdump,
#               tshark and libfixbuf's ipfixDump decode
#   make test   set up, then every test: format, lints, Rust and C tests, tshark,
#               valgrind, AddressSanitizer, a short AFL++ run of fuzz/, then test-vpp
#               and test-vpp-asan
#   make test-vpp  build a real VPP with vpp-ipfix in libvnet and run VPP's own IPFIX
#               tests (flowprobe, ipfix-export, NAT logging); skips when there is no
#               VPP (VPP_SRC unset, no snapshot in VPP_SNAPSHOT_DIR) or no shim yet
#   make test-vpp-asan  the same on a second VPP build with AddressSanitizer
#
#   make install [PREFIX=/usr/local] [LIBDIR=...] [INCLUDEDIR=...] [PKGCONFIGDIR=...]
#                [DESTDIR=]
#               build the release library when it is out of date, then install
#               libvpp_ipfix.so.X.Y.Z (with the .so.X and .so links), libvpp_ipfix.a,
#               vpp_ipfix.h and vpp-ipfix.pc; `make uninstall` with the same variables
#               removes exactly those files

CARGO ?= cargo
DEMO_THREADS ?= 2
DEMO_SECONDS ?= 3
DEMO_RATE ?= 50000
DEMO_DIR ?= target/demo

.PHONY: all setup build demo test test-vpp test-vpp-asan lint clean install uninstall

all: build

setup:
	@scripts/setup-debian.sh

build:
	$(CARGO) build --release

demo: setup build
	$(MAKE) -s -C ffi-tests LIBDIR=$(CURDIR)/target/release OUT=$(CURDIR)/target/demo
	@scripts/demo.sh target/demo/flowprobe_like $(DEMO_THREADS) $(DEMO_SECONDS) \
	  $(DEMO_RATE) $(DEMO_DIR)

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	cd fuzz && $(CARGO) fmt --check
	cd fuzz && CARGO_TARGET_DIR=target/clippy $(CARGO) clippy --all-targets --features afl \
	  -- -D warnings

# fuzz/ (its own workspace, not built by the cargo commands above): the corpus replayed,
# then each AFL++ target for FUZZ_EXECS executions (scripts/fuzz-smoke.sh).
test: setup lint
	$(CARGO) test
	scripts/fuzz-smoke.sh
	$(MAKE) --no-print-directory test-vpp
	$(MAKE) --no-print-directory test-vpp-asan

# Real VPP (scripts/test-vpp.sh): the tree is VPP_SRC when set, else the snapshot in
# VPP_SNAPSHOT_DIR unpacked once into VPP_WORK, where VPP is built incrementally (the
# cache between runs). VPP_IPFIX_BASELINE=1 builds and tests VPP's own exporter instead.
VPP_WORK ?= $(CURDIR)/target/vpp
VPP_SNAPSHOT_DIR ?= $(CURDIR)/../shared/vpp
VPP_SRC ?=

test-vpp:
	VPP_WORK="$(VPP_WORK)" VPP_SNAPSHOT_DIR="$(VPP_SNAPSHOT_DIR)" VPP_SRC="$(VPP_SRC)" \
	  scripts/test-vpp.sh

# The same VPP tests on a second VPP build with AddressSanitizer (VPP's own
# -DVPP_ENABLE_SANITIZE_ADDR=ON), our library in its libvnet.
test-vpp-asan:
	VPP_SANITIZE=address VPP_WORK="$(VPP_WORK)" VPP_SNAPSHOT_DIR="$(VPP_SNAPSHOT_DIR)" \
	  VPP_SRC="$(VPP_SRC)" scripts/test-vpp.sh

clean:
	$(CARGO) clean

# Installation. The version is the [package] version of Cargo.toml.
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=
INSTALL ?= install

VERSION := $(shell awk -F'"' '/^\[/ { p = ($$0 == "[package]") } \
			       p && /^version *=/ { print $$2; exit }' Cargo.toml)
VERSION_NUMBERS := $(subst ., ,$(firstword $(subst -, ,$(subst +, ,$(VERSION)))))
VERSION_MAJOR := $(word 1,$(VERSION_NUMBERS))
VERSION_MINOR := $(word 2,$(VERSION_NUMBERS))
VERSION_PATCH := $(word 3,$(VERSION_NUMBERS))

RELEASE_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)/release
RELEASE_SO := $(RELEASE_DIR)/libvpp_ipfix.so
RELEASE_A := $(RELEASE_DIR)/libvpp_ipfix.a
SO_REAL := libvpp_ipfix.so.$(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)
SO_MAJOR := libvpp_ipfix.so.$(VERSION_MAJOR)
LIB_SOURCES := Cargo.toml Cargo.lock build.rs cbindgen.toml \
	       $(wildcard src/*.rs src/*/*.rs src/*/*/*.rs)

INSTALLED := $(addprefix $(DESTDIR)$(LIBDIR)/,$(SO_REAL) $(SO_MAJOR) libvpp_ipfix.so \
				libvpp_ipfix.a) \
	     $(DESTDIR)$(INCLUDEDIR)/vpp_ipfix.h $(DESTDIR)$(PKGCONFIGDIR)/vpp-ipfix.pc

# Rebuilt only when a source is newer, so `make && sudo make install` needs no cargo
# as root.
$(RELEASE_SO) $(RELEASE_A): $(LIB_SOURCES)
	$(CARGO) build --release

install: $(RELEASE_SO) $(RELEASE_A)
	@test -n "$(VERSION_PATCH)" || { echo "install: no version in Cargo.toml" >&2; exit 1; }
	@# Directories that exist keep their modes (install -d would chmod them).
	for dir in $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR); do \
	  test -d $$dir || $(INSTALL) -d -m 755 $$dir || exit 1; \
	done
	$(INSTALL) -m 755 $(RELEASE_SO) $(DESTDIR)$(LIBDIR)/$(SO_REAL)
	ln -sfn $(SO_REAL) $(DESTDIR)$(LIBDIR)/$(SO_MAJOR)
	ln -sfn $(SO_MAJOR) $(DESTDIR)$(LIBDIR)/libvpp_ipfix.so
	$(INSTALL) -m 644 $(RELEASE_A) $(DESTDIR)$(LIBDIR)/libvpp_ipfix.a
	$(INSTALL) -m 644 include/vpp_ipfix.h $(DESTDIR)$(INCLUDEDIR)/vpp_ipfix.h
	pc=$$(mktemp) && \
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    vpp-ipfix.pc.in > $$pc && \
	$(INSTALL) -m 644 $$pc $(DESTDIR)$(PKGCONFIGDIR)/vpp-ipfix.pc; \
	status=$$?; rm -f $$pc; exit $$status

uninstall:
	@test -n "$(VERSION_PATCH)" || { echo "uninstall: no version in Cargo.toml" >&2; exit 1; }
	rm -f $(INSTALLED)

# Benchmarks (issue 4): builds the release library and the benchmarks, counts
# instructions under callgrind, times every case, and prints the table of
# docs/performance.md (also written to target/bench/table.md). Needs valgrind, and
# libfixbuf-dev for the libfixbuf row. BENCH_ARGS passes options to benches/run.sh:
# --runs R, --records N, --only SUBSTRING, --no-instr. Criterion alone:
# `cargo bench --bench rust_api`.
.PHONY: bench
bench: setup
	benches/run.sh $(BENCH_ARGS)
