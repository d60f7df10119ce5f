#!/usr/bin/env bash
# Draws alerts in vs incidents out over time from a `quell bench --out DIR`
# time series:
#   bench/results/plot.sh DIR/launch-day-proto-run1.csv bench/results/launch-day.png
# Needs gnuplot (Debian gnuplot-nox).
set -euo pipefail
csv=$1
png=${2:-bench/results/launch-day.png}
title=${3:-"launch-day through quell: alerts in vs incidents out"}
gnuplot <<GP
set terminal pngcairo size 960,540 font "DejaVu Sans,11"
set output "$png"
set datafile separator ","
set key top left
set title "$title"
set xlabel "seconds since the storm started (wall clock; 250 ms samples)"
set ylabel "per second"
set logscale y
set yrange [100:*]
set grid ytics mytics
set format y "%.0s%c"
set style fill transparent solid 0.35 noborder
plot "$csv" every ::1 using 1:(\$5 > 0 ? \$5 : 1/0) with filledcurves y1=100 lc rgb "#d95f02" title "alerts in", \
     "" every ::1 using 1:(\$6 > 0 ? \$6 : 1/0) with filledcurves y1=100 lc rgb "#1b9e77" title "incidents out"
GP
echo "$png"
