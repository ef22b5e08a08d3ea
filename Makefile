# Two entry points do all the set-up: `make demo` and `make test`.
# Each creates .venv when it is missing and (re)installs the project when pyproject.toml or constraints.txt changes:
# kavan with every extra, at the exact versions of constraints.txt, then the two model files it reads but does not
# ship (kavan assets fetch: MobileNetV2 ImageNet, FER2013; each checked by SHA-256).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.kavan-installed
DEMO_OUT ?= demo-out

.PHONY: demo test browser bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[all,test]'
	$(PY) -m kavan assets fetch
	@touch $(STAMP)

# The real-GIF sheet reads $KAVAN_REAL_GIFS; by default the shared folder beside the checkout, when there is one.
REAL_GIFS ?= $(wildcard ../shared/data/real-gifs)

demo: $(STAMP)
	KAVAN_REAL_GIFS="$${KAVAN_REAL_GIFS:-$(REAL_GIFS)}" $(PY) -m kavan demo --out $(DEMO_OUT)

test: $(STAMP) browser
	$(PY) -m ruff check .
	$(PY) -m pytest -n auto --dist loadfile

# The web demo's end-to-end test drives Debian's Chromium through ChromeDriver. Installed here when missing and
# possible (root with apt-get); otherwise that one test is skipped and says why.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium and chromium-driver for the browser test"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
	    >/dev/null; } || echo "warning: could not install Chromium; the browser test will be skipped"; \
	else \
	  echo "note: no /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver):" \
	       "the browser test will be skipped"; \
	fi

clean:
	rm -rf $(DEMO_OUT) .pytest_cache build src/*.egg-info
