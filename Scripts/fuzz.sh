#!/usr/bin/env bash
# Fuzzes one of inpars' file parsers with libFuzzer (-sanitize=fuzzer,address).
#
#   Scripts/fuzz.sh TARGET SECONDS [libFuzzer options...]   fuzz TARGET for SECONDS (0: no limit)
#   Scripts/fuzz.sh TARGET 0 FILE...                        rerun saved inputs (a crash, say)
#   Scripts/fuzz.sh --list                                   the targets
#
# Builds Fuzz/inpars-fuzz (one binary, a target per parser; INPARS_FUZZ=1 adds it to
# Package.swift) in .build-fuzz (or $INPARS_FUZZ_SCRATCH), never in .build, and never in CI.
# The corpus grows in Fuzz/corpus/TARGET, seeded from Fuzz/seeds/TARGET and the test fixtures;
# crashing inputs land in Fuzz/findings/TARGET (neither folder is committed). To keep a
# finding, minimise it
#   Scripts/fuzz.sh TARGET 0 -minimize_crash=1 -runs=200000 Fuzz/findings/TARGET/crash-...
# fix it, and add the result to Tests/Fixtures/fuzz/TARGET/ (the module's tests replay every
# file there through FuzzRegressions.inputs). See Docs/robustness.md.
# On a shared machine: `nice -n 19 Scripts/fuzz.sh ...`.
set -euo pipefail
cd "$(dirname "$0")/.."

# INPARS_FUZZ_SCRATCH picks another build folder (a second build while runs use the first).
scratch=${INPARS_FUZZ_SCRATCH:-.build-fuzz}
fuzzer=$scratch/release/inpars-fuzz

build() {
    # INPARS_FUZZ_NO_BUILD=1 reuses the last build (several runs side by side while editing).
    [ "${INPARS_FUZZ_NO_BUILD:-}" = 1 ] && [ -x "$fuzzer" ] && return
    INPARS_FUZZ=1 swift build --scratch-path "$scratch" -c release --product inpars-fuzz \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing >&2
}

if [ "${1:-}" = "--list" ] || [ $# -lt 2 ]; then
    [ "${1:-}" = "--list" ] || echo "usage: Scripts/fuzz.sh TARGET SECONDS [libFuzzer options...]" >&2
    build
    INPARS_FUZZ_TARGET=--list "$fuzzer" 2>&1 | sed 1d >&2 || true
    exit 2
fi
target=$1
seconds=$2
shift 2
build

# Test fixtures that make good starting points, per target.
fixtures=()
case $target in
    corpus-jsonl) fixtures=(Examples/tiny/corpus.jsonl) ;;
    queries) fixtures=(Examples/tiny/queries.jsonl) ;;
    qrels) fixtures=(Examples/tiny/qrels.tsv) ;;
    synthetic-queries) fixtures=(Examples/tiny/synthetic-queries.jsonl) ;;
    prompt-template) fixtures=(Examples/tiny/prompt.txt) ;;
    safetensors) fixtures=(Tests/Fixtures/checkpoint/*.safetensors Tests/Fixtures/checkpoint/broken/*.safetensors) ;;
    torch-bin) fixtures=(Tests/Fixtures/checkpoint/torch*/*.bin Tests/Fixtures/checkpoint/broken/*.bin) ;;
    zip) fixtures=(Tests/Fixtures/beir/*.zip Tests/Fixtures/checkpoint/torch/*.bin) ;;
    shard-index) fixtures=(Tests/Fixtures/checkpoint/*sharded/*.index.json) ;;
    spiece) fixtures=(Tests/Fixtures/t5-tokenizer/spiece-identity.model Tests/Fixtures/t5-tokenizer/spiece.model) ;;
esac

corpus=Fuzz/corpus/$target
findings=Fuzz/findings/$target
mkdir -p "$corpus" "$findings"
if [ -z "$(ls -A "$corpus")" ]; then
    for file in "${fixtures[@]}" Fuzz/seeds/"$target"/*; do
        [ -f "$file" ] && cp "$file" "$corpus/seed-$(basename "$file")"
    done
fi

options=(-artifact_prefix="$findings/" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=20
    -print_final_stats=1)
if [ "$seconds" -gt 0 ]; then options+=(-max_total_time="$seconds"); fi
# Inputs named on the command line are replayed instead of fuzzing the corpus.
replay=0
for argument in "$@"; do [ "${argument#-}" = "$argument" ] && replay=1; done
export INPARS_FUZZ_TARGET=$target
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
if [ $replay = 1 ]; then
    exec "$fuzzer" "${options[@]}" "$@"
fi
exec "$fuzzer" "${options[@]}" "$@" "$corpus"
