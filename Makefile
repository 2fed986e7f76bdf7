# mambadna: GNU Makefile.
#   make              library (build/libmambadna.a) and the CLI (./mambadna)
#   make test         install missing dependencies, build, run every test
#   make test-asan    unit tests under AddressSanitizer + UBSan (build-asan/)
#   make test-gpu     GPU checks against the CPU reference (needs a GPU and CUDA=1)
#   make gpu-checks   build the GPU checks only (build/gpu/), e.g. to run elsewhere
#   make fuzz         libFuzzer targets (clang), see tests/fuzz/
#   make install PREFIX=/usr/local
# Options: CUDA=auto|0|1 (build the CUDA backend when nvcc is found),
#          OPT='-O2 -march=native', BUILD=build, SANITIZE='-fsanitize=...'

PREFIX   ?= /usr/local
BUILD    ?= build
CUDA     ?= auto
NVCC     ?= nvcc
OPT      ?= -O2 -march=native
SANITIZE ?=
PYTHON   ?= /usr/bin/python3
.DEFAULT_GOAL := all

BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
CFLAGS_ALL  := -std=c11 -D_GNU_SOURCE -g $(OPT) -fopenmp -Wall -Wextra -Werror -Wno-psabi \
               -Isrc $(BLAS_CFLAGS) $(SANITIZE) $(CFLAGS)
LDLIBS_ALL  := -lhts -lBigWig -ljansson -lcrypto -lopenblas -lz -lm -lpthread
LDFLAGS_ALL := -fopenmp $(SANITIZE) $(LDFLAGS)

ifeq ($(CUDA),auto)
  HAVE_NVCC := $(shell command -v $(NVCC) >/dev/null 2>&1 && echo 1)
  ifeq ($(HAVE_NVCC),1)
    CUDA := 1
  else
    CUDA := 0
  endif
endif

LIB_SRC := $(sort $(wildcard src/*.c src/cpu/*.c))
CLI_SRC := $(sort $(wildcard cli/*.c))
CU_SRC  := $(sort $(wildcard cuda/*.cu))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)

ifeq ($(CUDA),1)
  CUDA_HOME   ?= $(patsubst %/bin/,%,$(dir $(shell command -v $(NVCC))))
  NVCCFLAGS   ?= -O3 -std=c++17 -gencode arch=compute_80,code=sm_80 \
                 -gencode arch=compute_90,code=sm_90 -Xcompiler -Wall,-Wextra,-Werror \
                 --expt-relaxed-constexpr
  CFLAGS_ALL  += -DMD_HAVE_CUDA -I$(CUDA_HOME)/include
  LIB_OBJ     += $(CU_SRC:%.cu=$(BUILD)/%.o)
  LDLIBS_ALL  += -L$(CUDA_HOME)/lib64 -lcublasLt -lcublas -lcudart -lstdc++
endif

TEST_SRC  := $(sort $(wildcard tests/test_*.c))
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
REPLAY_BIN:= $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/replay_%)
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

# Objects depend on a stamp of the CUDA setting, so that switching it
# rebuilds everything instead of mixing objects of both kinds.
CONFIG_STAMP := $(BUILD)/config.cuda$(CUDA)
$(CONFIG_STAMP):
	@mkdir -p $(BUILD) && rm -f $(BUILD)/config.cuda* && touch $@

.PHONY: all demo test test-asan test-gpu gpu-checks deps check-unit bench fuzz install clean
all: mambadna

$(BUILD)/%.o: %.c $(wildcard src/*.h src/*.inc src/cpu/*.h src/cpu/*.inc cli/*.h) $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/%.o: %.cu $(wildcard src/*.h cuda/*.h cuda/*.cuh cuda/dev/*.h) $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -Isrc -c $< -o $@

$(BUILD)/libmambadna.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/mambadna: $(CLI_OBJ) $(BUILD)/libmambadna.a
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJ) $(BUILD)/libmambadna.a $(LDLIBS_ALL)

mambadna: $(BUILD)/mambadna
	cp $< $@.tmp && mv -f $@.tmp $@

$(BUILD)/tests/test_%: tests/test_%.c tests/testutil.h $(BUILD)/libmambadna.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests $(LDFLAGS_ALL) -o $@ $< $(BUILD)/libmambadna.a -lcmocka $(LDLIBS_ALL)

$(BUILD)/tests/replay_%: tests/fuzz/%.c tests/fuzz/replay_main.c $(BUILD)/libmambadna.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< tests/fuzz/replay_main.c $(BUILD)/libmambadna.a $(LDLIBS_ALL)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libmambadna.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(BUILD)/libmambadna.a $(LDLIBS_ALL)

# Debian packages, then the real chr20 data of vt-examples (bench/data/) that
# the real-data tests use; without it those tests say loudly that they skip.
deps:
	@scripts/install-deps.sh
	@bench/get-data.sh || echo "!!! mambadna: vt-examples could not be fetched: the tests on real chr20 data will be skipped !!!" >&2

# The main job on the bundled model and sequence.
demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

# Unit tests, fuzz-corpus replays and CLI tests of one build directory.
check-unit: $(TEST_BIN) $(REPLAY_BIN) $(BUILD)/mambadna
	@tests/run-tests.sh $(BUILD)

test: deps
	@$(MAKE) --no-print-directory all check-unit

test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT='-O1 -march=native' CUDA=0 \
	  SANITIZE='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' check-unit

# GPU checks: the harnesses of cuda/dev, linked against the CUDA build of
# the library. The runner refuses to pass on a GPU machine when one is missing.
GPU_CHECKS := $(BUILD)/gpu/scan_harness $(BUILD)/gpu/forward_check $(BUILD)/gpu/train_check \
              $(BUILD)/tests/test_model_golden
ifeq ($(CUDA),1)
gpu-checks: $(GPU_CHECKS)

$(BUILD)/gpu/scan_harness: cuda/dev/scan_harness.cu $(BUILD)/cuda/dev/scan_ref.o $(BUILD)/libmambadna.a \
                           $(wildcard cuda/*.h cuda/dev/*.h)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -Isrc -o $@ $< $(BUILD)/cuda/dev/scan_ref.o $(BUILD)/libmambadna.a \
	  -Xcompiler -fopenmp $(LDLIBS_ALL) -lgomp

$(BUILD)/gpu/%: cuda/dev/%.c cuda/dev/check_common.h $(BUILD)/libmambadna.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(BUILD)/libmambadna.a $(LDLIBS_ALL)
else
gpu-checks:
	@echo "gpu-checks: the CUDA backend is not built (CUDA=$(CUDA)); install nvcc or pass CUDA=1" >&2; exit 1
endif

test-gpu: all
	@if [ "$(CUDA)" = 1 ]; then $(MAKE) --no-print-directory gpu-checks; fi
	@tests/gpu/run-gpu-tests.sh $(BUILD)

bench: $(BENCH_BIN)

fuzz:
	@tests/fuzz/build-fuzzers.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	install -m 755 mambadna $(DESTDIR)$(PREFIX)/bin/mambadna
	install -m 644 $(BUILD)/libmambadna.a $(DESTDIR)$(PREFIX)/lib/libmambadna.a
	install -m 644 src/mambadna.h $(DESTDIR)$(PREFIX)/include/mambadna.h
	install -d $(DESTDIR)$(PREFIX)/share/mambadna/models
	for f in data/models/*.safetensors; do [ -f "$$f" ] && install -m 644 "$$f" $(DESTDIR)$(PREFIX)/share/mambadna/models/ || true; done

clean:
	rm -rf build build-asan mambadna
