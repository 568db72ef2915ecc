#!/usr/bin/env bash
# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Check the Prometheus extras with promtool:
#   promtool check rules extras/prometheus/nginx_mtls.rules.yml
#   promtool test rules  tests/prometheus/nginx_mtls.rules.test.yml
#   promtool check metrics < tests/prometheus/sample.prom, and < every FILE given
# Each .prom file is also checked for what node_exporter's textfile collector and the rules need
# beyond promtool's lint: no client-side timestamps (the collector drops a whole file for one),
# nginx_mtls_certificate_not_after_seconds present and every nginx_mtls_* sample labelled with
# server_name. The FILEs together (one per site on a host) must agree on each metric's HELP and
# TYPE and hold no series twice: otherwise node_exporter drops series without setting
# node_textfile_scrape_error.
#
# promtool comes from Debian's package prometheus, installed with apt (as root) only when promtool
# is missing; the Prometheus server that package enables and starts is stopped and disabled again.
# Every check runs; the exit status is 1 when one failed.
#
# Usage: scripts/check_prometheus.sh [FILE.prom ...]   (FILE "-": standard input)

set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RULES="$REPO/extras/prometheus/nginx_mtls.rules.yml"
TESTS="$REPO/tests/prometheus/nginx_mtls.rules.test.yml"
SAMPLE="$REPO/tests/prometheus/sample.prom"

failed=0
fail() {
    echo "check_prometheus: FAILED: $*" >&2
    failed=1
}
step() { printf '\n==> %s\n' "$*"; }

# --- the FILE arguments (read before anything else: "-" is standard input) ------------------
tmpdir="$(mktemp -d)"
trap 'rm -rf "$tmpdir"' EXIT
extra=()
for arg in "$@"; do
    if [[ "$arg" == - ]]; then
        cat > "$tmpdir/stdin.prom"
        extra+=("$tmpdir/stdin.prom")
    elif [[ -f "$arg" && -r "$arg" ]]; then
        extra+=("$arg")
    else
        echo "check_prometheus: $arg: no such readable file" >&2
        exit 2
    fi
done

# --- promtool -------------------------------------------------------------------------------
if ! command -v promtool > /dev/null 2>&1; then
    if [[ "$(id -u)" -ne 0 ]]; then
        echo "check_prometheus: promtool not found; install Debian's package prometheus or run this as root" >&2
        exit 2
    fi
    step "Installing promtool (Debian package prometheus)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus > /dev/null
    # The package enables and starts a Prometheus server (port 9090); only promtool is wanted.
    if [[ -d /run/systemd/system ]]; then
        systemctl disable --now prometheus.service
    else
        # no systemd: the postinst started the SysV script (unless policy-rc.d forbade it)
        if [[ -x /etc/init.d/prometheus ]]; then
            /etc/init.d/prometheus stop > /dev/null  # --oknodo: fine when it is not running
        fi
        update-rc.d prometheus disable > /dev/null 2>&1 || true
        deb-systemd-helper disable prometheus.service > /dev/null 2>&1 || true  # for a later boot with systemd
    fi
fi
promtool --version 2>&1 | head -n 1

# --- rules ----------------------------------------------------------------------------------
step "promtool check rules ${RULES#"$REPO"/}"
promtool check rules "$RULES" || fail "promtool check rules ${RULES#"$REPO"/}"

step "promtool test rules ${TESTS#"$REPO"/}"
promtool test rules "$TESTS" || fail "promtool test rules ${TESTS#"$REPO"/}"

# --- metrics files --------------------------------------------------------------------------
# The sample lines of a file, comments and blank lines left out.
samples() { grep -Ev '^[[:space:]]*(#|$)' "$1" || true; }

check_prom() {
    local file="$1" name="$2" bad
    step "promtool check metrics < $name"
    if promtool check metrics < "$file"; then
        echo "  SUCCESS"
    else
        fail "promtool check metrics < $name"
    fi
    # name{labels} value [timestamp]: the label set removed, a third field is a timestamp
    bad="$(samples "$file" | awk '{ line = $0; sub(/\{.*\}/, " ") } NF > 2 { print line }' | head -n 3)" || true
    [[ -z "$bad" ]] || fail "$name: samples with a timestamp, node_exporter ignores the whole file: $bad"
    samples "$file" | grep -Eq '^nginx_mtls_certificate_not_after_seconds\{[^}]*server_name="' ||
        fail "$name: no nginx_mtls_certificate_not_after_seconds{server_name=...}, which the rules alert on"
    bad="$(samples "$file" | grep -E '^nginx_mtls_' | grep -Ev '^[a-z_]+\{([^}]*[{,])?server_name="' | head -n 3)" || true
    [[ -z "$bad" ]] || fail "$name: nginx_mtls samples without a server_name label: $bad"
}

check_prom "$SAMPLE" "${SAMPLE#"$REPO"/}"
for file in "${extra[@]}"; do
    if [[ "$file" == "$tmpdir/stdin.prom" ]]; then
        check_prom "$file" "(standard input)"
    else
        check_prom "$file" "$file"
    fi
done

if [[ ${#extra[@]} -gt 1 ]]; then
    step "The ${#extra[@]} files side by side in one textfile directory"
    # node_exporter merges the files: one HELP and one TYPE per metric, each series once
    bad="$(awk '$1 == "#" && ($2 == "HELP" || $2 == "TYPE") {
                key = $2 " " $3; text = $0
                if (key in seen && seen[key] != text) print "  " FILENAME ": " text "  (elsewhere: " seen[key] ")"
                else seen[key] = text
            }' "${extra[@]}")"
    dups="$(for file in "${extra[@]}"; do samples "$file"; done |
        sed -E 's/[[:space:]]+[^[:space:]]+[[:space:]]*$//' | sort | uniq -d)"
    [[ -z "$bad" ]] || fail "files disagree on HELP or TYPE, node_exporter drops the series of one of them:"$'\n'"$bad"
    [[ -z "$dups" ]] || fail "series in more than one file, node_exporter drops them:"$'\n'"$dups"
    [[ -n "$bad$dups" ]] || echo "  SUCCESS"
fi

if [[ "$failed" -ne 0 ]]; then
    echo $'\ncheck_prometheus: some checks failed (above)' >&2
    exit 1
fi
echo $'\ncheck_prometheus: all checks passed'
