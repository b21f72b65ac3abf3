#!/usr/bin/env bash
# Re-fetches the charting library embedded in report.html (uPlot, MIT) from the npm registry
# into crates/report/assets/uplot/ and verifies it: the tarball against the registry's
# integrity hash (sha512) and the vendored files against the sha256 sums recorded in
# crates/report/assets/uplot/README.md.
#
#   bash scripts/vendor-uplot.sh            # verify: fetch, compare with the vendored files
#   bash scripts/vendor-uplot.sh --update   # write the fetched files and their sums
#
# Needs npm (only to reach the registry) and sha256sum.
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.6.32
integrity='sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=='
dest=crates/report/assets/uplot
files=(dist/uPlot.iife.min.js dist/uPlot.min.css LICENSE)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "uplot@$version" >/dev/null)
tarball="$work/uplot-$version.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$got" != "$integrity" ]; then
  echo "error: uplot-$version.tgz integrity $got, expected $integrity" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"
if grep -qi -e '</script' -e '<!--' "$work/package/dist/uPlot.iife.min.js"; then
  echo "error: uPlot.iife.min.js holds </script or <!--; it cannot be inlined in a <script>" >&2
  exit 1
fi

if [ "${1:-}" = "--update" ]; then
  for f in "${files[@]}"; do cp "$work/package/$f" "$dest/"; done
  {
    echo "# uPlot $version (vendored)"
    echo
    echo "The interactive charts of report.html (run, compare and sweep pages) are drawn with"
    echo "[uPlot](https://github.com/leeoniya/uPlot) $version, MIT licence (LICENSE here),"
    echo "from the npm registry's tarball https://registry.npmjs.org/uplot/-/uplot-$version.tgz"
    echo "(integrity $integrity)."
    echo "crates/report embeds these files inline (include_str!) so a page opens offline."
    echo "Re-fetch and verify with \`bash scripts/vendor-uplot.sh\` (\`--update\` rewrites them)."
    echo
    echo "sha256:"
    echo
    echo '```'
    (cd "$dest" && sha256sum "${files[@]##*/}")
    echo '```'
  } > "$dest/README.md"
  echo "updated $dest"
  exit 0
fi

status=0
for f in "${files[@]}"; do
  name=${f##*/}
  want=$(grep -E "  $name\$" "$dest/README.md" | cut -d' ' -f1)
  have=$(sha256sum "$dest/$name" | cut -d' ' -f1)
  fetched=$(sha256sum "$work/package/$f" | cut -d' ' -f1)
  if [ "$want" = "$have" ] && [ "$have" = "$fetched" ]; then
    echo "ok $name $have"
  else
    echo "MISMATCH $name: README $want, vendored $have, registry $fetched" >&2
    status=1
  fi
done
exit $status
