# gnuplot script of make bench-plots: reads the TSV files of bench/curves
# (directory in the variable dir) and writes PNG plots into docs/.
# gnuplot -e "dir='bench/out/curves'; docs='docs'" bench/curves/plots.gp
set terminal pngcairo size 900,520 font "sans,11" noenhanced
set grid
set key bottom right
set logscale x 10
set format x "%.0s%c"

set output docs."/bench-events.png"
set title "secwatch replay, 10 rules: scale with the number of events (client IPs = events/20)"
set xlabel "events"
set ylabel "throughput / encoding/json decode loop (CPU time)"
set y2label "peak RSS (MiB)"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
plot dir."/events.tsv" using 1:4 with linespoints lw 2 pt 7 title "throughput ratio (left)", \
     "" using 1:5 axes x1y2 with linespoints lw 2 pt 5 title "peak RSS MiB (right)", \
     "" using 1:6 axes x1y2 with linespoints lw 1 pt 4 dt 2 title "decode loop peak RSS MiB (right)"

set output docs."/bench-rules.png"
set title "secwatch replay, 1,000,000 events: scale with the number of rules (10 bench rules + rules matching nothing)"
set xlabel "rules loaded"
set key top right
plot dir."/rules.tsv" using 1:4 with linespoints lw 2 pt 7 title "throughput ratio, extra rules by event_type (left)", \
     "" using 1:7 with linespoints lw 2 pt 9 title "throughput ratio, extra rules by path prefix (left)", \
     "" using 1:5 axes x1y2 with linespoints lw 1 pt 5 dt 2 title "peak RSS MiB, by event_type (right)", \
     "" using 1:8 axes x1y2 with linespoints lw 1 pt 4 dt 2 title "peak RSS MiB, by path prefix (right)"
set key bottom right

set output docs."/bench-keys.png"
set title "secwatch replay, 10 rules: memory against distinct client IPs (all in the window at once)"
set xlabel "distinct client IPs"
set ylabel "peak RSS (MiB)"
unset y2tics
unset y2label
set logscale y 10
set yrange [*:*]
plot dir."/keys.tsv" using 1:4 with linespoints lw 2 pt 7 title "max_keys: unlimited", \
     "" using 1:3 with linespoints lw 2 pt 5 title "max_keys: 100,000 (default cap, per rule)"
