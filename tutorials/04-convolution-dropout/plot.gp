# Figure of tutorial 04 (dropout; the convolution part has no figure). `make tutorials` runs:
#   gnuplot -e "datadir='<build>/tutorials-out/04-convolution-dropout'; outdir='<srcdir>/plots'" plot.gp
# datadir holds dropout_running.dat and dropout_features.dat, written by
# `tutorial_conv_dropout --datadir DIR`; both default to the current directory.

if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."

# ---- The expected activation is preserved -------------------------------------
# Left: the running mean of one activation (x = 6) over training steps, each
# with a new mask, for inverted and classic scaling, against the inference
# outputs (x and x/2). Right: every feature's mean over 10,000 steps against
# its input: on y = x (inverted) and y = x/2 (classic).
set terminal pngcairo noenhanced size 1300,520 font "sans,12"
set output outdir."/dropout-expectation.png"
set multiplot layout 1,2 title "Dropout at rate 0.5: the mean training output equals the inference output" font "sans,14"

set title "running mean of y for x = 6 over training steps (new mask each step)" font "sans,12"
set logscale x
set xlabel "training steps (masks drawn)"
set ylabel "mean of y so far"
set yrange [0:12.5]
set key top right
plot datadir."/dropout_running.dat" u 1:2 w l lw 2 lc rgb "#1f77b4" t "inverted: y = m x / (1 - rate)", \
     6 w l dt 2 lw 2 lc rgb "#1f77b4" t "inverted inference: x = 6", \
     datadir."/dropout_running.dat" u 1:3 w l lw 2 lc rgb "#d62728" t "classic: y = m x", \
     3 w l dt 2 lw 2 lc rgb "#d62728" t "classic inference: (1 - rate) x = 3"

unset logscale x
set title "mean of 10,000 training outputs, every feature" font "sans,12"
set xlabel "input x"
set ylabel "mean training output"
set xrange [0:6.5]
set yrange [0:6.5]
set key top left
plot x w l dt 2 lc rgb "#1f77b4" t "y = x (inverted inference)", \
     x/2 w l dt 2 lc rgb "#d62728" t "y = x/2 (classic inference)", \
     datadir."/dropout_features.dat" u 1:2 w p pt 7 ps 1.2 lc rgb "#1f77b4" t "inverted", \
     datadir."/dropout_features.dat" u 1:3 w p pt 5 ps 1.2 lc rgb "#d62728" t "classic"
unset multiplot
