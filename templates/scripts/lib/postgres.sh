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

# pg_unreadable_tables_sql: SQL naming (one line, comma-separated) the tables of
# pg_table_counts_sql's set that the connected role may not SELECT from; empty when it may read all.
pg_unreadable_tables_sql() {
  cat <<'SQL'
SELECT string_agg(format('%I.%I', n.nspname, c.relname), ', ' ORDER BY n.nspname, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
   AND NOT has_table_privilege(c.oid, 'SELECT');
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
  db_snapshot_send "$1" || return 1
  db_snapshot_receive
}

# db_snapshot_send SQL: send SQL to the snapshot session without waiting for it (so it can run
# while pg_dump reads the same snapshot); db_snapshot_receive collects its output.
db_snapshot_send() {
  [[ -n "${DB_SNAP_PID:-}" ]] || { DB_SNAP_OUT="snapshot session is not running"; return 1; }
  printf '%s\n\\echo %s\n' "$1" "__END_OF_RESULT_${RUN_ID}__" 1>&"${DB_SNAP[1]}"
}

# db_snapshot_receive: the output of the statement db_snapshot_send sent, in DB_SNAP_OUT.
db_snapshot_receive() {
  local line out=() marker="__END_OF_RESULT_${RUN_ID}__"
  [[ -n "${DB_SNAP_PID:-}" ]] || { DB_SNAP_OUT="snapshot session is not running"; return 1; }
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
# (_db_dump_stream): the checksum and size are then the encrypted file's. Needs pg_preflight
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
  # A table the role may not read would abort the snapshot's transaction mid-count (and pg_dump would
  # then see only "invalid snapshot identifier"): name such tables first, while the reason is clear.
  db_snapshot_query "$(pg_unreadable_tables_sql)" || die "checking which tables $DB_USER may read failed: $DB_SNAP_OUT"
  [[ -z "$DB_SNAP_OUT" ]] ||
    die "the database user $DB_USER cannot read table(s) $DB_SNAP_OUT (permission denied): pg_dump cannot dump them; grant it SELECT on them (or make it their owner)"
  # The row counts run in the snapshot's session while pg_dump reads the same snapshot (one scan
  # each, at the same time, instead of one after the other).
  db_snapshot_send "$(pg_table_counts_sql)" || die "counting rows failed: $DB_SNAP_OUT"

  log INFO "dumping database $DB_NAME (snapshot $DB_SNAPSHOT_ID) to $(basename -- "$partial")"
  local err toc_entries
  err="$(mktemp)"
  on_exit_remove "$err"
  pg_conn_args
  local format=custom
  if ((DB_DUMP_JOBS > 1)) && ! crypt_for database; then
    format=directory-tar
    _db_dump_parallel "$partial" "$err"
  elif crypt_for database; then
    ((DB_DUMP_JOBS <= 1)) || log WARNING "database.dump_jobs $DB_DUMP_JOBS ignored: the database is encrypted (a parallel dump would write plaintext to disk); dumping with pg_dump -Fc"
    _db_dump_stream "$partial" "$err"
  else
    _db_dump_file "$partial" "$err"
  fi
  ((toc_entries > 0)) || die "the dump's table of contents is empty"
  db_snapshot_receive || die "counting rows failed: $DB_SNAP_OUT"
  local counts="$DB_SNAP_OUT"
  db_snapshot_close

  DUMP_SIZE="$(file_size "$partial")"
  DUMP_MS=$((($(date +%s%N) - t0) / 1000000))
  # Hashed by _db_dump_*: on the way to the disk, or once from the page cache.
  write_checksum_of "$CRYPT_OUT_SHA256" "$name" "$sum_partial" || die "could not checksum $partial"
  local sha="$CRYPT_OUT_SHA256"

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
    printf '  "format_flag": %s, "dump_jobs": %s, "size_bytes": %s, "sha256": %s, "toc_entries": %s,\n' "$(json_str "$format")" "$([[ "$format" == custom ]] && echo 1 || echo "$DB_DUMP_JOBS")" "$DUMP_SIZE" "$(json_str "$sha")" "$toc_entries"
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
  mark_verified "$final"
  keep_path "$partial" "$sum_partial" "$man_partial" "$final.sha256" "$(manifest_path "$final")"
  sync -- "$dest" 2>/dev/null || true
  # shellcheck disable=SC2034 # read by the calling script
  DUMP_FILE="$final"
  log INFO "backup written: $name ($(human_size "$DUMP_SIZE"), $DUMP_TABLES tables, $DUMP_ROWS rows, ${DUMP_MS} ms)"
}

# _db_dump_file PARTIAL ERRFILE: db_dump_verified's dump when the database is not encrypted:
# pg_dump -Fc -f PARTIAL, so that pg_dump goes back at the end and writes each table's data offset
# into the table of contents (a dump written to a pipe cannot: its pg_restore -j workers then scan
# the file block by block for their table, and schedule without knowing the tables' sizes). That
# final rewrite is why the file is hashed after pg_dump, not on the way: once, from the page cache
# (openssl), while pg_restore -l reads its table of contents. Sets toc_entries and CRYPT_OUT_SHA256
# (db_dump_verified's checksum).
_db_dump_file() {
  local partial="$1" err="$2" w
  w="$(mktemp -d)"
  on_exit_remove "$w"
  # The output first, so that a full or read-only disk is named as such.
  { : >"$partial"; } 2>"$w/write.err" || die "writing the dump failed: $(head -c 300 "$w/write.err" | tr '\n' ' ')"
  local rc=0
  "$PG_DUMP" -Fc --snapshot="$DB_SNAPSHOT_ID" "${PG_CONN[@]}" -f "$partial" 2>"$err" || rc=$?
  ((rc == 0)) || die "pg_dump failed (exit $rc): $(head -c 500 "$err" | tr '\n' ' ')"
  {
    trap - ERR
    sha256_stdin <"$partial" >"$w/sha256"
  } 2>"$w/sha256.err" &
  local hasher=$! vrc=0
  "$PG_RESTORE" -l -- "$partial" >"$w/toc" 2>"$w/toc.err" || vrc=$?
  wait "$hasher" || die "could not checksum $partial: $(head -c 300 "$w/sha256.err" | tr '\n' ' ')"
  ((vrc == 0)) || die "pg_restore -l could not read the dump: $(head -c 500 "$w/toc.err" | tr '\n' ' ')"
  toc_entries="$(grep -c -v '^;' -- "$w/toc" || true)"
  CRYPT_OUT_SHA256="$(cat -- "$w/sha256")"
  log INFO "dump verified with pg_restore -l ($toc_entries entries)"
}

# _db_dump_stream PARTIAL ERRFILE: db_dump_verified's dump of an encrypted database, in one pass
# from pg_dump through age to the partial (no plaintext copy on disk). pg_dump -Fc writes to a pipe;
# crypt_stream_to verifies the same bytes with pg_restore -l (the table of contents), and hashes
# what reaches the disk (openssl), so the dump is never read back. A dump written to a pipe has no
# data offsets in its table of contents (pg_dump cannot go back to write them): the restore's
# pg_restore -j workers scan the decrypted file block by block for their table's data, and
# schedule the tables without knowing their sizes; the price of never writing plaintext to disk.
# Sets toc_entries (db_dump_verified's local).
_db_dump_stream() {
  local partial="$1" err="$2" rc
  require_cmd mkfifo tee
  crypt_stream_begin
  if crypt_for database; then
    require_cmd age
    log INFO "encrypting with age for ${#ENCRYPT_RECIPIENTS[@]} recipient(s) on the way; verifying the stream with pg_restore -l"
  fi
  if ! _db_pg_dump_stdout "$err" "$CRYPT_W/dump.rc" | crypt_stream_to database "$partial" "$PG_RESTORE" -l; then
    rc="$(cat -- "$CRYPT_W/dump.rc" 2>/dev/null || echo 1)"
    crypt_stream_result
    # A write that failed (a full or read-only disk) stops pg_dump with SIGPIPE and an empty
    # stderr: the write's own error is the reason, so it comes first.
    [[ -z "$CRYPT_WRITE_ERR" ]] || die "writing the dump failed: $CRYPT_WRITE_ERR"
    ((rc == 0)) || die "pg_dump failed (exit $rc): $(head -c 500 "$err" | tr '\n' ' ')"
    die "writing the dump failed: age or tee failed"
  fi
  crypt_stream_result
  ((CRYPT_VERIFY_RC == 0)) || die "pg_restore -l could not read the dump: $CRYPT_VERIFY_ERR"
  toc_entries="$(grep -c -v '^;' -- "$CRYPT_VERIFY_OUT" || true)"
  if crypt_for database; then
    crypt_is_age "$partial" || die "the encrypted dump has no age header"
    log INFO "dump verified with pg_restore -l ($toc_entries entries) and encrypted: $(human_size "$CRYPT_PLAIN_SIZE") of plaintext"
  else
    log INFO "dump verified with pg_restore -l ($toc_entries entries)"
  fi
}

# _db_dump_parallel PARTIAL ERRFILE: db_dump_verified's dump with database.dump_jobs N >= 2:
# pg_dump -Fd -j N into a hidden partial directory beside the backup (N tables dumped and compressed
# at once; its files are not fsynced: the archive is), its table of contents verified with
# pg_restore -l, then archived into PARTIAL as one uncompressed tar (the data files are already
# compressed), toc.dat first, hashed and listed (tar -t) on the way, and the directory removed. The
# rest of the system treats the archive as one backup; db_dump_format tells it from a -Fc dump,
# restore-database.sh unpacks it and restores with pg_restore -j. Sets toc_entries.
_db_dump_parallel() {
  local partial="$1" err="$2" dir="${1%.partial}.dir.partial"
  require_cmd tar mkfifo tee
  rm -rf -- "$dir"
  on_exit_remove "$dir"
  log INFO "parallel dump: pg_dump -Fd -j $DB_DUMP_JOBS into $(basename -- "$dir")"
  if ! "$PG_DUMP" -Fd -j "$DB_DUMP_JOBS" --no-sync --snapshot="$DB_SNAPSHOT_ID" "${PG_CONN[@]}" -f "$dir" 2>"$err"; then
    die "pg_dump failed: $(head -c 500 "$err" | tr '\n' ' ')"
  fi
  if ! toc_entries="$("$PG_RESTORE" -l -Fd "$dir" 2>"$err" | grep -c -v '^;')"; then
    die "pg_restore -l could not read the dump: $(head -c 500 "$err" | tr '\n' ' ')"
  fi
  local -a members=()
  mapfile -t members < <(cd -- "$dir" && find . -mindepth 1 -maxdepth 1 -type f ! -name toc.dat -printf '%P\n' | LC_ALL=C sort)
  crypt_stream_begin
  if ! tar -cf - -C "$dir" -- toc.dat "${members[@]}" 2>"$err" | crypt_stream_to database "$partial" tar -tf -; then
    crypt_stream_result
    die "archiving the parallel dump failed: $(head -c 500 "$err" | tr '\n' ' ')${CRYPT_WRITE_ERR}"
  fi
  crypt_stream_result
  ((CRYPT_VERIFY_RC == 0)) || die "tar -t could not read the archived dump: $CRYPT_VERIFY_ERR"
  local listed
  listed="$(grep -c . -- "$CRYPT_VERIFY_OUT" || true)"
  ((listed == ${#members[@]} + 1)) || die "the archived dump lists $listed files, the dump directory has $((${#members[@]} + 1))"
  rm -rf -- "$dir"
  log INFO "dump verified with pg_restore -l ($toc_entries entries) and archived: $listed files"
}

# db_dump_format FILE: "custom" (pg_dump -Fc: PGDMP...), "directory-tar" (a parallel dump: a tar
# whose first member is toc.dat) or "encrypted" (.age: custom inside, as parallel dumps are never
# encrypted); anything else is "unknown".
db_dump_format() {
  local head
  if [[ "$1" == *.age ]]; then echo encrypted; return 0; fi
  head="$(head -c 8 -- "$1" 2>/dev/null | tr -d '\0')" || true
  case "$head" in
    PGDMP*) echo custom ;;
    toc.dat) echo directory-tar ;;
    *) echo unknown ;;
  esac
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
