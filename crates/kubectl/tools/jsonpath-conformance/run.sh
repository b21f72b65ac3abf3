#!/bin/sh
# Regenerates crates/kubectl/src/jsonpath/conformance.rs: builds a Go harness around
# client-go v0.37.2's util/jsonpath (copied from the Go module cache, with kubectl's
# custom-columns printer logic in harness.go) and records what it prints for the templates
# and custom-columns specs listed in gen.py. Needs Go and python3; nothing is downloaded.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=${CLIENT_GO:-$(go env GOMODCACHE)/k8s.io/client-go@v0.37.2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/jsonpath" "$work/template"
cp "$src"/util/jsonpath/jsonpath.go "$src"/util/jsonpath/parser.go "$src"/util/jsonpath/node.go "$work/jsonpath/"
cp "$src"/third_party/forked/golang/template/*.go "$work/template/"
chmod -R u+w "$work"
sed -i 's#k8s.io/client-go/third_party/forked/golang/template#jph/template#' "$work/jsonpath/jsonpath.go"
printf 'module jph\n\ngo 1.22\n' > "$work/go.mod"
cp "$here/harness.go" "$work/main.go"
(cd "$work" && GOFLAGS=-mod=mod GOPROXY=off go build -o jph .)
out="$here/../../src/jsonpath/conformance.rs"
(cd "$work" && python3 "$here/gen.py" "$out")
rustfmt --edition 2024 "$out"
