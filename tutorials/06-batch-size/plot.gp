# Figure of tutorial 06 (batch size). `make tutorials` runs:
#   gnuplot -e "datadir='<build>/tutorials-out/06-batch-size'; outdir='<srcdir>/plots'" plot.gp
# datadir holds error.dat, written by `tutorial_batch_size --datadir DIR`
# when Fashion-MNIST is installed: batch size, BatchNorm test error %,
# GroupNorm test error %.

if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."

set terminal pngcairo noenhanced size 800,520 font "sans,12"
set output outdir."/batch-size-error.png"
set title "Fashion-MNIST test error against batch size (the Group Normalization paper's Figure 1)\nsame images and epochs at every batch size, Adam" font "sans,12"
set xlabel "batch size (images per worker)"
set ylabel "test error (%)"
set logscale x 2
set xrange [40:1.6] 
set xtics ("32" 32, "16" 16, "8" 8, "4" 4, "2" 2)
set grid
set key top left
plot datadir."/error.dat" using 1:2 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "BatchNorm", \
     "" using 1:3 with linespoints lw 2 pt 5 lc rgb "#d62728" title "GroupNorm"
