# sysfeed — see README.md. `make run` and `make check` are the two commands.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR    ?=
PKG_CONFIG ?= pkg-config
CC         ?= cc
PYTHON     ?= python3
VERSION    := 0.1.0

# Sanitized builds live apart so that switching does not mix objects.
ifdef SANITIZE
BUILD ?= build/sanitize
else
BUILD ?= build
endif

PKGS := libmicrohttpd libsystemd libcjson zlib

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-Wwrite-strings -Wno-unused-parameter
CFLAGS ?= -O2 -g
FINAL_CPPFLAGS = $(CPPFLAGS) -D_GNU_SOURCE -DSYSFEED_VERSION='"$(VERSION)"' -Idaemon -Icollectors \
	$(shell $(PKG_CONFIG) --cflags $(PKGS))
FINAL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) -MMD -MP
FINAL_LDFLAGS = $(LDFLAGS)
LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS)) -lpthread -lm
ifeq ($(WERROR),1)
FINAL_CFLAGS += -Werror
endif
ifdef SANITIZE
FINAL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
FINAL_LDFLAGS += -fsanitize=$(SANITIZE)
endif

LIB_SRCS := $(filter-out daemon/main.c daemon/embed.c,$(wildcard daemon/*.c)) $(wildcard collectors/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/assets_data.o
WEB_FILES := $(sort $(wildcard web/*.html web/*.js web/*.css))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)

# Debian packages that building and testing need (`make deps` installs them).
DEB_DEPS := gcc make pkg-config libmicrohttpd-dev libsystemd-dev libcjson-dev libcmocka-dev zlib1g-dev \
	python3 python3-pytest curl procps valgrind iproute2

.PHONY: all run check check-unit check-integration check-valgrind bench deps install clean \
	format tests

all: $(BUILD)/sysfeed

$(BUILD)/sysfeed: $(BUILD)/daemon/main.o $(BUILD)/libsysfeed.a
	$(CC) $(FINAL_CFLAGS) $(FINAL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/libsysfeed.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CPPFLAGS) $(FINAL_CFLAGS) -c -o $@ $<

# The page is embedded into the binary: a small host tool writes a C file.
$(BUILD)/embed: daemon/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(WARN) -O2 -o $@ $<

$(BUILD)/assets_data.c: $(BUILD)/embed $(WEB_FILES)
	$(BUILD)/embed $@ $(WEB_FILES)

$(BUILD)/assets_data.o: $(BUILD)/assets_data.c
	$(CC) $(FINAL_CPPFLAGS) $(FINAL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libsysfeed.a
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CPPFLAGS) $(FINAL_CFLAGS) $(FINAL_LDFLAGS) -o $@ $< $(BUILD)/libsysfeed.a \
		$(LIBS) $(shell $(PKG_CONFIG) --libs cmocka)

$(BUILD)/bench/%: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CPPFLAGS) $(FINAL_CFLAGS) $(FINAL_LDFLAGS) -o $@ $< $(LIBS)

tests: $(BUILD)/sysfeed $(UNIT_BINS) $(BENCH_BINS)

run: deps
	$(MAKE) all
	$(BUILD)/sysfeed --listen 127.0.0.1:8390

check: deps
	$(MAKE) tests
	$(MAKE) check-unit check-integration check-valgrind

check-unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; SYSFEED_FIXTURES=tests/fixtures $$t; done

check-integration: $(BUILD)/sysfeed $(BENCH_BINS)
	SYSFEED_SANITIZE=$(SANITIZE) SYSFEED_BIN=$(BUILD)/sysfeed SYSFEED_BENCH=$(BUILD)/bench $(PYTHON) -m pytest -q -p no:cacheprovider \
		tests/integration

check-valgrind: $(BUILD)/sysfeed $(BENCH_BINS)
	SYSFEED_BIN=$(BUILD)/sysfeed SYSFEED_BENCH=$(BUILD)/bench $(PYTHON) -m pytest -q -p no:cacheprovider \
		tests/valgrind

bench: deps
	$(MAKE) tests
	SYSFEED_BIN=$(BUILD)/sysfeed SYSFEED_BENCH=$(BUILD)/bench tests/bench/run

# Installs what building and testing need, or says how to.
deps:
	@missing=$$(for p in $(DEB_DEPS); do \
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

install: $(BUILD)/sysfeed
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(BUILD)/sysfeed $(DESTDIR)$(BINDIR)/sysfeed

format:
	clang-format -i daemon/*.c daemon/*.h collectors/*.c collectors/*.h tests/unit/*.c \
		tests/bench/*.c

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
