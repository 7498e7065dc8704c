#!/usr/bin/env bash
# localcos quickstart with coscmd, the COS command-line tool.
#
#   pip install coscmd
#   LOCALCOS_SECRET_ID=AKIDLOCALCOSEXAMPLE LOCALCOS_SECRET_KEY=localcos-example-secret-key \
#       localcos serve --ephemeral --listen 127.0.0.1:9000 &
#   bash examples/coscmd.sh
#
# coscmd has no endpoint-IP option: it always calls
# http://<bucket>.cos.<region>.myqcloud.com, so localcos is given to it as an
# HTTP proxy (set only for the coscmd commands below).
set -euo pipefail

ENDPOINT="${LOCALCOS_ENDPOINT:-127.0.0.1:9000}"
SECRET_ID="${LOCALCOS_SECRET_ID:-AKIDLOCALCOSEXAMPLE}"
SECRET_KEY="${LOCALCOS_SECRET_KEY:-localcos-example-secret-key}"
BUCKET="${LOCALCOS_BUCKET:-quickstart-1250000000}"   # <name>-<APPID>

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
CONF="$WORK/cos.conf"

cos() { http_proxy="http://$ENDPOINT" HTTP_PROXY="http://$ENDPOINT" no_proxy= NO_PROXY= \
        coscmd -c "$CONF" -l "$WORK/coscmd.log" "$@"; }

coscmd -c "$CONF" config -a "$SECRET_ID" -s "$SECRET_KEY" -b "$BUCKET" -r ap-guangzhou --do-not-use-ssl
cos createbucket >/dev/null 2>&1 && echo "created bucket $BUCKET" || echo "bucket $BUCKET already exists"

printf 'Hello, localcos!' > "$WORK/hello.txt"
cos upload "$WORK/hello.txt" hello.txt
cos list
cos download -f hello.txt "$WORK/hello-copy.txt"
echo "got hello.txt: $(cat "$WORK/hello-copy.txt")"
