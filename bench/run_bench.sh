#!/usr/bin/env bash
# Times handoff against GoogleTest on the same 10,000 trivial tests (see bench/README.md).
#
#   bench/run_bench.sh BUILD_DIR
#
# Builds bench_handoff_10k, bench_gtest_10k and the peak-RSS shim in BUILD_DIR if needed
# (configuring BUILD_DIR first if it is not a CMake build tree), checks that both binaries
# report 10,000 passing tests, times them side by side with hyperfine, measures their peak
# RSS, and prints a markdown table on stdout (hyperfine's own report goes to stderr), also
# written to BUILD_DIR/bench.md (every run's time: BUILD_DIR/bench-hyperfine.json).
#
# Environment: BENCH_RUNS (default 15), BENCH_WARMUP (3), BENCH_RSS_RUNS (5), JOBS (2),
# BENCH_TESTS (10k: the binaries' suffix, e.g. 1k for the 1,000-test variant).

set -euo pipefail

die() {
  echo "run_bench.sh: FAIL: $*" >&2
  exit 1
}

[[ $# -eq 1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$1
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${BENCH_RUNS:-15}
warmup=${BENCH_WARMUP:-3}
rss_runs=${BENCH_RSS_RUNS:-5}
jobs=${JOBS:-2}
suffix=${BENCH_TESTS:-10k}
case $suffix in
  10k) expected=10000 ;;
  1k) expected=1000 ;;
  *) die "BENCH_TESTS must be 10k or 1k, got '$suffix'" ;;
esac
(( runs >= 10 )) || die "BENCH_RUNS must be at least 10, got $runs"

for tool in hyperfine cmake python3; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is not installed: apt-get install time"

# --- Build ----------------------------------------------------------------------------
if [[ ! -f $build/CMakeCache.txt ]]; then
  echo "run_bench.sh: configuring $build (RelWithDebInfo)" >&2
  cmake -S "$source_dir" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
grep -q '^HANDOFF_BUILD_BENCH:BOOL=OFF' "$build/CMakeCache.txt" &&
  die "$build was configured with -DHANDOFF_BUILD_BENCH=OFF: reconfigure it with ON"
cmake --build "$build" --target help 2>/dev/null | grep -q "bench_gtest_$suffix" ||
  die "$build has no bench_gtest_$suffix target: GoogleTest was not found when it was configured (apt-get install libgtest-dev, then reconfigure)"
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
case $build_type in
  Release | RelWithDebInfo) ;;
  *) echo "run_bench.sh: WARNING: $build is a '$build_type' build: figures are not comparable" >&2 ;;
esac
echo "run_bench.sh: building the benchmark binaries (-j$jobs)" >&2
build_start=$(date +%s.%N)
cmake --build "$build" -j "$jobs" \
  --target "bench_handoff_$suffix" "bench_gtest_$suffix" bench_peak_rss >&2
build_seconds=$(python3 -c "print(f'{$(date +%s.%N) - $build_start:.1f}')")

bin=$build/bench
handoff=$bin/bench_handoff_$suffix
gtest=$bin/bench_gtest_$suffix
shim=$bin/libbench_peak_rss.so
for f in "$handoff" "$gtest" "$shim"; do
  [[ -f $f ]] || die "$f was not built"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/handoff-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

cmd_process=("$handoff" run --report-json "$work/h.json" --report-junit "$work/h.xml")
cmd_none=("$handoff" run --isolation=none --report-json "$work/n.json" --report-junit "$work/n.xml")
cmd_gtest=("$gtest" "--gtest_output=xml:$work/g.xml")

# --- Correctness ----------------------------------------------------------------------
# Fails the whole benchmark unless the reports hold exactly $expected passing tests.
check_handoff() {
  local json=$1 xml=$2 what=$3 n
  [[ -s $json ]] || die "$what: no JSON report at $json"
  [[ -s $xml ]] || die "$what: no JUnit report at $xml"
  n=$(grep -c '"Action":"pass","Package":"Bench","Test":"Test[0-9]*",' "$json" || true)
  [[ $n -eq $expected ]] || die "$what: JSON report has $n test 'pass' actions, want $expected"
  n=$(grep -c '"Action":"run","Package":"Bench","Test":' "$json" || true)
  [[ $n -eq $expected ]] || die "$what: JSON report has $n 'run' actions, want $expected"
  n=$(grep -c '"Action":"\(fail\|skip\)"' "$json" || true)
  [[ $n -eq 0 ]] || die "$what: JSON report has $n fail/skip actions, want 0"
  grep -m1 '<testsuites' "$xml" | grep -q " tests=\"$expected\" failures=\"0\" errors=\"0\" skipped=\"0\"" ||
    die "$what: JUnit <testsuites> does not say tests=\"$expected\" with no failures: $(grep -m1 '<testsuites' "$xml")"
  n=$(grep -c '<testcase ' "$xml" || true)
  [[ $n -eq $expected ]] || die "$what: JUnit report has $n <testcase> elements, want $expected"
}

check_gtest() {
  local xml=$1 n
  [[ -s $xml ]] || die "GoogleTest: no XML report at $xml"
  grep -m1 '<testsuites' "$xml" | grep -q "tests=\"$expected\" failures=\"0\" disabled=\"0\" errors=\"0\"" ||
    die "GoogleTest: <testsuites> does not say tests=\"$expected\" with no failures: $(grep -m1 '<testsuites' "$xml")"
  n=$(grep -c '<testcase ' "$xml" || true)
  [[ $n -eq $expected ]] || die "GoogleTest: XML report has $n <testcase> elements, want $expected"
}

check_all() {
  check_handoff "$work/h.json" "$work/h.xml" "handoff (process isolation)"
  check_handoff "$work/n.json" "$work/n.xml" "handoff (--isolation=none)"
  check_gtest "$work/g.xml"
}

run_checked() {
  local status=0
  "$@" >/dev/null 2>"$work/stderr" || status=$?
  [[ $status -eq 0 ]] || die "'$*' exited with status $status: $(head -c 2000 "$work/stderr")"
}

echo "run_bench.sh: checking the reports" >&2
run_checked "${cmd_process[@]}"
run_checked "${cmd_none[@]}"
run_checked "${cmd_gtest[@]}"
check_all

# --- Time -----------------------------------------------------------------------------
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "run_bench.sh: timing ($warmup warm-up runs, $runs runs each; load average $load_before)" >&2
# -N: no intermediate shell. hyperfine sends the commands' stdout to /dev/null, as
# `> /dev/null` would (so handoff's text reporter writes to a non-terminal, fully buffered).
hyperfine -N --warmup "$warmup" --runs "$runs" --export-json "$work/hyperfine.json" \
  -n "handoff run (process isolation)" "$(printf '%q ' "${cmd_process[@]}")" \
  -n "handoff run --isolation=none" "$(printf '%q ' "${cmd_none[@]}")" \
  -n "GoogleTest" "$(printf '%q ' "${cmd_gtest[@]}")" >&2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
# The last timed run of each command wrote the reports: check them too.
check_all

# --- Peak RSS -------------------------------------------------------------------------
# GNU time's %M is the ru_maxrss that wait4() returns: the maximum over the process and
# the children it reaped, not their sum. The shim (bench/peak_rss.cc, LD_PRELOADed and
# inherited by handoff's worker) logs each process's own VmHWM at exit, so the
# supervisor and the worker are measured apart.
echo "run_bench.sh: measuring peak RSS ($rss_runs runs each)" >&2
measure_rss() {
  local key=$1
  shift
  local i
  for ((i = 0; i < rss_runs; ++i)); do
    rm -f "$work/rss.log"
    HANDOFF_BENCH_RSS_LOG="$work/rss.log" LD_PRELOAD="$shim" \
      /usr/bin/time -f "%M" -o "$work/time.out" "$@" >/dev/null 2>"$work/stderr" ||
      die "'$*' failed under /usr/bin/time: $(head -c 2000 "$work/stderr")"
    [[ -s $work/rss.log ]] || die "the peak-RSS shim logged nothing for '$*'"
    # One line per run: key, GNU time's %M, then "argv1=kB" per process the shim logged.
    printf '%s %s' "$key" "$(tail -1 "$work/time.out")" >>"$work/rss.txt"
    while read -r _pid _ppid hwm _argv0 argv1; do
      if [[ ${argv1:-} == __handoff_worker ]]; then role=worker; else role=main; fi
      printf ' %s=%s' "$role" "$hwm" >>"$work/rss.txt"
    done <"$work/rss.log"
    printf '\n' >>"$work/rss.txt"
  done
}
: >"$work/rss.txt"
measure_rss process "${cmd_process[@]}"
measure_rss none "${cmd_none[@]}"
measure_rss gtest "${cmd_gtest[@]}"

# --- Report ---------------------------------------------------------------------------
revision=$(git -C "$source_dir" rev-parse --short HEAD 2>/dev/null || echo "unknown (not a git checkout)")
if [[ -n $(git -C "$source_dir" status --porcelain -- src include 2>/dev/null) ]]; then
  revision="$revision (src/ or include/ modified)"
fi
export BENCH_REVISION=$revision BENCH_LOAD_BEFORE=$load_before BENCH_LOAD_AFTER=$load_after \
  BENCH_RUNS=$runs BENCH_WARMUP=$warmup BENCH_RSS_RUNS=$rss_runs BENCH_EXPECTED=$expected BENCH_SUFFIX=$suffix \
  BENCH_BUILD_TYPE=$build_type BENCH_BUILD_SECONDS=$build_seconds \
  BENCH_HYPERFINE="$(hyperfine --version)" BENCH_CPUS="$(nproc)" \
  BENCH_CPU="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
python3 - "$work/hyperfine.json" "$work/rss.txt" >"$work/bench.md" <<'PY'
import json, os, statistics, sys, time

env = os.environ
results = json.load(open(sys.argv[1]))["results"]
# rss[key] = one dict per run: GNU time's %M ("time") and each process's own VmHWM
# ("main", "worker"; the largest if a role appears twice), all in kB.
rss = {}
for line in open(sys.argv[2]):
    key, time_kb, *procs = line.split()
    run = {"time": int(time_kb)}
    for p in procs:
        role, _, kb = p.partition("=")
        if kb.isdigit():
            run[role] = max(run.get(role, 0), int(kb))
    rss.setdefault(key, []).append(run)

def median_kb(key, field):
    values = [run[field] for run in rss.get(key, []) if field in run]
    return statistics.median(values) if values else None

def mb(kb):
    return "n/a" if kb is None else f"{kb / 1024:.1f} MB"

def ms(seconds):
    return f"{seconds * 1000:.0f} ms"

binary = f"bench_handoff_{env['BENCH_SUFFIX']}"
rows = [
    ("process", f"`{binary} run --report-json F --report-junit F`"),
    ("none", f"`{binary} run --isolation=none --report-json F --report-junit F`"),
    ("gtest", f"`bench_gtest_{env['BENCH_SUFFIX']} --gtest_output=xml:F`"),
]
by_key = dict(zip([key for key, _ in rows], results))
gtest_median = by_key["gtest"]["median"]
count = int(env["BENCH_EXPECTED"])

print(f"## handoff vs GoogleTest: {count:,} trivial tests in one suite\n")
print(f"- {time.strftime('%Y-%m-%d %H:%M %Z')}, revision {env['BENCH_REVISION']}, "
      f"{env['BENCH_BUILD_TYPE']} build (generated test files at -O1 -g0)")
print(f"- {env['BENCH_CPUS']} CPUs ({env['BENCH_CPU']}); load average "
      f"{env['BENCH_LOAD_BEFORE']} before timing, {env['BENCH_LOAD_AFTER']} after")
print(f"- {env['BENCH_HYPERFINE']}: {env['BENCH_WARMUP']} warm-up and {env['BENCH_RUNS']} "
      "timed runs per command, whole process, stdout to /dev/null; "
      f"peak RSS: median of {env['BENCH_RSS_RUNS']} runs")
print(f"- benchmark binaries built (or found up to date) in {env['BENCH_BUILD_SECONDS']} s\n")

print("| Command | Median ± σ | Min | Peak RSS (GNU time) | Peak RSS per process | Median vs GoogleTest |")
print("|---|---|---|---|---|---|")
for key, label in rows:
    r = by_key[key]
    main = median_kb(key, "main")
    if key == "process":
        worker = median_kb(key, "worker")
        per_process = (f"supervisor {mb(main)} + worker {mb(worker)} = "
                       f"{mb(None if main is None or worker is None else main + worker)}")
    else:
        per_process = f"{mb(main)} (one process)"
    print(f"| {label} | {ms(r['median'])} ± {ms(r['stddev'] or 0.0)} | {ms(r['min'])} "
          f"| {mb(median_kb(key, 'time'))} | {per_process} | {r['median'] / gtest_median:.2f}× |")

ratio = by_key["process"]["median"] / gtest_median
verdict = "meets the target" if ratio <= 1.0 else "misses the target"
if ratio <= 0.5:
    verdict += " and the aim"
print(f"\nTarget: handoff with worker isolation no slower than GoogleTest (≤ 1.00×), "
      f"aiming for 0.50×. Measured: {ratio:.2f}×, which {verdict}.")
print("\nPeak RSS (GNU time) is `/usr/bin/time -f %M`: for handoff it is the larger of the "
      "supervisor and the worker, not their sum (wait4's ru_maxrss covers reaped children "
      "by maximum). The per-process figures are each process's own VmHWM, logged at exit "
      "by the LD_PRELOAD shim bench/peak_rss.cc; both processes are alive together, so "
      "their sum bounds the run's combined peak.")
print(f"\nEach command was checked to report {count:,} passing tests (handoff: {count:,} "
      "`pass` actions of tests in the JSON, `tests=\"N\"` and N `<testcase>` in the JUnit; "
      "GoogleTest: `tests=\"N\"` and N `<testcase>`), before timing and after the last timed run.")
PY
cp "$work/bench.md" "$build/bench.md"
cp "$work/hyperfine.json" "$build/bench-hyperfine.json"
cat "$work/bench.md"
