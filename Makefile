# The README's quick start: `make demo` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest

# The whole pipeline, offline, on the samples of the five historical seed sources (samples/<source id>/).
DEMO_SOURCES := pes-marche aife e-marchespublics grandlyon marches-publics-info

demo: install
	$(BIN)/decp build --offline $(DEMO_SOURCES) $(foreach s,$(DEMO_SOURCES),--input $(s)=samples/$(s)) \
		--data-dir data --out dist

lint: install
	$(BIN)/ruff check src tests benchmarks samples
	$(BIN)/ruff format --check src tests benchmarks samples

clean:
	rm -rf $(VENV) dist build *.egg-info src/*.egg-info .pytest_cache
