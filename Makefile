# chronicle: PGXS build of a C++ extension.
#   make / make install     build and install into the server of $(PG_CONFIG)
#   make test               every suite against a throwaway cluster (test/run.sh)
#   make demo               install what is missing, build, install, run the examples
#   make bench              benchmarks as ratios against same-run baselines

EXTENSION   = chronicle
EXTVERSION  = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" chronicle.control)
MODULE_big  = chronicle

SOURCES     = $(sort $(wildcard src/*.cpp src/*/*.cpp))
OBJS        = $(SOURCES:.cpp=.o)

# The install script is assembled from the modules' SQL, in dependency order.
SQL_MODULES = events types replay snapshots projections subscriptions tree
SQL_PARTS   = src/base.sql $(foreach m,$(SQL_MODULES),$(sort $(wildcard src/$(m)/*.sql))) src/privileges.sql
DATA_built  = $(EXTENSION)--$(EXTVERSION).sql
# Upgrade scripts form a linear chain, one per release (chronicle--A--B.sql).
DATA        = $(sort $(wildcard src/upgrade/$(EXTENSION)--*--*.sql))

REGRESS        = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS   = --load-extension=$(EXTENSION)
ISOLATION      = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=$(EXTENSION)

PG_CPPFLAGS = -Isrc -DCHRONICLE_VERSION='"$(EXTVERSION)"'
PG_CXXFLAGS = -std=c++17 -fPIC -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-register -MMD -MP
ifeq ($(CI),true)
PG_CXXFLAGS += -Werror
endif
SHLIB_LINK  = -lstdc++
EXTRA_CLEAN = $(OBJS:.o=.d) results output_iso regression.diffs regression.out

# PGXS would emit LLVM bitcode with clang, without our C++ flags; JIT inlining
# of this module is not worth a second toolchain.
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

-include $(OBJS:.o=.d)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

# Suites against an already running server (PGHOST/PGPORT/PGUSER); test/run.sh
# starts the throwaway cluster and calls these.
.PHONY: test demo bench regresscheck isolationcheck
regresscheck:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)
isolationcheck:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)

test:
	test/run.sh
demo:
	test/demo/demo.sh
bench:
	test/bench/run.sh
