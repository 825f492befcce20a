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
		-o -name modules.order -o -name Module.symvers \) -print -delete; fi

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

.PHONY: all clean test test-harness check demo
