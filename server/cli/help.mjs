// The CLI's usage text, in plain JavaScript and apart from the commands: `plexichat-backup --help` prints it
// without loading TypeScript, the engine, the catalog driver or any SDK (bin/plexichat-backup.mjs).
export const USER_HELP = `  user add --email E --password P --role admin|operator|viewer [--name N]
  user unlock --email E       lift the sign-in blocks on an account (from every client)
  user passwd --email E [--password P]   set a password (read from stdin when --password is absent,
                              which keeps it out of the process list); ends every session of the user
  user delete --email E --yes  delete an account and end its sessions (not the last enabled admin);
                              its audit entries stay`;

export const DRILL_HELP = `  drill run [--backup ID] [--sample-percent P] [--seed N]   restore a backup (default: the newest completed
                              backup of every source set) or P % of its files into a private scratch directory,
                              compare with the manifest, delete the copy, record the RTO (exit 3 when a drill fails)
  drill list [--backup ID] [--limit N]                       recorded drills, newest first`;

export const HELP = `Usage: plexichat-backup <command> [options] [--json]

Commands:
  backup <path>... [--type full|incremental|differential|snapshot] [--security-level basic|standard|high|maximum|government] [--tag T]... [--retention-days N] [--priority N]
                              full (the default) reads every file again; incremental reads only what changed since the
                              last backup of the same paths (unchanged files are referenced), differential since the last
                              full one; snapshot: a full one that reads a small file again if it changed while read
  watch <path>... [--delay SECONDS] [--tag T]...   continuous backups (default delay 60 s)
  list [--status S] [--type T] [--tag T]... [--limit N] [--offset N] [--all]  the newest 50 (--limit N: N; --all: every backup, every continuous one too)
  show <backup_id>            progress <backup_id>
  ls <backup_id> [--filter TEXT] [--limit N] [--offset N]   the files inside a backup
  verify <backup_id> [--read-data]
  repair <backup_id>
  restore <backup_id> --target DIR [--include GLOB]... [--from DATE] [--to DATE] [--overwrite] [--preserve-special-bits]
      [--allow-partial [--min-shard-threshold 0.8] [--skip-shard-repair]]   restore every readable file, report the lost ones (exit 3)
  delete <backup_id> [--force]
  acknowledge <backup_id>     acknowledge a suspicious backup (its change looked like mass encryption): resolves its
                              alert; retention stops keeping the last good backup before it
  prune [--keep-last N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--dry-run]
  cleanup [--dry-run]         remove backups past their retention
  stats                       storage usage|health|optimize [--dry-run]
  storage gc [--dry-run] [--grace-hours H]   delete objects the catalog does not know, and shards no backup
                              references: a run marks them, a run at least H hours later (default 24) deletes them
                              (objects under a store lock are kept until it ends; --append-only-delete: an admin's run
                              also deletes what append-only local locations hold for deletion)
${USER_HELP}
  recover-catalog [--read-data] [--skip-catalog-snapshot]   rebuild a lost catalog from the storage locations: the
                              newest catalog snapshot (users, schedules, settings, locations, audit), then the backups
                              (--read-data: check every shard's content; --skip-catalog-snapshot: ignore the snapshots)
  schedule add --name N --cron "EXPR" --path P [--type T] [--delay S] [--retention-days D] [--priority 1-10] [--tag T]... [--timezone Z]
                              (--type continuous: a worker watches P and backs up S seconds after changes)
  schedule edit N [--cron "EXPR"] [--path P]... [--type T] [--delay S] [--priority 1-10] [--rename NEW] …   only what is given changes
  schedule list | pause N | resume N | remove N | run N
  worker [--once] [--no-monitor]   run schedules, continuous watchers, the health monitor and the daily
                              maintenance (cleanup, storage gc) until stopped
${DRILL_HELP}
  health-check                one health-monitor cycle now
  alerts list [--state S] [--severity S] | ack <alert_id> | test
  report [--days 7]           the weekly health report
  keys status                 the master key, its age against key_rotation_days, data keys per master key
  keys rotate                 re-wrap every key under a new master key (a generated key file gets a new key;
                              with PLEXICHAT_ENCRYPTION_KEY, set the new key there and the old one in
                              PLEXICHAT_PREVIOUS_ENCRYPTION_KEYS first)
  keys escrow export --public-key PEM [--out FILE]   the master keys sealed to an escrow holder's RSA key
  keys escrow open --in FILE --private-key PEM        recover them (prints the keys)
  keys quorum init --threshold K --holders N [--out-dir DIR]   the MAXIMUM key-holder quorum: prints (or writes) the
                              N shares, the only copies of its private key; keys quorum status
  keys upgrade                re-wrap HIGH/MAXIMUM keys of the old wrapping (v1) with the second factor (v2)

Security levels HIGH and MAXIMUM need a second factor: PLEXICHAT_HIGH_PASSPHRASE, or high_key_file
(PLEXICHAT_HIGH_KEY_FILE). Reading MAXIMUM data (restore, ls, verify --read-data, drill, recover-catalog) also needs
K quorum shares for that run: --share LINE (repeat it) or --shares-file FILE. See docs/security-levels.md.

Environment: PLEXICHAT_CONFIG (JSON config file), DATABASE_URL, PLEXICHAT_DATA_DIR, PLEXICHAT_ENCRYPTION_KEY, …
(see README.md for the configuration reference).`;
