#!/usr/bin/env bash
# Builds launcher.exe for x86_64-pc-windows-gnu on this Debian machine and runs the Windows tests under
# Wine, headless. The rustup toolchain has no Windows target and no standard-library source, so this uses
# Debian's Rust (rustc-web/cargo-web with rust-web-src) with -Zbuild-std and the mingw linker.
#
#   scripts/windows.sh build           release launcher.exe in target/windows/x86_64-pc-windows-gnu/release
#   scripts/windows.sh test [FILTER]   unit tests and the integration suite (tests/it) under Wine, then
#                                      launcher.exe in a cmd.exe console
#
# Everything it writes stays under target/windows (its own target folder, so it never fights with the
# rustup builds in target/), including the Wine prefix.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

packages=(wine64 gcc-mingw-w64-x86-64 rustc-web cargo-web rust-web-src)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
    echo "installing ${missing[*]}" >&2
    sudo=()
    [[ $(id -u) -ne 0 ]] && sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update
    "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

out=$root/target/windows
target=x86_64-pc-windows-gnu
wine=/usr/lib/wine/wine64
export CARGO_TARGET_DIR=$out
export RUSTC=/usr/bin/rustc
# -Zbuild-std is unstable; Debian's stable compiler accepts it with this switch. Only this script's
# builds use it, and only to build the standard library for a target Debian ships no binaries for.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export WINEPREFIX=${WINEPREFIX:-$out/wineprefix}
export WINEDEBUG=-all
# No Mono or Gecko install prompts: nothing here needs .NET or a browser engine.
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
cargo=(/usr/bin/cargo)
build_std=(-Zbuild-std=std,panic_abort --target "$target")

# Wine 8 lacks bcryptprimitives.dll (ProcessPrng), which every Rust program imports at start.
prepare_wine() {
    mkdir -p "$out/shim"
    local dll=$out/shim/bcryptprimitives.dll
    if [[ ! -f $dll || scripts/windows/bcryptprimitives.c -nt $dll ]]; then
        x86_64-w64-mingw32-gcc -shared -O2 -Wl,--kill-at -o "$dll" \
            scripts/windows/bcryptprimitives.c -lbcrypt
    fi
    if [[ ! -f $WINEPREFIX/system.reg ]]; then
        echo "creating the Wine prefix $WINEPREFIX" >&2
        "$wine" wineboot --init >/dev/null 2>&1 || true
        /usr/lib/wine/wineserver -w
    fi
    cp "$dll" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
    # One wineserver for the whole run: starting one per process costs a second each time.
    /usr/lib/wine/wineserver -p
    trap '/usr/lib/wine/wineserver -k 2>/dev/null || true' EXIT
}

# What a user at a cmd.exe prompt sees: the GUI-subsystem launcher.exe, started by cmd.exe in a real
# console (a pseudo-terminal from `script`, which Wine turns into a Windows console), attaches to that
# console, so its output and errors appear there, and cmd gets its exit code. The tests in tests/it
# capture output through pipes, which a console program would get too; only this shows the attach.
console_checks() {
    local exe
    exe="Z:$(tr / '\\' <<<"$1")"
    local seen
    # `script -e` exits with the command's code, which these checks expect to be non-zero at times.
    seen=$(script -qec "$wine cmd /c '$exe --version & echo exit=%errorlevel%'" /dev/null </dev/null) || true
    expect_console "$seen" "launcher $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)" "exit=0"
    seen=$(script -qec "$wine cmd /c '$exe --config Z:\\nonexistent\\x.ini status --json & echo exit=%errorlevel%'" \
        /dev/null </dev/null) || true
    expect_console "$seen" "no launcher.ini found" "exit=3"
    # The app, a console program (the sample's batch file), shares the console the launcher attached to,
    # and its exit code comes back through the launcher.
    local site=$out/console-check
    rm -rf "$site"
    mkdir -p "$site"
    cp -r assets/demo-app "$site/release"
    echo "1.0.0" >"$site/release/VERSION"
    local w="Z:$(tr / '\\' <<<"$site")"
    "$wine" "$exe" publish --source "$w\\release" --repo "$w\\repo" --product demo --version 1.0.0 \
        --executable bin/demo.cmd </dev/null >/dev/null
    printf '[Update]\r\nServer = %s\\repo\r\nProduct = demo\r\n[App]\r\nDir = app\r\n' "$w" >"$site/launcher.ini"
    seen=$(script -qec "$wine cmd /c '$exe --config $w\\launcher.ini -- hello --exit-code=5 & echo exit=%errorlevel%'" \
        /dev/null </dev/null) || true
    expect_console "$seen" "Installed demo 1.0.0" "demo app 1.0.0" "arg[1]: hello" "exit=5"
    rm -rf "$site"
    echo "console: launcher.exe and the app it starts write to cmd.exe's console; exit codes arrive" >&2
}

expect_console() {
    local seen=$1
    shift
    # Wine's console writes cursor-control sequences around the text.
    seen=$(sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' <<<"$seen")
    for want in "$@"; do
        if ! grep -qF -- "$want" <<<"$seen"; then
            printf 'console check failed: %s not in:\n%s\n' "$want" "$seen" >&2
            exit 1
        fi
    done
}

case "${1:-test}" in
build)
    "${cargo[@]}" build "${build_std[@]}" --release
    echo "built $out/$target/release/launcher.exe" >&2
    ;;
test)
    shift || true
    prepare_wine
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$wine
    start=$(date +%s)
    # Peer tools (nginx, minisign, tinyproxy, faketime) are Linux programs and stay on the Linux side:
    # without CI set, the tests that need them skip themselves instead of failing.
    env -u CI "${cargo[@]}" test "${build_std[@]}" --features fault-injection --lib --test it -- "$@"
    console_checks "$out/$target/debug/launcher.exe"
    echo "Windows tests took $(($(date +%s) - start)) s (build included)" >&2
    ;;
*)
    echo "usage: scripts/windows.sh build | test [FILTER]" >&2
    exit 2
    ;;
esac
