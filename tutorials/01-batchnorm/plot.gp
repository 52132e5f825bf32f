# Figures of tutorial 01 (BatchNorm). `make tutorials` runs:
#   gnuplot -e "datadir='<build>/tutorials-out/01-batchnorm'; outdir='<srcdir>/plots'" plot.gp
# datadir holds running_stats.dat and factor.dat written by
# `tutorial_batchnorm --datadir DIR`; both default to the current directory.

if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."

set terminal pngcairo noenhanced size 960,860 font "sans,11"
set key inside left top horizontal Left reverse samplen 2 maxrows 3 width -2 opaque box lc rgb "#bbbbbb"
set grid lc rgb "#dddddd"
set border lc rgb "#444444"

# Colours shared by both figures: one per running-statistics rule.
c_keras  = "#1f77b4"
c_torch  = "#d62728"
c_cumul  = "#2ca02c"
c_puzzle = "#9467bd"

# ---- Figure 1: running mean and variance over 60 steps ----------------------
set output outdir."/batchnorm-running-stats.png"
set multiplot layout 2,1 title "BatchNorm running statistics: 60 steps, batches of 32 from N(3, 4); the true mean moves to 5 after step 30" font "sans,13"

set title "running mean"
set ylabel "mean"
set xlabel ""
set xrange [0:61]
set yrange [-0.2:7.8]
plot datadir."/running_stats.dat" u 1:2 w steps lw 2 dt 2 lc rgb "black" t "true mean", \
     "" u 1:3 w p pt 7 ps 0.6 lc rgb "#888888" t "batch mean", \
     "" u 1:4 w l lw 2 lc rgb c_keras  t "Keras EMA, momentum 0.99", \
     "" u 1:5 w l lw 2 lc rgb c_torch  t "PyTorch EMA, momentum 0.1", \
     "" u 1:6 w l lw 2 lc rgb c_cumul  t "cumulative (PyTorch momentum=None)", \
     "" u 1:7 w l lw 2 dt 4 lc rgb c_puzzle t "PuzzleLib, factor max(1/t, 0.1)"

set title "running variance (Keras: biased batch variance; the others: unbiased)"
set ylabel "variance"
set xlabel "training step t"
set yrange [0:10]
plot datadir."/running_stats.dat" u 1:8 w l lw 2 dt 2 lc rgb "black" t "true variance", \
     "" u 1:9 w p pt 7 ps 0.6 lc rgb "#888888" t "batch variance (unbiased)", \
     "" u 1:10 w l lw 2 lc rgb c_keras  t "Keras EMA, momentum 0.99", \
     "" u 1:11 w l lw 2 lc rgb c_torch  t "PyTorch EMA, momentum 0.1", \
     "" u 1:12 w l lw 2 lc rgb c_cumul  t "cumulative (PyTorch momentum=None)", \
     "" u 1:13 w l lw 2 dt 4 lc rgb c_puzzle t "PuzzleLib, factor max(1/t, 0.1)"
unset multiplot

# ---- Figure 2: weight of the new batch at step t -----------------------------
set output outdir."/batchnorm-puzzlelib-factor.png"
set terminal pngcairo noenhanced size 960,560 font "sans,11"
set key default
set key inside right center vertical Left reverse samplen 3 maxrows auto width 1 opaque box lc rgb "#bbbbbb"
set title "Weight f of the new batch at step t, running = (1 - f)·running + f·batch, as measured from nnref" font "sans,13"
set xlabel "training step t"
set ylabel "weight of the new batch f"
set xrange [0.5:30.5]
set yrange [-0.03:1.05]
set xtics 1,2,30
set ytics 0,0.1,1
plot datadir."/factor.dat" u 1:2 w lp lw 2 pt 7 ps 0.8 lc rgb c_puzzle t "PuzzleLib: alpha_t = max(1/t, 0.1) (what its code does)", \
     "" u 1:5 w l lw 2 dt 2 lc rgb c_cumul t "cumulative 1/t (PyTorch momentum=None)", \
     "" u 1:4 w l lw 2 lc rgb c_torch t "PyTorch EMA: momentum 0.1", \
     "" u 1:3 w l lw 2 lc rgb c_keras t "Keras EMA: 1 - momentum = 0.01", \
     "" u 1:6 w lp lw 2 pt 6 ps 0.9 dt 3 lc rgb "#e08000" t "document 004 read literally: 1 - alpha_t (0 at step 1)"
