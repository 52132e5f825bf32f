# Figures of tutorial 02 (normalization layers). `make tutorials` runs:
#   gnuplot -e "datadir='<build>/tutorials-out/02-normalization'; outdir='<srcdir>/plots'" plot.gp
# datadir holds the files written by `tutorial_normalization --datadir DIR`:
# groups_{shaded,plain,labels}.dat (always) and stats_{bn,ln,gn}.dat (only
# when Fashion-MNIST is installed); both default to the current directory.

if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."

set terminal pngcairo noenhanced size 1280,420 font "sans,12"
set border lc rgb "#444444"

# ---- Figure 1: the cells that share one mean and variance --------------------
# Every quadrilateral is one visible cell of an N x C x (H*W) cube; the
# program found the shaded ones by perturbing the front top-left input cell
# and watching which outputs of each layer's kernel changed.
set output outdir."/normalization-groups.png"
set title "Cells normalized by the same mean and variance as the front top-left cell (found by perturbing it)" font "sans,14"
unset key
unset border
unset tics
set size ratio -1
set xrange [-1.8:38.6]
set yrange [-1.8:7.2]
plot datadir."/groups_plain.dat" u 1:2 w filledcurves closed fc rgb "#ffffff" fs solid 1.0 border lc rgb "#555555", \
     datadir."/groups_shaded.dat" u 1:2 w filledcurves closed fc rgb "#5b9bd5" fs solid 1.0 border lc rgb "#1f3f66", \
     datadir."/groups_labels.dat" u 1:2:3 w labels font "sans,13" tc rgb "#222222"

# ---- Figure 2: statistics of a Fashion-MNIST batch ----------------------------
if (system("test -f '".datadir."/stats_bn.dat' && echo yes || echo no") eq "no") {
    print "plot.gp: ".datadir."/stats_bn.dat is absent (Fashion-MNIST not installed: apt-get install dataset-fashion-mnist); normalization-statistics.png not redrawn"
    exit
}
reset
set terminal pngcairo noenhanced size 1280,760 font "sans,11"
set output outdir."/normalization-statistics.png"
set grid lc rgb "#dddddd"
set border lc rgb "#444444"
set key top left samplen 1 opaque box lc rgb "#bbbbbb"
c_before = "#1f77b4"
c_after = "#d62728"
set multiplot layout 2,3 title "64 Fashion-MNIST test images after a random 3x3 convolution to 8 channels: the statistics each layer uses, before and after it" font "sans,13"
set yrange [-1.2:1.2]
set ylabel "mean"
set title "BatchNorm: per channel (8)"
set xlabel "channel"
set xrange [-0.5:7.5]
plot datadir."/stats_bn.dat" u 1:2 w p pt 7 ps 1.2 lc rgb c_before t "before", "" u 1:4 w p pt 5 ps 0.9 lc rgb c_after t "after"
set title "LayerNorm: per sample (64)"
set xlabel "sample"
set xrange [-1:64]
plot datadir."/stats_ln.dat" u 1:2 w p pt 7 ps 0.8 lc rgb c_before t "before", "" u 1:4 w p pt 5 ps 0.6 lc rgb c_after t "after"
set title "GroupNorm, G = 4: per (sample, group) (256)"
set xlabel "sample * 4 + group"
set xrange [-4:259]
plot datadir."/stats_gn.dat" u 1:2 w p pt 7 ps 0.5 lc rgb c_before t "before", "" u 1:4 w p pt 5 ps 0.4 lc rgb c_after t "after"
set yrange [0:1.5]
set ylabel "variance"
set key top left horizontal
set title "BatchNorm: per channel"
set xlabel "channel"
set xrange [-0.5:7.5]
plot datadir."/stats_bn.dat" u 1:3 w p pt 7 ps 1.2 lc rgb c_before t "before", "" u 1:5 w p pt 5 ps 0.9 lc rgb c_after t "after: var/(var+eps)"
set title "LayerNorm: per sample"
set xlabel "sample"
set xrange [-1:64]
plot datadir."/stats_ln.dat" u 1:3 w p pt 7 ps 0.8 lc rgb c_before t "before", "" u 1:5 w p pt 5 ps 0.6 lc rgb c_after t "after: var/(var+eps)"
set title "GroupNorm: per (sample, group)"
set xlabel "sample * 4 + group"
set xrange [-4:259]
plot datadir."/stats_gn.dat" u 1:3 w p pt 7 ps 0.5 lc rgb c_before t "before", "" u 1:5 w p pt 5 ps 0.4 lc rgb c_after t "after: var/(var+eps)"
unset multiplot
