# shellcheck shell=bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
#
# Summary: the backup library's media snapshot helpers: counting a tree, its per-file checksum
# list (reusing the previous snapshot's for hard-linked files), sidecars, the atomic commit and
# the verifiers of backup-media, restore-media and retention. Sourced by backup-lib.sh; uses
# lib/core.sh and lib/checksums.sh.

# media_count DIR: set COUNT_FILES (regular files), COUNT_DIRS (directories below DIR), COUNT_OTHER
# (symlinks, devices...) and COUNT_BYTES (sum of the regular files' sizes). One find, any file name.
media_count() {
  local out
  out="$(find "$1" -mindepth 1 \( -type f -printf 'f %s\n' \) -o \( -type d -printf 'd 0\n' \) -o -printf 'o 0\n' |
    awk '{ n[$1]++; if ($1 == "f") b += $2 } END { printf "%d %d %d %d", n["f"], n["d"], n["o"], b }')"
  read -r COUNT_FILES COUNT_DIRS COUNT_OTHER COUNT_BYTES <<<"$out"
}

# media_checksums DIR PREVIOUS: the sha256sum -c list of DIR's files (paths relative to DIR). A file
# rsync hard-linked to the same path in the PREVIOUS snapshot (unchanged) keeps the checksum
# recorded there instead of being read again: only new and changed files are hashed, so a nightly
# run reads about what changed, not the whole media tree. A random sample of the reused checksums
# is hashed anyway; one mismatch (a damaged list, bit rot) and every file is hashed afresh. Names
# sha256sum had to escape are always hashed.
MEDIA_REUSE_SAMPLE="${MEDIA_REUSE_SAMPLE:-20}"
media_checksums() {
  local dir="$1" previous="${2:-}" line p
  local -A known=()
  if [[ -n "$previous" && -f "$previous.sha256" && -d "$previous" ]]; then
    while IFS= read -r line; do
      [[ "$line" == \\* || ${#line} -lt 67 ]] || known["${line:66}"]="${line:0:64}"
    done <"$previous.sha256"
  fi
  (
    cd -- "$dir" || exit 1
    local -a rehash=() reused=()
    while IFS= read -r -d '' p; do
      if [[ -n "${known[$p]+x}" && "$p" -ef "$previous/$p" ]]; then reused+=("$p"); else rehash+=("$p"); fi
    done < <(find . -type f -links +1 -printf '%P\0')
    if ((${#reused[@]})); then
      local bad=0
      while IFS= read -r -d '' p; do
        [[ "$(sha256sum <"$p")" == "${known[$p]}  -" ]] || bad=1
      done < <(printf '%s\0' "${reused[@]}" | shuf -z -n "$MEDIA_REUSE_SAMPLE")
      if ((bad)); then
        log WARNING "a reused checksum of $(basename -- "$previous") does not match its file: hashing every file of this snapshot"
        find . -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum --
        exit
      fi
      for p in "${reused[@]}"; do printf '%s  %s\n' "${known[$p]}" "$p"; done
    fi
    { find . -type f -links 1 -printf '%P\0'; ((${#rehash[@]} == 0)) || printf '%s\0' "${rehash[@]}"; } |
      LC_ALL=C sort -z | xargs -0 -r sha256sum --
  )
}

# media_write_sidecars DIR NAME SOURCE PREVIOUS EXTRA_JSON: for a media tree DIR (a snapshot still
# under its partial name) write, in DIR's parent, the per-file checksum list .NAME.sha256.partial
# (sha256sum -c format, paths relative to the snapshot) and .NAME.manifest.json.partial (files,
# directories, bytes, ...). Both are registered for removal on failure; media_commit renames them.
# Sets COUNT_* (media_count) and MEDIA_SUMS_PARTIAL, MEDIA_MANIFEST_PARTIAL.
media_write_sidecars() {
  local dir="$1" name="$2" source="$3" previous="$4" extra="${5:-}" parent
  parent="$(dirname -- "$dir")"
  MEDIA_SUMS_PARTIAL="$parent/.$name.sha256.partial"
  MEDIA_MANIFEST_PARTIAL="$parent/.$name.manifest.json.partial"
  on_exit_remove "$MEDIA_SUMS_PARTIAL" "$MEDIA_MANIFEST_PARTIAL"
  media_checksums "$dir" "${previous:+$parent/$previous}" >"$MEDIA_SUMS_PARTIAL"
  media_count "$dir"
  local sums_lines
  sums_lines="$(wc -l <"$MEDIA_SUMS_PARTIAL")"
  ((sums_lines == COUNT_FILES)) || die "checksum list of $name has $sums_lines entries for $COUNT_FILES files"
  {
    printf '{%s,\n' "$(manifest_header)"
    printf '  "kind": "media",\n'
    printf '  "snapshot": %s,\n' "$(json_str "$name")"
    printf '  "source": %s,\n' "$(json_str "$source")"
    if [[ -n "$previous" ]]; then printf '  "previous": %s,\n' "$(json_str "$previous")"; else printf '  "previous": null,\n'; fi
    printf '  "files": %s,\n' "$COUNT_FILES"
    printf '  "dirs": %s,\n' "$COUNT_DIRS"
    printf '  "other": %s,\n' "$COUNT_OTHER"
    printf '  "bytes": %s,\n' "$COUNT_BYTES"
    [[ -z "$extra" ]] || printf '  %s,\n' "$extra"
    printf '  "checksums": %s\n}\n' "$(json_str "$name.sha256")"
  } >"$MEDIA_MANIFEST_PARTIAL"
  chmod 0600 -- "$MEDIA_SUMS_PARTIAL" "$MEDIA_MANIFEST_PARTIAL"
}

# media_commit PARTIAL_DIR FINAL_DIR: move the sidecars, then the tree, into place (a visible
# snapshot always has its manifest and checksum list). Dies if FINAL_DIR exists.
media_commit() {
  local partial="$1" final="$2"
  [[ ! -e "$final" ]] || die "$final already exists; refusing to overwrite it"
  sync -f -- "$partial" 2>/dev/null || sync
  mv -f -- "$MEDIA_SUMS_PARTIAL" "$final.sha256"
  mv -f -- "$MEDIA_MANIFEST_PARTIAL" "$(manifest_path "$final")"
  on_exit_remove "$final.sha256" "$(manifest_path "$final")"
  mv -T -- "$partial" "$final"
  keep_path "$partial" "$MEDIA_SUMS_PARTIAL" "$MEDIA_MANIFEST_PARTIAL" "$final.sha256" "$(manifest_path "$final")"
}

# media_snapshot_ok DIR: the retention verifier for media snapshots: a real directory with a
# manifest and a checksum list whose file count still matches the tree (cheap: no hashing).
media_snapshot_ok() {
  local dir="$1" man expected
  [[ -d "$dir" && ! -L "$dir" && -f "$dir.sha256" ]] || return 1
  man="$(manifest_path "$dir")"
  [[ -f "$man" ]] || return 1
  expected="$(manifest_num "$man" files)"
  [[ -n "$expected" ]] || return 1
  media_count "$dir"
  [[ "$COUNT_FILES" == "$expected" ]]
}

# media_retention_verdict DIR: the retention verifier of media snapshots (retention_prune): 0 a
# verified snapshot with files, 3 a verified EMPTY one, 1 not verified. An empty snapshot never
# counts toward keep_min while snapshots with files exist: a month of an unmounted volume must not
# leave only empty snapshots behind.
media_retention_verdict() {
  media_snapshot_ok "$1" || return 1
  ((COUNT_FILES > 0)) || return 3
}

# media_verify_sample DIR SAMPLE_FILE: check DIR's files against a sha256sum list (paths relative
# to DIR); failures are logged. Returns sha256sum's status.
media_verify_sample() {
  local dir="$1" sample="$2" out rc=0
  [[ -s "$sample" ]] || return 0
  out="$(cd -- "$dir" && sha256sum -c --quiet --strict -- "$sample" 2>&1)" || rc=$?
  if ((rc != 0)); then
    log ERROR "checksum mismatch in $dir: $(printf '%s' "$out" | head -n 20 | tr '\n' ';')"
  fi
  return "$rc"
}
