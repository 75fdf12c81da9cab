#!/usr/bin/env bash
# Generates single_include/mpsync.h, the single-header mpsync, from the real
# sources (in the manner of sqlite's and zstd's amalgamations):
#
#   tools/amalgamate.sh            rewrite single_include/mpsync.h
#   tools/amalgamate.sh --check    fail when the committed file is stale (CI)
#   tools/amalgamate.sh -o FILE    write FILE instead
#
# Inputs, all read from the tree so that new files need no edit here:
#   the public section      include/mpsync.h, then every other include/mpsync/*.h
#   the implementation      MPSYNC_SYNC_SOURCES, then MPSYNC_SEGMENT_SOURCES, as
#                           CMakeLists.txt lists them (the layer order)
# Every #include "..." (and <mpsync/...>) of a project file is inlined where
# the preprocessor would first read it; a header with an include guard only
# once, one without (arch/<arch>/atomic_arch.h) at every site, since those sit
# in exclusive #if branches.
#
# The generated copy differs from the sources in four mechanical ways, so that
# the sources themselves stay as they are:
#  - every file-scope declaration or definition with external linkage is
#    prefixed with MPSYNC_API (functions, objects) and every "extern" becomes
#    MPSYNC_EXTERN: both are "static __attribute__((unused))" under
#    MPSYNC_STATIC. C gives a later declaration without a storage class the
#    linkage of a prior static one for functions, not for objects: that is
#    why definitions are prefixed too.
#  - system headers of the .c files are read first, then the internal headers,
#    then the .c bodies.
#  - the static functions and objects of each .c file are renamed with the
#    prefix mps__<file>_ (two files may both have a static "take", and list.c's
#    static "splice" meets fcntl.h's splice once all system headers are read);
#    so are a typedef, enumeration constant or tag that two .c files both
#    define; members (after . or ->) keep their names. Every macro a .c file
#    defines is #undef'd after it.
#  - the output is deterministic: no dates; the banner names the last commit
#    that changed an input (a line --check ignores, so committing the header
#    with the change it follows does not make it stale).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/single_include/mpsync.h"
check=0
while (($#)); do
    case $1 in
        --check) check=1 ;;
        -o) out=${2:?-o needs a file}; shift ;;
        *) echo "usage: $0 [--check] [-o FILE]" >&2; exit 2 ;;
    esac
    shift
done

command -v python3 >/dev/null || { echo "error: tools/amalgamate.sh needs python3" >&2; exit 1; }

inputs=(include arch lib CMakeLists.txt tools/amalgamate.sh)
commit=unknown
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    commit=$(git -C "$root" log -1 --format=%h -- "${inputs[@]}" 2>/dev/null || true)
    commit=${commit:-unknown}
    git -C "$root" diff --quiet HEAD -- "${inputs[@]}" 2>/dev/null || commit="$commit plus local changes"
    if [[ -n $(git -C "$root" ls-files --others --exclude-standard -- "${inputs[@]}") ]]; then
        [[ $commit == *"local changes" ]] || commit="$commit plus local changes"
    fi
fi

generate() {
    python3 - "$root" "$commit" <<'PY'
import os, re, sys

root, commit = sys.argv[1], sys.argv[2]
INCLUDE_DIRS = [os.path.join(root, "include")]


def rel(path):
    return os.path.relpath(path, root)


# Object-like macros of the project's files, so that a specifier hidden in
# one (#define MPS_INLINE static inline) is seen for what it is.
MACROS = {}


def read(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for name, body in re.findall(r"(?m)^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+([^\n]*)$", text):
        MACROS.setdefault(name, body)
    return text


def expand_words(words, depth=3):
    out = []
    for w in words:
        if depth and w in MACROS:
            out += expand_words(WORD.findall(MACROS[w]), depth - 1)
        else:
            out.append(w)
    return out


def cmake_list(name):
    text = read(os.path.join(root, "CMakeLists.txt"))
    m = re.search(r"set\(\s*%s\s+([^)]*)\)" % name, text)
    if not m:
        sys.exit("amalgamate: no set(%s ...) in CMakeLists.txt" % name)
    files = m.group(1).split()
    for f in files:
        if not re.fullmatch(r"[\w./-]+\.c", f) or not os.path.isfile(os.path.join(root, f)):
            sys.exit("amalgamate: %s lists %r, not a source file" % (name, f))
    return [os.path.join(root, f) for f in files]


# ---- a small scanner: comments, strings, preprocessor lines, top-level statements

def code_mask(text):
    """Copy of text with comments, string and character literals blanked
    (newlines kept), so offsets line up with the original."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            for k in range(i, j):
                out[k] = " "
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            for k in range(i + 1, min(j, n)):
                if out[k] != "\n":
                    out[k] = " "
            i = j + 1
        else:
            i += 1
    return "".join(out)


def directive_spans(mask):
    """(start, end) of every preprocessor line, continuations included."""
    spans = []
    for m in re.finditer(r"(?m)^[ \t]*#", mask):
        end = m.start()
        while True:
            nl = mask.find("\n", end)
            if nl < 0:
                end = len(mask)
                break
            if mask[nl - 1] == "\\":
                end = nl + 1
                continue
            end = nl
            break
        spans.append((m.start(), end))
    return spans


def statements(text):
    """Top-level statements: (start offset, head, body, tail). head is the
    code before the first top-level brace (or the whole statement), body the
    code between it and its match, tail what follows up to the ';'.
    extern "C" { ... } is transparent."""
    mask = code_mask(text)
    for a, b in directive_spans(mask):
        mask = mask[:a] + re.sub(r"[^\n]", " ", mask[a:b]) + mask[b:]
    result, depth, start, brace = [], 0, None, None
    for i, c in enumerate(mask):
        if depth == 0 and start is None and not c.isspace():
            if c == "}":          # the end of an extern "C" block
                continue
            start = i
        if c == "{":
            if depth == 0 and re.fullmatch(r'\s*extern\s+"\s*"\s*', mask[start:i]):
                start = None      # extern "C" {: its contents are top level
                continue
            if depth == 0 and brace is None:
                brace = i
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                head = mask[start:brace]
                # a function definition ends at its closing brace
                if head.rstrip().endswith(")"):
                    result.append((start, head, mask[brace + 1:i], ""))
                    start, brace = None, None
        elif c == ";" and depth == 0:
            if brace is None:
                result.append((start, mask[start:i], None, ""))
            else:
                result.append((start, mask[start:brace],
                               mask[brace + 1:mask.rfind("}", brace, i)],
                               mask[mask.rfind("}", brace, i) + 1:i]))
            start, brace = None, None
    return result


def strip_attributes(code):
    while True:
        m = re.search(r"\b__attribute__\s*\(\(", code)
        if not m:
            return code
        depth, j = 0, m.end() - 2
        for j in range(m.end() - 2, len(code)):
            depth += {"(": 1, ")": -1}.get(code[j], 0)
            if depth == 0:
                break
        code = code[:m.start()] + " " + code[j + 1:]


WORD = re.compile(r"[A-Za-z_]\w*")


def declared_name(head):
    """Name declared by a head like 'static int *f(int)' or 'static T x[4]'."""
    code = strip_attributes(head)
    m = re.search(r"[(\[=,]|$", code)
    cut = m.start()
    if code[cut:cut + 1] == "(" and re.match(r"\(\s*\*", code[cut:]):
        w = WORD.search(code, cut)          # a function pointer: (*name)
        return w.group(0) if w else None
    words = WORD.findall(code[:cut])
    return words[-1] if words else None


def classify(head, body, tail):
    """'local' (static, typedef, type declaration), 'extern', or 'api'."""
    plain = strip_attributes(head)
    code = WORD.findall(plain)
    if not code:
        return "local"
    first = code[0]
    specifiers = expand_words(WORD.findall(re.split(r"[(=]", plain, maxsplit=1)[0]))
    if "static" in specifiers or first in ("typedef", "_Static_assert", "static_assert"):
        return "local"
    if first == "extern":
        return "extern"
    if first in ("struct", "union", "enum"):
        pure = len(code) <= 2 and (body is not None and not tail.strip() or
                                   body is None and len(code) == 2)
        if pure:
            return "local"
    return "api"


def enum_constants(body):
    return {w.group(0) for w in (WORD.match(i.strip()) for i in body.split(",")) if w}


def local_names(text):
    """File-scope names a .c file defines for itself, by kind: "static"
    (static functions and objects), "ordinary" (typedefs, enumeration
    constants), "tag" (struct, union, enum tags)."""
    names = {"static": set(), "ordinary": set(), "tag": set()}
    for start, head, body, tail in statements(text):
        code = strip_attributes(head).split()
        if not code or classify(head, body, tail) != "local":
            continue
        spec = code[1:] if code[0] in ("typedef", "static") else code
        if len(spec) == 2 and spec[0] in ("struct", "union", "enum") \
                and WORD.fullmatch(spec[1]) and body is not None:
            names["tag"].add(spec[1])
        if spec and spec[0] == "enum" and body is not None:
            names["ordinary"] |= enum_constants(body)
        if code[0] == "typedef":
            names["ordinary"].add(declared_name(tail if body is not None else head))
        elif code[0] == "static":
            # static T f(...) {...}, static T x = {...}: the name is in the
            # head; static struct s {...} x: after the body.
            in_head = body is None or head.rstrip().endswith(")") or "=" in head
            names["static"].add(declared_name(head if in_head else tail))
    for kind in names.values():
        kind.discard(None)
    return names


def rename(text, names, prefix):
    """text with every use of names as an ordinary identifier renamed to
    prefix + name: not in comments or strings, not after . or -> (members),
    and for static names not inside a top-level struct or union body (member
    declarations)."""
    mask = code_mask(text)
    members = []
    for start, head, body, tail in statements(text):
        code = strip_attributes(head).split()
        spec = code[1:] if code[:1] in (["typedef"], ["static"]) else code
        if body is not None and spec[:1] in (["struct"], ["union"]) \
                and not head.rstrip().endswith(")"):
            first = start + len(head) + 1
            members.append((first, first + len(body)))
    edits = []
    for m in WORD.finditer(mask):
        kind = names.get(m.group(0))
        if kind is None or re.search(r"(\.|->)\s*$", mask[max(0, m.start() - 8):m.start()]):
            continue
        if kind == "static" and any(a <= m.start() < b for a, b in members):
            continue
        edits.append(m.start())
    for pos in reversed(edits):
        text = text[:pos] + prefix + text[pos:]
    return text


def macros_defined(text):
    return sorted(set(re.findall(r"(?m)^[ \t]*#[ \t]*define[ \t]+(\w+)", text)))


def prefix_linkage(text):
    """The four mechanical changes' first: MPSYNC_API / MPSYNC_EXTERN."""
    edits = []
    for start, head, body, tail in statements(text):
        kind = classify(head, body, tail)
        if kind == "api":
            edits.append((start, 0, "MPSYNC_API "))
        elif kind == "extern":
            m = re.search(r"\bextern\b", text[start:])
            if not m:
                sys.exit("amalgamate: cannot place MPSYNC_EXTERN in: %s" % head.strip())
            edits.append((start + m.start(), len("extern"), "MPSYNC_EXTERN"))
    for pos, length, new in sorted(edits, reverse=True):
        text = text[:pos] + new + text[pos + length:]
    return text


def guarded(text):
    mask = code_mask(text)
    directives = [mask[a:b].strip() for a, b in directive_spans(mask)]
    if len(directives) < 3:
        return False
    m = re.fullmatch(r"#\s*ifndef\s+(\w+)", directives[0])
    return bool(m and re.fullmatch(r"#\s*define\s+%s" % m.group(1), directives[1])
                and re.fullmatch(r"#\s*endif.*", directives[-1]))


INCLUDE = re.compile(r'(?m)^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]+)[>"][^\n]*\n?')


def resolve(name, quote, including):
    dirs = ([os.path.dirname(including)] if quote == '"' else []) + INCLUDE_DIRS
    for d in dirs:
        p = os.path.normpath(os.path.join(d, name))
        if os.path.isfile(p):
            return p
    if quote == '"':
        sys.exit("amalgamate: %s: cannot find \"%s\"" % (rel(including), name))
    return None


class Amalgam:
    def __init__(self):
        self.done = set()          # guarded headers already inlined
        self.system = []           # the .c files' system includes, hoisted

    def expand(self, path):
        """path's text with its project includes inlined; system includes
        stay where they are."""
        text = prefix_linkage(read(path))
        parts, last = [], 0
        for m in INCLUDE.finditer(text):
            parts.append(text[last:m.start()])
            last = m.end()
            target = resolve(m.group(2), m.group(1), path)
            if target is None:
                parts.append(m.group(0))
                continue
            if target in self.done:
                continue
            inner = read(target)
            if guarded(inner):
                self.done.add(target)
            parts.append("/* ---- %s ---- */\n" % rel(target))
            parts.append(self.expand(target).rstrip("\n") + "\n")
            parts.append("/* ---- end of %s ---- */\n" % rel(target))
        parts.append(text[last:])
        return "".join(parts)

    def split_body(self, path):
        """A .c file: the #include lines outside any #if (hoisted: project
        headers into the header part, system headers to the top) and the
        rest, its body. A system include under #if stays in the body."""
        text = read(path)
        hoisted, body, depth = [], [], 0
        for line in text.splitlines(keepends=True):
            d = re.match(r"[ \t]*#[ \t]*(\w+)", line)
            word = d.group(1) if d else ""
            if word in ("if", "ifdef", "ifndef"):
                depth += 1
            elif word == "endif":
                depth -= 1
            m = INCLUDE.match(line)
            if m and depth == 0:
                hoisted.append(m)
            elif m and m.group(1) == '"':
                sys.exit("amalgamate: %s: a project #include under #if is not supported: %s"
                         % (rel(path), line.strip()))
            else:
                body.append(line)
        return hoisted, "".join(body)


def main():
    public_root = os.path.join(root, "include", "mpsync.h")
    public = [public_root] + sorted(
        os.path.join(root, "include", "mpsync", f)
        for f in os.listdir(os.path.join(root, "include", "mpsync")) if f.endswith(".h"))
    sources = cmake_list("MPSYNC_SYNC_SOURCES") + cmake_list("MPSYNC_SEGMENT_SOURCES")

    # Every public header's macros first: a header may use one that a header
    # it includes later defines (MPS_INLINE, from abi.h).
    for p in public:
        read(p)
    am = Amalgam()
    out = []
    w = out.append
    w("/* mpsync.h: the single-header mpsync, generated by tools/amalgamate.sh from\n")
    w(" * commit %s; do not edit: change the sources and rerun it.\n" % commit)
    w(""" *
 * Python's multiprocessing synchronization primitives and SyncManager objects
 * in C for Linux, on futexes in shared memory (README.md, "Vendoring").
 *
 * Every file that uses mpsync includes this header. Exactly one C file
 * defines MPSYNC_IMPLEMENTATION before it includes it, and before any system
 * header (the implementation needs _GNU_SOURCE, which this header then
 * defines; or compile that file with -D_GNU_SOURCE):
 *
 *     #define MPSYNC_IMPLEMENTATION
 *     #include "mpsync.h"
 *
 * The implementation is C11 and that file must be compiled as C; C++ files
 * may include this header for the API (extern "C").
 *
 * With MPSYNC_STATIC defined as well, before that #include, every function
 * and object of mpsync is static: a private copy, usable only in the file
 * that holds it, so two libraries that each carry one link into one
 * program. To share one private copy among the files of a shared library,
 * leave MPSYNC_STATIC out and build every file of it with
 *     -DMPSYNC_API='__attribute__((visibility("hidden")))'
 * (MPSYNC_EXTERN, "extern" by default, is the same for objects).
 *
 * Build: cc -std=c11 -O2 app.c impl.c -pthread -lm
 */
#if defined(MPSYNC_IMPLEMENTATION) && !defined(_GNU_SOURCE) && !defined(__cplusplus)
#define _GNU_SOURCE 1
#endif

#ifndef MPSYNC_SINGLE_INCLUDE_H
#define MPSYNC_SINGLE_INCLUDE_H

/* Linkage of every function and object: static for a private copy (only in
 * the file that holds it: elsewhere the declarations stay extern, so that
 * unused ones do not warn), external otherwise. */
#if defined(MPSYNC_IMPLEMENTATION) && (defined(MPSYNC_STATIC) || defined(MPSYNC_API))
/* A copy other copies may share the process with: its held record of the
 * thread's locks is its own (lib/sync/owner.c). */
#define MPS_PRIVATE_RECORD 1
#endif
#if defined(MPSYNC_STATIC) && defined(MPSYNC_IMPLEMENTATION)
#ifndef MPSYNC_API
#define MPSYNC_API static __attribute__((unused))
#endif
#ifndef MPSYNC_EXTERN
#define MPSYNC_EXTERN static __attribute__((unused))
#endif
#define MPSYNC_PRIVATE_COPY 1
#endif
#ifndef MPSYNC_API
#define MPSYNC_API
#endif
#ifndef MPSYNC_EXTERN
#define MPSYNC_EXTERN extern
#endif
/* The public functions whose bodies are in the headers (the inline fast
 * paths, MPS_INLINE) are static inline everywhere but in the implementation
 * file of a shared copy, which exports them once more out of line, as
 * libmpsync does (lib/sync/inline.c). */
#if defined(MPSYNC_IMPLEMENTATION) && !defined(MPSYNC_PRIVATE_COPY) && !defined(MPS_INLINE)
#define MPS_INLINE MPSYNC_API
#endif

""")
    for p in public:
        if p in am.done:
            continue
        if guarded(read(p)):
            am.done.add(p)
        w("/* ==== %s ==== */\n" % rel(p))
        w(am.expand(p).rstrip("\n") + "\n\n")
    w("#endif /* MPSYNC_SINGLE_INCLUDE_H */\n\n")

    # The implementation: system headers, internal headers, then the bodies.
    headers, bodies = [], []
    for src in sources:
        includes, body = am.split_body(src)
        for m in includes:
            target = resolve(m.group(2), m.group(1), src)
            if target is None:
                line = m.group(0).strip()
                if line not in am.system:
                    am.system.append(line)
                continue
            if target in am.done:
                continue
            if guarded(read(target)):
                am.done.add(target)
            headers.append("/* ==== %s ==== */\n" % rel(target))
            headers.append(am.expand(target).rstrip("\n") + "\n\n")
        bodies.append((src, prefix_linkage(body)))

    # Static functions and objects are renamed in every file: one may clash
    # with another file's or with a name of a system header that the file did
    # not include on its own (list.c's splice, fcntl.h's splice). Typedefs,
    # enumeration constants and tags only where two files define the same.
    owners = {}
    for src, _ in bodies:
        found = local_names(read(src))
        for kind in ("ordinary", "tag"):
            for name in found[kind]:
                owners.setdefault((kind, name), []).append(src)
    clashes = {key for key, srcs in owners.items() if len(srcs) > 1}

    w("#if defined(MPSYNC_IMPLEMENTATION) && !defined(MPSYNC_IMPLEMENTATION_INCLUDED)\n")
    w("#define MPSYNC_IMPLEMENTATION_INCLUDED\n")
    w("#ifdef __cplusplus\n")
    w('#error "mpsync: the file that defines MPSYNC_IMPLEMENTATION must be compiled as C (C11)"\n')
    w("#endif\n")
    w("#if defined(MPSYNC_STATIC) && !defined(MPSYNC_PRIVATE_COPY)\n")
    w('#error "mpsync: with MPSYNC_STATIC, define MPSYNC_IMPLEMENTATION before the first #include of mpsync.h in this file"\n')
    w("#endif\n\n")
    w("/* ==== system headers of the implementation ==== */\n")
    for line in am.system:
        w(line + "\n")
    w("""#if defined(__GLIBC__) && !defined(__USE_GNU)
#error "mpsync: MPSYNC_IMPLEMENTATION needs _GNU_SOURCE: define it (or include mpsync.h) before any system header of this file, or compile it with -D_GNU_SOURCE"
#endif

""")
    w("".join(headers))
    for src, body in bodies:
        stem = os.path.splitext(os.path.basename(src))[0]
        found = local_names(read(src))
        macros = macros_defined(read(src))
        names = {n: "static" for n in found["static"]}
        names.update({n: "ordinary" for n in found["ordinary"] if ("ordinary", n) in clashes})
        for n in macros:
            names.pop(n, None)
        body = rename(body, names, "mps__%s_" % stem)
        for tag in sorted(n for n in found["tag"] if ("tag", n) in clashes):
            body = re.sub(r"\b(struct|union|enum)(\s+)%s\b" % tag,
                          r"\1\2mps__%s_%s" % (stem, tag), body)
        w("/* ==== %s ==== */\n" % rel(src))
        if names:
            w("/* (its static names carry the prefix mps__%s_ here) */\n" % stem)
        w(body.strip("\n") + "\n")
        if macros:
            w("/* end of %s: its macros */\n" % rel(src))
            for n in macros:
                w("#undef %s\n" % n)
        w("\n")
    w("#endif /* MPSYNC_IMPLEMENTATION */\n")
    sys.stdout.write("".join(out))


main()
PY
}

tmp=$(mktemp "${TMPDIR:-/tmp}/mpsync-amalgam.XXXXXX")
next=
trap 'rm -f "$tmp" ${next:+"$next"}' EXIT
generate >"$tmp"

if ((check)); then
    # The banner's commit line is informational: only the code must match.
    banner='^ \* commit .*; do not edit: change the sources and rerun it\.$'
    if ! diff -q -I "$banner" "$out" "$tmp" >/dev/null 2>&1; then
        diff -u -I "$banner" "$out" "$tmp" | head -40 >&2 || true
        echo "error: ${out#"$root"/} is stale: run tools/amalgamate.sh and commit the result" >&2
        exit 1
    fi
    echo "${out#"$root"/} is current"
    exit 0
fi
# Replaced in one rename: a build reading the old file meanwhile never sees
# a half-written one.
mkdir -p "$(dirname "$out")"
next=$(mktemp "$(dirname "$out")/.mpsync.h.XXXXXX")
cp "$tmp" "$next"
chmod 644 "$next"
mv -f "$next" "$out"
echo "wrote ${out#"$root"/} ($(wc -l <"$out") lines)"
