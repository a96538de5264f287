#!/usr/bin/env bash
# Every metric the code registers (.Name("mca_...")) is in docs/metrics.md,
# and every metric the doc's tables name is registered.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
code=$(grep -rhoE '\.Name\("mca_[a-z_]+"\)' "$ROOT/sidecar" "$ROOT/operator" "$ROOT/common" |
  sed -E 's/.*"(mca_[a-z_]+)".*/\1/' | sort -u)
doc=$(grep -oE '^\| `mca_[a-z_]+`' "$ROOT/docs/metrics.md" | sed -E 's/.*`(mca_[a-z_]+)`/\1/' | sort -u)
missing=$(comm -23 <(echo "$code") <(echo "$doc"))
stale=$(comm -13 <(echo "$code") <(echo "$doc"))
[ -z "$missing" ] || echo "docs/metrics.md lacks: $missing" >&2
[ -z "$stale" ] || echo "docs/metrics.md names metrics the code no longer registers: $stale" >&2
[ -z "$missing$stale" ] && echo "docs/metrics.md lists the $(echo "$code" | wc -l) metrics the code registers"
