#!/usr/bin/env bash
# Makes a new ext4 file system for one timed restore and mounts it (root only): an image at <image>, sized for
# <bytes> in <files> files (a third more than the data, 8 KiB a file, 256 MiB for metadata), an inode per 4 KiB
# so that 200,000 small files fit, inode tables and journal written by mkfs (no lazy initialisation running
# during the restore), loop-mounted at <mnt> (an existing directory). Used by bench/restore-target.ts and
# bench/paired.sh; restore-target.ts says why restores need a new file system each.
#   bash bench/fresh-ext4.sh <image> <mnt> <bytes> <files>
set -euo pipefail
image=$1 mnt=$2 bytes=$3 files=$4
mib=1048576
truncate -s "$(( (bytes * 135 / 100 + files * 8192 + 256 * mib + mib - 1) / mib ))M" "$image"
mkfs.ext4 -q -F -m 0 -i 4096 -E lazy_itable_init=0,lazy_journal_init=0 "$image"
mount -o loop "$image" "$mnt"
