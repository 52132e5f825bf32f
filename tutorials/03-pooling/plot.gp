# Figures of tutorial 03 (pooling). `make tutorials` runs:
#   gnuplot -e "datadir='<build>/tutorials-out/03-pooling'; outdir='<srcdir>/plots'" plot.gp
# datadir holds the files written by `tutorial_pooling --datadir DIR`:
# windows_*.dat and cells_*.dat (always), image.dat, maxpool.dat,
# avgpool.dat, global_{max,avg}.dat and image_label.txt (only when
# Fashion-MNIST is installed); both default to the current directory.

if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."

# ---- Figure 1: which cells each output reads, valid against same -------------
# Every cell of the 5x5 input (and the padding "same" adds) is a square;
# every output's 2x2 window is an outlined square with the output's name and
# the divisor D the average uses. The program found the cells each window
# reads by running nnr_avgpool_bwd with dy = 1 at that output alone.
set terminal pngcairo noenhanced size 1200,640 font "sans,12"
set output outdir."/pooling-windows.png"
unset key
set size ratio -1
set xrange [-0.8:5.8]
set yrange [5.8:-0.8]
set xtics 0,1,4 scale 0 font "sans,10"
set ytics 0,1,4 scale 0 font "sans,10"
set xlabel "column" font "sans,11"
set ylabel "row" font "sans,11"
set border 0
c_read = "#dbe8f7"
c_unread = "#b8b8b8"
c_pad = "#fff6d5"
set multiplot layout 1,2 title "2x2 max/average pooling with stride 2 on a 5x5 input: the cells each output's window reads" font "sans,14"
do for [mode in "valid same"] {
    if (mode eq "valid") {
        set title "padding='valid': 2x2 outputs; row 4 and column 4 (grey) are never read" font "sans,12"
    } else {
        set title "padding='same': 3x3 outputs; padding (yellow) added at the end only" font "sans,12"
    }
    cells = datadir."/cells_".mode.".dat"
    windows = datadir."/windows_".mode.".dat"
    # the window outlines take their colour from the line number ($0)
    if (mode eq "valid") {
        plot cells u ($3 == 0 ? $1 : 1/0):2:(0.47):(0.47) w boxxyerror fs solid 1.0 noborder lc rgb c_read, \
             cells u ($3 == 1 ? $1 : 1/0):2:(0.47):(0.47) w boxxyerror fs solid 1.0 noborder lc rgb c_unread, \
             windows u 1:2:3:4:(int($0) + 1) w boxxyerror lc variable lw 3 fs empty, \
             windows u 1:2:5 w labels font "sans,11" tc rgb "#111111"
    } else {
        plot cells u ($3 == 0 ? $1 : 1/0):2:(0.47):(0.47) w boxxyerror fs solid 1.0 noborder lc rgb c_read, \
             cells u ($3 == 2 ? $1 : 1/0):2:(0.47):(0.47) w boxxyerror fs solid 1.0 noborder lc rgb c_pad, \
             cells u ($3 == 2 ? $1 : 1/0):2:("pad") w labels font "sans,9" tc rgb "#8a6d00" offset 0,-1.3, \
             windows u 1:2:3:4:(int($0) + 1) w boxxyerror lc variable lw 3 fs empty, \
             windows u 1:2:5 w labels font "sans,11" tc rgb "#111111"
    }
}
unset multiplot

# ---- Figure 2: one Fashion-MNIST image pooled ---------------------------------
if (system("test -f '".datadir."/image.dat' && echo yes || echo no") eq "no") {
    print "plot.gp: ".datadir."/image.dat is absent (Fashion-MNIST not installed: apt-get install dataset-fashion-mnist); pooling-maps.png not redrawn"
    exit
}
reset
label = system("cat '".datadir."/image_label.txt'")
gmax = real(system("cat '".datadir."/global_max.dat'"))
gavg = real(system("cat '".datadir."/global_avg.dat'"))
set terminal pngcairo noenhanced size 1500,420 font "sans,12"
set output outdir."/pooling-maps.png"
unset key
set palette gray
set cbrange [0:1]
set size ratio -1
set border 0
unset xtics
unset ytics
set multiplot title "Fashion-MNIST test image 0 (".label."), channels_last (1, 28, 28, 1), pooled by nnref's kernels; one colour scale, 0 (black) to 1 (white)" font "sans,13"
# panels: three maps of width 0.235, two single cells of width 0.125, the colour box
set lmargin 1
set rmargin 1
set tmargin 3
set bmargin 2
unset colorbox
set size 0.235, 0.9
set origin 0.0, 0.0
set title "input: 28 x 28"
set xrange [-0.5:27.5]
set yrange [27.5:-0.5]
plot datadir."/image.dat" matrix w image
set origin 0.235, 0.0
set title "2x2 max pooling: 14 x 14"
set xrange [-0.5:13.5]
set yrange [13.5:-0.5]
plot datadir."/maxpool.dat" matrix w image
set origin 0.47, 0.0
set title "2x2 average pooling: 14 x 14"
plot datadir."/avgpool.dat" matrix w image
set size 0.125, 0.9
set origin 0.705, 0.0
set title sprintf("global max: 1 x 1\n= %.4f", gmax)
set xrange [-0.5:0.5]
set yrange [0.5:-0.5]
# a 1 x 1 matrix is too small for "with image": one filled square instead
plot datadir."/global_max.dat" matrix u 1:2:(0.5):(0.5):3 w boxxyerror fs solid 1.0 border lc rgb "#444444" lc palette
set origin 0.83, 0.0
set title sprintf("global average: 1 x 1\n= %.4f", gavg)
set colorbox vertical user origin 0.958, 0.15 size 0.01, 0.6
set cbtics 0, 0.25, 1 format "%.2f" font "sans,9"
plot datadir."/global_avg.dat" matrix u 1:2:(0.5):(0.5):3 w boxxyerror fs solid 1.0 border lc rgb "#444444" lc palette
unset multiplot
