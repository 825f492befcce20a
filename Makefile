# SPDX-License-Identifier: GPL-2.0
# spanalloc: `make` builds spanalloc.ko against the running kernel (or KDIR).
# The module's objects are listed in Kbuild.

KDIR ?= /lib/modules/$(shell uname -r)/build

all:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

clean:
	@if [ -d $(KDIR) ]; then $(MAKE) -C $(KDIR) M=$(CURDIR) clean; else \
	find . -path ./.git -prune -o \( -name '*.o' -o -name '*.ko' \
		-o -name '*.mod' -o -name '*.mod.c' -o -name '.*.cmd' \
		-o -name modules.order -o -name Module.symvers \) \
		-print -exec rm -f {} +; fi

# Boot the cached test kernel in QEMU and run every test (see README.md).
test:
	scripts/test.sh

# Prove that `make test` catches a failing case, a WARN and a hang.
test-harness:
	scripts/test.sh --harness

# checkpatch, sparse, W=1, kernel-doc, size-class table.
check:
	scripts/check.sh

demo:
	@if [ -x scripts/demo.sh ]; then scripts/demo.sh; \
	else echo "make demo arrives with the debugfs issue"; exit 1; fi

# Build and boot on Debian 12's 6.1, 6.12 and 6.12-rt kernels; DKMS and
# `make install` (docs/compat.md).
test-compat:
	scripts/compat.sh

# spanalloc against SLUB on Debian's stock 6.12 kernel in QEMU (BENCHMARKS.md).
bench:
	scripts/bench.sh

# The exact instructions of one hot pair of each API (.test-out/bench/fastpath.md).
fastpath:
	scripts/fastpath-trace.sh

# Where the trace replays spend their time, per allocator (.test-out/bench/profile.md).
profile:
	scripts/profile.sh

# Install for KDIR's kernel: the module (modules_install, then depmod), and
# for client modules include/spanalloc.h and Module.symvers under PREFIX
# (docs/compat.md). INSTALL_MOD_PATH and DESTDIR stage into another root.
# Debian's kernels sign at modules_install with a key their headers lack:
# sign only when the key is there.
PREFIX ?= /usr/local
sa_sigkey = $(shell sed -n 's/^CONFIG_MODULE_SIG_KEY="\(.*\)"/\1/p' $(KDIR)/.config 2>/dev/null)
sa_nosign = $(if $(wildcard $(KDIR)/$(sa_sigkey) $(sa_sigkey)),,CONFIG_MODULE_SIG_ALL=)
install: all
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(sa_nosign) modules_install
	kver=$$(sed -n 's/^#define UTS_RELEASE "\(.*\)"/\1/p' \
		$(KDIR)/include/generated/utsrelease.h) && \
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) -a $$kver && \
	install -D -m 644 include/spanalloc.h \
		$(DESTDIR)$(PREFIX)/include/spanalloc/spanalloc.h && \
	install -D -m 644 Module.symvers \
		$(DESTDIR)$(PREFIX)/share/spanalloc/$$kver/Module.symvers

.PHONY: all clean test test-harness check demo test-compat install bench fastpath profile
