#!/bin/sh
# Setup command (manifest `setup`): render nginx.conf for this launch and check it with `nginx -t`.
# usage: render.sh RUN_DIR   (ports and state directory come from the SIGCERT_* environment)
set -eu
run_dir=$1
here=$(cd "$(dirname "$0")" && pwd)
grace_s=$(( (${SIGCERT_GRACE_MS:-5000} + 999) / 1000 ))
mkdir -p "$run_dir/nginx-tmp"
# workers run as `nobody` when nginx starts as root: the paths they use must be reachable
chmod 755 "$run_dir" "$run_dir/nginx-tmp"
sed -e "s|@RUN_DIR@|$run_dir|g" \
    -e "s|@STATE_DIR@|$SIGCERT_STATE_DIR|g" \
    -e "s|@HTTP_PORT@|$SIGCERT_PORT_HTTP|g" \
    -e "s|@UPSTREAM_PORT@|$SIGCERT_PORT_UPSTREAM|g" \
    -e "s|@GRACE_S@|$grace_s|g" \
    "$here/nginx.conf.in" > "$run_dir/nginx.conf"
chmod 644 "$run_dir/nginx.conf"
exec /usr/sbin/nginx -t -q -p "$run_dir/" -c "$run_dir/nginx.conf"
