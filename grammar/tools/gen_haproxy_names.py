#!/usr/bin/env python3
"""Generate src/config/haproxy26.rs: every keyword name HAProxy 2.6 knows.

portcullis needs the full list to tell "HAProxy has this but portcullis does not
support it" (a clear not-supported error) from "nobody has this" (an unknown
keyword with a did-you-mean). The names come from the installed HAProxy 2.6:
`haproxy -dKall -q -c -f /dev/null` (registered keywords) and the manual's
global keyword list (§3) and proxy keyword matrix (§4.1), which also cover the
keywords HAProxy's parser hard-codes.

Usage: python3 grammar/tools/gen_haproxy_names.py > src/config/haproxy26.rs && rustfmt --edition 2024 src/config/haproxy26.rs
(needs `haproxy` and /usr/share/doc/haproxy/configuration.txt.gz).
"""
import gzip
import re
import subprocess

dump = subprocess.run(["haproxy", "-dKall", "-q", "-c", "-f", "/dev/null"],
                      capture_output=True, text=True).stdout.splitlines()
manual = gzip.open("/usr/share/doc/haproxy/configuration.txt.gz", "rt").read().splitlines()
version = subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.splitlines()[0]

# --- manual §3: global keywords
glob = set()
start = manual.index('The following keywords are supported in the "global" section :')
for line in manual[start + 1:]:
    if re.match(r"^3\.1\.", line):
        break
    m = re.match(r"^\s+- (\S+)", line)
    if m:
        glob.add(m.group(1))

# --- manual §4.1: proxy keyword matrix
proxy = {}
start = next(i for i, l in enumerate(manual) if l.startswith("4.1. Proxy keywords matrix"))
for line in manual[start + 1:]:
    if line.startswith("4.2."):
        break
    m = re.match(r"^(\S(?:.*?\S)?)\s{2,}(X|-)(?: \(!\))?\s+(X|-)\s+(X|-)\s+(X|-)", line)
    if m and m.group(1) != "keyword":
        kw = m.group(1).replace("(*)", "").replace("(deprecated)", "").strip()
        d, f, l, b = (m.group(i) == "X" for i in range(2, 6))
        proxy[kw] = (d, f, l, b)

# --- manual §4.2: every proxy keyword entry says where it may be used; this
# catches keywords the §4.1 matrix omits (e.g. dynamic-cookie-key).
for i, line in enumerate(manual):
    if not line.startswith("  May be used in sections"):
        continue
    j = i - 1
    while j > 0 and (not manual[j] or manual[j].startswith(" ")):
        j -= 1
    head = manual[j]
    kw = re.match(r"^([a-z][a-z0-9_.-]*(?: [a-z][a-z0-9_.-]*)?)", head)
    flags = re.findall(r"(yes|no)", manual[i + 1]) if i + 1 < len(manual) else []
    if not kw or len(flags) != 4:
        continue
    name = kw.group(1)
    # Two-word keywords only for families the matrix also writes that way.
    first = name.split()[0]
    if " " in name and first not in ("option", "timeout", "stats", "http-check", "tcp-check", "capture", "tcp-request", "tcp-response", "http-request", "http-response", "http-after-response", "no"):
        name = first
    if name not in proxy:
        proxy[name] = tuple(f == "yes" for f in flags)

# --- haproxy -dKall: registered keywords
sect = None
bind_opts, server_opts, actions = set(), set(), {}
for line in dump:
    if line.startswith("# List of registered configuration keywords"):
        sect = "cfg"
        continue
    if line.startswith("#"):
        sect = None
        continue
    if sect != "cfg":
        continue
    if not line.startswith("\t"):
        cur = line.strip()
        continue
    kw = line.strip()
    m = re.match(r"bind <addr> (?:ssl )?(\S+)", kw)
    if m:
        bind_opts.add(m.group(1))
        continue
    m = re.match(r"server <name> <addr> (?:ssl )?(\S+)", kw)
    if m:
        server_opts.add(m.group(1))
        continue
    m = re.match(r"(http-request|http-response|http-after-response|tcp-request connection|tcp-request session|tcp-request content|tcp-response content) (\S+)", kw)
    if m:
        actions.setdefault(m.group(1), set()).add(m.group(2).rstrip("*"))
        continue
    m = re.match(r"option (\S+) \[", kw)
    if m:
        continue
    if cur == "global":
        glob.add(kw.split()[0])

# Actions HAProxy's rule parsers hard-code (not in the registered lists).
for a in ["accept", "reject", "expect-proxy", "expect-netscaler-cip", "capture", "track-sc0", "track-sc1", "track-sc2"]:
    actions.setdefault("tcp-request connection", set()).add(a)
for a in ["accept", "reject", "capture", "track-sc0", "track-sc1", "track-sc2", "set-var", "unset-var"]:
    actions.setdefault("tcp-request content", set()).add(a)
    actions.setdefault("tcp-request session", set()).add(a)
for a in ["accept", "reject", "close"]:
    actions.setdefault("tcp-response content", set()).add(a)
for a in ["allow", "deny", "tarpit", "auth", "redirect", "track-sc0", "track-sc1", "track-sc2"]:
    actions.setdefault("http-request", set()).add(a)
for a in ["allow", "deny", "redirect", "track-sc0", "track-sc1", "track-sc2"]:
    actions.setdefault("http-response", set()).add(a)
# `server` options hard-coded in srv_parse_* tables that -dK prints with a prefix.
bind_opts.add("ssl")  # the bind keyword itself is hard-coded in the SSL option parser
for o in ["ssl", "addr", "backup", "check", "cookie", "disabled", "enabled", "id", "init-addr", "port", "resolvers",
          "resolve-net", "resolve-opts", "resolve-prefer", "track", "weight", "maxconn", "maxqueue", "minconn"]:
    server_opts.add(o)

def arr(name, items, doc):
    out = [f"/// {doc}", f"pub const {name}: &[&str] = &["]
    out += [f"    {json(i)}," for i in sorted(items)]
    out.append("];\n")
    return "\n".join(out)

def json(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

print("//! Every keyword name HAProxy 2.6 knows, so `check` can say \"not supported by")
print("//! portcullis\" for a real HAProxy keyword and \"unknown, did you mean\" for a typo.")
print("//!")
print(f"//! Generated by `grammar/tools/gen_haproxy_names.py` from {version.split(' - ')[0]}")
print("//! (`haproxy -dKall` and the manual's §3 and §4.1). Do not edit by hand.\n")
print(arr("GLOBAL", glob, "Keywords of the `global` section."))
print("/// Proxy keywords (one or more words) with the sections that accept them:")
print("/// (defaults, frontend, listen, backend).")
print("pub const PROXY: &[(&str, [bool; 4])] = &[")
for k in sorted(proxy):
    d, f, l, b = proxy[k]
    print(f"    ({json(k)}, [{str(d).lower()}, {str(f).lower()}, {str(l).lower()}, {str(b).lower()}]),")
print("];\n")
print(arr("BIND_OPTIONS", bind_opts, "Options of `bind` lines."))
print(arr("SERVER_OPTIONS", server_opts, "Options of `server` and `default-server` lines."))
names = {
    "http-request": "HTTP_REQUEST_ACTIONS",
    "http-response": "HTTP_RESPONSE_ACTIONS",
    "http-after-response": "HTTP_AFTER_RESPONSE_ACTIONS",
    "tcp-request connection": "TCP_REQUEST_CONNECTION_ACTIONS",
    "tcp-request session": "TCP_REQUEST_SESSION_ACTIONS",
    "tcp-request content": "TCP_REQUEST_CONTENT_ACTIONS",
    "tcp-response content": "TCP_RESPONSE_CONTENT_ACTIONS",
}
for k, n in names.items():
    print(arr(n, actions.get(k, set()), f"Actions of `{k}` rules."))
