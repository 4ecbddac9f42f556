#!/usr/bin/env bash
# Refresh the third-party files that Data Docs pages load, at the versions Great Expectations'
# page templates name, from the npm registry. The files are committed: a site renders without
# internet and an install needs no npm. Run it after a GX upgrade that changes the library
# versions its templates name (tests/test_data_docs.py fails until then).
set -euo pipefail
dest="$(cd "$(dirname "$0")" && pwd)/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rm -rf "$dest" && mkdir -p "$dest"

fetch() {  # fetch PACKAGE@VERSION NAME: unpack the package as $work/NAME and keep its license
  (cd "$work" && npm pack --silent "$1" >/dev/null && mkdir -p "$2" && tar xzf ./*.tgz -C "$2" && rm ./*.tgz)
  mkdir -p "$dest/$2"
  cp "$work/$2/package/"LICENSE* "$dest/$2/" 2>/dev/null || true
}
keep() {  # keep NAME SOURCE TARGET: copy one file, without its source-map comment
  mkdir -p "$(dirname "$dest/$1/$3")"
  sed -e 's#/\*\# sourceMappingURL=[^*]*\*/##' -e 's#//\# sourceMappingURL=.*$##' \
    "$work/$1/package/$2" >"$dest/$1/$3"
}

fetch jquery@3.7.1 jquery
keep jquery dist/jquery.min.js jquery.min.js

fetch popper.js@1.12.9 popper.js
keep popper.js dist/umd/popper.min.js popper.min.js
printf 'popper.js 1.12.9, MIT license (package.json of the npm package).\n' >"$dest/popper.js/LICENSE"

fetch bootstrap@4.3.1 bootstrap
keep bootstrap dist/css/bootstrap.min.css css/bootstrap.min.css
keep bootstrap dist/js/bootstrap.min.js js/bootstrap.min.js

fetch bootstrap-table@1.19.1 bootstrap-table
keep bootstrap-table dist/bootstrap-table.min.css bootstrap-table.min.css
keep bootstrap-table dist/bootstrap-table.min.js bootstrap-table.min.js
for f in bootstrap-table-filter-control.css bootstrap-table-filter-control.min.css \
  bootstrap-table-filter-control.min.js; do
  keep bootstrap-table "dist/extensions/filter-control/$f" "extensions/filter-control/$f"
done

fetch bootstrap-datepicker@1.9.0 bootstrap-datepicker
keep bootstrap-datepicker dist/css/bootstrap-datepicker.min.css css/bootstrap-datepicker.min.css
keep bootstrap-datepicker dist/js/bootstrap-datepicker.min.js js/bootstrap-datepicker.min.js

fetch @forevolve/bootstrap-dark@1.1.0 bootstrap-dark
keep bootstrap-dark dist/css/bootstrap-prefers-dark.min.css bootstrap-prefers-dark.min.css

fetch @fortawesome/fontawesome-free@6.6.0 fontawesome
# woff2 only (every current browser reads it): drop the TrueType fallbacks from the stylesheet.
sed -e 's#,url(../webfonts/[a-z0-9-]*\.ttf) format("truetype")##g' \
  "$work/fontawesome/package/css/all.min.css" >"$dest/fontawesome/all.min.css"
mkdir -p "$dest/fontawesome/webfonts"
cp "$work/fontawesome/package/webfonts/"*.woff2 "$dest/fontawesome/webfonts/"
sed -i 's#\.\./webfonts/#webfonts/#g' "$dest/fontawesome/all.min.css"
