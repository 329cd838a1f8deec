#!/usr/bin/env bash
# Print a bundle's total size and its largest parts. Information only: it never fails the build.
# (Under `set -o pipefail`, `sort | head` made the build exit 141: head stops reading after 12
# lines and sort dies of SIGPIPE. awk reads every line instead.)
#   bash packaging/size_report.sh dist/mcc-annotate
set -uo pipefail
bundle=${1:?usage: size_report.sh BUNDLE_DIR}
echo "size: $(du -sh "$bundle" 2>/dev/null | cut -f1) in total; largest parts:"
du -s "$bundle"/_internal/* "$bundle"/_internal/*/lib 2>/dev/null | sort -rn |
    awk 'NR <= 12 { printf "  %6.0f MB  %s\n", $1 / 1024, $2 }'
exit 0
