# Builds the ops CLI as one executable: dist\ops.exe under $env:OUT (default build\ops).
# Needs Python 3.11+ with requirements-dev.txt installed (PyInstaller is pinned there), or
# set $env:PYTHON to such an interpreter. PyInstaller does not cross-compile: build on Windows.
$ErrorActionPreference = "Stop"
$root = (Resolve-Path (Join-Path $PSScriptRoot "..\..")).Path
$python = if ($env:PYTHON) { $env:PYTHON } else { Join-Path $root ".venv\Scripts\python.exe" }
$out = if ($env:OUT) { $env:OUT } else { Join-Path $root "build\ops" }
Push-Location $root
try {
    & $python -m PyInstaller --onefile --clean --noconfirm --log-level WARN `
        --name ops `
        --paths $root `
        --add-data "$(Join-Path $root (Join-Path "policies" (Join-Path "cost" "prices.yaml")));policies/cost" `
        --additional-hooks-dir (Join-Path $root (Join-Path "ops" (Join-Path "standalone" "hooks"))) `
        --distpath (Join-Path $out "dist") --workpath (Join-Path $out "work") --specpath $out `
        (Join-Path "ops" (Join-Path "standalone" "entry.py"))
    if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed with exit code $LASTEXITCODE" }
    Write-Output (Join-Path $out (Join-Path "dist" "ops.exe"))
} finally {
    Pop-Location
}
