# Figures of tutorial 05 (training). `make tutorials` runs:
#   gnuplot -e "datadir='<build>/tutorials-out/05-training'; outdir='<srcdir>/plots'" plot.gp
# datadir holds the files written by `tutorial_training --datadir DIR` when
# Fashion-MNIST is installed: curve_<net>.dat (samples seen, running loss,
# running accuracy), bn_stats.dat (batch, then for each of the 10 channels:
# batch mean, running mean, batch variance, running variance) and
# histograms.dat (per network, at the first and the last batch, before and
# after its normalization: bin centre, fraction).

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
# Small multiples, one panel per channel and statistic: rows 1 and 3 the mean
# of channels 0-4 and 5-9, rows 2 and 4 their variance (log scale). Column of
# channel c in bn_stats.dat: batch mean 4c+2, running mean 4c+3, batch
# variance 4c+4, running variance 4c+5. Each panel has its own y range.
set terminal pngcairo noenhanced size 1600,1150 font "sans,10"
set output outdir."/training-bn-stats.png"
set multiplot layout 4,5 title "BatchNorm network, each channel of the conv output against the training batch: the batch statistics BatchNorm normalizes with in training\n(dots, every 10 batches) and its running estimates, which inference uses (lines; momentum 0.99)" font "sans,12"
unset xlabel
unset ylabel
set xtics 500
set format y "%g"
set key top right
do for [half=0:1] {
    do for [c=5*half:5*half+4] {
        set title sprintf("channel %d: mean", c)
        if (c == 0) { set key } else { unset key }
        plot datadir."/bn_stats.dat" using 1:4*c+2 with points pt 7 ps 0.3 lc rgb "#9ecae1" title "batch", \
             "" using 1:4*c+3 with lines lw 2 lc rgb "#08519c" title "running"
    }
    set logscale y
    do for [c=5*half:5*half+4] {
        set title sprintf("channel %d: variance (log scale)", c)
        if (c == 0) { set key } else { unset key }
        plot datadir."/bn_stats.dat" using 1:4*c+4 with points pt 7 ps 0.3 lc rgb "#fdae6b" title "batch", \
             "" using 1:4*c+5 with lines lw 2 lc rgb "#a63603" title "running"
    }
    unset logscale y
}
unset multiplot
set key

# ---- Figure 3: activations before and after each normalization, in training -----
# histograms.dat, per network in the order of nets: first batch before, first
# batch after, last batch before, last batch after (blocks 4k .. 4k+3).
set terminal pngcairo noenhanced size 1600,800 font "sans,11"
set output outdir."/training-histograms.png"
set multiplot layout 2,4 title "Activations of one training batch (32 images, every channel, training mode): the conv output before (grey) and after (blue) the normalization\nat the first batch (top) and the last batch of the epoch (bottom); values beyond ±3 are counted in the end bins" font "sans,13"
set xlabel "activation"
set ylabel "fraction of values (log scale)"
set xtics 1
set xrange [-3:3]
set logscale y
set yrange [1e-4:1]
set format y "%g"
set key top right
do for [t=0:1] {
    do for [k=0:3] {
        set title word(nets, k+1).(t == 0 ? ", batch 1 (initial weights)" : ", batch 1875 (end of epoch)")
        plot datadir."/histograms.dat" index 4*k+2*t using 1:2 with steps lw 2 lc rgb "#888888" title "before", \
             "" index 4*k+2*t+1 using 1:2 with steps lw 2 lc rgb "#08519c" title "after"
    }
}
unset multiplot
