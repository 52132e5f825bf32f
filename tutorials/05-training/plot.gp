# Figures of tutorial 05 (training). `make tutorials` runs:
#   gnuplot -e "datadir='<build>/tutorials-out/05-training'; outdir='<srcdir>/plots'" plot.gp
# datadir holds the files written by `tutorial_training --datadir DIR` when
# Fashion-MNIST is installed: curve_<net>.dat (samples seen, running loss,
# running accuracy), bn_stats.dat (batch, then for channels 0 and 5: batch
# mean, running mean, batch variance, running variance) and histograms.dat
# (per network, before and after its normalization: bin centre, fraction).

if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."
nets = "groupnorm instancenorm layernorm batchnorm"

# ---- Figure 1: loss and accuracy during the first epoch -------------------------
set terminal pngcairo noenhanced size 1200,480 font "sans,12"
set output outdir."/training-curves.png"
set multiplot layout 1,2 title "Document 003's networks on Fashion-MNIST, first epoch (Adam, batch 32): running mean over the samples seen" font "sans,13"
set xlabel "training samples seen"
set grid
set key top right
set title "loss (sparse categorical cross-entropy)"
set ylabel "loss"
plot for [n in nets] datadir."/curve_".n.".dat" using 1:2 with lines lw 2 title n
set key bottom right
set title "accuracy"
set ylabel "accuracy"
set yrange [0:1]
plot for [n in nets] datadir."/curve_".n.".dat" using 1:3 with lines lw 2 title n
unset multiplot
set yrange [*:*]

# ---- Figure 2: BatchNorm's batch statistics against its running estimates -------
set output outdir."/training-bn-stats.png"
set multiplot layout 1,2 title "BatchNorm network: statistics of the conv output per batch, and BatchNorm's running estimates (momentum 0.99)" font "sans,13"
set xlabel "training batch"
set key top right
set title "mean of channels 0 and 5"
set ylabel "mean"
plot datadir."/bn_stats.dat" using 1:2 with points pt 7 ps 0.3 lc rgb "#9ecae1" title "channel 0, batch", \
     "" using 1:3 with lines lw 2 lc rgb "#08519c" title "channel 0, running", \
     "" using 1:6 with points pt 7 ps 0.3 lc rgb "#fdae6b" title "channel 5, batch", \
     "" using 1:7 with lines lw 2 lc rgb "#a63603" title "channel 5, running"
set title "variance of channels 0 and 5"
set ylabel "variance"
set logscale y
plot datadir."/bn_stats.dat" using 1:4 with points pt 7 ps 0.3 lc rgb "#9ecae1" title "channel 0, batch", \
     "" using 1:5 with lines lw 2 lc rgb "#08519c" title "channel 0, running", \
     "" using 1:8 with points pt 7 ps 0.3 lc rgb "#fdae6b" title "channel 5, batch", \
     "" using 1:9 with lines lw 2 lc rgb "#a63603" title "channel 5, running"
unset logscale y
unset multiplot

# ---- Figure 3: activations before and after each normalization -------------------
set terminal pngcairo noenhanced size 1200,800 font "sans,12"
set output outdir."/training-histograms.png"
set multiplot layout 2,2 title "Activations of 32 test images after training: conv output before and after the normalization (inference mode)" font "sans,13"
set xlabel "activation (values beyond ±3 counted in the end bins)"
set ylabel "fraction of values"
set xrange [-3:3]
set key top right
do for [k=0:3] {
    set title word(nets, k+1)
    plot datadir."/histograms.dat" index 2*k using 1:2 with steps lw 2 lc rgb "#888888" title "before", \
         "" index 2*k+1 using 1:2 with steps lw 2 lc rgb "#08519c" title "after"
}
unset multiplot
