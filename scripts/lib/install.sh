# Installers for the command-line tools the scripts use, each pinned and cached under
# ~/.cache/sidescan/<tool>-<version>/ (or $XDG_CACHE_HOME/sidescan/...). Source it after
# common.sh; it defines functions only.
# shellcheck shell=bash

# tool_cache NAME VERSION: the tool's cache folder.
tool_cache() {
    printf '%s/sidescan/%s-%s' "${XDG_CACHE_HOME:-$HOME/.cache}" "$1" "$2"
}

# pip_tool PACKAGE VERSION EXECUTABLE: installs PACKAGE==VERSION from PyPI into a venv of its own
# (once) and prints the path of EXECUTABLE in it. A stamp written last marks a complete install;
# an interrupted one is redone. (A venv is not relocatable, so it is built in place.)
pip_tool() {
    local package=$1 version=$2 executable=$3 cache
    cache=$(tool_cache "$package" "$version")
    if [ ! -f "$cache/.installed" ] || [ ! -x "$cache/venv/bin/$executable" ]; then
        command -v python3 >/dev/null 2>&1 || DIE_STATUS=2 die "python3 not found (apt-get install python3 python3-venv)"
        log "installing $package==$version from PyPI into $cache"
        python3 -c 'import venv, ensurepip' 2>/dev/null || apt_ensure python3-venv
        rm -rf "$cache"
        mkdir -p "$cache"
        python3 -m venv "$cache/venv"
        "$cache/venv/bin/pip" install -q --disable-pip-version-check "$package==$version" >&2 ||
            { rm -rf "$cache"; die "pip could not install $package==$version"; }
        [ -x "$cache/venv/bin/$executable" ] || die "$package==$version installed no $executable"
        touch "$cache/.installed"
    fi
    printf '%s\n' "$cache/venv/bin/$executable"
}

# npm_tool PACKAGE VERSION PATH: installs PACKAGE@VERSION from npm (once) into a private prefix and
# prints the path of PATH inside it (relative to the prefix: node_modules/.bin/x, or a package
# folder).
npm_tool() {
    local package=$1 version=$2 path=$3 cache staging
    cache=$(tool_cache "${package//\//-}" "$version")
    if [ ! -f "$cache/.installed" ] || [ ! -e "$cache/$path" ]; then
        command -v npm >/dev/null 2>&1 || DIE_STATUS=2 die "npm not found (install Node.js and npm)"
        log "installing $package@$version from npm into $cache"
        mkdir -p "$(dirname "$cache")"
        staging=$(mktemp -d "$cache.XXXXXX")
        # A private package.json keeps npm from walking up into any other project.
        printf '{"name":"sidescan-tool-cache","private":true}\n' >"$staging/package.json"
        npm install --prefix "$staging" --no-audit --no-fund --loglevel=error "$package@$version" >&2 ||
            { rm -rf "$staging"; die "npm could not install $package@$version"; }
        [ -e "$staging/$path" ] || { rm -rf "$staging"; die "$package@$version has no $path"; }
        touch "$staging/.installed"
        rm -rf "$cache"
        mv "$staging" "$cache"
    fi
    printf '%s\n' "$cache/$path"
}
