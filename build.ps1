#!/usr/bin/env pwsh
# Thin PowerShell 7 wrapper over the dotnet CLI; the README's plain dotnet commands are the reference.
[CmdletBinding()]
param(
    [ValidateSet('restore', 'build', 'test', 'publish', 'bench', 'all')]
    [string]$Task = 'all',
    [string]$Configuration = 'Release',
    [string]$Output = 'artifacts/harden'
)

$ErrorActionPreference = 'Stop'
Set-Location -Path $PSScriptRoot

function Invoke-Dotnet {
    param([Parameter(ValueFromRemainingArguments = $true)][string[]]$Arguments)
    Write-Host "dotnet $($Arguments -join ' ')"
    & dotnet @Arguments
    if ($LASTEXITCODE -ne 0) { throw "dotnet $($Arguments[0]) failed with exit code $LASTEXITCODE" }
}

switch ($Task) {
    'restore' { Invoke-Dotnet restore Harden.sln }
    'build' { Invoke-Dotnet build Harden.sln -c $Configuration }
    'test' { Invoke-Dotnet test Harden.sln -c $Configuration --logger 'trx;LogFilePrefix=harden' --results-directory TestResults }
    'publish' { Invoke-Dotnet publish src/Harden.Cli -c $Configuration -o $Output }
    # bench/run.sh does the work (hyperfine, chroot): this only runs it and reports its failure.
    'bench' {
        Write-Host 'bash bench/run.sh'
        & bash bench/run.sh
        if ($LASTEXITCODE -ne 0) { throw "bench/run.sh failed with exit code $LASTEXITCODE" }
    }
    'all' {
        Invoke-Dotnet restore Harden.sln
        Invoke-Dotnet build Harden.sln -c $Configuration --no-restore
        Invoke-Dotnet test Harden.sln -c $Configuration --no-build --logger 'trx;LogFilePrefix=harden' --results-directory TestResults
        Invoke-Dotnet publish src/Harden.Cli -c $Configuration -o $Output
    }
}
