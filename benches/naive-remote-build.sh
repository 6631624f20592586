#!/bin/sh -efu
# The naive peer for the farm benchmark: a remote build done the way
# gear-remote-hsh (gear's gear-command-remote-build, method "hsh") does it —
# a fresh SSH connection for each step, no multiplexing:
#   one ssh to prepare the remote dirs, rsync the tarball up, one ssh running
#   hsh with --repo-bin/--repo-src into an out/ dir, rsync out/ back down.
# Usage: naive-remote-build.sh SSH-COMMAND SERVER REMOTE-WORKDIR NUMBER OUTDIR
# Run inside the package's gear repository.
ssh_cmd=$1 server=$2 wd=$3 number=$4 outdir=$5
tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT
pkg=pkg.tar
srcdir="$wd/src#hsh"
gear --commit --no-compress "$tmp/$pkg"
$ssh_cmd "$server" "sh -efu" <<EOT
rm -rf -- '$wd/out'
mkdir -p -- '$wd/out/bin' '$wd/out/src' '$wd/build' '$srcdir'
EOT
rsync -rtlp -e "$ssh_cmd" "$tmp/$pkg" "$server:$srcdir/"
$ssh_cmd "$server" "sh -efu" <<EOT
cd '$srcdir'
hsh --number=$number --repo-bin='$wd/out/bin' --repo-src='$wd/out/src' -- '$wd/build' '$srcdir/$pkg'
EOT
mkdir -p -- "$outdir"
rsync -rtlp -e "$ssh_cmd" "$server:$wd/out/" "$outdir/"
