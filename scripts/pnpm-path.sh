# Sourced by setup.sh and verify.sh. `sess_use_pnpm` puts the pnpm that package.json names
# ("packageManager") first on PATH for this shell and everything it starts (turbo, the tests),
# and leaves any pnpm installed globally alone. In order:
#   1. a pnpm already on PATH at that version;
#   2. corepack (bundled with Node), through a shim that runs `corepack pnpm@<version>`;
#   3. a local copy installed with npm under ~/.cache/sess/pnpm-<version> (never `npm i -g`).
sess_use_pnpm() {
  local root version dir
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  version="$(node -p "require(process.argv[1]).packageManager.replace(/^pnpm@/, '')" "$root/package.json")"
  if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null)" = "$version" ]; then return 0; fi
  dir="${XDG_CACHE_HOME:-$HOME/.cache}/sess/pnpm-$version"
  if [ ! -x "$dir/bin/pnpm" ]; then
    mkdir -p "$dir/bin"
    if COREPACK_ENABLE_DOWNLOAD_PROMPT=0 corepack "pnpm@$version" --version >/dev/null 2>&1; then
      printf '#!/bin/sh\nCOREPACK_ENABLE_DOWNLOAD_PROMPT=0 exec corepack pnpm@%s "$@"\n' "$version" >"$dir/bin/pnpm"
      chmod +x "$dir/bin/pnpm"
    else
      npm install --prefix "$dir" --no-save --no-fund --no-audit --loglevel=error "pnpm@$version" >/dev/null
      ln -sf ../node_modules/pnpm/bin/pnpm.cjs "$dir/bin/pnpm"
    fi
  fi
  export PATH="$dir/bin:$PATH"
  if [ "$(pnpm --version 2>/dev/null)" != "$version" ]; then
    echo "setup: could not get pnpm $version (tried PATH, corepack and npm into $dir)" >&2
    return 1
  fi
  echo "setup: using pnpm $version from $dir (a global pnpm, if any, is left as it is)"
}
