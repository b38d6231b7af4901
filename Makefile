# examengine: `make run` sets everything up and serves; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test init bench clean system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Runtime dependencies (re-installed when pyproject.toml changes).
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# Runtime + test and benchmark tools.
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	touch $@ $(VENV)/.installed-run

# Debian packages a fresh machine may lack: CJK fonts for pages and printed forms (Noto CJK,
# and WenQuanYi Micro Hei, a TrueType face WeasyPrint subsets fast), poppler (pdftotext,
# pdftoppm) and zbar (zbarimg) to read printed forms back in the tests, and a real browser for
# the page tests (Playwright drives Debian's chromium).
RUN_PACKAGES := fonts-noto-cjk fonts-wqy-microhei
SYSTEM_PACKAGES := $(RUN_PACKAGES) chromium poppler-utils zbar-tools
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

test: $(VENV)/.installed-dev system-deps
	$(BIN)/pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/cat_step.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
