#!/usr/bin/env bash
# The README's plot: a scenario's alerts in vs incidents out per minute of
# event time, from build/bench/quell-timeline (the decision core quell run
# uses, one thread, deterministic), drawn with gnuplot (Debian gnuplot-nox).
#   bench/results/plot.sh [SCENARIO] [PNG]
#   (defaults: bench/scenarios/launch-day.yaml bench/results/launch-day.png)
set -euo pipefail
cd "$(dirname "$0")/../.."
scenario=${1:-bench/scenarios/launch-day.yaml}
png=${2:-bench/results/launch-day.png}
name=$(basename "$scenario" .yaml)
csv=${png%.png}.csv
build/bench/quell-timeline "$scenario" 60 >"$csv"
gnuplot <<GP
set terminal pngcairo size 960,520 font "DejaVu Sans,11"
set output "$png"
set datafile separator ","
set key outside below horizontal
set title "$name through quell's decision core: alerts in vs incidents out per minute"
set xlabel "minutes of event time"
set ylabel "per minute"
set yrange [0:*]
set grid ytics
set format y "%.0s%c"
set style fill solid 0.5 noborder
plot "$csv" every ::1 using 1:2 with boxes lc rgb "#fdae6b" title "alerts in", \
     "" every ::1 using 1:3 with boxes lc rgb "#e6550d" title "  of them from the new service", \
     "" every ::1 using 1:4 with linespoints lw 2 pt 7 ps 0.5 lc rgb "#1b9e77" title "incidents out"
GP
echo "$png ($csv)"
