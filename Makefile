# `make book` builds the site, `make test` runs every test. Both create .venv/ on first use
# and reinstall whenever pyproject.toml changes.
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: book test lint serve clean bench

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	touch $@

book: $(INSTALLED)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The site is in _build/html: open _build/html/index.html, or run 'make serve'."

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup

# Compares deepscratch with a hand-written numpy reference (and PyTorch, once
# `.venv/bin/pip install -e ".[bench]"` added it). BENCH_ARGS="--no-book" skips the book builds.
bench: $(INSTALLED)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

serve: book
	$(BIN)/python -m http.server --directory _build/html 8000

clean:
	rm -rf _build .jupyter_cache
