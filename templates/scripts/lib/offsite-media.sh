# shellcheck shell=bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
#
# Summary: the off-site copy of media snapshots, content-addressed: every file is one object named
# by the SHA-256 the media job already recorded (media/objects/ab/<sha256>, or, encrypted,
# media/objects/ab/<sha256>.<sha256 of the encrypted object>.age), shared by every snapshot that has
# it, so after a 1% change a snapshot costs ~1% of the bytes. Per snapshot: STAMP.sha256 (its
# checksum list: the path -> object map), STAMP.manifest.json and STAMP.dirs (its directories,
# NUL-separated, so empty ones come back). Which objects are missing is read from ONE listing.
# Sourced by backup-lib.sh; uses lib/offsite.sh, lib/media.sh and lib/crypt.sh.
#
# An encrypted object's name carries the plaintext's SHA-256 (what deduplicates it; whoever can list
# the bucket can test whether a known file is there, not read one) and the encrypted bytes' SHA-256
# (what a read-back without the key checks). File names and sizes stay readable in STAMP.sha256 and
# STAMP.manifest.json, as manifests do. Symlinks and special files are not copied off-site.

MEDIA_SNAPSHOT_GLOB='[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]_[0-9][0-9]-[0-9][0-9]-[0-9][0-9]'

# is_snapshot_name NAME: NAME is a media snapshot's name (YYYY-MM-DD_HH-MM-SS).
is_snapshot_name() {
  [[ "$1" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{2}-[0-9]{2}-[0-9]{2}$ ]]
}
MEDIA_READBACK_SAMPLE="${MEDIA_READBACK_SAMPLE:-20}"

# _sum_line LINE: one line of a sha256sum list: SUM_HASH and SUM_PATH (unescaped: sha256sum writes
# "\<hash>  <name>" with \\ and \n escaped for names holding a backslash or a newline).
_sum_line() {
  local line="$1" esc=0 s out="" c
  if [[ "$line" == \\* ]]; then esc=1; line="${line:1}"; fi
  [[ "${line:0:64}" =~ ^[0-9a-f]{64}$ && "${line:64:2}" == "  " ]] || return 1
  SUM_HASH="${line:0:64}"
  s="${line:66}"
  if ((esc)); then
    while [[ -n "$s" ]]; do
      c="${s:0:1}"
      if [[ "$c" == "\\" ]]; then
        case "${s:1:1}" in
          n) out+=$'\n' ;;
          r) out+=$'\r' ;;
          *) out+="${s:1:1}" ;;
        esac
        s="${s:2}"
      else
        out+="$c"
        s="${s:1}"
      fi
    done
    s="$out"
  fi
  SUM_PATH="$s"
}

# _offsite_objects_index: one listing of media/objects: OBJ_PLAIN[hash] and OBJ_AGE[hash], the key
# (below media/objects/) of each object by the SHA-256 of its content, and OBJ_SIZE[key], its size
# as listed. Of two encrypted objects of one file (one cut short by a failed upload, then uploaded
# again under the new encryption's name), the larger is the one. 1 with OFFSITE_ERROR.
_offsite_objects_index() {
  local w key base size h prev
  declare -gA OBJ_PLAIN=() OBJ_AGE=() OBJ_SIZE=()
  _offsite_work
  w="$OFFSITE_W"
  _rclone lsf -R --files-only --format sp --separator $'\t' "$(_offsite_remote media/objects)" >"$w/objects" 2>"$w/objects.err" || {
    OFFSITE_ERROR="cannot list media/objects/ in $(offsite_where): $(_offsite_why "$w/objects.err")"
    return 1
  }
  while IFS=$'\t' read -r size key; do
    base="${key##*/}"
    if [[ "$base" =~ ^[0-9a-f]{64}$ ]]; then
      OBJ_PLAIN[$base]="$key"
      OBJ_SIZE[$key]="$size"
    elif [[ "$base" =~ ^([0-9a-f]{64})\.[0-9a-f]{64}\.age$ ]]; then
      h="${BASH_REMATCH[1]}"
      OBJ_SIZE[$key]="$size"
      prev="${OBJ_AGE[$h]:-}"
      if [[ -z "$prev" ]] || ((size > ${OBJ_SIZE[$prev]:-0})); then OBJ_AGE[$h]="$key"; fi
    fi
  done <"$w/objects"
}

# _offsite_object HASH: the key of the object holding HASH in the form new uploads use (encrypted
# when media are in ENCRYPT_SCOPE), or nothing.
_offsite_object() {
  if crypt_for media; then printf '%s' "${OBJ_AGE[$1]:-}"; else printf '%s' "${OBJ_PLAIN[$1]:-}"; fi
}

# _offsite_object_whole KEY BYTES: the object KEY is long enough to hold a file of BYTES bytes: a
# plaintext object exactly BYTES long, an encrypted one at least what age needs for it (a header
# with one X25519 recipient, 168 bytes, a 16-byte nonce, a 16-byte tag per 64 KiB chunk). An upload
# cut short (a server whose disk filled up or that died mid-write) can leave a shorter object under
# the right name: it does not count as stored, and goes up again.
_offsite_object_whole() {
  local key="$1" n="$2" have chunks
  have="${OBJ_SIZE[$key]:-}"
  [[ -n "$have" ]] || return 1
  if [[ "$key" == *.age ]]; then
    chunks=$(((n + 65535) / 65536))
    ((chunks > 0)) || chunks=1
    ((have >= 184 + n + 16 * chunks))
  else
    [[ "$have" == "$n" ]]
  fi
}

# _offsite_media_snapshots LISTING: the complete snapshots of a media/ listing (STAMP.sha256 and
# STAMP.manifest.json there: the manifest goes last), newest first, as "epoch<TAB>stamp" lines.
_offsite_media_snapshots() {
  local name
  local -A have=()
  while IFS=$'\t' read -r _ name; do [[ -n "$name" ]] && have[$name]=1; done <"$1"
  for name in "${!have[@]}"; do
    [[ "$name" == *.manifest.json ]] || continue
    name="${name%.manifest.json}"
    if ! is_snapshot_name "$name" || [[ -z "${have[$name.sha256]+x}" ]]; then continue; fi
    printf '%s\t%s\n' "$(_offsite_stamp_epoch "$name")" "$name"
  done | LC_ALL=C sort -rn
}

# offsite_sync_media: the catch-up upload of media snapshots: every local verified snapshot that is
# not complete off-site, oldest first, within retention: its missing objects, then STAMP.dirs and
# STAMP.sha256, then STAMP.manifest.json (so a visible manifest always has all it needs), each
# batch verified with `rclone check --one-way`. Then off-site retention and the state file.
offsite_sync_media() {
  local w snap name i=0
  offsite_enabled || return 0
  if ! offsite_preflight; then
    offsite_fail media "$OFFSITE_ERROR"
    return 0
  fi
  offsite_kind media
  _offsite_work
  w="$OFFSITE_W/media"
  mkdir -p -- "$w"
  # Staging folders of a killed run (the media lock is held: no other run is using them).
  find "$OK_DIR" -mindepth 1 -maxdepth 1 -type d -name '.offsite-stage.*' -exec rm -rf -- {} + 2>/dev/null || true
  if ! _offsite_listing media "$w/remote" || ! _offsite_objects_index; then
    offsite_fail media "$OFFSITE_ERROR"
    return 0
  fi
  local -A remote_snap=()
  while IFS=$'\t' read -r _ name; do remote_snap[$name]=1; done < <(_offsite_media_snapshots "$w/remote")
  # Objects in the form new uploads no longer use (media encryption switched on or off): this run
  # gives every local snapshot its objects in the new form, and retention then deletes the old.
  local converting=0
  if crypt_for media; then ((${#OBJ_PLAIN[@]} == 0)) || converting=1; else ((${#OBJ_AGE[@]} == 0)) || converting=1; fi
  ((converting == 0)) || log INFO "off-site (media): objects off-site are in the other form (encryption of media changed): every local snapshot's objects go up in the new form"
  local -a todo=()
  while IFS= read -r snap; do
    i=$((i + 1))
    name="$(basename -- "$snap")"
    [[ -z "${remote_snap[$name]+x}" ]] || ((converting)) || continue
    ((i > OK_KEEP && $(_offsite_stamp_epoch "$name") < OK_CUTOFF)) && continue
    if ! media_snapshot_ok "$snap"; then
      log WARNING "off-site (media): not uploading $name: it does not match its manifest"
      continue
    fi
    todo=("$snap" "${todo[@]}")
  done < <(find "$OK_DIR" -mindepth 1 -maxdepth 1 -type d -name "$MEDIA_SNAPSHOT_GLOB" | LC_ALL=C sort -r)
  OFFSITE_MEDIA_OBJECTS=0
  OFFSITE_MEDIA_BYTES=0
  for snap in "${todo[@]}"; do
    _offsite_media_upload "$snap" || { offsite_fail media "$OFFSITE_ERROR"; return 0; }
    remote_snap[$(basename -- "$snap")]=1
  done
  local newest
  newest="$(for name in "${!remote_snap[@]}"; do printf '%s\t%s\n' "$(_offsite_stamp_epoch "$name")" "$name"; done | LC_ALL=C sort -rn | head -n 1 | cut -f2)"
  if [[ -z "$newest" ]]; then
    offsite_fail media "no complete media snapshot off-site after the upload"
    return 0
  fi
  offsite_ok media "$newest" "$OFFSITE_MEDIA_OBJECTS" "$OFFSITE_MEDIA_BYTES"
  _offsite_prune_media "${!remote_snap[@]}"
}

# _offsite_media_upload SNAPSHOT: one snapshot's missing objects and its three files. Objects are
# staged beside the snapshots (same filesystem): plaintext ones as hard links (no copy), named by
# their hash and hashed again first (an object whose content is not its name would poison every
# snapshot sharing it); encrypted ones as age files. 1 with OFFSITE_ERROR.
_offsite_media_upload() {
  local snap="$1" name stage line h src c n=0 bytes=0 w
  name="$(basename -- "$snap")"
  _offsite_work
  w="$OFFSITE_W/media"
  stage="$(mktemp -d -p "$OK_DIR" .offsite-stage.XXXXXX)"
  on_exit_remove "$stage"
  local -A seen=() fsize=()
  local -a cut=()
  local sz p key
  # The snapshot's file sizes, in one pass: an object off-site must be as long as its file.
  while IFS=$'\t' read -r -d '' sz p; do fsize[$p]="$sz"; done < <(find "$snap" -type f -printf '%s\t%P\0')
  while IFS= read -r line; do
    _sum_line "$line" || { OFFSITE_ERROR="$name.sha256: unreadable line: ${line:0:80}"; return 1; }
    h="$SUM_HASH"
    [[ -z "${seen[$h]+x}" ]] || continue
    seen[$h]=1
    src="$snap/$SUM_PATH"
    [[ -f "$src" ]] || { OFFSITE_ERROR="$name: $SUM_PATH is in its checksum list but not in the snapshot"; return 1; }
    key="$(_offsite_object "$h")"
    if [[ -n "$key" ]]; then
      _offsite_object_whole "$key" "${fsize[$SUM_PATH]:-$(file_size "$src")}" && continue
      log WARNING "off-site (media): object $key is ${OBJ_SIZE[$key]} bytes, too short for $SUM_PATH (an upload cut short): uploading it again"
      # An encrypted one goes up under a new name: the short one is deleted once that verified.
      [[ "$key" != *.age ]] || cut+=("$key")
    fi
    mkdir -p -- "$stage/${h:0:2}"
    if crypt_for media; then
      [[ "$(sha256sum <"$src")" == "$h  -" ]] || { OFFSITE_ERROR="$name: $SUM_PATH no longer matches its checksum (damaged?): not uploaded"; return 1; }
      crypt_encrypt "$stage/${h:0:2}/.$h.tmp" <"$src" || { OFFSITE_ERROR="age could not encrypt $SUM_PATH"; return 1; }
      c="$(sha256sum <"$stage/${h:0:2}/.$h.tmp" | awk '{ print $1 }')"
      mv -- "$stage/${h:0:2}/.$h.tmp" "$stage/${h:0:2}/$h.$c.age"
      OBJ_AGE[$h]="${h:0:2}/$h.$c.age"
      OBJ_SIZE[${OBJ_AGE[$h]}]="$(file_size "$stage/${h:0:2}/$h.$c.age")"
    else
      ln -- "$src" "$stage/${h:0:2}/$h" 2>/dev/null || cp -p -- "$src" "$stage/${h:0:2}/$h"
      OBJ_PLAIN[$h]="${h:0:2}/$h"
      OBJ_SIZE[${OBJ_PLAIN[$h]}]="$(file_size "$src")"
    fi
    n=$((n + 1))
    bytes=$((bytes + $(file_size "$src")))
  done <"$snap.sha256"
  if ! crypt_for media && ((n)); then
    # One pass over the new objects: each must hash to its name.
    local bad
    bad="$(cd -- "$stage" && find . -type f -printf '%P\0' | xargs -0 -r sha256sum -- | awk '{ n = $2; sub(".*/", "", n); if ($1 != n) print $2 }' | head -n 3)"
    [[ -z "$bad" ]] || { OFFSITE_ERROR="$name: files no longer match their checksums (damaged?): $bad; not uploaded"; return 1; }
  fi
  if ((n)); then
    if ! _rclone copy --transfers 8 "$stage" "$(_offsite_remote media/objects)" 2>"$w/err" ||
      ! _rclone check --one-way "$stage" "$(_offsite_remote media/objects)" 2>"$w/err"; then
      OFFSITE_ERROR="upload of $n objects of snapshot $name failed or does not verify: $(_offsite_why "$w/err")"
      return 1
    fi
  fi
  if ((${#cut[@]})); then
    printf '%s\n' "${cut[@]}" >"$w/cut"
    _rclone delete --files-from-raw "$w/cut" "$(_offsite_remote media/objects)" 2>"$w/err" ||
      log WARNING "off-site (media): could not delete ${#cut[@]} object(s) cut short: $(_offsite_why "$w/err")"
  fi
  rm -rf -- "$stage"
  keep_path "$stage"
  # The snapshot's own files, the manifest last.
  local side="$w/side.$name"
  mkdir -p -- "$side"
  find "$snap" -mindepth 1 -type d -printf '%P\0' >"$side/$name.dirs"
  cp -p -- "$snap.sha256" "$side/$name.sha256"
  if ! _rclone copy "$side" "$(_offsite_remote media)" 2>"$w/err" ||
    ! _rclone copyto "$(manifest_path "$snap")" "$(_offsite_remote "media/$name.manifest.json")" 2>"$w/err"; then
    OFFSITE_ERROR="upload of snapshot $name's checksum list and manifest failed: $(_offsite_why "$w/err")"
    return 1
  fi
  cp -p -- "$(manifest_path "$snap")" "$side/$name.manifest.json"
  if ! _rclone check --one-way "$side" "$(_offsite_remote media)" 2>"$w/err"; then
    OFFSITE_ERROR="snapshot $name's files off-site do not match the local ones: $(_offsite_why "$w/err")"
    return 1
  fi
  rm -rf -- "$side"
  OFFSITE_MEDIA_OBJECTS=$((OFFSITE_MEDIA_OBJECTS + n))
  OFFSITE_MEDIA_BYTES=$((OFFSITE_MEDIA_BYTES + bytes))
  local other
  other="$(manifest_num "$(manifest_path "$snap")" other)"
  if [[ -n "$other" && "$other" != 0 ]]; then
    log WARNING "off-site (media): snapshot $name has $other symlinks or special files: they are not copied off-site"
  fi
  log INFO "off-site (media): snapshot $name verified off-site: $n new objects ($(human_size "$bytes"), $bytes bytes) uploaded, the other ${#seen[@]} - $n shared with earlier snapshots"
}

# _offsite_prune_media STAMP...: off-site retention of media (STAMPs: the complete snapshots
# off-site): the newest OK_KEEP are kept, older than the retention go; then every object no kept
# snapshot (nor a local one, about to be uploaded) references is deleted, and so is an object's
# copy in the form new uploads no longer use once the other form is there. A kept snapshot whose
# checksum list cannot be read stops the object deletion (never delete what might be needed).
_offsite_prune_media() {
  local w name kept=0 h line f
  _offsite_work
  w="$OFFSITE_W/media"
  : >"$w/delete"
  local -a keep=()
  while IFS=$'\t' read -r _ name; do
    if ((kept < OK_KEEP)) || (($(_offsite_stamp_epoch "$name") >= OK_CUTOFF)); then
      keep+=("$name")
      kept=$((kept + 1))
    else
      printf '%s\n%s\n%s\n' "$name.manifest.json" "$name.sha256" "$name.dirs" >>"$w/delete"
    fi
  done < <(for name in "$@"; do printf '%s\t%s\n' "$(_offsite_stamp_epoch "$name")" "$name"; done | LC_ALL=C sort -rn)
  local n_snap
  n_snap="$(grep -c '\.manifest\.json$' -- "$w/delete" || true)"
  if [[ -s "$w/delete" ]]; then
    _rclone delete --files-from-raw "$w/delete" "$(_offsite_remote media)" 2>"$w/err" ||
      { log WARNING "off-site retention (media) failed: $(_offsite_why "$w/err")"; return 0; }
  fi
  # What is referenced: the kept snapshots' lists (the local copy when there, else downloaded) and
  # every local snapshot's.
  local -A ref=()
  local -a lists=()
  for name in "${keep[@]}"; do
    if [[ -f "$OK_DIR/$name.sha256" ]]; then
      lists+=("$OK_DIR/$name.sha256")
    else
      f="$w/ref.$name.sha256"
      _rclone copyto "$(_offsite_remote "media/$name.sha256")" "$f" 2>"$w/err" || {
        log WARNING "off-site retention (media): cannot read back $name.sha256 ($(_offsite_why "$w/err")): no object deleted this time"
        return 0
      }
      lists+=("$f")
    fi
  done
  while IFS= read -r -d '' f; do lists+=("$f"); done < <(find "$OK_DIR" -mindepth 1 -maxdepth 1 -type f -name "$MEDIA_SNAPSHOT_GLOB.sha256" -print0)
  for f in "${lists[@]}"; do
    while IFS= read -r line; do
      _sum_line "$line" && ref[$SUM_HASH]=1
    done <"$f"
  done
  : >"$w/delete.objects"
  local current
  for h in "${!OBJ_PLAIN[@]}" "${!OBJ_AGE[@]}"; do
    if [[ -z "${ref[$h]+x}" ]]; then
      [[ -z "${OBJ_PLAIN[$h]:-}" ]] || printf '%s\n' "${OBJ_PLAIN[$h]}" >>"$w/delete.objects"
      [[ -z "${OBJ_AGE[$h]:-}" ]] || printf '%s\n' "${OBJ_AGE[$h]}" >>"$w/delete.objects"
    elif [[ -n "${OBJ_PLAIN[$h]:-}" && -n "${OBJ_AGE[$h]:-}" ]]; then
      # Both forms: the one new uploads no longer use goes (encryption switched on or off).
      current="$(_offsite_object "$h")"
      if [[ "$current" == "${OBJ_AGE[$h]}" ]]; then printf '%s\n' "${OBJ_PLAIN[$h]}"; else printf '%s\n' "${OBJ_AGE[$h]}"; fi >>"$w/delete.objects"
    fi
  done
  sort -u -o "$w/delete.objects" -- "$w/delete.objects"
  local n_obj
  n_obj="$(grep -c . -- "$w/delete.objects" || true)"
  if ((n_obj)); then
    _rclone delete --files-from-raw "$w/delete.objects" "$(_offsite_remote media/objects)" 2>"$w/err" ||
      { log WARNING "off-site retention (media): deleting unreferenced objects failed: $(_offsite_why "$w/err")"; return 0; }
  fi
  log INFO "off-site retention (media): deleted $n_snap snapshot(s) and $n_obj unreferenced object(s); kept ${#keep[@]} snapshot(s) (keep_min $OK_KEEP) and every object they use"
}

# shellcheck disable=SC2034 # FETCHED is read by the scripts
# offsite_fetch_media NAME DIR: rebuild snapshot NAME ("latest": the newest complete one) from the
# bucket as DIR/NAME, with DIR/NAME.sha256 and DIR/NAME.manifest.json beside it (what
# restore-media.sh takes): one listing finds every object, one download fetches them (in
# parallel), encrypted ones are decrypted with the identity, then every file is checked against
# the checksum list and the counts against the manifest. All of it is built in a staging folder in
# DIR (same filesystem) and renamed into place once verified, the checksum list last: a fetch that
# fails (a full disk, a missing object) leaves nothing under the snapshot's name. Sets FETCHED.
# 1 with OFFSITE_ERROR.
offsite_fetch_media() {
  local name="$1" dir="$2" w stage f
  offsite_preflight || return 1
  offsite_kind media
  _offsite_work
  w="$OFFSITE_W"
  if [[ "$name" == latest ]]; then
    _offsite_listing media "$w/fetch.media" || return 1
    name="$(_offsite_media_snapshots "$w/fetch.media" | head -n 1 | cut -f2)"
    [[ -n "$name" ]] || { OFFSITE_ERROR="no complete media snapshot in $(offsite_where)"; return 1; }
  fi
  is_snapshot_name "$name" || { OFFSITE_ERROR="$name is not a snapshot name (YYYY-MM-DD_HH-MM-SS)"; return 1; }
  [[ ! -e "$dir/$name" ]] || { OFFSITE_ERROR="$dir/$name already exists"; return 1; }
  mkdir -p -- "$dir"
  stage="$(mktemp -d -p "$dir" .fetch.XXXXXX)" || { OFFSITE_ERROR="cannot create a folder in $dir"; return 1; }
  on_exit_remove "$stage"
  if ! _offsite_fetch_media_into "$name" "$stage"; then
    rm -rf -- "$stage"
    return 1
  fi
  for f in "$name" "$name.dirs" "$name.manifest.json" "$name.sha256"; do
    mv -f -- "$stage/$f" "$dir/$f"
  done
  rm -rf -- "$stage"
  keep_path "$stage"
  FETCHED="$dir/$name"
  log INFO "fetched media/$name from $(offsite_where): $COUNT_FILES files, $COUNT_BYTES bytes, every checksum verified"
}

# _offsite_fetch_media_into NAME STAGE: offsite_fetch_media's download, rebuild and checks, in
# STAGE. 1 with OFFSITE_ERROR.
_offsite_fetch_media_into() {
  local name="$1" dir="$2" w line key obj h target
  _offsite_work
  w="$OFFSITE_W"
  printf '%s\n' "$name.sha256" "$name.manifest.json" "$name.dirs" >"$w/fetch.list"
  if ! _rclone copy --files-from-raw "$w/fetch.list" "$(_offsite_remote media)" "$dir" 2>"$w/fetch.err"; then
    OFFSITE_ERROR="download of media/$name failed: $(_offsite_why "$w/fetch.err")"
    return 1
  fi
  [[ -f "$dir/$name.sha256" && -f "$dir/$name.manifest.json" ]] ||
    { OFFSITE_ERROR="media/$name is not complete in $(offsite_where) (no checksum list or manifest)"; return 1; }
  [[ -f "$dir/$name.dirs" ]] || : >"$dir/$name.dirs"
  _offsite_objects_index || return 1
  # Which object each file comes from (either form will do: the content is checked below).
  local -A want=()
  local missing=0
  while IFS= read -r line; do
    _sum_line "$line" || { OFFSITE_ERROR="$name.sha256: unreadable line"; return 1; }
    key="${OBJ_PLAIN[$SUM_HASH]:-${OBJ_AGE[$SUM_HASH]:-}}"
    if [[ -z "$key" ]]; then missing=$((missing + 1)); continue; fi
    want[$key]=1
  done <"$dir/$name.sha256"
  ((missing == 0)) || { OFFSITE_ERROR="$missing file(s) of media/$name have no object in media/objects/: the off-site snapshot is incomplete"; return 1; }
  local objs="$dir/.objects"
  printf '%s\n' "${!want[@]}" >"$w/fetch.objects"
  if ((${#want[@]})) && ! _rclone copy --transfers 8 --files-from-raw "$w/fetch.objects" "$(_offsite_remote media/objects)" "$objs" 2>"$w/fetch.err"; then
    OFFSITE_ERROR="download of the objects of media/$name failed: $(_offsite_why "$w/fetch.err")"
    return 1
  fi
  # The tree: its directories, then each file (decrypted once per object; duplicates hard-linked).
  if grep -q '\.age$' -- "$w/fetch.objects" && [[ -z "$CRYPT_IDENTITY" ]]; then
    OFFSITE_ERROR="media/$name is encrypted (age): give the identity that decrypts it with --identity FILE"
    return 1
  fi
  mkdir -p -- "$dir/$name"
  if [[ -s "$dir/$name.dirs" ]]; then
    (cd -- "$dir/$name" && xargs -0 -r mkdir -p -- <"../$name.dirs")
  fi
  local -A placed=()
  while IFS= read -r line; do
    _sum_line "$line"
    h="$SUM_HASH"
    target="$dir/$name/$SUM_PATH"
    mkdir -p -- "$(dirname -- "$target")"
    if [[ -n "${placed[$h]:-}" ]]; then
      ln -- "${placed[$h]}" "$target"
      continue
    fi
    key="${OBJ_PLAIN[$h]:-${OBJ_AGE[$h]}}"
    obj="$objs/$key"
    if [[ "$key" == *.age ]]; then
      crypt_decrypt "$obj" >"$target" 2>"$w/fetch.err" || { OFFSITE_ERROR="$(_crypt_why "$obj" "$w/fetch.err")"; return 1; }
    else
      ln -- "$obj" "$target" 2>/dev/null || cp -- "$obj" "$target"
    fi
    placed[$h]="$target"
  done <"$dir/$name.sha256"
  rm -rf -- "$objs"
  local out
  if ! out="$(cd -- "$dir/$name" && sha256sum -c --quiet --strict -- "../$name.sha256" 2>&1)"; then
    OFFSITE_ERROR="the rebuilt snapshot $name does not match its checksum list: $(printf '%s' "$out" | head -n 3 | tr '\n' ';')"
    return 1
  fi
  media_count "$dir/$name"
  local want_files want_bytes
  want_files="$(manifest_num "$dir/$name.manifest.json" files)"
  want_bytes="$(manifest_num "$dir/$name.manifest.json" bytes)"
  if [[ "$COUNT_FILES" != "$want_files" || "$COUNT_BYTES" != "$want_bytes" ]]; then
    OFFSITE_ERROR="the rebuilt snapshot $name has $COUNT_FILES files / $COUNT_BYTES bytes, its manifest says $want_files / $want_bytes"
    return 1
  fi
}

# shellcheck disable=SC2034 # READBACK_* are read by the scripts
# offsite_readback_media NAME [SAMPLE]: read back snapshot NAME without rebuilding it: its checksum
# list (equal to the local one when that is still there) and manifest, every object it needs
# present (one listing), and a random SAMPLE of its objects (default MEDIA_READBACK_SAMPLE)
# downloaded and checked: a plaintext object against its name, an encrypted one against the
# SHA-256 of the encrypted bytes in its name and, with an identity, decrypted against the file's.
offsite_readback_media() {
  local name="$1" sample="${2:-$MEDIA_READBACK_SAMPLE}" tmp line key h missing=0
  offsite_preflight || return 1
  offsite_kind media
  tmp="$(mktemp -d)"
  on_exit_remove "$tmp"
  printf '%s\n' "$name.sha256" "$name.manifest.json" >"$tmp/list"
  if ! _rclone copy --files-from-raw "$tmp/list" "$(_offsite_remote media)" "$tmp" 2>"$tmp/err"; then
    OFFSITE_ERROR="download of media/$name failed: $(_offsite_why "$tmp/err")"
    return 1
  fi
  [[ -f "$tmp/$name.sha256" && -f "$tmp/$name.manifest.json" ]] || { OFFSITE_ERROR="media/$name is not complete off-site"; return 1; }
  if [[ -f "$OK_DIR/$name.sha256" ]] && ! cmp -s -- "$OK_DIR/$name.sha256" "$tmp/$name.sha256"; then
    OFFSITE_ERROR="the off-site checksum list of media/$name differs from the local one"
    return 1
  fi
  _offsite_objects_index || return 1
  local -A keys=()
  while IFS= read -r line; do
    _sum_line "$line" || continue
    key="${OBJ_PLAIN[$SUM_HASH]:-${OBJ_AGE[$SUM_HASH]:-}}"
    if [[ -z "$key" ]]; then missing=$((missing + 1)); else keys[$key]="$SUM_HASH"; fi
  done <"$tmp/$name.sha256"
  ((missing == 0)) || { OFFSITE_ERROR="$missing file(s) of media/$name have no object off-site"; return 1; }
  printf '%s\n' "${!keys[@]}" | shuf -n "$sample" >"$tmp/sample"
  READBACK_OBJECTS="$(grep -c . -- "$tmp/sample" || true)"
  READBACK_DECRYPTED=0
  if ((READBACK_OBJECTS)); then
    if ! _rclone copy --files-from-raw "$tmp/sample" "$(_offsite_remote media/objects)" "$tmp/objects" 2>"$tmp/err"; then
      OFFSITE_ERROR="download of sample objects of media/$name failed: $(_offsite_why "$tmp/err")"
      return 1
    fi
    while IFS= read -r key; do
      h="${keys[$key]}"
      local base="${key##*/}" got
      got="$(sha256sum <"$tmp/objects/$key" | awk '{ print $1 }')"
      if [[ "$key" == *.age ]]; then
        [[ "$got" == "$(printf '%s' "$base" | cut -d. -f2)" ]] || { OFFSITE_ERROR="object $key is damaged off-site (its SHA-256 is $got)"; return 1; }
        if [[ -n "$CRYPT_IDENTITY" ]]; then
          got="$(crypt_decrypt "$tmp/objects/$key" 2>"$tmp/err" | sha256sum | awk '{ print $1 }')"
          [[ "$got" == "$h" ]] || { OFFSITE_ERROR="object $key does not decrypt to its file: $(_crypt_why "$key" "$tmp/err")"; return 1; }
          READBACK_DECRYPTED=$((READBACK_DECRYPTED + 1))
        fi
      else
        [[ "$got" == "$h" ]] || { OFFSITE_ERROR="object $key is damaged off-site (its SHA-256 is $got)"; return 1; }
      fi
    done <"$tmp/sample"
  fi
  READBACK_NAME="$name"
  READBACK_FILES="$(manifest_num "$tmp/$name.manifest.json" files)"
  rm -rf -- "$tmp"
}
