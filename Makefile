# The README's two commands: `make run` and `make test`. Both create .venv and install first.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTHON ?= python3
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: this exact version resolves to the CPU build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[eval,test,ocr]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/qa index
	$(BIN)/qa serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/ruff check qa server.py tests
	$(BIN)/ruff format --check qa server.py tests
	$(BIN)/mypy qa server.py
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check qa server.py tests
	$(BIN)/ruff format --check qa server.py tests
	$(BIN)/mypy qa server.py

format: install
	$(BIN)/ruff format qa server.py tests
	$(BIN)/ruff check --fix qa server.py tests

clean:
	rm -rf $(VENV) index/gen-* index/CURRENT index/.lock tests/artifacts
