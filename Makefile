# chronicle: PGXS build of a C++ extension.
#   make / make install     build and install into the server of $(PG_CONFIG)
#   make test               every suite against a throwaway cluster (test/run.sh)
#   make demo               install what is missing, build, install, run the examples
#   make bench              benchmarks as ratios against same-run baselines
#   make check-valgrind     pg_regress with the server under valgrind memcheck (test/valgrind/run.sh)

EXTENSION   = chronicle
EXTVERSION  = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" chronicle.control)
MODULE_big  = chronicle

SOURCES     = $(sort $(wildcard src/*.cpp src/*/*.cpp))
OBJS        = $(SOURCES:.cpp=.o)

# The scripts are assembled from the modules' SQL (src/schema.sql explains how):
# data objects (tables.sql, and tables_<topic>.sql for a table an older module
# gains) are created once; the rest is re-runnable code that both the install
# script and the upgrade script from the previous release run.
SQL_MODULES = events types replay snapshots projections subscriptions erasure tree citus
SQL_DATA    = src/schema.sql $(foreach m,$(SQL_MODULES),$(wildcard src/$(m)/tables.sql) $(sort $(wildcard src/$(m)/tables_*.sql)))
SQL_CODE    = src/base.sql $(foreach m,$(SQL_MODULES),$(sort $(filter-out $(SQL_DATA),$(wildcard src/$(m)/*.sql))))
PREVIOUS    = 0.1.0
UPGRADE_DIR = src/upgrade/$(PREVIOUS)--$(EXTVERSION)
# Checks that refuse the upgrade before it changes anything (names the new
# release reserves that the database already uses: docs/design/upgrades.md).
UPGRADE_CHECK = $(sort $(wildcard $(UPGRADE_DIR)/before/*.sql))
# Data objects new in this release (a new module's tables.sql, an older
# module's new tables_<topic>.sql): created as a new install does.
UPGRADE_NEW = src/erasure/tables.sql src/types/tables_owners.sql
UPGRADE_PRE = $(UPGRADE_CHECK) $(UPGRADE_NEW) $(sort $(wildcard $(UPGRADE_DIR)/*.sql))
UPGRADE_POST= $(sort $(wildcard $(UPGRADE_DIR)/after/*.sql))
DATA_built  = $(EXTENSION)--$(EXTVERSION).sql $(EXTENSION)--$(PREVIOUS)--$(EXTVERSION).sql
# Every earlier release's install script, kept as released (test/upgrade installs it).
DATA        = $(sort $(wildcard src/upgrade/$(EXTENSION)--*.sql))

# pg_regress runs sql/schedule's files in its order (test/lib/check_schedule.sh
# fails `make test` when a sql/*.sql is not in it); setup always runs first.
REGRESS        = $(shell sed -n 's/^test:[[:space:]]*//p' sql/schedule)
REGRESS_OPTS   = --load-extension=$(EXTENSION)
ISOLATION      = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=$(EXTENSION)

PG_CPPFLAGS = -Isrc -DCHRONICLE_VERSION='"$(EXTVERSION)"'
PG_CXXFLAGS = -std=c++17 -fPIC -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-register -MMD -MP
ifeq ($(CI),true)
PG_CXXFLAGS += -Werror
endif
SHLIB_LINK  = -lstdc++ -lcrypto  # hash.cpp: SHA-256 through OpenSSL, as the server itself
EXTRA_CLEAN = $(OBJS:.o=.d) results output_iso regression.diffs regression.out

# PGXS would emit LLVM bitcode with clang, without our C++ flags; JIT inlining
# of this module is not worth a second toolchain.
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

-include $(OBJS:.o=.d)

# version() reports EXTVERSION, compiled in: a new default_version rebuilds it.
src/chronicle.o: chronicle.control

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_DATA) $(SQL_CODE) src/privileges.sql
	{ printf '%s\n' '\echo Use "CREATE EXTENSION $(EXTENSION)" to load this file. \quit'; cat $^; } > $@

# The migration folders too: a migration deleted changes only its folder.
$(EXTENSION)--$(PREVIOUS)--$(EXTVERSION).sql: $(UPGRADE_PRE) $(SQL_CODE) $(UPGRADE_POST) src/privileges.sql \
		$(wildcard $(UPGRADE_DIR) $(UPGRADE_DIR)/before $(UPGRADE_DIR)/after)
	{ printf '%s\n' '\echo Use "ALTER EXTENSION $(EXTENSION) UPDATE TO '"'"'$(EXTVERSION)'"'"'" to load this file. \quit'; cat $(filter %.sql,$^); } > $@

# Suites against an already running server (PGHOST/PGPORT/PGUSER); test/run.sh
# starts the throwaway cluster and calls these.
.PHONY: test demo bench check-valgrind regresscheck isolationcheck
regresscheck:
	$(pg_regress_installcheck) $(REGRESS_OPTS) setup $(filter-out setup,$(REGRESS))
isolationcheck:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)

test:
	test/run.sh
demo:
	test/demo/demo.sh
bench:
	test/bench/run.sh
check-valgrind:
	test/valgrind/run.sh
