# vpp-ipfix: the two commands of README.md, and the pieces they are made of.
#
#   make demo   set up, build, run the flowprobe-like C exporter over UDP to nfdump's
#               nfcapd for a few seconds, and compare what it sent with what nfdump,
#               tshark and libfixbuf's ipfixDump decode
#   make test   set up, then every test: format, lints, Rust and C tests, tshark,
#               valgrind, AddressSanitizer
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

.PHONY: all setup build demo test lint clean install uninstall

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

test: setup lint
	$(CARGO) test

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
