# Two commands matter: `make run` and `make test`. Both create .venv and install everything,
# including the system libraries Qt needs (with apt-get, when run as root on Debian/Ubuntu).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
SAMPLE ?= samples/mlp_digits.graph
# The first Python >= 3.11 on the PATH.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
# What Qt's offscreen and X11 (xcb) platforms load, as Debian/Ubuntu package names.
QT_SYSTEM_PACKAGES := libegl1 libgl1 libopengl0 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 \
	libfreetype6 libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
	libxcb-render-util0 libxcb-xinerama0 libxcb-shape0 libxcb-randr0 libxcb-xfixes0 libxcb-xkb1 \
	libxcb-glx0 libx11-xcb1 libwayland-cursor0 libwayland-client0 libwayland-egl1 fonts-dejavu-core

.PHONY: run test test-long install bench screenshot clean

run: install
	$(VENV)/bin/netdesigner $(SAMPLE)

test: install
	QT_QPA_PLATFORM=offscreen HYPOTHESIS_PROFILE=ci $(PY) -m pytest -q -m "not long"

# The slow checks, and the property-based (Hypothesis) tests again with fresh random examples
# (`make test` runs them derandomised: the same examples every time; see tests/conftest.py).
test-long: install
	QT_QPA_PLATFORM=offscreen HYPOTHESIS_PROFILE=random $(PY) -m pytest -q -m "long or hypothesis"

install: $(VENV)/.installed $(VENV)/.system-deps

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 or newer is needed (python3.11+ on the PATH)"; exit 1; }
	@if [ ! -x $(PY) ]; then \
	  $(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	    echo "venv needs ensurepip: installing python3-venv"; rm -rf $(VENV); \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv "$$($(PYTHON) -c 'import sys; print(f"python3.{sys.version_info[1]}-venv")')" \
	    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; \
	    $(PYTHON) -m venv $(VENV); }; \
	fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# Qt needs a few shared libraries that minimal images lack. Install the missing ones once
# (the stamp file records that this was tried).
$(VENV)/.system-deps: $(VENV)/.installed
	@missing=$$(ldd $$($(PY) -c 'import PySide6, pathlib; q = pathlib.Path(PySide6.__file__).parent / "Qt"; print(" ".join(map(str, [*q.glob("lib/libQt6Gui.so.6"), *q.glob("lib/libQt6Widgets.so.6"), *q.glob("plugins/platforms/libq*.so")])))') 2>/dev/null | grep -c "not found"); \
	if [ "$$missing" != "0" ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "installing system libraries for Qt"; \
	    apt-get update -qq && for pkg in $(QT_SYSTEM_PACKAGES); do \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$pkg >/dev/null 2>&1 \
	      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $${pkg}t64 >/dev/null 2>&1 || true; done; \
	  else \
	    echo "warning: Qt is missing system libraries; install: $(QT_SYSTEM_PACKAGES)"; \
	  fi; \
	fi; touch $@

# Every script in bench/ (tests/test_bench_target.py checks none is left out). The long-memory
# one trains 30 networks (about 10-15 minutes on 2 cores) and comes last.
bench: install
	$(PY) bench/validate_scaling.py
	$(PY) bench/gui_scaling.py
	$(PY) bench/numpy_vs_keras.py
	$(PY) bench/designer_overhead.py
	$(PY) bench/data_pipeline.py
	$(PY) bench/gpu_check.py
	$(PY) bench/long_memory.py

# Renders the designer with a sample open (offscreen) for the README.
screenshot: install
	$(PY) -m netdesigner.designer.screenshot samples/resnet_digits.graph docs/designer.png --select block_1
	$(PY) -m netdesigner.designer.screenshot samples/cnn_digits.graph docs/designer-dark.png --theme dark --select conv2d_2
	$(PY) -m netdesigner.designer.screenshot samples/cnn_digits.graph docs/designer-training-1280x800.png --size 1280x800 --train 40 --mid-run 3
	$(PY) -m netdesigner.designer.screenshot keras.applications.ResNet50 docs/designer-resnet50.png --size 1280x800 --import --select conv2_block1_add
	$(PY) -m netdesigner.designer.screenshot docs/cnn_digits_v2.graph docs/compare.png --size 1280x800 --compare samples/cnn_digits.graph
	$(PY) -m netdesigner.designer.screenshot samples/cnn_digits.graph docs/trace.png --size 1280x800 --trace 12
	$(PY) -m netdesigner.designer.screenshot samples/cnn_digits.graph docs/trace-drawing.png --size 1280x800 --trace 0 --draw
	$(PY) -m netdesigner.designer.screenshot samples/seq2seq_attention_dot.graph docs/attention.png --size 1280x800 --train 6 --trace 0 --trace-layer attention_1

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
