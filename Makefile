# Two entry points do all the set-up: `make demo` and `make test`.
# Each creates .venv when it is missing and (re)installs the project when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.kavan-installed
DEMO_OUT ?= demo-out

.PHONY: demo test bench clean

$(STAMP): pyproject.toml requirements-nodeps.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m kavan demo --out $(DEMO_OUT)

test: $(STAMP)
	$(PY) -m pytest

clean:
	rm -rf $(DEMO_OUT) .pytest_cache build src/*.egg-info
