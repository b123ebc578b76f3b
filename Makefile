# ntg — PGXS build.  `make && make install` as for any extension; `make installcheck` runs the
# pg_regress suite against the installed server (PGXS convention).  `make unit` runs the plain-C
# unit tests, `make regresscheck` the pg_regress suite on a temporary instance of a private server
# copy, and test/run.sh every suite (docs/development.md).

EXTENSION    = ntg
EXTVERSION   = $(shell grep default_version $(EXTENSION).control | sed -e "s/default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/")

# The install script of the current version is assembled from the ordered parts in sql/ext/ (one
# per subsystem).  Released versions' install scripts are frozen and committed (sql/ntg--X.Y.Z.sql).
# The upgrade script from the previous release is assembled from the hand-written parts in
# sql/update/<from>--<to>/ (docs/development.md).
SQL_PARTS    = $(sort $(wildcard sql/ext/*.sql))
SQL_INSTALL  = sql/$(EXTENSION)--$(EXTVERSION).sql
UPDATE_DIRS  = $(sort $(wildcard sql/update/*--*))
SQL_UPDATES  = $(patsubst sql/update/%,sql/$(EXTENSION)--%.sql,$(UPDATE_DIRS))
SQL_RELEASED = $(filter-out $(SQL_INSTALL),$(wildcard sql/$(EXTENSION)--[0-9]*.[0-9]*.[0-9]*.sql))
DATA_built   = $(SQL_INSTALL) $(SQL_UPDATES)
DATA         = $(filter-out %--%--% $(SQL_INSTALL) $(SQL_UPDATES),$(SQL_RELEASED))

# Plain-C core (no PostgreSQL headers) and the SQL glue that wraps it.
CORE_SRCS    = $(sort $(wildcard src/core/*/*.c))
PG_SRCS      = $(sort $(wildcard src/pg/*.c))
CORE_OBJS    = $(CORE_SRCS:.c=.o)
MODULE_big   = $(EXTENSION)
OBJS         = $(CORE_OBJS) $(PG_SRCS:.c=.o)

# libpcap and a CBLAS: flags from pkg-config (BLAS_PC=blas-netlib etc. picks another CBLAS), else
# the compiler's own search path and plain -l flags.
PKG_CONFIG  ?= pkg-config
BLAS_PC     ?= openblas
PCAP_PC     ?= libpcap
DEP_CFLAGS  := $(shell $(PKG_CONFIG) --cflags $(PCAP_PC) $(BLAS_PC) 2>/dev/null)
PCAP_LIBS   := $(or $(shell $(PKG_CONFIG) --libs $(PCAP_PC) 2>/dev/null),-lpcap)
BLAS_LIBS   := $(or $(shell $(PKG_CONFIG) --libs $(BLAS_PC) 2>/dev/null),-lopenblas)
DEP_LIBS     = $(PCAP_LIBS) $(BLAS_LIBS) -lm

# Loading OpenBLAS costs a new backend ~5 ms and one-row sampling never calls it, so ntg.so opens
# the CBLAS at its first matrix product (src/core/nn/nn_blas.c) instead of naming it as a
# dependency.  Its soname is what the linker records for BLAS_LIBS (a throw-away link); when it
# cannot be found, ntg.so links the library as before.
BLAS_SONAME := $(shell d=$$(mktemp -d) && echo 'int ntg_probe;' > $$d/p.c && \
	$(CC) -shared -fPIC -o $$d/p.so $$d/p.c -Wl,--no-as-needed $(BLAS_LIBS) 2>/dev/null && \
	objdump -p $$d/p.so 2>/dev/null | awk '$$1 == "NEEDED" {print $$2; exit}'; rm -rf $$d)
BLAS_DEFS    = $(if $(BLAS_SONAME),-DNTG_BLAS_SONAME='"$(BLAS_SONAME)"')

PG_CPPFLAGS  = -I$(srcdir)/src/core -I$(srcdir)/src/pg $(DEP_CFLAGS) $(BLAS_DEFS)
PG_CFLAGS    = -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers -Wno-declaration-after-statement
SHLIB_LINK   = $(PCAP_LIBS) $(if $(BLAS_SONAME),,$(BLAS_LIBS)) -lm

# ntg.so exports its SQL entry points, background-worker entry points and the module hooks only,
# so that core functions (linear_forward, ...) can never clash with another library loaded into
# the same backend.  The list is generated from the sources: every PG_FUNCTION_INFO_V1(f) in
# src/pg exports f and pg_finfo_f, and every `PGDLLEXPORT void f(Datum ...)` declared at the start
# of a line there (a background worker's main function, which the postmaster looks up by name)
# exports f.  PGXS turns it into the platform's export list (a linker version script on Linux).
# test/tap/exports.t checks the result.
SHLIB_EXPORTS = $(EXTENSION)_exports.txt

# pg_regress: test scripts in sql/ (all but the install scripts), expected output in expected/.
REGRESS      = $(filter-out $(EXTENSION)--%,$(patsubst sql/%.sql,%,$(wildcard sql/*.sql)))
# `make installcheck` runs them against the running, installed server (PGHOST, PGPORT, PGUSER;
# ntg must be installed there); `make regresscheck` on a temporary instance of tmp_install.
REGRESS_OPTS = --no-locale --encoding=UTF8 --load-extension=$(EXTENSION)
TEMP_REGRESS_OPTS = --temp-instance=$(CURDIR)/tmp_check --temp-config=$(srcdir)/test/temp.conf \
               --bindir=$(TMP_BINDIR)

EXTRA_CLEAN  = tmp_install tmp_check tmp_pgtap results regression.diffs regression.out test/unit/bin \
               $(SHLIB_EXPORTS) kernels/*.o kernels/ntg_cuda.so

# Rebuild objects when a header they include changes.
override autodepend = yes

# JIT bitcode buys nothing for this module and would need clang at build time.
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# ---------------------------------------------------------------------------
# CUDA kernels (kernels/*.cu, docs/gpu.md): built by nvcc into ntg_cuda.so, installed beside ntg.so,
# which loads it only when a session asks for a device (ntg.device).  ntg.so itself never links
# CUDA, whatever the switch:
#   NTG_CUDA=auto  (default) build the kernels when nvcc is found (PATH, then /usr/local/cuda/bin)
#   NTG_CUDA=yes   build them, or fail when there is no nvcc
#   NTG_CUDA=no    CPU only
# NVCC=/path/to/nvcc picks a compiler; NVCC_GENCODE the GPU architectures (default: sm_80 A100,
# sm_90 H100/H200, and PTX that newer GPUs compile when they load it).
NTG_CUDA    ?= auto
NVCC        ?= $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc))
NVCC_GENCODE ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
               -gencode arch=compute_90,code=compute_90
KERNEL_SRCS  = $(sort $(wildcard kernels/*.cu))
KERNEL_DEPS  = $(wildcard kernels/*.h) src/core/nn/nn_device.h src/core/nn/nn_simd.h
NVCC_FOUND   = $(if $(NVCC),$(shell command -v $(NVCC) 2>/dev/null))
ifeq ($(NTG_CUDA),yes)
ifeq ($(NVCC_FOUND),)
$(error NTG_CUDA=yes but nvcc is not found: put it on PATH or set NVCC=/path/to/nvcc)
endif
NTG_CUDA_BUILD = yes
else ifeq ($(NTG_CUDA),auto)
NTG_CUDA_BUILD = $(if $(NVCC_FOUND),yes,no)
else ifeq ($(NTG_CUDA),no)
NTG_CUDA_BUILD = no
else
$(error NTG_CUDA must be auto, yes or no, not "$(NTG_CUDA)")
endif

ifeq ($(NTG_CUDA_BUILD),yes)
# the CUDA runtime goes in statically (nvcc's default); cuBLAS is not linked but loaded when a
# device starts (kernels/cu_runtime.cu), found through the rpath
CUDA_LIBDIR  = $(dir $(patsubst %/,%,$(dir $(NVCC_FOUND))))lib64
all: kernels/ntg_cuda.so
kernels/%.o: kernels/%.cu $(KERNEL_DEPS)
	$(NVCC) -O3 -std=c++17 -Xcompiler -fPIC,-fvisibility=hidden -I$(srcdir)/src/core -I$(srcdir)/kernels \
		$(NVCC_GENCODE) -c -o $@ $<
kernels/ntg_cuda.so: $(KERNEL_SRCS:.cu=.o) kernels/ntg_cuda.map
	$(NVCC) -shared -o $@ $(KERNEL_SRCS:.cu=.o) -Xlinker --version-script=kernels/ntg_cuda.map \
		-Xlinker -rpath=$(CUDA_LIBDIR)
install: install-cuda
install-cuda: kernels/ntg_cuda.so installdirs
	$(INSTALL_SHLIB) kernels/ntg_cuda.so '$(DESTDIR)$(pkglibdir)/ntg_cuda$(DLSUFFIX)'
else
all: cuda-note
cuda-note:
	@echo "ntg: building without CUDA kernels ($(if $(filter auto,$(NTG_CUDA)),no nvcc found,NTG_CUDA=$(NTG_CUDA))); everything runs on the CPU"
# a CPU-only install leaves no kernels of an earlier build behind
install: uninstall-cuda
endif
uninstall: uninstall-cuda
uninstall-cuda:
	rm -f '$(DESTDIR)$(pkglibdir)/ntg_cuda$(DLSUFFIX)'
.PHONY: install-cuda uninstall-cuda cuda-note

# (named as a prerequisite of the library too, so that make never treats it as intermediate)
$(shlib): $(SHLIB_EXPORTS)
$(SHLIB_EXPORTS): $(PG_SRCS)
	@{ echo '# generated by make from PG_FUNCTION_INFO_V1 in src/pg/*.c: the symbols ntg.so exports'; \
	   echo _PG_init; echo Pg_magic_func; \
	   { sed -n 's/^[[:space:]]*PG_FUNCTION_INFO_V1([[:space:]]*\([A-Za-z0-9_]*\)[[:space:]]*).*/\1\
pg_finfo_\1/p' $(PG_SRCS); \
	     sed -n 's/^PGDLLEXPORT[[:space:]][[:space:]]*void[[:space:]][[:space:]]*\([A-Za-z0-9_]*\)[[:space:]]*(Datum.*/\1/p' $(PG_SRCS); } | sort; } > $@

$(SQL_INSTALL): $(SQL_PARTS) $(EXTENSION).control
	@echo "-- ntg $(EXTVERSION) install script: generated from sql/ext/*.sql by make; edit those." > $@
	@printf '%s\n' '\echo Use "CREATE EXTENSION $(EXTENSION)" to load this file. \quit' >> $@
	@for f in $(SQL_PARTS); do echo; echo "-- ==== $$f ===="; cat $$f; done >> $@

.SECONDEXPANSION:
$(SQL_UPDATES): sql/$(EXTENSION)--%.sql: $$(sort $$(wildcard sql/update/%/*.sql))
	@echo "-- ntg upgrade script $*: generated from sql/update/$*/*.sql by make; edit those." > $@
	@printf '%s\n' '\echo Use "ALTER EXTENSION $(EXTENSION) UPDATE" to load this file. \quit' >> $@
	@for f in $^; do echo; echo "-- ==== $$f ===="; cat $$f; done >> $@

# ---------------------------------------------------------------------------
# Unit tests of the plain-C core: one TAP binary per test/unit/test_*.c, run by prove.
UNIT_SRCS    = $(sort $(wildcard test/unit/test_*.c))
UNIT_BINS    = $(patsubst test/unit/%.c,test/unit/bin/%,$(UNIT_SRCS))
UNIT_CFLAGS  = -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
               -Wno-missing-field-initializers -I$(srcdir)/src/core -I$(srcdir)/test/unit \
               $(DEP_CFLAGS) $(BLAS_DEFS) $(UNIT_EXTRA_CFLAGS)
UNIT_LIBS    = $(DEP_LIBS)

# The core is compiled again here without PostgreSQL's include paths: a core file that includes a
# PostgreSQL header fails this build, which keeps the core plain C.
UNIT_OBJS    = $(patsubst src/core/%.c,test/unit/bin/obj/%.o,$(CORE_SRCS))

test/unit/bin/obj/%.o: src/core/%.c
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -MMD -MP -c -o $@ $<

test/unit/bin/libntgcore.a: $(UNIT_OBJS)
	rm -f $@ && $(AR) rcs $@ $^

test/unit/bin/%: test/unit/%.c test/unit/bin/libntgcore.a test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -MMD -MP -MF test/unit/bin/obj/$(notdir $@).d -o $@ $< test/unit/bin/libntgcore.a $(UNIT_LIBS)

-include $(UNIT_OBJS:.o=.d) $(patsubst test/unit/bin/%,test/unit/bin/obj/%.d,$(UNIT_BINS))

# The kernels again, compiled by the C compiler into an emulated library whose kernels run thread
# after thread on the host (kernels/cu_emulate.h): test_cuda_emu checks every op of it against its
# CPU twin, on any machine.
EMU_OBJS     = $(patsubst kernels/%.cu,test/unit/bin/emu/%.o,$(KERNEL_SRCS)) test/unit/bin/emu/cu_emulate.o
EMU_CFLAGS   = -std=gnu11 -O2 -g -fPIC -fvisibility=hidden -Wall -Wextra -Wno-unused-parameter \
               -Wno-sign-compare -I$(srcdir)/src/core -I$(srcdir)/kernels

test/unit/bin/emu/%.o: kernels/%.cu $(KERNEL_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(EMU_CFLAGS) -x c -c -o $@ $<
test/unit/bin/emu/cu_emulate.o: kernels/cu_emulate.c kernels/cu_emulate.h
	@mkdir -p $(dir $@)
	$(CC) $(EMU_CFLAGS) -c -o $@ $<
test/unit/bin/ntg_cuda_emu.so: $(EMU_OBJS)
	$(CC) -shared -o $@ $^ -lm

# (a prerequisite of its test, so that building the test rebuilds the kernels it loads)
test/unit/bin/test_cuda_emu: test/unit/bin/ntg_cuda_emu.so

unit-build: $(UNIT_BINS) test/unit/bin/ntg_cuda_emu.so

unit: unit-build
	prove --timer -f $(UNIT_BINS)

# ---------------------------------------------------------------------------
# A private copy of the server with ntg installed into it: PostgreSQL finds lib/ and share/ relative
# to its own binary, so tests never write to system directories and need no root.
PG_BINDIR    := $(shell $(PG_CONFIG) --bindir)
TMP_INSTALL  = $(CURDIR)/tmp_install
TMP_BINDIR   = $(TMP_INSTALL)$(PG_BINDIR)

tmp_install: all
	rm -rf $(TMP_INSTALL)
	mkdir -p $(TMP_INSTALL)$(dir $(PG_BINDIR:/=)) $(TMP_INSTALL)$(dir $(datadir:/=))
	cp -a $(dir $(PG_BINDIR:/=)). $(TMP_INSTALL)$(dir $(PG_BINDIR:/=))
	cp -a $(datadir)/. $(TMP_INSTALL)$(datadir)
	$(MAKE) install DESTDIR=$(TMP_INSTALL) >/dev/null

regresscheck: tmp_install
	$(pg_regress_check) $(TEMP_REGRESS_OPTS) $(REGRESS_OPTS) $(REGRESS)

.PHONY: unit unit-build tmp_install regresscheck

print-tmp-bindir:
	@echo $(TMP_BINDIR)
.PHONY: print-tmp-bindir

print-unit-bins:
	@echo $(UNIT_BINS)
.PHONY: print-unit-bins

# Compiler and linker flags for programs built against the core outside this Makefile (bench/).
print-dep-flags:
	@echo $(DEP_CFLAGS) $(DEP_LIBS)
.PHONY: print-dep-flags

# yes when this build makes the CUDA kernels (NTG_CUDA and nvcc), else no
print-cuda-build:
	@echo $(NTG_CUDA_BUILD)
.PHONY: print-cuda-build
