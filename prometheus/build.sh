#!/usr/bin/env bash
# Builds the pinned real Prometheus server and promtool from this Go module into a
# cache outside the repository. Rebuilt only when go.mod, go.sum or this script
# change (the pin's hash names the cache folder). Prints the folder holding the
# binaries.
#
# Cache root: $KSCALE_PROMETHEUS_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/kscale/prometheus.
#
# Built with the `remove_all_sd` tag (upstream's switch, see the module's plugins/):
# no cloud or Kubernetes service discovery, which kscale's backfill-and-query use
# never needs; the TSDB, PromQL, the HTTP API and promtool's `tsdb` commands are
# the released code. Without `builtinassets` the web UI's static files are not
# embedded (building them needs npm); the API and /-/ready are unaffected.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${KSCALE_PROMETHEUS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kscale/prometheus}"
pin="$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" | sha256sum | cut -c1-16)"
out="$root/$pin"
bins=(prometheus promtool)
complete=1
for b in "${bins[@]}"; do [[ -x "$out/bin/$b" ]] || complete=0; done
if [[ $complete == 1 && -f "$out/bin/.complete" ]]; then
  echo "$out/bin"
  exit 0
fi
ver="$(awk '{for (i = 1; i < NF; i++) if ($i == "github.com/prometheus/prometheus") print $(i + 1)}' "$here/go.mod" | head -n 1)"
# Module v0.3MM.P is Prometheus 3.MM.P (upstream's module versioning).
release="$(echo "$ver" | sed -E 's/^v0\.3([0-9]{2})\.([0-9]+)$/3.\1.\2/; s/^3\.0([0-9])\./3.\1./')"
mkdir -p "$out/bin"
log="$out/build.log"
echo "kscale: building Prometheus $release (github.com/prometheus/prometheus $ver) into $out/bin; log: $log" >&2
cd "$here"
# -trimpath and no VCS stamping keep the build independent of the checkout's path;
# the version is stamped as upstream's .promu.yml does, so `prometheus --version`
# and /api/v1/status/buildinfo report the pinned release.
v=github.com/prometheus/common/version
x="-X $v.Version=$release -X $v.Revision=$ver -X $v.Branch=kscale-pin -X $v.BuildUser=kscale -X $v.BuildDate=19700101-00:00:00"
flags=(-trimpath -buildvcs=false -tags "netgo remove_all_sd" -ldflags "-s -w $x")
{
  go build "${flags[@]}" -o "$out/bin/" \
    github.com/prometheus/prometheus/cmd/prometheus \
    github.com/prometheus/prometheus/cmd/promtool
} >"$log" 2>&1 || { echo "kscale: Prometheus build failed; last lines of $log:" >&2; tail -n 30 "$log" >&2; exit 1; }
touch "$out/bin/.complete"
# Builds of earlier pins are dropped (the Go build cache keeps a rebuild to a relink).
for old in "$root"/*/; do
  [[ "${old%/}" == "$out" ]] || rm -rf "${old%/}"
done
echo "$out/bin"
