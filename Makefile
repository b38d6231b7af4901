# examengine: `make run` sets everything up and serves; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Every version `make run` and `make test` install, refreshed by `make lock`.
LOCK   := requirements.lock
LOWEST := .venv-lowest

.PHONY: run test init bench clean system-deps lock audit test-lowest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Runtime dependencies at the locked versions (re-installed when pyproject.toml or the lock changes).
$(VENV)/.installed-run: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install -q -c $(LOCK) -e .
	touch $@

# Runtime + test, benchmark and packaging tools (uv, pip-audit), at the locked versions.
$(VENV)/.installed-dev: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install -q -c $(LOCK) -e ".[dev]"
	touch $@ $(VENV)/.installed-run

# Re-resolve every dependency (runtime and all extras) to today's newest allowed versions, for
# Python 3.11+ on any platform. Commit the result after `make test` passes on it.
lock: $(VENV)/.installed-dev
	$(BIN)/uv pip compile pyproject.toml --all-extras --universal --python-version 3.11 --upgrade -o $(LOCK)

# Known vulnerabilities in the locked versions (PyPI's advisory data, over the network). --strict:
# a package that could not be looked up fails the audit instead of passing unexamined.
audit: $(VENV)/.installed-dev
	$(BIN)/pip-audit --strict --progress-spinner off --disable-pip --no-deps -r $(LOCK)

# The suite against the lowest versions pyproject.toml allows for every direct dependency, in a
# virtualenv of its own (the floors are claims: this proves them). PYTEST_ARGS narrows the run.
test-lowest: $(VENV)/.installed-dev system-deps
	[ -x $(LOWEST)/bin/python ] || $(BIN)/uv venv -q --seed $(LOWEST) --python $(BIN)/python
	$(BIN)/uv pip install -q --python $(LOWEST)/bin/python --resolution lowest-direct -e ".[dev]"
	$(LOWEST)/bin/python -m pytest $(PYTEST_ARGS)

# Debian packages a fresh machine may lack: CJK fonts for pages and printed forms (Noto CJK,
# and WenQuanYi Micro Hei, a TrueType face WeasyPrint subsets fast), poppler (pdftotext,
# pdftoppm) and zbar (zbarimg) to read printed forms back in the tests, and a real browser for
# the page tests (Playwright drives Debian's chromium), and nginx with openssl for the reverse-proxy
# test (tests/test_proxy.py runs docs/deploy/nginx-examengine.conf on loopback).
RUN_PACKAGES := fonts-noto-cjk fonts-wqy-microhei
SYSTEM_PACKAGES := $(RUN_PACKAGES) chromium poppler-utils zbar-tools nginx openssl
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

init: $(VENV)/.installed-run
	@$(MAKE) --no-print-directory system-deps SYSTEM_PACKAGES="$(RUN_PACKAGES)"
	$(BIN)/examengine init

run: init
	@echo ""
	@echo "examengine 已就绪。请在浏览器中打开："
	@echo "  考生登录:    http://$(HOST):$(PORT)/exam      （用上面列出的演示准考证号和访问码）"
	@echo "  监考:        http://$(HOST):$(PORT)/proctor"
	@echo "  题库:        http://$(HOST):$(PORT)/writer/items"
	@echo "  API 文档:    http://$(HOST):$(PORT)/docs"
	@echo ""
	$(BIN)/examengine serve --host $(HOST) --port $(PORT)

# The suite on every core (pytest-xdist; TEST_WORKERS=0 runs it in one process).
TEST_WORKERS ?= auto
test: $(VENV)/.installed-dev system-deps
	$(BIN)/pytest -n $(TEST_WORKERS)

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/cat_step.py

clean:
	rm -rf $(VENV) $(LOWEST) .pytest_cache .hypothesis build
