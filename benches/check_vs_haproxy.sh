#!/usr/bin/env bash
# Times `portcullis check` against `haproxy -c` on a large generated configuration
# (1,000 ACLs + 1,000 use_backend rules, 10,000 backends x 2 servers), in a plain
# and a mutual-TLS variant, and prints wall time (median of N runs) and peak RSS
# with the ratios against the targets: portcullis at most half of HAProxy's.
#
# Usage: benches/check_vs_haproxy.sh [-n RUNS] [--variant plain|tls|both]
#                                    [--no-build] [--keep] [--enforce]
#   -n RUNS       timed runs per command (default 5; env RUNS)
#   --variant     which configuration(s) to measure (default both)
#   --no-build    do not run `cargo build --release`; use the existing binary
#   --keep        keep the temporary directory (configs, PKI, raw timings)
#   --enforce     exit 1 when a target is missed or portcullis rejects the config
# Env: PORTCULLIS_BIN (binary to measure; implies --no-build), HAPROXY_BIN
#      (default: haproxy on PATH), RUN_TIMEOUT (seconds per run, default 120),
#      BUILD_TIMEOUT (seconds for the release build, default 1800),
#      NO_HYPERFINE=1 (use the built-in timing loop even if hyperfine exists).
set -euo pipefail

RUNS="${RUNS:-5}"
VARIANT=both
BUILD=1
KEEP=0
ENFORCE=0
RUN_TIMEOUT="${RUN_TIMEOUT:-120}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-1800}"
# The targets, as fractions of HAProxy's numbers.
TARGET_WALL=0.5
TARGET_RSS=0.5

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        -n) RUNS="${2:?-n needs a number}"; shift 2 ;;
        --variant) VARIANT="${2:?--variant needs plain, tls or both}"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --keep) KEEP=1; shift ;;
        --enforce) ENFORCE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
case "$RUNS" in ''|*[!0-9]*) echo "-n must be a positive integer" >&2; exit 2 ;; esac
[ "$RUNS" -ge 1 ] || { echo "-n must be at least 1" >&2; exit 2; }
case "$VARIANT" in plain) VARIANTS=(plain) ;; tls) VARIANTS=(tls) ;; both) VARIANTS=(plain tls) ;;
    *) echo "--variant must be plain, tls or both" >&2; exit 2 ;; esac

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
GNU_TIME=/usr/bin/time
[ -x "$GNU_TIME" ] || { echo "GNU time is needed at $GNU_TIME (apt-get install time)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed for the generator" >&2; exit 2; }
command -v openssl >/dev/null || { echo "openssl is needed for the TLS variant's PKI" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/portcullis-bench.XXXXXX")"
cleanup() {
    if [ "$KEEP" = 1 ]; then echo "kept $WORK"; else rm -rf -- "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the binaries -----------------------------------------------------------
if [ -n "${PORTCULLIS_BIN:-}" ]; then
    BUILD=0
    PORTCULLIS="$PORTCULLIS_BIN"
else
    PORTCULLIS="$REPO/target/release/portcullis"
fi
if [ "$BUILD" = 1 ]; then
    echo "building portcullis (release; a no-op when up to date)..." >&2
    (cd "$REPO" && timeout "$BUILD_TIMEOUT" cargo build --release --quiet --bin portcullis)
fi
[ -x "$PORTCULLIS" ] || { echo "no portcullis binary at $PORTCULLIS (drop --no-build)" >&2; exit 2; }

HAPROXY="${HAPROXY_BIN:-$(command -v haproxy || true)}"
if [ -z "$HAPROXY" ] || [ ! -x "$HAPROXY" ]; then
    echo "haproxy not found: measuring portcullis alone (no ratios)" >&2
    HAPROXY=""
fi

USE_HYPERFINE=0
if [ -z "${NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null; then USE_HYPERFINE=1; fi

# --- inputs -----------------------------------------------------------------
make_pki() {
    local d="$WORK/pki" n eku
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$d/ca.key" -out "$d/ca.pem" -days 30 -subj "/CN=bench-ca" \
        -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    for n in server client; do
        if [ "$n" = server ]; then eku=serverAuth; else eku=clientAuth; fi
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$d/$n.key" -out "$d/$n.csr" -subj "/CN=$n.bench" 2>/dev/null
        printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
            "extendedKeyUsage=$eku" "subjectAltName=DNS:$n.bench,DNS:localhost,IP:127.0.0.1" \
            >"$d/$n.ext"
        openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
            -CAcreateserial -days 30 -out "$d/$n.crt" -extfile "$d/$n.ext" 2>/dev/null
        cat "$d/$n.crt" "$d/$n.key" >"$d/$n.pem"
    done
}

gen_config() { # variant -> path
    local v="$1" out="$WORK/big-$1.cfg"
    if [ "$v" = tls ]; then
        [ -f "$WORK/pki/ca.pem" ] || make_pki
        python3 "$HERE/gen_big_config.py" -o "$out" --tls --ca "$WORK/pki/ca.pem" \
            --server-pem "$WORK/pki/server.pem" --client-pem "$WORK/pki/client.pem"
    else
        python3 "$HERE/gen_big_config.py" -o "$out"
    fi
    echo "$out"
}

# --- measuring --------------------------------------------------------------
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"} else if (NR%2) {print a[(NR+1)/2]} else {printf "%.4f\n", (a[NR/2]+a[NR/2+1])/2}}'; }

# wall_median NAME CMD... -> median seconds on stdout
wall_median() {
    local name="$1"; shift
    if [ "$USE_HYPERFINE" = 1 ]; then
        local json="$WORK/$name.json" q="" a
        for a in "$@"; do q+=" $(printf '%q' "$a")"; done
        # -i: a rejected config still gets timed (its exit status is reported apart).
        timeout $((RUN_TIMEOUT * (RUNS + 2))) hyperfine --style none --runs "$RUNS" --warmup 1 \
            -i --export-json "$json" "timeout $RUN_TIMEOUT$q" >/dev/null 2>&1 || { echo nan; return; }
        python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$json"
    else
        local i t0 t1
        timeout "$RUN_TIMEOUT" "$@" >/dev/null 2>&1 || true # warm-up (page cache)
        for ((i = 0; i < RUNS; i++)); do
            t0=$(date +%s.%N)
            timeout "$RUN_TIMEOUT" "$@" >/dev/null 2>&1 || true
            t1=$(date +%s.%N)
            awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f\n", b - a}'
        done | median
    fi
}

# peak_rss_mib CMD... -> median over 3 runs of the peak RSS, in MiB
peak_rss_mib() {
    local i f="$WORK/rss.$$"
    for ((i = 0; i < 3; i++)); do
        timeout "$RUN_TIMEOUT" "$GNU_TIME" -f %M -o "$f" "$@" >/dev/null 2>&1 || true
        tail -n 1 "$f" 2>/dev/null || echo nan
    done | median | awk '{ if ($1 == "nan") print "nan"; else printf "%.1f\n", $1 / 1024 }'
}

exit_status() { local rc=0; timeout "$RUN_TIMEOUT" "$@" >/dev/null 2>&1 || rc=$?; echo "$rc"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 <= t + 0) print "met"; else print "MISSED" }'; }

MISSED=0
ROWS=()
NOTES=()
for v in "${VARIANTS[@]}"; do
    cfg="$(gen_config "$v")"
    echo "[$v] $(wc -l <"$cfg") lines, $(du -k "$cfg" | cut -f1) KiB; $RUNS runs each" >&2

    p_cmd=("$PORTCULLIS" check -q -f "$cfg")
    p_rc=$(exit_status "${p_cmd[@]}")
    if [ "$p_rc" != 0 ]; then
        MISSED=1
        NOTES+=("[$v] portcullis rejected the config (exit $p_rc); first diagnostics:")
        while IFS= read -r line; do NOTES+=("    $line"); done < <(
            timeout "$RUN_TIMEOUT" "$PORTCULLIS" check -f "$cfg" 2>&1 | head -n 15 || true)
    fi
    p_wall=$(wall_median "portcullis-$v" "${p_cmd[@]}")
    p_rss=$(peak_rss_mib "${p_cmd[@]}")
    ROWS+=("$v|portcullis|$p_rc|$p_wall|$p_rss")

    if [ -n "$HAPROXY" ]; then
        h_cmd=("$HAPROXY" -c -q -f "$cfg")
        h_rc=$(exit_status "${h_cmd[@]}")
        [ "$h_rc" = 0 ] || NOTES+=("[$v] haproxy rejected the config (exit $h_rc): the generator is wrong")
        h_wall=$(wall_median "haproxy-$v" "${h_cmd[@]}")
        h_rss=$(peak_rss_mib "${h_cmd[@]}")
        ROWS+=("$v|haproxy|$h_rc|$h_wall|$h_rss")
        rw=$(ratio "$p_wall" "$h_wall"); rr=$(ratio "$p_rss" "$h_rss")
        vw=$(verdict "$rw" "$TARGET_WALL"); vr=$(verdict "$rr" "$TARGET_RSS")
        # Rejecting a valid config fast is not meeting the target.
        if [ "$p_rc" != 0 ]; then vw="not valid"; vr="not valid"; fi
        [ "$vw" = met ] && [ "$vr" = met ] || MISSED=1
        ROWS+=("$v|ratio p/h|-|$rw ($vw)|$rr ($vr)")
    fi
done

timing="median of $RUNS"
[ "$USE_HYPERFINE" = 1 ] && timing="$timing (hyperfine)" || timing="$timing (date loop)"
echo
echo "wall time: $timing, seconds; peak RSS: median of 3, MiB"
printf '%-8s %-11s %-5s %-16s %-16s\n' variant tool exit "wall s" "peak RSS MiB"
printf '%-8s %-11s %-5s %-16s %-16s\n' ------- ---------- ---- ------------ ------------
for r in "${ROWS[@]}"; do
    IFS='|' read -r a b c d e <<<"$r"
    printf '%-8s %-11s %-5s %-16s %-16s\n' "$a" "$b" "$c" "$d" "$e"
done
echo
echo "targets: portcullis wall time <= ${TARGET_WALL} x HAProxy's and peak RSS <= ${TARGET_RSS} x HAProxy's"
pv="$("$PORTCULLIS" --version 2>/dev/null | head -n 1 || true)"
echo "portcullis: ${pv:-$PORTCULLIS} ($(cd "$REPO" && git describe --always --dirty 2>/dev/null || echo '?'))"
[ -n "$HAPROXY" ] && echo "haproxy:    $("$HAPROXY" -v 2>/dev/null | head -n 1)"
for n in "${NOTES[@]+"${NOTES[@]}"}"; do echo "$n"; done

if [ "$ENFORCE" = 1 ] && [ "$MISSED" = 1 ]; then exit 1; fi
exit 0
