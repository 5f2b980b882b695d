# heapscope — build, test, demo, bench.
#
# Layout conventions (new files are picked up without editing this file;
# docs/ARCHITECTURE.md has the tree and what each folder may call):
#   preload/**/*.c         -> build/libheapscope.so
#                             files named preload/hooks/hook_*.c hold the
#                             exported entry points (malloc, operator new, ...);
#                             the rest is the "core" that unit tests link.
#   analyzer/**/*.c        -> linked into build/heapscope (and analyzer tests)
#   cli/**/*.c             -> build/heapscope (cli/main.c has main), with the
#                             shim's fault-policy parser (SHARED_OBJ)
#   tests/unit/{alloc,record,faults,leaks}/*.c
#                          -> Check tests linked with the preload core
#   tests/unit/hooks/*.c   -> Check tests linked with the whole shim (so the
#                             test process itself runs on our malloc)
#   tests/unit/analyzer/**/*.c -> Check tests linked with the analyzer
#   tests/progs/*.c|*.cc   -> helper programs for end-to-end tests
#   tests/e2e/*.sh         -> end-to-end tests, run by tests/run.sh
#   samples/*.c|*.cc       -> build/samples/NAME
#   bench/work/*.c         -> build/bench/NAME (benchmark workloads)

CC      ?= gcc
CXX     ?= g++
B       := build
WARN    := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes
CFLAGS  ?= -O2 -g
BASE    := -std=gnu11 -D_GNU_SOURCE $(WARN) -Iinclude -MMD -MP
# Sources name headers of other folders from the part's root:
# "alloc/alloc.h", "trace/trace_read.h".
PRELOAD_INC  := -Ipreload
ANALYZER_INC := -Ianalyzer
# The shim runs inside other processes: position independent, nothing
# exported by accident, initial-exec TLS (no allocation on first access),
# and no builtin assumptions about malloc/free in our own code.
SHIM_CFLAGS := $(BASE) $(CFLAGS) -fPIC -fvisibility=hidden -ftls-model=initial-exec \
               -fno-builtin-malloc -fno-builtin-free -fno-builtin-calloc \
               -fno-builtin-realloc -fno-stack-protector
HOST_CFLAGS := $(BASE) $(CFLAGS)

CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)
DW_CFLAGS  := $(shell pkg-config --cflags libdw 2>/dev/null)
DW_LIBS    := $(shell pkg-config --libs libdw 2>/dev/null || echo -ldw -lelf)
UNW_LIBS   := -lunwind
SHIM_LIBS  := $(UNW_LIBS) -lpthread -ldl

PRELOAD_SRC  := $(sort $(shell find preload -name '*.c'))
HOOK_SRC     := $(wildcard preload/hooks/hook_*.c)
CORE_SRC     := $(filter-out $(HOOK_SRC),$(PRELOAD_SRC))
PRELOAD_OBJ  := $(PRELOAD_SRC:%.c=$(B)/%.o)
CORE_OBJ     := $(CORE_SRC:%.c=$(B)/%.o)
ANALYZER_OBJ := $(patsubst %.c,$(B)/%.o,$(sort $(shell find analyzer -name '*.c')))
CLI_OBJ      := $(patsubst %.c,$(B)/%.o,$(sort $(shell find cli -name '*.c')))

UT_CORE_SRC := $(wildcard tests/unit/alloc/*.c tests/unit/record/*.c tests/unit/checks/*.c \
                          tests/unit/faults/*.c tests/unit/leaks/*.c)
UT_PRELOAD := $(patsubst %.c,$(B)/%,$(UT_CORE_SRC))
UT_SHIM    := $(patsubst %.c,$(B)/%,$(wildcard tests/unit/hooks/*.c))
UT_ANALYZER:= $(patsubst %.c,$(B)/%,$(shell find tests/unit/analyzer -name '*.c'))
PROGS_C    := $(patsubst tests/progs/%.c,$(B)/tests/progs/%,$(wildcard tests/progs/*.c))
PROGS_CXX  := $(patsubst tests/progs/%.cc,$(B)/tests/progs/%,$(wildcard tests/progs/*.cc))
SAMPLES    := $(patsubst samples/%.c,$(B)/samples/%,$(wildcard samples/*.c)) \
              $(patsubst samples/%.cc,$(B)/samples/%,$(wildcard samples/*.cc))
BENCH_WORK := $(patsubst bench/work/%.c,$(B)/bench/%,$(wildcard bench/work/*.c))

# make install [PREFIX=/usr/local] [DESTDIR=]: the command, the shim in
# lib/heapscope/ (the command finds it relative to itself, cli/shim_path.c),
# the header, its pkg-config file and the manual page.
PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.1.0)
INSTALLED := bin/heapscope lib/heapscope/libheapscope.so include/heapscope.h \
             lib/pkgconfig/heapscope.pc share/man/man1/heapscope.1

.PHONY: all deps test-deps check unit e2e demo bench fuzz clean install uninstall
all: $(B)/libheapscope.so $(if $(CLI_OBJ),$(B)/heapscope) $(SAMPLES)

deps:
	@bash scripts/deps.sh build
test-deps:
	@bash scripts/deps.sh test

$(B)/libheapscope.so: $(PRELOAD_OBJ)
	$(CC) -shared -Wl,-z,nodelete -Wl,-z,now -o $@ $^ $(SHIM_LIBS)

$(B)/preload/%.o: preload/%.c
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_CFLAGS) $(PRELOAD_INC) -c -o $@ $<

$(B)/analyzer/%.o: analyzer/%.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(ANALYZER_INC) $(DW_CFLAGS) -c -o $@ $<

$(B)/cli/%.o: cli/%.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(ANALYZER_INC) -Icli $(PRELOAD_INC) -DHS_VERSION='"$(VERSION)"' -c -o $@ $<

# The fault-policy parser is the shim's own object, shared (cli/fail_policy.c).
SHARED_OBJ := $(B)/preload/faults/fault_policy.o

$(B)/heapscope: $(CLI_OBJ) $(ANALYZER_OBJ) $(SHARED_OBJ)
	$(CC) -o $@ $^ $(DW_LIBS) -lm

UT_INC := -Itests/unit

$(UT_PRELOAD): $(B)/tests/unit/%: tests/unit/%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(UT_INC) $(PRELOAD_INC) -o $@ $< $(CORE_OBJ) $(SHIM_LIBS) $(CHECK_LIBS)

$(UT_SHIM): $(B)/tests/unit/%: tests/unit/%.c $(PRELOAD_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -fno-builtin $(UT_INC) $(PRELOAD_INC) -o $@ $< $(PRELOAD_OBJ) $(SHIM_LIBS) $(CHECK_LIBS)

$(UT_ANALYZER): $(B)/tests/unit/%: tests/unit/%.c $(ANALYZER_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(DW_CFLAGS) $(UT_INC) $(ANALYZER_INC) -o $@ $< $(ANALYZER_OBJ) $(DW_LIBS) $(CHECK_LIBS) -lm

# Test programs and samples keep frame pointers and full debug info so that
# stacks and file:line are exact; -O0 keeps leak cases from being optimised
# away.
$(B)/tests/progs/%: tests/progs/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -D_GNU_SOURCE -Iinclude -O0 -g -fno-omit-frame-pointer -fno-builtin -pthread -o $@ $< -ldl

$(B)/tests/progs/%: tests/progs/%.cc
	@mkdir -p $(dir $@)
	$(CXX) -Iinclude -O0 -g -fno-omit-frame-pointer -fno-builtin -pthread -o $@ $<

$(B)/samples/%: samples/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -D_GNU_SOURCE -Iinclude -O0 -g -fno-omit-frame-pointer -fno-builtin -pthread -o $@ $<

$(B)/samples/%: samples/%.cc
	@mkdir -p $(dir $@)
	$(CXX) -Iinclude -O0 -g -fno-omit-frame-pointer -fno-builtin -pthread -o $@ $<

$(B)/bench/%: bench/work/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -D_GNU_SOURCE -O2 -g -pthread -o $@ $<

check: test-deps
	@$(MAKE) --no-print-directory all $(UT_PRELOAD) $(UT_SHIM) $(UT_ANALYZER) $(PROGS_C) $(PROGS_CXX)
	@bash tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/demo.sh

bench:
	@bash scripts/deps.sh bench
	@$(MAKE) --no-print-directory all $(BENCH_WORK)
	@bash bench/run.sh

# Fuzz the parsers that read untrusted input (trace, suppressions, fault
# policy, HEAPSCOPE_* settings) for FUZZ_SECONDS each (default 60).
fuzz:
	@bash scripts/deps.sh bench
	@$(MAKE) --no-print-directory all
	@bash scripts/fuzz.sh

install: $(B)/libheapscope.so $(B)/heapscope
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/heapscope \
	           $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	           $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(B)/heapscope $(DESTDIR)$(PREFIX)/bin/heapscope
	install -m 644 $(B)/libheapscope.so $(DESTDIR)$(PREFIX)/lib/heapscope/libheapscope.so
	install -m 644 include/heapscope.h $(DESTDIR)$(PREFIX)/include/heapscope.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' heapscope.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/heapscope.pc
	install -m 644 docs/heapscope.1 $(DESTDIR)$(PREFIX)/share/man/man1/heapscope.1

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(INSTALLED))
	-rmdir $(DESTDIR)$(PREFIX)/lib/heapscope 2>/dev/null

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
