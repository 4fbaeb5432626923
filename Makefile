# vpp-ipfix: the two commands of README.md, and the pieces they are made of.
#
#   make demo   set up, build, run the flowprobe-like C exporter, summarise its pcap
#   make test   set up, then every test: format, lints, Rust and C tests, tshark,
#               valgrind, AddressSanitizer

CARGO ?= cargo
DEMO_THREADS ?= 2
DEMO_RECORDS ?= 200000
DEMO_PCAP ?= target/demo/flowprobe_like.pcap

.PHONY: all setup build demo test lint clean

all: build

setup:
	@scripts/setup-debian.sh

build:
	$(CARGO) build --release

demo: setup build
	$(MAKE) -s -C ffi-tests LIBDIR=$(CURDIR)/target/release OUT=$(CURDIR)/target/demo
	@scripts/demo.sh target/demo/flowprobe_like $(DEMO_THREADS) $(DEMO_RECORDS) $(DEMO_PCAP)

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

test: setup lint
	$(CARGO) test

clean:
	$(CARGO) clean
