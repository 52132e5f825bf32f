#!/bin/sh
# The nnref command, end to end: exit statuses, the lines other tools parse
# (impl:, the gradcheck summary, the bench CSV), and usage errors that name
# the offending word. Prints TAP for the automake tap-driver. No timing is
# asserted: speed depends on the machine, the format does not.

NNREF=${NNREF_CLI:-${NNREF_BUILDDIR:-.}/src/cli/nnref}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nnref-cli.XXXXXX") || exit 99
trap 'rm -rf "$TMP"' EXIT

echo "1..29"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; shift; for line in "$@"; do echo "# $line"; done; }
# check DESCRIPTION CONDITION...: ok if the shell condition holds.
check() {
    desc=$1; shift
    if "$@"; then ok "$desc"; else not_ok "$desc" "failed: $(printf '%s ' "$@" | tr '\n' ' ')"; fi
}
# run NAME ARGS...: runs nnref, keeps stdout, stderr and the exit status.
run() {
    name=$1; shift
    "$NNREF" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    echo $? >"$TMP/$name.rc"
}
rc() { cat "$TMP/$1.rc"; }
show() { sed 's/^/# /' "$TMP/$1.out" "$TMP/$1.err"; }

# ---- info ------------------------------------------------------------------
NNREF_IMPL=naive run info_naive info
check "info exits 0" test "$(rc info_naive)" = 0
check "info with NNREF_IMPL=naive prints exactly one line 'impl: naive'" \
    test "$(grep -c '^impl: ' "$TMP/info_naive.out")" = 1 -a "$(grep '^impl: ' "$TMP/info_naive.out")" = "impl: naive"

# Without a forced choice the dispatcher must pick AVX2 exactly when it is usable.
(unset NNREF_IMPL; run info_auto info)
usable=$(sed -n 's/^avx2 kernels usable: *//p' "$TMP/info_auto.out")
impl=$(sed -n 's/^impl: //p' "$TMP/info_auto.out")
if { [ "$usable" = yes ] && [ "$impl" = avx2 ]; } || { [ "$usable" = no ] && [ "$impl" = naive ]; }; then
    ok "default impl ($impl) agrees with 'avx2 kernels usable: $usable'"
else
    not_ok "default impl agrees with AVX2 usability" "usable='$usable' impl='$impl'"; show info_auto
fi

NNREF_IMPL=avx3 run info_typo info
typo_impl=$(sed -n 's/^impl: //p' "$TMP/info_typo.out")
check "info with NNREF_IMPL=avx3 exits 0, names the value on stderr and keeps the default impl ($impl)" \
    test "$(rc info_typo)" = 0 -a -n "$(grep "'avx3'" "$TMP/info_typo.err")" -a "$typo_impl" = "$impl"

run info_extra info extra
check "info with an argument exits 2 naming it" \
    test "$(rc info_extra)" = 2 -a -n "$(grep "'extra'" "$TMP/info_extra.err")"

run nocmd nosuchcommand
check "an unknown command exits 2 naming it" \
    test "$(rc nocmd)" = 2 -a -n "$(grep "'nosuchcommand'" "$TMP/nocmd.err")"

# ---- gradcheck -------------------------------------------------------------
run gc gradcheck batchnorm
if [ "$(rc gc)" = 0 ]; then ok "gradcheck batchnorm exits 0"; else not_ok "gradcheck batchnorm exits 0"; show gc; fi
last=$(tail -n 1 "$TMP/gc.out")
check "gradcheck's last line is 'gradcheck: N passed, 0 failed'" \
    sh -c 'printf "%s\n" "$1" | grep -Eq "^gradcheck: [0-9]+ passed, 0 failed$"' sh "$last"
# The summary counts table rows: one per checked tensor, first column the layer.
rows=$(grep -c '^batchnorm ' "$TMP/gc.out")
passed=$(printf '%s\n' "$last" | sed -n 's/^gradcheck: \([0-9]*\) passed.*/\1/p')
check "gradcheck's N ($passed) equals its table rows ($rows), and N >= 20" \
    test "$rows" = "$passed" -a "${passed:-0}" -ge 20
check "every gradcheck row says PASS" test "$(grep '^batchnorm ' "$TMP/gc.out" | grep -vc ' PASS')" = 0

run gc_ln gradcheck layernorm rmsnorm
ln_rows=$(grep -Ec '^(layernorm|rmsnorm) ' "$TMP/gc_ln.out")
ln_passed=$(tail -n 1 "$TMP/gc_ln.out" | sed -n 's/^gradcheck: \([0-9]*\) passed, 0 failed$/\1/p')
if [ "$(rc gc_ln)" = 0 ] && [ "$ln_rows" = "$ln_passed" ] && [ "${ln_rows:-0}" -ge 20 ] \
   && [ "$(grep -E '^(layernorm|rmsnorm) ' "$TMP/gc_ln.out" | grep -vc ' PASS')" = 0 ]; then
    ok "gradcheck layernorm rmsnorm exits 0 with $ln_rows rows, all PASS"
else
    not_ok "gradcheck layernorm rmsnorm exits 0, N = rows >= 20, all PASS" "rows=$ln_rows passed=$ln_passed"; show gc_ln
fi

run gc_gn gradcheck groupnorm instancenorm
gn_rows=$(grep -Ec '^(groupnorm|instnorm) ' "$TMP/gc_gn.out")
gn_passed=$(tail -n 1 "$TMP/gc_gn.out" | sed -n 's/^gradcheck: \([0-9]*\) passed, 0 failed$/\1/p')
# 9 GroupNorm configurations (8 with x, gamma, beta; 1 with x only) + 2 InstanceNorm (x, gamma, beta)
if [ "$(rc gc_gn)" = 0 ] && [ "$gn_rows" = "$gn_passed" ] && [ "${gn_rows:-0}" = 31 ] \
   && [ "$(grep -E '^(groupnorm|instnorm) ' "$TMP/gc_gn.out" | grep -vc ' PASS')" = 0 ]; then
    ok "gradcheck groupnorm instancenorm exits 0 with 31 rows, all PASS"
else
    not_ok "gradcheck groupnorm instancenorm exits 0, N = rows = 31, all PASS" "rows=$gn_rows passed=$gn_passed"; show gc_gn
fi

run gc_pool gradcheck maxpool avgpool globalpool
pool_rows=$(grep -Ec '^(maxpool|avgpool|globalmax|globalavg) ' "$TMP/gc_pool.out")
pool_passed=$(tail -n 1 "$TMP/gc_pool.out" | sed -n 's/^gradcheck: \([0-9]*\) passed, 0 failed$/\1/p')
# 9 max configurations + 8 average (dilation is max only) + 3 ranks x 2 presets x (2 tie rules + average)
if [ "$(rc gc_pool)" = 0 ] && [ "$pool_rows" = "$pool_passed" ] && [ "${pool_rows:-0}" = 35 ] \
   && [ "$(grep -Ec '^(maxpool|avgpool|globalmax|globalavg) .* PASS' "$TMP/gc_pool.out")" = 35 ]; then
    ok "gradcheck maxpool avgpool globalpool exits 0 with 35 rows, all PASS"
else
    not_ok "gradcheck maxpool avgpool globalpool exits 0, N = rows = 35, all PASS" "rows=$pool_rows passed=$pool_passed"; show gc_pool
fi

run gc_conv gradcheck conv1d conv2d
conv_rows=$(grep -Ec '^(conv1d|conv2d) ' "$TMP/gc_conv.out")
conv_passed=$(tail -n 1 "$TMP/gc_conv.out" | sed -n 's/^gradcheck: \([0-9]*\) passed, 0 failed$/\1/p')
# 4 Conv1D + 5 Conv2D configurations, rows x, w and b (2 without bias: causal and 1x1): 9*3 - 2
if [ "$(rc gc_conv)" = 0 ] && [ "$conv_rows" = "$conv_passed" ] && [ "${conv_rows:-0}" = 25 ] \
   && [ "$(grep -Ec '^(conv1d|conv2d) .* PASS' "$TMP/gc_conv.out")" = 25 ]; then
    ok "gradcheck conv1d conv2d exits 0 with 25 rows, all PASS"
else
    not_ok "gradcheck conv1d conv2d exits 0, N = rows = 25, all PASS" "rows=$conv_rows passed=$conv_passed"; show gc_conv
fi

run gc_dense gradcheck dense
dense_rows=$(grep -Ec '^dense ' "$TMP/gc_dense.out")
dense_passed=$(tail -n 1 "$TMP/gc_dense.out" | sed -n 's/^gradcheck: \([0-9]*\) passed, 0 failed$/\1/p')
# 5 configurations, rows x, w and b (keras-nobias without b): 5*3 - 1
if [ "$(rc gc_dense)" = 0 ] && [ "$dense_rows" = "$dense_passed" ] && [ "${dense_rows:-0}" = 14 ] \
   && [ "$(grep -Ec '^dense .* PASS' "$TMP/gc_dense.out")" = 14 ]; then
    ok "gradcheck dense exits 0 with 14 rows, all PASS"
else
    not_ok "gradcheck dense exits 0, N = rows = 14, all PASS" "rows=$dense_rows passed=$dense_passed"; show gc_dense
fi

run gc_act gradcheck dropout relu softmax_xent
act_rows=$(grep -Ec '^(dropout|relu|xent) ' "$TMP/gc_act.out")
act_passed=$(tail -n 1 "$TMP/gc_act.out" | sed -n 's/^gradcheck: \([0-9]*\) passed, 0 failed$/\1/p')
# 5 dropout configurations (fixed masks), 1 ReLU, 3 softmax cross-entropy shapes, one row (x or logits) each
if [ "$(rc gc_act)" = 0 ] && [ "$act_rows" = "$act_passed" ] && [ "${act_rows:-0}" = 9 ] \
   && [ "$(grep -Ec '^(dropout|relu|xent) .* PASS' "$TMP/gc_act.out")" = 9 ]; then
    ok "gradcheck dropout relu softmax_xent exits 0 with 9 rows, all PASS"
else
    not_ok "gradcheck dropout relu softmax_xent exits 0, N = rows = 9, all PASS" "rows=$act_rows passed=$act_passed"; show gc_act
fi

run gc_model gradcheck model
model_rows=$(grep -Ec '^model ' "$TMP/gc_model.out")
model_passed=$(tail -n 1 "$TMP/gc_model.out" | sed -n 's/^gradcheck: \([0-9]*\) passed, 0 failed$/\1/p')
# the issue's Conv2D -> GroupNorm -> ReLU -> Dense -> softmax cross-entropy end to end:
# x and the six parameter tensors (conv kernel and bias, GroupNorm gamma and beta, dense kernel and bias)
if [ "$(rc gc_model)" = 0 ] && [ "$model_rows" = "$model_passed" ] && [ "${model_rows:-0}" = 7 ] \
   && [ "$(grep -Ec '^model .* PASS' "$TMP/gc_model.out")" = 7 ]; then
    ok "gradcheck model exits 0 with 7 rows (x and six parameter tensors), all PASS"
else
    not_ok "gradcheck model exits 0, N = rows = 7, all PASS" "rows=$model_rows passed=$model_passed"; show gc_model
fi

run gc_bad gradcheck nosuchlayer
check "gradcheck nosuchlayer exits 2 with a sentence naming it" \
    test "$(rc gc_bad)" = 2 -a -n "$(grep "nosuchlayer" "$TMP/gc_bad.err")" -a ! -s "$TMP/gc_bad.out"

# ---- bench -----------------------------------------------------------------
run bench_layout bench --layout bogus
check "bench --layout bogus exits 2 naming 'bogus'" \
    test "$(rc bench_layout)" = 2 -a -n "$(grep "'bogus'" "$TMP/bench_layout.err")"

run bench_threads bench --threads 0
check "bench --threads 0 exits 2 naming --threads" \
    test "$(rc bench_threads)" = 2 -a -n "$(grep -- "--threads" "$TMP/bench_threads.err")"

run bench_reps bench --reps x1
check "bench --reps x1 exits 2 naming 'x1'" \
    test "$(rc bench_reps)" = 2 -a -n "$(grep "'x1'" "$TMP/bench_reps.err")"

run csv bench --csv --reps 1 --small-only batchnorm
if [ "$(rc csv)" = 0 ]; then ok "bench --csv --reps 1 --small-only batchnorm exits 0"; else
    not_ok "bench --csv --reps 1 --small-only batchnorm exits 0"; show csv; fi
# Rows: triad, the FMA peak when AVX2 is usable, then naive (and avx2) x 3 passes x 2 layouts.
impls=1; peak=0; [ "$usable" = yes ] && impls=2 && peak=1
want_rows=$((1 + peak + 6 * impls))
header=$(head -n 1 "$TMP/csv.out")
# Memory-bound rows (all but fma_peak): numeric ms, gbps, pct_triad; gflops and pct_peak empty.
bad_rows=$(tail -n +2 "$TMP/csv.out" | awk -F, '$1 != "fma_peak" && (NF != 10 || $6 !~ /^[0-9.]+$/ \
    || $7 !~ /^[0-9.]+$/ || $8 !~ /^[0-9.]+$/ || $9 != "" || $10 != "")' | wc -l)
got_rows=$(tail -n +2 "$TMP/csv.out" | wc -l)
if [ "$header" = "kernel,impl,shape,layout,threads,ms,gbps,pct_triad,gflops,pct_peak" ] && [ "$bad_rows" = 0 ] \
   && [ "$got_rows" = "$want_rows" ]; then
    ok "bench CSV: exact header and $want_rows rows of 10 fields, numeric ms and gbps, empty gflops"
else
    not_ok "bench CSV: exact header and $want_rows rows of 10 fields" \
        "header='$header' rows=$got_rows malformed=$bad_rows"; show csv
fi
# The compute-bound yardstick: one fma_peak row (gbps empty, GFLOP/s numeric, 100 %) exactly when AVX2 is usable.
got_peak=$(awk -F, '$1 == "fma_peak" && NF == 10 && $7 == "" && $8 == "" && $9 ~ /^[0-9.]+$/ && $9 > 0 \
    && $10 == "100.0"' "$TMP/csv.out" | wc -l)
check "bench CSV: $peak well-formed fma_peak row(s) (AVX2 usable: $usable)" \
    test "$got_peak" = "$peak" -a "$(grep -c '^fma_peak,' "$TMP/csv.out")" = "$peak"

run csv_ln bench --csv --reps 1 --small-only layernorm rmsnorm
# Rows: triad (and fma_peak), then naive (and avx2) x (layernorm, rmsnorm) x (fwd, fwd+bwd) on 64x768.
want_ln=$((1 + 4 * impls))
got_ln=$(tail -n +2 "$TMP/csv_ln.out" | awk -F, 'NF == 10 && $3 == "64x768" && $6 ~ /^[0-9.]+$/' | wc -l)
if [ "$(rc csv_ln)" = 0 ] && [ "$((got_ln + 1))" = "$want_ln" ] \
   && [ "$(wc -l <"$TMP/csv_ln.out")" = "$((want_ln + 1 + peak))" ]; then
    ok "bench --csv layernorm rmsnorm: $want_ln rows"
else
    not_ok "bench --csv layernorm rmsnorm exits 0 with $want_ln rows" "rows on 64x768: $got_ln"; show csv_ln
fi

run csv_gn bench --csv --reps 1 --small-only groupnorm
# Rows: triad (and fma_peak), then 2 layouts x naive (and avx2) x (fwd, fwd+bwd) on 8x64x14x14.
want_gn=$((1 + 4 * impls))
got_gn=$(tail -n +2 "$TMP/csv_gn.out" | awk -F, 'NF == 10 && $1 ~ /^groupnorm_/ && $6 ~ /^[0-9.]+$/' | wc -l)
if [ "$(rc csv_gn)" = 0 ] && [ "$((got_gn + 1))" = "$want_gn" ] \
   && [ "$(wc -l <"$TMP/csv_gn.out")" = "$((want_gn + 1 + peak))" ]; then
    ok "bench --csv groupnorm: $want_gn rows"
else
    not_ok "bench --csv groupnorm exits 0 with $want_gn rows" "groupnorm rows: $got_gn"; show csv_gn
fi

run csv_cd bench --csv --reps 1 --small-only conv2d dense
if [ "$(rc csv_cd)" = 0 ]; then ok "bench --csv --reps 1 --small-only conv2d dense exits 0"; else
    not_ok "bench --csv --reps 1 --small-only conv2d dense exits 0"; show csv_cd; fi
# Compute-bound rows, one per kernel, impl and layout: Conv2D's 4 passes on 1x64x28x28 and Dense's 3 on
# 64x768, naive (and avx2) x nchw, nhwc; with AVX2 usable also the 2 sgemm rows (layout '-').
impl_list=naive; [ "$usable" = yes ] && impl_list="naive avx2"
want_cd=$( { for k in conv2d_fwd conv2d_bwd_data conv2d_bwd_weights conv2d_fwd_bwd dense_fwd dense_bwd dense_fwd_bwd; do
    for i in $impl_list; do for l in nchw nhwc; do echo "$k,$i,$l"; done; done; done
    [ "$usable" = yes ] && printf 'sgemm,avx2,-\nsgemm,avx2,-\n'; } | sort)
# Well formed: 10 fields, numeric ms and gflops, empty gbps and pct_triad; pct_peak numeric when the
# FMA peak was measured (AVX2 usable), empty otherwise.
got_cd=$(tail -n +2 "$TMP/csv_cd.out" | awk -F, -v peak="$peak" '$1 ~ /^(conv2d_|dense_|sgemm$)/ && NF == 10 \
    && $6 ~ /^[0-9.]+$/ && $7 == "" && $8 == "" && $9 ~ /^[0-9.]+$/ && $9 > 0 \
    && ((peak == 1 && $10 ~ /^[0-9.]+$/ && $10 > 0) || (peak == 0 && $10 == ""))' | cut -d, -f1,2,4 | sort)
n_cd=$(printf '%s\n' "$want_cd" | wc -l)
# Whole output: header, triad, the startup fma_peak and one before each of the 2 families (AVX2 usable), the rows.
if [ "$got_cd" = "$want_cd" ] && [ "$(wc -l <"$TMP/csv_cd.out")" = "$((2 + 3 * peak + n_cd))" ]; then
    ok "bench CSV conv2d dense: $n_cd well-formed rows, numeric gflops (and pct_peak when AVX2 is usable), empty gbps and pct_triad"
else
    not_ok "bench CSV conv2d dense: $n_cd well-formed rows" "want: $(echo $want_cd)" "got: $(echo $got_cd)"; show csv_cd
fi
# The FMA peak again before each compute-bound family: 3 fma_peak rows in all when AVX2 is usable, else none.
got_cd_peak=$(awk -F, '$1 == "fma_peak" && NF == 10 && $7 == "" && $8 == "" && $9 ~ /^[0-9.]+$/ && $9 > 0 \
    && $10 == "100.0"' "$TMP/csv_cd.out" | wc -l)
check "bench CSV conv2d dense: $((3 * peak)) well-formed fma_peak row(s) (AVX2 usable: $usable)" \
    test "$got_cd_peak" = "$((3 * peak))" -a "$(grep -c '^fma_peak,' "$TMP/csv_cd.out")" = "$((3 * peak))"
