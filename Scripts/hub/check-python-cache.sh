#!/usr/bin/env bash
# Checks that inpars and Python's huggingface_hub share one Hugging Face cache, on loopback
# only: `inpars-bench loopback-hub` serves Tests/Fixtures/t5-tiny-v11 as a Hub repository;
#   1. huggingface_hub.hf_hub_download fills cache A; `inpars rerank` with HF_HUB_OFFLINE=1 on
#      A writes the same run as with the fixture folder;
#   2. `inpars download` fills cache B; the two caches have the same files and symlinks;
#   3. transformers loads the model and tokenizer from B with HF_HUB_OFFLINE=1.
# Not part of the test suite (CI never runs Python). Usage:
#   PYTHON=/work/venv-ref/bin/python Scripts/hub/check-python-cache.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-/work/venv-ref/bin/python}
swift build --product inpars >/dev/null
swift build --product inpars-bench >/dev/null
BIN=$(swift build --show-bin-path)
work=$(mktemp -d)
repo=loopback-org/tiny-t5
"$BIN/inpars-bench" loopback-hub --repo "$repo" --folder Tests/Fixtures/t5-tiny-v11 --seconds 120 \
    >"$work/endpoint" 2>"$work/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$work/endpoint" ] && break; sleep 0.2; done
endpoint=$(cat "$work/endpoint")

HF_ENDPOINT=$endpoint HF_HUB_CACHE=$work/python HF_HUB_DISABLE_XET=1 "$PYTHON" - "$repo" <<'PY'
import sys
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import EntryNotFoundError
# The files inpars asks for (ModelLocator.Files), so both caches end up alike.
for name in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
             "special_tokens_map.json", "added_tokens.json", "spiece.model", "tokenizer.model",
             "vocab.txt", "generation_config.json"]:
    try:
        hf_hub_download(sys.argv[1], name)
    except EntryNotFoundError:
        pass
PY

printf '{"_id": "d1", "title": "", "text": "Paris is the capital of France."}\n{"_id": "d2", "title": "", "text": "The quick brown fox."}\n' >"$work/corpus.jsonl"
printf 'q1\twhat is the capital of france\n' >"$work/queries.tsv"
printf 'q1 Q0 d2 1 9.5 bm25\nq1 Q0 d1 2 8.5 bm25\n' >"$work/run.trec"
rerank() { "$BIN/inpars" rerank --corpus "$work/corpus.jsonl" --queries "$work/queries.tsv" \
    --run "$work/run.trec" --threads 1 "$@" 2>/dev/null; }
HF_HUB_OFFLINE=1 HF_HUB_CACHE=$work/python HF_ENDPOINT=http://127.0.0.1:9 \
    rerank --model "$repo" --output "$work/python.trec"
rerank --model Tests/Fixtures/t5-tiny-v11 --output "$work/folder.trec"
cmp "$work/python.trec" "$work/folder.trec"
echo "1. inpars offline on huggingface_hub's cache: same run as the fixture folder"

HF_ENDPOINT=$endpoint HF_HUB_CACHE=$work/inpars "$BIN/inpars" download "$repo" >/dev/null 2>&1
listing() { (cd "$1" && find . -not -path './.locks*' | sort && \
    for link in models--*/snapshots/*/*; do echo "$link -> $(readlink "$link")"; done); }
diff <(listing "$work/python") <(listing "$work/inpars")
echo "2. inpars download and huggingface_hub made the same files, refs, .no_exist markers and links"

HF_HUB_OFFLINE=1 HF_HUB_CACHE=$work/inpars "$PYTHON" - "$repo" 2>/dev/null <<'PY'
import sys
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
AutoTokenizer.from_pretrained(sys.argv[1])
AutoModelForSeq2SeqLM.from_pretrained(sys.argv[1])
PY
echo "3. transformers loads from the cache inpars wrote, offline"
rm -rf "$work"
