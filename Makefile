# voidbox — one static musl multicall binary, its tests and benchmarks.
#
#   make            build/voidbox (static, musl, zlib built from source)
#   make deps       install what building and testing need (Debian packages)
#   make guest      download + unpack Debian's kernel and static busybox into $(GUEST_DIR)
#   make demo       run a command in a VM that reaches the network (mk/demo.sh)
#   make kernel     build voidbox's own guest kernel (kernel-config/) into $(KERNEL_DIR)
#   make check      every test; ends with "N passed, N failed, N skipped"
#                   (it also replays every fuzz corpus under ASan+UBSan)
#   make check-kvm  the run and network suites with --vmm kvm in the nested
#                   KVM test bed (tests/nested/)
#   make fuzz       the libFuzzer targets of tests/fuzz (clang); T=SECS runs
#                   each for SECS seconds from its corpus (new inputs go to
#                   $(B)/fuzz/corpus/<target>; merge the good ones by hand)
#   make bench      the benchmarks under bench/, results in bench/results/ (docs/bench.md)
#
# Sources are found by wildcard: libcore/*/*.c is the library, applets/*.c the
# applets (each registers itself, see libcore/base/applet.h), tests/unit/*.c
# unit tests (built with ASan+UBSan against glibc), tests/tools/*.c helper
# programs for tests, tests/*.sh integration tests.

B         ?= build
GUEST_DIR ?= $(B)/guest
KERNEL_DIR ?= $(B)/kernel
CC_MUSL   ?= musl-gcc
CC_HOST   ?= gcc
CC_FUZZ   ?= clang

WARN      := -Wall -Wextra -Werror -Wno-unused-parameter
BASEFLAGS := -std=gnu11 $(WARN) -D_GNU_SOURCE -Ilibcore -MMD -MP
MUSL_CFLAGS := $(BASEFLAGS) -Os -ffunction-sections -fdata-sections \
	-isystem $(B)/include -I$(B)/zlib/include
MUSL_LDFLAGS := -static -s -Wl,--gc-sections -L$(B)/zlib/lib
ASAN_CFLAGS := $(BASEFLAGS) -O1 -g -fsanitize=address,undefined \
	-fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_LDFLAGS := -fsanitize=address,undefined
FUZZ_CFLAGS := $(BASEFLAGS) -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
	-fno-omit-frame-pointer -fno-sanitize-recover=undefined \
	-Wno-gnu-variable-sized-type-not-at-end

# initramfs/ (the default image's skeleton, /etc files, module list) is
# built into the binary as one generated source of libcore.
GEN_SRCS    := $(B)/gen/initramfs_files.c
CORE_SRCS   := $(sort $(wildcard libcore/*/*.c)) $(GEN_SRCS)
APPLET_SRCS := $(sort $(wildcard applets/*.c))
UNIT_SRCS   := $(sort $(wildcard tests/unit/*.c))
TOOL_SRCS   := $(sort $(wildcard tests/tools/*.c))
FUZZ_SRCS   := $(filter-out tests/fuzz/replay.c,$(sort $(wildcard tests/fuzz/*.c)))

MUSL_CORE_OBJS := $(CORE_SRCS:%.c=$(B)/musl/%.o)
MUSL_APPLET_OBJS := $(APPLET_SRCS:%.c=$(B)/musl/%.o)
ASAN_CORE_OBJS := $(CORE_SRCS:%.c=$(B)/asan/%.o)
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(B)/unit/%)
TOOL_BINS   := $(TOOL_SRCS:tests/tools/%.c=$(B)/tools/%)
FUZZ_CORE_OBJS := $(CORE_SRCS:%.c=$(B)/fuzzobj/%.o)
FUZZ_BINS   := $(FUZZ_SRCS:tests/fuzz/%.c=$(B)/fuzz/%)
REPLAY_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(B)/fuzz-replay/%)

APPLET_LINKS := mkinitramfs pcap run agent

.PHONY: all deps guest kernel demo check check-kvm unit bench clean fuzz replay
all: $(B)/voidbox

deps:
	sh mk/deps.sh

guest: $(GUEST_DIR)/vmlinuz

$(GUEST_DIR)/vmlinuz:
	sh mk/guest.sh $(GUEST_DIR)

kernel: $(KERNEL_DIR)/vmlinux

# the nested KVM bed's qemu, >= 8.2 (mk/bed-qemu.sh)
BED_QEMU = $(B)/bed-qemu/qemu
$(BED_QEMU): mk/bed-qemu.sh mk/apt.sh
	sh mk/bed-qemu.sh $(B)/bed-qemu

$(KERNEL_DIR)/vmlinux: kernel-config/voidbox.config mk/kernel.sh $(GUEST_DIR)/vmlinuz
	GUEST_DIR=$(GUEST_DIR) sh mk/kernel.sh $(KERNEL_DIR)

demo: $(B)/voidbox $(GUEST_DIR)/vmlinuz $(KERNEL_DIR)/vmlinux
	@B=$(B) sh mk/demo.sh

$(B)/gen/initramfs_files.c: mk/embed.sh $(shell find initramfs -type f)
	@mkdir -p $(@D)
	sh mk/embed.sh initramfs initramfs_files $@

# UAPI headers for musl-gcc, which leaves /usr/include out of its search path.
$(B)/include/.stamp:
	mkdir -p $(B)/include
	ln -sfn /usr/include/linux $(B)/include/linux
	ln -sfn /usr/include/asm-generic $(B)/include/asm-generic
	ln -sfn /usr/include/x86_64-linux-gnu/asm $(B)/include/asm
	touch $@

$(B)/zlib/lib/libz.a:
	sh mk/zlib.sh $(B)/zlib

$(B)/musl/%.o: %.c $(B)/include/.stamp $(B)/zlib/lib/libz.a
	@mkdir -p $(@D)
	$(CC_MUSL) $(MUSL_CFLAGS) -c $< -o $@

$(B)/asan/%.o: %.c
	@mkdir -p $(@D)
	$(CC_HOST) $(ASAN_CFLAGS) -c $< -o $@

$(B)/musl/libcore.a: $(MUSL_CORE_OBJS)
	rm -f $@; ar rcs $@ $^

$(B)/asan/libcore.a: $(ASAN_CORE_OBJS)
	rm -f $@; ar rcs $@ $^

# libcore is linked whole: back ends that register themselves (VMM_BACKEND,
# vmm/vmm.h) are referenced by nobody, and --gc-sections drops what is unused.
WHOLE = -Wl,--whole-archive $(1) -Wl,--no-whole-archive

$(B)/voidbox: $(MUSL_APPLET_OBJS) $(B)/musl/libcore.a
	$(CC_MUSL) $(MUSL_LDFLAGS) -o $@ $(MUSL_APPLET_OBJS) $(call WHOLE,$(B)/musl/libcore.a) -lz
	@for l in $(APPLET_LINKS); do ln -sfn voidbox $(B)/$$l; done

$(B)/unit/%: tests/unit/%.c $(B)/asan/libcore.a $(wildcard tests/unit/*.h)
	@mkdir -p $(@D)
	$(CC_HOST) $(ASAN_CFLAGS) -o $@ $< $(call WHOLE,$(B)/asan/libcore.a) $(ASAN_LDFLAGS) -lz -lpthread

$(B)/tools/%: tests/tools/%.c $(B)/musl/libcore.a
	@mkdir -p $(@D)
	$(CC_MUSL) $(MUSL_CFLAGS) $(MUSL_LDFLAGS) -o $@ $< $(call WHOLE,$(B)/musl/libcore.a) -lz

unit: $(UNIT_BINS)

# Fuzzing: libFuzzer builds (clang, coverage + ASan + UBSan), and the same
# targets around tests/fuzz/replay.c with gcc's ASan + UBSan for make check.
$(B)/fuzzobj/%.o: %.c
	@mkdir -p $(@D)
	$(CC_FUZZ) $(FUZZ_CFLAGS) -c $< -o $@

$(B)/fuzzobj/libcore.a: $(FUZZ_CORE_OBJS)
	rm -f $@; ar rcs $@ $^

$(B)/fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(B)/fuzzobj/libcore.a
	@mkdir -p $(@D)
	$(CC_FUZZ) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(B)/fuzzobj/libcore.a -lz -lpthread

$(B)/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(wildcard tests/fuzz/*.h) $(B)/asan/libcore.a
	@mkdir -p $(@D)
	$(CC_HOST) $(ASAN_CFLAGS) -o $@ $< tests/fuzz/replay.c $(B)/asan/libcore.a $(ASAN_LDFLAGS) -lz -lpthread

replay: $(REPLAY_BINS)

fuzz: $(FUZZ_BINS)
	@if [ -n "$(T)" ]; then for t in $(FUZZ_SRCS:tests/fuzz/%.c=%); do \
		mkdir -p $(B)/fuzz/corpus/$$t; \
		echo "fuzz $$t: $(T) s"; \
		nice -n 10 $(B)/fuzz/$$t -max_total_time=$(T) -print_final_stats=1 \
			-artifact_prefix=$(B)/fuzz/$$t- $(B)/fuzz/corpus/$$t tests/fuzz/corpus/$$t 2>&1 | \
			grep -E '^(stat::number_of_executed_units|stat::new_units_added|==.*ERROR|SUMMARY)' \
			|| true; \
		[ -z "$$(ls $(B)/fuzz/$$t-crash-* $(B)/fuzz/$$t-leak-* $(B)/fuzz/$$t-timeout-* 2>/dev/null)" ] || \
			{ echo "fuzz $$t: $$(ls $(B)/fuzz/$$t-crash-* $(B)/fuzz/$$t-leak-* $(B)/fuzz/$$t-timeout-* 2>/dev/null)"; exit 1; }; \
	done; fi

# T=pattern runs only the tests whose name contains pattern.
check: $(B)/voidbox $(UNIT_BINS) $(TOOL_BINS) $(REPLAY_BINS) $(GUEST_DIR)/vmlinuz $(BED_QEMU)
	@B=$(B) GUEST_DIR=$(GUEST_DIR) sh tests/run.sh $(T)

check-kvm: $(B)/voidbox $(UNIT_BINS) $(TOOL_BINS) $(GUEST_DIR)/vmlinuz $(BED_QEMU)
	@B=$(B) GUEST_DIR=$(GUEST_DIR) sh tests/nested/check-kvm.sh

bench: $(B)/voidbox $(TOOL_BINS) $(BED_QEMU)
	@B=$(B) GUEST_DIR=$(GUEST_DIR) sh bench/run.sh $(T)

clean:
	rm -rf $(B)/musl $(B)/asan $(B)/unit $(B)/tools $(B)/fuzzobj $(B)/fuzz $(B)/fuzz-replay \
		$(B)/voidbox $(addprefix $(B)/,$(APPLET_LINKS))

-include $(shell find $(B)/musl $(B)/asan $(B)/unit $(B)/tools $(B)/fuzzobj -name "*.d" 2>/dev/null)
