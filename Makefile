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
INSTALLED := $(CURDIR)/build/installed
VENV_SCAN := build/venv-scan
export MTLS_SCAN_PYTHON := $(CURDIR)/$(VENV_SCAN)/bin/python
COLLECTIONS := $(CURDIR)/build/collections
export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export CONTAINERS_CONF := $(CURDIR)/tests/containers.conf
export ANSIBLE_FORCE_COLOR ?= 0
export PY_COLORS ?= 0

.PHONY: help venv venv-newest venv-scan collection-link image lint unit ansible-tests sanity molecule test demo demo-clean bench build clean
.PHONY: installed-copy installed docs ee matrix

help:
	@echo "make demo        deploy the mTLS site on a throwaway podman host and show the proof"
	@echo "make demo-clean  remove the demo host"
	@echo "make test        lint, unit tests, module tests, ansible-test sanity, docs, ee, matrix, installed, molecule"
	@echo "make bench       benchmarks (figures, not tests)"
	@echo "make build       the collection tarball"
	@echo "make installed   the tarball checked, installed (build/installed) and deployed by the demo from there"
	@echo "make docs        antsibull-docs lint of the installed collection's docs"
	@echo "make ee          execution environment build context (build/ee) for AWX / AAP, checked offline"
	@echo "make matrix      unit, module and sanity tests on the newest ansible-core claimed (build/venv-newest)"

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

lint: venv collection-link
	ruff check plugins tests benchmarks scripts molecule
	yamllint -s .
	ansible-lint
	antsibull-changelog lint
	python scripts/role_vars_table.py --check
	for m in cert_check tls_probe nginx_site_info site_files; do ansible-doc chat_callback.mtls.$$m | grep -q "chat_callback.mtls.$$m"; done
	for p in deploy rotate audit; do ansible-playbook -i demo/inventory.yml chat_callback.mtls.$$p --syntax-check; done

unit: venv collection-link
	python -m pytest tests/unit -q

ansible-tests: venv collection-link
	python -m pytest tests/ansible -q -m ansible

sanity: venv
	$(call apt_need,shellcheck git)
	scripts/ansible-test-sanity.sh

molecule: venv venv-scan collection-link image
	$(call apt_need,openssh-client)
	molecule test --all

test: venv
	@start=$$SECONDS; \
	$(MAKE) --no-print-directory lint unit ansible-tests sanity docs ee matrix installed molecule; \
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

# antsibull-docs on the installed copy, the docs users get: module and role docs, markup, and
# references to this collection and ansible.builtin (`all` would load every installed collection: minutes).
docs: installed-copy
	cd $(INSTALLED)/ansible_collections/chat_callback/mtls && ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) \
		antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs dependent .

# AWX / AAP: `ansible-builder create` writes the execution environment's build context to build/ee;
# scripts/check_ee.py rehearses its galaxy and introspection stages offline. Building the image
# needs the base image from a container registry, which CI cannot reach: out of scope.
ee: build
	rm -rf build/ee
	ansible-builder create -f execution-environment.yml -c build/ee
	python scripts/check_ee.py build/ee

# The newest ansible-core requires_ansible claims (the oldest runs in unit, ansible-tests, sanity).
matrix: venv venv-newest collection-link
	$(call apt_need,shellcheck git)
	python scripts/check_requires_ansible.py
	$(BIN_NEWEST)/python -m pytest tests/unit tests/ansible -q
	VENV=$(CURDIR)/$(VENV_NEWEST) scripts/ansible-test-sanity.sh

clean: demo-clean
	rm -rf build .pytest_cache .ruff_cache
