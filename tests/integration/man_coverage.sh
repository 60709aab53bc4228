#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The manual pages document everything the sources define: every configuration key of the
# table in common/conf.c (with its default and range), every module option of
# pam_entra_tap/options.c, every PAM return code the module uses, every verb, option and
# exit status of the programs (helper/contract.h), every journal field, event name and MESSAGE_ID of
# common/audit.c. The names are extracted from the sources, so a key, option, code or
# field added there without a manual entry fails here. Each page must also format without
# a single groff warning. Prints TAP.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
S=$top_srcdir
MAN=$S/man
CONF5=$MAN/pam_entra_tap.conf.5
MOD8=$MAN/pam_entra_tap.8
HELP8=$MAN/entra-tap-helper.8
CTL8=$MAN/entra-tap-grantctl.8
CLI8=$MAN/entra-tap.8
PAGES="$CONF5 $MOD8 $HELP8 $CTL8 $CLI8"

# at_least N WHAT LIST: the extraction found something (a broken extraction must fail)
at_least() {
	c=$(printf '%s\n' $3 | grep -c .)
	if [ "$c" -ge "$1" ]; then pass "found $c $2 in the sources"; else fail "found only $c $2 in the sources (expected at least $1)"; fi
}
# in_text TEXT GREP-ARGS...: grep finds GREP-ARGS in TEXT
in_text() {
	local t=$1
	shift
	printf '%s\n' "$t" | grep "$@"
}

# The lines of section NAME (.SH NAME or .SH "NAME") of a page, without the .SH line.
section() {
	awk -v want="$2" '
		/^\.SH/ { t = $0; sub(/^\.SH[ \t]+/, "", t); gsub(/"/, "", t); on = (t == want); next }
		on { print }' "$1"
}
# Roff source made searchable: \- and \e become - and \, font escapes go.
plain() { sed -e 's/\\-/-/g' -e 's/\\e/\\/g' -e 's/\\f[BIRP]//g' -e 's/\\(aq/'"'"'/g'; }
# Does the text on stdin have a definition line ".B NAME", ".BI NAME..." or ".BI "NAME ..."?
has_heading() {
	grep -Eq "^\.(B|BI|BR|IB) \"?$(printf '%s' "$1" | sed 's/[.[\*^$]/\\&/g')(\$|[ \"=])"
}
# heading_in TEXT NAME: TEXT has a definition line of NAME
heading_in() { printf '%s\n' "$1" | has_heading "$2"; }
# headings TEXT TITLE NAME...: a test for each NAME that TEXT has its definition line
headings() {
	local text=$1 title=$2 n
	shift 2
	for n in "$@"; do check "$title $n" heading_in "$text" "$n"; done
}
# documented MIN WHAT TEXT TITLE NAMES: at_least MIN WHAT NAMES, then headings TEXT TITLE
documented() {
	at_least "$1" "$2" "$5"
	# shellcheck disable=SC2086 # the list of names
	headings "$3" "$4" $5
}

for p in $PAGES; do
	check "$(basename "$p") exists" test -s "$p"
done

# ---- formatting ----
if command -v groff >/dev/null 2>&1; then
	for p in $PAGES; do
		out=$(groff -man -ww -z "$p" 2>&1)
		rc=$?
		if [ $rc -eq 0 ] && [ -z "$out" ]; then
			pass "groff -man -ww -z $(basename "$p"): no warnings"
		else
			fail "groff -man -ww -z $(basename "$p"): rc $rc"
			printf '%s\n' "$out" | sed 's/^/# /'
		fi
	done
else
	skip "groff is not installed"
fi
if command -v mandoc >/dev/null 2>&1; then
	for p in $PAGES; do
		out=$(mandoc -T lint -W warning "$p" 2>&1)
		if [ -z "$out" ]; then
			pass "mandoc -T lint $(basename "$p"): no warnings"
		else
			fail "mandoc -T lint $(basename "$p")"
			printf '%s\n' "$out" | sed 's/^/# /'
		fi
	done
else
	skip_optional "mandoc is not installed: lint skipped"
fi

# ---- configuration keys: name, default, range ----
TABLE=$(sed -n '/^static const struct et_key keys\[\] = {/,/^};/p' "$S/common/conf.c" | tr '\n\t' '  ')
KEYS=$(printf '%s\n' "$TABLE" | grep -oE '(STR|DUR|COUNT|LIST)\([a-z_0-9]+|\.name = "[a-z_0-9]+"' |
	sed -E 's/^(STR|DUR|COUNT|LIST)\(//; s/^\.name = "//; s/"$//')
at_least 30 "configuration keys" "$KEYS"
CONF_PLAIN=$(plain <"$CONF5")
# the block of one key: from its heading (the line after a .TP) to the next key's heading or
# the next .SS/.SH
key_block() {
	printf '%s\n' "$CONF_PLAIN" | awk -v key="$1" -v keys="$KEYS" '
		BEGIN { split(keys, k, /[ \n]+/); for (i in k) if (k[i] != "") isk[k[i]] = 1 }
		function heading(line,   w) {
			if (line !~ /^\.(B|BI) /) return ""
			w = line; sub(/^\.(B|BI) "?/, "", w); sub(/[ "=].*$/, "", w)
			return (w in isk) ? w : ""
		}
		/^\.S[HS]/ { on = 0; prev = ""; next }
		{ h = prev == ".TP" ? heading($0) : ""; if (h != "") on = (h == key); if (on) print; prev = $0 }'
}
# shellcheck disable=SC2086 # the list of names
headings "$CONF_PLAIN" "pam_entra_tap.conf(5) has an entry for key" $KEYS
# defaults: quoted ones and the ET_DEFAULT_* macros of conf.h
macro_value() { sed -n "s/^#define $1 \"\\(.*\\)\"\$/\\1/p" "$S/common/conf.h"; }
DEFAULTS=$(
	printf '%s\n' "$TABLE" | grep -oE '(DUR|COUNT)\([a-z_0-9]+, "[^"]*"' | sed -E 's/^[A-Z]+\(([a-z_0-9]+), "([^"]*)"/\1 \2/'
	printf '%s\n' "$TABLE" | grep -oE 'STR\([a-z_0-9]+, [a-z_0-9]+, ET_DEFAULT_[A-Z_]+' | sed -E 's/^STR\(([a-z_0-9]+), [a-z_0-9]+, /\1 /'
	printf '%s\n' "$TABLE" | grep -oE '\.name = "[a-z_0-9]+"[^}]*\.default_value = ("[^"]*"|ET_DEFAULT_[A-Z_]+)' |
		sed -E 's/^\.name = "([a-z_0-9]+)".*\.default_value = "?([^"]*)"?$/\1 \2/'
)
at_least 20 "keys with a default" "$(printf '%s\n' "$DEFAULTS" | cut -d' ' -f1)"
TMPF=$(mktemp) || exit 1
at_exit 'rm -f "$TMPF"'
printf '%s\n' "$DEFAULTS" >"$TMPF"
while read -r k v; do
	case $v in ET_DEFAULT_*) v=$(macro_value "$v") ;; esac
	blk=$(key_block "$k")
	if printf '%s\n' "$blk" | grep -qi 'default' &&
		printf '%s\n' "$blk" | grep -Eq "^\.BR? $(printf '%s' "$v" | sed 's/[.[\*^$/]/\\&/g')( |\$)"; then
		pass "key $k: default $v documented"
	else
		fail "key $k: default $v documented"
	fi
done <"$TMPF"
# ranges: "Range LO to HI" in the key's entry, written as conf.c's printer writes them
fmt_duration() {
	s=$1
	if [ "$s" -eq 0 ]; then echo 0
	elif [ $((s % 86400)) -eq 0 ]; then echo "$((s / 86400))d"
	elif [ $((s % 3600)) -eq 0 ]; then echo "$((s / 3600))h"
	elif [ $((s % 60)) -eq 0 ]; then echo "$((s / 60))m"
	else echo "${s}s"; fi
}
CAP=$(sed -n 's/^#define DURATION_CAP (\(.*\))$/\1/p' "$S/common/conf.c" | sed 's/L//g')
RANGES=$(printf '%s\n' "$TABLE" | grep -oE '(DUR|COUNT)\([a-z_0-9]+, "[^"]*", [^,()]+, [^,()]+\)' |
	sed -E 's/^(DUR|COUNT)\(([a-z_0-9]+), "[^"]*", ([^,]+), (.*)\)$/\1|\2|\3|\4/')
at_least 10 "keys with a range" "$(printf '%s\n' "$RANGES" | cut -d'|' -f2)"
printf '%s\n' "$RANGES" >"$TMPF"
while IFS='|' read -r kind k lo hi; do
	lo=$(($(printf '%s' "$lo" | sed "s/DURATION_CAP/($CAP)/g")))
	hi=$(($(printf '%s' "$hi" | sed "s/DURATION_CAP/($CAP)/g")))
	if [ "$kind" = DUR ]; then lo=$(fmt_duration "$lo"); hi=$(fmt_duration "$hi"); fi
	if key_block "$k" | tr '\n' ' ' | grep -q "Range $lo to $hi"; then
		pass "key $k: range $lo to $hi documented"
	else
		fail "key $k: range $lo to $hi documented"
	fi
done <"$TMPF"
# the rules between keys: every required key and each cross-key rule is named
RULES=$(section "$CONF5" "RULES BETWEEN KEYS" | plain)
for k in $(printf '%s\n' "$TABLE" | grep -oE 'STR\([a-z_0-9]+, [a-z_0-9]+, [A-Za-z_0-9]+, \.required = true' | sed -E 's/^STR\(([a-z_0-9]+),.*/\1/') \
	eligible_groups eligible_roles allowed_domains duration_min duration_max duration_default; do
	check "the rules between keys name $k" in_text "$RULES" -qw "$k"
done

# ---- module options ----
OPTS=$(grep -oE 'strn?cmp\((a|argv\[i\]), "[a-z_=]+"' "$S/pam_entra_tap/options.c" | sed -E 's/.*"([a-z_=]+)"$/\1/' | sort -u)
MOD_OPTIONS=$(section "$MOD8" OPTIONS | plain)
documented 8 "module options" "$MOD_OPTIONS" "pam_entra_tap(8) documents option" "$OPTS"
for v in $(grep -oE 'strcmp\(v, "[a-z]+"' "$S/pam_entra_tap/options.c" | sed -E 's/.*"([a-z]+)"$/\1/'); do
	check "pam_entra_tap(8) documents no_grant=$v" in_text "$MOD_OPTIONS" -Eq "^\.B $v( |\$)"
done
check "pam_entra_tap(8) documents configuration keys as module arguments" \
	sh -c 'printf "%s\n" "$1" | grep -q "^\.IB key = value"' _ "$MOD_OPTIONS"

# ---- PAM return codes the module uses ----
PAMH=/usr/include/security/_pam_types.h
if [ -r "$PAMH" ]; then
	ALLCODES=$(sed -n '/_PAM_RETURN_VALUES/q; s/^#define \(PAM_[A-Z_]*\)[[:space:]]\{1,\}[0-9]\{1,\}.*/\1/p' "$PAMH")
	CODES=$(for c in $ALLCODES; do grep -qw "$c" "$S"/pam_entra_tap/*.c && echo "$c"; done)
	at_least 10 "PAM return codes used by the module" "$CODES"
	RV=$(section "$MOD8" "RETURN VALUES" | plain)
	for c in $CODES; do
		check "pam_entra_tap(8) RETURN VALUES has $c" in_text "$RV" -qw "$c"
	done
else
	skip "the Linux-PAM headers are not installed: return codes not checked"
fi
for e in pam_sm_authenticate pam_sm_acct_mgmt pam_sm_setcred pam_sm_open_session pam_sm_close_session pam_sm_chauthtok; do
	grep -q "^PAM_EXTERN int $e(" "$S/pam_entra_tap/pam_entra_tap.c" || continue
	if section "$MOD8" "RETURN VALUES" | grep -qw "$e"; then pass "pam_entra_tap(8) says what $e returns"; else fail "pam_entra_tap(8) says what $e returns"; fi
done

# ---- the programs: verbs (helper/contract.h), options, exit statuses ----
CONTRACT=$S/helper/contract.h
# verbs of one program: the rows X(ID, "name", PROGRAM, admin) of ET_VERBS
verbs_of() { sed -n "s/^[[:space:]]*X([A-Z_]*, *\"\([a-z]*\)\", *$1, .*/\1/p" "$CONTRACT"; }
HVERBS=$(section "$HELP8" VERBS | plain)
CVERBS=$(section "$CTL8" VERBS | plain)
documented 3 "entra-tap-helper verbs" "$HVERBS" "entra-tap-helper(8) documents verb" "$(verbs_of HELPER)"
documented 5 "entra-tap-grantctl verbs" "$CVERBS" "entra-tap-grantctl(8) documents verb" "$(verbs_of GRANTCTL)"
OPTS=$(sed -n 's/^#define ET_OPT_[A-Z_]* "\(--[a-z-]*\)"$/\1/p' "$CONTRACT" | sort -u)
at_least 10 "program options" "$OPTS"
for o in $OPTS; do
	check "entra-tap-helper(8) or entra-tap-grantctl(8) documents $o" in_text "$HVERBS$CVERBS" -q -- "$o"
done
for f in $(sed -n '/^json_object \*et_grant_json(/,/^}/p' "$S/helper/progutil.c" | grep -oE 'json_object_object_add\(o, "[a-z_]+"' | sed -E 's/.*"([a-z_]+)"$/\1/'); do
	check "entra-tap-grantctl(8) documents list --json member $f" in_text "$CVERBS" -Eq "^\.BR? $f( |\$)"
done
EXITS=$(sed -n 's/^[[:space:]]*ET_EXIT_[A-Z_]* = \([0-9]\{1,\}\),.*/\1/p' "$CONTRACT")
at_least 10 "program exit statuses" "$EXITS"
for page in "$HELP8" "$CTL8"; do
	HEXIT=$(section "$page" "EXIT STATUS")
	for x in $EXITS; do
		check "$(basename "$page") documents exit status $x" in_text "$HEXIT" -q "^\.B $x\$"
	done
done

# ---- journal: fields, event names, message ids ----
FIELDS=$(grep -oE 'field_add\(&f, "[A-Z_]+"' "$S/common/audit.c" | sed -E 's/.*"([A-Z_]+)"$/\1/' | sort -u)
HJ=$(section "$CTL8" JOURNAL | plain)
documented 14 "journal fields" "$HJ" "entra-tap-grantctl(8) documents journal field" "$FIELDS"
EVENTS=$(sed -n 's/^[[:space:]]*\[ET_AUDIT_[A-Z_]*\] = { "\([0-9a-f]\{32\}\)", "\([a-z_]*\)" },.*/\1 \2/p' "$S/common/audit.c")
at_least 8 "journal events" "$(printf '%s\n' "$EVENTS" | cut -d' ' -f2)"
printf '%s\n' "$EVENTS" >"$TMPF"
while read -r id name; do
	if printf '%s\n' "$HJ" | grep -Eq "^\.B $name\$" && printf '%s\n' "$HJ" | grep -q "MESSAGE_ID=$id"; then
		pass "entra-tap-grantctl(8) documents event $name (MESSAGE_ID $id)"
	else
		fail "entra-tap-grantctl(8) documents event $name (MESSAGE_ID $id)"
	fi
	check "the catalog explains $name" grep -q "^-- $id\$" "$S/data/entra-tap.catalog"
done <"$TMPF"
CAUSES=$(sed -n '/cause_names\[\] = {/,/};/p' "$S/common/grant_store.c" | grep -oE '"[a-z_]+"' | tr -d '"')
at_least 5 "revoke causes" "$CAUSES"
for c in $CAUSES; do
	check "entra-tap-grantctl(8) explains revoke cause $c" in_text "$HJ" -Eq "^\.B $c\$"
done
# every page a unit or the catalog points to exists
for ref in $(grep -ohE 'man:[a-z_.-]+\([0-9]\)' "$S/data/entra-tap.catalog" "$S"/data/*.in "$S"/data/*.timer | sort -u); do
	page=$(printf '%s' "$ref" | sed -E 's/^man:([^(]+)\(([0-9])\)$/\1.\2/')
	check "$ref (named by the units or the catalog) is one of the pages" test -s "$MAN/$page"
done
# units and timers the grants page must describe
for u in entra-tap-sweep.timer entra-tap-sweep.service entra-tap-boot-reconcile.service; do
	if section "$CTL8" REVOCATION | plain | grep -q "$u"; then pass "entra-tap-grantctl(8) describes $u"; else fail "entra-tap-grantctl(8) describes $u"; fi
done

# ---- entra-tap: commands, options, the verdict, exit statuses ----
CSRC=$S/helper/entra-tap.c
CMDS=$(sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", usage_[a-z]*,.*/\1/p' "$CSRC" | sort -u)
CC=$(section "$CLI8" COMMANDS | plain)
documented 4 "entra-tap commands" "$CC" "entra-tap(8) documents command" "$CMDS"
# the grant verbs it runs for the administrator (admin = true in contract.h)
for v in $(sed -n 's/^[[:space:]]*X([A-Z_]*, *"\([a-z]*\)", *GRANTCTL, *true).*/\1/p' "$CONTRACT"); do
	check "entra-tap(8) documents command $v" in_text "$CC" -qw -- "$v"
done
CO=$(section "$CLI8" OPTIONS | plain)
for o in $(sed -n 's/^[[:space:]]*{ "\([a-z]*\)", [a-z_]*, NULL, .*/\1/p' "$CSRC"); do
	check "entra-tap(8) documents --$o" in_text "$CO" -q -- "--$o"
done
for s in $(sed -n 's/.*getopt_long(argc, argv, "+\([a-z:]*\)".*/\1/p' "$CSRC" | tr -d ':' | fold -w1); do
	if printf '%s\n' "$CO" | grep -Eq -- "(^|[ \"])-$s([ ,\"]|\$)"; then pass "entra-tap(8) documents -$s"; else fail "entra-tap(8) documents -$s"; fi
done
CV=$(section "$CLI8" "THE VERDICT" | plain)
for m in $(grep -oE 'json_object_object_add\(out, "[a-z_]+"' "$CSRC" | sed -E 's/.*"([a-z_]+)"$/\1/'); do
	check "entra-tap(8) explains verdict member $m" in_text "$CV" -Eq "^\.B $m\$"
done
CX=$(section "$CLI8" "EXIT STATUS")
for x in 0 $(sed -n 's/^#define EXIT_[A-Z_]* \([0-9]\{1,\}\)$/\1/p' "$CSRC"); do
	check "entra-tap(8) documents exit status $x" in_text "$CX" -q "^\.B $x\$"
done

# ---- installed ----
for p in $PAGES; do
	b=man/$(basename "$p")
	if grep -A8 '^dist_man_MANS' "$S/Makefile.am" | grep -q "$b"; then pass "Makefile.am installs $b"; else fail "Makefile.am installs $b"; fi
done

done_testing
