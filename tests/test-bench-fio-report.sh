#!/usr/bin/env bash
# bench/fio-report, the report of bench/fio-vs-file, on results made up
# so that every figure is known: two rounds of vswap, nbdkit memory, the
# medium and file cache=none.  Checks the medians and their spread, that
# each ratio is taken within a round, the anchor at the size vswap reads
# (8 KiB here, not 4), the whole-device write measure (host MB/s × media
# ÷ host ÷ the medium's 1 MiB write), QD1 p50 against memory + medium,
# the goal verdicts and the CPU time per page.
set -u

. "$(dirname "$0")/functions.sh"

requires_cmd python3
report=$(cd "$(dirname "$0")/../bench" && pwd)/fio-report
[ -x "$report" ] || fail "$report is missing"

make_tmpdir bench-fio-report
tsv=$tmp/results.tsv
printf 'round\ttarget\tworkload\tbs\tdirection\tiops\tmibs\tp50us\tp99us\tpages\tcpu_ticks\tmedia_per_host\tmedia_read_per_page\n' > "$tsv"
# row ROUND TARGET WORKLOAD BS IOPS MIBS P50 P99 PAGES TICKS MEDIA/HOST READ/PAGE
row () {
  local dir=read
  case $3 in *write*|prefill*) dir=write ;; esac
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$1" "$2" "$3" "$4" "$dir" "$5" "$6" "$7" "$8" "$9" "${10}" "${11}" "${12}" >> "$tsv"
}
for r in 1 2; do
  # randwrite, half: vswap 30k then 36k against memory 60k, medium 40k.
  row $r vswap randwrite-half 4k $((24000 + 6000 * r)) 0 0 0 0 0 1.01 -
  row $r memory randwrite-half 4k 60000 0 0 0 0 0 - -
  row $r medium randwrite-half 4k 40000 0 0 0 0 0 - -
  row $r file-nocache randwrite-half 4k 10000 0 0 0 0 0 - -
  # randread QD16: vswap reads 4608 bytes a page, so its anchor is the
  # medium's 8 KiB read (25k), lower than memory (50k): 20k / 25k = 0.8.
  row $r vswap randread 4k 20000 0 0 0 0 0 - 4608
  row $r memory randread 4k 50000 0 0 0 0 0 - -
  row $r medium randread 4k 40000 0 0 0 0 0 - -
  row $r medium randread 8k 25000 0 0 0 0 0 - -
  # QD1: vswap p50 95 µs against memory 40 + medium (8 KiB) 50 = 90.
  row $r vswap randread-qd1 4k 9000 0 95 300 0 0 - 4608
  row $r memory randread-qd1 4k 20000 0 40 90 0 0 - -
  row $r medium randread-qd1 4k 25000 0 30 60 0 0 - -
  row $r medium randread-qd1 8k 18000 0 50 80 0 0 - -
  # CPU: 65536 pages written in 1.31 s, then 1.50 s; read in 2.00 s.
  row $r vswap cpuwrite 4k 0 0 0 0 65536 $((112 + 19 * r)) 1.01 -
  row $r vswap cpuread 4k 0 0 0 0 65536 200 - 4608
  row $r file-nocache cpuwrite 4k 0 0 0 0 65536 300 - -
  # The whole device: 1 MiB writes 400 of the medium's 500 MiB/s; reads
  # 300 of 500; randwrite 10 MiB/s × 5 media bytes = 50 of 500.
  row $r vswap seqwrite 1M 0 400 0 0 0 0 1.02 -
  row $r medium seqwrite 1M 0 500 0 0 0 0 - -
  row $r memory seqwrite 1M 0 1000 0 0 0 0 - -
  row $r vswap randwrite-whole 4k 2560 10 0 0 0 0 5 -
  row $r medium randwrite-whole 4k 20000 78 0 0 0 0 - -
  row $r file-nocache randwrite-whole 4k 2560 10 0 0 0 0 - -
  row $r vswap seqread 1M 0 300 0 0 0 0 - -
  row $r medium seqread 1M 0 500 0 0 0 0 - -
done

run 0 python3 "$report" --clock-ticks 100 --commit abc1234 "$tsv"
cat "$out"
expect () {                     # PATTERN WHAT
  grep -qE "$1" "$out" || fail "$2: no line matching /$1/"
}
expect '^randwrite 4k QD16, half +33\.0k \[30\.0-36\.0\] ' "the median and spread of vswap's randwrite"
expect '^randwrite 4k QD16 half ÷ memory +0\.55 \[0\.50-0\.60\]' "randwrite ÷ memory, per round"
expect '^randwrite 4k QD16 half ÷ medium +0\.82 \[0\.75-0\.90\]' "randwrite ÷ medium, per round"
expect 'vswap read 4608 bytes .* anchor is the 8k read' "the read-size anchor"
expect '^randread 4k QD16 ÷ lower of memory, medium at its read size +0\.80 +-$' "randread ÷ the lower anchor at 8 KiB"
expect '^QD1 p50 ÷ \(memory p50 \+ medium p50\) +1\.06 +-$' "QD1 p50 against memory + medium at 8 KiB"
expect '^randwrite whole: host MB/s × media/host ÷ medium 1M write +0\.10 +0\.02$' "the whole-device write measure (file nocache: media/host 1)"
expect 'goal: randwrite 4k QD16 half ≥ 0\.85 × nbdkit memory: 0\.55  MISS' "the randwrite goal"
expect 'goal: randread 4k QD16 ≥ 0\.85 × lower .*: 0\.80  MISS' "the randread goal"
expect 'goal: randread QD1 p50 ≤ 1\.1 × .*: 1\.06  PASS' "the QD1 goal"
expect 'goal: write 1M ≥ 0\.8 × medium: 0\.80  PASS' "the 1 MiB write goal"
expect 'goal: read 1M ≥ 0\.8 × medium: 0\.60  MISS' "the 1 MiB read goal"
expect 'goal: randwrite whole: .*: 0\.10  MISS' "the whole-device goal"
expect '^vswap +21\.4 \[20\.0-22\.9\] +30\.5$' "CPU per page written and read"
expect '^file nocache +45\.8 +-$' "CPU per page of file cache=none"
expect '^vswap measured: abc1234' "the commit measured"
echo "ok   fio-report"
