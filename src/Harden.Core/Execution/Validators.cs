using System.Text;
using System.Text.RegularExpressions;
using Harden.Planning;

namespace Harden.Execution;

/// <summary>
/// Checks configuration with each daemon's own checker where one exists. auditd has none
/// (augenrules --check only reports whether a rebuild is due), so audit rules are linted here and
/// their syscall names confirmed with ausyscall. sshd and rsyslog check a staged copy of the whole
/// configuration before the real files are replaced (see <see cref="StagedConfig"/>).
/// </summary>
public sealed partial class Validators(ICommandRunner runner)
{
    /// <param name="path">The file as the checker should read it (a staged copy, or the target itself).</param>
    /// <param name="content">Its content, for the checks harden does itself.</param>
    public async Task<string?> CheckAsync(string validator, string path, string content, CancellationToken ct)
    {
        switch (validator)
        {
            case Planner.SshdValidator:
                return Fail("sshd -t", await runner.RunAsync(["sshd", "-t", "-f", path], ct));
            case "rsyslog":
                return Fail("rsyslogd -N1", await runner.RunAsync(["rsyslogd", "-N1", "-f", path], ct));
            case "sudoers":
                return Fail("visudo -c", await runner.RunAsync(["visudo", "-cf", path], ct));
            case "systemd":
                // The unit as systemd reads it: sections, keys, and that its programs exist.
                return Fail("systemd-analyze verify", await runner.RunAsync(["systemd-analyze", "verify", path], ct));
            case "nft":
                // Parsed and checked against the kernel's nftables without being loaded (-c).
                return Fail("nft -c", await runner.RunAsync(["nft", "-c", "-f", path], ct));
            case "chrony":
                // -p parses the file as chronyd would and prints it; a bad directive is fatal.
                return Fail("chronyd -p", await runner.RunAsync(["chronyd", "-p", "-f", path], ct));
            case "shell":
                // The interpreter the file names: a bash script with arrays is not valid for sh (dash).
                var shell = content.StartsWith("#!/bin/bash", StringComparison.Ordinal) || content.StartsWith("#!/usr/bin/env bash", StringComparison.Ordinal) ? "bash" : "sh";
                return Fail($"{shell} -n", await runner.RunAsync([shell, "-n", path], ct));
            case "audit":
                return await CheckAuditRulesAsync(path, content, ct);
            default:
                return $"unknown validator '{validator}' for {path}";
        }
    }

    private static string? Fail(string what, CommandResult result) =>
        result.Succeeded ? null : $"{what} failed (exit {result.ExitCode}): {result.Message}";

    [GeneratedRegex(@"^-w\s+/\S*(\s+-p\s+[rwxa]+)?(\s+-k\s+[A-Za-z0-9_-]+)?$")]
    private static partial Regex WatchRule();

    [GeneratedRegex(@"^-a\s+(always|never),(exit|task|user|exclude|filesystem|io_uring)((\s+-F\s+[a-z0-9_]+(=|!=|<=|>=|<|>|&=|&)[^\s]+)|(\s+-S\s+[a-z0-9_,]+)|(\s+-C\s+\S+))*(\s+-k\s+[A-Za-z0-9_-]+)?$")]
    private static partial Regex SyscallRule();

    [GeneratedRegex(@"^(-D|-e [012]|-b \d+|-f [012]|-r \d+|--backlog_wait_time \d+|-i|--loginuid-immutable|--reset-lost)(\s+-k\s+\S+)?$")]
    private static partial Regex ControlRule();

    /// <summary>The machine name ausyscall knows for b64/b32 on this architecture.</summary>
    private static string MachineName(string arch) => (System.Runtime.InteropServices.RuntimeInformation.OSArchitecture, arch) switch
    {
        (System.Runtime.InteropServices.Architecture.Arm64, "b64") => "aarch64",
        (System.Runtime.InteropServices.Architecture.Arm64, _) => "arm",
        (_, "b64") => "x86_64",
        _ => "i386",
    };

    /// <summary>Lints each rule line against auditctl's grammar and asks ausyscall about every syscall name.</summary>
    public async Task<string?> CheckAuditRulesAsync(string path, string content, CancellationToken ct)
    {
        var lines = content.Split('\n');
        var syscalls = new HashSet<(string Arch, string Name)>();
        var errors = new StringBuilder();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = Regex.Replace(lines[i].Trim(), @"\s+", " ");
            if (line.Length == 0 || line.StartsWith('#')) continue;
            if (WatchRule().IsMatch(line) || ControlRule().IsMatch(line)) continue;
            if (!SyscallRule().IsMatch(line))
            {
                errors.Append($"{path}:{i + 1}: not a valid audit rule: {line}\n");
                continue;
            }
            var arch = Regex.Match(line, @"-F arch=(b32|b64)\b") is { Success: true } m ? m.Groups[1].Value : null;
            // A path rule (-F path=… -F perm=x) names no syscall, so it needs no architecture.
            if (arch is null && !line.Contains(" -S ", StringComparison.Ordinal) && line.Contains(" -F path=", StringComparison.Ordinal)) continue;
            if (arch is null)
            {
                errors.Append($"{path}:{i + 1}: syscall rule without -F arch=b64 or b32: {line}\n");
                continue;
            }
            foreach (Match s in Regex.Matches(line, @"-S ([a-z0-9_,]+)"))
            {
                foreach (var name in s.Groups[1].Value.Split(',')) syscalls.Add((arch, name));
            }
        }
        foreach (var (arch, name) in syscalls.Order())
        {
            // ausyscall takes b64/b32 itself and maps them to the target's own architecture.
            var result = await runner.RunAsync(["ausyscall", arch, name, "--exact"], ct);
            // audit before 3.0.7 (Debian 11) knows machine names only, not b64/b32.
            if (!result.Succeeded && result.Message.Contains("Two syscall names", StringComparison.Ordinal))
                result = await runner.RunAsync(["ausyscall", MachineName(arch), name, "--exact"], ct);
            if (!result.Succeeded)
                errors.Append($"{path}: syscall '{name}' is unknown for {arch} (ausyscall: {result.Message})\n");
        }
        return errors.Length == 0 ? null : "audit rule check failed:\n" + errors.ToString().TrimEnd();
    }
}
