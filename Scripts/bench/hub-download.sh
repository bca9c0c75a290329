#!/usr/bin/env bash
# Download speed of one large file from a loopback Hub (the server and CDN of
# `inpars-bench loopback-hub`, no internet): `inpars download` (resumable, sha256-checked)
# beside Python's huggingface_hub.hf_hub_download (size-checked only), alternating, each run
# into an empty cache. Prints every time, then the medians. Release builds; run on a quiet
# machine (check `cat /proc/loadavg`).
#   PYTHON=/work/venv-ref/bin/python Scripts/bench/hub-download.sh [MiB] [runs]
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-/work/venv-ref/bin/python}
mib=${1:-256}
runs=${2:-5}
swift build -c release --product inpars >/dev/null
swift build -c release --product inpars-bench >/dev/null
BIN=$(swift build -c release --show-bin-path)
work=$(mktemp -d)
mkdir "$work/repo"
cp Tests/Fixtures/t5-tiny/config.json "$work/repo/"
head -c $((mib << 20)) /dev/urandom >"$work/repo/model.safetensors"
"$BIN/inpars-bench" loopback-hub --repo bench/big --folder "$work/repo" --seconds 3600 \
    >"$work/endpoint" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/endpoint" ] && break; sleep 0.2; done
endpoint=$(cat "$work/endpoint")
seconds() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
ours=()
theirs=()
for run in $(seq "$runs"); do
    rm -rf "$work/a" "$work/b"
    ours+=("$(seconds env HF_ENDPOINT="$endpoint" HF_HUB_CACHE="$work/a" \
        bash -c "'$BIN/inpars' download bench/big 2>/dev/null")")
    theirs+=("$(seconds env HF_ENDPOINT="$endpoint" HF_HUB_CACHE="$work/b" \
        HF_HUB_DISABLE_PROGRESS_BARS=1 "$PYTHON" -c "
from huggingface_hub import hf_hub_download
hf_hub_download('bench/big', 'config.json'); hf_hub_download('bench/big', 'model.safetensors')")")
    cmp "$work/a"/models--bench--big/snapshots/*/model.safetensors "$work/repo/model.safetensors"
    echo "run $run: inpars ${ours[-1]} s, huggingface_hub ${theirs[-1]} s (load $(cut -d' ' -f1 /proc/loadavg))"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median of $runs, $mib MiB: inpars $(median "${ours[@]}") s, huggingface_hub $(median "${theirs[@]}") s"
