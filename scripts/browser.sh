# Sourced by scripts/test: Debian's chromium for the browser test (tests/e2e/test_app_browser.py),
# driven by Playwright for Python through `executable_path`.  Playwright never downloads a
# browser here.  Idempotent and quiet when chromium is already installed.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

install_chromium() {
  local packages=(chromium fonts-liberation)
  local apt=(apt-get)
  if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null 2>&1 || ! sudo -n true 2>/dev/null; then
      echo "cartwatch: chromium is missing and cannot be installed without root:" \
        "run 'apt-get install chromium' (the browser test needs it)" >&2
      return 0
    fi
    apt=(sudo -n apt-get)
  fi
  echo "cartwatch: installing Debian's chromium for the browser test…" >&2
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be missing or stale on a fresh machine: refresh once if needed.
  if ! "${apt[@]}" install -y -qq --no-install-recommends "${packages[@]}" >/dev/null 2>&1; then
    "${apt[@]}" update -qq >/dev/null
    "${apt[@]}" install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  fi
}

if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    install_chromium
  else
    echo "cartwatch: chromium is missing (not a Debian machine?): the browser test will say so" >&2
  fi
fi
