# shellcheck shell=bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
#
# Summary: the backup library's media snapshot helpers: counting a tree, its per-file checksum
# list in one walk (carrying the previous snapshot's checksums over for the files rsync hard-linked,
# hashing the rest with openssl), sidecars, the atomic commit and the verifiers of backup-media,
# restore-media and retention. Sourced by backup-lib.sh; uses lib/core.sh and lib/checksums.sh.

# media_count DIR: set COUNT_FILES (regular files), COUNT_DIRS (directories below DIR), COUNT_OTHER
# (symlinks, devices...) and COUNT_BYTES (sum of the regular files' sizes). One find, any file name.
media_count() {
  local out
  out="$(find "$1" -mindepth 1 \( -type f -printf 'f %s\n' \) -o \( -type d -printf 'd 0\n' \) -o -printf 'o 0\n' |
    awk '{ n[$1]++; if ($1 == "f") b += $2 } END { printf "%d %d %d %d", n["f"], n["d"], n["o"], b }')"
  read -r COUNT_FILES COUNT_DIRS COUNT_OTHER COUNT_BYTES <<<"$out"
}

# media_scan DIR PREVIOUS_SUMS WORK: the one walk of a snapshot tree per run. Sets COUNT_* (as
# media_count) and sorts DIR's regular files into three lists in the directory WORK:
#   reused   "<sha256>  <path>" lines carried over from PREVIOUS_SUMS (the previous snapshot's list,
#            /dev/null for none) for the files rsync hard-linked to the previous snapshot;
#   plain    NUL-separated paths to hash whose names need no escaping;
#   special  NUL-separated paths with a backslash, newline or carriage return (sha256sum escapes
#            those names; their lines in PREVIOUS_SUMS are escaped too, so they are never reused).
# Why a link count of 2 or more is enough to reuse a checksum: rsync -a (no -H) creates each file of
# the new snapshot either by copying it (a new inode, one link) or, with --link-dest, as a hard link
# to the file of the same path in the previous snapshot when size, mtime, mode and owner match
# (what `[[ $p -ef $previous/$p ]]` tested per file before). Nothing else writes into the partial
# snapshot (the media lock is held). A file whose content changed without a new size or mtime is
# not copied by rsync's quick check either way: the snapshot then holds the previous content, and
# the reused checksum is that content's. LC_ALL=C: byte semantics for any file name.
media_scan() {
  local dir="$1" prev_sums="$2" work="$3" counts
  counts="$(cd -- "$dir" && find . -mindepth 1 -printf '%y %n %s %P\0' |
    LC_ALL=C awk -v prev="$prev_sums" -v reused="$work/reused" -v plain="$work/plain" -v special="$work/special" '
      BEGIN {
        RS = "\n"
        while ((getline line < prev) > 0)
          if (length(line) > 66 && line ~ /^[0-9a-f]+ [ *]/ && index(line, " ") == 65) known[substr(line, 67)] = substr(line, 1, 64)
        close(prev)
        RS = "\0"
        printf "" > reused; printf "" > plain; printf "" > special
      }
      {
        t = substr($0, 1, 1); r = substr($0, 3)
        i = index(r, " "); links = substr(r, 1, i - 1); r = substr(r, i + 1)
        i = index(r, " "); size = substr(r, 1, i - 1); path = substr(r, i + 1)
        if (t == "d") { dirs++; next }
        if (t != "f") { other++; next }
        files++; bytes += size
        if (links + 0 > 1 && (path in known)) printf "%s  %s\n", known[path], path > reused
        else if (path ~ /[\\\n\r]/) printf "%s%c", path, 0 > special
        else printf "%s%c", path, 0 > plain
      }
      END { printf "%d %d %d %.0f", files, dirs, other, bytes }')"
  read -r COUNT_FILES COUNT_DIRS COUNT_OTHER COUNT_BYTES <<<"$counts"
}

# media_hash_paths PLAIN SPECIAL: print the sha256sum -c lines of the NUL-separated paths (relative
# to the current directory) in PLAIN and SPECIAL. openssl hashes the plain names (about six times
# less CPU than coreutils' sha256sum on this hardware, which has SHA instructions; its "<sha256>
# *<path>" lines become sha256sum's text-mode lines); sha256sum hashes the names it must escape.
# A file that cannot be read fails the pipeline (xargs exits 123).
media_hash_paths() {
  xargs -0 -r openssl dgst -sha256 -r -- <"$1" | sed 's/^\([0-9a-f]\{64\}\) \*/\1  /'
  xargs -0 -r sha256sum -- <"$2"
}

# media_checksums DIR PREVIOUS SUMS: write the sha256sum -c list of DIR's files (paths relative to
# DIR) to SUMS and set COUNT_* (media_scan: one walk). A file rsync hard-linked to the PREVIOUS
# snapshot (unchanged) keeps the checksum recorded there instead of being read again, so a nightly
# run reads about what changed, not the whole media tree. A random sample of the reused checksums
# (MEDIA_REUSE_SAMPLE files) is hashed anyway; one mismatch (a damaged list, bit rot) and every file
# is hashed afresh.
MEDIA_REUSE_SAMPLE="${MEDIA_REUSE_SAMPLE:-20}"
media_checksums() {
  local dir="$1" previous="${2:-}" sums="$3" work prev_sums=/dev/null
  work="$(mktemp -d)"
  on_exit_remove "$work"
  if [[ -n "$previous" && -f "$previous.sha256" && -d "$previous" ]]; then prev_sums="$previous.sha256"; fi
  media_scan "$dir" "$prev_sums" "$work"
  if ((MEDIA_REUSE_SAMPLE > 0)) && [[ -s "$work/reused" ]]; then
    shuf -n "$MEDIA_REUSE_SAMPLE" -- "$work/reused" | LC_ALL=C sort >"$work/sample"
    LC_ALL=C awk '{ printf "%s%c", substr($0, 67), 0 }' "$work/sample" >"$work/sample.paths"
    (cd -- "$dir" && media_hash_paths "$work/sample.paths" /dev/null) | LC_ALL=C sort >"$work/sample.now"
    if ! cmp -s -- "$work/sample" "$work/sample.now"; then
      log WARNING "a reused checksum of $(basename -- "$previous") does not match its file: hashing every file of this snapshot"
      media_scan "$dir" /dev/null "$work"
    fi
  fi
  {
    cat -- "$work/reused"
    (cd -- "$dir" && media_hash_paths "$work/plain" "$work/special")
  } >"$sums"
  rm -rf -- "$work"
  keep_path "$work"
}

# media_write_sidecars DIR NAME SOURCE PREVIOUS EXTRA_JSON: for a media tree DIR (a snapshot still
# under its partial name) write, in DIR's parent, the per-file checksum list .NAME.sha256.partial
# (sha256sum -c format, paths relative to the snapshot) and .NAME.manifest.json.partial (files,
# directories, bytes, ...). Both are registered for removal on failure; media_commit renames them.
# Sets COUNT_* (media_scan) and MEDIA_SUMS_PARTIAL, MEDIA_MANIFEST_PARTIAL.
media_write_sidecars() {
  local dir="$1" name="$2" source="$3" previous="$4" extra="${5:-}" parent
  parent="$(dirname -- "$dir")"
  MEDIA_SUMS_PARTIAL="$parent/.$name.sha256.partial"
  MEDIA_MANIFEST_PARTIAL="$parent/.$name.manifest.json.partial"
  on_exit_remove "$MEDIA_SUMS_PARTIAL" "$MEDIA_MANIFEST_PARTIAL"
  media_checksums "$dir" "${previous:+$parent/$previous}" "$MEDIA_SUMS_PARTIAL"
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

# media_snapshot_ok DIR: the verifier of backup-media (the previous snapshot) and of retention: a
# real directory with a manifest and a checksum list that agree on the file count, and a sample of
# whose listed files are in the tree. Cheap whatever the tree's size and however many snapshots
# there are: it reads the sidecars, never walks the tree (verify-backup-integrity counts every
# snapshot's files against its manifest weekly; the snapshot's own count was taken by the walk that
# wrote its list).
MEDIA_VERIFY_SAMPLE="${MEDIA_VERIFY_SAMPLE:-20}"
media_snapshot_ok() {
  local dir="$1" man expected listed p
  [[ -d "$dir" && ! -L "$dir" && -f "$dir.sha256" ]] || return 1
  man="$(manifest_path "$dir")"
  [[ -f "$man" ]] || return 1
  expected="$(manifest_num "$man" files)"
  [[ -n "$expected" ]] || return 1
  listed="$(wc -l <"$dir.sha256")"
  ((listed == expected)) || return 1
  # A few listed files must be there (an emptied or half-deleted tree is not a snapshot); names
  # sha256sum escaped (a leading backslash) are left out of the sample.
  while IFS= read -r p; do
    [[ -f "$dir/$p" ]] || return 1
  done < <(shuf -n "$MEDIA_VERIFY_SAMPLE" -- "$dir.sha256" | { grep -v '^[\]' || true; } | cut -c 67-)
  return 0
}

# media_retention_verdict DIR: the retention verifier of media snapshots (retention_prune): 0 a
# verified snapshot with files, 3 a verified EMPTY one, 1 not verified. An empty snapshot never
# counts toward keep_min while snapshots with files exist: a month of an unmounted volume must not
# leave only empty snapshots behind.
media_retention_verdict() {
  media_snapshot_ok "$1" || return 1
  local files
  files="$(manifest_num "$(manifest_path "$1")" files)"
  ((files > 0)) || return 3
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
