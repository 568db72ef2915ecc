#!/bin/sh
# /usr/local/nginx/sbin/nginx on the source_build scenario's hosts: nginx as `./configure
# --prefix=/usr/local/nginx` (no other path option) and `make install` leave it, made of Debian's
# own binary. `-V` reports that build; every other call runs Debian's nginx with that prefix and
# that build's nginx.conf, unless the caller gives its own -p or -c (nginx -t -c <copy>, as the
# role tests a configuration).
set -eu
debian=/usr/sbin/nginx
prefix=/usr/local/nginx

prefix_given=no
conf_given=no
for arg in "$@"; do
    case $arg in
        -V)
            # Debian's build without its --prefix and without any --*-path= option (conf, pid, logs,
            # temp dirs, modules, lock, sbin), and with --prefix=/usr/local/nginx first: nginx then
            # knows its files only relative to the prefix (conf/nginx.conf, logs/nginx.pid).
            "$debian" -V 2>&1 | sed -E \
                -e 's# --prefix=[^ ]*##' \
                -e 's# --[a-z0-9-]+-path=[^ ]*##g' \
                -e "s#^configure arguments:#configure arguments: --prefix=$prefix#" >&2
            exit 0
            ;;
        -p*) prefix_given=yes ;;
        -c*) conf_given=yes ;;
    esac
done

[ "$conf_given" = yes ] || set -- -c "$prefix/conf/nginx.conf" "$@"
[ "$prefix_given" = yes ] || set -- -p "$prefix/" "$@"
exec "$debian" "$@"
