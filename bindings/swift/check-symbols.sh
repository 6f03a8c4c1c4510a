#!/usr/bin/env bash
# Checks the Swift bindings against the C header without a Swift compiler (CI has none):
#
#  1. every C name the Swift sources use — `vox_*` functions and types, `VOX_*` constants, and
#     snake_case struct fields and labels (`im_user_id`, `user_data`, …; the Swift code itself is
#     camelCase) — occurs in the code (not the comments) of include/vox_messenger.h;
#  2. every call `vox_fn(…)` passes as many arguments as the header declares for `vox_fn`
#     (needs python3);
#  3. when tree-sitter-swift is importable by $PYTHON_TS (default python3), every file parses;
#  4. when clang is installed, the module map finds the header and `@import CVoxMessenger` compiles.
#
# Exits non-zero on any mismatch. Usage: bindings/swift/check-symbols.sh [HEADER]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
header=${1:-$here/../../include/vox_messenger.h}
[ -f "$header" ] || { echo "check-symbols: no header at $header" >&2; exit 2; }

sources=$(find "$here/Sources" "$here/Tests" "$here/Examples" -name '*.swift' | sort)
[ -n "$sources" ] || { echo "check-symbols: no Swift sources" >&2; exit 2; }

# The header's code: comments removed (`//` lines and trailing, and /* … */ blocks).
header_code=$(sed -e '/\/\*/,/\*\//d' -e 's#//.*##' "$header")

# The Swift code: string literals emptied, full-line comments and ` // ` trailing comments
# removed (not "ws://…").
swift_code() {
  sed -E -e 's/"([^"\\]|\\.)*"/""/g' -e 's#^[[:space:]]*//.*##' -e 's#[[:space:]]//[[:space:]].*##' "$@"
}

# shellcheck disable=SC2086
names=$(swift_code $sources |
  grep -oE '\b(vox_[A-Za-z0-9_]+|VOX_[A-Z0-9_]+|[a-z][a-z0-9]*(_[a-z0-9]+)+)\b' | sort -u)

missing=0
count=0
for name in $names; do
  count=$((count + 1))
  if ! grep -qw -- "$name" <<<"$header_code"; then
    echo "MISSING in header: $name ($(grep -lw -- "$name" $sources | xargs -n1 basename | tr '\n' ' '))" >&2
    missing=$((missing + 1))
  fi
done
echo "check-symbols: $count C names used by the Swift sources, $missing missing"

# Arity of every call. Needs python3; without it only the names are checked.
arity=0
if command -v python3 >/dev/null; then
  # shellcheck disable=SC2086
  python3 - "$header" $sources <<'PY' || arity=1
import re, sys

header = open(sys.argv[1]).read()
header = re.sub(r"/\*.*?\*/", "", header, flags=re.S)
header = re.sub(r"//[^\n]*", "", header)
decl = {}
for m in re.finditer(r"\b(vox_\w+)\s*\(([^;{]*?)\)\s*;", header):
    params = " ".join(m.group(2).split())
    decl[m.group(1)] = 0 if params in ("", "void") else params.count(",") + 1

def strip(code):
    # Blank out string literals and comments so that their commas and brackets do not count.
    out, i, n = [], 0, len(code)
    while i < n:
        if code.startswith("//", i) and (i == 0 or code[i - 1] in " \t\n"):
            j = code.find("\n", i)
            i = n if j < 0 else j
        elif code.startswith('#"', i):
            j = code.find('"#', i + 2)
            out.append('""'); i = n if j < 0 else j + 2
        elif code[i] == '"':
            j = i + 1
            while j < n and code[j] != '"':
                j += 2 if code[j] == "\\" else 1
            out.append('""'); i = j + 1
        else:
            out.append(code[i]); i += 1
    return "".join(out)

bad = checked = 0
for path in sys.argv[2:]:
    code = strip(open(path).read())
    for m in re.finditer(r"\b(vox_\w+)\(", code):
        name = m.group(1)
        if name not in decl:
            continue  # a struct initialiser (labelled fields) or a missing name (reported above)
        depth, args, i, empty = 0, 0, m.end(), True
        while i < len(code):
            c = code[i]
            if c in "([{":
                depth += 1
            elif c in ")]}":
                if depth == 0:
                    break
                depth -= 1
            elif c == "," and depth == 0:
                args += 1
            if not c.isspace():
                empty = False
            i += 1
        got = 0 if empty else args + 1
        checked += 1
        if got != decl[name]:
            line = code.count("\n", 0, m.start()) + 1
            print(f"ARITY {path.split('/')[-1]}:{line}: {name} called with {got} arguments, "
                  f"the header declares {decl[name]}", file=sys.stderr)
            bad += 1
print(f"check-symbols: {checked} calls checked against {len(decl)} declarations, {bad} wrong")
sys.exit(1 if bad else 0)
PY
else
  echo "check-symbols: python3 not found; call arity not checked" >&2
fi

# Syntax, when a Swift grammar is at hand (`pip install tree-sitter tree-sitter-swift`): a parser,
# not a compiler, but it catches unbalanced brackets and malformed statements.
syntax=0
PYTHON_TS=${PYTHON_TS:-python3}
command -v "$PYTHON_TS" >/dev/null || PYTHON_TS=false  # `false` exits 1: handled as "not installed"
# shellcheck disable=SC2086
"$PYTHON_TS" - $sources <<'PY' 2>/dev/null || syntax=$?
import sys
try:
    import tree_sitter_swift
    from tree_sitter import Language, Parser
except ImportError:
    sys.exit(3)
parser = Parser(Language(tree_sitter_swift.language()))
bad = 0
for path in sys.argv[1:]:
    src = open(path, "rb").read()
    stack = [parser.parse(src).root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            bad += 1
            print(f"SYNTAX {path.split('/')[-1]}:{node.start_point[0] + 1}: "
                  f"{'missing ' + node.type if node.is_missing else 'cannot parse'}", file=sys.stdout)
        else:
            stack.extend(node.children)
print(f"check-symbols: syntax of {len(sys.argv) - 1} files parsed (tree-sitter-swift), {bad} errors")
sys.exit(1 if bad else 0)
PY
[ "$PYTHON_TS" = false ] && syntax=3
case $syntax in
  0) ;;
  3) echo "check-symbols: tree-sitter-swift not installed; syntax not checked"; syntax=0 ;;
  *) syntax=1 ;;
esac

# The module map, when clang is at hand: `@import CVoxMessenger;` must find and compile the header
# (Swift's importer reads the module the same way).
modmap=0
if command -v clang >/dev/null; then
  tmp=$(mktemp -d)
  printf '@import CVoxMessenger;\nint main(void) { return vox_abi_version() == VOX_ABI_VERSION ? 0 : 1; }\n' >"$tmp/t.m"
  if clang -fmodules -fmodules-cache-path="$tmp/cache" \
      -fmodule-map-file="$here/Sources/CVoxMessenger/module.modulemap" -c "$tmp/t.m" -o "$tmp/t.o"; then
    echo "check-symbols: module map Sources/CVoxMessenger/module.modulemap compiles with clang"
  else
    echo "MODULE MAP: @import CVoxMessenger failed" >&2
    modmap=1
  fi
  rm -rf "$tmp"
else
  echo "check-symbols: clang not found; module map not checked"
fi

[ "$missing" -eq 0 ] && [ "$arity" -eq 0 ] && [ "$syntax" -eq 0 ] && [ "$modmap" -eq 0 ]
