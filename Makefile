# The README's quick start: `make demo` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,explore]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest

# The whole pipeline, offline, on the samples of the five historical seed sources (samples/<source id>/), with
# the tiny reference set of samples/references/ (docs/references.md).
DEMO_SOURCES := pes-marche aife e-marchespublics grandlyon marches-publics-info
DEMO_REFERENCES := sirene-etablissements sirene-unites-legales cog-communes cpv

demo: install
	$(BIN)/decp build --offline $(DEMO_SOURCES) $(foreach s,$(DEMO_SOURCES),--input $(s)=samples/$(s)) \
		$(foreach r,$(DEMO_REFERENCES),--reference $(r)=samples/references/$(r).csv) \
		--data-dir data --out dist

# Not part of `make test`: generates a corpus (10 % of national size by default) and times the build.
# Full size: make bench BENCH_ARGS="--contracts 1500000 --files 5000"
BENCH_ARGS ?= --contracts 150000 --files 500

bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check src tests samples bench
	$(BIN)/ruff format --check src tests samples bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) dist build *.egg-info src/*.egg-info .pytest_cache .mypy_cache
