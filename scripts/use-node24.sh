# Sourced by .ci/run and the README's commands: puts a Node.js 24 first on PATH, installing it from the
# npm registry into .tools/ when the machine's own Node is another major.
_bb_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" != "24" ]; then
  if [ ! -x "$_bb_root/.tools/node_modules/.bin/node" ]; then
    npm install --prefix "$_bb_root/.tools" --no-save --no-audit --no-fund --loglevel=error node@24 >/dev/null
  fi
  export PATH="$_bb_root/.tools/node_modules/.bin:$PATH"
fi
unset _bb_root
