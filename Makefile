# chat_callback.mtls — every entry point a user or CI needs.
#   make demo   one throwaway Debian web host, the real deploy playbook, and the proof
#   make test   everything CI runs: lint, unit, module-through-Ansible, sanity, docs, the
#               execution environment, the version matrix, the installed tarball, molecule
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# The newest ansible-core requires_ansible claims, on Python 3.13 from pyenv (its shim fails:
# the interpreter is called by path). The oldest is the one in $(VENV).
PYTHON_NEWEST ?= $(shell pyenv root 2>/dev/null || echo $${PYENV_ROOT:-$$HOME/.pyenv})/versions/3.13.0/bin/python3.13
VENV_NEWEST := build/venv-newest
BIN_NEWEST := $(CURDIR)/$(VENV_NEWEST)/bin
VENV_SCAN := build/venv-scan
# nox and antsibull-nox (requirements-nox.txt): lint, docs and sanity sessions (noxfile.py,
# antsibull-nox.toml), each in a venv of its own under build/nox, kept between runs (every run
# still installs the session's pins). nox finds an interpreter by its version on PATH, where
# pyenv's shims fail: build/nox-bin holds python3.13, a link to PYTHON_NEWEST.
VENV_NOX := build/venv-nox
BIN_NOX := $(CURDIR)/$(VENV_NOX)/bin
NOX = PATH=$(CURDIR)/build/nox-bin:$$PATH $(BIN_NOX)/nox --envdir build/nox --reuse-venv yes --error-on-missing-interpreters
export MTLS_SCAN_PYTHON := $(CURDIR)/$(VENV_SCAN)/bin/python
COLLECTIONS := $(CURDIR)/build/collections
export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export CONTAINERS_CONF := $(CURDIR)/tests/containers.conf
export ANSIBLE_FORCE_COLOR ?= 0
export PY_COLORS ?= 0

.PHONY: help venv venv-newest venv-scan collection-link image lint unit ansible-tests sanity molecule test demo demo-clean bench build clean
.PHONY: installed-copy installed docs ee matrix venv-nox nox prometheus

help:
	@echo "make demo        deploy the mTLS site on a throwaway podman host and show the proof"
	@echo "make demo-clean  remove the demo host"
	@echo "make test        lint, unit tests, module tests, ansible-test sanity, docs, prometheus, ee, matrix, installed, molecule"
	@echo "make bench       benchmarks (figures, not tests)"
	@echo "make build       the collection tarball"
	@echo "make installed   the tarball checked, installed (build/installed) and deployed by the demo from there"
	@echo "make docs        antsibull-docs lint of the docs, galaxy-importer on the tarball (nox)"
	@echo "make ee          execution environment build context (build/ee) for AWX / AAP, checked offline"
	@echo "make matrix      unit and module tests on the newest ansible-core claimed (build/venv-newest)"
	@echo "make prometheus  promtool: check and unit-test extras/prometheus/nginx_mtls.rules.yml, lint .prom samples"
	@echo "make nox         every default nox session: lint, ansible-lint, extra-checks, docs-check, sanity on each core"

$(VENV)/.installed: requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

venv: $(VENV)/.installed

$(VENV_NEWEST)/.installed: requirements-test-newest.txt
	@[ -x "$(PYTHON_NEWEST)" ] || { echo "$(PYTHON_NEWEST) not found: set PYTHON_NEWEST to a Python 3.13" >&2; exit 1; }
	$(PYTHON_NEWEST) -m venv $(VENV_NEWEST)
	$(BIN_NEWEST)/pip install --quiet --disable-pip-version-check -r requirements-test-newest.txt
	touch $@

venv-newest: $(VENV_NEWEST)/.installed

$(VENV_NOX)/.installed: requirements-nox.txt
	@[ -x "$(PYTHON_NEWEST)" ] || { echo "$(PYTHON_NEWEST) not found: set PYTHON_NEWEST to a Python 3.13" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV_NOX)
	$(BIN_NOX)/pip install --quiet --disable-pip-version-check -r requirements-nox.txt
	mkdir -p build/nox-bin
	ln -sfn $(PYTHON_NEWEST) build/nox-bin/python3.13
	touch $@

venv-nox: $(VENV_NOX)/.installed

# sslyze pins an older cryptography than the tooling: the scan (molecule/scan) gets its own venv.
$(VENV_SCAN)/.installed: requirements-scan.txt
	$(PYTHON) -m venv $(VENV_SCAN)
	$(VENV_SCAN)/bin/pip install --quiet --disable-pip-version-check -r requirements-scan.txt
	touch $@

venv-scan: $(VENV_SCAN)/.installed

# Ansible finds the checkout as chat_callback.mtls through this link.
collection-link: $(COLLECTIONS)/ansible_collections/chat_callback/mtls
$(COLLECTIONS)/ansible_collections/chat_callback/mtls:
	mkdir -p $(@D)
	ln -sfn $(CURDIR) $@

# apt packages a target needs, installed only when missing (CI starts from a fresh machine).
apt_need = missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi

image:
	tests/images/build-image.sh bookworm
	tests/images/build-image.sh trixie

# ruff, yamllint (files and module docs) and ansible-lint run as nox sessions (antsibull-nox.toml).
lint: venv venv-nox collection-link
	$(NOX) -s lint ansible-lint extra-checks
	antsibull-changelog lint
	python scripts/role_vars_table.py --check
	for m in cert_check tls_probe nginx_site_info site_files; do ansible-doc chat_callback.mtls.$$m | grep -q "chat_callback.mtls.$$m"; done
	for p in deploy rotate audit; do ansible-playbook -i demo/inventory.yml chat_callback.mtls.$$p --syntax-check; done

# njs (Debian's CLI of nginx's JavaScript engine) runs the callback module's unit test.
unit: venv collection-link
	$(call apt_need,njs)
	python -m pytest tests/unit -q

ansible-tests: venv collection-link
	python -m pytest tests/ansible -q -m ansible

# ansible-test sanity --venv, without ignore files, on every ansible-core version requires_ansible
# admits (noxfile.py; scripts/ansible_test_offline_pip.py stands in for the get-pip.py download).
sanity: venv-nox
	$(call apt_need,shellcheck git)
	$(NOX) -s ansible-test-sanity

molecule: venv venv-scan collection-link image
	$(call apt_need,openssh-client)
	molecule test --all

test: venv
	@start=$$SECONDS; \
	$(MAKE) --no-print-directory lint unit ansible-tests sanity docs prometheus ee matrix installed molecule; \
	echo "make test: all stages passed in $$((SECONDS - start)) s"

demo: venv collection-link image
	scripts/demo.sh

demo-clean:
	scripts/demo.sh clean

bench: venv collection-link image
	$(call apt_need,openssl openssh-client)
	python benchmarks/bench_role.py $(BENCH_ARGS)

build: venv
	ansible-galaxy collection build --force --output-path build/

# The tarball's file list checked, then installed offline into build/installed (scripts/installed-test.sh).
installed-copy: build
	scripts/installed-test.sh install

# From the installed copy only: --syntax-check, the demo (scripts/demo.sh) on its own host
# mtls-installed (127.0.0.1:18643; `make demo`'s host and demo/pki are left alone), --check.
installed: installed-copy image
	scripts/installed-test.sh demo

# antsibull-docs lint-collection-docs (nox session docs-check): module and role docs, markup, and
# references to this collection and ansible.builtin; galaxy-importer on the built tarball
# (build-import-check), as Galaxy or Automation Hub would import it (antsibull-nox.toml).
docs: venv-nox
	$(NOX) -s docs-check build-import-check

# AWX / AAP: `ansible-builder create` writes the execution environment's build context to build/ee;
# scripts/check_ee.py rehearses its galaxy and introspection stages offline. Building the image
# needs the base image from a container registry, which CI cannot reach: out of scope.
ee: build
	rm -rf build/ee
	ansible-builder create -f execution-environment.yml -c build/ee
	python scripts/check_ee.py build/ee

# Unit and module tests on the newest ansible-core requires_ansible claims (the oldest runs in unit
# and ansible-tests; sanity runs on every claimed version in `make sanity`).
matrix: venv venv-newest collection-link
	$(call apt_need,njs)
	python scripts/check_requires_ansible.py
	$(BIN_NEWEST)/python -m pytest tests/unit tests/ansible -q

# promtool (Debian's package prometheus, installed when missing): the alert rules checked and
# unit-tested, tests/prometheus/sample.prom and any PROM_FILES linted as node_exporter reads them.
PROM_FILES ?=
prometheus:
	scripts/check_prometheus.sh $(PROM_FILES)

# Every default nox session at once (what lint, docs and sanity run of it).
nox: venv venv-nox collection-link
	$(call apt_need,shellcheck git)
	$(NOX)

clean: demo-clean
	rm -rf build .pytest_cache .ruff_cache
