# shellcheck shell=bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
#
# Summary: the backup library's PostgreSQL part: connection options (the password comes from
# PGPASSFILE), the pre-flight that picks client tools of the server's major version, row counts,
# and the verified dump procedure of backup-database(-weekly) and the pre-restore dumps. Sourced
# by backup-lib.sh; uses lib/core.sh and lib/checksums.sh.

# pg_conn_args [DBNAME]: set the array PG_CONN to libpq options for the configured server (-w: never
# prompt; the password comes from PGPASSFILE). DBNAME defaults to DB_NAME.
pg_conn_args() {
  PG_CONN=(-h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d "${1:-$DB_NAME}" -w)
}

# _pg_major VERSION_TEXT: the major version from "pg_dump (PostgreSQL) 15.8 (Debian ...)" or "15.8".
_pg_major() {
  local t="${1#*) }"
  [[ "$t" =~ ^([0-9]+) ]] && printf '%s' "${BASH_REMATCH[1]}"
}

# _pg_bindirs: PostgreSQL bin directories under /usr/lib/postgresql, newest major first.
_pg_bindirs() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/pg_dump" ]] || continue
    printf '%s\n' "$d"
  done | sort -t/ -k5,5 -rn
}

# pg_preflight [DBNAME]: check connectivity (10 s timeout) and pick client tools whose major
# version is the server's (or newer): sets PSQL, PG_DUMP, PG_RESTORE, PG_DUMP_VERSION,
# SERVER_VERSION, SERVER_MAJOR. Dies with a clear message when the server is unreachable or only
# an older pg_dump is installed (pg_dump cannot dump a newer server).
pg_preflight() {
  local db="${1:-$DB_NAME}" psql_bin out err_file
  psql_bin="$(_pg_bindirs | head -n1)"
  if [[ -n "$psql_bin" ]]; then psql_bin="$psql_bin/psql"; else psql_bin="$(command -v psql || true)"; fi
  [[ -n "$psql_bin" ]] || die "psql not found: install postgresql-client"
  pg_conn_args "$db"
  err_file="$(mktemp)"
  on_exit_remove "$err_file"
  # shellcheck disable=SC2016 # $$...$$ is SQL dollar quoting, not a shell expansion
  if ! out="$(PGCONNECT_TIMEOUT=10 "$psql_bin" -X -A -t -q "${PG_CONN[@]}" -c 'SELECT current_setting($$server_version_num$$), current_setting($$server_version$$)' 2>"$err_file")"; then
    die "pre-flight: cannot connect to PostgreSQL at $DB_HOST:$DB_PORT as $DB_USER (database $db): $(head -c 300 "$err_file" | tr '\n' ' ')"
  fi
  local num="${out%%|*}"
  SERVER_VERSION="${out#*|}"
  SERVER_MAJOR=$((num / 10000))
  ((SERVER_MAJOR >= 10)) || SERVER_MAJOR="$((num / 10000)).$(((num / 100) % 100))"

  local d cand="" cand_major best_major=""
  # Prefer the exact major, else the newest newer one, else pg_dump from PATH.
  for d in $(_pg_bindirs); do
    cand_major="$(_pg_major "$("$d/pg_dump" --version)")"
    if [[ "$cand_major" == "$SERVER_MAJOR" ]]; then cand="$d"; best_major="$cand_major"; break; fi
    if [[ -z "$cand" && "$cand_major" =~ ^[0-9]+$ && "$SERVER_MAJOR" =~ ^[0-9]+$ ]] && ((cand_major > SERVER_MAJOR)); then
      cand="$d"; best_major="$cand_major"
    fi
  done
  # PSQL, PG_RESTORE are used by the scripts that source this library.
  # shellcheck disable=SC2034
  if [[ -n "$cand" ]]; then
    PG_DUMP="$cand/pg_dump"; PG_RESTORE="$cand/pg_restore"; PSQL="$cand/psql"
  else
    PG_DUMP="$(command -v pg_dump || true)"
    PG_RESTORE="$(command -v pg_restore || true)"
    PSQL="$psql_bin"
    [[ -n "$PG_DUMP" && -n "$PG_RESTORE" ]] || die "pg_dump/pg_restore not found: install postgresql-client-$SERVER_MAJOR"
    best_major="$(_pg_major "$("$PG_DUMP" --version)")"
    if [[ "$best_major" =~ ^[0-9]+$ && "$SERVER_MAJOR" =~ ^[0-9]+$ ]] && ((best_major < SERVER_MAJOR)); then
      die "pre-flight: pg_dump $best_major ($PG_DUMP) is older than the PostgreSQL $SERVER_MAJOR server and cannot dump it: install postgresql-client-$SERVER_MAJOR"
    fi
  fi
  PG_DUMP_VERSION="$("$PG_DUMP" --version)"
  PG_DUMP_VERSION="${PG_DUMP_VERSION#*) }"
  log INFO "pre-flight OK: server PostgreSQL $SERVER_VERSION at $DB_HOST:$DB_PORT, client tools $PG_DUMP_VERSION ($(dirname -- "$PG_DUMP"))"
}

# pg_table_counts_sql: SQL listing every table (plain and partitioned) of every non-system schema
# with its exact row count (count(*)), one "schema|table|rows" line each, in one statement.
pg_table_counts_sql() {
  cat <<'SQL'
SELECT n.nspname, c.relname,
       (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
 ORDER BY 1, 2;
SQL
}

# --- Database dump procedure (backup-database, backup-database-weekly, pre-restore dumps) ---

# db_snapshot_open: start a psql session (coprocess DB_SNAP) holding a REPEATABLE READ, READ ONLY
# transaction and export its snapshot to DB_SNAPSHOT_ID, so the manifest's row counts and pg_dump
# see exactly the same data. Needs pg_preflight first.
db_snapshot_open() {
  pg_conn_args
  coproc DB_SNAP { trap - ERR; PGCONNECT_TIMEOUT=10 "$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 "${PG_CONN[@]}" 2>&1; }
  db_snapshot_query "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT pg_export_snapshot();" ||
    die "could not open a snapshot: $DB_SNAP_OUT"
  DB_SNAPSHOT_ID="$DB_SNAP_OUT"
  [[ "$DB_SNAPSHOT_ID" =~ ^[0-9A-Fa-f-]+$ ]] || die "could not open a snapshot: $DB_SNAP_OUT"
}

# db_snapshot_query SQL: run SQL in the snapshot session; output (unaligned, tuples only) in
# DB_SNAP_OUT. Returns 1 when the session died (the error text is then in DB_SNAP_OUT).
db_snapshot_query() {
  local line out=() marker="__END_OF_RESULT_${RUN_ID}__"
  [[ -n "${DB_SNAP_PID:-}" ]] || { DB_SNAP_OUT="snapshot session is not running"; return 1; }
  printf '%s\n\\echo %s\n' "$1" "$marker" 1>&"${DB_SNAP[1]}"
  while IFS= read -r -t 7200 line <&"${DB_SNAP[0]}"; do
    if [[ "$line" == "$marker" ]]; then
      DB_SNAP_OUT="$(printf '%s\n' "${out[@]}")"
      return 0
    fi
    out+=("$line")
  done
  DB_SNAP_OUT="$(printf '%s ' "${out[@]}")"
  return 1
}

# db_snapshot_close: commit (read only) and end the snapshot session.
db_snapshot_close() {
  [[ -n "${DB_SNAP_PID:-}" ]] || return 0
  local pid="$DB_SNAP_PID"
  printf 'COMMIT;\n\\q\n' 1>&"${DB_SNAP[1]}" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# db_dump_verified DEST_DIR NAME KIND: the whole atomic database backup: pg_dump -Fc of DB_NAME
# (from one exported snapshot) to DEST_DIR/.NAME.partial; verify it with pg_restore -l; write
# NAME.sha256 and NAME.manifest.json (every table of every non-system schema with its exact row
# count, server and pg_dump versions, size, sha256, duration); then rename all into place, the dump
# last. Any failure leaves nothing behind. A NAME ending in .age is encrypted on the way
# (_db_dump_encrypted): the checksum and size are then the encrypted file's. Needs pg_preflight
# first. Sets DUMP_FILE, DUMP_SIZE, DUMP_TABLES, DUMP_ROWS, DUMP_MS.
db_dump_verified() {
  local dest="$1" name="$2" kind="$3"
  local final="$dest/$name" partial="$dest/.$name.partial"
  local sum_partial="$dest/.$name.sha256.partial" man_partial="$dest/.$name.manifest.json.partial"
  mkdir -p -- "$dest"
  [[ ! -e "$final" ]] || die "$final already exists; refusing to overwrite it"
  on_exit_remove "$partial" "$sum_partial" "$man_partial"
  local t0 started_at
  t0="$(date +%s%N)"
  started_at="$(now_iso)"

  db_snapshot_open
  db_snapshot_query "$(pg_table_counts_sql)" || die "counting rows failed: $DB_SNAP_OUT"
  local counts="$DB_SNAP_OUT"

  log INFO "dumping database $DB_NAME (snapshot $DB_SNAPSHOT_ID) to $(basename -- "$partial")"
  local err toc_entries
  err="$(mktemp)"
  on_exit_remove "$err"
  pg_conn_args
  if [[ "$name" == *.age ]]; then
    _db_dump_encrypted "$partial" "$err"
  else
    if ! "$PG_DUMP" -Fc --snapshot="$DB_SNAPSHOT_ID" "${PG_CONN[@]}" -f "$partial" 2>"$err"; then
      die "pg_dump failed: $(head -c 500 "$err" | tr '\n' ' ')"
    fi
    db_snapshot_close
    log INFO "verifying the dump with pg_restore -l"
    if ! toc_entries="$("$PG_RESTORE" -l "$partial" 2>"$err" | grep -c -v '^;')"; then
      die "pg_restore -l could not read the dump: $(head -c 500 "$err" | tr '\n' ' ')"
    fi
  fi
  ((toc_entries > 0)) || die "the dump's table of contents is empty"

  DUMP_SIZE="$(file_size "$partial")"
  DUMP_MS=$((($(date +%s%N) - t0) / 1000000))
  write_checksum "$partial" "$name" "$sum_partial"
  local sha
  read -r sha _ <"$sum_partial"

  # Manifest: tables with row counts.
  local tables_json="" schema table rows sep=""
  DUMP_TABLES=0
  DUMP_ROWS=0
  while IFS='|' read -r schema table rows; do
    [[ -n "$schema" ]] || continue
    tables_json+="$sep{\"schema\": $(json_str "$schema"), \"name\": $(json_str "$table"), \"rows\": $(json_num "$rows")}"
    sep=", "
    DUMP_TABLES=$((DUMP_TABLES + 1))
    DUMP_ROWS=$((DUMP_ROWS + rows))
  done <<<"$counts"
  {
    printf '{%s,\n' "$(manifest_header)"
    printf '  "kind": "database", "type": %s, "file": %s, "database": %s,\n' "$(json_str "$kind")" "$(json_str "$name")" "$(json_str "$DB_NAME")"
    printf '  "server_version": %s, "server_major": %s, "pg_dump_version": %s,\n' "$(json_str "$SERVER_VERSION")" "$(json_str "$SERVER_MAJOR")" "$(json_str "$PG_DUMP_VERSION")"
    printf '  "format_flag": "custom", "size_bytes": %s, "sha256": %s, "toc_entries": %s,\n' "$DUMP_SIZE" "$(json_str "$sha")" "$toc_entries"
    printf '  %s,\n' "$(crypt_manifest_fields database "$partial")"
    printf '  "started_at": %s, "finished_at": %s, "duration_ms": %s, "duration_seconds": %s,\n' \
      "$(json_str "$started_at")" "$(json_str "$(now_iso)")" "$DUMP_MS" "$(printf '%d.%03d' $((DUMP_MS / 1000)) $((DUMP_MS % 1000)))"
    printf '  "snapshot": %s, "table_count": %s, "total_rows": %s,\n' "$(json_str "$DB_SNAPSHOT_ID")" "$DUMP_TABLES" "$DUMP_ROWS"
    printf '  "tables": [%s]\n}\n' "$tables_json"
  } >"$man_partial"

  # Durable, then visible: sidecars first, the dump last (a visible dump always has both).
  sync -- "$partial" "$sum_partial" "$man_partial" 2>/dev/null || sync
  chmod 0600 -- "$partial" "$sum_partial" "$man_partial"
  mv -f -- "$sum_partial" "$final.sha256"
  mv -f -- "$man_partial" "$(manifest_path "$final")"
  on_exit_remove "$final.sha256" "$(manifest_path "$final")"
  mv -n -- "$partial" "$final"
  [[ -e "$partial" ]] && die "could not rename the dump into place"
  keep_path "$partial" "$sum_partial" "$man_partial" "$final.sha256" "$(manifest_path "$final")"
  sync -- "$dest" 2>/dev/null || true
  # shellcheck disable=SC2034 # read by the calling script
  DUMP_FILE="$final"
  log INFO "backup written: $name ($(human_size "$DUMP_SIZE"), $DUMP_TABLES tables, $DUMP_ROWS rows, ${DUMP_MS} ms)"
}

# _db_dump_encrypted PARTIAL ERRFILE: db_dump_verified's dump when it is encrypted: one pass from
# pg_dump to the encrypted partial, no plaintext copy on disk. pg_dump -Fc writes to the pipe;
# crypt_stream_to verifies the same bytes with pg_restore -l (the table of contents, as for a plain
# dump), takes their size and SHA-256 for the manifest, and writes them through age. A dump written
# to a pipe has no data offsets in its table of contents: pg_restore reads it in order, and its
# parallel restore (PostgreSQL 12+) still works. Sets toc_entries (db_dump_verified's local).
#
# Speed (phase 3): write_checksum then reads the encrypted partial once more; hashing age's output
# on its way to the disk (one more tee) would save that read.
_db_dump_encrypted() {
  local partial="$1" err="$2" rc
  require_cmd age mkfifo tee
  crypt_stream_begin
  log INFO "encrypting with age for ${#ENCRYPT_RECIPIENTS[@]} recipient(s) on the way; verifying the stream with pg_restore -l"
  if ! _db_pg_dump_stdout "$err" "$CRYPT_W/dump.rc" | crypt_stream_to database "$partial" "$PG_RESTORE" -l; then
    rc="$(cat -- "$CRYPT_W/dump.rc" 2>/dev/null || echo 1)"
    ((rc == 0)) || die "pg_dump failed: $(head -c 500 "$err" | tr '\n' ' ')"
    crypt_stream_result
    die "writing the encrypted dump failed: ${CRYPT_WRITE_ERR:-age failed}"
  fi
  db_snapshot_close
  crypt_stream_result
  ((CRYPT_VERIFY_RC == 0)) || die "pg_restore -l could not read the dump: $CRYPT_VERIFY_ERR"
  toc_entries="$(grep -c -v '^;' -- "$CRYPT_VERIFY_OUT" || true)"
  crypt_is_age "$partial" || die "the encrypted dump has no age header"
  log INFO "dump verified with pg_restore -l ($toc_entries entries) and encrypted: $(human_size "$CRYPT_PLAIN_SIZE") of plaintext"
}

# _db_pg_dump_stdout ERRFILE RCFILE: pg_dump -Fc of the exported snapshot to stdout (the first part
# of _db_dump_encrypted's pipeline); its exit status goes to RCFILE, its errors to ERRFILE.
_db_pg_dump_stdout() {
  local rc=0
  trap - ERR
  "$PG_DUMP" -Fc --snapshot="$DB_SNAPSHOT_ID" "${PG_CONN[@]}" 2>"$1" || rc=$?
  printf '%s\n' "$rc" >"$2"
  return "$rc"
}
