#!/bin/sh
# Setup command (manifest `setup`): render lighttpd.conf for this launch and check it with `lighttpd -tt`.
# usage: render.sh RUN_DIR   (ports and state directory come from the SIGCERT_* environment)
set -eu
run_dir=$1
here=$(cd "$(dirname "$0")" && pwd)
grace_s=$(( (${SIGCERT_GRACE_MS:-5000} + 999) / 1000 ))
sed -e "s|@RUN_DIR@|$run_dir|g" \
    -e "s|@STATE_DIR@|$SIGCERT_STATE_DIR|g" \
    -e "s|@HTTP_PORT@|$SIGCERT_PORT_HTTP|g" \
    -e "s|@UPSTREAM_PORT@|$SIGCERT_PORT_UPSTREAM|g" \
    -e "s|@GRACE_S@|$grace_s|g" \
    "$here/lighttpd.conf.in" > "$run_dir/lighttpd.conf"
exec /usr/sbin/lighttpd -tt -f "$run_dir/lighttpd.conf"
