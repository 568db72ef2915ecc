#!/usr/bin/env bash
# make demo: a throwaway Debian web host (podman + systemd), a demo PKI, the real
# `ansible-playbook chat_callback.mtls.deploy`, then the proof with curl.
# make demo-clean (this script with "clean") removes the host.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

host=${DEMO_HOST:-mtls-demo}
image=localhost/chat-callback-mtls-host:debian-12
port=${DEMO_PORT:-8443}
pki=demo/pki
step() { printf '\n==> %s\n' "$*"; }

if [ "${1:-}" = clean ]; then
    if command -v podman >/dev/null && podman container exists "$host"; then
        podman rm -f "$host" >/dev/null
        echo "removed the demo host $host"
    else
        echo "no demo host to remove"
    fi
    rm -rf "$pki"
    exit 0
fi

step "Starting the throwaway web host '$host' (podman, systemd inside, port 127.0.0.1:$port -> 443)"
podman rm -f "$host" >/dev/null 2>&1 || true
podman run -d --name "$host" --hostname "$host" --systemd=always \
    -p "127.0.0.1:$port:443" "$image" >/dev/null
for _ in $(seq 60); do
    state=$(podman exec "$host" systemctl is-system-running 2>/dev/null || true)
    [[ $state == running || $state == degraded ]] && break
    sleep 1
done
echo "systemd in $host: $state"

step "Making the demo PKI in $pki (www.example.com, a stand-in TencentQQAuthCA, a client it signed)"
python tests/pki.py demo "$pki" --server-name www.example.com

step "Running: ansible-playbook -i demo/inventory.yml chat_callback.mtls.deploy"
ansible-playbook -i demo/inventory.yml chat_callback.mtls.deploy

step "Proof: a webhook call with the client certificate signed by the client CA"
curl_site() {
    curl -sS -o /dev/null -w '%{http_code}' --resolve "www.example.com:$port:127.0.0.1" \
        --cacert "$pki/server-root-ca.crt" "$@" "https://www.example.com:$port/"
}
with_cert=$(curl_site --cert "$pki/client.crt" --key "$pki/client.key")
echo "with the client certificate:     HTTP $with_cert"
step "Proof: the same call without a client certificate, and with one from another CA"
without=$(curl_site)
echo "without a client certificate:    HTTP $without (nginx: No required SSL certificate was sent)"
rogue=$(curl_site --cert "$pki/rogue-client.crt" --key "$pki/rogue-client.key")
echo "with a certificate of another CA: HTTP $rogue"

if [[ $with_cert == 200 && $without == 400 && $rogue == 400 ]]; then
    step "Demo passed. Look around: podman exec -it $host bash (cat /etc/nginx/conf.d/www.example.com.conf)"
    echo "Remove the host with: make demo-clean"
else
    echo "Demo FAILED: expected 200 / 400 / 400" >&2
    exit 1
fi
