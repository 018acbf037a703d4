# gannet — see README.md. `make` builds build/gannet; `make run` installs the
# build dependencies when missing and runs on etc/gannet.conf; `make test`
# does the same for the test dependencies and runs the whole suite.

CC      ?= gcc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
# Project flags stay even when CFLAGS is given on the command line (asan, tsan).
override CFLAGS += -std=gnu17 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE -pthread -I. -Icore -Inet -Imonitor -Icluster
LIBS    := -luring -lurcu-qsbr -lurcu-cds -lurcu-common -lxxhash -ljansson -lwolfssl -lcrypt -lpthread -lm
B       ?= build
PY      := /usr/bin/python3

CORE_SRC := $(filter-out core/main.c,$(wildcard core/*.c net/*.c monitor/*.c cluster/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(B)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/%)
TOOL_SRC := $(wildcard tests/unit/tool_*.c tests/stress/*.c)
TOOL_BIN := $(patsubst %.c,$(B)/%,$(notdir $(TOOL_SRC)))
CLIENT_SRC := $(wildcard tests/clients/c/*.c)
CLIENT_BIN := $(patsubst %.c,$(B)/%,$(notdir $(CLIENT_SRC)))

.PHONY: all deps test-deps run test unit asan tsan fuzz clean install lint bench bench-quick
all: $(B)/gannet $(B)/nats-server

deps:
	@sh scripts/deps.sh build
test-deps:
	@sh scripts/deps.sh test

$(B)/obj/%.o: %.c $(wildcard core/*.h net/*.h monitor/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# the dashboard page is compiled in (.incbin in monitor/metrics.c)
$(B)/obj/monitor/metrics.o: monitor/dashboard.html

$(B)/libgannet.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/gannet: $(B)/obj/core/main.o $(B)/libgannet.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

# Tools that start "nats-server" from PATH start gannet unchanged.
$(B)/nats-server: $(B)/gannet
	ln -sf gannet $@

$(B)/test_%: tests/unit/test_%.c $(B)/libgannet.a tests/unit/unit.h
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(B)/libgannet.a $(LIBS)

$(B)/tool_%: tests/unit/tool_%.c $(B)/libgannet.a
	$(CC) $(CFLAGS) -o $@ $< $(B)/libgannet.a $(LIBS)

$(B)/stress: tests/stress/stress.c
	@mkdir -p $(B)
	$(CC) $(CFLAGS) -o $@ $< -lnats -lpthread

$(B)/%: tests/clients/c/%.c
	@mkdir -p $(B)
	$(CC) $(CFLAGS) -o $@ $< -lnats -lpthread

unit: $(UNIT_BIN) $(TOOL_BIN) $(CLIENT_BIN)

run: deps
	$(MAKE) all
	./$(B)/gannet -c etc/gannet.conf -m 8222

test: test-deps
	$(MAKE) -j$$(nproc) all unit
	sh tests/run.sh

asan:
	$(MAKE) B=build-asan OPT=-O1 CC=clang CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" all unit

tsan:
	$(MAKE) B=build-tsan OPT=-O1 CC=clang CFLAGS="-O1 -g -fsanitize=thread" all unit

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_CFLAGS := -std=gnu17 -g -O1 -D_GNU_SOURCE -DFUZZING -I. -Icore -Inet -Imonitor -Icluster
# the core is compiled once for every target (instrumented, without
# libFuzzer's main), each target only links it
FUZZ_OBJ := $(CORE_SRC:%.c=build-fuzz/obj/%.o)
fuzz: $(FUZZ_BIN)
build-fuzz/obj/%.o: %.c $(wildcard core/*.h net/*.h monitor/*.h cluster/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
build-fuzz/obj/monitor/metrics.o: monitor/dashboard.html
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_OBJ) $(LIBS)

# Side-by-side benchmarks against Debian's nats-server (see bench/README.md).
bench: test-deps all
	sh bench/run $(BENCH_ARGS)
bench-quick: test-deps all
	sh bench/run --quick $(BENCH_ARGS)

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability -I core -I net -I cluster core net cluster

PREFIX ?= /usr/local
install: all
	install -D -m 755 $(B)/gannet $(DESTDIR)$(PREFIX)/bin/gannet
	install -D -m 644 etc/gannet.8 $(DESTDIR)$(PREFIX)/share/man/man8/gannet.8

clean:
	rm -rf build build-asan build-tsan build-fuzz
