#!/bin/bash
# Summary: one line in the restore audit log for an attempt that ended before a restore script ran
# (cancelled at the prompt, no restore point matches): AUDIT_LINE, a JSON object, appended by
# audit.sh. Sent over SSH by src/restore/job.ts, never installed.
set -Euo pipefail
umask 077
audit_append "$AUDIT_LINE"
