# shellcheck shell=bash
# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.
#
# Summary: the backup library's off-site copy (aws cli to S3_BUCKET when S3_ENABLED). Sourced by
# backup-lib.sh; uses lib/core.sh, lib/checksums.sh and lib/alerts.sh.

# offsite_upload FILE SUBDIR: copy FILE to s3://S3_BUCKET/SUBDIR/ with the aws cli when S3_ENABLED
# is true; skipped (logged) when disabled or aws is missing. A failed upload is a WARNING alert,
# not a failed backup (the local copy is good).
offsite_upload() {
  local file="$1" sub="$2"
  [[ "${S3_ENABLED:-false}" == "true" ]] || return 0
  if ! command -v aws >/dev/null 2>&1; then
    log WARNING "off-site: aws cli not installed; skipping upload of $(basename -- "$file")"
    return 0
  fi
  local bucket="${S3_BUCKET#s3://}" args=(--only-show-errors)
  bucket="${bucket%/}"
  [[ -n "${S3_ENDPOINT:-}" ]] && args+=(--endpoint-url "$S3_ENDPOINT")
  [[ -n "${S3_REGION:-}" ]] && args+=(--region "$S3_REGION")
  [[ -n "${S3_STORAGE_CLASS:-}" ]] && args+=(--storage-class "$S3_STORAGE_CLASS")
  local f
  for f in "$file" "$file.sha256" "$(manifest_path "$file")"; do
    [[ -e "$f" ]] || continue
    if ! timeout 3600 aws s3 cp "${args[@]}" -- "$f" "s3://$bucket/$sub/$(basename -- "$f")" >/dev/null 2>&1; then
      log ERROR "off-site: upload of $(basename -- "$f") to s3://$bucket/$sub/ failed"
      alert WARNING "off-site upload failed" "Upload of $(basename -- "$f") to s3://$bucket/$sub/ failed; the local backup is intact."
      return 0
    fi
  done
  log INFO "off-site: uploaded $(basename -- "$file") to s3://$bucket/$sub/"
}
