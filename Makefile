# The commands a newcomer needs:
#   make run    the CPU demo of the whole pipeline (no cluster, no network) -> demo/reports/index.html
#   make test   the test suite, both tiers (needs root: it starts a local SLURM, installs Debian packages)
#   make check  the unit tier only (no root, no daemon, no network; the loop between edits)
# Each creates the virtual environment .venv on first use (about 2 minutes; torch is large).

PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed
export PATH := $(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: run paper test check venv bench clean

$(STAMP): pyproject.toml .ci/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -c .ci/constraints.txt -e '.[pipeline,test]'
# byte-compile on every core what pip would have compiled one file at a time (82 CPU-s: half the
# install's wall on 2 cores), and the package itself (where PYTHONDONTWRITEBYTECODE is set, every
# process would compile it again); like pip, files this Python cannot compile are skipped (torch
# ships tests for Python 3.12)
	$(BIN)/python -m compileall -qq -j 0 $(VENV)/lib src || true
# compile the UFM kernel into numba's cache once, here, rather than in the first pipeline jobs (~17 CPU-s each)
	$(BIN)/python -c "from deepcollapse.ufm import kernel_loop; kernel_loop.warm()"
	touch $@

venv: $(STAMP)

# The demo is its own DVC pipeline (demo/dvc.yaml, lock demo/dvc.lock) over its own output root
# demo/, with its own parameter file demo/params.yaml (params.yaml + workflow/demo.yaml, merged):
# the lock records the parameters the outputs were made with, and the paper run's results/,
# reports/ and dvc.lock are never touched.
run: $(STAMP)
	$(BIN)/python workflow/scripts/config_schema.py
	$(BIN)/python workflow/scripts/dvc_pipelines.py
	$(BIN)/dvc repro demo/dvc.yaml
	@echo "open demo/reports/index.html"

# The paper run (GPU recommended for the networks): every parameter of params.yaml.
paper: $(STAMP)
	$(BIN)/python workflow/scripts/config_schema.py
	$(BIN)/python workflow/scripts/dvc_pipelines.py
	$(BIN)/dvc repro

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadscope tests/unit tests/system

check: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests/unit

bench: $(STAMP)
	for script in tests/benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

# `snakemake --profile slurm all` finds the profile by name once it is linked into Snakemake's
# user profile folder ($XDG_CONFIG_HOME/snakemake, by default ~/.config/snakemake).
.PHONY: slurm-profile
# A profile folder of the user's own is left alone (ln would put the link inside it).
slurm-profile:
	@dir="$${XDG_CONFIG_HOME:-$$HOME/.config}/snakemake" && mkdir -p "$$dir" && \
	if [ -e "$$dir/slurm" ] && [ ! -L "$$dir/slurm" ]; then \
		echo "$$dir/slurm exists and is not a link: not replacing it (use --profile workflow/profiles/slurm)" >&2; exit 1; \
	fi && \
	ln -sfn "$(CURDIR)/workflow/profiles/slurm" "$$dir/slurm" && \
	echo "linked $$dir/slurm -> $(CURDIR)/workflow/profiles/slurm"

clean:
	rm -rf results reports/index.html reports/pages reports/figures reports/data reports/notebooks .snakemake \
		demo/results demo/reports demo/data demo/.snakemake
