# sysfeed — see README.md. `make run` and `make check` are the two commands.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/sysfeed
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DESTDIR    ?=
PKG_CONFIG ?= pkg-config
CC         ?= cc
PYTHON     ?= /usr/bin/python3
VERSION    := 0.1.0

# Sanitized builds live apart so that switching does not mix objects.
ifdef SANITIZE
BUILD ?= build/sanitize
else
BUILD ?= build
endif

PKGS := libmicrohttpd libsystemd libcjson zlib gnutls
# Loaded with dlopen() on first need, so that a daemon that does not use
# them never maps them: libcurl when a webhook is first sent
# (daemon/curl_dl.c), SQLite when history opens its file (daemon/store_db.c),
# libcrypt when a users file is read (daemon/auth.c). Their headers at
# build time, their libraries at run time.
DL_PKGS := libcurl sqlite3 libcrypt

# `make V=1` shows the commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-Wwrite-strings -Wno-unused-parameter
CFLAGS ?= -O2 -g
# Includes go one way, lib -> collectors -> daemon: a file sees the headers
# of its own floor and those below (tests and tools see all three).
FLOOR_INC = $(if $(filter lib/%,$<),-Ilib,$(if $(filter collectors/%,$<),-Ilib -Icollectors,-Ilib \
	-Icollectors -Idaemon))
FINAL_CPPFLAGS = $(CPPFLAGS) -D_GNU_SOURCE -DSYSFEED_VERSION='"$(VERSION)"' $(FLOOR_INC) \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) $(DL_PKGS))
FINAL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) -MMD -MP
FINAL_LDFLAGS = $(LDFLAGS) $(RELR_LDFLAGS)
# Relative relocations packed (DT_RELR, binutils 2.38 and glibc 2.36 on):
# the 1,600 of the PIE's pointer tables took 38 KB of the pages every start
# reads, 0.6 KB so. Left out when the toolchain does not know it.
RELR_LDFLAGS := $(shell printf 'int main(void){return 0;}' | $(CC) -x c - -o /dev/null \
	-Wl,-z,pack-relative-relocs -Wl,--fatal-warnings 2>/dev/null && echo -Wl,-z,pack-relative-relocs)
LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS)) -lpthread -lm
ifeq ($(WERROR),1)
FINAL_CFLAGS += -Werror
endif
ifdef SANITIZE
FINAL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
FINAL_LDFLAGS += -fsanitize=$(SANITIZE)
endif

LIB_SRCS := $(wildcard lib/*.c) $(wildcard collectors/*.c) $(filter-out daemon/main.c,$(wildcard daemon/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/assets_data.o
# uPlot, the page's one dependency, comes from npm (web/package-lock.json)
# and is embedded as vendor/ (generated into web/vendor/, so that
# --web-root web serves the same files). The panels are modules of their
# own under web/panels/, served as /panels/NAME.js.
WEB_VENDOR := web/vendor/uPlot.js web/vendor/uPlot.min.css
WEB_FILES := $(sort $(wildcard web/*.html web/*.js web/*.css web/panels/*.js)) $(WEB_VENDOR)
NPM ?= npm
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)

# Debian packages that building and testing need (`make deps` installs them).
DEB_DEPS := gcc make pkg-config libmicrohttpd-dev libsystemd-dev libcjson-dev libcmocka-dev zlib1g-dev libcurl4-gnutls-dev \
	libgnutls28-dev libcrypt-dev openssl libsqlite3-dev \
	python3 python3-pytest curl procps valgrind iproute2 systemd util-linux man-db libfuse3-dev fuse3 prometheus \
	faketime
# What `make deb`, `make rpm` and `make check-system` need besides (`make deps-system`).
PKG_DEPS := debhelper dpkg-dev lintian rpm git debootstrap systemd-container man-db

# Packages land in build/pkg/. DEB_VERSION other than the changelog's gets a
# changelog entry of its own (the system test builds a newer one to upgrade to).
PKGDIR      := build/pkg
DEB_VERSION ?= $(VERSION)-1
DEB_ARCH     = $(shell dpkg --print-architecture)
SYSTEM_CACHE ?= /var/cache/sysfeed-test

.PHONY: all run check check-unit check-integration check-valgrind check-docs bench deps install clean \
	format tests deb rpm check-system deps-system

all: $(BUILD)/sysfeed $(BUILD)/fields

$(BUILD)/sysfeed: $(BUILD)/daemon/main.o $(BUILD)/libsysfeed.a
	@echo "  LD      $@"
	$(Q)$(CC) $(FINAL_CFLAGS) $(FINAL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/libsysfeed.a: $(LIB_OBJS)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(FINAL_CPPFLAGS) $(FINAL_CFLAGS) -c -o $@ $<

# Every payload field and Prometheus family of the topics with field tables
# (lib/fields.h), for the docs: `build/fields` (tab-separated) or
# `build/fields --markdown`.
$(BUILD)/fields: tools/fields.c $(BUILD)/libsysfeed.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(FINAL_CPPFLAGS) $(FINAL_CFLAGS) $(FINAL_LDFLAGS) -o $@ $< $(BUILD)/libsysfeed.a $(LIBS)

# The page is embedded into the binary: a small host tool writes a C file.
$(BUILD)/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(WARN) -O2 -o $@ $< -lz

$(BUILD)/assets_data.c: $(BUILD)/embed $(WEB_FILES)
	$(BUILD)/embed $@ $(WEB_FILES)

# npm ci when web/node_modules is missing or older than the lockfile.
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	@command -v $(NPM) >/dev/null || $(MAKE) --no-print-directory deps-node
	cd web && $(NPM) ci --no-audit --no-fund --loglevel=error
	@touch $@

# uPlot's minified build made an ES module: its one `var uPlot` exported.
web/vendor/uPlot.js: web/node_modules/.package-lock.json
	@mkdir -p $(dir $@)
	{ cat web/node_modules/uplot/dist/uPlot.iife.min.js && printf '\nexport default uPlot;\n'; } > $@.tmp
	mv $@.tmp $@

web/vendor/uPlot.min.css: web/node_modules/.package-lock.json
	@mkdir -p $(dir $@)
	cp web/node_modules/uplot/dist/uPlot.min.css $@

$(BUILD)/assets_data.o: $(BUILD)/assets_data.c
	@echo "  CC      $<"
	$(Q)$(CC) $(FINAL_CPPFLAGS) $(FINAL_CFLAGS) -c -o $@ $<

# Every unit test binary links the one main that runs the tests its file
# registered (tests/unit/unit.h).
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/tests/unit.o $(BUILD)/libsysfeed.a
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(FINAL_CPPFLAGS) $(FINAL_CFLAGS) $(FINAL_LDFLAGS) -o $@ $< $(BUILD)/tests/unit.o \
		$(BUILD)/libsysfeed.a \
		$(LIBS) $(shell $(PKG_CONFIG) --libs cmocka)

$(BUILD)/tests/unit.o: tests/unit/unit.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(FINAL_CPPFLAGS) $(FINAL_CFLAGS) -c -o $@ $<

# A FUSE filesystem whose statfs never answers, for the hung-mount tests.
$(BUILD)/tests/hangfs: tests/fuse/hangfs.c
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CPPFLAGS) $(FINAL_CFLAGS) $(FINAL_LDFLAGS) -o $@ $< \
		$(shell $(PKG_CONFIG) --cflags --libs fuse3)

$(BUILD)/tests/test_fs_hang: $(BUILD)/tests/hangfs

# A stand-in for NVIDIA's libnvidia-ml.so.1 that the gpu tests load through
# the collector's real dlopen() path (tests/lib/fake_nvml.c).
FAKE_NVML := $(BUILD)/tests/fake-nvml/libnvidia-ml.so.1
$(FAKE_NVML): tests/lib/fake_nvml.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) -std=c11 $(WARN) $(CFLAGS) $(if $(filter 1,$(WERROR)),-Werror) -fPIC -shared \
		-Wl,-soname,libnvidia-ml.so.1 -o $@ $<

$(BUILD)/tests/test_gpu: $(FAKE_NVML)

$(BUILD)/bench/%: tests/bench/%.c $(BUILD)/libsysfeed.a
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(FINAL_CPPFLAGS) $(FINAL_CFLAGS) $(FINAL_LDFLAGS) -o $@ $< $(BUILD)/libsysfeed.a $(LIBS)

# The history bench reads the file with SQLite itself; the auth tests make
# hashes with libcrypt.
$(BUILD)/bench/history_feed: LIBS += $(shell $(PKG_CONFIG) --libs sqlite3)
$(BUILD)/tests/test_auth: LIBS += $(shell $(PKG_CONFIG) --libs libcrypt)

tests: $(BUILD)/sysfeed $(BUILD)/fields $(UNIT_BINS) $(BENCH_BINS) $(FAKE_NVML)

run: deps
	$(MAKE) all
	$(BUILD)/sysfeed --listen 127.0.0.1:8390 --state-dir $(BUILD)/state

check: deps
	$(MAKE) tests
	$(MAKE) check-unit check-integration check-valgrind check-docs check-e2e

# docs/events.md and docs/metrics.md name every field of the golden payloads
# and every Prometheus family, and nothing else (tests/integration/test_docs.py);
# the layout in docs/development.md names every source file; man pages render
# without warnings; every config key is in the default config file and in
# sysfeed.conf(5); the build dependencies cover the libraries.
check-docs: $(BUILD)/sysfeed $(BUILD)/fields
	SYSFEED_BIN=$(BUILD)/sysfeed $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration/test_docs.py
	SYSFEED_BIN=$(BUILD)/sysfeed $(PYTHON) -m pytest -q -p no:cacheprovider tests/system/test_packages.py \
		-k 'man_page or every_key or build_dependencies or loaded_at_run_time or need_a_restart'

# Package builds leave out what needs root and /dev/fuse (UNIT_EXCLUDE).
UNIT_RUN = $(filter-out $(UNIT_EXCLUDE:%=$(BUILD)/tests/%),$(UNIT_BINS))
check-unit: $(UNIT_RUN)
	@set -e; for t in $(UNIT_RUN); do echo "== $$t"; SYSFEED_FIXTURES=tests/fixtures $$t; done

# A real Podman container (tests/integration/test_containers.py): Debian's
# podman with runc, and busybox-static for the image the test imports
# (no registry). Installed when running as root; skipped otherwise.
CONTAINER_DEPS := podman runc busybox-static
check-integration: $(BUILD)/sysfeed $(BENCH_BINS) $(BUILD)/tests/hangfs
	-@[ "$$(id -u)" != 0 ] || $(MAKE) --no-print-directory deps-containers
	SYSFEED_SANITIZE=$(SANITIZE) SYSFEED_BIN=$(BUILD)/sysfeed SYSFEED_BENCH=$(BUILD)/bench \
	SYSFEED_HANGFS=$(BUILD)/tests/hangfs $(PYTHON) -m pytest -q -p no:cacheprovider \
		tests/integration

check-valgrind: $(BUILD)/sysfeed $(BENCH_BINS)
	SYSFEED_BIN=$(BUILD)/sysfeed SYSFEED_BENCH=$(BUILD)/bench $(PYTHON) -m pytest -q -p no:cacheprovider \
		tests/valgrind

# The soak's length in `make bench` (issue 10's figure is after 3600 s).
SOAK_SECONDS ?= 600
# The peers tests/bench/wire measures beside sysfeed (skipped when missing;
# on a systemd host Debian starts their services: the bench runs its own).
BENCH_DEPS := prometheus-node-exporter glances python3-bottle strace
.PHONY: deps-bench
bench: deps
	-@$(MAKE) --no-print-directory deps-bench
	$(MAKE) tests
	SYSFEED_BIN=$(BUILD)/sysfeed SYSFEED_BENCH=$(BUILD)/bench tests/bench/run
	SYSFEED_BIN=$(BUILD)/sysfeed SYSFEED_BENCH=$(BUILD)/bench tests/bench/tick
	$(BUILD)/bench/alert_cost tests/fixtures 1000 2000
	SYSFEED_BIN=$(BUILD)/sysfeed SYSFEED_BENCH=$(BUILD)/bench $(PYTHON) tests/bench/alerts
	SYSFEED_BIN=$(BUILD)/sysfeed SYSFEED_BENCH=$(BUILD)/bench $(PYTHON) tests/bench/journal-flood
	$(BUILD)/bench/workload_cost -l v2
	$(BUILD)/bench/workload_cost -l v1
	-[ "$$(id -u)" != 0 ] || SYSFEED_BIN=$(BUILD)/sysfeed $(PYTHON) tests/bench/containers_latency.py
	-[ "$$(id -u)" != 0 ] || BENCH_REAL_SERVICES=0 SYSFEED_BENCH=$(BUILD)/bench $(PYTHON) tests/bench/real_workload.py
	-[ "$$(id -u)" != 0 ] || SYSFEED_BENCH=$(BUILD)/bench $(PYTHON) tests/bench/real_workload.py
	SYSFEED_BIN=$(BUILD)/sysfeed SYSFEED_BENCH=$(BUILD)/bench PYTHON=$(PYTHON) tests/bench/run-events
	SYSFEED_BIN=$(BUILD)/sysfeed SYSFEED_BENCH=$(BUILD)/bench $(PYTHON) tests/bench/abuse
	SYSFEED_BIN=$(BUILD)/sysfeed SYSFEED_BENCH=$(BUILD)/bench $(PYTHON) tests/bench/wire
	@$(MAKE) --no-print-directory deps-e2e tests/e2e/node_modules/.package-lock.json
	SYSFEED_BIN=$(BUILD)/sysfeed tests/bench/page
	SYSFEED_BIN=$(BUILD)/sysfeed SYSFEED_BENCH=$(BUILD)/bench $(PYTHON) tests/bench/history
	SYSFEED_BIN=$(BUILD)/sysfeed SYSFEED_BENCH=$(BUILD)/bench SOAK_SECONDS=$(SOAK_SECONDS) \
		$(PYTHON) tests/bench/soak

# The page in a real browser (tests/e2e): Debian's chromium driven by
# playwright-core from tests/e2e/package-lock.json (it never downloads a
# browser), against build/sysfeed, directly and behind nginx, HAProxy and
# Caddy; third-party SSE clients (npm, Chromium, Python) resuming through
# cut connections; the page over TLS with HTTP Basic. Tested with node 20.
E2E_DEPS := chromium nginx haproxy caddy python3 nodejs npm
E2E_TESTS := tests/e2e/page.test.mjs tests/e2e/panels.test.mjs tests/e2e/history.test.mjs tests/e2e/proxies.test.mjs tests/e2e/clients.test.mjs \
	tests/e2e/remote.test.mjs
.PHONY: check-e2e deps-e2e deps-node deps-fuzz deps-containers

check-e2e: $(BUILD)/sysfeed tests/e2e/node_modules/.package-lock.json
	@$(MAKE) --no-print-directory deps-e2e
	SYSFEED_BIN=$(BUILD)/sysfeed node --test $(E2E_TESTS)

tests/e2e/node_modules/.package-lock.json: tests/e2e/package.json tests/e2e/package-lock.json
	@command -v $(NPM) >/dev/null || $(MAKE) --no-print-directory deps-node
	cd tests/e2e && $(NPM) ci --no-audit --no-fund --loglevel=error
	@touch $@

# Installs the Debian packages a target needs (WANT), or says how to: deps
# for building and testing, deps-system for packaging and the system test,
# the others for what their names say. nodejs and npm count as present when
# `node` and `npm` run: NodeSource's nodejs package provides npm and
# conflicts with Debian's.
deps: WANT = $(DEB_DEPS)
deps-system: WANT = $(PKG_DEPS)
deps-e2e: WANT = $(E2E_DEPS)
deps-node: WANT = nodejs npm
deps-fuzz: WANT = $(FUZZ_DEPS)
deps-bench: WANT = $(BENCH_DEPS)
deps-containers: WANT = $(CONTAINER_DEPS)
deps deps-system deps-e2e deps-node deps-fuzz deps-bench deps-containers:
	@missing=$$(for p in $(WANT); do \
		case $$p in nodejs) command -v node >/dev/null && continue;; \
			npm) command -v npm >/dev/null && continue;; esac; \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done); \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "installing:" $$missing; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends $$missing; \
	else \
		echo "sysfeed: missing Debian packages; run: sudo apt-get install" $$missing >&2; \
		exit 1; \
	fi

# libFuzzer harnesses (tests/fuzz), one per parser and per input the HTTP
# side parses: clang with -fsanitize=fuzzer,address,undefined, against the
# sources built again with the same instrumentation into build/fuzz (other
# builds are untouched). `make fuzz` runs each for FUZZ_SECONDS, FUZZ_JOBS
# at a time, from a corpus seeded with the fixture trees, and prints
# libFuzzer's final counts; a crash or a broken invariant fails it and
# leaves the input in build/fuzz/artifacts/.
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= $(shell nproc 2>/dev/null || echo 1)
FUZZ_CC      ?= clang
FUZZ_BUILD   := build/fuzz
FUZZ_DEPS    := clang libclang-rt-dev llvm make pkg-config libmicrohttpd-dev libsystemd-dev \
	libgnutls28-dev libcrypt-dev \
	libcjson-dev zlib1g-dev libsqlite3-dev
FUZZ_CFLAGS   = -std=c11 $(WARN) -O1 -g -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all $(if $(filter 1,$(WERROR)),-Werror)
FUZZ_OBJS    := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
.PHONY: fuzz fuzz-build

fuzz: deps-fuzz
	$(MAKE) --no-print-directory fuzz-build
	tests/fuzz/seed $(FUZZ_BUILD)/corpus
	tests/fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)

fuzz-build: $(FUZZ_BINS)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(FUZZ_CC) $(FINAL_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/libsysfeed.a: $(FUZZ_OBJS)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BUILD)/libsysfeed.a
	@echo "  LD      $@"
	$(Q)$(FUZZ_CC) $(FINAL_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_BUILD)/libsysfeed.a $(LIBS)

# Installs what the packages hold. An existing config file is the admin's:
# it is kept, never overwritten (the packages treat it as a conffile). The
# service's user comes from sysusers.d/sysfeed.conf: installed into the
# running system (no DESTDIR), it is created there as the packages do.
install: $(BUILD)/sysfeed $(BUILD)/fields
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(SYSCONFDIR)/sysfeed
	install -m 0755 $(BUILD)/sysfeed $(DESTDIR)$(SBINDIR)/sysfeed
	install -m 0644 packaging/man/sysfeed.8 $(DESTDIR)$(MANDIR)/man8/sysfeed.8
	install -m 0644 packaging/man/sysfeed.conf.5 $(DESTDIR)$(MANDIR)/man5/sysfeed.conf.5
	sed -e 's|/usr/sbin/sysfeed|$(SBINDIR)/sysfeed|' -e 's|/etc/sysfeed/|$(SYSCONFDIR)/sysfeed/|' \
		packaging/systemd/sysfeed.service > $(DESTDIR)$(UNITDIR)/sysfeed.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/sysfeed.service
	install -m 0644 packaging/systemd/sysfeed.socket $(DESTDIR)$(UNITDIR)/sysfeed.socket
	install -d $(DESTDIR)$(LIBEXECDIR)/sysfeed
	install -m 0755 packaging/smart/sysfeed-smart $(DESTDIR)$(LIBEXECDIR)/sysfeed/sysfeed-smart
	sed -e 's|/usr/libexec/sysfeed/|$(LIBEXECDIR)/sysfeed/|' \
		packaging/systemd/sysfeed-smart.service > $(DESTDIR)$(UNITDIR)/sysfeed-smart.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/sysfeed-smart.service
	install -m 0644 packaging/systemd/sysfeed-smart.timer $(DESTDIR)$(UNITDIR)/sysfeed-smart.timer
	install -m 0644 packaging/systemd/sysfeed.sysusers $(DESTDIR)$(SYSUSERSDIR)/sysfeed.conf
	install -d $(DESTDIR)$(DOCDIR)/docs
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -m 0644 $(wildcard docs/*.md) $(DESTDIR)$(DOCDIR)/docs/
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null; then \
		echo systemd-sysusers $(SYSUSERSDIR)/sysfeed.conf; \
		systemd-sysusers $(SYSUSERSDIR)/sysfeed.conf; \
	fi
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/sysfeed/sysfeed.conf ]; then \
		echo "keeping $(DESTDIR)$(SYSCONFDIR)/sysfeed/sysfeed.conf (the default is packaging/sysfeed.conf)"; \
	else \
		echo install -m 0644 packaging/sysfeed.conf $(DESTDIR)$(SYSCONFDIR)/sysfeed/sysfeed.conf; \
		install -m 0644 packaging/sysfeed.conf $(DESTDIR)$(SYSCONFDIR)/sysfeed/sysfeed.conf; \
	fi

# The .deb, built by dpkg-buildpackage in a copy of the tree that has
# packaging/debian as debian/; lintian must find no error and no warning.
deb: deps deps-system
	$(MAKE) $(WEB_VENDOR)
	rm -rf $(PKGDIR)/deb-work
	mkdir -p $(PKGDIR)/deb-work/sysfeed
	packaging/srcfiles | tar --null -T - -cf - | tar -xf - -C $(PKGDIR)/deb-work/sysfeed
	cp -r packaging/debian $(PKGDIR)/deb-work/sysfeed/debian
	cd $(PKGDIR)/deb-work/sysfeed && \
	if [ "$$(dpkg-parsechangelog -S Version)" != "$(DEB_VERSION)" ]; then \
		{ printf 'sysfeed (%s) unstable; urgency=medium\n\n  * Built from the tree as %s.\n\n -- %s  %s\n\n' \
			'$(DEB_VERSION)' '$(DEB_VERSION)' "$$(dpkg-parsechangelog -S Maintainer)" "$$(date -R)"; \
		cat debian/changelog; } > debian/changelog.new && mv debian/changelog.new debian/changelog; \
	fi && \
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -b -us -uc
	mv $(PKGDIR)/deb-work/sysfeed_$(DEB_VERSION)_$(DEB_ARCH).deb $(PKGDIR)/
	rm -rf $(PKGDIR)/deb-work
	lintian --fail-on error,warning $(PKGDIR)/sysfeed_$(DEB_VERSION)_$(DEB_ARCH).deb
	@echo "built $(PKGDIR)/sysfeed_$(DEB_VERSION)_$(DEB_ARCH).deb"

# The .rpm, built by Debian's rpmbuild from a tarball of the same files
# (--nodeps: the BuildRequires are RPM names, installed here as .debs;
# bash runs brp-compress, which Debian 12 ships as a /bin/sh script using
# bash's `read -d`, so that man pages are compressed as on RPM systems).
rpm: deps deps-system
	$(MAKE) $(WEB_VENDOR)
	rm -rf $(PKGDIR)/rpm-work
	mkdir -p $(PKGDIR)/rpm-work/SOURCES
	packaging/srcfiles | tar --null -T - --transform='flags=r;s|^|sysfeed-$(VERSION)/|' \
		-czf $(PKGDIR)/rpm-work/SOURCES/sysfeed-$(VERSION).tar.gz
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL rpmbuild -bb --nodeps \
		$(if $(filter nocheck,$(DEB_BUILD_OPTIONS)),--nocheck) \
		--define '_topdir $(CURDIR)/$(PKGDIR)/rpm-work' --define 'sysfeed_version $(VERSION)' \
		--define '__brp_compress /bin/bash %{_rpmconfigdir}/brp-compress %{_prefix}' \
		packaging/rpm/sysfeed.spec
	mv $(PKGDIR)/rpm-work/RPMS/*/sysfeed-$(VERSION)-1.*.rpm $(PKGDIR)/
	rm -rf $(PKGDIR)/rpm-work

# The packages on a booted Debian 12 (tests/system, as root): a second .deb
# with a higher version is the upgrade. The first run fills SYSTEM_CACHE.
# Package builds run the unit tests unless DEB_BUILD_OPTIONS has nocheck (for
# the .rpm too); here they do not, as `make check` runs them.
check-system: deps deps-system $(BUILD)/sysfeed
	DEB_BUILD_OPTIONS=nocheck $(MAKE) deb rpm
	DEB_BUILD_OPTIONS=nocheck $(MAKE) deb DEB_VERSION=$(VERSION)+systest1-1
	SYSFEED_BIN=$(BUILD)/sysfeed SYSFEED_VERSION=$(VERSION) SYSFEED_PKGDIR=$(PKGDIR) \
	SYSFEED_DEB=$(PKGDIR)/sysfeed_$(DEB_VERSION)_$(DEB_ARCH).deb \
	SYSFEED_DEB_NEW=$(PKGDIR)/sysfeed_$(VERSION)+systest1-1_$(DEB_ARCH).deb \
	SYSTEM_CACHE=$(SYSTEM_CACHE) $(PYTHON) -m pytest -q -s -p no:cacheprovider tests/system

format:
	clang-format -i lib/*.c lib/*.h daemon/*.c daemon/*.h collectors/*.c collectors/*.h tools/*.c tests/unit/*.c \
		tests/unit/*.h tests/bench/*.c tests/bench/*.h tests/fuse/*.c tests/fuzz/*.c tests/fuzz/*.h

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
