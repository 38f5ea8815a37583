#!/usr/bin/env bash
# Runs one accessctl command for action.yml and records its outcome as step
# outputs; never fails itself, so the comment step can run after a refusal
# (the action's last step exits with accessctl's code).
#
# Environment: ACCESSCTL_COMMAND (validate | plan | apply),
# ACCESSCTL_CONFIG_FILE, ACCESSCTL_ARGS (split on whitespace, never evaluated),
# ACCESSCTL_INSTALL_DIR (put first on PATH),
# and the runner's GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, RUNNER_TEMP.
set -uo pipefail

# The install step's directory first: the binary of the version asked for,
# whatever else the runner's PATH holds.
if [ -n "${ACCESSCTL_INSTALL_DIR:-}" ]; then
    PATH="$ACCESSCTL_INSTALL_DIR:$PATH"
fi

command="${ACCESSCTL_COMMAND:-plan}"
config="${ACCESSCTL_CONFIG_FILE:-access.yaml}"
out="${GITHUB_OUTPUT:-/dev/null}"

# Word splitting without globbing: the arguments are data, not shell.
set -f
# shellcheck disable=SC2206
extra=(${ACCESSCTL_ARGS:-})
set +f

case "$command" in
    validate)
        accessctl validate -c "$config" "${extra[@]}"
        code=$?
        ;;
    plan)
        # accessctl appends this plan to the job summary itself.
        plan_file="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/accessctl-plan.md"
        accessctl plan -c "$config" --format markdown --detailed-exitcode "${extra[@]}" >"$plan_file"
        code=$?
        if [ -s "$plan_file" ]; then
            echo "plan-file=$plan_file" >>"$out"
        fi
        ;;
    apply)
        report="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/accessctl-apply.txt"
        accessctl apply -c "$config" --auto-approve "${extra[@]}" | tee "$report"
        code=${PIPESTATUS[0]}
        # The report in the job summary, HTML-escaped inside <pre>.
        if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
            {
                echo "### accessctl apply (exit code $code)"
                echo
                echo "<pre>"
                sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' "$report"
                echo "</pre>"
            } >>"$GITHUB_STEP_SUMMARY"
        fi
        ;;
    *)
        echo "::error title=accessctl::unknown command \`$command\`: expected validate, plan or apply" >&2
        code=1
        ;;
esac

echo "exitcode=$code" >>"$out"
if [ "$command" = plan ] && [ "$code" = 2 ]; then
    echo "has-changes=true" >>"$out"
else
    echo "has-changes=false" >>"$out"
fi
exit 0
