#!/usr/bin/env bash
# Installs the accessctl release binary for this machine, checked against the
# release's SHA256SUMS, or builds it with `cargo install --locked` (with a
# warning) when the release has no binary for this OS and architecture.
#
# Used by action.yml; runs anywhere with bash, tar and sha256sum (or shasum).
#
#   install.sh                 install, print the directory holding `accessctl`
#   install.sh --resolve       print the release tag that would be installed
#
# Environment:
#   ACCESSCTL_VERSION       `latest` (default), `v0.2.0` or `0.2.0`
#   ACCESSCTL_REPOSITORY    owner/name of the GitHub repository with the releases
#                           (default: the action's own, from GITHUB_ACTION_PATH)
#   ACCESSCTL_INSTALL_DIR   where the binary goes (default ~/.accessctl/bin)
#   ACCESSCTL_RELEASE_BASE  base URL of the release files, for testing and for
#                           mirrors: files are read from BASE/TAG/ASSET (and
#                           `latest` from BASE/LATEST, a file holding the tag).
#                           https:// or file:// only. Default:
#                           https://github.com/$ACCESSCTL_REPOSITORY/releases/download
#   ACCESSCTL_TARGET        override the detected target triple (for testing)
#   ACCESSCTL_FALLBACK      `cargo` (default) builds from source when no binary
#                           matches; `none` fails instead
#   CARGO                   the cargo used by the fallback (default `cargo`)
#
# A checksum that does not match is never a reason to fall back: the script
# stops with an error and installs nothing.
set -euo pipefail

say() { echo "accessctl-install: $*" >&2; }
warn() {
    if [ "${GITHUB_ACTIONS:-}" = "true" ]; then
        echo "::warning title=accessctl install::$*" >&2
    else
        say "warning: $*"
    fi
}
die() {
    if [ "${GITHUB_ACTIONS:-}" = "true" ]; then
        echo "::error title=accessctl install::$*" >&2
    else
        say "error: $*"
    fi
    exit 1
}

repository="${ACCESSCTL_REPOSITORY:-}"
# Inside the action, `github.action_repository` can be empty (composite
# actions); the runner checks the action out at _actions/OWNER/NAME/REF.
if [ -z "$repository" ] && [[ "${GITHUB_ACTION_PATH:-}" == */_actions/*/*/* ]]; then
    rest="${GITHUB_ACTION_PATH##*/_actions/}"
    owner="${rest%%/*}"
    rest="${rest#*/}"
    repository="$owner/${rest%%/*}"
fi
base="${ACCESSCTL_RELEASE_BASE:-}"
if [ -z "$base" ]; then
    [ -n "$repository" ] || die "ACCESSCTL_REPOSITORY (owner/name) is not set"
    base="https://github.com/$repository/releases/download"
fi
base="${base%/}"
case "$base" in
    https://* | file://*) ;;
    *) die "ACCESSCTL_RELEASE_BASE must start with https:// or file:// (got: $base)" ;;
esac

# fetch URL DEST: copy a release file; non-zero when it is missing.
fetch() {
    case "$1" in
        file://*) cp -- "${1#file://}" "$2" 2>/dev/null ;;
        *) curl --proto '=https' --tlsv1.2 -fsSL --retry 3 -o "$2" -- "$1" ;;
    esac
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum -- "$1" | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 -- "$1" | cut -d' ' -f1
    else
        die "neither sha256sum nor shasum is installed: cannot check the download"
    fi
}

resolve_version() {
    local v="${ACCESSCTL_VERSION:-latest}"
    if [ "$v" = "latest" ]; then
        if [ -n "${ACCESSCTL_RELEASE_BASE:-}" ]; then
            local tmp
            tmp="$(mktemp)"
            fetch "$base/LATEST" "$tmp" || die "cannot read $base/LATEST to resolve \`latest\`"
            v="$(tr -d '[:space:]' <"$tmp")"
            rm -f -- "$tmp"
        else
            # github.com/OWNER/NAME/releases/latest redirects to …/tag/TAG.
            local url
            url="$(curl --proto '=https' -fsSLI -o /dev/null -w '%{url_effective}' \
                "https://github.com/$repository/releases/latest")" ||
                die "cannot resolve the latest release of $repository"
            v="${url##*/}"
        fi
    fi
    case "$v" in
        v[0-9]*) ;;
        [0-9]*) v="v$v" ;;
        *) die "not a version: $v (expected latest, v1.2.3 or 1.2.3)" ;;
    esac
    case "$v" in
        *[!A-Za-z0-9.+-]*) die "not a version: $v" ;;
    esac
    echo "$v"
}

detect_target() {
    if [ -n "${ACCESSCTL_TARGET:-}" ]; then
        echo "$ACCESSCTL_TARGET"
        return
    fi
    local os arch
    os="$(uname -s)"
    arch="$(uname -m)"
    case "$arch" in
        x86_64 | amd64) arch=x86_64 ;;
        aarch64 | arm64) arch=aarch64 ;;
        *) echo "unsupported-$os-$arch"; return ;;
    esac
    case "$os" in
        Linux) echo "$arch-unknown-linux-musl" ;;
        Darwin) echo "$arch-apple-darwin" ;;
        *) echo "unsupported-$os-$arch" ;;
    esac
}

install_dir="${ACCESSCTL_INSTALL_DIR:-$HOME/.accessctl/bin}"
tmp=""

# The directory goes on the job's PATH, and is printed for other callers.
finish() {
    if [ -n "${GITHUB_PATH:-}" ]; then
        echo "$install_dir" >>"$GITHUB_PATH"
    fi
    echo "$install_dir"
}

fallback() {
    local tag="$1" why="$2"
    if [ "${ACCESSCTL_FALLBACK:-cargo}" = "none" ]; then
        die "$why; not building from source (ACCESSCTL_FALLBACK=none)"
    fi
    [ -n "$repository" ] || die "$why; cannot build from source without ACCESSCTL_REPOSITORY"
    warn "$why; building accessctl $tag from source with cargo install --locked (this takes minutes)"
    local root
    root="$(dirname -- "$install_dir")"
    "${CARGO:-cargo}" install --locked --root "$root" \
        --git "https://github.com/$repository" --tag "$tag" accessctl >&2 ||
        die "cargo install --locked failed"
    if [ "$root/bin" != "$install_dir" ]; then
        mkdir -p -- "$install_dir"
        mv -f -- "$root/bin/accessctl" "$install_dir/accessctl"
    fi
    echo "$tag" >"$install_dir/.accessctl-version"
    finish
}

main() {
    local tag target asset expected actual
    tag="$(resolve_version)"
    if [ "${1:-}" = "--resolve" ]; then
        echo "$tag"
        return
    fi

    # A binary restored from the action's cache was checked when it was first
    # installed (the cache key names the version).
    if [ -x "$install_dir/accessctl" ] && [ -f "$install_dir/.accessctl-version" ] &&
        [ "$(cat -- "$install_dir/.accessctl-version")" = "$tag" ]; then
        say "accessctl $tag already installed in $install_dir"
        finish
        return
    fi

    target="$(detect_target)"
    asset="accessctl-$tag-$target.tar.gz"
    tmp="$(mktemp -d)"
    trap 'rm -rf -- "$tmp"' EXIT

    case "$target" in
        unsupported-*)
            fallback "$tag" "no release binary for this platform (${target#unsupported-})"
            return
            ;;
    esac
    if ! fetch "$base/$tag/SHA256SUMS" "$tmp/SHA256SUMS"; then
        fallback "$tag" "no SHA256SUMS at $base/$tag"
        return
    fi
    # Lines are `HASH  NAME` (sha256sum's format); the name must match exactly.
    expected="$(awk -v name="$asset" '$2 == name || $2 == "*" name { print $1; exit }' "$tmp/SHA256SUMS")"
    if [ -z "$expected" ]; then
        fallback "$tag" "release $tag has no binary for $target ($asset is not in SHA256SUMS)"
        return
    fi
    case "$expected" in
        *[!0-9a-f]* | "") die "SHA256SUMS has a malformed line for $asset" ;;
    esac
    [ "${#expected}" -eq 64 ] || die "SHA256SUMS has a malformed line for $asset"

    say "downloading $asset"
    fetch "$base/$tag/$asset" "$tmp/$asset" || die "cannot download $base/$tag/$asset"
    actual="$(sha256_of "$tmp/$asset")"
    if [ "$actual" != "$expected" ]; then
        die "checksum mismatch for $asset: SHA256SUMS says $expected, the download is $actual; refusing to install"
    fi
    say "checksum ok: $actual"

    tar -xzf "$tmp/$asset" -C "$tmp"
    local dir="$tmp/accessctl-$tag-$target"
    [ -f "$dir/accessctl" ] || die "$asset does not hold accessctl-$tag-$target/accessctl"
    mkdir -p -- "$install_dir"
    install -m 0755 -- "$dir/accessctl" "$install_dir/accessctl"
    echo "$tag" >"$install_dir/.accessctl-version"
    say "installed accessctl $tag ($target) in $install_dir"
    finish
}

main "$@"
