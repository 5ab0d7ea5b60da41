# `make book` builds the site, `make test` runs every test. Both create .venv/ on first use
# and reinstall whenever pyproject.toml changes.
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: book pdf test binder-check lint serve clean bench

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	touch $@

# The execution cache knows the chapters' text, not the library they import, and a rebuild
# keeps pages whose sources did not change: when the library, the table of contents, the
# configuration, the Sphinx extensions (_ext/) or the build's own code (tools/) changes,
# start the site afresh.
SITE_INPUTS := $(wildcard deepscratch/*.py _ext/*.py tools/*.py) _toc.yml _config.yml
_build/.inputs: $(SITE_INPUTS)
	rm -rf _build/html _build/jupyter_execute _build/.jupyter_cache
	mkdir -p _build && touch $@

book: $(INSTALLED) _build/.inputs
	$(BIN)/python -m tools.build_book
	@echo "The site is in _build/html: open _build/html/index.html, or run 'make serve'."

# The whole book as one PDF, printed by Chromium from a single-page build of the site.
pdf: book
	$(BIN)/python -m tools.build_pdf

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Three workers on two cores: the builds' one-threaded stages and the browser's waits would
# leave a core idle with two. The order the tests run in is in tests/conftest.py.
test: lint _build/.inputs
	$(BIN)/python -m pytest -n 3 --dist loadgroup --no-loadscope-reorder

# Builds the launch button's environment afresh from binder/ and runs every chapter in it, and
# every reader's notebook of the build (Colab's), which has no hidden cells.
binder-check: book
	$(BIN)/python -m tools.binder_env

# Compares deepscratch with a hand-written numpy reference (and PyTorch, once
# `.venv/bin/pip install -e ".[bench]"` added it). BENCH_ARGS="--no-book" skips the book builds.
bench: $(INSTALLED)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

serve: book
	$(BIN)/python -m http.server --directory _build/html 8000

clean:
	rm -rf _build
