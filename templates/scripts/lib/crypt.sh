# shellcheck shell=bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
#
# Summary: the backup library's encryption at rest with age (Debian's age): which kinds are
# encrypted (config whenever ENCRYPT_RECIPIENTS is set, database and media when in ENCRYPT_SCOPE),
# writing a backup as it is produced through its verifier into an encrypted partial (no plaintext
# copy on disk), the identity a restore needs (read once into memory, never written anywhere, never
# on a command line), and reading an encrypted backup through an unlinked temporary file (it has no
# name: nothing of it survives the run, not even a SIGKILL). Sourced by backup-lib.sh; uses
# lib/core.sh.
#
# The identity: restores, fetch-offsite.sh and verify-backup-integrity.sh take --identity FILE,
# where FILE is a file the caller can read, "-" (stdin) or /dev/fd/N (an inherited descriptor,
# read directly: the provisioner's smoke test and drill hand it down as `--identity /dev/fd/3
# 3< <(printf ...)`, so it travels from the SSH channel's stdin through pipes only). age reads it
# from a pipe too (`age -i <(printf ...)`: printf is a builtin, so it is in no process's argv).

AGE_MAGIC="age-encryption.org/v1"
CRYPT_IDENTITY=""
CRYPT_PLAIN=""
CRYPT_W=""

# crypt_for KIND: 0 when new backups of KIND (config, database, media) are encrypted on this host.
crypt_for() {
  ((${#ENCRYPT_RECIPIENTS[@]})) || return 1
  [[ "$1" == config ]] && return 0
  local k
  for k in "${ENCRYPT_SCOPE[@]}"; do
    [[ "$k" == "$1" ]] && return 0
  done
  return 1
}

# crypt_suffix KIND: ".age" when new backups of KIND are encrypted, else nothing.
crypt_suffix() {
  if crypt_for "$1"; then printf '.age'; fi
}

# crypt_is_age FILE: FILE begins with age's header line.
crypt_is_age() {
  local head
  head="$(head -c "${#AGE_MAGIC}" -- "$1" 2>/dev/null)" || return 1
  [[ "$head" == "$AGE_MAGIC" ]]
}

# crypt_encrypt OUT: encrypt stdin to OUT ("-": stdout) for every recipient (public keys: fine on a
# command line).
crypt_encrypt() {
  local r args=()
  for r in "${ENCRYPT_RECIPIENTS[@]}"; do args+=(-r "$r"); done
  if [[ "$1" != - ]]; then args+=(-o "$1"); fi
  age "${args[@]}"
}

# crypt_recipients_json: the recipients as a JSON list (for manifests).
crypt_recipients_json() {
  local r out="" sep=""
  for r in "${ENCRYPT_RECIPIENTS[@]}"; do
    out+="$sep$(json_str "$r")"
    sep=", "
  done
  printf '[%s]' "$out"
}

# --- Writing: one pass from the producer to the partial -----------------------------------

# crypt_stream_begin: a private work directory for one crypt_stream_to (call before the pipeline).
crypt_stream_begin() {
  CRYPT_W="$(mktemp -d)"
  on_exit_remove "$CRYPT_W"
}

# crypt_stream_to KIND PARTIAL VERIFY_CMD...: the last part of the pipeline that produces a backup
# (pg_dump -Fc, tar -cz): the bytes go to PARTIAL, through age when KIND is encrypted, so no
# plaintext copy is ever written; on the way VERIFY_CMD reads the same bytes from a FIFO (pg_restore
# -l, tar -tz; once it has read what it needs and exits, tee -p goes on without it) and the hasher
# (sha256_stdin) takes the SHA-256 of the bytes written to PARTIAL, so the file is never read back
# for its checksum; an encrypted one also has its plaintext's size and SHA-256 taken. It runs in the
# pipeline's subshell: crypt_stream_result reads what it left in CRYPT_W. Returns non-zero when
# writing PARTIAL failed.
crypt_stream_to() {
  local kind="$1" out="$2" w="$CRYPT_W" rc=0
  shift 2
  trap - ERR
  printf '%s\n' "$out" >"$w/out.path"
  # The output first: with no file to write (a read-only or full disk) no reader is started, so
  # none can wait forever for a writer on its FIFO.
  if ! { : >"$out"; } 2>"$w/write.err"; then
    printf '1\n' >"$w/write.rc"
    return 1
  fi
  mkfifo -- "$w/verify" "$w/sum"
  {
    local vrc=0
    "$@" >"$w/verify.out" 2>"$w/verify.err" || vrc=$?
    printf '%s\n' "$vrc" >"$w/verify.rc"
  } <"$w/verify" &
  local -a pids=($!)
  { sha256_stdin >"$w/out.sha256"; } <"$w/sum" &
  pids+=($!)
  if crypt_for "$kind"; then
    mkfifo -- "$w/plain" "$w/size"
    { sha256_stdin >"$w/plain.sha256"; } <"$w/plain" &
    pids+=($!)
    { wc -c >"$w/plain.size"; } <"$w/size" &
    pids+=($!)
    tee -p -- "$w/verify" "$w/plain" "$w/size" | crypt_encrypt - 2>"$w/write.err" | tee -p -- "$w/sum" >"$out" 2>>"$w/write.err" || rc=$?
  else
    tee -p -- "$w/verify" "$w/sum" >"$out" 2>"$w/write.err" || rc=$?
  fi
  wait "${pids[@]}" || true
  printf '%s\n' "$rc" >"$w/write.rc"
  return "$rc"
}

# shellcheck disable=SC2034 # read by the scripts
# crypt_stream_result: after the pipeline: CRYPT_VERIFY_RC (VERIFY_CMD's exit status),
# CRYPT_VERIFY_OUT (the file holding its output), CRYPT_VERIFY_ERR (its stderr, shortened),
# CRYPT_WRITE_ERR, CRYPT_OUT_SHA256 (of the bytes written to PARTIAL), CRYPT_PLAIN_SHA256 and
# CRYPT_PLAIN_SIZE (of the plaintext as it was produced: the same file when not encrypted).
crypt_stream_result() {
  local w="$CRYPT_W" out
  CRYPT_VERIFY_RC="$(cat -- "$w/verify.rc" 2>/dev/null || echo 255)"
  CRYPT_VERIFY_OUT="$w/verify.out"
  # Either file may not exist (a stream that never started): empty, not a failed command.
  CRYPT_VERIFY_ERR="$({ head -c 500 -- "$w/verify.err" 2>/dev/null || true; } | tr '\n' ' ')"
  CRYPT_WRITE_ERR="$({ head -c 500 -- "$w/write.err" 2>/dev/null || true; } | tr '\n' ' ')"
  CRYPT_OUT_SHA256="$(cat -- "$w/out.sha256" 2>/dev/null || true)"
  if [[ -e "$w/plain.sha256" ]]; then
    CRYPT_PLAIN_SHA256="$(cat -- "$w/plain.sha256" 2>/dev/null || true)"
    CRYPT_PLAIN_SIZE="$(tr -dc 0-9 <"$w/plain.size" 2>/dev/null || true)"
  else
    out="$(cat -- "$w/out.path" 2>/dev/null || true)"
    CRYPT_PLAIN_SHA256="$CRYPT_OUT_SHA256"
    CRYPT_PLAIN_SIZE="$(file_size "$out" 2>/dev/null || true)"
  fi
}

# crypt_manifest_fields KIND FILE: the manifest fields saying how FILE is stored (no braces):
# "encrypted" and, for an encrypted one, the recipients and the plaintext's size and SHA-256 (the
# checksum beside the backup covers the encrypted file).
crypt_manifest_fields() {
  if crypt_for "$1" && crypt_is_age "$2"; then
    printf '"encrypted": true, "encryption": "age", "recipients": %s, "plain_size_bytes": %s, "plain_sha256": %s' \
      "$(crypt_recipients_json)" "$(json_num "${CRYPT_PLAIN_SIZE:-}")" "$(json_str "${CRYPT_PLAIN_SHA256:-}")"
  else
    printf '"encrypted": false'
  fi
}

# --- The identity -------------------------------------------------------------------------

# crypt_init_identity FILE: read the age identity (the AGE-SECRET-KEY-1... lines of FILE) into
# memory, before lib_init may re-run the script as the backup user (who could not read a root-only
# FILE). A re-run finds it on the descriptor its parent handed down (CEP_IDENTITY_FD); a step a root
# restore runs as the backup user (CEP_STEP) needs none: it reads the plaintext its parent opened.
# FILE: a readable file, "-" for stdin, or /dev/fd/N (read from descriptor N directly).
crypt_init_identity() {
  local src="${1:-}" text fd
  if [[ -n "${CEP_IDENTITY_FD:-}" ]]; then
    src="/dev/fd/$CEP_IDENTITY_FD"
    unset CEP_IDENTITY_FD
  elif [[ -z "$src" || -n "${CEP_STEP:-}" ]]; then
    return 0
  fi
  case "$src" in
    -) text="$(cat)" || text="" ;;
    /dev/fd/[0-9]* | /proc/self/fd/[0-9]*)
      fd="${src##*/}"
      [[ "$fd" =~ ^[0-9]+$ ]] || usage_error "--identity $src: not a descriptor"
      text="$(cat <&"$fd" 2>/dev/null)" || usage_error "--identity $src: descriptor $fd is not open for reading"
      ;;
    *)
      [[ -f "$src" && -r "$src" ]] || usage_error "--identity $src: not a readable file"
      text="$(cat -- "$src")"
      ;;
  esac
  CRYPT_IDENTITY="$(printf '%s\n' "$text" | tr -d '\r' | grep -E '^AGE-SECRET-KEY-1[0-9A-Z]+$' || true)"
  [[ -n "$CRYPT_IDENTITY" ]] || usage_error "--identity $src holds no age identity (a line AGE-SECRET-KEY-1...)"
}

# crypt_hand_down: before lib_init re-runs the script as the backup user (exec runuser), put the
# identity read so far on a pipe the new process inherits (CEP_IDENTITY_FD): never a file, never
# an argument, never the environment (only the descriptor's number is).
crypt_hand_down() {
  [[ -n "$CRYPT_IDENTITY" ]] || return 0
  exec {CEP_IDENTITY_FD}< <(printf '%s\n' "$CRYPT_IDENTITY")
  export CEP_IDENTITY_FD
}

# crypt_require_identity FILE: die (before anything is changed) when FILE is encrypted and no
# identity was given. Call it before crypt_decrypt, whose stderr is usually redirected.
crypt_require_identity() {
  [[ -n "$CRYPT_IDENTITY" ]] ||
    die "$(basename -- "$1") is encrypted (age): give the identity that decrypts it with --identity FILE"
}

# crypt_decrypt FILE: decrypt FILE to stdout with the identity (fails without one).
crypt_decrypt() {
  if [[ -z "$CRYPT_IDENTITY" ]]; then
    printf 'age: error: no identity given\n' >&2
    return 1
  fi
  age -d -i <(printf '%s\n' "$CRYPT_IDENTITY") -- "$1"
}

# crypt_check_decrypts FILE: decrypt FILE to nowhere (age authenticates every chunk: a tampered or
# truncated file, or an identity it was not encrypted for, fails). Dies with the reason.
crypt_check_decrypts() {
  local err
  crypt_require_identity "$1"
  err="$(mktemp)"
  on_exit_remove "$err"
  crypt_decrypt "$1" 2>"$err" >/dev/null || die "$(_crypt_why "$1" "$err")"
}

# _crypt_why FILE ERRFILE: age's failure in words.
_crypt_why() {
  local name msg
  name="$(basename -- "$1")"
  msg="$(head -c 300 -- "$2" | tr '\n' ' ')"
  if [[ "$msg" == *"no identity matched"* ]]; then
    printf 'the identity given does not decrypt %s: it was encrypted for other recipients (wrong key?); nothing was changed' "$name"
  else
    printf 'cannot decrypt %s: %s; nothing was changed' "$name" "${msg:-age failed}"
  fi
}

# --- Reading: through an unlinked temporary file ------------------------------------------

# shellcheck disable=SC2034 # CRYPT_PLAIN is read by the scripts
# crypt_open FILE: where to read FILE's plaintext from, in CRYPT_PLAIN. A file without the .age
# suffix is read as it is. An .age file is decrypted with the identity into a temporary file that
# is unlinked as soon as it is open: its bytes are reachable only through this process's descriptor
# (CRYPT_PLAIN=/proc/self/fd/N, which children inherit and may reopen, pg_restore's parallel
# workers included), so no plaintext copy can outlive the run, however it ends: the kernel frees it
# with the last descriptor, even after a SIGKILL. A wrong identity or a damaged file fails here,
# before anything is changed. A step of a root restore re-run as the backup user (lib_as_backup_user)
# reuses its parent's descriptor (CEP_PLAIN_FD, CEP_PLAIN_OF) instead of decrypting again.
crypt_open() {
  local file="$1" base dir fd err
  if [[ "$file" != *.age ]]; then
    CRYPT_PLAIN="$file"
    return 0
  fi
  if [[ "${CEP_PLAIN_OF:-}" == "$file" && -n "${CEP_PLAIN_FD:-}" && -r "/proc/self/fd/$CEP_PLAIN_FD" ]]; then
    CRYPT_PLAIN="/proc/self/fd/$CEP_PLAIN_FD"
    return 0
  fi
  require_cmd age
  crypt_require_identity "$file"
  crypt_is_age "$file" || die "$(basename -- "$file") is not an age file (no $AGE_MAGIC header); refusing to restore it"
  # A private directory (0700, ours) holds the file for the instant between its creation and its
  # unlinking: nobody can swap it for a symlink there. As root: the temp directory, never a
  # directory the backup user owns. Otherwise beside the backup (that filesystem has room for it).
  base="${TMPDIR:-/tmp}"
  if ((EUID != 0)) && [[ -w "$(dirname -- "$file")" ]]; then base="$(dirname -- "$file")"; fi
  dir="$(mktemp -d -p "$base" .cep-plain.XXXXXX)" || die "cannot create a temporary directory in $base"
  on_exit_remove "$dir"
  : >"$dir/plain"
  exec {fd}<>"$dir/plain"
  rm -rf -- "$dir"
  keep_path "$dir"
  err="$(mktemp)"
  on_exit_remove "$err"
  log INFO "decrypting $(basename -- "$file") into an unlinked temporary file"
  crypt_decrypt "$file" 2>"$err" 1>&"$fd" || die "$(_crypt_why "$file" "$err")"
  # Children running as the backup user reopen it through /proc/self/fd: give it to that user.
  if ((EUID == 0)) && [[ "${BACKUP_USER:-root}" != root ]]; then chown -- "$BACKUP_USER:" "/proc/self/fd/$fd"; fi
  CRYPT_PLAIN="/proc/self/fd/$fd"
  export CEP_PLAIN_FD="$fd" CEP_PLAIN_OF="$file"
}
