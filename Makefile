# sandpit build. `make` builds the daemons into build/; `make test` installs what is missing,
# builds, and runs every suite; `make run` starts the service. See README.md.

CC      ?= gcc
SANITIZE ?=
WERROR  ?= 1

# Sanitizer builds live apart so a normal build never links a sanitized object.
ifeq ($(SANITIZE),)
B ?= build
OPT := -O2
HARDEN := -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fstack-clash-protection -fPIE
else
B := build/san
OPT := -O1 -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
HARDEN := -fPIE
endif

# Debian's libpython, never the pyenv python3-config first on PATH (STYLE §7).
PY_CFLAGS := $(shell PKG_CONFIG_PATH= pkg-config --cflags python3-embed 2>/dev/null | sed 's/-I/-isystem /g')
PY_LIBS   := $(shell PKG_CONFIG_PATH= pkg-config --libs python3-embed 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wpointer-arith \
        -Wundef -Wvla -Wimplicit-fallthrough -Wno-missing-field-initializers \
        -Werror=implicit-function-declaration -Werror=incompatible-pointer-types \
        -Werror=int-conversion -Werror=return-type
ifeq ($(WERROR),1)
WARN += -Werror
endif

CFLAGS  := -std=gnu11 $(OPT) -g -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -MMD -MP $(WARN) $(HARDEN) \
           -Icommon $(EXTRA_CFLAGS)
LDFLAGS := -pie -Wl,-z,relro,-z,now,-z,noexecstack $(if $(SANITIZE),-fsanitize=$(SANITIZE))

# The tree by concern (docs/architecture.md): common/ both daemons, agent/ the agent daemon,
# sandbox/ the zygote and what runs in a child, netshape/ the shaping proxy, orchestrator/.
COMMON_SRC := $(wildcard common/*.c)
AGENT_SRC  := $(wildcard agent/*.c) $(filter-out sandbox/nsinit.c,$(wildcard sandbox/*.c)) \
              $(filter-out netshape/proxy_cli.c,$(wildcard netshape/*.c))
ORCH_SRC   := $(wildcard orchestrator/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/%.o)
AGENT_OBJ  := $(AGENT_SRC:%.c=$(B)/%.o)
ORCH_OBJ   := $(ORCH_SRC:%.c=$(B)/%.o)

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/tests/replay_%)

BINS := $(B)/sandpit-agent $(B)/sandpit-init
ifneq ($(wildcard orchestrator/main.c),)
BINS += $(B)/sandpit-orchestrator
endif
BINS += $(B)/sandpit-proxy

AGENT_INC := -Iagent -Isandbox -Inetshape

PYTEST := /usr/bin/python3 -m pytest

.PHONY: all deps run test test-unit fuzz bench bench-speed bench-sessions soak freshroot format format-check clean
all: $(BINS)

deps:
	@bash scripts/deps.sh

# A flags stamp forces a rebuild when the flags change (STYLE §8).
$(B)/.flags: FORCE
	@mkdir -p $(B)
	@echo '$(CC) $(CFLAGS) $(PY_CFLAGS) $(LDFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS) $(PY_CFLAGS) $(LDFLAGS)' > $@
FORCE:

$(B)/%.o: %.c $(B)/.flags
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) $(if $(filter agent/% sandbox/% netshape/%,$<),$(PY_CFLAGS) $(AGENT_INC)) -c $< -o $@

$(B)/libcommon.a: $(COMMON_OBJ)
	@ar rcs $@ $^

$(B)/sandpit-agent: $(AGENT_OBJ) $(B)/libcommon.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $(AGENT_OBJ) $(B)/libcommon.a -lmicrohttpd -ljansson -lseccomp -lcurl \
	    -lwslay -lnettle $(PY_LIBS) -lpthread -lm

# pid 1 of each execution's PID namespace: static, tiny, spawned with vfork+exec (cheap).
$(B)/sandpit-init: sandbox/nsinit.c $(B)/.flags
	@echo "  LD      $@"
	@$(CC) -std=gnu11 -O2 -D_GNU_SOURCE $(WARN) -static -o $@ $<

$(B)/sandpit-orchestrator: $(ORCH_OBJ) $(B)/libcommon.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $(ORCH_OBJ) $(B)/libcommon.a -lmicrohttpd -ljansson -lcurl \
	    -lwslay -lnettle -lsqlite3 -lpthread -lm

# The shaping proxy on its own (tests, bench, egress service; docs/proxy.md): the agent's
# netshape/ objects behind a small main.
NETSHAPE_OBJ := $(patsubst %.c,$(B)/%.o,$(filter-out netshape/proxy_cli.c,$(wildcard netshape/*.c)))
$(B)/sandpit-proxy: $(B)/netshape/proxy_cli.o $(NETSHAPE_OBJ) $(B)/libcommon.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ -ljansson -lpthread -lm
-include $(B)/netshape/proxy_cli.d

# The bench's floors (bench/floor.c): the agent's interpreter started as the zygote starts it.
FLOOR_OBJ := $(B)/sandbox/pyrt.o $(B)/sandbox/heap_thp.o $(B)/sandbox/heap_hot.o
$(B)/bench-floor: bench/floor.c $(FLOOR_OBJ) $(B)/libcommon.a $(B)/.flags
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(PY_CFLAGS) $(AGENT_INC) $(LDFLAGS) -o $@ $< $(FLOOR_OBJ) $(B)/libcommon.a \
	    $(PY_LIBS) -lpthread -lm
-include $(B)/bench-floor.d

# Unit tests #include the .c under test and link libcommon (STYLE §13).
$(B)/tests/test_%: tests/unit/test_%.c $(B)/libcommon.a $(B)/.flags
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	@$(CC) $(CFLAGS) $(PY_CFLAGS) $(AGENT_INC) -Iorchestrator $(LDFLAGS) -o $@ $< $(B)/libcommon.a \
	    -lcmocka -lmicrohttpd -ljansson -lwslay -lnettle -lsqlite3 -lpthread -lm

# Fuzz targets replayed over their seed corpus under gcc in `make test` (STYLE §10).
$(B)/tests/replay_fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(B)/libcommon.a $(B)/.flags
	@mkdir -p $(dir $@)
	@echo "  REPLAY  $@"
	@$(CC) $(CFLAGS) -Wno-missing-prototypes $(AGENT_INC) -Iorchestrator $(LDFLAGS) -o $@ \
	    tests/fuzz/replay_main.c $< $(B)/libcommon.a -ljansson -lnettle -lpthread -lm

# Every suite; tests/run.sh prints the closing "N passed, N failed" line.
test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(REPLAY_BIN)
	@$(MAKE) --no-print-directory SANITIZE=address,undefined build/san/sandpit-agent build/san/sandpit-init \
	    build/san/sandpit-orchestrator \
	    $(UNIT_SRC:tests/unit/%.c=build/san/tests/%)
	@bash tests/run.sh

test-unit: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do $$t || exit 1; done

fuzz: deps
	@bash tests/fuzz/run.sh $(FUZZ_SECONDS)

run: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/run.sh

bench: deps
	@$(MAKE) --no-print-directory all $(B)/bench-floor
	@/usr/bin/python3 bench/bench.py

bench-speed: deps
	@$(MAKE) --no-print-directory all $(B)/bench-floor
	@/usr/bin/python3 bench/bench.py speed

bench-sessions: deps
	@$(MAKE) --no-print-directory all $(B)/bench-floor
	@/usr/bin/python3 bench/bench.py sessions

# 10,000 executions, ordinary and hostile mixed, at concurrency 16 (issue 7); make test runs ~500.
soak: deps
	@$(MAKE) --no-print-directory all
	@/usr/bin/python3 tests/security/soak.py --count $${SOAK_COUNT:-10000} --concurrency 16

# The README's two commands in a debootstrapped Debian 12 root entered with chroot, the checkout
# in a 0700 /root (tests/freshroot/run.sh; root, about an hour; FRESHROOT_TESTS for a subset).
freshroot:
	@bash tests/freshroot/run.sh

format:
	clang-format -i $$(git ls-files '*.[ch]')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.[ch]')

clean:
	rm -rf build

-include $(COMMON_OBJ:.o=.d) $(AGENT_OBJ:.o=.d) $(ORCH_OBJ:.o=.d) $(UNIT_BIN:=.d) $(REPLAY_BIN:=.d)
