#!/usr/bin/env bash
# The "physical floor" of a deployment, for benchmarks/bench_role.py: what a shell does to put
# the same files on a podman host directly, without Ansible: copy the certificate, the key, the
# client CA and the server block, `nginx -t`, `systemctl reload nginx`. No checks, no backups,
# no rollback, no proof: the least work that changes the served site.
#
# usage: benchmarks/floor.sh [--one-exec] CONTAINER STAGING_DIR
#   STAGING_DIR mirrors the host's /etc/nginx, for example:
#     www.example.com.crt  www.example.com.key  TencentQQAuthCA.crt  conf.d/www.example.com.conf
#   default     one `podman cp` per file, then `podman exec nginx -t`, `podman exec systemctl reload`
#   --one-exec  a single `podman exec -i`: tar the files in, nginx -t, reload
set -euo pipefail

one_exec=false
if [ "${1:-}" = --one-exec ]; then
    one_exec=true
    shift
fi
if [ $# -ne 2 ] || [ ! -d "$2" ]; then
    echo "usage: $0 [--one-exec] CONTAINER STAGING_DIR" >&2
    exit 2
fi
container=$1
staging=$2
conf_dir=/etc/nginx

mapfile -t files < <(cd "$staging" && find . -type f -printf '%P\n' | sort)
[ "${#files[@]}" -gt 0 ] || { echo "$0: no files in $staging" >&2; exit 2; }

if $one_exec; then
    # Only the listed files are archived (no directory entries): /etc/nginx keeps its own modes.
    tar -C "$staging" -cf - "${files[@]}" |
        podman exec -i "$container" sh -c \
            "tar -xf - -C $conf_dir --no-same-owner && nginx -t -q && systemctl reload nginx"
else
    for f in "${files[@]}"; do
        podman cp "$staging/$f" "$container:$conf_dir/$f"
    done
    podman exec "$container" nginx -t -q
    podman exec "$container" systemctl reload nginx
fi
