# cli_lib.sh: what every CLI test script starts with (sourced by tests/cli/*.sh):
# the program, the fixtures, a scratch directory and the check helpers.
M=${MAMBADNA:?}
D=${MD_TEST_DATA:?}
PY=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n_ok=0
n_fail=0
ok() { n_ok=$((n_ok + 1)); }
bad() { n_fail=$((n_fail + 1)); echo "FAILED: $*"; }
expect() { # CODE DESCRIPTION command...: the exit status; stdout in $T/out, stderr in $T/err
    want=$1; what=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" -eq "$want" ]; then ok; else bad "$what: exit $got, expected $want"; sed 's/^/    /' "$T/err"; fi
}
contains() { # FILE PATTERN DESCRIPTION
    if grep -q -- "$2" "$1"; then ok; else bad "$3: '$2' not in $1"; sed 's/^/    /' "$1" | head -5; fi
}
