#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The translation LANG compiles and covers every string: a template made now from
# po/POTFILES.in (so a string added without a translation fails) is merged with
# po/LANG.po; nothing may be untranslated or fuzzy, and msgfmt -c must pass.
# Usage: check-po.sh PODIR LANG
set -eu
podir=$1
lang=$2
src=$(cd "$podir/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cd "$src"
grep -v '^#' po/POTFILES.in | grep -v '^$' > "$tmp/files"
xgettext --from-code=UTF-8 --add-comments=Translators --keyword=_ --keyword=N_ \
    --keyword=C_:1c,2 --keyword=NC_:1c,2 --keyword=g_dngettext:2,3 \
    --files-from="$tmp/files" --output="$tmp/vireo.pot"
total=$(msgattrib --no-wrap "$tmp/vireo.pot" | grep -c '^msgid "' || true)
[ "$total" -gt 20 ] || { echo "check-po: only $total strings found; xgettext missed the sources" >&2; exit 1; }

msgmerge --quiet --no-fuzzy-matching "po/$lang.po" "$tmp/vireo.pot" -o "$tmp/$lang.po"
untranslated=$(msgattrib --untranslated --no-obsolete "$tmp/$lang.po" | grep -c '^msgid "' || true)
fuzzy=$(msgattrib --only-fuzzy --no-obsolete "$tmp/$lang.po" | grep -c '^msgid "' || true)
msgfmt --check --statistics -o "$tmp/$lang.mo" "$tmp/$lang.po"
# msgattrib prints the empty header msgid too: one is the header.
if [ "$untranslated" -gt 1 ] || [ "$fuzzy" -gt 0 ]; then
    echo "check-po: $lang.po lacks translations:" >&2
    msgattrib --untranslated --no-obsolete "$tmp/$lang.po" | grep '^msgid' | grep -v '^msgid ""$' >&2 || true
    msgattrib --only-fuzzy --no-obsolete "$tmp/$lang.po" | grep '^msgid' >&2 || true
    exit 1
fi
echo "check-po: $lang.po translates all $((total - 1)) strings"
