#!/usr/bin/env python3
"""Times two commands as whole processes, run by run in turn, and prints their medians.

    alternate_runs.py N COMMAND_A ... -- COMMAND_B ...

Each command runs N times, A then B; its stdout goes to a file truncated before the timing
(/tmp/alternate-runs-{0,1}.txt), stderr is discarded. The token OUT in a command becomes a
fresh output path, removed with its manifest before each run (for `inpars search --output OUT`).
Prints each command's median, quartiles and extremes in milliseconds, and in how many of the
N pairs A was faster. On a noisy machine, alternating keeps a drift from favouring either.
"""
import glob
import os
import statistics
import subprocess
import sys
import time


def main() -> None:
    if len(sys.argv) < 4 or "--" not in sys.argv:
        sys.exit(__doc__)
    runs = int(sys.argv[1])
    args = sys.argv[2:]
    split = args.index("--")
    commands = [args[:split], args[split + 1:]]
    walls = [[], []]
    for _ in range(runs):
        for c, command in enumerate(commands):
            output = f"/tmp/alternate-runs-out-{c}.txt"
            for path in glob.glob(output + "*"):
                os.remove(path)
            command = [output if a == "OUT" else a for a in command]
            with open(f"/tmp/alternate-runs-{c}.txt", "w") as stdout:
                start = time.perf_counter()
                subprocess.run(command, stdout=stdout, stderr=subprocess.DEVNULL, check=False)
                walls[c].append((time.perf_counter() - start) * 1000)
    for c, name in enumerate("AB"):
        w = sorted(walls[c])
        print(f"{name}: median {statistics.median(w):.1f} ms  min {w[0]:.1f}  q1 {w[len(w) // 4]:.1f}"
              f"  q3 {w[3 * len(w) // 4]:.1f}  max {w[-1]:.1f}")
    faster = sum(a < b for a, b in zip(walls[0], walls[1]))
    print(f"A faster in {faster} of {runs} pairs")


if __name__ == "__main__":
    main()
