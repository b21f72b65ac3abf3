#!/usr/bin/env bash
# Builds the pinned real control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, etcd) from this Go module into a cache outside the
# repository. Rebuilt only when go.mod, go.sum or cmd/ change (the pin's hash
# names the cache folder). Prints the folder holding the binaries.
#
# Cache root: $KSCALE_CONTROLPLANE_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/kscale/controlplane.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${KSCALE_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kscale/controlplane}"
pin="$(cat "$here/go.mod" "$here/go.sum" "$here/cmd/etcd/main.go" "$here/build.sh" | sha256sum | cut -c1-16)"
out="$root/$pin"
bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd)
complete=1
for b in "${bins[@]}"; do [[ -x "$out/bin/$b" ]] || complete=0; done
if [[ $complete == 1 && -f "$out/bin/.complete" ]]; then
  echo "$out/bin"
  exit 0
fi
ver="$(awk '$1=="k8s.io/kubernetes"{print $2}' "$here/go.mod")"
mkdir -p "$out/bin"
log="$out/build.log"
echo "kscale: building the control plane (k8s.io/kubernetes $ver) into $out/bin; log: $log" >&2
cd "$here"
# -trimpath and no VCS stamping keep the build independent of the checkout's path.
# The version is stamped as upstream's hack/lib/version.sh does, so `kubectl version`
# and /version report the pinned release.
minor="$(echo "$ver" | cut -d. -f2)"
x=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  x+=" -X $pkg.gitVersion=$ver -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
flags=(-trimpath -buildvcs=false -ldflags "-s -w$x")
{
  go build "${flags[@]}" -o "$out/bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl \
    ./cmd/etcd
} >"$log" 2>&1 || { echo "kscale: control plane build failed; last lines of $log:" >&2; tail -n 30 "$log" >&2; exit 1; }
touch "$out/bin/.complete"
# Builds of earlier pins are dropped (the Go build cache keeps a rebuild to a relink).
for old in "$root"/*/; do
  [[ "${old%/}" == "$out" ]] || rm -rf "${old%/}"
done
echo "$out/bin"
