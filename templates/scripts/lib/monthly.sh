# shellcheck shell=bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
#
# Summary: the monthly tier of the database backups (the spec's compliance section: monthly dumps
# for 12 months): the first verified daily dump of each month is also kept in database/monthly as a
# hard link (no extra space) with its sidecars, for RETENTION_MONTHLY_MONTHS calendar months, never
# fewer than RETENTION_MONTHLY_KEEP_MIN verified ones. Ages come from the time in the names. Sourced
# by backup-lib.sh; uses lib/core.sh, lib/newest.sh, lib/checksums.sh and lib/offsite.sh.

# monthly_dir: where the monthly dumps are.
monthly_dir() {
  printf '%s/database/monthly' "$BACKUP_DIR"
}

# monthly_cutoff: epoch before which (by the time in its name) a monthly dump is past retention.
monthly_cutoff() {
  date -d "-${RETENTION_MONTHLY_MONTHS} months" +%s
}

# _month_of NAME: the YYYY-MM of the time in a backup's name.
_month_of() {
  local s
  s="$(backup_stamp "$1")"
  printf '%s' "${s:0:7}"
}

# monthly_keep: for every month (within retention) that has a verified daily dump but no monthly
# one, hard-link the first verified daily dump of that month into database/monthly, sidecars first
# (a visible dump always has them). On the first night of a month that is tonight's dump; after the
# tier was switched on, or when a month's first dumps were lost, it fills in from the dumps still
# there. Only candidates are checksummed, so a normal night reads nothing.
monthly_keep() {
  local dir mdir cutoff epoch path name month sfx
  dir="$BACKUP_DIR/database"
  mdir="$(monthly_dir)"
  mkdir -p -- "$mdir"
  cutoff="$(monthly_cutoff)"
  local -A have=()
  while IFS=$'\t' read -r epoch path; do
    have[$(_month_of "$(basename -- "$path")")]=1
  done < <(_offsite_local_files "$mdir" "${APP_NAME}_*.dump")
  while IFS=$'\t' read -r epoch path; do
    name="$(basename -- "$path")"
    month="$(_month_of "$name")"
    [[ -n "$month" && -z "${have[$month]+x}" ]] || continue
    # A month whose first dump is past retention has no monthly one any more (not a later dump).
    if ((epoch < cutoff)); then
      have[$month]=1
      continue
    fi
    verify_checksum_recorded "$path" || continue
    for sfx in .sha256 .manifest.json; do
      [[ ! -f "$path$sfx" ]] || ln -f -- "$path$sfx" "$mdir/$name$sfx" 2>/dev/null || cp -p -- "$path$sfx" "$mdir/$name$sfx"
    done
    ln -- "$path" "$mdir/$name" 2>/dev/null || cp -p -- "$path" "$mdir/$name"
    have[$month]=1
    log INFO "monthly: $name is the first verified dump of $month: kept as the monthly backup (hard link)"
  done < <(_offsite_local_files "$dir" "${APP_NAME}_*.dump" | LC_ALL=C sort -n)
}

# monthly_prune: monthly retention: newest first, the newest RETENTION_MONTHLY_KEEP_MIN verified
# dumps stay whatever their age; older ones past RETENTION_MONTHLY_MONTHS months go with their
# sidecars, but only verified ones (an unverified dump is never counted or deleted, as elsewhere).
monthly_prune() {
  local mdir cutoff epoch path kept=0 deleted=0
  mdir="$(monthly_dir)"
  [[ -d "$mdir" ]] || return 0
  cutoff="$(monthly_cutoff)"
  local -a entries=()
  mapfile -t entries < <(_offsite_local_files "$mdir" "${APP_NAME}_*.dump")
  # Nothing past retention beyond the newest keep_min: nothing to verify (no dump is read).
  local i due=0
  for ((i = RETENTION_MONTHLY_KEEP_MIN; i < ${#entries[@]}; i++)); do
    ((${entries[i]%%$'\t'*} < cutoff)) && due=1
  done
  ((due)) || return 0
  local line
  for line in "${entries[@]}"; do
    epoch="${line%%$'\t'*}"
    path="${line#*$'\t'}"
    if ((kept < RETENTION_MONTHLY_KEEP_MIN)); then
      if verify_checksum_recorded "$path"; then
        kept=$((kept + 1))
      else
        log WARNING "monthly retention: keeping unverified $(basename -- "$path") (it does not match its checksum; inspect it)"
      fi
      continue
    fi
    ((epoch < cutoff)) || continue
    if verify_checksum_recorded "$path"; then
      rm -f -- "$path" "$path.sha256" "$path.manifest.json"
      deleted=$((deleted + 1))
      log INFO "monthly retention: deleted $(basename -- "$path") (older than $RETENTION_MONTHLY_MONTHS months)"
    else
      log WARNING "monthly retention: keeping unverified $(basename -- "$path")"
    fi
  done
  log INFO "monthly retention: kept the newest $kept verified (keep_min $RETENTION_MONTHLY_KEEP_MIN), deleted $deleted older than $RETENTION_MONTHLY_MONTHS months"
}
