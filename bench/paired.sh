#!/usr/bin/env bash
# Paired measurement of one operation, an older commit against the working tree, taking turns: the way to tell a
# change from run-to-run spread on a shared 2-core machine (the bench compares tools, this compares commits).
#
#   bench/paired.sh <old-rev> backup|unchanged|restore <dir> [rounds=3]
#
# backup:    a full backup of <dir> into a fresh installation each time, page cache warm.
# unchanged: an incremental of unchanged <dir> on one installation, page cache dropped before each.
# restore:   a restore of one backup of <dir>, page cache dropped before each, into a new ext4 file system
#            each time where root and mkfs.ext4 allow (bench/restore-target.ts says why; BENCH_FRESH_FS=0:
#            into a removed target); the result is compared with <dir> (diff -rq --no-dereference) and must
#            be identical.
# Each run prints: round, which, wall s, user s, sys s, peak RSS KiB. Both run as the installed command does
# (through that commit's shebang). Dropping the page cache needs root; without it the runs are warm.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '4,12p' "$0"; exit 2; }
OLD_REV=$1 OP=$2 TREE=$(realpath "$3") ROUNDS=${4:-3}
NEW=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/plexichat-paired.XXXXXX)
OLD=$WORK/old
trap 'pkill -f "catalog-daemon.mjs $WORK" || true; mountpoint -q "$WORK/mnt" 2>/dev/null && umount "$WORK/mnt"; git -C "$NEW" worktree remove --force "$OLD" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

git -C "$NEW" worktree add -q --detach "$OLD" "$OLD_REV"
cp -al "$NEW/node_modules" "$OLD/node_modules"
(cd "$OLD" && npm run -s build:dist >/dev/null && cd "$NEW" && npm run -s build:dist >/dev/null)

export PLEXICHAT_CONFIG=$WORK/config.json PLEXICHAT_ENCRYPTION_KEY=0000000000000000000000000000000000000000000000000000000000000001 PLEXICHAT_CATALOG_IDLE_MS=3600000
echo '{"replication_factor":1}' > "$PLEXICHAT_CONFIG"

drop() { sync; [ -w /proc/sys/vm/drop_caches ] && echo 3 > /proc/sys/vm/drop_caches || true; }
# Each build runs through its own command's shebang (its node flags and environment), as installed.
cli() { local root=$1; shift; (cd "$root" && /usr/bin/time -f "%e %U %S %M" -o "$WORK/t" ./bin/plexichat-backup.mjs "$@" > "$WORK/out" 2> "$WORK/err") || { cat "$WORK/err" >&2; exit 1; }; }
# Where the next restore writes: a new ext4 file system (as the bench does), else a removed directory.
target() {
  if mountpoint -q "$WORK/mnt" 2>/dev/null; then umount "$WORK/mnt"; fi
  rm -rf "$WORK/target" "$WORK/fs.img"
  TARGET=$WORK/target
  [ "$(id -u)" = 0 ] && [ "${BENCH_FRESH_FS:-1}" != 0 ] && command -v mkfs.ext4 > /dev/null || return 0
  local bytes files
  bytes=$(du -sb "$TREE" | cut -f1); files=$(find "$TREE" | wc -l)
  mkdir -p "$WORK/mnt"
  bash "$NEW/bench/fresh-ext4.sh" "$WORK/fs.img" "$WORK/mnt" "$bytes" "$files"
  TARGET=$WORK/mnt/target
}
fresh() { pkill -f "catalog-daemon.mjs $WORK/data" || true; sleep 0.3; rm -rf "$WORK/data"; export PLEXICHAT_DATA_DIR=$WORK/data; mkdir -p "$WORK/empty"; cli "$NEW" backup "$WORK/empty" --json; }

case $OP in
  unchanged|restore)
    fresh; cli "$NEW" backup "$TREE" --json
    ID=$(grep -o '"backup_id": "[^"]*"' "$WORK/out" | cut -d'"' -f4) ;;
  backup) ;;
  *) echo "unknown operation $OP (backup, unchanged or restore)" >&2; exit 2 ;;
esac

for round in $(seq "$ROUNDS"); do
  for which in old new; do
    root=$NEW; [ $which = old ] && root=$OLD
    case $OP in
      backup) fresh; cli "$root" backup "$TREE" --json ;;
      unchanged) drop; cli "$root" backup "$TREE" --type incremental --json ;;
      restore)
        target; drop; cli "$root" restore "$ID" --target "$TARGET"
        diff -rq --no-dereference "$TREE" "$TARGET" > /dev/null || { echo "restore by $which differs from $TREE" >&2; exit 1; } ;;
    esac
    echo "$round $which $(cat "$WORK/t")"
  done
done
