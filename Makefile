# ntg — PGXS build.  `make && make install` as for any extension;
# `make unit` runs the plain-C unit tests; test/run.sh runs every test suite.

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

PG_CPPFLAGS  = -I$(srcdir)/src/core -I$(srcdir)/src/pg -I/usr/include/x86_64-linux-gnu
PG_CFLAGS    = -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers -Wno-declaration-after-statement
SHLIB_LINK   = -lpcap -lopenblas -lm

# pg_regress: test scripts in sql/ (all but the install scripts), expected output in expected/.
REGRESS      = $(filter-out $(EXTENSION)--%,$(patsubst sql/%.sql,%,$(wildcard sql/*.sql)))
REGRESS_OPTS = --temp-instance=$(CURDIR)/tmp_check --temp-config=$(srcdir)/test/temp.conf \
               --no-locale --encoding=UTF8 --load-extension=$(EXTENSION) \
               --bindir=$(TMP_BINDIR)

EXTRA_CLEAN  = tmp_install tmp_check tmp_pgtap results regression.diffs regression.out test/unit/bin

# Rebuild objects when a header they include changes.
override autodepend = yes

# JIT bitcode buys nothing for this module and would need clang at build time.
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

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
               -I/usr/include/x86_64-linux-gnu $(UNIT_EXTRA_CFLAGS)
UNIT_LIBS    = -lpcap -lopenblas -lm

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

unit-build: $(UNIT_BINS)

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
	$(pg_regress_check) $(REGRESS_OPTS) $(REGRESS)

.PHONY: unit unit-build tmp_install regresscheck

print-tmp-bindir:
	@echo $(TMP_BINDIR)
.PHONY: print-tmp-bindir

print-unit-bins:
	@echo $(UNIT_BINS)
.PHONY: print-unit-bins
